"""Several processes (hosts) through ``jax.distributed.initialize``; no cluster code of our own.

Settings come from CLI flags, else from the environment variables ``JAX_COORDINATOR_ADDRESS``,
``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID``; under Slurm or Open MPI, JAX finds them itself
(``--distributed`` with no values). Dreaming needs no traffic between processes: each takes
its share of the files (:func:`dreamjax.apps.folders.share`) and runs it on its own local devices.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import DreamjaxError


@dataclass(frozen=True)
class Settings:
    coordinator: str | None
    num_processes: int | None
    process_id: int | None


def settings(coordinator: str | None = None, num_processes: int | None = None, process_id: int | None = None,
             *, auto: bool = False, env: Mapping[str, str] = os.environ) -> Settings | None:
    """The distributed settings to use, or None for a single process.

    Flags win over the environment. Without ``auto`` (cluster detection by JAX), all three
    must be known; all missing or bad values are reported together.
    """
    problems = []

    def number(value, name: str) -> int | None:
        if value is None:
            value = env.get(name)
        if value is None or value == "":
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            problems.append(f"{name}={value!r} is not a whole number")
            return None

    coordinator = coordinator or env.get("JAX_COORDINATOR_ADDRESS") or None
    count = number(num_processes, "JAX_NUM_PROCESSES")
    index = number(process_id, "JAX_PROCESS_ID")
    if not auto and coordinator is None and count is None and index is None and not problems:
        return None
    if not auto:
        for value, what in ((coordinator, "coordinator address (--coordinator or JAX_COORDINATOR_ADDRESS)"),
                            (count, "process count (--num-processes or JAX_NUM_PROCESSES)"),
                            (index, "process id (--process-id or JAX_PROCESS_ID)")):
            if value is None:
                problems.append(f"missing {what}")
    if count is not None and count < 1:
        problems.append(f"process count must be at least 1, got {count}")
    if count is not None and index is not None and not 0 <= index < count:
        problems.append(f"process id must be in 0..{count - 1}, got {index}")
    if problems:
        raise DreamjaxError("cannot join the distributed run: " + "; ".join(problems),
                            "give all three of --coordinator HOST:PORT --num-processes N --process-id I")
    return Settings(coordinator, count, index)


def initialize(config: Settings | None) -> tuple[int, int]:
    """Join the run (if any) and return (this process's index, process count)."""
    import jax

    if config is not None:
        jax.distributed.initialize(coordinator_address=config.coordinator, num_processes=config.num_processes,
                                   process_id=config.process_id)
    return jax.process_index(), jax.process_count()
