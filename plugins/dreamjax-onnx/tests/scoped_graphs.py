"""Small convolutional graphs named the way other exporters name theirs, built with onnx.helper.

- :func:`caffe_googlenet`: the ONNX model zoo's Caffe-era GoogLeNet naming (value names only,
  nodes unnamed): ``conv1/7x7_s2``, ``inception_4c/1x1``, ``inception_4c/output``.
- :func:`keras_blocks`: tf2onnx's naming of a Keras model: nodes ``model/block_4c/conv/Conv2D``,
  values ``model/block_4c/conv/Conv2D:0``, a few root-level nodes outside ``model/``.
- :func:`dynamo_resnet`: the dynamo exporter's names (``conv2d_3``, ``relu_2``) with its node
  metadata ``pkg.torch.onnx.name_scopes`` kept.

Random weights; the names and the wiring are what the tests look at.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from onnx_helpers import IR_VERSION

SIZE = 64


class GraphBuilder:
    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: dict[str, np.ndarray] = {}

    def op(self, op_type: str, inputs: list[str], output: str, name: str = "", scopes: list[str] | None = None, **attrs):
        node = helper.make_node(op_type, inputs, [output], name=name, **attrs)
        if scopes is not None:
            node.metadata_props.add(key="pkg.torch.onnx.name_scopes", value=repr(["", *scopes, output]))
        self.nodes.append(node)
        return output

    def conv(self, x: str, output: str, cin: int, cout: int, k: int = 3, stride: int = 1, weights: str = "", **kw):
        weights = weights or output
        self.inits[f"{weights}_w"] = self.rng.normal(0, (2 / (k * k * cin)) ** 0.5, (cout, cin, k, k)).astype(np.float32)
        self.inits[f"{weights}_b"] = self.rng.normal(0, 0.1, cout).astype(np.float32)
        return self.op("Conv", [x, f"{weights}_w", f"{weights}_b"], output, kernel_shape=[k, k], strides=[stride, stride],
                       pads=[k // 2] * 4, **kw)

    def classifier(self, x: str, cin: int, flat: str, output: str, **kw):
        self.inits["fc_w"] = self.rng.normal(0, 0.1, (cin, 1000)).astype(np.float32)
        self.op("Flatten", [x], flat, **kw.get("flatten", {}))
        return self.op("MatMul", [flat, "fc_w"], output, **kw.get("matmul", {}))

    def model(self, output: str) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes, "scoped", [helper.make_tensor_value_info("data", onnx.TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
            [helper.make_tensor_value_info(output, onnx.TensorProto.FLOAT, [1, 1000])],
            [numpy_helper.from_array(v, k) for k, v in self.inits.items()],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model)
        return model


def caffe_googlenet() -> onnx.ModelProto:
    g = GraphBuilder(1)
    x = g.op("Relu", [g.conv("data", "conv1/7x7_s2", 3, 8, 7, 2)], "conv1/relu_7x7")
    x = g.op("MaxPool", [x], "pool1/3x3_s2", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    x = g.op("LRN", [x], "pool1/norm1", size=5)
    x = g.op("Relu", [g.conv(x, "conv2/3x3", 8, 16)], "conv2/relu_3x3")
    x = g.op("MaxPool", [x], "pool2/3x3_s2", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin = 16
    for block in ("inception_4b", "inception_4c", "inception_4d", "inception_4e"):
        one = g.op("Relu", [g.conv(x, f"{block}/1x1", cin, 8, 1)], f"{block}/relu_1x1")
        red = g.op("Relu", [g.conv(x, f"{block}/3x3_reduce", cin, 4, 1)], f"{block}/relu_3x3_reduce")
        three = g.op("Relu", [g.conv(red, f"{block}/3x3", 4, 8)], f"{block}/relu_3x3")
        pool = g.op("MaxPool", [x], f"{block}/pool", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
        proj = g.op("Relu", [g.conv(pool, f"{block}/pool_proj", cin, 4, 1)], f"{block}/relu_pool_proj")
        x, cin = g.op("Concat", [one, three, proj], f"{block}/output", axis=1), 20
        if block == "inception_4c":
            x = g.op("MaxPool", [x], "pool4/3x3_s2", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    x = g.op("GlobalAveragePool", [x], "pool5/7x7_s1")
    g.classifier(x, cin, "pool5/7x7_s1_flat", "loss3/classifier")
    g.op("Softmax", ["loss3/classifier"], "prob")
    return g.model("prob")


def keras_blocks() -> onnx.ModelProto:
    g = GraphBuilder(2)

    def scoped(op_type, inputs, path, **attrs):  # tf2onnx: node "path", value "path:0"
        return g.op(op_type, inputs, f"{path}:0", name=path, **attrs)

    def conv(x, path, cin, cout, **kw):
        return g.conv(x, f"{path}/Conv2D:0", cin, cout, name=f"{path}/Conv2D", weights=path, **kw)

    x = g.op("Sub", ["data", "mean"], "sub__3:0", name="sub__3")  # preprocessing outside the model scope
    g.inits["mean"] = np.full((1, 3, 1, 1), 0.5, np.float32)
    x = scoped("Relu", [conv(x, "model/stem/conv", 3, 8, stride=2)], "model/stem/relu/Relu")
    cin = 8
    for block in ("block_1a", "block_1b", "block_2a", "block_2b", "block_4a", "block_4b", "block_4c", "block_4e"):
        stride = 2 if block.endswith("a") else 1
        cout = cin * stride
        y = scoped("Relu", [conv(x, f"model/{block}/conv1", cin, cout, stride=stride)], f"model/{block}/relu1/Relu")
        y = conv(y, f"model/{block}/conv2", cout, cout)
        short = conv(x, f"model/{block}/shortcut", cin, cout, k=1, stride=stride) if stride > 1 else x
        y = scoped("Add", [y, short], f"model/{block}/add/add")
        x, cin = scoped("Relu", [y], f"model/{block}/out/Relu"), cout
    x = scoped("ReduceMean", [x], "model/global_average_pooling2d/Mean", axes=[2, 3], keepdims=1)
    g.classifier(x, cin, "model/flatten/Reshape:0", "model/dense/MatMul:0",
                 flatten=dict(name="model/flatten/Reshape"), matmul=dict(name="model/dense/MatMul"))
    g.op("Identity", ["model/dense/MatMul:0"], "dense", name="Identity")
    return g.model("dense")


def dynamo_resnet() -> onnx.ModelProto:
    g = GraphBuilder(3)
    x = g.op("Relu", [g.conv("data", "conv2d", 3, 8, 7, 2, name="node_Conv_0", scopes=["conv1"])], "relu", name="node_relu",
             scopes=["relu"])
    x = g.op("MaxPool", [x], "max_pool2d", name="node_max_pool2d", scopes=["maxpool"], kernel_shape=[3, 3], strides=[2, 2],
             pads=[1, 1, 1, 1])
    cin, n = 8, 1
    for stage in ("layer1", "layer2", "layer3"):
        for b in range(2):
            block, stride = f"{stage}.{b}", 2 if b == 0 and stage != "layer1" else 1
            cout = cin * stride
            at = [stage, block]
            y = g.conv(x, f"conv2d_{n}", cin, cout, stride=stride, name=f"node_Conv_{n}", scopes=[*at, f"{block}.conv1"])
            y = g.op("Relu", [y], f"relu_{n}", name=f"node_relu_{n}", scopes=[*at, f"{block}.relu"])
            y = g.conv(y, f"conv2d_{n + 1}", cout, cout, name=f"node_Conv_{n + 1}", scopes=[*at, f"{block}.conv2"])
            if stride > 1:
                x = g.conv(x, f"conv2d_{n + 2}", cin, cout, 1, stride, name=f"node_Conv_{n + 2}",
                           scopes=[*at, f"{block}.downsample", f"{block}.downsample.0"])
            y = g.op("Add", [y, x], f"add_{n}", name=f"node_add_{n}", scopes=at)
            x, cin, n = g.op("Relu", [y], f"relu_{n + 1}", name=f"node_relu_{n + 1}", scopes=[*at, f"{block}.relu"]), cout, n + 3
    x = g.op("GlobalAveragePool", [x], "mean", name="node_mean", scopes=["avgpool"])
    g.classifier(x, cin, "view", "linear", flatten=dict(name="node_view"), matmul=dict(name="node_linear", scopes=["fc"]))
    return g.model("linear")
