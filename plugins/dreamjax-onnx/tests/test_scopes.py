"""Module scopes as layer names, on real exports and on graphs named like other exporters'.

What the committed exports (``fixtures/networks``, see ``manifest.json``) are named like:
TorchScript (opsets 11, 13, 17) names nodes ``/inception3a/branch2/branch2.0/conv/Conv`` and
values ``/inception3a/branch2/branch2.0/conv/Conv_output_0``; the dynamo exporter (opset 18)
names values ``getitem_3``, ``relu_5``, ``cat`` and nodes ``node_Conv_315``, and the export
script strips its ``pkg.torch.onnx.name_scopes`` node metadata, so those files carry no scopes.
"""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
from onnx import helper

import scoped_graphs
from dreamjax_onnx.graph import node_reads, topological_order
from dreamjax_onnx.scopes import NAME_SCOPES_KEY, find_scopes

NETWORKS = Path(__file__).parent / "fixtures" / "networks"
MANIFEST = json.loads((NETWORKS / "manifest.json").read_text())["files"]
TORCHSCRIPT = sorted(f["file"] for f in MANIFEST if f["exporter"] == "torchscript")
DYNAMO = sorted(f["file"] for f in MANIFEST if f["exporter"] == "dynamo")


def _ranks(model: onnx.ModelProto) -> dict[str, tuple[int, int]]:
    """(element type, rank) of every value shape inference can type."""
    inferred = onnx.shape_inference.infer_shapes(model)
    out = {}
    for v in [*inferred.graph.value_info, *inferred.graph.output]:
        t = v.type.tensor_type
        if t.HasField("shape"):
            out[v.name] = (t.elem_type, len(t.shape.dim))
    return out


def scopes_of(model: onnx.ModelProto):
    ranks = _ranks(model)
    floats = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE}

    def keep(value):
        return value in ranks and ranks[value][0] in floats and ranks[value][1] >= 2

    inits = {t.name for t in model.graph.initializer} | {i.name for i in model.graph.input}
    nodes = topological_order(list(model.graph.node), inits)
    outputs = [o.name for o in model.graph.output]
    return find_scopes(nodes, outputs, keep, lambda v: keep(v) and ranks[v][1] == 4), nodes, keep


def brute_force_outputs(nodes, graph_outputs, keep) -> dict[str, str]:
    """For every TorchScript scope prefix ("/inception3a/branch2/"), its output by the definition.

    Inside = the node's name starts with the prefix; the output is the last kept value made
    inside that a node outside reads, or that is a graph output.
    """
    prefixes = {"/".join(n.name.split("/")[:i]) + "/" for n in nodes for i in range(2, n.name.count("/") + 1)}
    readers: dict[str, list[str]] = {}
    for node in nodes:
        for name in node_reads(node):
            readers.setdefault(name, []).append(node.name)
    found = {}
    for prefix in prefixes:
        for node in nodes:
            if not node.name.startswith(prefix):
                continue
            for value in node.output:
                used_outside = value in graph_outputs or any(not r.startswith(prefix) for r in readers.get(value, ()))
                if keep(value) and used_outside:
                    found[prefix] = value
    return found


@pytest.mark.parametrize("file", TORCHSCRIPT)
def test_torchscript_scopes_resolve_to_the_last_value_used_outside(file):
    model = onnx.load(NETWORKS / file)
    scopes, nodes, keep = scopes_of(model)
    want = brute_force_outputs(nodes, [o.name for o in model.graph.output], keep)
    assert set(scopes.names.values()) == set(want.values())
    # Each raw TorchScript prefix is a torch module path: /layer1/layer1.0/conv1/ -> layer1.0.conv1
    for prefix, value in want.items():
        parts = prefix.strip("/").split("/")
        path = parts[0]
        for previous, part in zip(parts, parts[1:]):
            path += part[len(previous):] if part.startswith(previous + ".") else "." + part
        assert scopes.names[path] == value, prefix


@pytest.mark.parametrize("opset", [11, 13, 17])
def test_googlenet_lists_its_modules_in_forward_order(opset):
    scopes, *_ = scopes_of(onnx.load(NETWORKS / f"googlenet_tiny-op{opset}.onnx"))
    assert scopes.listed == ("conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b",
                             "maxpool3", "inception4a", "avgpool")
    assert scopes.names["inception4a"] == "/inception4a/Concat_output_0"
    assert scopes.names["conv1"] == "/conv1/Relu_output_0"  # after the ReLU, not the Conv
    assert scopes.names["inception3b.branch2"] == scopes.names["inception3b.branch2.1"] == "/inception3b/branch2/branch2.1/Relu_output_0"


def test_containers_of_numbered_blocks_are_opened():
    resnet, *_ = scopes_of(onnx.load(NETWORKS / "resnet50_tiny-op13.onnx"))  # an nn.Sequential of the stages
    assert resnet.listed == ("0", "2", "3", "4.0", "4.1", "5.0", "5.1", "6.0", "7")
    assert resnet.names["5.1"] == resnet.names["5"] == "/5/5.1/relu_2/Relu_output_0"  # after the residual Add
    mobilenet, *_ = scopes_of(onnx.load(NETWORKS / "mobilenet_v2_tiny-op13.onnx"))
    assert mobilenet.listed == tuple(f"features.{i}" for i in range(9))
    assert mobilenet.names["features.3"] == "/features/features.3/Add_output_0"
    assert mobilenet.names["features.3.conv.0"] == "/features/features.3/conv/conv.0/conv.0.2/Clip_output_0"


def test_few_top_level_modules_are_opened_one_level():
    densenet, *_ = scopes_of(onnx.load(NETWORKS / "densenet_tiny-op13.onnx"))  # features, classifier
    assert densenet.listed[:5] == ("features.conv0", "features.relu0", "features.pool0", "features.denseblock1",
                                   "features.transition1")
    assert len(densenet.listed) >= 8


@pytest.mark.parametrize("file", DYNAMO)
def test_dynamo_exports_without_metadata_have_no_scopes(file):
    scopes, *_ = scopes_of(onnx.load(NETWORKS / file))
    assert scopes.names == {} and scopes.listed == ()


def test_caffe_zoo_names():
    scopes, *_ = scopes_of(scoped_graphs.caffe_googlenet())
    assert scopes.listed == ("conv1", "pool1", "conv2", "pool2", "inception_4b", "inception_4c", "pool4",
                             "inception_4d", "inception_4e")
    assert scopes.names["inception_4c"] == "inception_4c/output"
    assert scopes.names["pool1"] == "pool1/norm1"


def test_keras_tf2onnx_names_with_and_without_the_model_wrapper():
    scopes, *_ = scopes_of(scoped_graphs.keras_blocks())
    assert scopes.listed == ("stem", "block_1a", "block_1b", "block_2a", "block_2b", "block_4a", "block_4b",
                             "block_4c", "block_4e", "global_average_pooling2d")
    assert scopes.names["block_4c"] == scopes.names["model/block_4c"] == "model/block_4c/out/Relu:0"
    assert scopes.names["block_4c/add"] == "model/block_4c/add/add:0"
    assert "model" in scopes.names  # the wrapper itself: the last activation it hands out


def test_dynamo_name_scopes_metadata():
    scopes, *_ = scopes_of(scoped_graphs.dynamo_resnet())
    assert scopes.listed == ("conv1", "relu", "maxpool", "layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0",
                             "layer3.1", "avgpool")
    assert scopes.names["layer2.0"] == "relu_8"  # the ReLU after the Add, not the Add
    assert scopes.names["layer2"] == scopes.names["layer2.1"] == "relu_11"
    assert scopes.names["layer2.0.downsample"] == "conv2d_9"


@pytest.mark.parametrize("metadata", ["not a list", "['', 1, 'x']", "[" * 200, "['', '" + "a" * 200_000 + "', 'x']"])
def test_unreadable_metadata_falls_back_to_names(metadata):
    node = helper.make_node("Relu", ["x"], ["block/relu"], name="")
    node.metadata_props.add(key=NAME_SCOPES_KEY, value=metadata)
    scopes = find_scopes([node], ["block/relu"], keep=lambda v: True)
    assert scopes.names == {"block": "block/relu"}


def test_graphs_without_scopes():
    nodes = [helper.make_node("Relu", ["x"], ["relu1"]), helper.make_node("Relu", ["relu1"], ["/relu2_output_0"], name="/Relu")]
    assert find_scopes(nodes, ["/relu2_output_0"], keep=lambda v: True).names == {}


def test_values_nobody_keeps_are_never_outputs():
    # Shape arithmetic (kept out by `keep`) used outside its scope does not stand for the scope.
    nodes = [
        helper.make_node("Relu", ["x"], ["/a/Relu_output_0"], name="/a/Relu"),
        helper.make_node("Shape", ["/a/Relu_output_0"], ["/a/Shape_output_0"], name="/a/Shape"),
        helper.make_node("Reshape", ["/a/Relu_output_0", "/a/Shape_output_0"], ["/Reshape_output_0"], name="/Reshape"),
    ]
    scopes = find_scopes(nodes, ["/Reshape_output_0"], keep=lambda v: "Shape" not in v)
    assert scopes.names == {"a": "/a/Relu_output_0"}
