"""Steering with the real pretrained EfficientNet-Lite: class names, presets, class and guide dreams."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dreamjax import DreamjaxError, UnknownNameError, dream, load_model
from dreamjax.apps.presets import PRESETS, presets_for
from dreamjax.ascent.objective_syntax import parse_objective
from dreamjax.ascent.objectives import (
    build_objective,
    class_index,
    class_objective,
    guide_features,
    guide_objective,
    layer_objective,
)
from dreamjax.ascent.regularisers import Regularisers
from dreamjax.files.image import load_image, sample_image_path


@pytest.fixture(scope="module")
def lite0():
    return load_model("efficientnet_lite0")


@pytest.mark.parametrize(
    "name, index",
    [("tabby cat", 281), ("Tabby", 281), ("tabby, tabby cat", 281), ("GOLDFISH", 1), ("Carassius auratus", 1),
     ("jack-o'-lantern", 607), ("espresso", 967), ("281", 281)],
)
def test_imagenet_classes_by_name(lite0, name, index):
    assert class_index(lite0, name) == index


def test_imagenet_class_errors(lite0):
    with pytest.raises(UnknownNameError) as err:
        class_index(lite0, "tabby kat")
    assert "tabby cat" in err.value.suggestions
    with pytest.raises(DreamjaxError, match="ambiguous") as err:
        class_index(lite0, "crane")
    assert "class=134" in err.value.hint  # the bird; 517 is the machine


def test_lite0_presets_are_valid_objectives_and_options(lite0):
    from dreamjax.cli import build_parser

    dests = set(vars(build_parser().parse_args(["dream"])))
    presets = presets_for(lite0)
    assert {"strokes", "ornaments", "objects"} <= set(presets)
    depth = {layer.name: i for i, layer in enumerate(lite0.layers)}
    for preset in presets.values():
        assert set(preset.settings) <= dests, preset.name
        build_objective(lite0, preset.objective)
    first = lambda name: parse_objective(presets[name].objective)[0].layer  # noqa: E731
    assert depth[first("strokes")] < depth[first("ornaments")] < depth[first("objects")]
    assert depth["stage4"] < depth[first("eyes")] < depth["stage5"] < depth[first("objects")] < depth["stage6"]


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["efficientnet_lite1", "efficientnet_lite2"])
def test_lite1_and_lite2_presets_build(variant):
    model = load_model(variant)
    depth = {layer.name: i for i, layer in enumerate(model.layers)}
    presets = presets_for(model)
    assert presets == {p.name: p for p in PRESETS[variant]}
    for preset in presets.values():
        build_objective(model, preset.objective)
    # The same looks sit at the same places in the deeper variants' stages.
    assert depth["stage4"] < depth[presets["eyes"].objective] < depth["stage5"] < depth[presets["objects"].objective] < depth["stage6"]


def _logits(model, image):
    return np.asarray(model.apply(model.params, jnp.asarray(image)[None], ["logits"])["logits"][0])


@pytest.mark.slow
def test_class_dream_on_the_cat_makes_it_a_goldfish(lite0):
    cat = load_image(sample_image_path("chelsea.png"))
    before = _logits(lite0, cat)
    out = dream(lite0, cat, objective=class_objective(lite0, "goldfish"), steps=10, regularisers=Regularisers(laplacian_levels=4))
    after = _logits(lite0, out)
    rank = lambda z: int((z > z[1]).sum())  # noqa: E731
    assert rank(before) > 20 and rank(after) == 0
    assert jax.nn.softmax(after)[1] > 0.5


def _guide_similarity(model, image, guide, layer):
    unit = lambda v: v / (np.linalg.norm(v, axis=-1, keepdims=True) + 1e-6)  # noqa: E731
    act = np.asarray(model.apply(model.params, jnp.asarray(image)[None], [layer])[layer])
    a, g = unit(act.reshape(-1, act.shape[-1])), unit(guide_features(model, guide, layer))
    return float((a @ g.T).max(axis=1).mean())


@pytest.mark.slow
def test_guide_dream_moves_the_cat_toward_the_coffee(lite0):
    cat = load_image(sample_image_path("chelsea.png"))
    coffee = load_image(sample_image_path("coffee.png"))
    layer = "blocks.9"
    before = _guide_similarity(lite0, cat, coffee, layer)
    guided = dream(lite0, cat, objective=guide_objective(lite0, coffee, layer))
    plain = dream(lite0, cat, objective=layer_objective(lite0, layer))
    gain_guided = _guide_similarity(lite0, guided, coffee, layer) - before
    gain_plain = _guide_similarity(lite0, plain, coffee, layer) - before
    assert gain_guided > 0.05 and gain_guided > 2 * gain_plain
