"""Errors the ONNX plugin reports to a user: one line each, with a hint where one helps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dreamjax.errors import DreamjaxError


class OnnxLoadError(DreamjaxError):
    """The file is not a readable, well-formed ONNX model (or its external data is unsafe)."""


class OnnxGraphError(DreamjaxError):
    """The graph itself is broken: a cycle, a value nobody produces, a bad attribute."""


class StaticValueError(DreamjaxError):
    """A value that must be known while tracing (a shape, an axis list) depends on data."""


@dataclass(frozen=True)
class OpCoverage:
    """One (domain, op_type, opset) found in a model and whether a kernel exists for it.

    ``since_version`` is the schema version ONNX resolves the model's opset to, or None when
    ONNX itself defines no such operator at that opset.
    """

    domain: str
    op_type: str
    opset: int
    since_version: int | None
    supported: bool
    nodes: tuple[str, ...]

    @property
    def label(self) -> str:
        dom = f"{self.domain}." if self.domain else ""
        ver = f"-{self.since_version}" if self.since_version is not None else ""
        return f"{dom}{self.op_type}{ver} (opset {self.opset})"


class UnsupportedOpsError(DreamjaxError):
    """Every unsupported operator of a model, listed at once."""

    def __init__(self, missing: Sequence[OpCoverage]):
        self.missing = tuple(missing)
        parts = []
        for cov in self.missing:
            shown = ", ".join(repr(n) for n in cov.nodes[:3])
            more = f" and {len(cov.nodes) - 3} more" if len(cov.nodes) > 3 else ""
            parts.append(f"{cov.label} at nodes {shown}{more}")
        super().__init__(
            f"{len(self.missing)} unsupported ONNX operator(s): " + "; ".join(parts),
            "run `dreamjax convert MODEL.onnx --check` for the full coverage table; "
            "see plugins/dreamjax-onnx/OPERATORS.md for what is supported",
        )
