"""The built-in model zoo, published through the ``dreamjax.backends`` entry point like any plugin.

For Flax users, each network is also a Linen module with its variables::

    module, variables = dreamjax.zoo.efficientnet_lite0(pretrained=True)
    logits = module.apply(variables, (images - 127 / 255) / (128 / 255))   # [B, H, W, 3] in [0, 1]
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ..errors import UnknownNameError
from ..model import DreamModel

DEFAULT_MODEL = "efficientnet_lite0"


def _efficientnet_lite(variant: str) -> Callable[..., DreamModel]:
    def build(**options: Any) -> DreamModel:
        from . import efficientnet_lite  # imported when a model is asked for; Flax only when it is traced

        return efficientnet_lite.load(variant, **options)

    return build


_MODELS: dict[str, Callable[..., DreamModel]] = {
    f"efficientnet_lite{n}": _efficientnet_lite(f"lite{n}") for n in (0, 1, 2)
}


def efficientnet_lite0(pretrained: bool = True, *, depthwise: str | None = None, seed: int = 0) -> tuple[Any, dict]:
    """EfficientNet-Lite0 as ``(flax.linen module, variables)``; see ``efficientnet_lite.flax_model``."""
    return _flax_model("lite0", pretrained, depthwise, seed)


def efficientnet_lite1(pretrained: bool = True, *, depthwise: str | None = None, seed: int = 0) -> tuple[Any, dict]:
    """EfficientNet-Lite1 as ``(flax.linen module, variables)``; see ``efficientnet_lite.flax_model``."""
    return _flax_model("lite1", pretrained, depthwise, seed)


def efficientnet_lite2(pretrained: bool = True, *, depthwise: str | None = None, seed: int = 0) -> tuple[Any, dict]:
    """EfficientNet-Lite2 as ``(flax.linen module, variables)``; see ``efficientnet_lite.flax_model``."""
    return _flax_model("lite2", pretrained, depthwise, seed)


def _flax_model(variant: str, pretrained: bool, depthwise: str | None, seed: int) -> tuple[Any, dict]:
    from . import efficientnet_lite  # imported when a module is asked for

    return efficientnet_lite.flax_model(variant, pretrained, depthwise=depthwise, seed=seed)


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
