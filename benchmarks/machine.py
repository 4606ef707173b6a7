"""What a benchmark number was measured on, and how busy the machine was at the time."""

from __future__ import annotations

import os
import platform
import time
from importlib import metadata

from dreamjax.apps.bench import cpu_name


def versions(*dists: str) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in dists:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def busy_fraction(seconds: float = 0.5) -> float | None:
    """Share of all CPU time spent busy over ``seconds`` (from /proc/stat); None off Linux.

    Call it while this process is idle: whatever it sees is someone else's load.
    """

    def snapshot():
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields), idle

    try:
        total0, idle0 = snapshot()
        time.sleep(seconds)
        total1, idle1 = snapshot()
    except OSError:
        return None
    total = total1 - total0
    return 1.0 - (idle1 - idle0) / total if total else None


def wait_for_quiet(threshold: float, patience: float) -> float | None:
    """Wait (up to ``patience`` seconds) until other processes use under ``threshold`` of the CPUs.

    Returns the last busy share seen. On a shared machine this is how runs get a fair slot.
    """
    deadline = time.monotonic() + patience
    busy = busy_fraction(1.0)
    while busy is not None and busy > threshold and time.monotonic() < deadline:
        busy = busy_fraction(1.0)
    return busy


def load_note() -> str:
    """One line: the 1-minute load average and the busy share of the CPUs just now."""
    busy = busy_fraction()
    load1 = os.getloadavg()[0]
    busy_text = f", other load {busy:.0%} of {os.cpu_count()} CPUs" if busy is not None else ""
    return f"load avg {load1:.2f}{busy_text}"


def describe() -> dict[str, object]:
    import jax

    return {
        "cpu": cpu_name(),
        "cpus": os.cpu_count(),
        "jax_devices": [f"{d.platform}:{d.device_kind}" for d in jax.devices()],
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        # glibc.malloc.hugetlb=1 changes XLA:CPU's per-call page-fault cost (benchmarks/NOTES.md)
        "glibc_tunables": os.environ.get("GLIBC_TUNABLES", ""),
        "versions": versions("jax", "jaxlib", "flax", "numpy", "torch"),
    }
