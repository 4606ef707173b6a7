"""XLA compiler options for dreamjax's programs, per backend, each one measured.

XLA:CPU (jax 0.10) hands convolutions and dots to YNNPACK by default. Its convolutions keep
only about 60% of two cores busy at batch 1 (a converted ResNet-18: 35 of 56 core-ms per
call), where XLA's own convolution spreads over both. Dots stay on YNNPACK; moving elementwise
fusions there was 1.1-2.5x slower. Measured on a 2-core AMD EPYC (benchmarks/NOTES.md):
ONNX ResNet-18 forward 28.8 -> 24.0 ms at batch 1 and 234 -> 173 ms at batch 8, GoogLeNet
23.1 -> 19.0 ms, depthwise networks within 10% either way, the EfficientNet-Lite0 dream step
unchanged.

Options are passed per compilation (``jax.jit(f, compiler_options=compiler_options())``), so
nothing global changes. A user's own ``XLA_FLAGS`` setting of the same option wins, and an XLA
that does not know an option is left with its defaults.
"""

from __future__ import annotations

import functools
import os

import jax

_CPU = {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"}


def compiler_options(backend: str | None = None) -> dict[str, str]:
    """The options to compile dreamjax programs with on ``backend`` (default: JAX's default)."""
    return dict(_supported(backend or jax.default_backend()))


def compiler_key(backend: str | None = None) -> str:
    """What decides the compiler's settings, for cache keys: found without compiling anything.

    The options actually used (:func:`compiler_options`) follow from these and the XLA version.
    """
    backend = backend or jax.default_backend()
    return repr((backend, sorted(_CPU.items()) if backend == "cpu" else [], os.environ.get("XLA_FLAGS", "")))


@functools.cache
def _supported(backend: str) -> tuple[tuple[str, str], ...]:
    if backend != "cpu":
        return ()
    flags = os.environ.get("XLA_FLAGS", "")
    options = {k: v for k, v in _CPU.items() if k not in flags}
    try:
        jax.jit(lambda x: x + 1, compiler_options=options).lower(1.0).compile()
    except Exception:  # noqa: BLE001 - an XLA without these options keeps its defaults
        return ()
    return tuple(options.items())
