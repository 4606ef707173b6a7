"""Atomic file writes: a reader never sees a half-written file, and a crash leaves none behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import DreamjaxError


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


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed over ``path``.

    The temporary file keeps ``path``'s suffix so format-by-extension writers work. On any
    error (or KeyboardInterrupt) the temporary file is removed and ``path`` is untouched.
    """
    path = check_writable_dir(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".part{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
