import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest

from dreamjax import DreamjaxError, UnknownNameError, dream
from dreamjax.ascent.engine import DreamConfig, Dreamer, octave_shapes
from dreamjax.ascent.objectives import build_objective, layer_objective
from dreamjax.ascent.regularisers import Regularisers

FAST = dict(octaves=2, steps=4, octave_scale=1.5, jitter=4)


def _score(model, images, layer):
    objective = layer_objective(model, [layer])
    return np.asarray(objective(model.apply(model.params, jnp.asarray(images), objective.layers)))


@pytest.fixture
def pictures(rng):
    return rng.uniform(0.2, 0.8, size=(3, 40, 48, 3)).astype(np.float32)


def test_objective_rises_and_output_is_a_valid_new_image(tiny, pictures):
    out = dream(tiny, pictures[0], "conv1", **FAST)
    assert out.shape == pictures[0].shape and out.dtype == np.float32
    assert np.all(np.isfinite(out)) and out.min() >= 0.0 and out.max() <= 1.0
    assert np.abs(out - pictures[0]).mean() > 0.01
    before, after = _score(tiny, pictures[:1], "conv1"), _score(tiny, out[None], "conv1")
    assert after[0] > 1.5 * before[0]


def test_more_steps_raise_the_objective_further(tiny, pictures):
    short = dream(tiny, pictures[0], "conv2", octaves=1, steps=2, jitter=0)
    long = dream(tiny, pictures[0], "conv2", octaves=1, steps=8, jitter=0)
    assert _score(tiny, long[None], "conv2")[0] > _score(tiny, short[None], "conv2")[0]


def test_same_seed_same_picture_other_seed_other_picture(tiny, pictures):
    a = dream(tiny, pictures[0], "conv1", seed=3, **FAST)
    b = dream(tiny, pictures[0], "conv1", seed=3, **FAST)
    c = dream(tiny, pictures[0], "conv1", seed=4, **FAST)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3


def test_batch_equals_each_image_alone(tiny, pictures):
    batch = dream(tiny, pictures, "conv1", **FAST)
    for i in range(len(pictures)):
        alone = dream(tiny, pictures[i], "conv1", **FAST)
        np.testing.assert_allclose(batch[i], alone, atol=2e-5)


def test_list_of_mixed_sizes_keeps_order(tiny, pictures, rng):
    small = rng.uniform(size=(24, 24, 3)).astype(np.float32)
    out = dream(tiny, [pictures[0], small, pictures[1]], "conv1", **FAST)
    assert [o.shape for o in out] == [pictures[0].shape, small.shape, pictures[1].shape]
    np.testing.assert_allclose(out[2], dream(tiny, pictures[1], "conv1", **FAST), atol=2e-5)


def test_weighted_layers(tiny, pictures):
    out = dream(tiny, pictures[0], {"conv0": 0.5, "conv2": 2.0}, **FAST)
    assert np.abs(out - pictures[0]).mean() > 0.01


def test_one_program_per_octave_and_none_on_rerun(tiny, pictures):
    dreamer = Dreamer(tiny)
    objective = layer_objective(tiny, ["conv1"])
    config = DreamConfig(octaves=3, steps=2, octave_scale=1.3)
    _, first = dreamer.run(pictures, objective, config)
    _, second = dreamer.run(pictures, objective, config)
    assert first.programs_compiled == 3 and second.programs_compiled == 0
    assert second.compile_seconds == 0.0 and second.steps_per_second > 0


@pytest.mark.parametrize("change", [
    dict(steps=5), dict(step_size=0.03), dict(jitter=9), dict(jitter=0), dict(seed=11),
    dict(regularisers=Regularisers(tv=0.5)), dict(regularisers=Regularisers(blur_sigma=0.8)),
    dict(regularisers=Regularisers(laplacian_levels=2, tv=0.1)),
])
def test_numbers_are_runtime_arguments_and_compile_nothing(tiny, pictures, change):
    """Only shapes and structure are compiled in: changing any number reuses the program."""
    dreamer = Dreamer(tiny)
    objective = layer_objective(tiny, ["conv1"])
    regularisers = change.get("regularisers", Regularisers())
    base = DreamConfig(octaves=1, steps=2, jitter=4, regularisers=dataclasses.replace(
        regularisers, tv=regularisers.tv and 2.0, blur_sigma=regularisers.blur_sigma and 0.5))
    first_out, first = dreamer.run(pictures[:1], objective, base)
    out, second = dreamer.run(pictures[:1], objective, dataclasses.replace(base, **change))
    assert first.programs_compiled == 1 and second.programs_compiled == 0
    assert np.abs(out - first_out).max() > 1e-4  # the change was applied


def test_objective_numbers_compile_nothing(tiny, pictures):
    dreamer = Dreamer(tiny)
    config = DreamConfig(octaves=1, steps=2, jitter=4)
    texts = ["conv1:0.5,conv2[1-3],conv2[4]@(0.2,0.7)", "conv1:2,conv2[5-7],conv2[1]@(0.9,0.1)"]
    outs = []
    for i, text in enumerate(texts):
        out, stats = dreamer.run(pictures[:1], build_objective(tiny, text), config)
        assert stats.programs_compiled == (1 if i == 0 else 0)
        outs.append(out)
    assert np.abs(outs[0] - outs[1]).max() > 1e-3


def test_octave_shapes():
    assert octave_shapes(100, 200, 3, 2.0, 8) == [(25, 50), (50, 100), (100, 200)]
    assert octave_shapes(20, 20, 4, 2.0, 16) == [(16, 16), (20, 20)]


def test_unknown_layer_suggests_near_names(tiny, pictures):
    with pytest.raises(UnknownNameError) as err:
        dream(tiny, pictures[0], "conv3", **FAST)
    assert "conv" in str(err.value) and "did you mean" in str(err.value)


def test_too_small_image_is_refused(tiny):
    with pytest.raises(DreamjaxError, match="smaller than"):
        dream(tiny, np.zeros((4, 4, 3), np.float32), "conv1")


@pytest.mark.parametrize("kwargs", [dict(steps=0), dict(step_size=float("nan")), dict(octave_scale=0.5), dict(jitter=-1)])
def test_bad_settings_are_refused(tiny, pictures, kwargs):
    with pytest.raises(DreamjaxError):
        dream(tiny, pictures[0], "conv1", **kwargs)


def _plain_step(model, images, layer, step_size):
    """One ascent step written out with jax.grad: x + step * g / mean|g| per image, clipped."""
    import jax

    objective = layer_objective(model, [layer])
    grad = np.asarray(jax.grad(lambda x: jnp.sum(objective(model.apply(model.params, x, objective.layers))))(jnp.asarray(images)))
    mean_abs = np.abs(grad).mean(axis=(1, 2, 3), keepdims=True)
    return np.clip(images + step_size * grad / (mean_abs + 1e-8), 0.0, 1.0), grad


def test_one_step_goes_up_the_gradient_of_jax_grad(tiny, pictures):
    step = 1e-3  # small enough that nothing is clipped from [0.2, 0.8]
    out = dream(tiny, pictures[:2], "conv2", octaves=1, steps=1, step_size=step, jitter=0)
    expected, grad = _plain_step(tiny, pictures[:2], "conv2", step)
    np.testing.assert_allclose(out, expected, atol=2e-6)
    for moved, g in zip(out - pictures[:2], grad):  # the direction, and each image normalised on its own
        cosine = np.sum(moved * g) / (np.linalg.norm(moved) * np.linalg.norm(g))
        assert cosine > 0.9999
        assert np.mean(np.abs(moved)) == pytest.approx(step, rel=1e-3)


def test_objective_rises_at_every_step(tiny, pictures):
    scores = [_score(tiny, pictures[:1], "conv2")[0]]
    for steps in range(1, 6):  # the same seed: each run is the previous one plus a step
        out = dream(tiny, pictures[0], "conv2", octaves=1, steps=steps, step_size=0.01, jitter=0)
        scores.append(_score(tiny, out[None], "conv2")[0])
    assert all(b > a for a, b in zip(scores, scores[1:])), scores


def test_octaves_run_smallest_first_at_the_planned_shapes(tiny, pictures):
    seen = []
    config = DreamConfig(octaves=3, steps=2, octave_scale=1.5, jitter=2)
    out, stats = Dreamer(tiny).run(pictures[:1], layer_objective(tiny, ["conv1"]), config,
                                   progress=lambda i, n, shape: seen.append((i, n, shape)))
    planned = octave_shapes(40, 48, 3, 1.5, tiny.input_spec.min_size)
    assert planned == [(18, 21), (27, 32), (40, 48)]
    assert seen == [(i, 3, shape) for i, shape in enumerate(planned)]
    assert stats.shapes == planned and stats.programs_compiled == 3 and stats.ascent_steps == 6
    assert out.shape == pictures[:1].shape
    one_octave = dream(tiny, pictures[0], "conv1", octaves=1, steps=2, jitter=2)
    assert np.abs(out[0] - one_octave).max() > 1e-3  # the smaller octaves did work of their own


def test_the_seed_only_moves_the_jitter(tiny, pictures):
    still = [dream(tiny, pictures[0], "conv1", octaves=2, steps=3, jitter=0, seed=s) for s in (0, 1, 2**40)]
    for other in still[1:]:
        np.testing.assert_array_equal(still[0], other)
    fresh, _ = Dreamer(tiny).run(pictures[:1], layer_objective(tiny, ["conv1"]), DreamConfig(seed=7, **FAST))
    np.testing.assert_array_equal(fresh[0], dream(tiny, pictures[0], "conv1", seed=7, **FAST))


def test_plans_describe_themselves_and_the_biggest_program_is_built_first(tiny):
    import json

    from dreamjax.ascent.regularisers import Regularisers as Regs
    from dreamjax.ascent.schedule import build_order, plan_octaves
    from dreamjax.ascent.tiling import TileConfig

    objective = layer_objective(tiny, ["conv1"])
    shapes = octave_shapes(90, 120, 3, 1.4, 8)
    octaves = plan_octaves(tiny, objective, shapes, 2, 1, tiles=TileConfig(), regularisers=Regs(tv=0.5, laplacian_levels=2),
                           exact_shapes=False)
    described = [o.plan.describe() for o in octaves]
    assert json.loads(json.dumps(described)) == described
    assert described[-1] == {"model": "tiny", "canvas": [96, 120], "batch": 2, "devices": 1,
                             "objective": [{"term": "LayerEnergy", "layer": "conv1", "leaves": [[]]}],
                             "regularisers": {"tv": True, "blur_radius": 0, "laplacian_levels": 2, "decorrelate_colour": False},
                             "tiles": None}
    order = build_order(octaves)
    assert order[0] is octaves[-1] and [o.index for o in order[1:]] == [0, 1]
    # Numbers are not part of the plan; structure is.
    again = plan_octaves(tiny, 3.0 * objective, shapes, 2, 1, tiles=TileConfig(), regularisers=Regs(tv=2.0, laplacian_levels=2),
                         exact_shapes=False)
    assert [o.plan for o in again] == [o.plan for o in octaves]


def test_builds_in_several_threads_at_once_count_once_in_compile_time(monkeypatch):
    from dreamjax.ascent import run_stats

    clock = iter([10.0, 13.0, 20.0, 22.0])  # read when the first build starts and the last one ends
    monkeypatch.setattr(run_stats.time, "perf_counter", lambda: next(clock))
    stats = run_stats.DreamStats()
    stats.build_started()  # A at 10
    stats.build_started()  # B while A runs
    stats.build_ended()
    stats.build_ended()  # both done at 13: 3 s of building, not 3 + 3
    assert stats.compile_seconds == 3.0
    stats.build_started()  # C at 20
    stats.build_ended()  # 22
    assert stats.compile_seconds == 5.0
