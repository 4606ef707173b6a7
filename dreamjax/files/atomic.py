"""Atomic file writes: a reader never sees a half-written file, and a crash leaves none behind.

A write goes to a hidden temporary file beside the target, named after the target, this host
and this process (``.out.png.myhost-1234.k2j3h4.part.png``), and is renamed over the target
once complete. Several runs writing into one folder, even to the same name, never see each
other's partial files; the last complete write wins. A process killed outright (SIGKILL, power
loss) can leave its temporary file; :func:`clean_stale_parts` removes those whose process is
gone, and every run calls it for its output folder before writing.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import DreamjaxError

_PART = re.compile(r"^\..+\.(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)\.[A-Za-z0-9_]+\.part(\.[^.]*)?$")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname()) or "host"


def check_writable_dir(path: str | os.PathLike) -> Path:
    """Raise a clear error unless ``path``'s folder exists and can be written to."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise DreamjaxError(f"output {str(path)!r} is a folder", "give a file name")
    if not folder.is_dir():
        raise DreamjaxError(f"cannot write {str(path)!r}: folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DreamjaxError(f"cannot write {str(path)!r}: folder {str(folder)!r} is not writable")
    return path


def _umask() -> int:
    """The process umask, read without changing it (os.umask would race with other threads)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed over ``path``.

    The temporary file keeps ``path``'s suffix so format-by-extension writers work. On any
    error (or KeyboardInterrupt) the temporary file is removed and ``path`` is untouched.
    ``mode`` sets the file's permissions (default: what the umask gives a new file).
    """
    path = check_writable_dir(path)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.{_host()}-{os.getpid()}.", suffix=f".part{path.suffix}", dir=path.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask() if mode is None else mode)  # mkstemp makes 0600
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable; best effort (not every OS or filesystem allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def clean_stale_parts(folder: str | os.PathLike) -> list[Path]:
    """Remove temporary files in ``folder`` left by dead dreamjax processes on this host.

    Only names made by :func:`atomic_path` are touched, and only when their process is gone;
    files of live runs (and of other hosts sharing the folder) are left alone.
    """
    folder = Path(folder) if str(folder) else Path(".")
    host, removed = _host(), []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _PART.match(entry.name)
        if not match or match["host"] != host or not entry.is_file(follow_symlinks=False):
            continue
        pid = int(match["pid"])
        if pid == os.getpid() or _alive(pid):
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed


def write_bytes_atomic(path: str | os.PathLike, data: bytes, mode: int | None = None) -> None:
    with atomic_path(path, mode) as tmp:
        tmp.write_bytes(data)
