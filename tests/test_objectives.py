import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dreamjax import DreamjaxError, UnknownNameError, dream
from dreamjax.ascent.engine import DreamConfig, Dreamer
from dreamjax.ascent.objective_syntax import ClassTerm, GuideTerm, LayerTerm
from dreamjax.ascent.objectives import (
    ChannelMean,
    ClassLogit,
    GuideFeatures,
    LayerEnergy,
    Neuron,
    Objective,
    build_objective,
    channel_objective,
    class_index,
    class_objective,
    guide_features,
    guide_objective,
    layer_objective,
    neuron_objective,
)

FAST = dict(octaves=2, steps=6, octave_scale=1.5, jitter=4)
# The tiny random net aliases at stride 2, so jittered gradients partly cancel; these checks
# measure how far an objective moves the picture, so they run without jitter.
STEADY = dict(octaves=2, steps=6, octave_scale=1.5, jitter=0)


@pytest.fixture
def photo(rng):
    return rng.uniform(0.2, 0.8, size=(40, 48, 3)).astype(np.float32)


@pytest.fixture
def guide(rng):
    """Diagonal stripes: a picture unlike the noise photo."""
    y, x = np.mgrid[0:48, 0:48]
    stripes = 0.5 + 0.45 * np.sin((x + y) / 2.0)
    return np.stack([stripes, 1 - stripes, np.full_like(stripes, 0.3)], axis=-1).astype(np.float32)


def value(model, objective, image):
    acts = model.apply(model.params, jnp.asarray(image)[None], objective.layers)
    return float(objective(acts)[0])


def logits(model, image):
    return np.asarray(model.apply(model.params, jnp.asarray(image)[None], ["logits"])["logits"][0])


def test_each_kind_of_term_raises_its_own_value(tiny, photo, guide):
    # A neuron the photo excites: a ReLU that is off has no gradient to climb.
    channels = tiny.apply(tiny.params, photo[None], ["conv2"])["conv2"].shape[-1]
    live = max(range(channels), key=lambda c: value(tiny, neuron_objective(tiny, "conv2", c, (0.25, 0.75)), photo))
    objectives = {
        "layer": layer_objective(tiny, "conv1"),
        "channels": channel_objective(tiny, "conv2", [3, 5]),
        "neuron": neuron_objective(tiny, "conv2", live, (0.25, 0.75)),
        "class": class_objective(tiny, "c"),
        "guide": guide_objective(tiny, guide, "conv1"),
        "sum": layer_objective(tiny, "conv0") + 0.5 * channel_objective(tiny, "conv2", 1),
    }
    for name, objective in objectives.items():
        before = value(tiny, objective, photo)
        out = dream(tiny, photo, objective=objective, **FAST)
        after = value(tiny, objective, out)
        assert after > before + 0.1 * abs(before) + 1e-3, (name, before, after)


def test_channel_and_class_pictures_differ_from_the_layer_picture(tiny, photo):
    layer = dream(tiny, photo, objective=layer_objective(tiny, "conv2"), **FAST)
    channel = dream(tiny, photo, objective=channel_objective(tiny, "conv2", 7), **FAST)
    klass = dream(tiny, photo, objective=class_objective(tiny, "b"), **FAST)
    changed = np.abs(layer - photo).mean()
    assert np.abs(channel - layer).mean() > 0.3 * changed
    assert np.abs(klass - layer).mean() > 0.3 * changed
    assert np.abs(klass - channel).mean() > 0.3 * changed


def test_class_objective_raises_its_logit_and_softmax_rank(tiny, photo):
    before = logits(tiny, photo)
    target = int(np.argmin(before))  # start from the least likely class
    out = dream(tiny, photo, objective=class_objective(tiny, target), **STEADY)
    after = logits(tiny, out)
    assert after[target] > before[target] + 0.2
    rank = lambda z: int((z > z[target]).sum())  # noqa: E731
    assert rank(before) == 3 and rank(after) <= 1  # class 3 shares features with it in this tiny net
    assert np.argmax(after - before) == target
    probs = jax.nn.softmax(after)
    assert probs[target] > jax.nn.softmax(before)[target]


def _feature_cosine(model, image, guide_image, layer):
    """How like the guide's the picture's features are: at each position, the cosine similarity
    of its feature vector to the most similar guide feature vector, averaged over positions."""
    unit = lambda v: v / (np.linalg.norm(v, axis=-1, keepdims=True) + 1e-6)  # noqa: E731
    act = np.asarray(model.apply(model.params, jnp.asarray(image)[None], [layer])[layer])
    a, g = unit(act.reshape(-1, act.shape[-1])), unit(guide_features(model, guide_image, layer))
    return float((a @ g.T).max(axis=1).mean())


def test_guide_moves_features_toward_the_guide(tiny, photo, guide):
    before = _feature_cosine(tiny, photo, guide, "conv2")
    guided = dream(tiny, photo, objective=guide_objective(tiny, guide, "conv2"), **STEADY)
    plain = dream(tiny, photo, objective=layer_objective(tiny, "conv2"), **STEADY)
    gain_guided = _feature_cosine(tiny, guided, guide, "conv2") - before
    gain_plain = _feature_cosine(tiny, plain, guide, "conv2") - before
    assert gain_guided > 0.05 and gain_guided > 3 * gain_plain


def test_guide_gradient_is_the_best_matching_guide_feature(rng):
    """The original notebook's objective_guide: d/dx = y[:, argmax(x.T y)], here over positions."""
    x = jnp.asarray(rng.normal(size=(2, 3, 5, 8)), jnp.float32)
    y = rng.normal(size=(7, 8)).astype(np.float32)
    term = GuideFeatures(jnp.asarray(y), "l")
    grad = np.asarray(jax.grad(lambda a: jnp.sum(term.score(a)))(x))
    flat = np.asarray(x).reshape(2, 15, 8)
    best = np.argmax(flat @ y.T, axis=-1)
    np.testing.assert_allclose(grad.reshape(2, 15, 8), y[best] / 15, rtol=1e-6)


def test_neuron_changes_the_picture_around_its_position(tiny, rng):
    image = rng.uniform(0.3, 0.7, size=(64, 64, 3)).astype(np.float32)
    out = dream(tiny, image, objective=neuron_objective(tiny, "conv2", 2, (0.25, 0.75)), octaves=1, steps=5, jitter=0)
    change = np.abs(out - image).sum(axis=-1)
    # (x, y) = (0.25, 0.75): left half, bottom half.
    assert change[32:, :32].sum() > 0.9 * change.sum()


def test_neuron_and_channel_scores_read_the_right_numbers():
    act = jnp.arange(2 * 5 * 9 * 4, dtype=jnp.float32).reshape(2, 5, 9, 4)
    np.testing.assert_array_equal(Neuron("l", 3, (0.5, 0.5)).score(act), act[:, 2, 4, 3])
    np.testing.assert_array_equal(Neuron("l", 1, (1.0, 0.0)).score(act), act[:, 0, 8, 1])
    np.testing.assert_allclose(ChannelMean("l", (0, 2)).score(act), act[..., ::2].mean(axis=(1, 2, 3)))
    np.testing.assert_array_equal(ClassLogit("l", 2).score(act[:, 0, 0]), act[:, 0, 0, 2])
    np.testing.assert_allclose(LayerEnergy("l").score(act), jnp.mean(act**2, axis=(1, 2, 3)))


def test_objectives_add_and_scale(tiny, photo):
    a, b = layer_objective(tiny, "conv1"), channel_objective(tiny, "conv2", [1, 2])
    total = a + 2.0 * b
    assert value(tiny, total, photo) == pytest.approx(value(tiny, a, photo) + 2 * value(tiny, b, photo), rel=1e-5)
    assert total.describe() == "conv1,conv2[1,2]:2.0"


def test_build_from_text_and_terms(tiny, tmp_path, guide):
    from dreamjax.files.image import save_image

    path = save_image(tmp_path / "stripes.png", guide)
    objective = build_objective(tiny, f"conv1:0.5,conv2[1-3],conv2[4]@centre,class=C:2,guide={path}@conv0")
    kinds = [type(t) for t in objective.terms]
    assert kinds == [LayerEnergy, ChannelMean, Neuron, ClassLogit, GuideFeatures]
    assert objective.terms[1].channels == (1, 2, 3) and objective.terms[3].index == 2
    assert objective.describe() == "conv1:0.5,conv2[1-3],conv2[4]@centre,class=c:2.0,guide=stripes.png@conv0"
    assert objective.layers == ("conv1", "conv2", "logits", "conv0")


def test_same_structure_reuses_the_compiled_program(tiny, photo, guide, rng):
    dreamer = Dreamer(tiny)
    config = DreamConfig(octaves=1, steps=2, jitter=2)
    other_guide = rng.uniform(size=guide.shape).astype(np.float32)
    _, first = dreamer.run(photo[None], guide_objective(tiny, guide, "conv1"), config)
    out, second = dreamer.run(photo[None], guide_objective(tiny, other_guide, "conv1"), config)
    assert first.programs_compiled == 1 and second.programs_compiled == 0  # guide features are leaves
    reweighted = 3.0 * guide_objective(tiny, other_guide, "conv1", label="other")
    _, third = dreamer.run(photo[None], reweighted, config)
    assert third.programs_compiled == 0  # so are weights; labels are dropped


@pytest.fixture
def named_classes(tiny):
    names = ("tabby, tabby cat", "tiger cat", "crane", "crane", "Persian cat")
    fc = jnp.asarray(np.random.default_rng(1).normal(0, 0.3, (16, 5)), jnp.float32)
    return dataclasses.replace(tiny, class_names=names, params={**tiny.params, "fc": fc})


@pytest.mark.parametrize("name, index", [("tabby cat", 0), ("TABBY", 0), (" Tabby, tabby cat ", 0), ("tiger cat", 1), ("4", 4), (3, 3)])
def test_classes_by_name_synonym_or_number(named_classes, name, index):
    assert class_index(named_classes, name) == index


def test_unknown_class_suggests_names(named_classes):
    with pytest.raises(UnknownNameError) as err:
        class_index(named_classes, "tabby kat")
    assert "tabby cat" in err.value.suggestions


def test_ambiguous_class_lists_the_numbers(named_classes):
    with pytest.raises(DreamjaxError, match=r"ambiguous.*2 .*3 ") as err:
        class_index(named_classes, "crane")
    assert "class=2" in err.value.hint


def test_class_number_out_of_range(named_classes):
    with pytest.raises(DreamjaxError, match="out of range"):
        class_index(named_classes, "5")


def test_model_without_classes(tiny):
    bare = dataclasses.replace(tiny, class_names=None)
    with pytest.raises(DreamjaxError, match="no named classes"):
        class_objective(bare, "a")


def test_all_problems_are_reported_at_once(tiny):
    terms = [LayerTerm("conv9"), LayerTerm("conv1", (3, 16, 99)), ClassTerm("zebra"), LayerTerm("logits", (1,), (0.5, 0.5))]
    with pytest.raises(DreamjaxError) as err:
        build_objective(tiny, terms)
    message = err.value.message
    assert message.startswith("4 problems")
    assert "conv9" in message and "16, 99 out of range" in message and "zebra" in message and "no positions" in message
    assert "did you mean" in err.value.hint and "0..15" in err.value.hint


def test_one_problem_keeps_its_own_error_type(tiny):
    with pytest.raises(UnknownNameError) as err:
        build_objective(tiny, "conv1,conv7")
    assert err.value.name == "conv7"


def test_unreadable_guide_is_reported(tiny, tmp_path):
    with pytest.raises(DreamjaxError, match="does not exist"):
        build_objective(tiny, [GuideTerm(str(tmp_path / "missing.png"), "conv1")])


def test_objective_is_a_pytree_with_numbers_and_arrays_as_leaves(tiny, guide):
    objective = 0.5 * layer_objective(tiny, "conv1") + guide_objective(tiny, guide, "conv2")
    leaves = jax.tree_util.tree_leaves(objective)
    assert leaves[0] == 0.5 and leaves[1].shape == guide_features(tiny, guide, "conv2").shape and leaves[2] == 1.0
    assert isinstance(objective, Objective)
    runtime = jax.tree_util.tree_leaves(objective.runtime())
    assert [np.asarray(leaf).dtype for leaf in runtime] == [np.float32] * 3
    # Weights, channels, neuron positions and class numbers are runtime numbers: same structure.
    a = build_objective(tiny, "conv1:0.5,conv2[1-3],conv2[4]@(0.2,0.7),class=b")
    b = build_objective(tiny, "conv1:2,conv2[5-7],conv2[1]@(0.9,0.1),class=c:3")
    assert jax.tree_util.tree_structure(a.runtime()) == jax.tree_util.tree_structure(b.runtime())
    assert a.structure() == b.structure()


def test_dream_takes_the_text_form(tiny, photo):
    by_text = dream(tiny, photo, objective="conv2[2,5]:0.5", **FAST)
    by_object = dream(tiny, photo, objective=channel_objective(tiny, "conv2", [2, 5], 0.5), **FAST)
    np.testing.assert_array_equal(by_text, by_object)
