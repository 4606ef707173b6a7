"""The ``onnx`` entry point: discovery, DreamModel contract, normalisation, layouts, logits."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import onnx
import pytest
from onnx import helper
from onnx_helpers import make_model

import dreamjax
from dreamjax.backends import discover
from dreamjax.errors import DreamjaxError, UnknownNameError
from dreamjax.model import Backend, DreamModel
from dreamjax_onnx.plugin import IMAGENET_MEAN, IMAGENET_STD, backend


def tiny_classifier(path, classes=1000, size=None):
    """conv(3->8, s2) -> relu -> maxpool(ceil) -> conv(8->16) -> relu -> GAP -> flatten -> gemm."""
    rng = np.random.default_rng(0)
    f = np.float32
    inits = {
        "w1": (rng.standard_normal((8, 3, 3, 3)) * 0.3).astype(f), "b1": rng.standard_normal(8).astype(f),
        "w2": (rng.standard_normal((16, 8, 3, 3)) * 0.2).astype(f),
        "fc": (rng.standard_normal((classes, 16)) * 0.1).astype(f), "fcb": np.zeros(classes, f),
    }
    nodes = [
        helper.make_node("Conv", ["image", "w1", "b1"], ["conv1"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["conv1"], ["relu1"]),
        helper.make_node("MaxPool", ["relu1"], ["pool1"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
        helper.make_node("Conv", ["pool1", "w2"], ["conv2"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv2"], ["relu2"]),
        helper.make_node("GlobalAveragePool", ["relu2"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["flat"]),
        helper.make_node("Gemm", ["flat", "fc", "fcb"], ["logits"], transB=1),
    ]
    x = np.zeros((1, 3, size or 64, size or 64), f)
    model = make_model(nodes, {"image": x}, ["logits"], 17, inits, dynamic=size is None)
    if size is None:  # batch and spatial dims left open, as exporters with dynamic_axes do
        dims = model.graph.input[0].type.tensor_type.shape.dim
        for d, p in zip(dims, ["N", None, "H", "W"]):
            if p:
                d.dim_param = p
            else:
                d.dim_value = 3
    onnx.save(model, path)
    return str(path)


def test_entry_point_is_discovered():
    found = discover()
    assert any(b.name == "onnx" for b in found.backends), found.broken
    assert isinstance(backend, Backend)
    assert backend.accepts("net.onnx") and backend.accepts("NET.ONNX") and not backend.accepts("efficientnet_lite0")
    assert backend.available() == []


def test_load_through_dreamjax(tmp_path):
    model = dreamjax.load_model(tiny_classifier(tmp_path / "tiny.onnx"))
    assert isinstance(model, DreamModel)
    assert model.name == "tiny"
    names = [layer.name for layer in model.layers]
    assert names == ["conv1", "relu1", "pool1", "conv2", "relu2", "gap"]
    info = {layer.name: layer for layer in model.layers}
    assert (info["conv1"].channels, info["conv1"].spatial) == (8, (112, 112))  # open size -> 224
    assert (info["pool1"].channels, info["pool1"].spatial) == (8, (56, 56))
    assert model.input_spec.native_size == (224, 224)
    assert model.input_spec.mean == IMAGENET_MEAN and model.input_spec.std == IMAGENET_STD
    assert model.logits_layer == "logits"
    assert model.class_names is None or len(model.class_names) == 1000


def test_fixed_input_size_comes_from_the_graph(tmp_path):
    model = backend.load(tiny_classifier(tmp_path / "fixed.onnx", size=96))
    assert model.input_spec.native_size == (96, 96)


def test_apply_normalises_transposes_and_returns_nhwc(tmp_path):
    model = backend.load(tiny_classifier(tmp_path / "tiny.onnx"))
    images = jnp.asarray(np.random.default_rng(1).uniform(size=(2, 40, 56, 3)).astype(np.float32))
    out = jax.jit(lambda p, x: model.apply(p, x, ["relu1", "logits"]))(model.params, images)
    assert out["relu1"].shape == (2, 20, 28, 8) and out["logits"].shape == (2, 1000)
    nchw = ((images - jnp.asarray(IMAGENET_MEAN)) / jnp.asarray(IMAGENET_STD)).transpose(0, 3, 1, 2)
    direct = model.fn.capture(model.params, nchw, names=["relu1", "logits"])
    np.testing.assert_allclose(np.asarray(out["relu1"]), np.asarray(direct["relu1"]).transpose(0, 2, 3, 1), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.asarray(out["logits"]), np.asarray(direct["logits"]), rtol=1e-6, atol=1e-6)


def test_gradient_of_a_layer_wrt_the_image(tmp_path):
    model = backend.load(tiny_classifier(tmp_path / "tiny.onnx"))
    images = jnp.full((1, 48, 48, 3), 0.5, jnp.float32)
    g = jax.jit(jax.grad(lambda x: jnp.mean(model.apply(model.params, x, ["pool1"])["pool1"] ** 2)))(images)
    assert g.shape == images.shape and bool(jnp.all(jnp.isfinite(g))) and float(jnp.abs(g).max()) > 0


def test_options_and_non_classifier(tmp_path):
    model = backend.load(tiny_classifier(tmp_path / "t.onnx", classes=10), mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), size=128)
    assert model.logits_layer is None and model.class_names is None
    assert model.input_spec.native_size == (128, 128) and model.input_spec.mean == (0.5, 0.5, 0.5)
    assert model.input_spec.min_size <= 32
    with pytest.raises(DreamjaxError, match="unknown option"):
        backend.load(str(tmp_path / "t.onnx"), colour="blue")


def test_unknown_layer_names_get_suggestions(tmp_path):
    model = backend.load(tiny_classifier(tmp_path / "tiny.onnx"))
    with pytest.raises(UnknownNameError, match="relu1"):
        model.apply(model.params, jnp.zeros((1, 32, 32, 3)), ["relu_1"])
