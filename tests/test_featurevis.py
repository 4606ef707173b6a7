"""dreamjax.visualize on the tiny model: shapes, seeds, batching, switches, memory-chosen batches."""

import os
import subprocess
import sys

import numpy as np
import pytest

import dreamjax
from dreamjax.errors import DreamjaxError
from dreamjax.featurevis import NO_TRANSFORMS, Parametrisation, Recipe, Transforms, visualizer_for
from dreamjax.featurevis.batching import auto_batch, auto_chunk, split_batches
from dreamjax.featurevis.visualize import make_job
from dreamjax.runtime import memory

FAST = dict(size=16, steps=4)
SMALL = Recipe(transforms=Transforms(pad=2, jitter=1))


def test_visualize_makes_one_picture_per_channel_in_unit_range(tiny):
    seen = []
    pictures = dreamjax.visualize(tiny, "conv2", channels=[0, 3, 7], recipe=SMALL, progress=lambda d, t: seen.append((d, t)), **FAST)
    assert pictures.shape == (3, 16, 16, 3) and pictures.dtype == np.float32
    assert 0.0 <= pictures.min() and pictures.max() <= 1.0 and np.all(np.isfinite(pictures))
    assert seen[-1] == (12, 12) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert not np.allclose(pictures[0], pictures[1])


def test_the_same_seed_gives_the_same_pictures_and_another_seed_others(tiny):
    first = dreamjax.visualize(tiny, "conv2", [1, 2], seed=5, recipe=SMALL, **FAST)
    again = dreamjax.visualize(tiny, "conv2", [1, 2], seed=5, recipe=SMALL, **FAST)
    other = dreamjax.visualize(tiny, "conv2", [1, 2], seed=6, recipe=SMALL, **FAST)
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).max() > 1e-3


def test_a_batch_of_channels_equals_one_channel_at_a_time(tiny):
    together = dreamjax.visualize(tiny, "conv2", [2, 9, 4], batch=3, recipe=SMALL, **FAST)
    alone = [dreamjax.visualize(tiny, "conv2", [c], batch=1, recipe=SMALL, **FAST)[0] for c in (2, 9, 4)]
    np.testing.assert_allclose(together, np.stack(alone), atol=1e-5)
    # A picture depends on its channel, not its place in the list.
    np.testing.assert_allclose(dreamjax.visualize(tiny, "conv2", [4], recipe=SMALL, **FAST)[0], together[2], atol=1e-5)


def run_in_chunks(model, job, chunk):
    out = np.zeros((job.pictures, *job.shape, 3), np.float32)

    def keep(members, images):
        out[members] = images

    plans = []
    visualizer_for(model).make(job, range(job.pictures), batch=4, chunk=chunk, on_batch=keep, on_plan=plans.append)
    assert plans[0].chunk == (chunk or 4)
    return out


def test_the_network_may_see_a_batch_in_chunks_with_the_same_pictures(tiny):
    job = make_job(tiny, "conv2", [0, 1], copies=2, diversity=3.0, recipe=SMALL, **FAST)
    whole = run_in_chunks(tiny, job, 0)
    np.testing.assert_allclose(run_in_chunks(tiny, job, 2), whole, atol=1e-5)
    with pytest.raises(DreamjaxError, match="whole groups"):
        run_in_chunks(tiny, job, 1)


def test_copies_with_diversity_differ_and_groups_stay_apart(tiny):
    pictures = dreamjax.visualize(tiny, "conv2", [0, 5], copies=2, diversity=10.0, batch=2, recipe=SMALL, **FAST)
    assert pictures.shape == (4, 16, 16, 3)
    assert np.abs(pictures[0] - pictures[1]).max() > 1e-3
    both = dreamjax.visualize(tiny, "conv2", [0, 5], copies=2, diversity=10.0, batch=4, recipe=SMALL, **FAST)
    np.testing.assert_allclose(both, pictures, atol=1e-5)


@pytest.mark.parametrize("recipe", [
    Recipe(param=Parametrisation(fft=False)),
    Recipe(param=Parametrisation(decorrelate=False)),
    Recipe(param=Parametrisation(sigmoid=False)),
    Recipe(adam=False, learning_rate=0.5),
    Recipe(transforms=None),
    Recipe(transforms=NO_TRANSFORMS),
], ids=["pixels", "rgb", "clip", "sgd", "no-transforms", "zero-transforms"])
def test_every_piece_of_the_recipe_can_be_switched_off(tiny, recipe):
    pictures = dreamjax.visualize(tiny, "conv2", [1], recipe=recipe, **FAST)
    assert pictures.shape == (1, 16, 16, 3) and 0.0 <= pictures.min() and pictures.max() <= 1.0
    assert pictures.std() > 0  # it moved away from the flat start


def test_kinds_and_extra_terms(tiny):
    neuron = dreamjax.visualize(tiny, "conv2", [1], kind="neuron", recipe=SMALL, **FAST)
    classes = dreamjax.visualize(tiny, None, ["b", "d"], kind="class", recipe=SMALL, **FAST)
    direction = dreamjax.visualize(tiny, "conv2", kind="direction", directions=np.ones(16), recipe=SMALL, **FAST)
    plain = dreamjax.visualize(tiny, "conv2", [1], recipe=SMALL, **FAST)
    steered = dreamjax.visualize(tiny, "conv2", [1], also="conv0:2", recipe=SMALL, **FAST)
    assert neuron.shape == (1, 16, 16, 3) and classes.shape == (2, 16, 16, 3) and direction.shape == (1, 16, 16, 3)
    assert np.abs(plain - steered).max() > 1e-3 and np.abs(plain - neuron).max() > 1e-3


@pytest.mark.parametrize("settings, match", [
    (dict(steps=0), "steps"), (dict(seed=2**64), "seed"), (dict(copies=0), "copies"), (dict(size=0), "size"),
    (dict(size=4, recipe=Recipe(transforms=None)), "at least 8"), (dict(recipe=Recipe(learning_rate=-1.0)), "learning rate"),
    (dict(also="conv9"), "conv9"), (dict(diversity=1.0), "copies"),
])
def test_bad_settings_are_refused_before_any_work(tiny, settings, match):
    with pytest.raises(DreamjaxError, match=match):
        make_job(tiny, "conv2", [0], **settings)


def test_batches_are_balanced_and_keep_copies_together():
    plan = split_batches(10, 4)
    assert plan.size == 4 and len(plan.batches) == 3
    assert sorted(p for k in range(3) for p in plan.real(k)) == list(range(10))
    assert all(len(b) == 4 for b in plan.batches)
    grouped = split_batches(12, 5, copies=3)  # 4 channels x 3 copies, at most 5 -> groups of 3 per batch
    assert grouped.size == 3 and all(b[0] % 3 == 0 and b == tuple(range(b[0], b[0] + 3)) for b in grouped.batches)
    assert auto_batch((140, 140)) == 53 and auto_batch((140, 140), copies=4) == 52
    chunked = split_batches(7, 53, chunk=2)  # the batch is a whole number of chunks
    assert chunked.size == 8 and chunked.chunk == 2 and chunked.real(0) == tuple(range(7))
    assert auto_chunk((140, 140), platform="cpu") == 2 and auto_chunk((140, 140), platform="gpu") == 0


def test_batch_size_is_halved_until_the_program_fits(tiny, monkeypatch):
    job = make_job(tiny, "conv2", list(range(16)), recipe=SMALL, **FAST)
    stats = dreamjax.ascent.engine.DreamStats()
    visualizer = visualizer_for(tiny)
    full = visualizer.plan(job, 16, stats=stats)
    assert full.size == 16
    budget = stats.estimated_bytes * 0.7  # what 16 pictures need does not fit; fewer do
    monkeypatch.setattr(memory, "available_bytes", lambda device: (int(budget), "host memory"))
    smaller = visualizer.plan(job, 16, stats=stats)
    assert smaller.size < 16 and stats.estimated_bytes <= budget
    with pytest.raises(memory.MemoryLimitError, match="visualising 16 pictures") as info:
        visualizer.plan(job, 16, batch=16)
    assert "smaller --batch" in info.value.hint


def test_visualize_is_exported_lazily():
    code = ("import sys, dreamjax; assert 'optax' not in sys.modules; f = dreamjax.visualize; "
            "assert 'optax' in sys.modules and f.__module__ == 'dreamjax.featurevis.visualize'")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert "visualize" in dreamjax.__all__
