"""Write PyTorch checkpoints opcode by opcode, so tests need neither torch nor its globals."""

from __future__ import annotations

import io
import pickle
import struct
import zipfile

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
STORAGE_NAMES = {np.dtype("<f4"): "FloatStorage", np.dtype("<i8"): "LongStorage", np.dtype("<f2"): "HalfStorage"}


def _global(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


def _str(s: str) -> bytes:
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def _int(i: int) -> bytes:
    return b"J" + struct.pack("<i", i)


def _tuple(items) -> bytes:
    return b"(" + b"".join(items) + b"t"


def state_dict_pickle(tensors: dict[str, tuple], zip_layout: bool) -> bytes:
    """``tensors``: name -> (storage key, storage class name, storage numel, offset, size, stride)."""
    out = b"\x80\x02" + _global("collections", "OrderedDict") + b")R("
    for name, (key, storage_name, numel, offset, size, stride) in tensors.items():
        pid = [_str("storage"), _global("torch", storage_name), _str(key), _str("cpu"), _int(numel)]
        if not zip_layout:
            pid.append(b"N")  # no view metadata
        args = [
            _tuple(pid) + b"Q",
            _int(offset),
            _tuple(_int(n) for n in size),
            _tuple(_int(s) for s in stride),
            b"\x89",  # requires_grad=False
            _global("collections", "OrderedDict") + b")R",  # backward hooks
        ]
        out += _str(name) + _global("torch._utils", "_rebuild_tensor_v2") + _tuple(args) + b"R"
    return out + b"u."


def legacy_header() -> bytes:
    sys_info = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}
    return b"".join(pickle.dumps(x, protocol=2) for x in (LEGACY_MAGIC, 1001, sys_info))


def _layout(arrays: dict[str, np.ndarray]):
    """One storage per array; each tensor is a transposed view with an offset, to exercise strides."""
    tensors, storages = {}, {}
    for i, (name, a) in enumerate(arrays.items()):
        key = str(1000 + i)
        flat = np.concatenate([np.zeros(3, a.dtype), np.ascontiguousarray(a.T).ravel()])
        # a == flat[3:].reshape(a.T.shape).T: strides reversed, offset 3.
        shape_t = a.shape[::-1]
        strides_t = [int(np.prod(shape_t[j + 1 :])) for j in range(len(shape_t))]
        tensors[name] = (key, STORAGE_NAMES[a.dtype], flat.size, 3, a.shape, tuple(strides_t[::-1]))
        storages[key] = flat
    return tensors, storages


def legacy_checkpoint(arrays: dict[str, np.ndarray]) -> bytes:
    tensors, storages = _layout(arrays)
    keys = sorted(storages)
    out = io.BytesIO()
    out.write(legacy_header())
    out.write(state_dict_pickle(tensors, zip_layout=False))
    out.write(pickle.dumps(keys, protocol=2))
    for key in keys:
        out.write(struct.pack("<q", storages[key].size))
        out.write(storages[key].tobytes())
    return out.getvalue()


def zip_checkpoint(arrays: dict[str, np.ndarray]) -> bytes:
    tensors, storages = _layout(arrays)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("archive/data.pkl", state_dict_pickle(tensors, zip_layout=True))
        zf.writestr("archive/byteorder", "little")
        for key, data in storages.items():
            zf.writestr(f"archive/data/{key}", data.tobytes())
    return out.getvalue()
