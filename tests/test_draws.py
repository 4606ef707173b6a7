"""The step's random numbers (dreamjax.ascent.draws): in range, spread evenly, and moved by every
input (seed, octave, step), as jitter needs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from dreamjax.ascent.draws import LANES, integers, run_key, seed_words, step_bits

draws = jax.jit(jax.vmap(step_bits, in_axes=(None, None, 0)))


def test_shifts_stay_in_range_and_cover_it_evenly():
    seed = seed_words(jax.random.key(0))
    bits = draws(seed, jnp.int32(0), jnp.arange(20_000, dtype=jnp.int32))
    assert bits.shape == (20_000, LANES) and bits.dtype == jnp.uint32
    shifts = np.asarray(integers(bits[:, :2], -32, 32))
    assert shifts.min() == -32 and shifts.max() == 32
    counts = np.bincount((shifts + 32).ravel(), minlength=65)
    expected = shifts.size / 65
    # A chi-square test at 64 degrees of freedom: the 0.999 quantile is 104.
    assert np.sum((counts - expected) ** 2 / expected) < 104
    # Rows and columns are not the same draw, and steps do not repeat in a short cycle.
    assert np.mean(shifts[:, 0] == shifts[:, 1]) < 0.05
    assert np.mean(np.all(shifts[1:] == shifts[:-1], axis=1)) < 0.01


def test_every_input_moves_the_bits():
    steps = jnp.arange(64, dtype=jnp.int32)
    base = np.asarray(draws(seed_words(jax.random.key(5)), jnp.int32(1), steps))
    others = [draws(seed_words(jax.random.key(6)), jnp.int32(1), steps),  # another seed
              draws(seed_words(run_key(5 + 2**40)), jnp.int32(1), steps),  # the seed's high word
              draws(seed_words(jax.random.key(5)), jnp.int32(2), steps),  # another octave
              draws(seed_words(jax.random.key(5)), jnp.int32(1), steps + 64)]  # later steps
    for other in others:
        assert np.mean(np.asarray(other) == base) < 0.01
    np.testing.assert_array_equal(base, draws(seed_words(jax.random.key(5)), jnp.int32(1), steps))


def test_no_jitter_and_a_fixed_grid_draw_zero():
    bits = draws(seed_words(jax.random.key(1)), jnp.int32(0), jnp.arange(100, dtype=jnp.int32))
    assert not np.any(integers(bits, 0, 0))


def test_run_keys_keep_all_64_bits_of_the_seed():
    key = run_key(2**40 + 7)
    words = seed_words(key)
    assert words.dtype == jnp.uint32 and words.shape == (2,)
    np.testing.assert_array_equal(words, seed_words(jax.random.key_data(key)))
    assert not np.array_equal(words, seed_words(run_key(7)))
    assert not np.array_equal(seed_words(run_key(-1)), seed_words(run_key(2**32 - 1)))
    # Seeds of 32 bits keep the key jax.random.key gives them.
    np.testing.assert_array_equal(seed_words(run_key(12345)), seed_words(jax.random.key(12345)))
