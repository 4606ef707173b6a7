"""Will a run fit? Its memory is estimated up front, so it is refused with advice, not killed.

The estimate comes from XLA itself: every octave program is compiled before the first step
runs, and ``compiled.memory_analysis()`` states the bytes it needs (arguments, outputs and
temporaries such as the activations kept for the backward pass). The largest octave, plus the
host copies of the batch, is compared with what the device has free: ``memory_stats()`` on
accelerators; on CPU, MemAvailable from /proc/meminfo capped by the cgroup limit (a container
is killed at its cgroup limit long before the host runs out).

``DREAMJAX_MEMORY_CHECK=0`` skips the refusal (the estimate is still made).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import DreamjaxError

ENV_SWITCH = "DREAMJAX_MEMORY_CHECK"


class MemoryLimitError(DreamjaxError):
    """A run whose estimated peak memory is more than the device has available."""

    def __init__(self, message: str, hint: str | None = None, *, needed: int = 0, available: int = 0):
        super().__init__(message, hint)
        self.needed, self.available = needed, available


def program_bytes(compiled: Any) -> int | None:
    """Peak bytes a compiled XLA program needs while it runs, or None if XLA does not say."""
    try:
        stats = compiled.memory_analysis()
    except Exception:  # not every backend implements it; then there is no estimate
        return None
    if stats is None:
        return None
    return int(
        stats.argument_size_in_bytes + stats.output_size_in_bytes - stats.alias_size_in_bytes
        + stats.temp_size_in_bytes + stats.generated_code_size_in_bytes
    )


def _meminfo_available(path: str = "/proc/meminfo") -> int | None:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_available(root: str = "/sys/fs/cgroup") -> int | None:
    """Bytes left under this process's cgroup memory limit (v2, then v1), if there is one."""
    for limit_file, usage_file in (("memory.max", "memory.current"), ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes")):
        try:
            limit = Path(root, limit_file).read_text().strip()
            usage = int(Path(root, usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit == "max" or not limit.isdigit() or int(limit) >= 1 << 60:  # v1 says "no limit" with a huge number
            return None
        return max(0, int(limit) - usage)
    return None


def host_available_bytes() -> int | None:
    """Memory this process can still take on the host, or None where the OS does not say."""
    found = [b for b in (_meminfo_available(), _cgroup_available()) if b is not None]
    if not found:
        try:
            import psutil  # optional; covers macOS and Windows
        except ImportError:
            return None
        return int(psutil.virtual_memory().available)
    return min(found)


def available_bytes(device: Any) -> tuple[int | None, str]:
    """Free memory where ``device``'s arrays live, and a name for it to show the user."""
    if getattr(device, "platform", "cpu") != "cpu":
        try:
            stats = device.memory_stats() or {}
        except Exception:
            stats = {}
        if stats.get("bytes_limit"):
            return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0)), f"{device.device_kind} memory"
    return host_available_bytes(), "host memory"


def gib(n: int) -> str:
    if n >= 2**27:
        return f"{n / 2**30:.2f} GiB"
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.0f} KiB"


def check_fits(needed: int | None, device: Any, what: str) -> None:
    """Raise MemoryLimitError if ``needed`` bytes exceed what ``device`` has available.

    Unknown amounts (no estimate, or an OS that does not report free memory) pass.
    """
    if needed is None or os.environ.get(ENV_SWITCH, "1").strip().lower() in ("0", "false", "no", "off"):
        return
    available, where = available_bytes(device)
    if available is None or needed <= available:
        return
    raise MemoryLimitError(
        f"{what} needs about {gib(needed)} but only {gib(available)} of {where} is available",
        f"dream in smaller tiles (--tile 512), with fewer images at once, or on a smaller image; "
        f"{ENV_SWITCH}=0 runs it anyway",
        needed=needed, available=available,
    )
