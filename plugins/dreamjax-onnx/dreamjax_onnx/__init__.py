"""dreamjax-onnx: ONNX models as pure, differentiable JAX functions.

Public API::

    from dreamjax_onnx import to_jax, check_model
    fn, params = to_jax("net.onnx")
    (logits,) = jax.jit(fn)(params, images_nchw)
    acts = fn.capture(params, images_nchw, names=["conv2d_3"])
"""

from .convert import OnnxFunction, check_model, to_jax
from .errors import OnnxGraphError, OnnxLoadError, OpCoverage, StaticValueError, UnsupportedOpsError
from .registry import Registry, default_registry

__all__ = [
    "OnnxFunction",
    "OnnxGraphError",
    "OnnxLoadError",
    "OpCoverage",
    "Registry",
    "StaticValueError",
    "UnsupportedOpsError",
    "check_model",
    "default_registry",
    "to_jax",
]
