"""The registry: immutable, schema-driven resolution, and complete for the listed operators."""

from __future__ import annotations

import pytest
from listed_ops import LISTED_OPS, required_versions

from dreamjax_onnx.errors import OnnxGraphError
from dreamjax_onnx.registry import OpSpec, OpTable, Registry, default_registry, schema_versions


def test_double_registration_raises():
    table = OpTable()

    @table.op("Relu", 6)
    def a(n, x):
        return x

    @table.op("Relu", 6)
    def b(n, x):
        return x

    with pytest.raises(ValueError, match="registered twice"):
        Registry(table.specs)


def test_registry_is_read_only():
    reg = default_registry()
    with pytest.raises(TypeError):
        reg[("", "Relu", 6)] = None  # type: ignore[index]
    with pytest.raises(TypeError):
        reg._table[("", "Foo", 1)] = OpSpec("", "Foo", 1, lambda n: None)  # type: ignore[index]


@pytest.mark.parametrize(
    ("op", "opset", "since"),
    [("Clip", 10, 6), ("Clip", 11, 11), ("Clip", 12, 12), ("Clip", 21, 13), ("Squeeze", 12, 11), ("Squeeze", 13, 13),
     ("ReduceMean", 17, 13), ("ReduceMean", 18, 18), ("Softmax", 12, 11), ("Softmax", 13, 13), ("Resize", 12, 11)],
)
def test_resolution_follows_onnx_schema(op, opset, since):
    spec = default_registry().resolve(op, opset)
    assert spec is not None and spec.since_version == since


def test_versions_with_different_semantics_have_their_own_kernel():
    reg = default_registry()
    assert reg[("", "Clip", 6)].kernel is not reg[("", "Clip", 11)].kernel
    assert reg[("", "Squeeze", 11)].kernel is not reg[("", "Squeeze", 13)].kernel
    assert reg[("", "ReduceMean", 13)].kernel is not reg[("", "ReduceMean", 18)].kernel
    assert reg[("", "Softmax", 11)].kernel is not reg[("", "Softmax", 13)].kernel
    assert reg[("", "Slice", 1)].kernel is not reg[("", "Slice", 10)].kernel
    assert reg[("", "Upsample", 7)].kernel is not reg[("", "Resize", 11)].kernel
    # ...and equal semantics share one
    assert reg[("", "Relu", 6)].kernel is reg[("", "Relu", 14)].kernel


def test_lookup_error_lists_existing_versions():
    with pytest.raises(OnnxGraphError, match=r"registered versions: \[6, 13\]"):
        Registry(s for s in default_registry().values() if s.key != ("", "Relu", 14)).lookup("Relu", 20)


@pytest.mark.parametrize("op", LISTED_OPS)
def test_every_listed_op_has_every_version_from_opset_7(op):
    have = default_registry().versions(op)
    missing = [v for v in required_versions(op) if v not in have]
    assert not missing, f"{op}: no kernel for since_versions {missing}"


def test_every_registered_version_exists_in_onnx():
    bogus = [k for k in default_registry() if k[2] not in schema_versions(k[1], k[0])]
    assert not bogus


def test_operators_md_is_generated_from_the_current_registry():
    import importlib.util
    import pathlib

    script = pathlib.Path(__file__).resolve().parents[1] / "scripts" / "operators_table.py"
    spec = importlib.util.spec_from_file_location("operators_table", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.OUT.read_text(encoding="utf-8") == mod.render(), "rerun scripts/operators_table.py"
