"""XLA compiler options for dreamjax's programs, per backend and per network, each one measured.

XLA:CPU (jax 0.10) hands convolutions and dots to YNNPACK by default. Its convolutions keep
only about 60% of two cores busy at batch 1 (a converted ResNet-18: 35 of 56 core-ms per
call), where XLA's own convolution spreads over both. Dots stay on YNNPACK; moving elementwise
fusions there was 1.1-2.5x slower. Measured on a 2-core AMD EPYC (benchmarks/NOTES.md):
ONNX ResNet-18 forward 28.8 -> 24.0 ms at batch 1 and 234 -> 173 ms at batch 8, GoogLeNet
23.1 -> 19.0 ms, depthwise networks within 10% either way, the EfficientNet-Lite0 dream step
unchanged.

A network can add options of its own (``DreamModel.compiler_options``, a mapping from backend
to options): the zoo's EfficientNet-Lite compiles a third faster on CPU with XLA's older
fusion emitters and runs as fast, where converted ONNX networks run 5-15% slower with them.

Options are passed per compilation (``jax.jit(f, compiler_options=compiler_options())``), so
nothing global changes. A user's own ``XLA_FLAGS`` setting of the same option wins, and an XLA
that does not know an option is left with its defaults.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import jax

_CPU = {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"}


def compiler_options(backend: str | None = None, model: Any = None) -> dict[str, Any]:
    """The options to compile dreamjax programs with on ``backend`` (default: JAX's default),
    for ``model``'s network if given."""
    backend = backend or jax.default_backend()
    return dict(_supported(backend, tuple(sorted(_wanted(backend, model).items()))))


def compiler_key(backend: str | None = None, model: Any = None) -> str:
    """What decides the compiler's settings, for cache keys: found without compiling anything.

    The options actually used (:func:`compiler_options`) follow from these and the XLA version.
    """
    backend = backend or jax.default_backend()
    return repr((backend, sorted(_wanted(backend, model).items()), os.environ.get("XLA_FLAGS", "")))


def _wanted(backend: str, model: Any) -> dict[str, Any]:
    own = (getattr(model, "compiler_options", None) or {}).get(backend, {})
    return {**(_CPU if backend == "cpu" else {}), **own}


@functools.cache
def _supported(backend: str, wanted: tuple[tuple[str, Any], ...]) -> tuple[tuple[str, Any], ...]:
    flags = os.environ.get("XLA_FLAGS", "")
    options = {k: v for k, v in wanted if k not in flags}
    if not options:
        return ()
    try:
        jax.jit(lambda x: x + 1, compiler_options=options).lower(1.0).compile()
    except Exception:  # noqa: BLE001 - an XLA without these options keeps its defaults
        return ()
    return tuple(options.items())
