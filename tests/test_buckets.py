"""Shape buckets: the ladder, padding into a canvas, the picture's region, host-side resizing,
and how far bucketed dreams (single, zoom, folders, tiles) are from exact ones."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dreamjax import dream
from dreamjax.ascent.buckets import Canvas, grid_offset, ladder, mirror_index, rung
from dreamjax.ascent.objectives import layer_objective
from dreamjax.ascent.region import Region, roll
from dreamjax.ascent.resample import resize


@pytest.mark.parametrize("granularity", [4, 32])
def test_ladder_rungs_are_stride_multiples_at_most_an_eighth_apart(granularity):
    rungs = ladder(granularity, 64 * granularity)
    assert rungs[:16] == tuple(granularity * k for k in range(1, 17))
    assert all(r % granularity == 0 for r in rungs)
    assert all(b / a <= 1.125 + 1e-9 for a, b in zip(rungs, rungs[1:]) if a >= 8 * granularity)
    for n in range(1, 64 * granularity, 7):
        assert n <= rung(n, granularity) == rung(rung(n, granularity), granularity)
        assert rung(n, granularity) in rungs


def test_efficientnet_ladder_as_documented():
    assert ladder(32, 1200) == (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448, 480, 512,
                                576, 640, 704, 768, 832, 896, 960, 1024, 1152, 1280)


def test_pad_mirrors_the_picture_and_crop_gives_it_back(rng):
    pictures = rng.uniform(size=(2, 5, 7, 3)).astype(np.float32)
    canvas = Canvas((9, 16), (5, 7))
    padded = canvas.pad(pictures)
    assert padded.shape == (2, 9, 16, 3)
    np.testing.assert_array_equal(canvas.crop(padded), pictures)
    np.testing.assert_array_equal(padded[:, :, :14], np.pad(pictures, ((0, 0), (0, 4), (0, 7), (0, 0)), mode="symmetric"))
    # Wider than the picture: the mirror repeats with period twice the picture.
    np.testing.assert_array_equal(mirror_index(12, 0, 3), [0, 1, 2, 2, 1, 0, 0, 1, 2, 2, 1, 0])
    assert Canvas.bucket((300, 451), 32).shape == (320, 480) and Canvas.exact((300, 451)).padded_fraction == 0
    shifted = Canvas((9, 16), (5, 7), (2, 3))
    np.testing.assert_array_equal(shifted.crop(shifted.pad(pictures)), pictures)
    np.testing.assert_array_equal(shifted.pad(pictures)[:, :7, :10], np.pad(pictures, ((0, 0), (2, 0), (3, 0), (0, 0)), mode="symmetric"))


def _same_chain(x, layers):
    """``layers`` stride-2 "SAME" convolutions (3x3 and 5x5 in turn), as the zoo's networks stride."""
    for i in range(layers):
        k = 3 + 2 * (i % 2)
        w = jnp.arange(k * k, dtype=jnp.float32).reshape(k, k, 1, 1) / (k * k)
        x = jax.lax.conv_general_dilated(x, w, (2, 2), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return x


@pytest.mark.parametrize("layers", [1, 3, 5])
def test_grid_offset_keeps_same_padding_layers_on_the_pictures_grid(rng, layers):
    stride = 2**layers
    for length in range(300, 300 + stride + 1):
        x = rng.uniform(size=(1, length, 1, 1)).astype(np.float32)
        for offset, aligned in [(grid_offset(length, stride), True), (0, length % stride == 0)]:
            canvas = Canvas((rung(length + offset, stride) + stride, 1), (length, 1), (offset, 0))
            exact = np.asarray(_same_chain(jnp.asarray(x), layers))[0, :, 0, 0]
            padded = np.asarray(_same_chain(jnp.asarray(canvas.pad(x)), layers))[0, :, 0, 0]
            middle = slice(len(exact) // 2 - 1, len(exact) // 2 + 2)  # away from both borders
            start = offset // stride
            same = np.allclose(exact[middle], padded[start + middle.start : start + middle.stop], rtol=1e-5)
            assert same == aligned, (length, offset)
        assert (length + grid_offset(length, stride)) % stride == 0  # so the offset never needs a bigger rung


@pytest.mark.parametrize("source, size", [((300, 451), (109, 164)), ((109, 164), (153, 230)), ((40, 48), (27, 32)),
                                          ((37, 5), (37, 9)), ((8, 8), (64, 3))])
def test_host_resize_matches_jax_image_resize(rng, source, size):
    x = rng.uniform(size=(2, *source, 3)).astype(np.float32)
    ours = resize(x, size)
    theirs = jax.image.resize(jnp.asarray(x), (2, *size, 3), method="linear", antialias=True)
    np.testing.assert_allclose(ours, theirs, atol=2e-5)  # XLA's einsum rounds a little differently


def _region(canvas, picture, offset=(0, 0)):
    return Region(jnp.asarray([*offset, *picture], jnp.int32), canvas)


def test_roll_on_an_exact_canvas_is_jnp_roll(rng):
    x = jnp.asarray(rng.uniform(size=(2, 9, 11, 3)), jnp.float32)
    for shift in [(0, 0), (3, -4), (-20, 25)]:
        rolled = roll(x, _region((9, 11), (9, 11)), jnp.asarray(shift))
        np.testing.assert_array_equal(rolled, jnp.roll(x, shift, axis=(1, 2)))


def test_roll_on_a_canvas_shifts_the_picture_and_mirrors_it_into_the_pad(rng):
    picture = rng.uniform(size=(1, 6, 7, 3)).astype(np.float32)
    canvas = Canvas((10, 12), (6, 7))
    region = _region(canvas.shape, canvas.size)
    rolled = np.asarray(roll(jnp.asarray(canvas.pad(picture)), region, jnp.asarray([2, -3])))
    expected = np.roll(picture, (2, -3), axis=(1, 2))
    np.testing.assert_array_equal(canvas.crop(rolled), expected)
    np.testing.assert_array_equal(rolled, canvas.pad(expected))
    back = roll(jnp.asarray(rolled), region, jnp.asarray([-2, 3]))
    np.testing.assert_array_equal(back, canvas.pad(picture))


def test_region_cells_mask_and_mean():
    region = _region((64, 96), (40, 70), (8, 0))
    # A stride-8 layer over the canvas: 8 x 12 cells; the picture covers rows 1..5, columns 0..8.
    assert [int(v) for v in region.cells((8, 12))] == [1, 5, 0, 9]
    mask = np.asarray(region.mask((8, 12)))[0, :, :, 0]
    assert mask.sum() == 5 * 9 and mask[1:6, :9].all()
    values = jnp.ones((2, 8, 12, 4)).at[:, 0].set(100.0)  # the pad row must not count
    np.testing.assert_allclose(region.mean(values), [1.0, 1.0])
    per_image = Region(jnp.asarray([[0, 0, 8, 12], [0, 0, 4, 6]], jnp.int32), (8, 12))
    assert np.asarray(per_image.mask()).sum(axis=(1, 2, 3)).tolist() == [96, 24]


# --- bucketed dreams against exact ones --------------------------------------------------

def test_a_bucketed_step_equals_the_exact_step_away_from_the_border(tiny, rng):
    """One step, no jitter: the padded canvas changes the step's direction only within the
    network's reach of the border (the tiny model reaches about 20 pixels); its length differs
    a little, because the step is normalised over the whole picture, border included."""
    pictures = rng.uniform(0.2, 0.8, size=(2, 101, 115, 3)).astype(np.float32)
    settings = dict(octaves=1, steps=1, jitter=0)
    exact = dream(tiny, pictures, "conv2", exact_shapes=True, **settings) - pictures
    bucketed = dream(tiny, pictures, "conv2", **settings) - pictures
    inner = (slice(None), slice(24, -24), slice(24, -24))
    for a, b in zip(bucketed[inner], exact[inner]):
        scale = float(np.vdot(a, b) / np.vdot(b, b))
        assert abs(scale - 1) < 0.1 and np.abs(a - scale * b).max() < 1e-4 * np.abs(b).max()
    assert np.abs(bucketed - exact).max() > 1e-3 * np.abs(exact).max()  # the border differs: mirror, not zeros


def test_a_bucketed_dream_stays_within_tolerance_of_the_exact_dream(tiny, rng):
    """The stated tolerance (docs/programs.md): over a whole dream the ascent spreads the
    border's difference, but the dream reaches the same objective, and the pictures are much
    closer than two exact dreams with different seeds."""
    pictures = rng.uniform(0.2, 0.8, size=(1, 101, 115, 3)).astype(np.float32)
    settings = dict(octaves=3, steps=6, jitter=6, octave_scale=1.4)
    exact = dream(tiny, pictures, "conv2", exact_shapes=True, **settings)
    other_seed = dream(tiny, pictures, "conv2", exact_shapes=True, seed=1, **settings)
    bucketed = dream(tiny, pictures, "conv2", **settings)
    energy = lambda x: float(layer_objective(tiny, "conv2")(tiny.apply(tiny.params, jnp.asarray(x), ("conv2",)))[0])  # noqa: E731
    assert abs(energy(bucketed) - energy(exact)) < 0.05 * (energy(exact) - energy(pictures))
    assert np.abs(bucketed - exact).mean() < 0.5 * np.abs(other_seed - exact).mean()
    assert psnr(bucketed, exact) > 30.0


def psnr(a, b):
    return float(10 * np.log10(1.0 / np.mean((a - b) ** 2)))


def test_a_folder_of_six_photo_sizes_compiles_at_most_eighteen_programs():
    """The first-picture benchmark's folder (six sizes, 4 octaves each: 24 octave sizes) on
    EfficientNet-Lite0's ladder: 18 distinct canvases, so 18 programs, 10% of the pixels padding."""
    from dreamjax.ascent.objectives import layer_objective as objective_for
    from dreamjax.ascent.regularisers import Regularisers
    from dreamjax.ascent.schedule import octave_shapes, plan_octaves
    from dreamjax.ascent.tiling import TileConfig
    from dreamjax.backends import load_model

    model = load_model("efficientnet_lite0")
    objective = objective_for(model, "blocks.8")
    plans, real, stepped = set(), 0, 0
    for h, w in [(300, 451), (300, 400), (384, 512), (256, 384), (320, 480), (240, 320)]:
        shapes = octave_shapes(h, w, 4, 1.4, model.input_spec.min_size)
        for exact in (False, True):
            octaves = plan_octaves(model, objective, shapes, 1, 1, tiles=TileConfig(), regularisers=Regularisers(),
                                   exact_shapes=exact)
            if not exact:
                plans |= {o.plan for o in octaves}
                real += sum(a * b for a, b in shapes)
                stepped += sum(a * b for a, b in (o.canvas.shape for o in octaves))
            else:
                assert len({o.plan for o in octaves}) == 4
    assert len(plans) == 18 and 0.05 < 1 - real / stepped < 0.12


def test_programs_compiled_for_a_folder_match_its_distinct_canvases(tiny, rng):
    from dreamjax.ascent.engine import DreamConfig, Dreamer

    dreamer = Dreamer(tiny)
    objective = layer_objective(tiny, "conv1")
    config = DreamConfig(octaves=2, steps=1, jitter=2)
    sizes = [(60, 75), (58, 73), (63, 80), (45, 60), (61, 77), (40, 52)]
    canvases, compiled = set(), 0
    for h, w in sizes:
        _, stats = dreamer.run(rng.uniform(size=(1, h, w, 3)).astype(np.float32), objective, config)
        canvases |= set(stats.canvases)
        compiled += stats.programs_compiled
    assert compiled == len(canvases) < 2 * len(sizes)


def _within_tolerance(bucketed, exact, other_seed):
    """The stated tolerance for whole dreams (docs/programs.md)."""
    assert np.abs(bucketed - exact).mean() < 0.5 * np.abs(other_seed - exact).mean()
    assert psnr(bucketed, exact) > 30.0


def _smooth_picture(h, w):
    y, x = np.mgrid[0:h, 0:w] / 40.0
    return np.stack([0.5 + 0.3 * np.sin(6 * x), 0.5 + 0.3 * np.cos(5 * y), 0.5 + 0.2 * np.sin(4 * (x + y))], -1).astype(np.float32)


def test_zoom_frames_on_buckets_stay_within_tolerance_of_exact_frames(tiny, tmp_path):
    from dreamjax.apps.zoom import Motion, load_frame, zoom
    from dreamjax.ascent.engine import DreamConfig

    config = DreamConfig(octaves=2, steps=3, octave_scale=1.5, jitter=4, seed=7)
    objective = layer_objective(tiny, "conv1")
    start = _smooth_picture(62, 75)
    runs = {}
    for name, cfg in [("bucketed", config), ("exact", dataclasses.replace(config, exact_shapes=True)),
                      ("seed", dataclasses.replace(config, exact_shapes=True, seed=8))]:
        zoom(tiny, start, tmp_path / name, 3, objective=objective, config=cfg, motion=Motion(1.05, 1.0))
        runs[name] = np.stack([load_frame(tmp_path / name, i) for i in range(3)]).astype(np.float32) / 255.0
    _within_tolerance(runs["bucketed"], runs["exact"], runs["seed"])


def test_folder_and_tiled_dreams_on_buckets_stay_within_tolerance_of_exact_ones(tiny, tmp_path, rng):
    from dreamjax.apps import folders
    from dreamjax.ascent.engine import DreamConfig, Dreamer
    from dreamjax.ascent.tiling import TileConfig
    from dreamjax.files.image import load_image, save_image

    source = tmp_path / "in"
    source.mkdir()
    for i, (h, w) in enumerate([(70, 90), (66, 83), (90, 70)]):
        save_image(source / f"p{i}.png", _smooth_picture(h, w)[::-1] if i else _smooth_picture(h, w))
    objective = layer_objective(tiny, "conv1")
    base = DreamConfig(octaves=2, steps=3, jitter=4, tiles=TileConfig(size=64, halo=16))  # the big octaves tile
    dreamer = Dreamer(tiny)
    results = {}
    for name, cfg in [("bucketed", base), ("exact", dataclasses.replace(base, exact_shapes=True)),
                      ("seed", dataclasses.replace(base, exact_shapes=True, seed=5))]:
        work = folders.plan(folders.find_images(str(source)), tmp_path / name, min_size=8)
        folders.dream_files(work, lambda pictures, cfg=cfg: dreamer.run(pictures, objective, cfg), batch_size=2)
        results[name] = [load_image(tmp_path / name / f"p{i}.png") for i in range(3)]
    for b, e, s in zip(results["bucketed"], results["exact"], results["seed"]):
        _within_tolerance(b, e, s)
