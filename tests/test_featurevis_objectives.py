"""Per-picture objectives of dreamjax.featurevis against the engine's own objectives and lucid's formulas."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dreamjax.ascent.objectives import ChannelMean, ClassLogit, Neuron
from dreamjax.errors import DreamjaxError, UnknownNameError
from dreamjax.featurevis.objectives import Diversity, PictureTarget, build_targets, own_channel_first, picture_objective


@pytest.fixture
def act(rng):
    return jnp.asarray(rng.normal(size=(4, 5, 7, 6)), jnp.float32)


def test_channel_and_neuron_targets_are_the_engines_objectives_per_picture(act):
    channels = [3, 0, 5, 3]
    one_hot = jnp.asarray(np.eye(6, dtype=np.float32)[channels])
    mean = PictureTarget(one_hot, "x").score(act)
    centre = PictureTarget(one_hot, "x", centre=True).score(act)
    for b, c in enumerate(channels):
        np.testing.assert_allclose(mean[b], ChannelMean("x", (c,)).score(act[b:b + 1])[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(centre[b], Neuron("x", c).score(act[b:b + 1])[0], rtol=1e-6)


def test_class_and_direction_targets(act, rng):
    logits = jnp.asarray(rng.normal(size=(2, 10)), jnp.float32)
    picked = PictureTarget(jnp.asarray(np.eye(10, dtype=np.float32)[[7, 2]]), "logits").score(logits)
    np.testing.assert_allclose(picked, [ClassLogit("logits", 7).score(logits)[0], ClassLogit("logits", 2).score(logits)[1]])
    direction = rng.normal(size=(4, 6)).astype(np.float32)
    got = PictureTarget(jnp.asarray(direction), "x").score(act)
    want = np.einsum("bhwc,bc->b", np.asarray(act, np.float64), direction) / (5 * 7)
    np.testing.assert_allclose(got, want, rtol=1e-5)


def lucid_diversity(act: np.ndarray) -> float:
    """lucid.optvis.objectives.diversity, written out for one batch (the whole batch is one group)."""
    batch, channels = act.shape[0], act.shape[-1]
    flat = act.reshape(batch, -1, channels)
    grams = np.einsum("bpc,bpd->bcd", flat, flat)
    grams = grams / np.maximum(np.sqrt(np.sum(grams**2, axis=(1, 2), keepdims=True)), 1e-10)
    return sum(np.sum(grams[i] * grams[j]) for i in range(batch) for j in range(batch) if j != i) / batch


def test_diversity_is_lucids_term_within_each_group_of_copies(act):
    relu = jax.nn.relu(act)
    term = Diversity(2.0, "x", copies=2)
    scores = term.score(relu)
    for group in (slice(0, 2), slice(2, 4)):
        np.testing.assert_allclose(float(jnp.sum(scores[group])), -2.0 * lucid_diversity(np.asarray(relu[group])), rtol=1e-5)
    # Groups never interact: the first group's score does not move with the second group's activations.
    grad = jax.grad(lambda a: jnp.sum(term.score(a)[:2]))(relu)
    assert float(jnp.max(jnp.abs(grad[2:]))) == 0.0 and float(jnp.max(jnp.abs(grad[:2]))) > 0


def test_targets_resolve_channels_classes_and_directions(tiny):
    targets = build_targets(tiny, "conv2", "channel", [4, 0])
    assert targets.ids == (4, 0) and targets.vectors.shape == (2, 16) and targets.vectors[0, 4] == 1.0
    assert len(build_targets(tiny, "conv1")) == 16  # all channels by default
    classes = build_targets(tiny, None, "class", ["c", 0])
    assert classes.layer == "logits" and classes.ids == (2, 0) and classes.labels == ("c (2)", "a (0)")
    rows = build_targets(tiny, "conv2", "direction", directions=np.ones((3, 16)))
    np.testing.assert_allclose(np.linalg.norm(rows.vectors, axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("call, match", [
    (dict(layer="conv9"), "conv9"),
    (dict(layer="conv2", channels=[16]), "out of range"),
    (dict(layer="conv2", channels=[1, 1]), "twice"),
    (dict(layer="conv2", channels=[]), "no channels"),
    (dict(layer="logits", kind="neuron"), "no positions"),
    (dict(layer="conv2", kind="class"), "logits layer"),
    (dict(layer="conv2", kind="direction", directions=np.ones((2, 5))), r"\[N, 16\]"),
    (dict(layer="conv2", kind="direction", directions=np.zeros((1, 16))), "not all zero"),
    (dict(layer="conv2", kind="direction"), "needs directions"),
    (dict(layer="conv2", kind="colour"), "unknown kind"),
])
def test_bad_targets_get_one_clear_error(tiny, call, match):
    with pytest.raises(DreamjaxError, match=match):
        build_targets(tiny, **call)


def test_unknown_layer_suggests_the_nearest(tiny):
    with pytest.raises(UnknownNameError) as info:
        build_targets(tiny, "conv3")
    assert "conv2" in info.value.hint


def test_diversity_needs_copies_and_a_spatial_layer(tiny):
    targets = build_targets(tiny, "conv2", "channel", [0])
    with pytest.raises(DreamjaxError, match="copies"):
        picture_objective(tiny, targets, diversity=1.0)
    with pytest.raises(DreamjaxError, match="no positions"):
        picture_objective(tiny, targets, copies=2, diversity=1.0, diversity_layer="logits")
    objective = picture_objective(tiny, targets, copies=2, diversity=1.0)
    assert objective.layers == ("conv2",) and objective.diversity.copies == 2


def test_own_channel_first():
    scores = np.array([[3.0, 1.0, 0.0], [0.0, 1.0, 2.0], [0.0, 0.0, 5.0]])
    assert own_channel_first(scores).tolist() == [True, False, True]
