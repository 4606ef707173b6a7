"""The built-in model zoo, published through the ``dreamjax.backends`` entry point like any plugin."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ..errors import UnknownNameError
from ..model import DreamModel

DEFAULT_MODEL = "efficientnet_lite0"


def _efficientnet_lite(variant: str) -> Callable[..., DreamModel]:
    def build(**options: Any) -> DreamModel:
        from . import efficientnet_lite  # flax import deferred until a model is asked for

        return efficientnet_lite.load(variant, **options)

    return build


_MODELS: dict[str, Callable[..., DreamModel]] = {
    f"efficientnet_lite{n}": _efficientnet_lite(f"lite{n}") for n in (0, 1, 2)
}


class ZooBackend:
    name = "zoo"

    def available(self) -> list[str]:
        return list(_MODELS)

    def accepts(self, ref: str) -> bool:
        return ref in _MODELS

    def load(self, ref: str, **options: Any) -> DreamModel:
        """Options go to the model's loader, e.g. ``depthwise="conv"`` for EfficientNet-Lite."""
        return _load_cached(ref, tuple(sorted(options.items())))


@functools.cache
def _load_cached(ref: str, options: tuple[tuple[str, Any], ...]) -> DreamModel:
    if ref not in _MODELS:
        raise UnknownNameError("zoo model", ref, _MODELS)
    return _MODELS[ref](**dict(options))


backend = ZooBackend()
