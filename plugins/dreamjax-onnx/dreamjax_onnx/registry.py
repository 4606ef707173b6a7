"""The operator registry: an immutable map ``(domain, op_type, since_version) -> OpSpec``.

Which kernel serves a node is decided by ONNX's own schema table: the model's opset for the
node's domain is resolved with ``onnx.defs.get_schema(op, max_inclusive_version=opset,
domain=domain).since_version`` and that exact version is looked up. Versions whose semantics
are equal share one kernel (registered under several versions); versions that differ get
their own kernel. Nothing registers itself on import: each op family module holds an
``OpTable`` and :data:`FAMILIES` below lists the families explicitly.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import onnx.defs

from . import layout
from .errors import OnnxGraphError

# ONNX writes the default domain as "" or "ai.onnx"; both mean the same operator set.
DEFAULT_DOMAIN = ""


def canonical_domain(domain: str) -> str:
    return DEFAULT_DOMAIN if domain in ("", "ai.onnx") else domain


@dataclass(frozen=True)
class OpSpec:
    """A kernel and what the converter must know about it.

    ``static_inputs`` are input positions whose *values* decide output shapes (a reshape
    target, slice bounds, pads...). They must be known while tracing: initializers feeding them
    stay numpy constants instead of becoming params, and a data-dependent value there is an error.
    ``channels_last`` is the kernel's variant for channels-last values (:mod:`.layout`), if any.
    """

    domain: str
    op_type: str
    since_version: int
    kernel: Callable
    static_inputs: frozenset[int] = frozenset()
    channels_last: Callable | None = None

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.domain, self.op_type, self.since_version)


class OpTable:
    """The kernels of one op family, collected by the :meth:`op` decorator."""

    def __init__(self) -> None:
        self.specs: list[OpSpec] = []

    def op(
        self,
        op_type: str,
        *versions: int,
        static: Iterable[int] = (),
        domain: str = DEFAULT_DOMAIN,
        channels_last: Callable | str | None = None,
    ) -> Callable[[Callable], Callable]:
        """Register ``kernel`` for ``op_type`` at each listed ``since_version``.

        ``channels_last``: its variant for channels-last values, or ``"elementwise"`` for a
        broadcasting elementwise kernel that runs unchanged on channels-last operands.
        """
        if not versions:
            raise ValueError(f"{op_type}: give at least one since_version")

        def decorate(kernel: Callable) -> Callable:
            variant = layout.elementwise(kernel) if channels_last == "elementwise" else channels_last
            for v in versions:
                self.specs.append(OpSpec(domain, op_type, v, kernel, frozenset(static), variant))
            return kernel

        return decorate


class Registry(Mapping):
    """Read-only map from ``(domain, op_type, since_version)`` to :class:`OpSpec`."""

    def __init__(self, specs: Iterable[OpSpec]):
        table: dict[tuple[str, str, int], OpSpec] = {}
        for spec in specs:
            if spec.key in table:
                raise ValueError(f"{spec.key} registered twice")
            table[spec.key] = spec
        self._table = MappingProxyType(table)

    def __getitem__(self, key: tuple[str, str, int]) -> OpSpec:
        return self._table[key]

    def __iter__(self):
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)

    def versions(self, op_type: str, domain: str = DEFAULT_DOMAIN) -> list[int]:
        """The since_versions registered for an operator, ascending."""
        return sorted(v for (d, o, v) in self._table if d == domain and o == op_type)

    def resolve(self, op_type: str, opset: int, domain: str = DEFAULT_DOMAIN) -> OpSpec | None:
        """The kernel serving ``op_type`` in a model importing ``domain`` at ``opset``."""
        since = schema_version(op_type, opset, domain)
        if since is None:
            return None
        return self._table.get((canonical_domain(domain), op_type, since))

    def lookup(self, op_type: str, opset: int, domain: str = DEFAULT_DOMAIN) -> OpSpec:
        spec = self.resolve(op_type, opset, domain)
        if spec is None:
            have = self.versions(op_type, canonical_domain(domain))
            since = schema_version(op_type, opset, domain)
            raise OnnxGraphError(
                f"no kernel for {op_type} at opset {opset} (schema version {since})",
                f"registered versions: {have}" if have else "this operator is not implemented",
            )
        return spec


@functools.cache
def schema_version(op_type: str, opset: int, domain: str = DEFAULT_DOMAIN) -> int | None:
    """ONNX's answer to "which version of ``op_type`` applies at ``opset``", or None."""
    try:
        schema = onnx.defs.get_schema(op_type, max_inclusive_version=opset, domain=canonical_domain(domain))
    except onnx.defs.SchemaError:
        return None
    return schema.since_version


def schema_versions(op_type: str, domain: str = DEFAULT_DOMAIN) -> list[int]:
    """Every since_version ONNX defines for an operator, ascending."""
    return list(_all_schema_versions().get((canonical_domain(domain), op_type), ()))


@functools.cache
def _all_schema_versions() -> dict[tuple[str, str], tuple[int, ...]]:
    table: dict[tuple[str, str], set[int]] = {}
    for s in onnx.defs.get_all_schemas_with_history():
        table.setdefault((canonical_domain(s.domain), s.name), set()).add(s.since_version)
    return {k: tuple(sorted(v)) for k, v in table.items()}


@functools.cache
def default_registry() -> Registry:
    """All built-in kernels, from the families listed in :mod:`dreamjax_onnx.ops`."""
    from .ops import FAMILIES

    return Registry(spec for family in FAMILIES for spec in family.specs)
