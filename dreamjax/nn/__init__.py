"""Shared NHWC kernels for ports of CNNs: used by the model zoo and by plugins (dreamjax-onnx).

Each kernel is a pure ``jnp`` function; the ones whose autodiff gradient is slow on XLA:CPU carry
a hand-written VJP, checked against ``jax.grad`` of the plain form in ``tests/test_nn.py``.
"""

from .activations import relu6
from .conv import conv2d, pointwise, window
from .depthwise import DEPTHWISE_IMPLS, default_depthwise, depthwise, expand_depthwise, valid_taps
from .dense import conv, conv_transpose, im2col, out_pixels
from .layer_norm import layer_norm
from .lrn import lrn
from .padding import pad_same, tf_same_pads
from .platform import KERNEL_CHOICES, cpu_kernels
from .pool import lowest, max_pool, sum_pool, window_counts
from .windows import out_size, window_slices

__all__ = [
    "DEPTHWISE_IMPLS",
    "KERNEL_CHOICES",
    "conv",
    "conv2d",
    "conv_transpose",
    "cpu_kernels",
    "default_depthwise",
    "depthwise",
    "expand_depthwise",
    "im2col",
    "layer_norm",
    "lowest",
    "lrn",
    "max_pool",
    "out_pixels",
    "out_size",
    "pad_same",
    "pointwise",
    "relu6",
    "sum_pool",
    "tf_same_pads",
    "valid_taps",
    "window",
    "window_counts",
    "window_slices",
]
