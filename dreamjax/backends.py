"""Backend discovery through the ``dreamjax.backends`` entry-point group.

Discovery happens on first use, not at import (``plugins.load_group``). A plugin that fails to
load is recorded with its error (shown by ``dreamjax models``) and the other backends keep working.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from typing import Any

from .errors import DreamjaxError, UnknownNameError
from .model import Backend, DreamModel
from .plugins import BACKENDS, BrokenPlugin, load_group


@dataclass(frozen=True)
class Discovery:
    backends: tuple[Backend, ...]
    broken: tuple[BrokenPlugin, ...]


def _as_backend(ep: EntryPoint, obj: Any) -> Backend:
    backend = obj() if callable(obj) and not isinstance(obj, Backend) else obj
    if not isinstance(backend, Backend):
        raise TypeError(f"{ep.value} is not a dreamjax Backend")
    return backend


@functools.cache
def discover() -> Discovery:
    return Discovery(*load_group(BACKENDS, _as_backend, first=("zoo",)))


def list_backends() -> tuple[Backend, ...]:
    return discover().backends


def find_backend(ref: str) -> Backend:
    """The first backend that lists ``ref`` as a model name or accepts it as a path."""
    found = discover()
    for backend in found.backends:
        if ref in backend.available() or backend.accepts(ref):
            return backend
    names = [name for backend in found.backends for name in backend.available()]
    err = UnknownNameError("model", ref, names)
    if found.broken:
        err.hint = (err.hint + "; " if err.hint else "") + "broken plugins: " + ", ".join(
            f"{b.name} ({b.error})" for b in found.broken
        )
    raise err


def load_model(ref: str, **options: Any) -> DreamModel:
    """Load a model by zoo name (``efficientnet_lite0``) or path (``net.onnx``)."""
    backend = find_backend(ref)
    try:
        return backend.load(ref, **options)
    except DreamjaxError:
        raise
    except FileNotFoundError as exc:
        raise DreamjaxError(f"cannot read model {ref!r}: {exc.strerror or exc}") from exc
