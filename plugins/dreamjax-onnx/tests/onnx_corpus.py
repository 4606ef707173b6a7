"""Crafted ONNX files for the hostile-file corpus in tests/corpus/ (table: test_onnx_hostile.py).

    python plugins/dreamjax-onnx/tests/onnx_corpus.py          # rewrites tests/corpus/
    python plugins/dreamjax-onnx/tests/onnx_corpus.py OUT_DIR  # somewhere else (the tests do)

Each model is a few hundred bytes and breaks one rule: a file that is no protobuf, a graph with
a cycle or a value nobody produces, tensors declaring absurd sizes, external data pointing out
of the model's folder (absolute, ``..``, through a symlink) at ``outside.bin``, a file beside
the folder that would fit the tensor exactly. Values of :func:`models` are bytes, or a
:class:`Symlink` the generator creates as a link. Deterministic given the same onnx version.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


@dataclass(frozen=True)
class Symlink:
    target: str  # relative to the link's folder


def _model(nodes, inputs=None, outputs=None, initializers=(), sparse=(), opset=OPSET) -> onnx.ModelProto:
    inputs = inputs if inputs is not None else [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])]
    outputs = outputs if outputs is not None else [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers), sparse_initializer=list(sparse))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="dreamjax-corpus")


def _bytes(model: onnx.ModelProto) -> bytes:
    return model.SerializeToString()


def _conv_model(weight: TensorProto) -> onnx.ModelProto:
    """x -> Conv(weight) -> Relu -> y: a tiny image model that becomes bad through ``weight``."""
    nodes = [helper.make_node("Conv", ["x", weight.name], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    return _model(nodes, initializers=[weight])


def _weight(name="w") -> TensorProto:
    return numpy_helper.from_array(np.random.default_rng(0).normal(size=(4, 3, 3, 3)).astype(np.float32), name)


def _external(location: str, length: int | None = None, offset: int | None = None) -> TensorProto:
    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4, 3, 3, 3], data_location=TensorProto.EXTERNAL)
    entries = {"location": location, **({"length": str(length)} if length is not None else {}), **({"offset": str(offset)} if offset is not None else {})}
    for k, v in entries.items():
        t.external_data.add(key=k, value=v)
    return t


def valid_model() -> onnx.ModelProto:
    return _conv_model(_weight())


def models() -> dict[str, bytes | Symlink]:
    good = _bytes(valid_model())
    relu = lambda i, o, n: helper.make_node("Relu", [i], [o], name=n)  # noqa: E731

    huge = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1 << 20, 1 << 20, 3, 3])
    negative = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4, -3, 3, 3])
    short_raw = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4, 3, 3, 3], raw_data=b"\0" * 8)
    odd_type = TensorProto(name="w", data_type=77, dims=[4, 3, 3, 3], raw_data=b"\0" * 8)
    sparse_values = numpy_helper.from_array(np.ones(1, np.float32), "w")
    sparse_indices = numpy_helper.from_array(np.zeros(1, np.int64), "w_idx")
    sparse_huge = helper.make_sparse_tensor(sparse_values, sparse_indices, [100_000, 100_000, 3, 3])
    weights = np.random.default_rng(0).normal(size=(4, 3, 3, 3)).astype(np.float32).tobytes()
    absurd_input = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 10**12, 10**12])]
    return {
        # Not a model.
        "text.onnx": b"this is not a protobuf at all \xff\xfe\x00",
        "empty.onnx": b"",
        "cut_in_half.onnx": good[: len(good) // 2],
        # Broken graphs.
        "cycle.onnx": _bytes(_model([relu("x", "a", "r0"), helper.make_node("Add", ["a", "b"], ["c"], name="add"),
                                     relu("c", "b", "r1"), relu("c", "y", "r2")])),
        "missing_input.onnx": _bytes(_model([helper.make_node("Add", ["x", "ghost"], ["y"], name="add")])),
        "unknown_op.onnx": _bytes(_model([helper.make_node("DreamjaxNoSuchOp", ["x"], ["y"], name="mystery")])),
        "two_inputs.onnx": _bytes(_model([helper.make_node("Add", ["x", "z"], ["y"], name="add")],
                                         inputs=[helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 3, 32, 32]) for n in "xz"])),
        "absurd_input_shape.onnx": _bytes(_model([relu("x", "y", "r")], inputs=absurd_input)),
        # Tensors that lie about their size.
        "huge_initializer.onnx": _bytes(_conv_model(huge)),
        "negative_dims.onnx": _bytes(_conv_model(negative)),
        "raw_data_too_short.onnx": _bytes(_conv_model(short_raw)),
        "unknown_element_type.onnx": _bytes(_conv_model(odd_type)),
        "sparse_huge.onnx": _bytes(_model([relu("x", "y", "r")], sparse=[sparse_huge])),
        # External data that escapes the model's folder, or is not there.
        "external_absolute.onnx": _bytes(_conv_model(_external("/etc/passwd"))),
        "external_dotdot.onnx": _bytes(_conv_model(_external("../outside.bin"))),
        "external_symlink.onnx": _bytes(_conv_model(_external("weights_link.bin"))),
        "weights_link.bin": Symlink("../outside.bin"),
        "external_missing.onnx": _bytes(_conv_model(_external("no_such_weights.bin"))),
        "external_short.onnx": _bytes(_conv_model(_external("short_weights.bin"))),
        "short_weights.bin": weights[:100],
        "external_offset_past_end.onnx": _bytes(_conv_model(_external("weights.bin", offset=10_000, length=len(weights)))),
        "weights.bin": weights,
    }


def outside_bytes() -> bytes:
    """``outside.bin``, beside the models' folder: weights of the right size, never to be read."""
    return np.random.default_rng(0).normal(size=(4, 3, 3, 3)).astype(np.float32).tobytes()


def build(out: Path) -> list[Path]:
    """Write the models into ``out/onnx/`` and ``outside.bin`` into ``out``."""
    folder = out / "onnx"
    folder.mkdir(parents=True, exist_ok=True)
    (out / "outside.bin").write_bytes(outside_bytes())
    written = [out / "outside.bin"]
    for name, data in models().items():
        target = folder / name
        if target.is_symlink() or target.exists():
            target.unlink()
        if isinstance(data, bytes):
            target.write_bytes(data)
        else:
            target.symlink_to(data.target)
        written.append(target)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "corpus"
    files = build(target)
    print(f"wrote {len(files)} files ({sum(f.lstat().st_size for f in files):,} bytes) under {target}")
