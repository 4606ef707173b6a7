"""JAX's persistent compilation cache, on by default, so a second run starts warm.

Set ``DREAMJAX_CACHE_DIR`` to move it, or to an empty string (or call
``disable_compilation_cache``) to turn it off.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

_state = {"configured": False, "listening": False}
_counts = {"hits": 0}
_HIT = "/jax/compilation_cache/cache_hits"


def _on_event(event: str, **kwargs) -> None:
    if event == _HIT:
        _counts["hits"] += 1


def persistent_cache_hits() -> int:
    """How many programs this process has loaded from the on-disk cache so far."""
    if not _state["listening"]:
        jax.monitoring.register_event_listener(_on_event)
        _state["listening"] = True
    return _counts["hits"]


def default_cache_dir() -> Path | None:
    env = os.environ.get("DREAMJAX_CACHE_DIR")
    if env is not None:
        return Path(env) if env else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dreamjax" / "xla"


def ensure_compilation_cache(path: str | os.PathLike | None = None) -> Path | None:
    """Turn the persistent cache on once per process (a no-op if already configured)."""
    if _state["configured"]:
        return Path(jax.config.jax_compilation_cache_dir) if jax.config.jax_compilation_cache_dir else None
    _state["configured"] = True
    folder = Path(path) if path is not None else default_cache_dir()
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # a read-only home must not stop a dream; it only runs cold
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
    return folder


def disable_compilation_cache() -> None:
    _state["configured"] = True
    jax.config.update("jax_compilation_cache_dir", None)


def use_compilation_cache(enabled: bool) -> None:
    """What the CLI's ``--no-cache`` switches: the persistent cache on (default) or off."""
    if enabled:
        ensure_compilation_cache()
    else:
        disable_compilation_cache()
