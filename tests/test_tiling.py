import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dreamjax import DreamjaxError, dream
from dreamjax.ascent.engine import DreamConfig, Dreamer
from dreamjax.ascent.objectives import layer_objective
from dreamjax.ascent.region import Region
from dreamjax.ascent.tiling import TileConfig, TileShape, axis_layout, model_stride, plan_tiles, tiled_gradient

# The tiny model's gradient at a pixel depends on pixels at most ~20 away, so a halo of 24
# makes tiled gradients exact away from nothing but float rounding.
EXACT = TileConfig(size=64, halo=24, batch=3)


@pytest.mark.parametrize("length", [49, 64, 97, 130, 500, 1031])
@pytest.mark.parametrize("tile,halo,align", [(48, 8, 4), (64, 16, 8), (512, 32, 32)])
def test_axis_layout_cores_partition_the_axis_with_halo_context(length, tile, halo, align):
    if length <= tile:
        assert axis_layout(length, tile, halo, align) == ([0], [(0, length)])
        return
    starts, cores = axis_layout(length, tile, halo, align)
    assert cores[0][0] == 0 and cores[-1][1] == length
    assert all(a[1] == b[0] for a, b in zip(cores, cores[1:]))  # no gap, no overlap
    assert all(0 <= s <= length - tile for s in starts) and starts[-1] == length - tile
    assert all(s % align == 0 for s in starts[:-1])
    for i, (s, (a, b)) in enumerate(zip(starts, cores)):
        assert s <= a < b <= s + tile
        assert i == 0 or a - s >= halo  # context before the core, unless at the border
        assert i == len(starts) - 1 or s + tile - b >= halo


def test_plan_runs_whole_below_the_size_and_pads_the_last_chunk():
    assert plan_tiles((64, 60), 2, EXACT, 4) is None
    assert plan_tiles((500, 500), 1, TileConfig(size=0), 4) is None
    plan = plan_tiles((96, 112), 2, EXACT, 4)
    rows, cols = len(axis_layout(96, 64, 24, 4)[0]), len(axis_layout(112, 64, 24, 4)[0])
    assert plan.tile == (64, 64) and plan.batch == 3 and rows > 1 and cols > 1
    assert len(plan.starts) % plan.batch == 0 and plan.real_tiles == 2 * rows * cols
    assert plan.shift == (16, 16)  # used only when the dream jitters
    assert set(plan.regions) == {(0, 0, 64, 64)}  # every tile shows the picture only
    # one side short: tiles take that side whole
    assert plan_tiles((40, 200), 1, EXACT, 4).tile == (40, 64)


def test_too_small_tiles_are_refused():
    with pytest.raises(DreamjaxError, match="too small"):
        plan_tiles((300, 300), 1, TileConfig(size=40, halo=16), 32)


def test_model_stride(tiny):
    assert model_stride(tiny) == 4


def _tiled_gradient(score, x, plan):
    """The tiled gradient of a fixed grid (no random offset) over all of ``x``."""
    region = Region(jnp.asarray([0, 0, *x.shape[1:3]], jnp.int32), x.shape[1:3])
    layout = dataclasses.replace(plan.layout(plan.chunks), shift=np.zeros(2, np.int32))
    shape = TileShape(plan.tile, plan.batch, plan.chunks)
    return tiled_gradient(score, x, shape, layout, jnp.zeros(2, jnp.uint32), region)


def test_tiled_gradient_equals_whole_image_gradient(tiny, rng):
    x = jnp.asarray(rng.uniform(size=(2, 96, 112, 3)), jnp.float32)
    objective = layer_objective(tiny, ["conv2"])

    def score(images, region=None):
        return jnp.sum(objective(tiny.apply(tiny.params, images, objective.layers), region))

    whole = jax.jit(jax.grad(score))(x)
    plan = plan_tiles((96, 112), 2, EXACT, model_stride(tiny))
    tiled = jax.jit(lambda x: _tiled_gradient(score, x, plan))(x)
    scale = float(jnp.abs(whole).max())
    np.testing.assert_allclose(tiled / scale, whole / scale, atol=1e-5)


def test_tiled_dream_equals_whole_dream(tiny, rng):
    # Octaves (64, 72) and (128, 144): both tiled, every tile corner on the network's stride grid.
    picture = rng.uniform(0.2, 0.8, size=(2, 128, 144, 3)).astype(np.float32)
    settings = dict(octaves=2, octave_scale=2.0, jitter=0, steps=4)
    whole = dream(tiny, picture, "conv2", tiles=TileConfig(size=0), **settings)
    tiled = dream(tiny, picture, "conv2", tiles=EXACT, **settings)
    assert np.abs(whole - picture).mean() > 0.01
    # Each step's gradient agrees to float rounding (test above); over several steps rounding
    # flips a few ReLUs near zero and the runs part locally by about a step; the rest agrees.
    diff = np.abs(tiled - whole)
    assert np.mean(diff < 1e-4) > 0.98 and diff.mean() < 1e-4 and diff.max() < 0.05


def test_tiled_pictures_on_the_same_canvases_share_programs(tiny, rng):
    picture = rng.uniform(0.2, 0.8, size=(1, 150, 170, 3)).astype(np.float32)
    dreamer = Dreamer(tiny)
    objective = layer_objective(tiny, ["conv1"])
    config = DreamConfig(octaves=2, steps=2, octave_scale=1.4, jitter=8, tiles=TileConfig(size=64, halo=16))
    out, first = dreamer.run(picture, objective, config)
    _, second = dreamer.run(picture, objective, config)
    assert all(plan_tiles(s, 1, config.tiles, 4) is not None for s in first.shapes) and len(first.shapes) == 2
    assert first.programs_compiled == 2 and second.programs_compiled == 0
    assert np.all(np.isfinite(out)) and np.abs(out - picture).mean() > 0.01
    # Another picture size on the same canvas: its own tile layout, the same program.
    other = rng.uniform(0.2, 0.8, size=(1, 147, 173, 3)).astype(np.float32)
    _, third = dreamer.run(other, objective, config)
    assert third.canvases == first.canvases and third.programs_compiled == 0
    _, exact = dreamer.run(other, objective, dataclasses.replace(config, exact_shapes=True))
    assert exact.programs_compiled == 2  # exact shapes: one program per octave size


def test_tiles_of_a_batch_share_the_batch_axis(tiny, rng):
    pictures = rng.uniform(0.2, 0.8, size=(3, 96, 96, 3)).astype(np.float32)
    settings = dict(octaves=1, steps=3, jitter=0, tiles=EXACT)
    batch = dream(tiny, pictures, "conv1", **settings)
    for i in range(3):
        np.testing.assert_allclose(batch[i], dream(tiny, pictures[i], "conv1", **settings), atol=2e-5)


@pytest.mark.slow  # compiles EfficientNet-Lite0 for two image programs and a tile program
def test_tiled_dream_with_the_real_model_matches_the_whole_image(cat_image):
    from dreamjax.backends import load_model

    model = load_model("efficientnet_lite0")
    picture = np.asarray(cat_image[:288, :448])  # multiples of the network's stride, 32
    settings = dict(octaves=1, steps=3, jitter=0, step_size=0.01)
    whole = dream(model, picture, "blocks.6", tiles=TileConfig(size=0), **settings)
    tiled = dream(model, picture, "blocks.6", tiles=TileConfig(size=256, halo=32), **settings)
    change = np.abs(whole - picture).mean()
    # The network reaches further than the halo, so seams differ a little; the picture doesn't.
    assert change > 0.01 and np.abs(tiled - whole).mean() < 0.1 * change
