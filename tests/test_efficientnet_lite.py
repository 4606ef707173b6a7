"""The Flax EfficientNet-Lite port against the reference implementation and real photos."""

from __future__ import annotations

import functools
import os
from importlib import resources

import flax.errors
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from dreamjax.errors import DreamjaxError, UnknownNameError
from dreamjax.model import DreamModel
from dreamjax.zoo import efficientnet_lite

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")
VARIANTS = ("lite0", "lite1", "lite2")
# Measured against the reference (float32 on x86, both depthwise kernels): logits (|x| <= 9)
# differ by <= 1.3e-5, stage-3 activations (|x| <= 43) by <= 9e-5. Tolerances leave ~20x room
# for other CPUs and XLA versions, and are far below any change of the architecture.
LOGITS_ATOL = 3e-4
STAGE3_ATOL = 2e-3
CAT_CLASSES = {"tabby, tabby cat", "tiger cat", "Egyptian cat"}
COFFEE_CLASSES = {"espresso", "cup", "coffee mug"}


class Loaded:
    """A model and one compiled forward returning logits and the end of stage 3."""

    def __init__(self, variant: str):
        self.model = efficientnet_lite.load(variant)
        self.forward = jax.jit(lambda p, x: self.model.apply(p, x, ("logits", "stage3")))
        self.size = self.model.input_spec.native_size[0]


@functools.cache
def _loaded(variant: str) -> Loaded:
    return Loaded(variant)


@pytest.fixture(scope="module", params=VARIANTS)
def loaded(request) -> Loaded:
    return _loaded(request.param)


@pytest.fixture(scope="module")
def lite0() -> Loaded:
    return _loaded("lite0")


def _photo(name: str, size: int) -> np.ndarray:
    """A bundled photo, centre-cropped to a square and resized, as [1, S, S, 3] in [0, 1]."""
    with resources.files("dreamjax").joinpath("data", f"{name}.png").open("rb") as f:
        im = Image.open(f).convert("RGB")
    w, h = im.size
    c = min(w, h)
    left, top = (w - c) // 2, (h - c) // 2
    im = im.crop((left, top, left + c, top + c)).resize((size, size), Image.BICUBIC)
    return np.asarray(im, np.float32)[None] / 255.0


def test_matches_reference_golden_values(loaded):
    variant = loaded.model.name.removeprefix("efficientnet_")
    golden = np.load(os.path.join(GOLDEN, f"efficientnet_{variant}.npz"))
    s = loaded.size
    noise = np.random.default_rng(0).random((1, s, s, 3), dtype=np.float32)
    images = np.concatenate([golden["chelsea_u8"].astype(np.float32) / 255.0, noise])
    out = loaded.forward(loaded.model.params, images)
    logits = np.asarray(out["logits"])
    np.testing.assert_allclose(logits, golden["logits"], rtol=0, atol=LOGITS_ATOL)
    stage3 = np.asarray(out["stage3"])[..., : golden["stage3"].shape[-1]]
    np.testing.assert_allclose(stage3, golden["stage3"], rtol=0, atol=STAGE3_ATOL)
    assert (logits.argmax(-1) == golden["logits"].argmax(-1)).all()


def test_classifies_bundled_photos(loaded):
    s = loaded.size
    images = np.concatenate([_photo("chelsea", s), _photo("coffee", s)])
    logits = np.asarray(loaded.forward(loaded.model.params, images)["logits"])
    names = loaded.model.class_names
    top5 = [{names[i] for i in np.argsort(-row)[:5]} for row in logits]
    assert top5[0] & CAT_CLASSES, top5[0]
    assert top5[1] & COFFEE_CLASSES, top5[1]


def test_is_a_dream_model(lite0):
    m = lite0.model
    assert isinstance(m, DreamModel)
    assert m.name == "efficientnet_lite0"
    assert m.input_spec.native_size == (224, 224)
    assert m.logits_layer == "logits"
    assert len(m.class_names) == 1000 and m.class_names[281] == "tabby, tabby cat"
    leaves = jax.tree.leaves(m.params)
    assert leaves and all(isinstance(a, jax.Array) and a.dtype == jnp.float32 for a in leaves)


def test_params_match_the_module_structure(lite0):
    m = lite0.model
    init = jax.eval_shape(
        lambda: m.module.init(jax.random.key(0), jnp.zeros((1, 64, 64, 3)), len(m.module.layer_order()))["params"]
    )
    shapes = jax.tree.map(lambda a: a.shape, m.params)
    assert shapes == jax.tree.map(lambda a: a.shape, init)


def test_layer_listing_matches_apply_shapes(loaded):
    m = loaded.model
    names = [layer.name for layer in m.layers]
    n_blocks = len(m.module.blocks)
    expected = {"stem", "head", "logits"} | {f"blocks.{i}" for i in range(n_blocks)} | {f"stage{s}" for s in range(1, 8)}
    assert set(names) == expected and len(names) == len(expected)
    assert names[0] == "stem" and names[-2:] == ["head", "logits"]
    # Forward order: block indices increase and each stage alias follows its last block.
    blocks_seen = [int(n.split(".")[1]) for n in names if n.startswith("blocks.")]
    assert blocks_seen == sorted(blocks_seen)
    s = m.input_spec.native_size[0]
    shapes = jax.eval_shape(
        lambda p, x: m.apply(p, x, names), m.params, jax.ShapeDtypeStruct((2, s, s, 3), jnp.float32)
    )
    for layer in m.layers:
        shape = shapes[layer.name].shape
        assert shape[0] == 2 and shape[-1] == layer.channels, layer
        assert (shape[1:3] if len(shape) == 4 else None) == layer.spatial, layer
    info = {layer.name: layer for layer in m.layers}
    assert info["stem"].spatial == (-(-s // 2),) * 2
    assert info["stage7"].spatial == info["head"].spatial == (-(-s // 32),) * 2
    assert info["head"].channels == 1280 and info["logits"].channels == 1000


def test_lite0_blocks(lite0):
    blocks = lite0.model.module.blocks
    per_stage = [sum(b.stage == s for b in blocks) for s in range(1, 8)]
    assert per_stage == [1, 2, 2, 3, 3, 4, 1]
    assert [b.out_channels for b in blocks if blocks.index(b) == 0 or b.in_channels != b.out_channels] == [
        16, 24, 40, 80, 112, 192, 320
    ]


def test_stage_alias_equals_its_block(lite0):
    m = lite0.model
    x = np.random.default_rng(1).random((1, 64, 64, 3), dtype=np.float32)
    out = jax.jit(lambda p, x: m.apply(p, x, ["stage2", "blocks.2", "stage3"]))(m.params, x)
    np.testing.assert_array_equal(out["stage2"], out["blocks.2"])
    assert set(out) == {"stage2", "blocks.2", "stage3"}


def test_apply_stops_at_the_deepest_captured_layer(lite0):
    # Without the parameters of later layers the network still runs: they are never used.
    m = lite0.model
    x = np.random.default_rng(2).random((1, 64, 64, 3), dtype=np.float32)
    early = {k: v for k, v in m.params.items() if k.startswith("stem") or k in {f"blocks_{i}" for i in range(4)}}
    forward = jax.jit(lambda p, x: m.apply(p, x, ["blocks.3", "stem"]))
    partial, full = forward(early, x), forward(m.params, x)
    np.testing.assert_array_equal(partial["blocks.3"], full["blocks.3"])
    with pytest.raises(flax.errors.ScopeParamNotFoundError):  # the next block needs its weights
        jax.eval_shape(lambda p, x: m.apply(p, x, ["blocks.4"]), early, x)


def test_unknown_layer_suggests_names(lite0):
    with pytest.raises(UnknownNameError, match="blocks.1"):
        lite0.model.apply(lite0.model.params, np.zeros((1, 64, 64, 3), np.float32), ["block.1"])


def test_depthwise_implementations_agree_in_value_and_gradient(lite0):
    m = lite0.model
    x = jnp.asarray(np.random.default_rng(3).random((1, 67, 53, 3), dtype=np.float32))  # odd sizes: uneven pads

    def objective(module):
        def f(img):
            # Through blocks.3: 3x3 and 5x5 kernels, strides 1 and 2.
            act = module.apply({"params": m.params}, (img - 0.5) / 0.5, 4)
            return jnp.mean(act["blocks.3"] ** 2)

        return f

    # The plain taps (autodiff gradient) are covered op by op in test_nn.py.
    results = {}
    for impl in ("taps_vjp", "conv"):
        module = m.module.clone(depthwise=impl)
        results[impl] = jax.jit(jax.value_and_grad(objective(module)))(x)
    (ref_v, ref_g), (v, g) = results["conv"], results["taps_vjp"]
    np.testing.assert_allclose(v, ref_v, rtol=1e-4)
    np.testing.assert_allclose(g, ref_g, rtol=0, atol=1e-4 * float(jnp.abs(ref_g).max()))


def test_bad_variant_and_depthwise_option():
    with pytest.raises(DreamjaxError, match="lite9"):
        efficientnet_lite.load("lite9")
    with pytest.raises(DreamjaxError, match="depthwise"):
        efficientnet_lite.load("lite0", depthwise="fft")


def test_zoo_backend_serves_all_variants():
    from dreamjax.zoo import backend

    assert backend.available() == ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]
    model = backend.load("efficientnet_lite2")
    assert model.name == "efficientnet_lite2" and model.input_spec.native_size == (260, 260)
    assert backend.load("efficientnet_lite2") is model  # loaded once per process


def test_input_gradient_matches_finite_differences(lite0):
    # The gradient DeepDream follows (custom depthwise VJP included) against a central
    # difference along a random direction. In float64, so the difference is exact enough
    # to tell a wrong gradient from rounding (float32 differences are only good to ~5%).
    m = lite0.model
    rng = np.random.default_rng(4)
    with jax.enable_x64(True):
        params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), m.params)
        x = jnp.asarray(rng.random((1, 48, 40, 3)))
        v = jnp.asarray(rng.standard_normal((1, 48, 40, 3)))
        v = v / jnp.linalg.norm(v)

        @jax.jit
        def objective(params, img):
            return jnp.mean(m.apply(params, img, ["blocks.3"])["blocks.3"] ** 2)

        grad = jax.jit(jax.grad(objective, argnums=1))(params, x)
        assert grad.dtype == jnp.float64
        eps = 1e-5
        numeric = (objective(params, x + eps * v) - objective(params, x - eps * v)) / (2 * eps)
        np.testing.assert_allclose(float(jnp.vdot(grad, v)), float(numeric), rtol=1e-5)


def test_weight_gradient_matches_finite_differences(lite0):
    # Fine-tuning follows the gradient with respect to the weights (the depthwise kernels'
    # custom VJP included): reverse mode against a central difference along a random
    # direction in weight space, in float64 as above.
    m = lite0.model
    rng = np.random.default_rng(5)
    with jax.enable_x64(True):
        params = jax.tree.map(lambda a: np.asarray(a, np.float64), m.params)
        direction = jax.tree.map(lambda a: rng.standard_normal(a.shape), params)
        norm = np.sqrt(sum(np.vdot(d, d) for d in jax.tree.leaves(direction)))
        direction = jax.tree.map(lambda d: d / norm, direction)
        x = jnp.asarray(rng.random((1, 40, 48, 3)))

        @jax.jit
        def along(t):  # the objective at params + t * direction; its t-derivative at 0 is <grad, direction>
            moved = jax.tree.map(lambda p, d: p + t * d, params, direction)
            return jnp.mean(jnp.sin(m.apply(moved, x, ["blocks.3"])["blocks.3"]))

        analytic = jax.jit(jax.grad(along))(0.0)  # reverse mode: through every weight's cotangent
        eps = 1e-5
        numeric = (along(eps) - along(-eps)) / (2 * eps)
        np.testing.assert_allclose(float(analytic), float(numeric), rtol=1e-5)


def test_flax_model_is_the_dream_models_network(lite0):
    """``dreamjax.zoo.efficientnet_lite0()`` is the Linen module and its pretrained variables:
    the same logits as the DreamModel, layers by name with ``stop_at``."""
    import dreamjax.zoo

    module, variables = dreamjax.zoo.efficientnet_lite0(pretrained=True)
    jax.tree.map(np.testing.assert_array_equal, variables["params"], lite0.model.params)
    images = _photo("chelsea", 96)
    spec = lite0.model.input_spec
    x = (images - np.asarray(spec.mean, np.float32)) / np.asarray(spec.std, np.float32)
    logits, layers = jax.jit(lambda v, x: (module.apply(v, x), module.apply(v, x, stop_at="stage3")))(variables, x)
    want = jax.jit(lambda p, x: lite0.model.apply(p, x, ["logits", "stage3"]))(lite0.model.params, images)
    np.testing.assert_allclose(logits, want["logits"], rtol=1e-5, atol=1e-5)
    last = efficientnet_lite._stage_aliases(module.blocks)["stage3"]  # stage3 is an alias of this block
    order = module.layer_order()
    assert set(layers) == {*order[: order.index(last) + 1], "stage3"}
    np.testing.assert_array_equal(layers["stage3"], layers[last])
    np.testing.assert_allclose(layers["stage3"], want["stage3"], rtol=1e-5, atol=1e-4)
    with pytest.raises(UnknownNameError, match="'head'"):
        module.apply(variables, x, stop_at="haed")


def test_pretrained_init_inside_a_users_module():
    """As a submodule of a user's model, the pretrained module's ``init`` gives the ImageNet
    weights (the new head is random); ``pretrained=False`` gives random weights of the same shapes."""
    import flax.linen as nn

    import dreamjax.zoo

    backbone, pretrained = dreamjax.zoo.efficientnet_lite0(pretrained=True)

    class WithHead(nn.Module):
        backbone: nn.Module

        @nn.compact
        def __call__(self, x):
            return nn.Dense(2)(self.backbone(x, stop_at="head")["head"].mean(axis=(1, 2)))

    x = jnp.zeros((1, 32, 32, 3), jnp.float32)
    init = jax.jit(WithHead(backbone).init)(jax.random.key(0), x)
    # Up to "head" only: the classifier (fc) is never used, so init leaves it out.
    used = {name: tree for name, tree in pretrained["params"].items() if not name.startswith("fc_")}
    jax.tree.map(np.testing.assert_array_equal, init["params"]["backbone"], used)
    assert init["params"]["Dense_0"]["kernel"].shape == (1280, 2)

    # pretrained=False: Flax's own initialisers (traced only: compiling init again is slow).
    def random_variables():
        module, variables = dreamjax.zoo.efficientnet_lite0(pretrained=False)
        assert module.initial is None and backbone.initial is not None
        return variables

    random_vars = jax.eval_shape(random_variables)
    assert jax.tree.map(jnp.shape, random_vars) == jax.tree.map(jnp.shape, pretrained)
