"""Hostile ONNX files: the crafted corpus (tests/corpus/, written by onnx_corpus.py) and
hypothesis fuzzing of the loader.

Every refusal is a DreamjaxError subclass with one line, raised before any large allocation;
nothing outside the model's folder is ever read.
"""

from __future__ import annotations

import resource
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import onnx_corpus

import dreamjax
from dreamjax.errors import DreamjaxError
from dreamjax_onnx.convert import to_jax
from dreamjax_onnx.errors import OnnxGraphError, OnnxLoadError, UnsupportedOpsError
from dreamjax_onnx.load import load_onnx

CORPUS = Path(__file__).parent / "corpus" / "onnx"

NOT_ONNX = (OnnxLoadError, r"is not a valid ONNX file: protobuf could not be parsed")
OUTSIDE = r"external data must be files inside the model's folder"

TABLE = {
    "text.onnx": NOT_ONNX,
    "empty.onnx": (OnnxLoadError, r"the ONNX model has no graph"),
    "cut_in_half.onnx": NOT_ONNX,
    "cycle.onnx": (OnnxGraphError, r"has a cycle through nodes 'add', 'r1', 'r2'"),
    "missing_input.onnx": (OnnxGraphError, r"values that nothing produces: add \(Add\) reads 'ghost'"),
    "unknown_op.onnx": (UnsupportedOpsError, r"DreamjaxNoSuchOp \(opset 13\) at nodes 'mystery'"),
    "two_inputs.onnx": (DreamjaxError, r"the graph takes 2 inputs"),
    "absurd_input_shape.onnx": (DreamjaxError, r"declares a 1000000000000x1000000000000 image"),
    "huge_initializer.onnx": (OnnxLoadError, r"declares 39,582,418,599,936 bytes, above the .*-byte limit"),
    "negative_dims.onnx": (OnnxLoadError, r"declares negative dims \[4, -3, 3, 3\]"),
    "raw_data_too_short.onnx": (OnnxLoadError, r"declares shape \[4, 3, 3, 3\] \(432 bytes\) but holds 8 bytes"),
    "unknown_element_type.onnx": (OnnxLoadError, r"unknown element type 77"),
    "sparse_huge.onnx": (OnnxLoadError, r"sparse tensor 'w' declares 360,000,000,000 bytes when dense"),
    "external_absolute.onnx": (OnnxLoadError, r"external data path '/etc/passwd' is absolute"),
    "external_dotdot.onnx": (OnnxLoadError, r"'\.\./outside\.bin' leaves the model folder"),
    "external_symlink.onnx": (OnnxLoadError, r"'weights_link\.bin' resolves outside the model folder"),
    "external_missing.onnx": (OnnxLoadError, r"external data file 'no_such_weights\.bin' is missing"),
    "external_short.onnx": (OnnxLoadError, r"holds 100 bytes from offset 0 but the tensor needs 432"),
    "external_offset_past_end.onnx": (OnnxLoadError, r"holds 0 bytes from offset 10000 but the tensor needs 432"),
}
DATA_FILES = {"weights.bin", "short_weights.bin", "weights_link.bin"}  # read by the .onnx rows


def test_every_onnx_corpus_file_has_a_row():
    assert {p.name for p in CORPUS.iterdir()} == set(TABLE) | DATA_FILES
    assert set(onnx_corpus.models()) == set(TABLE) | DATA_FILES


def _refused_as_listed(folder: Path, name: str) -> None:
    error, message = TABLE[name]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(error, match=message) as err:
        dreamjax.load_model(str(folder / name))
    assert "\n" not in err.value.message
    # Refused before any large allocation (ru_maxrss is in KiB on Linux).
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 256 * 1024


@pytest.mark.parametrize("name", sorted(TABLE))
def test_onnx_corpus_file(name):
    _refused_as_listed(CORPUS, name)


def test_generator_recreates_the_corpus(tmp_path):
    onnx_corpus.build(tmp_path)
    assert {p.name for p in (tmp_path / "onnx").iterdir()} == set(TABLE) | DATA_FILES
    assert (tmp_path / "outside.bin").read_bytes() == (CORPUS.parent / "outside.bin").read_bytes()
    for name in TABLE:
        _refused_as_listed(tmp_path / "onnx", name)


def test_a_well_formed_corpus_model_loads(tmp_path):
    # The corpus models break one rule each; the same model without the break is fine.
    path = tmp_path / "ok.onnx"
    path.write_bytes(onnx_corpus.valid_model().SerializeToString())
    model = dreamjax.load_model(str(path))
    assert [layer.name for layer in model.layers] == ["c", "y"]


def test_external_data_inside_the_folder_is_read(tmp_path):
    weights = np.random.default_rng(0).normal(size=(4, 3, 3, 3)).astype(np.float32)
    (tmp_path / "w.bin").write_bytes(weights.tobytes())
    (tmp_path / "m.onnx").write_bytes(onnx_corpus._conv_model(onnx_corpus._external("w.bin")).SerializeToString())
    loaded = load_onnx(tmp_path / "m.onnx")
    np.testing.assert_array_equal(onnx.numpy_helper.to_array(loaded.graph.initializer[0]), weights)


FUZZ = settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
VALID = onnx_corpus.valid_model().SerializeToString()


def _load_and_convert(data: bytes) -> None:
    """Parse, check and convert; any failure must be a DreamjaxError."""
    try:
        fn, params = to_jax(load_onnx(data))
    except DreamjaxError as exc:
        assert exc.message and "\n" not in exc.message
        return
    assert isinstance(params, dict)


@FUZZ
@given(data=st.binary(max_size=400))
def test_random_bytes(data):
    _load_and_convert(data)


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), min_size=1, max_size=6),
       cut=st.one_of(st.none(), st.integers(0, len(VALID))))
def test_mutated_valid_model(edits, cut):
    data = bytearray(VALID)
    for at, value in edits:
        data[at] = value
    _load_and_convert(bytes(data[:cut] if cut is not None else data))


@FUZZ
@given(dims=st.lists(st.integers(-(2**40), 2**40), min_size=0, max_size=5),
       raw=st.binary(max_size=64), dtype=st.integers(0, 30))
def test_any_declared_initializer(dims, raw, dtype):
    weight = onnx.TensorProto(name="w", data_type=dtype, dims=dims, raw_data=raw)
    _load_and_convert(onnx_corpus._conv_model(weight).SerializeToString())


SEGMENTS = st.sampled_from(["..", ".", "w.bin", "sub", "link", "/", "\\", "C:", "%2e%2e", "\x00", "~", "outside.bin"])


@FUZZ
@given(parts=st.lists(SEGMENTS, min_size=1, max_size=5), sep=st.sampled_from(["/", "\\", ""]),
       offset=st.one_of(st.none(), st.integers(-10, 1000)), length=st.one_of(st.none(), st.integers(-10, 1000)))
def test_external_data_never_leaves_the_folder(tmp_path_factory, parts, sep, offset, length):
    root = tmp_path_factory.mktemp("fuzz")
    model_dir = root / "model"
    (model_dir / "sub").mkdir(parents=True)
    weights = np.ones((4, 3, 3, 3), np.float32).tobytes()
    (model_dir / "w.bin").write_bytes(weights)
    (model_dir / "sub" / "w.bin").write_bytes(weights)
    (root / "outside.bin").write_bytes(weights)  # a perfect fit: reading it would succeed
    (model_dir / "link").symlink_to(root)
    location = sep.join(parts)
    (model_dir / "m.onnx").write_bytes(onnx_corpus._conv_model(onnx_corpus._external(location, length, offset)).SerializeToString())
    try:
        loaded = load_onnx(model_dir / "m.onnx")
    except DreamjaxError as exc:
        assert "\n" not in exc.message
        return
    # Loaded: then the data came from inside the model folder, by a plain relative path.
    target = (model_dir / location).resolve()
    assert model_dir.resolve() in target.parents and ".." not in Path(location).parts
    assert onnx.numpy_helper.to_array(loaded.graph.initializer[0]).shape == (4, 3, 3, 3)
