"""Real networks through the converter, checked against onnxruntime value by value.

Three kinds of graphs:

- committed exporter output (``fixtures/networks``, made by ``scripts/export_networks.py``:
  width-reduced torchvision architectures with random weights, opsets 11/13/17 from the
  TorchScript exporter and 18 from the dynamo exporter, dynamic batch/height/width);
- graphs built here with ``onnx.helper`` for the patterns of classic classifiers that torch does
  not export the way older tools did (Caffe-style GoogLeNet with LRN and asymmetric pool pads,
  Inception-v3 branches, explicit BatchNormalization, Shape->Gather->Concat->Reshape heads,
  Clip/HardSigmoid/HardSwish, decomposed and fused LayerNorm), each at several opsets;
- optionally, full-size exports (``DREAMJAX_ONNX_NETWORKS=dir``, slow tier).

Each check compares the graph outputs *and every intermediate value* (all node outputs: float
activations and the int64 shape chains) with onnxruntime, which is asked for them by adding
them as extra graph outputs to a copy of the model. It runs at the export size and at a second,
odd, non-square size with another batch, so shapes pinned to the export size, wrong ceil_mode
pooling or shape chains evaluated at the wrong size all fail.

Tolerance (float values): ``|jax - ort| <= RTOL * |ort| + ATOL * max|ort|`` per element, with
RTOL = ATOL = 1e-4 for the small fixtures (observed: below 2e-6) and 1e-3 for full-size
networks (50+ layers of float32 accumulation in a different order). Integer values must match
exactly.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import dreamjax_onnx

FIXTURES = Path(__file__).parent / "fixtures" / "networks"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())["files"]
RTOL = ATOL = 1e-4
RTOL_FULL = ATOL_FULL = 1e-3


# --- reference side ----------------------------------------------------------------------

def value_types(model: onnx.ModelProto) -> dict[str, int]:
    """ONNX element type of every node output that shape inference can type."""
    inferred = onnx.shape_inference.infer_shapes(model)
    g = inferred.graph
    return {
        v.name: v.type.tensor_type.elem_type
        for v in [*g.value_info, *g.output]
        if v.type.HasField("tensor_type") and v.type.tensor_type.elem_type
    }


def comparable_values(model: onnx.ModelProto) -> list[str]:
    """All node outputs, in graph order, that are float32 or int64 tensors."""
    types = value_types(model)
    wanted = {TensorProto.FLOAT, TensorProto.INT64}
    names = [o for n in model.graph.node for o in n.output if o and types.get(o) in wanted]
    return list(dict.fromkeys(names))


def ort_values(model: onnx.ModelProto, feeds: dict[str, np.ndarray], names: Sequence[str]) -> dict[str, np.ndarray]:
    """onnxruntime's values for ``names``: they become extra outputs of a copy of the model."""
    types = value_types(model)
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    present = {o.name for o in copy.graph.output}
    for name in names:
        if name not in present:
            copy.graph.output.append(helper.make_tensor_value_info(name, types[name], None))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(copy.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    got = sess.run(list(names), feeds)
    return dict(zip(names, got))


# --- comparison --------------------------------------------------------------------------

def mismatches(got: dict, want: dict, order: Sequence[str], rtol: float, atol: float,
               producers: dict[str, str]) -> list[str]:
    """Human-readable differences, in graph order, so the first broken node comes first."""
    bad = []
    for name in order:
        g, w = np.asarray(got[name]), np.asarray(want[name])
        where = f"{name} ({producers.get(name, 'output')})"
        if g.shape != w.shape:
            bad.append(f"{where}: shape {g.shape} != onnxruntime {w.shape}")
            continue
        if np.issubdtype(w.dtype, np.integer):
            if not np.array_equal(g, w):
                bad.append(f"{where}: ints {g.ravel()[:8]} != onnxruntime {w.ravel()[:8]}")
            continue
        scale = float(np.abs(w).max()) if w.size else 0.0
        err = np.abs(g.astype(np.float64) - w)
        limit = rtol * np.abs(w) + atol * scale + 1e-7
        if not np.all(err <= limit) or not np.all(np.isfinite(g)):
            bad.append(f"{where}: max |diff| {err.max():.3g}, scale {scale:.3g}")
    return bad


def check_against_ort(model: onnx.ModelProto, inputs: Sequence[np.ndarray], rtol: float,
                      atol: float, values: Sequence[str] | None = None) -> None:
    """Outputs and intermediate values of the converted model vs onnxruntime (one jit)."""
    values = list(values if values is not None else comparable_values(model))
    fn, params = dreamjax_onnx.to_jax(model)
    in_names = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    out_names = [o.name for o in model.graph.output]

    @jax.jit
    def run(params, *xs):
        return fn(params, *xs), fn.capture(params, *xs, names=values)

    outs, inter = run(params, *[jnp.asarray(x) for x in inputs])
    got = {**inter, **dict(zip(out_names, outs))}
    want = ort_values(model, dict(zip(in_names, inputs)), list(dict.fromkeys([*values, *out_names])))
    producers = {o: n.op_type for n in model.graph.node for o in n.output}
    order = list(dict.fromkeys([*values, *out_names]))
    bad = mismatches(got, want, order, rtol, atol, producers)
    assert not bad, f"{len(bad)} of {len(order)} values differ from onnxruntime:\n" + "\n".join(bad[:15])


def images(batch: int, h: int, w: int, seed: int) -> np.ndarray:
    """Smooth random 'images', ImageNet-normalised, NCHW float32 (what the exports expect)."""
    rng = np.random.default_rng(seed)
    low = rng.uniform(size=(batch, 3, h // 8 + 1, w // 8 + 1))
    img = np.repeat(np.repeat(low, 8, axis=2), 8, axis=3)[:, :, :h, :w]
    img = np.clip(img + 0.1 * rng.uniform(size=img.shape), 0, 1)
    mean = np.array([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)
    std = np.array([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)
    return ((img - mean) / std).astype(np.float32)


# --- committed exporter output -------------------------------------------------------------

def _fixture_params():
    # Default tier (kept light for a 2-core CI): every network once at the second size, with
    # the opset rotating between networks so that each exporter and opset appears, plus the
    # export size for a few. The slow tier runs every file at both sizes.
    fast, seen = set(), {}
    for entry in MANIFEST:
        seen.setdefault(entry["net"], []).append(entry)
    for i, (net, entries) in enumerate(sorted(seen.items())):
        fast.add((entries[i % len(entries)]["file"], "second"))
        if i % 3 == 0:
            fast.add((entries[(i + 1) % len(entries)]["file"], "export"))
    for entry in MANIFEST:
        for which in ("export", "second"):
            marks = () if (entry["file"], which) in fast else (pytest.mark.slow,)
            yield pytest.param(entry, which, marks=marks, id=f"{entry['file'][:-5]}-{which}")


@pytest.mark.parametrize(("entry", "which"), list(_fixture_params()))
def test_fixture_network_matches_onnxruntime(entry, which):
    model = onnx.load(FIXTURES / entry["file"])
    if which == "export":
        x = images(1, *entry["export_size"], seed=1)
    else:
        x = images(2, *entry["second_size"], seed=2)
    check_against_ort(model, [x], RTOL, ATOL)


def test_fixtures_cover_the_promised_ground():
    """The committed set keeps every architecture, opset and dynamic axis it claims."""
    nets = {e["net"] for e in MANIFEST}
    assert len(nets) >= 10
    assert {e["opset"] for e in MANIFEST} >= {11, 13, 17, 18}
    assert {e["exporter"] for e in MANIFEST} == {"torchscript", "dynamo"}
    for e in MANIFEST:
        model = onnx.load(FIXTURES / e["file"], load_external_data=False)
        assert model.opset_import[0].version == e["opset"]
        dims = model.graph.input[0].type.tensor_type.shape.dim
        dynamic = [d.HasField("dim_param") for d in dims]
        assert dynamic == [True, False, "height" in e["dynamic_axes"], "width" in e["dynamic_axes"]]
    total = sum(p.stat().st_size for p in FIXTURES.iterdir())
    assert total < 5e6, f"fixtures grew to {total / 1e6:.1f} MB"


def test_shape_chains_follow_the_traced_size():
    """ShuffleNet's channel shuffle computes its Reshape targets from Shape. The converted chain
    must give onnxruntime's targets at each size, and they must differ between sizes (a target
    pinned to the export size would not)."""
    model = onnx.load(FIXTURES / "shufflenet_v2_tiny-op13.onnx")
    fn, params = dreamjax_onnx.to_jax(model)
    targets = [n.input[1] for n in model.graph.node if n.op_type == "Reshape"]
    capture = jax.jit(lambda p, x: fn.capture(p, x, names=targets))
    seen = []
    for batch, h, w in ((1, 224, 224), (3, 97, 131)):
        x = images(batch, h, w, seed=3)
        got = capture(params, x)
        want = ort_values(model, {"input": x}, targets)
        for name in targets:
            np.testing.assert_array_equal(np.asarray(got[name]), want[name], err_msg=name)
        seen.append([tuple(want[n]) for n in targets])
    assert all(a != b for a, b in zip(*seen)), seen


def test_gradient_through_real_network_matches_finite_differences():
    """d(loss)/d(input) of a converted network (ceil_mode pools, concats, ReLUs) along a random
    direction vs central differences of onnxruntime: one number, tolerance 2%."""
    model = onnx.load(FIXTURES / "squeezenet1_1_tiny-op13.onnx")
    fn, params = dreamjax_onnx.to_jax(model)
    x = images(1, 97, 83, seed=4)
    rng = np.random.default_rng(5)
    w = rng.standard_normal((1, 10)).astype(np.float32)
    v = rng.standard_normal(x.shape).astype(np.float32)
    v /= np.linalg.norm(v)

    grad = jax.jit(jax.grad(lambda x: jnp.sum(fn(params, x)[0] * w)))(jnp.asarray(x))
    analytic = float(jnp.vdot(grad, v))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    f = lambda z: float(np.sum(sess.run(None, {"input": z.astype(np.float32)})[0] * w))
    eps = 1e-2
    numeric = (f(x + eps * v) - f(x - eps * v)) / (2 * eps)
    assert abs(analytic - numeric) <= 0.02 * abs(numeric) + 1e-4, (analytic, numeric)


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
def test_jit_grad_through_pools(op):
    """Minimal form of the above: the gradient of a pool must also work under jit (the engine
    always differentiates inside jit), equal to the eager gradient."""
    node = helper.make_node(op, ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    graph = helper.make_graph([node], "pool", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, "H", "W"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    fn, params = dreamjax_onnx.to_jax(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]))
    x = jnp.asarray(images(1, 8, 7, seed=9)[:, :2])
    loss = lambda x: jnp.sum(fn(params, x)[0] ** 2)
    np.testing.assert_allclose(jax.jit(jax.grad(loss))(x), jax.grad(loss)(x), rtol=1e-6)


# --- graphs built in code ------------------------------------------------------------------

class Builder:
    """A few lines per layer for onnx.helper graphs with seeded He-initialised weights."""

    def __init__(self, opset: int, seed: int = 0):
        self.opset, self.rng = opset, np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.count = 0

    def fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}_{self.count}"

    def const(self, value, dtype=np.float32, prefix: str = "c") -> str:
        name = self.fresh(prefix)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def op(self, op_type: str, inputs: Sequence[str], n_out: int = 1, **attrs) -> str | list[str]:
        outs = [self.fresh(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=self.fresh(op_type), **attrs))
        return outs[0] if n_out == 1 else outs

    def conv(self, x: str, cin: int, cout: int, k: int | tuple[int, int], stride: int = 1,
             pads: Sequence[int] | None = None, group: int = 1, relu: bool = True, bias: bool = True) -> str:
        kh, kw = (k, k) if isinstance(k, int) else k
        pads = list(pads) if pads is not None else [kh // 2, kw // 2, kh // 2, kw // 2]
        fan_in = cin // group * kh * kw
        w = self.const(self.rng.standard_normal((cout, cin // group, kh, kw)) * np.sqrt(2 / fan_in), prefix="w")
        ins = [x, w] + ([self.const(self.rng.normal(0, 0.1, cout), prefix="b")] if bias else [])
        y = self.op("Conv", ins, kernel_shape=[kh, kw], strides=[stride, stride], pads=pads, group=group)
        return self.op("Relu", [y]) if relu else y

    def batchnorm(self, x: str, c: int) -> str:
        r = self.rng
        ins = [x, self.const(r.uniform(0.5, 1.5, c)), self.const(r.normal(0, 0.2, c)),
               self.const(r.normal(0, 0.2, c)), self.const(r.uniform(0.5, 2.0, c))]
        return self.op("BatchNormalization", ins, epsilon=1e-5)

    def gemm_head(self, x: str, cin: int, cout: int) -> str:
        w = self.const(self.rng.standard_normal((cout, cin)) / np.sqrt(cin), prefix="fc_w")
        return self.op("Gemm", [x, w, self.const(self.rng.normal(0, 0.1, cout), prefix="fc_b")], transB=1)

    def axes_op(self, op_type: str, x: str, axes: Sequence[int], since_input: int, **attrs) -> str:
        """Squeeze/Unsqueeze/Reduce*: axes as an attribute before ``since_input``, an input after."""
        if self.opset >= since_input:
            return self.op(op_type, [x, self.const(axes, np.int64, "axes")], **attrs)
        return self.op(op_type, [x], axes=list(axes), **attrs)

    def clip(self, x: str, lo: float, hi: float) -> str:
        if self.opset >= 11:
            return self.op("Clip", [x, self.const(lo), self.const(hi)])
        return self.op("Clip", [x], min=lo, max=hi)

    def model(self, x: str, out: str, channels: int = 3) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes, "built", [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["N", channels, "H", "W"])],
            [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", 10])], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
        onnx.checker.check_model(model, full_check=True)
        return model


def flatten_by_shape_chain(b: Builder, x: str) -> str:
    """Reshape to [N, -1] with the target computed from Shape (how older exporters flatten)."""
    n = b.op("Gather", [b.op("Shape", [x]), b.const(0, np.int64, "idx")], axis=0)
    n = b.axes_op("Unsqueeze", n, [0], since_input=13)
    target = b.op("Concat", [n, b.const([-1], np.int64, "minus1")], axis=0)
    return b.op("Reshape", [x, target])


def googlenet_caffe_style(opset: int) -> onnx.ModelProto:
    """The ONNX model zoo's GoogLeNet (Caffe origin): LRN after the stem, max pools with
    asymmetric [0,0,1,1] pads standing in for ceil_mode, a 4-branch Inception concat,
    Dropout, a Shape-chain flatten, Gemm and Softmax."""
    b = Builder(opset, seed=opset)
    x = b.conv("data", 3, 8, 7, stride=2, pads=[3, 3, 3, 3])
    x = b.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 1, 1])
    x = b.op("LRN", [x], size=5, alpha=1e-4, beta=0.75, bias=1.0)
    x = b.conv(b.conv(x, 8, 8, 1), 8, 16, 3)
    x = b.op("LRN", [x], size=5, alpha=1e-4, beta=0.75, bias=1.0)
    x = b.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 1, 1])
    b1 = b.conv(x, 16, 8, 1)
    b2 = b.conv(b.conv(x, 16, 6, 1), 6, 8, 3)
    b3 = b.conv(b.conv(x, 16, 2, 1), 2, 4, 5)
    b4 = b.conv(b.op("MaxPool", [x], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1]), 16, 4, 1)
    x = b.op("Concat", [b1, b2, b3, b4], axis=1)
    if opset >= 10:
        x = b.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    x = b.op("GlobalAveragePool", [x])
    x = b.op("Dropout", [x], **({"ratio": 0.4} if opset < 12 else {}))
    x = b.gemm_head(flatten_by_shape_chain(b, x), 24, 10)
    return b.model("data", b.op("Softmax", [x], axis=1))


def inception_v3_style(opset: int) -> onnx.ModelProto:
    """Inception-v3 patterns: unpadded stride-2 stem, explicit BatchNormalization, 1x7/7x1
    convolutions, 3x3 average pool counting pads, a reduction concat of a stride-2 conv and a
    max pool, and a ceil_mode average pool that excludes pads."""
    b = Builder(opset, seed=100 + opset)
    x = b.op("Relu", [b.batchnorm(b.conv("x", 3, 8, 3, stride=2, pads=[0, 0, 0, 0], relu=False), 8)])
    a = b.conv(b.conv(x, 8, 6, (1, 7), pads=[0, 3, 0, 3]), 6, 6, (7, 1), pads=[3, 0, 3, 0])
    p = b.op("AveragePool", [x], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1], count_include_pad=1)
    x = b.op("Concat", [a, b.conv(p, 8, 4, 1)], axis=1)
    r = b.conv(x, 10, 6, 3, stride=2, pads=[0, 0, 0, 0])
    m = b.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2])
    x = b.op("Concat", [r, m], axis=1)
    x = b.op("AveragePool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
             ceil_mode=1, count_include_pad=0)
    x = b.op("Flatten", [b.op("GlobalAveragePool", [x])], axis=1)
    return b.model("x", b.gemm_head(x, 16, 10))


def resnet_style(opset: int) -> onnx.ModelProto:
    """ResNet patterns with unfolded BatchNormalization: stem, padded max pool, an identity
    residual Add and a strided projection shortcut, GlobalAveragePool, Flatten, Gemm."""
    b = Builder(opset, seed=200 + opset)
    x = b.op("Relu", [b.batchnorm(b.conv("x", 3, 8, 7, stride=2, relu=False, bias=False), 8)])
    x = b.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    y = b.batchnorm(b.conv(b.conv(x, 8, 8, 3), 8, 8, 3, relu=False), 8)
    x = b.op("Relu", [b.op("Add", [x, y])])
    y = b.batchnorm(b.conv(b.conv(x, 8, 16, 3, stride=2), 16, 16, 3, relu=False), 16)
    s = b.batchnorm(b.conv(x, 8, 16, 1, stride=2, pads=[0, 0, 0, 0], relu=False, bias=False), 16)
    x = b.op("Relu", [b.op("Add", [y, s])])
    x = b.op("Flatten", [b.op("GlobalAveragePool", [x])], axis=1)
    return b.model("x", b.gemm_head(x, 16, 10))


def shufflenet_style(opset: int) -> onnx.ModelProto:
    """Channel split/shuffle driven by shape arithmetic: Shape, Gather, Div on int64, Concat,
    Reshape, Transpose, Slice with input bounds, Split, then ReduceMean over H, W."""
    b = Builder(opset, seed=300 + opset)
    x = b.conv("x", 3, 16, 3, stride=2)
    shape = b.op("Shape", [x])
    dims = [b.axes_op("Unsqueeze", b.op("Gather", [shape, b.const(i, np.int64, "i")], axis=0), [0], 13)
            for i in range(4)]
    half = b.op("Div", [dims[1], b.const([2], np.int64, "two")])
    grouped = b.op("Reshape", [x, b.op("Concat", [dims[0], b.const([2], np.int64, "g"), half, dims[2], dims[3]], axis=0)])
    shuffled = b.op("Transpose", [grouped], perm=[0, 2, 1, 3, 4])
    x = b.op("Reshape", [shuffled, b.op("Concat", [dims[0], b.const([-1], np.int64, "m1"), dims[2], dims[3]], axis=0)])
    left = b.op("Slice", [x, b.const([0], np.int64, "s"), half, b.const([1], np.int64, "ax")])
    right = b.op("Slice", [x, half, b.const([2**62], np.int64, "e"), b.const([1], np.int64, "ax")])
    right = b.conv(right, 8, 8, 3, group=8, relu=False)
    x = b.op("Concat", [left, right], axis=1)
    if opset >= 18:
        parts = b.op("Split", [x], n_out=2, axis=1, num_outputs=2)
    elif opset >= 13:
        parts = b.op("Split", [x, b.const([8, 8], np.int64, "split")], n_out=2, axis=1)
    else:
        parts = b.op("Split", [x], n_out=2, axis=1, split=[8, 8])
    x = b.op("Concat", [parts[1], parts[0]], axis=1)
    x = b.axes_op("ReduceMean", x, [2, 3], since_input=18, keepdims=0)
    return b.model("x", b.gemm_head(x, 16, 10))


def mobilenet_style(opset: int) -> onnx.ModelProto:
    """MobileNet patterns: ReLU6 as Clip (attributes before opset 11, inputs after), depthwise
    convolution, squeeze-excitation with HardSigmoid, HardSwish (from opset 14; before it the
    x * HardSigmoid(x) form), an inverted-residual Add."""
    b = Builder(opset, seed=400 + opset)
    x = b.clip(b.conv("x", 3, 8, 3, stride=2, relu=False), 0.0, 6.0)
    y = b.clip(b.conv(x, 8, 8, 3, group=8, relu=False), 0.0, 6.0)
    s = b.conv(b.conv(b.op("GlobalAveragePool", [y]), 8, 4, 1, pads=[0, 0, 0, 0]), 4, 8, 1,
               pads=[0, 0, 0, 0], relu=False)
    y = b.op("Mul", [y, b.op("HardSigmoid", [s], alpha=1 / 6, beta=0.5)])
    x = b.op("Add", [x, b.conv(y, 8, 8, 1, pads=[0, 0, 0, 0], relu=False)])
    x = b.conv(x, 8, 16, 5, stride=2, relu=False)
    x = b.op("HardSwish", [x]) if opset >= 14 else b.op("Mul", [x, b.op("HardSigmoid", [x], alpha=1 / 6, beta=0.5)])
    x = b.op("Flatten", [b.op("GlobalAveragePool", [x])], axis=1)
    return b.model("x", b.gemm_head(x, 16, 10))


def convnext_style(opset: int) -> onnx.ModelProto:
    """ConvNeXt patterns: patchify stem, 7x7 depthwise conv, NCHW->NHWC Transpose, LayerNorm
    (the ReduceMean/Sub/Pow/Sqrt/Div decomposition before opset 17, LayerNormalization from
    17), MatMul MLP with erf-GELU (the Gelu op from opset 20), layer scale, residual Add."""
    b = Builder(opset, seed=500 + opset)
    x = b.conv("x", 3, 16, 4, stride=4, pads=[0, 0, 0, 0], relu=False)
    y = b.conv(x, 16, 16, 7, group=16, relu=False)
    y = b.op("Transpose", [y], perm=[0, 2, 3, 1])
    gamma, beta = b.const(b.rng.uniform(0.5, 1.5, 16)), b.const(b.rng.normal(0, 0.2, 16))
    if opset >= 17:
        y = b.op("LayerNormalization", [y, gamma, beta], axis=-1, epsilon=1e-6)
    else:
        mean = b.axes_op("ReduceMean", y, [-1], since_input=18, keepdims=1)
        d = b.op("Sub", [y, mean])
        var = b.axes_op("ReduceMean", b.op("Pow", [d, b.const(2.0)]), [-1], since_input=18, keepdims=1)
        y = b.op("Div", [d, b.op("Sqrt", [b.op("Add", [var, b.const(1e-6)])])])
        y = b.op("Add", [b.op("Mul", [y, gamma]), beta])
    y = b.op("Add", [b.op("MatMul", [y, b.const(b.rng.standard_normal((16, 32)) / 4)]), b.const(b.rng.normal(0, 0.1, 32))])
    if opset >= 20:
        y = b.op("Gelu", [y])
    else:
        erf = b.op("Erf", [b.op("Div", [y, b.const(np.sqrt(2.0))])])
        y = b.op("Mul", [b.op("Mul", [y, b.op("Add", [erf, b.const(1.0)])]), b.const(0.5)])
    y = b.op("MatMul", [y, b.const(b.rng.standard_normal((32, 16)) / np.sqrt(32))])
    y = b.op("Mul", [y, b.const(b.rng.uniform(0.2, 1.0, 16))])
    x = b.op("Add", [x, b.op("Transpose", [y], perm=[0, 3, 1, 2])])
    x = b.op("Flatten", [b.op("GlobalAveragePool", [x])], axis=1)
    return b.model("x", b.gemm_head(x, 16, 10))


PATTERNS: dict[str, tuple[Callable[[int], onnx.ModelProto], tuple[int, ...]]] = {
    "googlenet_caffe": (googlenet_caffe_style, (7, 9, 10, 12, 13, 17)),
    "inception_v3": (inception_v3_style, (11, 13, 17, 19)),
    "resnet": (resnet_style, (9, 14, 15, 17)),
    "shufflenet": (shufflenet_style, (11, 13, 18)),
    "mobilenet": (mobilenet_style, (9, 11, 14, 17)),
    "convnext": (convnext_style, (11, 13, 17, 18, 20)),
}


def _pattern_params():
    # Default tier: each pattern at its oldest opset (second size, batch 2) and its newest
    # (export size); the slow tier: every opset at both sizes.
    for name, (build, opsets) in PATTERNS.items():
        for opset in opsets:
            for size in ((1, 64, 64), (2, 57, 45)):
                fast = (opset == opsets[0] and size[0] == 2) or (opset == opsets[-1] and size[0] == 1)
                yield pytest.param(build, opset, size, marks=() if fast else (pytest.mark.slow,),
                                   id=f"{name}-op{opset}-{size[0]}x{size[1]}x{size[2]}")


@pytest.mark.parametrize(("build", "opset", "size"), list(_pattern_params()))
def test_built_pattern_matches_onnxruntime(build, opset, size):
    model = build(opset)
    check_against_ort(model, [images(*size, seed=opset)], RTOL, ATOL)


# --- the DreamModel the onnx backend makes of a file ---------------------------------------

def test_load_model_lists_layers_and_captures_one(tmp_path):
    import dreamjax
    from dreamjax.model import DreamModel, every_layer, find_layer

    path = tmp_path / "googlenet_tiny.onnx"
    path.write_bytes((FIXTURES / "googlenet_tiny-op17.onnx").read_bytes())
    model = dreamjax.load_model(str(path))
    assert isinstance(model, DreamModel)
    names = [layer.name for layer in every_layer(model)]
    concats = [n.output[0] for n in onnx.load(path).graph.node if n.op_type == "Concat"]
    assert set(concats) <= set(names), "every Inception concat should be dreamable"
    # ... and listed under its module's name: "/inception3a/Concat_output_0" is "inception3a".
    assert [find_layer(model, c).aliases for c in concats] == [(c.split("/")[1],) for c in concats]
    assert {c.split("/")[1] for c in concats} <= {layer.name for layer in model.layers}

    layer = concats[-1]
    img = np.random.default_rng(6).uniform(size=(2, 96, 80, 3)).astype(np.float32)
    got = jax.jit(lambda p, x: model.apply(p, x, [layer]))(model.params, jnp.asarray(img))[layer]
    info = find_layer(model, layer)
    assert got.shape[0] == 2 and got.shape[-1] == info.channels  # NHWC

    spec = model.input_spec
    nchw = ((img - np.array(spec.mean, np.float32)) / np.array(spec.std, np.float32)).transpose(0, 3, 1, 2)
    want = ort_values(onnx.load(path), {"input": nchw}, [layer])[layer].transpose(0, 2, 3, 1)
    np.testing.assert_allclose(np.asarray(got), want, rtol=RTOL, atol=ATOL * np.abs(want).max())


# --- full-size exports (slow; DREAMJAX_ONNX_NETWORKS=dir made by export_networks.py) ---------

def _full_size_entries():
    root = os.environ.get("DREAMJAX_ONNX_NETWORKS")
    if not root or not (Path(root) / "manifest.json").exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason="set DREAMJAX_ONNX_NETWORKS to an export_networks.py output dir"))]
    files = json.loads((Path(root) / "manifest.json").read_text())["files"]
    return [pytest.param({**e, "dir": root}, marks=pytest.mark.slow, id=e["file"][:-5]) for e in files]


@pytest.mark.slow
@pytest.mark.parametrize("entry", _full_size_entries())
def test_full_size_network_matches_onnxruntime(entry):
    model = onnx.load(Path(entry["dir"]) / entry["file"])
    values = comparable_values(model)
    # Every 8th value plus the outputs keeps memory bounded on 100+ layer networks.
    check_against_ort(model, [images(1, *entry["export_size"], seed=7)], RTOL_FULL, ATOL_FULL, values[::8])
    check_against_ort(model, [images(2, *entry["second_size"], seed=8)], RTOL_FULL, ATOL_FULL, values[::8])
