"""Compiled XLA programs as bytes and back, without running pickled code.

``jax.experimental.serialize_executable.serialize`` writes a compiled program as a pickle of
JAX's own description of it (avals, shardings, the PRNG implementation) around the XLA
executable, and leaves the input and output tree structures to the caller. Its loader unpickles
with the standard machinery, so a tampered file could name and call any importable function.

Here the pickle is read by an unpickler that resolves only the JAX and NumPy names a compiled
dreamjax program is made of (:data:`ALLOWED_GLOBALS`) and refuses every other one before it can
be called, as :mod:`dreamjax.files.checkpoint` does for checkpoints. The tree structures are
never pickled: the input structure is rebuilt from the arguments of the call (the caller knows
them), the output structure is stored in the pytree library's own protocol-buffer form.

The XLA executable itself is machine code for this machine: whoever can write the cache folder
can run code through it, which is why :mod:`dreamjax.runtime.cache` refuses folders that other
users can write to.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import jax
from jax._src.lib import xla_client
from jax.experimental import serialize_executable

from ..errors import DreamjaxError

# Every global the pickle of a dreamjax program names, found by recording them for single- and
# multi-device programs (tests/test_programs.py checks a fresh program needs no other).
ALLOWED_GLOBALS = frozenset({
    ("jax", "P"),
    ("jax._src.core", "ManualAxisType"),
    ("jax._src.core", "MemorySpace"),
    ("jax._src.core", "ShapedArray"),
    ("jax._src.interpreters.pxla", "AllArgsInfo"),
    ("jax._src.interpreters.pxla", "UnloadedMeshExecutable"),
    ("jax._src.layout", "Layout"),
    ("jax._src.linear_util", "DebugInfo"),
    ("jax._src.mesh", "AbstractDevice"),
    ("jax._src.mesh", "AbstractMesh"),
    ("jax._src.mesh", "AxisType"),
    ("jax._src.mesh", "Mesh"),
    ("jax._src.named_sharding", "_unpickle_named_sharding"),
    ("jax._src.random.prng", "KeyTy"),
    ("jax._src.random.prng", "PRNGImpl"),
    ("jax._src.random.threefry2x32", "threefry_fold_in"),
    ("jax._src.random.threefry2x32", "threefry_random_bits"),
    ("jax._src.random.threefry2x32", "threefry_seed"),
    ("jax._src.random.threefry2x32", "threefry_split"),
    ("jax._src.sharding_impls", "_unpickle_single_device_sharding"),
    ("jax._src.stages", "ArgInfo"),
    ("jaxlib._jax", "DeviceList"),
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy._core.multiarray", "_reconstruct"),
})


class UnsafeProgramError(DreamjaxError):
    """A stored program that asks for a global outside :data:`ALLOWED_GLOBALS` (it may hold code)."""


class _PlaceholderExecutable:
    """Stands in for the XLA executable when a pickle is only being checked."""


class _RestrictedUnpickler(pickle.Unpickler):
    """JAX's executable unpickler, but resolving only :data:`ALLOWED_GLOBALS`.

    With ``load_executables=False`` the pickle is only checked: the XLA executable is not loaded.
    """

    def __init__(self, data: bytes, devices: Sequence[Any], load_executables: bool = True):
        super().__init__(io.BytesIO(data))
        self._backend = devices[0].client
        self._devices = {d.id: d for d in devices}
        self._device_list = xla_client.DeviceList(tuple(devices))
        self._load_executables = load_executables

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise UnsafeProgramError(f"stored program asks for the global {module}.{name}, which is not allowed",
                                     "it may hold code; the entry is ignored and the program compiled again")
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        kind = pid[0] if isinstance(pid, tuple) and pid else None
        if kind == "exec" and len(pid) == 2 and isinstance(pid[1], bytes):
            if not self._load_executables:
                return _PlaceholderExecutable()
            return self._backend.deserialize_executable(pid[1], executable_devices=self._device_list)
        if kind == "device" and len(pid) == 2 and pid[1] in self._devices:
            return self._devices[pid[1]]
        if kind == "client" and len(pid) == 1:
            return self._backend
        raise pickle.UnpicklingError(f"unsupported persistent id {str(pid)[:60]!r}")


def _devices(device_ids: Sequence[int]) -> list[Any]:
    by_id = {d.id: d for d in jax.devices()}
    if not device_ids or any(i not in by_id for i in device_ids):
        raise ValueError(f"program was compiled for devices {list(device_ids)}, this process has {sorted(by_id)}")
    return [by_id[i] for i in device_ids]


# What XLA's memory analysis says of a program, kept beside it: asking a loaded program again
# costs 20-100 ms, and the engine asks before every octave.
MEMORY_FIELDS = ("argument_size_in_bytes", "output_size_in_bytes", "alias_size_in_bytes", "temp_size_in_bytes",
                 "generated_code_size_in_bytes", "peak_memory_in_bytes")


class LoadedProgram(jax.stages.Compiled):
    """A compiled program read back from bytes, with its stored memory analysis."""

    _memory: SimpleNamespace | None = None

    def memory_analysis(self) -> Any:
        return self._memory if self._memory is not None else super().memory_analysis()


def memory_stats(compiled: jax.stages.Compiled) -> dict[str, int] | None:
    """The numbers of ``compiled.memory_analysis()``, or None where the backend has none."""
    try:
        stats = compiled.memory_analysis()
        return {name: int(getattr(stats, name)) for name in MEMORY_FIELDS}
    except Exception:  # noqa: BLE001 - not every backend implements it
        return None


def dump(compiled: jax.stages.Compiled) -> tuple[bytes, bytes, list[int]]:
    """``(payload, output structure, device ids)`` of a compiled program.

    Raises ValueError (or another exception from JAX) for a program that cannot be stored,
    and :class:`UnsafeProgramError` for one whose pickle would not be read back here.
    """
    payload, _in_tree, out_tree = serialize_executable.serialize(compiled)
    out_bytes = out_tree.serialize_using_proto()  # fails for custom output nodes: not storable
    unloaded = compiled._executable._unloaded_executable
    devices = [d.id for d in unloaded.device_list]
    _RestrictedUnpickler(payload, _devices(devices), load_executables=False).load()  # never write what load() refuses
    return payload, out_bytes, devices


def load(payload: bytes, out_tree: bytes, device_ids: Sequence[int], args: tuple,
         memory: Mapping[str, int] | None = None) -> jax.stages.Compiled:
    """The compiled program stored by :func:`dump`, ready to be called with ``args``.

    ``args`` (arrays or ``jax.ShapeDtypeStruct``) give the input structure; the program must
    have been compiled for arguments of that structure. ``memory``: its :func:`memory_stats`.
    """
    unloaded, args_info_flat, no_kwargs = _RestrictedUnpickler(payload, _devices(device_ids)).load()
    in_tree = jax.tree_util.tree_structure((tuple(args), {}))
    outputs = jax.tree_util.PyTreeDef.deserialize_using_proto(jax.tree_util.default_registry, out_tree)
    args_info = in_tree.unflatten(args_info_flat)
    program = LoadedProgram(unloaded.load(), [], args_info, outputs, no_kwargs=no_kwargs)
    if memory is not None and set(memory) == set(MEMORY_FIELDS):
        program._memory = SimpleNamespace(**{name: int(memory[name]) for name in MEMORY_FIELDS})
    return program
