"""dreamjax-onnx: ONNX models as pure, differentiable JAX functions, and as Flax modules.

Public API::

    from dreamjax_onnx import to_jax, to_nnx, to_linen, check_model
    fn, params = to_jax("net.onnx")
    (logits,) = jax.jit(fn)(params, images_nchw)
    acts = fn.capture(params, images_nchw, names=["conv2d_3"])
    module = to_nnx("net.onnx")                 # flax.nnx.Module: module(images_nchw)
    module, variables = to_linen("net.onnx")    # flax.linen: module.apply(variables, images_nchw)
"""

from .convert import OnnxFunction, check_model, to_jax
from .errors import OnnxGraphError, OnnxLoadError, OpCoverage, StaticValueError, UnsupportedOpsError
from .registry import Registry, default_registry

# Imported on first use: flax costs a second or more to import, and the dreamjax backend
# (the entry point) does not need it.
_FLAX_NAMES = ("Constant", "OnnxGraph", "OnnxLinen", "OnnxModule", "to_linen", "to_nnx")


def __getattr__(name: str):
    if name in _FLAX_NAMES:
        from . import flax_modules

        return getattr(flax_modules, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Constant",
    "OnnxFunction",
    "OnnxGraph",
    "OnnxGraphError",
    "OnnxLinen",
    "OnnxLoadError",
    "OnnxModule",
    "OpCoverage",
    "Registry",
    "StaticValueError",
    "UnsupportedOpsError",
    "check_model",
    "default_registry",
    "to_jax",
    "to_linen",
    "to_nnx",
]
