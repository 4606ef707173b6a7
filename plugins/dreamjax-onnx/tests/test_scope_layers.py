"""Scope names through dreamjax: the model's layers, objectives, config files and the CLI.

The real network is the committed TorchScript export of a width-reduced torchvision GoogLeNet
(``googlenet_tiny``: inception3a, 3b and 4a; the full network's 4c is tested by name on the
Caffe-style graph).
"""

from __future__ import annotations

import io
import re

import jax
import jax.numpy as jnp
import numpy as np
import onnx
import pytest
from PIL import Image
from rich.console import Console

import dreamjax
import scoped_graphs
from dreamjax.cli import build_parser, main
from dreamjax.cli.dream import prepare
from dreamjax.cli.layers import layer_table
from dreamjax.cli.settings import resolve
from dreamjax.errors import DreamjaxError, UnknownNameError
from dreamjax.model import every_layer, find_layer
from dreamjax.ascent.objectives import build_objective, default_layer

from test_scopes import NETWORKS

GOOGLENET = NETWORKS / "googlenet_tiny-op13.onnx"
MODULES = ["conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b", "maxpool3", "inception4a", "avgpool"]


@pytest.fixture(scope="module")
def googlenet():
    return dreamjax.load_model(str(GOOGLENET))


@pytest.fixture(scope="module")
def caffe(tmp_path_factory):
    path = tmp_path_factory.mktemp("caffe") / "bvlc_googlenet.onnx"
    onnx.save(scoped_graphs.caffe_googlenet(), path)
    return dreamjax.load_model(str(path))


def test_layers_are_the_modules_and_all_layers_every_value(googlenet):
    assert [layer.name for layer in googlenet.layers] == MODULES
    values = [n.output[0] for n in onnx.load(GOOGLENET).graph.node if n.op_type in ("Conv", "Relu", "MaxPool", "Concat")]
    assert [layer.name for layer in every_layer(googlenet)] == [*values, "/avgpool/GlobalAveragePool_output_0"]
    concat = find_layer(googlenet, "/inception4a/Concat_output_0")
    assert concat.aliases == ("inception4a",) and concat.description == "Concat"
    assert (find_layer(googlenet, "inception4a").channels, find_layer(googlenet, "inception4a").spatial) == (64, (14, 14))
    assert default_layer(googlenet) in MODULES


def test_a_scope_captures_its_output_value(googlenet):
    images = jnp.asarray(np.random.default_rng(0).uniform(size=(2, 64, 48, 3)).astype(np.float32))
    names = ["inception4a", "/inception4a/Concat_output_0", "inception3b.branch2", "/inception3b/branch2/branch2.1/Relu_output_0"]
    got = jax.jit(lambda p, x: googlenet.apply(p, x, names))(googlenet.params, images)
    assert set(got) == set(names) and got["inception4a"].shape == (2, 4, 3, 64)
    np.testing.assert_array_equal(np.asarray(got["inception4a"]), np.asarray(got["/inception4a/Concat_output_0"]))
    np.testing.assert_array_equal(np.asarray(got["inception3b.branch2"]), np.asarray(got["/inception3b/branch2/branch2.1/Relu_output_0"]))


def test_objectives_take_scope_names(googlenet):
    objective = build_objective(googlenet, "inception4a:2,inception3b.branch2[0-3]:0.5")
    assert objective.describe() == "inception4a:2.0,inception3b.branch2[0-3]:0.5"
    with pytest.raises(DreamjaxError, match=r"inception3b.branch2 has channels 0\.\.23"):
        build_objective(googlenet, "inception3b.branch2[24]")


def test_unknown_names_suggest_scopes_first(googlenet, caffe):
    with pytest.raises(UnknownNameError) as err:
        find_layer(googlenet, "branch4")
    assert err.value.suggestions == ["inception3a.branch4", "inception3b.branch4", "inception4a.branch4"]
    with pytest.raises(UnknownNameError) as err:
        find_layer(caffe, "inception4c")
    assert err.value.suggestions == ["inception_4c", "inception_4b", "inception_4d"]
    with pytest.raises(UnknownNameError) as err:
        find_layer(caffe, "inception_4c/outptu")
    assert err.value.suggestions[:2] == ["inception_4c", "inception_4c/output"]


def test_caffe_style_graph_dreams_by_scope(caffe):
    assert [layer.name for layer in caffe.layers][4:6] == ["inception_4b", "inception_4c"]
    assert find_layer(caffe, "inception_4c/output").aliases == ("inception_4c",)
    got = caffe.apply(caffe.params, jnp.full((1, 64, 64, 3), 0.5), ["inception_4c", "inception_4c/output"])
    np.testing.assert_array_equal(np.asarray(got["inception_4c"]), np.asarray(got["inception_4c/output"]))


def test_a_value_name_wins_over_a_scope_of_the_same_name(tmp_path):
    g = scoped_graphs.GraphBuilder()
    g.op("Relu", [g.conv("data", "conv1", 3, 8)], "conv1/relu")  # value "conv1" and scope "conv1" (= conv1/relu)
    g.classifier(g.op("GlobalAveragePool", ["conv1/relu"], "pool"), 8, "flat", "logits")
    onnx.save(g.model("logits"), tmp_path / "clash.onnx")
    model = dreamjax.load_model(str(tmp_path / "clash.onnx"))
    got = model.apply(model.params, jnp.full((1, 64, 64, 3), 0.5), ["conv1", "conv1/relu"])
    assert float(jnp.min(got["conv1"])) < 0 <= float(jnp.min(got["conv1/relu"]))  # the Conv, before its ReLU
    assert find_layer(model, "conv1").name == "conv1"


def test_graphs_without_scopes_list_their_values():
    model = dreamjax.load_model(str(NETWORKS / "googlenet_tiny-op18.onnx"))  # dynamo export, metadata stripped
    assert model.layers == every_layer(model)
    assert [layer.name for layer in model.layers][:3] == ["getitem", "relu", "max_pool2d"]


def test_config_files_take_scope_names(tmp_path):
    config = tmp_path / "dream.toml"
    config.write_text('[[objective]]\nlayer = "inception3b.branch2"\nchannels = [1]\nweight = 0.5\n'
                      '[[objective]]\nlayer = "inception4a"\n')
    args = build_parser().parse_args(["dream", "--model", str(GOOGLENET), "--config", str(config)])
    objective = prepare(args, resolve(args))[-1]
    assert objective.describe() == "inception3b.branch2[1]:0.5,inception4a"


def _table_names(text: str) -> list[str]:
    """The layer column of a rendered table, folded lines joined back."""
    names: list[str] = []
    for line in text.splitlines():
        cells = line.split("│")
        if len(cells) < 3:
            continue
        if cells[1].strip():
            names.append(cells[2].strip())
        elif names:
            names[-1] += cells[2].strip()
    return names


@pytest.mark.parametrize("everything", [False, True])
def test_the_table_shows_every_name_in_full_at_80_columns(googlenet, everything):
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(layer_table(googlenet, everything))
    text = console.export_text()
    assert max(map(len, text.splitlines())) <= 80 and "…" not in text
    assert _table_names(text) == [layer.name for layer in (every_layer(googlenet) if everything else googlenet.layers)]
    if not everything:
        assert "--all lists all 52 layers" in text


def test_layers_command(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["layers", str(GOOGLENET)]) == 0
    out = capsys.readouterr().out
    assert all(re.search(rf"│ {re.escape(name)}\s", out) for name in MODULES) and "…" not in out
    assert main(["layers", str(GOOGLENET), "--plain"]) == 0
    assert capsys.readouterr().out.splitlines() == MODULES
    assert main(["layers", str(GOOGLENET), "--plain", "--all"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 52


def test_dream_at_a_scope_through_the_cli(tmp_path, capsys):
    out = tmp_path / "dream.png"
    argv = ["dream", "--model", str(GOOGLENET), "--layer", "inception4a", "--from-noise", "--size", "64x64",
            "--octaves", "1", "--steps", "2", "--no-cache", "-o", str(out)]
    assert main(argv) == 0
    assert "at inception4a" in capsys.readouterr().err
    from dreamjax.files.starts import noise_image

    dreamed = np.asarray(Image.open(out), np.float32) / 255
    assert dreamed.shape == (64, 64, 3) and np.abs(dreamed - noise_image((64, 64), seed=0)).mean() > 1e-3
