"""Which kernels suit the platform: the slice/VJP forms written for XLA:CPU, or plain ``lax``.

On XLA:CPU, convolutions' input gradients, pools and depthwise convolutions run many times
faster as this package's slices and hand-written VJPs; on GPU and other backends the plain
``lax.conv`` / ``reduce_window`` forms run on tuned libraries (cuDNN) and are the better choice.
"""

from __future__ import annotations

import jax

KERNEL_CHOICES = ("auto", "cpu", "plain")


def cpu_kernels(choice: str = "auto") -> bool:
    """Whether to use the XLA:CPU kernels: ``"cpu"`` yes, ``"plain"`` no, ``"auto"`` when the
    default JAX backend (read at trace time) is the CPU."""
    if choice not in KERNEL_CHOICES:
        raise ValueError(f"unknown kernel choice {choice!r}; choose from {KERNEL_CHOICES}")
    return choice == "cpu" or (choice == "auto" and jax.default_backend() == "cpu")
