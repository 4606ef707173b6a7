"""Extreme aspect ratios and tiny pictures through the engine: dreamed or refused, never a crash."""

from __future__ import annotations

import numpy as np
import pytest

from dreamjax import DreamjaxError, dream


@pytest.mark.parametrize("shape", [(8, 300), (300, 8)], ids=["wide", "tall"])
def test_one_row_of_network_input_still_dreams(tiny, shape):
    # Sides at the model's minimum (8 for the tiny CNN): octaves below it are clamped, not skipped into 0.
    picture = np.random.default_rng(0).uniform(0.2, 0.8, size=(*shape, 3)).astype(np.float32)
    out = dream(tiny, picture, "conv1", octaves=3, steps=2, jitter=2)
    assert out.shape == picture.shape and np.all(np.isfinite(out)) and np.abs(out - picture).mean() > 1e-3


@pytest.mark.parametrize("shape", [(4, 300), (300, 4), (1, 1)], ids=["wide", "tall", "pixel"])
def test_below_the_minimum_is_refused_with_the_sizes(tiny, shape):
    with pytest.raises(DreamjaxError, match=r"smaller than tiny's minimum of 8 pixels"):
        dream(tiny, np.full((*shape, 3), 0.5, np.float32), "conv1")
