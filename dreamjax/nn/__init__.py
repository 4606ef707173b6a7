"""Shared NHWC kernels for ports of CNNs: used by the model zoo and by plugins (dreamjax-onnx).

Each kernel is a pure ``jnp`` function; the ones whose autodiff gradient is slow on XLA:CPU carry
a hand-written VJP, checked against ``jax.grad`` of the plain form in ``tests/test_nn.py``.
"""

from .activations import relu6
from .conv import conv2d, pointwise, window
from .depthwise import DEPTHWISE_IMPLS, default_depthwise, depthwise, expand_depthwise, valid_taps
from .padding import pad_same, tf_same_pads

__all__ = [
    "DEPTHWISE_IMPLS",
    "conv2d",
    "default_depthwise",
    "depthwise",
    "expand_depthwise",
    "pad_same",
    "pointwise",
    "relu6",
    "tf_same_pads",
    "valid_taps",
    "window",
]
