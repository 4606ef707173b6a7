"""dreamjax's program cache: compiled programs on disk, loaded without tracing anything.

JAX's persistent cache keys a program by its lowered HLO, so even a hit traces and lowers the
function first (about 0.5 s per octave program of EfficientNet-Lite0). This cache keys a
program by what determines it, all known before tracing (:mod:`dreamjax.runtime.program_key`).

An entry is one file ``<sha256 of the key>.program``: a header (JSON: the whole key, versions,
the output structure, a checksum) and the payload of :mod:`dreamjax.runtime.executables`. A
hit checks the header against the key and the checksum before anything is unpickled; a
corrupt, truncated, stale or refused entry is deleted and the program compiled again. The
folder is bounded: after each write the least recently used entries (a hit touches its file)
are removed until the total is under the bound (:func:`dreamjax.runtime.cache.max_cache_bytes`).
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import struct
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DreamjaxError
from ..files.atomic import write_bytes_atomic
from . import cache

if TYPE_CHECKING:
    import jax

# JAX is imported by the functions that load or store programs, not by this module, so that
# `dreamjax cache info` and `clear` start without it.

FORMAT = 1
MAGIC = b"dreamjax-program\n"
SUFFIX = ".program"
_STATS = "stats.json"
_COUNTERS = ("hits", "misses", "stores", "rejected")


class BadEntry(Exception):
    """An entry that cannot be used: corrupt, truncated, from another version, or unsafe."""


@dataclass(frozen=True)
class Entry:
    path: Path
    bytes: int
    last_used: float  # modification time: set on write and on every hit


class ProgramCache:
    """Compiled programs in one private folder, at most ``max_bytes`` of them."""

    def __init__(self, folder: str | os.PathLike, max_bytes: int | None = None):
        self.folder = Path(folder)
        self.max_bytes = cache.max_cache_bytes() if max_bytes is None else max_bytes
        self.counts = dict.fromkeys(_COUNTERS, 0)
        self._lock = threading.Lock()

    def path_for(self, key: str) -> Path:
        return self.folder / f"{hashlib.sha256(key.encode()).hexdigest()[:40]}{SUFFIX}"

    def load(self, key: str, args: tuple) -> jax.stages.Compiled | None:
        """The program stored under ``key``, for arguments like ``args``; None on a miss."""
        from . import executables

        path = self.path_for(key)
        try:
            header, payload = _read_entry(path, key)
            program = executables.load(payload, bytes.fromhex(header["out_tree"]), header["devices"], args,
                                       header.get("memory"))
        except FileNotFoundError:
            self._count("misses")
            return None
        except executables.UnsafeProgramError as exc:
            warnings.warn(cache.CacheWarning(f"{path}: {exc.message}; removed"), stacklevel=2)
            return self._reject(path)
        except Exception:  # noqa: BLE001 - corrupt, truncated, stale: rebuilt, never a crash
            return self._reject(path)
        try:
            os.utime(path)  # least recently used goes first
        except OSError:
            pass
        self._count("hits")
        return program

    def store(self, key: str, program: jax.stages.Compiled, summary: str = "") -> bool:
        """Write ``program`` under ``key`` (atomically) and trim the folder; False if not storable."""
        from . import executables

        try:
            payload, out_tree, devices = executables.dump(program)
        except Exception:  # noqa: BLE001 - a program JAX cannot serialise stays in memory only
            return False
        header = {"format": FORMAT, "key": key, **_versions(), "out_tree": out_tree.hex(), "devices": devices,
                  "memory": executables.memory_stats(program), "summary": summary}
        path = self.path_for(key)
        try:
            written = write_entry(path, header, payload, self.max_bytes)
        except (OSError, DreamjaxError):  # a full disk or a vanished folder costs the next run a compile
            return False
        if not written:
            return False
        self._count("stores")
        self.trim(keep=path)
        return True

    def entries(self) -> list[Entry]:
        return folder_entries(self.folder, SUFFIX)

    def trim(self, keep: Path | None = None) -> list[Path]:
        """Remove least recently used entries until the folder holds at most ``max_bytes``."""
        return trim_folder(self.folder, SUFFIX, self.max_bytes, keep)

    def clear(self) -> int:
        """Remove every entry (and the counters); returns how many entries there were."""
        entries = self.entries()
        for entry in entries:
            entry.path.unlink(missing_ok=True)
        (self.folder / _STATS).unlink(missing_ok=True)
        with self._lock:
            self.counts = dict.fromkeys(_COUNTERS, 0)
        return len(entries)

    def saved_counts(self) -> dict[str, int]:
        """The counters of every run so far (those of this process included once flushed)."""
        try:
            data = json.loads((self.folder / _STATS).read_text())
            return {k: int(data.get(k, 0)) for k in _COUNTERS}
        except (OSError, ValueError, TypeError, AttributeError):
            return dict.fromkeys(_COUNTERS, 0)

    def flush_counts(self) -> None:
        """Add this process's counters to the folder's (best effort: a race may lose a few)."""
        with self._lock:
            counts, self.counts = self.counts, dict.fromkeys(_COUNTERS, 0)
        if not any(counts.values()):
            return
        total = self.saved_counts()
        try:
            write_bytes_atomic(self.folder / _STATS, json.dumps({k: total[k] + counts[k] for k in _COUNTERS}).encode(),
                               mode=0o600)
        except (OSError, DreamjaxError):  # the folder went away: the counts go with it
            pass

    def _count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    def _reject(self, path: Path) -> None:  # an unusable entry goes; the caller compiles anew
        self._count("rejected")
        self._count("misses")
        path.unlink(missing_ok=True)
        return None


def folder_entries(folder: Path, suffix: str) -> list[Entry]:
    """The files of ``folder`` whose names end in ``suffix``."""
    found = []
    try:
        scan = list(os.scandir(folder))
    except OSError:
        return found
    for item in scan:
        if item.name.endswith(suffix) and item.is_file(follow_symlinks=False):
            try:
                st = item.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # removed by another process meanwhile
            found.append(Entry(Path(item.path), st.st_size, st.st_mtime))
    return found


def trim_folder(folder: Path, suffix: str, max_bytes: int, keep: Path | None = None) -> list[Path]:
    """Remove the least recently used ``*suffix`` files until they total at most ``max_bytes``.

    ``keep`` (the entry just written) goes last.
    """
    entries = sorted(folder_entries(folder, suffix), key=lambda e: (e.path == keep, e.last_used))
    total, removed = sum(e.bytes for e in entries), []
    for entry in entries:
        if total <= max_bytes:
            break
        entry.path.unlink(missing_ok=True)
        total -= entry.bytes
        removed.append(entry.path)
    return removed


def _versions() -> dict[str, str]:
    import jax

    from .program_key import jaxlib_version

    return {"jax": jax.__version__, "jaxlib": jaxlib_version()}


def write_entry(path: Path, header: dict, payload: bytes, max_bytes: int | None = None) -> bool:
    """Write an entry atomically, private to this user; False (nothing written) if over ``max_bytes``."""
    header = header | {"payload_bytes": len(payload), "payload_sha256": hashlib.sha256(payload).hexdigest()}
    head = json.dumps(header, sort_keys=True).encode()
    data = MAGIC + struct.pack("<I", len(head)) + head + payload
    if max_bytes is not None and len(data) > max_bytes:
        return False
    write_bytes_atomic(path, data, mode=0o600)
    return True


def read_entry(path: Path) -> tuple[dict, bytes]:
    """Header and payload of the entry at ``path``, with its checksum checked; raises BadEntry."""
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        if (hasattr(os, "geteuid") and st.st_uid != os.geteuid()) or st.st_mode & 0o022:
            raise BadEntry("entry is not private to this user")
        header = _header(f)
        payload = f.read()
    if len(payload) != header.get("payload_bytes") or hashlib.sha256(payload).hexdigest() != header.get("payload_sha256"):
        raise BadEntry("entry is truncated or corrupt")
    return header, payload


def _read_entry(path: Path, key: str) -> tuple[dict, bytes]:
    """:func:`read_entry`, refusing entries of other versions or other programs."""
    header, payload = read_entry(path)
    if header.get("format") != FORMAT or any(header.get(k) != v for k, v in _versions().items()):
        raise BadEntry("entry from another version")
    if header.get("key") != key:
        raise BadEntry("entry for another program")
    return header, payload


# --- the engine's entry point -------------------------------------------------------------

_CACHES: dict[Path, ProgramCache] = {}
_CACHES_LOCK = threading.Lock()  # programs build in several threads; each folder gets one ProgramCache


def default_cache() -> ProgramCache | None:
    """The program cache of this process (None when caching is off or its folder was refused)."""
    root = cache.cache_root()
    if root is None:
        return None
    folder = root / "programs"
    with _CACHES_LOCK:
        found = _CACHES.get(folder)
        if found is None:
            if cache.private_folder(folder) is None:
                return None
            found = _CACHES[folder] = ProgramCache(folder)
            atexit.register(found.flush_counts)
    return found


def flush_counters() -> None:
    """Write every open program cache's counters now (they are also written at exit)."""
    for found in list(_CACHES.values()):
        found.flush_counts()


# An option set to XLA's default: the same program, under another key of JAX's caches (in memory
# and on disk), so that compiling with it really compiles.
_FRESH = {"xla_cpu_enable_fast_math": False}


def load_or_compile(model: Any, jitted: Any, args: tuple, **static: Any) -> tuple[jax.stages.Compiled, bool]:
    """``jitted`` compiled for ``args`` (and the static arguments): from the cache, or compiled.

    Returns the program and whether it came from the cache (nothing traced). A compiled
    program is stored for the next run. One that JAX's persistent cache served cannot be: an
    XLA:CPU executable loaded from there and serialised again loses some of its kernels
    ("Function ... not found" when run), so a fresh compile of it is stored instead, once.
    """
    from .compiler import compiler_options
    from .program_key import program_key

    store = default_cache()
    if store is None:
        return jitted.lower(*args, **static).compile(compiler_options(model=model)), False
    key = program_key(model, jitted, args, static)
    program = store.load(key, args)
    if program is not None:
        return program, True
    served = cache.persistent_cache_hits(this_thread=True)
    lowered = jitted.lower(*args, **static)
    program = fresh = lowered.compile(compiler_options(model=model))
    if cache.persistent_cache_hits(this_thread=True) != served:
        try:
            fresh = lowered.compile(compiler_options(model=model) | _FRESH)
        except Exception:  # noqa: BLE001 - an XLA without the option: JAX's cache keeps serving it
            fresh = None
    if fresh is not None:
        store.store(key, fresh, summary=describe_program(model, jitted, args, static))
    # JAX bounds its own cache only with the filelock package installed; keep it bounded here.
    trim_folder(store.folder.parent / "xla", "-cache", store.max_bytes)
    return program, False


def describe_program(model: Any, jitted: Any, args: tuple, static: dict[str, Any]) -> str:
    """A line for ``dreamjax cache info``: model, function, batch and canvas."""
    from .program_key import function_name

    images = [x.shape for x in args[1:] if len(getattr(x, "shape", ())) == 4][:1]
    canvas = [getattr(v, "shape", None) for v in static.values() if isinstance(getattr(v, "shape", None), tuple)]
    where = f"{images[0][0]} x {images[0][2]}x{images[0][1]}" if images else "?"
    to = f" -> {canvas[0][1]}x{canvas[0][0]}" if canvas else ""
    return f"{getattr(model, 'name', '?')} {function_name(jitted).rpartition('.')[2]}: {where}{to}"


def read_header(path: Path) -> dict:
    """Only the header of an entry (for listings; not checked against its payload)."""
    with open(path, "rb") as f:
        return _header(f)


def _header(f) -> dict:
    start = f.read(len(MAGIC) + 4)
    if not start.startswith(MAGIC) or len(start) < len(MAGIC) + 4:
        raise BadEntry("not a dreamjax program")
    (head_len,) = struct.unpack_from("<I", start, len(MAGIC))
    try:
        header = json.loads(f.read(head_len))
    except ValueError:
        raise BadEntry("entry header is corrupt") from None
    if not isinstance(header, dict):
        raise BadEntry("entry header is corrupt")
    return header
