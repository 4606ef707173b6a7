"""Where compiled programs are kept between runs, and whether a folder is safe to keep them in.

One folder, ``~/.cache/dreamjax`` (``$XDG_CACHE_HOME/dreamjax``), holds:

* ``programs/``: dreamjax's program cache (:mod:`dreamjax.runtime.programs`), loaded without
  tracing anything;
* ``xla/``: JAX's persistent compilation cache, the fallback for programs the first cannot hold.

``DREAMJAX_CACHE_DIR`` moves the folder; an empty value (or ``--no-cache``, or
:func:`disable_compilation_cache`) turns both off. ``DREAMJAX_CACHE_MAX_SIZE`` bounds each of the
two (default 2 GiB; ``500M``, ``4G`` or a number of bytes).

A compiled program is machine code, so a cache folder that another user can write to could be
used to run code as you: such a folder is refused (with one line that says why) and the run
goes on without it. New folders are made private (``0700``).
"""

from __future__ import annotations

import os
import re
import threading
import warnings
from pathlib import Path

from ..errors import DreamjaxError

ENV_DIR = "DREAMJAX_CACHE_DIR"
ENV_MAX_SIZE = "DREAMJAX_CACHE_MAX_SIZE"
DEFAULT_MAX_BYTES = 2 << 30
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}

_state: dict = {"configured": False, "root": None, "listening": False, "warned": set()}
_counts = {"hits": 0}
_thread = threading.local()  # hits seen by the compiling thread itself (programs build in threads)
_HIT = "/jax/compilation_cache/cache_hits"


class UnsafeCacheError(DreamjaxError):
    """A cache folder that other users can write to, or that belongs to someone else."""


class CacheWarning(UserWarning):
    """A cache that is not used, and why; the run goes on without it."""


def default_cache_root() -> Path | None:
    """The cache folder from the environment (None: caching turned off)."""
    env = os.environ.get(ENV_DIR)
    if env is not None:
        return Path(env) if env else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dreamjax"


def max_cache_bytes() -> int:
    """The size bound of each cache, from ``DREAMJAX_CACHE_MAX_SIZE`` (default 2 GiB)."""
    text = os.environ.get(ENV_MAX_SIZE, "").strip()
    return parse_size(text, ENV_MAX_SIZE) if text else DEFAULT_MAX_BYTES


def parse_size(text: str, what: str = "size") -> int:
    """``"2G"``, ``"500M"``, ``"1.5GiB"``, ``"123456"`` as bytes (binary units)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*", text)
    if not match:
        raise DreamjaxError(f"{what} {text!r} is not a size", "write it as bytes or with a unit: 500M, 2G")
    return int(float(match[1]) * _UNITS[match[2].lower()])


def check_private_folder(folder: Path) -> None:
    """Raise :class:`UnsafeCacheError` unless ``folder`` is ours and only we can write to it."""
    st = folder.stat()
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        raise UnsafeCacheError(f"cache folder {folder} belongs to another user (uid {st.st_uid}), so it is not used",
                               "point DREAMJAX_CACHE_DIR at a folder of your own")
    if st.st_mode & 0o022:
        who = "other users" if st.st_mode & 0o002 else "its group"
        raise UnsafeCacheError(f"cache folder {folder} can be written by {who}, so its programs could be replaced; "
                               f"it is not used", f"chmod go-w {folder}")


def private_folder(folder: Path) -> Path | None:
    """``folder``, made (``0700``) if missing and checked; None (with a warning) if it cannot be used."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        check_private_folder(folder)
    except UnsafeCacheError as exc:
        if str(folder) not in _state["warned"]:
            _state["warned"].add(str(folder))
            warnings.warn(CacheWarning(str(exc)), stacklevel=2)
        return None
    except OSError:
        return None  # a read-only home must not stop a dream; it only runs cold
    return folder


def ensure_compilation_cache(path: str | os.PathLike | None = None) -> Path | None:
    """Turn the caches on once per process (a no-op if already configured); returns the folder."""
    if _state["configured"]:
        return _state["root"]
    _state["configured"] = True
    root = Path(path) if path is not None else default_cache_root()
    if root is None or private_folder(root) is None:
        return None
    xla = private_folder(root / "xla")
    if xla is None:
        return None
    import jax  # the fallback cache only; the program cache itself needs no configuration

    jax.config.update("jax_compilation_cache_dir", str(xla))
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
    _state["root"] = root
    return root


def cache_root() -> Path | None:
    """The folder the caches use in this process (None: off, or not configured yet)."""
    return _state["root"]


def disable_compilation_cache() -> None:
    _state["configured"], _state["root"] = True, None
    import jax

    jax.config.update("jax_compilation_cache_dir", None)


def use_compilation_cache(enabled: bool) -> None:
    """What the CLI's ``--no-cache`` switches: the caches on (default) or off."""
    if enabled:
        ensure_compilation_cache()
    else:
        disable_compilation_cache()


def _on_event(event: str, **kwargs) -> None:
    if event == _HIT:
        _counts["hits"] += 1
        _thread.hits = getattr(_thread, "hits", 0) + 1


def persistent_cache_hits(this_thread: bool = False) -> int:
    """How many programs this process (or only this thread) has loaded from JAX's on-disk cache."""
    if not _state["listening"]:
        import jax

        jax.monitoring.register_event_listener(_on_event)
        _state["listening"] = True
    return getattr(_thread, "hits", 0) if this_thread else _counts["hits"]
