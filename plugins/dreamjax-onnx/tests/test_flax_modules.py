"""ONNX graphs as Flax modules: ``to_nnx`` and ``to_linen``.

* Both match onnxruntime on committed exporter output (BatchNormalization statistics, depthwise
  convolutions, LayerNormalization and scalar constants) at the export size and at a second,
  odd size with another batch; tolerance as ``test_real_networks.py`` (1e-4 of the scale).
* The README's two examples run as they stand: a head trained with optax on a frozen backbone
  (the loss falls, the backbone does not move by a bit), saved and restored with orbax.
* NNX: variable kinds, capture, several outputs, input gradients, split / merge. Linen: ``init``
  returns the model's weights, also as a submodule. ``to_onnx`` gives back a model onnxruntime
  runs with the trained weights. Errors are one line, the same as ``to_jax``'s.
"""

from __future__ import annotations

import re
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import onnx
import pytest
from flax import nnx
from onnx import TensorProto, helper, numpy_helper
from test_real_networks import ATOL, FIXTURES, MANIFEST, RTOL, images, ort_values, resnet_style

from dreamjax_onnx import Constant, OnnxGraphError, UnsupportedOpsError, to_jax, to_linen, to_nnx

PLUGIN = Path(__file__).parents[1]


def assert_close_to(got, want):
    """``|got - want| <= RTOL * |want| + ATOL * max|want|`` per element."""
    got, want = np.asarray(got, np.float64), np.asarray(want)
    assert got.shape == want.shape
    np.testing.assert_array_less(np.abs(got - want), RTOL * np.abs(want) + ATOL * np.abs(want).max() + 1e-7)


# --- real networks against onnxruntime ----------------------------------------------------

NETWORKS = ["densenet_tiny-op13.onnx", "mobilenet_v2_tiny-op17.onnx", "convnext_tiny_tiny-op18.onnx"]


@pytest.mark.parametrize("file", NETWORKS, ids=[f[:-5] for f in NETWORKS])
def test_nnx_and_linen_match_onnxruntime_at_two_sizes(file):
    entry = next(e for e in MANIFEST if e["file"] == file)
    model = onnx.load(FIXTURES / file)
    module = to_nnx(model)
    linen, variables = to_linen(model)
    nnx_forward = nnx.jit(lambda m, x: m(x))
    linen_forward = jax.jit(linen.apply)
    for x in (images(1, *entry["export_size"], seed=1), images(2, *entry["second_size"], seed=2)):
        want = ort_values(model, {"input": x}, ["logits"])["logits"]
        assert_close_to(nnx_forward(module, x), want)
        assert_close_to(linen_forward(variables, x), want)


def test_variables_by_kind():
    """Weights are nnx.Param; BatchNormalization statistics nnx.BatchStat; the scalars an
    exporter stores for GELU are Constants; Linen has the same split in its collections."""
    densenet = to_nnx(FIXTURES / "densenet_tiny-op13.onnx")
    model = onnx.load(FIXTURES / "densenet_tiny-op13.onnx")
    stats = {n.input[i] for n in model.graph.node if n.op_type == "BatchNormalization" for i in (3, 4)}
    assert set(nnx.state(densenet, nnx.BatchStat)["initializers"]) == stats
    assert set(nnx.state(densenet, nnx.Param)["initializers"]) == {t.name for t in model.graph.initializer} - stats

    convnext = to_nnx(FIXTURES / "convnext_tiny_tiny-op18.onnx")
    constants = nnx.state(convnext, Constant)["initializers"]
    assert len(constants) == 3 and all(np.size(v.get_value()) == 1 for v in constants.values())
    _, variables = to_linen(FIXTURES / "convnext_tiny_tiny-op18.onnx")
    assert set(variables) == {"params", "constants"} and set(variables["constants"]) == set(constants)
    assert set(variables["params"]) == set(nnx.state(convnext, nnx.Param)["initializers"])


# --- the README examples ------------------------------------------------------------------

def readme_example(tag: str) -> str:
    text = (PLUGIN / "README.md").read_text()
    found = re.search(rf"<!-- example: {tag} -->\n```python\n(.*?)```", text, re.S)
    assert found, f"README.md has no '{tag}' example"
    return found.group(1)


def run_readme_example(tag: str, monkeypatch) -> dict:
    monkeypatch.chdir(PLUGIN)  # the examples name the fixtures relative to the plugin
    namespace: dict = {}
    exec(compile(readme_example(tag), f"README.md ({tag} example)", "exec"), namespace)
    return namespace


def test_readme_nnx_example_trains_a_head_on_a_frozen_backbone(monkeypatch):
    ns = run_readme_example("nnx", monkeypatch)
    losses = ns["losses"]
    assert losses[-1] < 0.75 * losses[0] and max(losses[-5:]) < min(losses[:5]), losses
    model = ns["model"]
    jax.tree.map(np.testing.assert_array_equal, ns["frozen"], nnx.state(model.backbone))
    for name, array in model.backbone.onnx_initializers().items():  # still the file's weights
        np.testing.assert_array_equal(array, numpy_helper.to_array(_initializer(ns["NET"], name)))
    untrained = ns["Classifier"](nnx.Rngs(0)).head
    assert not np.array_equal(untrained.kernel.get_value(), model.head.kernel.get_value())


def test_readme_linen_example_trains_a_dense_head_on_a_frozen_backbone(monkeypatch):
    ns = run_readme_example("linen", monkeypatch)
    losses = ns["losses"]
    assert losses[-1] < 0.75 * losses[0], losses
    trained = ns["variables"]["params"]
    jax.tree.map(np.testing.assert_array_equal, trained["backbone"], ns["onnx_variables"]["params"])
    assert set(trained) == {"backbone", "Dense_0"}


def _initializer(path: str, name: str) -> onnx.TensorProto:
    return next(t for t in onnx.load(PLUGIN / path).graph.initializer if t.name == name)


# --- NNX on small graphs ------------------------------------------------------------------

def two_output_model() -> onnx.ModelProto:
    """Conv -> Relu, both values outputs, plus a second data input added to the Relu."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["conv"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["conv"], ["relu"]),
             helper.make_node("Add", ["relu", "offset"], ["out"])]
    graph = helper.make_graph(
        nodes, "two", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"]),
                       helper.make_tensor_value_info("offset", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("conv", TensorProto.FLOAT, None)], [w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_outputs_capture_and_input_gradient():
    model = two_output_model()
    module = to_nnx(model)
    fn, params = to_jax(model)
    x, offset = jnp.asarray(images(2, 6, 5, seed=3)), jnp.asarray([0.5], jnp.float32)
    assert module.inputs == ("x", "offset") and module.outputs == ("out", "conv")

    out, conv = nnx.jit(lambda m, x, o: m(x, o))(module, x, offset)  # several outputs: a tuple
    want = fn(params, x, offset)
    np.testing.assert_array_equal(out, want[0])
    np.testing.assert_array_equal(conv, want[1])
    captured = nnx.jit(lambda m, x, o: m(x, o, capture=["relu", "conv"]))(module, x, offset)
    assert set(captured) == {"relu", "conv"}
    np.testing.assert_array_equal(captured["relu"], fn.capture(params, x, offset, names=["relu"])["relu"])

    def loss(m, x):
        return jnp.sum(m(x, offset)[0] ** 2)

    dx = nnx.jit(nnx.grad(loss, argnums=1))(module, x)
    want_dx = jax.grad(lambda x: jnp.sum(fn(params, x, offset)[0] ** 2))(x)
    np.testing.assert_allclose(dx, want_dx, rtol=1e-6, atol=1e-6)


def test_split_merge_and_state_round_trip():
    module = to_nnx(resnet_style(17))
    x = images(2, 33, 30, seed=4)
    graphdef, params, rest = nnx.split(module, nnx.Param, ...)
    assert set(nnx.state(module, nnx.BatchStat)["initializers"]) <= set(rest["initializers"])

    @jax.jit
    def forward(params, rest, x):  # pure jax over the split state
        return nnx.merge(graphdef, params, rest)(x)

    np.testing.assert_array_equal(forward(params, rest, x), nnx.jit(lambda m, x: m(x))(module, x))
    doubled = jax.tree.map(lambda v: v * 2, params)
    assert not np.allclose(forward(doubled, rest, x), forward(params, rest, x))


def test_orbax_restores_every_kind_of_variable(tmp_path):
    """Params, BatchNormalization statistics and Constants, into an abstract module."""
    import orbax.checkpoint as ocp

    model = onnx.load(FIXTURES / "convnext_tiny_tiny-op18.onnx")
    module = to_nnx(resnet_style(17))
    convnext = to_nnx(model)
    for variable in module.initializers.values():  # not the file's values: the saved ones must come back
        variable.set_value(variable.get_value() + 1)
    checkpointer = ocp.StandardCheckpointer()
    for m in (module, convnext):
        checkpointer.save(tmp_path / str(id(m)), nnx.state(m))
    checkpointer.wait_until_finished()
    for m, source in ((module, resnet_style(17)), (convnext, model)):
        graphdef, abstract = nnx.split(nnx.eval_shape(lambda source=source: to_nnx(source)))
        restored = nnx.merge(graphdef, checkpointer.restore(tmp_path / str(id(m)), abstract))
        kinds = {type(v) for v in restored.initializers.values()}
        assert kinds == {type(v) for v in m.initializers.values()} and len(kinds) == 2
        for name, variable in m.initializers.items():
            np.testing.assert_array_equal(restored.initializers[name].get_value(), variable.get_value(), err_msg=name)


# --- Linen ----------------------------------------------------------------------------------

def test_linen_init_returns_onnx_weights_inside_a_users_module():
    backbone, variables = to_linen(resnet_style(17))
    assert set(variables) == {"params", "batch_stats"}

    class WithHead(nn.Module):
        backbone: nn.Module

        @nn.compact
        def __call__(self, x):
            return nn.Dense(3)(nn.relu(self.backbone(x)))

    x = images(2, 40, 36, seed=5)
    model = WithHead(backbone)
    init = jax.jit(model.init)(jax.random.key(0), x)
    for collection in ("params", "batch_stats"):
        jax.tree.map(np.testing.assert_array_equal, init[collection]["backbone"], variables[collection])
    assert set(init["params"]) == {"backbone", "Dense_0"}
    alone = jax.jit(backbone.init)(jax.random.key(1), x)
    jax.tree.map(np.testing.assert_array_equal, alone, variables)

    got = jax.jit(model.apply)(init, x)
    features = jax.jit(backbone.apply)(variables, x)
    dense = init["params"]["Dense_0"]
    np.testing.assert_allclose(got, nn.relu(features) @ dense["kernel"] + dense["bias"], rtol=1e-5, atol=1e-6)


# --- back to ONNX ---------------------------------------------------------------------------

def test_to_onnx_carries_trained_weights_to_onnxruntime():
    model = resnet_style(17)
    module = to_nnx(model)
    untouched = module.to_onnx()
    for a, b in zip(untouched.graph.initializer, model.graph.initializer):
        assert a.name == b.name
        np.testing.assert_array_equal(numpy_helper.to_array(a), numpy_helper.to_array(b))

    rng = np.random.default_rng(6)  # "training": move every weight and statistic
    for variable in module.initializers.values():
        value = np.asarray(variable.get_value())
        variable.set_value(jnp.asarray(value * rng.uniform(0.5, 1.5, value.shape).astype(value.dtype)))
    x = images(2, 40, 36, seed=7)
    want = nnx.jit(lambda m, x: m(x))(module, x)
    exported = module.to_onnx()
    onnx.checker.check_model(exported)
    assert_close_to(want, ort_values(exported, {"x": x}, [model.graph.output[0].name])[model.graph.output[0].name])

    linen, variables = to_linen(model)
    state = {n: np.asarray(v.get_value()) for n, v in module.initializers.items()}
    trained = {c: {n: state[n] for n in names} for c, names in variables.items()}
    assert linen.to_onnx(trained).SerializeToString() == exported.SerializeToString()


# --- errors ---------------------------------------------------------------------------------

def test_unsupported_ops_give_to_jaxs_one_message():
    node = helper.make_node("DFT", ["x"], ["y"], name="spectrum")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(UnsupportedOpsError) as by_jax:
        to_jax(model)
    for convert in (to_nnx, to_linen):
        with pytest.raises(UnsupportedOpsError) as by_flax:
            convert(model)
        assert str(by_flax.value) == str(by_jax.value)
        assert "\n" not in str(by_flax.value) and "'spectrum'" in str(by_flax.value)


def test_weights_exported_as_inputs_are_refused_with_a_hint():
    """With its weights as graph inputs (export_params=False) nothing tells the image from a
    weight; to_jax takes every input, the modules refuse with one line saying why."""
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("x", "w", "b")],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    assert to_jax(model)[0].inputs == ("x", "w", "b")
    for convert in (to_nnx, to_linen):
        with pytest.raises(OnnxGraphError, match=r"3 inputs \['x', 'w', 'b'\] and has no weights") as info:
            convert(model)
        assert "export_params=True" in str(info.value) and "\n" not in str(info.value)


def test_bad_calls_get_one_line():
    module = to_nnx(two_output_model())
    x = images(1, 4, 4, seed=8)
    with pytest.raises(OnnxGraphError, match=r"takes 2 input\(s\) \['x', 'offset'\], got 1"):
        module(x)
    with pytest.raises(OnnxGraphError, match=r"capture='relu' is a string"):
        module(x, np.zeros(1, np.float32), capture="relu")
    with pytest.raises(KeyError, match="unknown ONNX value 'rleu'.*'relu'"):
        module(x, np.zeros(1, np.float32), capture=["rleu"])
    with pytest.raises(OnnxGraphError, match="not variables of this model"):
        module.graph.to_onnx({"nonsense": np.zeros(1)})
