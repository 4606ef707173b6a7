"""The key of a compiled program: everything that determines it, known before tracing.

* the model: its ``fingerprint`` attribute where it has one (the zoo: variant, kernel choice and
  checkpoint file), else a hash of its parameters, layers and input spec, made once per model;
* the code: a hash of every source file of dreamjax and of the model's package (about 2 ms),
  so an edited engine never runs a stale program;
* the program: the function's name, the tree structure of its arguments (which holds the
  objective's static parts, such as layer names and weights), every argument's shape, dtype,
  weak type and sharding, and the static arguments (the octave plan);
* the platform: jax and jaxlib versions, backend and its version, device kinds and count,
  compiler options, ``XLA_FLAGS`` and the JAX settings that change tracing.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
import weakref
from pathlib import Path
from typing import Any

import jax
import numpy as np

from .compiler import compiler_key

KEY_FORMAT = 1

def program_key(model: Any, function: Any, args: tuple, static: dict[str, Any]) -> str:
    """The text that names a compiled program; equal keys mean interchangeable programs."""
    leaves, tree = jax.tree_util.tree_flatten(args)
    parts = {
        "format": KEY_FORMAT,
        "function": function_name(function),
        "model": model_fingerprint(model),
        "code": code_fingerprint(type(model).__module__),
        "tree": repr(tree),
        "leaves": [_leaf_signature(leaf) for leaf in leaves],
        "static": {name: repr(value) for name, value in sorted(static.items())},
        "platform": _platform(),
        "compiler": compiler_key(model=model),
    }
    return json.dumps(parts, sort_keys=True)


def function_name(function: Any) -> str:
    inner = getattr(function, "__wrapped__", function)
    while isinstance(inner, functools.partial):
        inner = inner.func
    return f"{getattr(inner, '__module__', '?')}.{getattr(inner, '__qualname__', repr(inner))}"


def _leaf_signature(leaf: Any) -> list:
    if not (hasattr(leaf, "shape") and hasattr(leaf, "dtype")):  # a Python number: weakly typed
        return [type(leaf).__name__, list(np.shape(leaf)), str(np.asarray(leaf).dtype), True, None]
    sharding = getattr(leaf, "sharding", None)
    placed = None
    if isinstance(sharding, jax.sharding.NamedSharding):
        mesh = sharding.mesh
        placed = [mesh.device_ids.tolist(), list(mesh.axis_names), repr(sharding.spec), sharding.memory_kind]
    return ["array", list(leaf.shape), str(leaf.dtype), bool(getattr(leaf, "weak_type", False)), placed]


@functools.cache
def _platform() -> list:
    devices = jax.devices()
    return [jax.__version__, jaxlib_version(), jax.default_backend(), devices[0].client.platform_version,
            sorted({d.device_kind for d in devices}), len(devices), jax.process_count(),
            bool(jax.config.jax_enable_x64), str(jax.config.jax_default_matmul_precision)]


def jaxlib_version() -> str:
    import jaxlib

    return jaxlib.__version__


_FINGERPRINTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def model_fingerprint(model: Any) -> str:
    """The model's own ``fingerprint`` if it has one, else a hash of its parameters and layers."""
    own = getattr(model, "fingerprint", None)
    if isinstance(own, str) and own:
        return f"{type(model).__qualname__}:{model.name}:{own}"
    try:
        return _FINGERPRINTS[model]
    except (KeyError, TypeError):
        pass
    h = hashlib.sha256(f"{type(model).__module__}.{type(model).__qualname__}:{model.name}".encode())
    h.update(repr((model.layers, model.input_spec)).encode())
    for leaf in jax.tree_util.tree_leaves(model.params):
        array = np.ascontiguousarray(np.asarray(leaf))
        h.update(f"{array.dtype}{array.shape}".encode())
        h.update(array.view(np.uint8).reshape(-1).data)
    digest = h.hexdigest()
    try:
        _FINGERPRINTS[model] = digest
    except TypeError:  # not weak-referenceable: hashed again next time
        pass
    return digest


@functools.cache
def code_fingerprint(module_name: str) -> str:
    """A hash of every source file of dreamjax and of ``module_name``'s package (once per process)."""
    h = hashlib.sha256()
    for top in sorted({"dreamjax", module_name.partition(".")[0]}):
        origin = getattr(sys.modules.get(top), "__file__", None)
        if origin is None:
            h.update(f"{top}:unknown".encode())
            continue
        origin = Path(origin)
        files = sorted(origin.parent.rglob("*.py")) if origin.name == "__init__.py" else [origin]
        for path in files:
            h.update(f"{path.relative_to(origin.parent)}\0".encode())
            h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()
