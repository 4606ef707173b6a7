"""dreamjax-onnx: ONNX models as pure, differentiable JAX functions, and as Flax modules.

Public API::

    from dreamjax_onnx import to_jax, to_nnx, to_linen, check_model
    fn, params = to_jax("net.onnx")
    (logits,) = jax.jit(fn)(params, images_nchw)
    acts = fn.capture(params, images_nchw, names=["conv2d_3"])
    module = to_nnx("net.onnx")                 # flax.nnx.Module: module(images_nchw)
    module, variables = to_linen("net.onnx")    # flax.linen: module.apply(variables, images_nchw)
"""

import importlib

# name -> the module that defines it, imported on first use (PEP 562): `dreamjax --help` loads
# this plugin's command without JAX, and flax (a second or more to import) comes only with
# to_nnx / to_linen.
_EXPORTS = {
    **dict.fromkeys(("OnnxFunction", "check_model", "to_jax"), ".convert"),
    **dict.fromkeys(("OnnxGraphError", "OnnxLoadError", "OpCoverage", "StaticValueError", "UnsupportedOpsError"),
                    ".errors"),
    **dict.fromkeys(("Registry", "default_registry"), ".registry"),
    **dict.fromkeys(("Constant", "OnnxGraph", "OnnxLinen", "OnnxModule", "to_linen", "to_nnx"), ".flax_modules"),
}


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


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
