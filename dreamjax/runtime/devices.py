"""Data parallel dreaming over the local devices: a 1-D mesh over the batch axis.

Every ascent operation works per image (jitter is one shift for all, normalisation is per
image), so splitting the batch over devices needs no communication: XLA's partitioner runs
each device's share of the batch in the same program. The batch is padded to a multiple of
the device count (with copies of the last image) and the padding is dropped afterwards.

Several hosts: :func:`dreamjax.runtime.distributed.initialize` joins the processes first; each then
dreams its own share of the files on its local devices (see docs/scaling.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ..errors import DreamjaxError

BATCH_AXIS = "batch"


def choose_device_count(batch: int, devices: int | None = None) -> int:
    """How many local devices a batch of ``batch`` images runs on.

    ``devices=None`` picks automatically: all local devices, but never more than there are
    images (padding would only add work). An explicit count is checked and used as given.
    """
    available = jax.local_device_count()
    if devices is None:
        return max(1, min(available, batch))
    if not 1 <= devices <= available:
        raise DreamjaxError(
            f"asked for {devices} devices, this process has {available} ({jax.default_backend()})",
            f"use --devices between 1 and {available}",
        )
    return devices


@dataclass(frozen=True)
class Placement:
    """Where a batch lives: ``count`` devices (None sharding = one device, the default)."""

    count: int
    images: int  # real images, before padding
    sharding: NamedSharding | None

    @property
    def padded(self) -> int:
        return -(-self.images // self.count) * self.count

    def put(self, array: np.ndarray | jax.Array) -> jax.Array:
        """Pad ``array`` (batch first) to the padded batch and spread it over the mesh."""
        array = np.asarray(array) if not isinstance(array, jax.Array) else array
        extra = self.padded - array.shape[0]
        if extra:
            array = np.concatenate([np.asarray(array), np.repeat(np.asarray(array)[-1:], extra, axis=0)])
        if self.sharding is None:
            return jax.numpy.asarray(array)
        return jax.device_put(array, self.sharding)

    def spec(self, shape: tuple[int, ...]) -> jax.ShapeDtypeStruct:
        """A float32 stand-in of ``shape`` placed like this batch (for compiling ahead)."""
        return jax.ShapeDtypeStruct(shape, jax.numpy.float32, sharding=self.sharding)

    def reshard(self, array: jax.Array) -> jax.Array:
        """``array`` with exactly this placement's sharding (a no-op when it already has it)."""
        return array if self.sharding is None else jax.device_put(array, self.sharding)

    def take(self, array: jax.Array) -> np.ndarray:
        """The real images of a result, gathered on the host."""
        return np.asarray(array)[: self.images]


def shard_key(array) -> NamedSharding | None:
    """The part of an argument's placement that selects a compiled program (None: one device)."""
    sharding = getattr(array, "sharding", None)
    return sharding if isinstance(sharding, NamedSharding) else None


def place(batch: int, devices: int | None = None) -> Placement:
    """A placement for ``batch`` images over ``devices`` local devices (None: automatic)."""
    count = choose_device_count(batch, devices)
    if count == 1:
        return Placement(1, batch, None)
    mesh = Mesh(np.asarray(jax.local_devices()[:count]), (BATCH_AXIS,))
    return Placement(count, batch, NamedSharding(mesh, PartitionSpec(BATCH_AXIS)))
