"""The numbers that bound a dream's settings, apart from the engine so the CLI can check options
without importing JAX. Upper limits keep loop counters in int32 and scale**octaves finite; all
are far past use."""

MAX_OCTAVES = 32
MAX_STEPS = 100_000
MAX_OCTAVE_SCALE = 16.0
MAX_JITTER = 65_536
SEED_RANGE = (-(2**63), 2**63 - 1)
DEFAULT_TILE_SIZE = 1024  # octaves with a side over this run in tiles
