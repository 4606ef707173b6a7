"""One or more small graphs per (listed operator, since_version), built with onnx.helper.

Each version's form is spelled out where versions differ (attributes vs inputs, new
attributes); the same cases drive the numerical tests against onnxruntime and the gradient
tests against finite differences.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from onnx import TensorProto, helper

F32 = np.float32
I64 = np.int64


@dataclass
class Case:
    label: str
    nodes: list
    inputs: dict
    outputs: list
    inits: dict = field(default_factory=dict)
    rtol: float = 1e-5
    atol: float = 1e-5
    grad: bool = True  # differentiable with respect to the first input


def rng(seed=0):
    return np.random.default_rng(seed)


def x4(shape=(2, 3, 7, 9), seed=0, low=None):
    r = rng(seed)
    a = r.standard_normal(shape).astype(F32)
    if low is not None:
        a = (np.abs(a) + low).astype(F32)
    return a


def node(op, inputs, outputs=("y",), **attrs):
    return helper.make_node(op, list(inputs), list(outputs), **attrs)


def unary(op, v, low=None, **attrs):
    return [Case(op, [node(op, ["x"], **attrs)], {"x": x4((2, 3, 4, 5), low=low)}, ["y"])]


def binary(op, v, positive=False):
    a = x4((2, 3, 4, 5), 1, low=0.5 if positive else None)
    b = x4((3, 1, 5), 2, low=0.5 if positive else None)
    return [Case(op, [node(op, ["a", "b"])], {"a": a, "b": b}, ["y"])]


def pool_configs(op: str, v: int) -> list[dict]:
    cfgs = [
        dict(kernel_shape=[3, 3]),
        dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        dict(kernel_shape=[2, 3], strides=[2, 1], pads=[0, 1, 1, 0]),
        dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"),
        dict(kernel_shape=[2, 2], strides=[2, 2], auto_pad="SAME_LOWER"),
        dict(kernel_shape=[3, 2], strides=[2, 2], auto_pad="VALID"),
    ]
    ceil_ok = (op == "MaxPool" and v >= 10) or (op == "AveragePool" and v >= 10)
    dil_ok = (op == "MaxPool" and v >= 10) or (op == "AveragePool" and v >= 19)
    if ceil_ok:
        cfgs += [
            dict(kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
            dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1),
        ]
    if dil_ok:
        cfgs += [dict(kernel_shape=[2, 2], dilations=[2, 2], strides=[1, 2])]
    if dil_ok and ceil_ok:
        cfgs += [dict(kernel_shape=[2, 3], dilations=[2, 1], strides=[2, 2], pads=[1, 0, 0, 1], ceil_mode=1)]
    if op == "AveragePool":
        cfgs += [dict(c, count_include_pad=1) for c in cfgs if "pads" in c or c.get("auto_pad", "").startswith("SAME")]
    return cfgs


def _label(cfg):
    return ",".join(f"{k}={v}" for k, v in cfg.items())


def pool_cases(op, v):
    x = x4((2, 3, 9, 11))
    out = [Case(f"{op}[{_label(c)}]", [node(op, ["x"], **c)], {"x": x}, ["y"]) for c in pool_configs(op, v)]
    if op == "MaxPool" and v >= 8:
        for order in (0, 1):
            c = dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], storage_order=order)
            out.append(Case(f"MaxPool-indices[{_label(c)}]", [node(op, ["x"], ["y", "i"], **c)], {"x": x}, ["y", "i"], grad=False))
    return out


def conv_cases(v):
    x = x4((2, 4, 8, 9))
    w = x4((6, 2, 3, 3), 3)
    b = x4((6,), 4)
    cfgs = [
        dict(kernel_shape=[3, 3], group=2),
        dict(strides=[2, 2], pads=[1, 0, 2, 1]),
        dict(dilations=[2, 1], auto_pad="SAME_UPPER"),
        dict(strides=[2, 2], auto_pad="SAME_LOWER"),
        dict(auto_pad="VALID"),
    ]
    out = []
    for c in cfgs:
        g = c.get("group", 1)
        wc = w if g == 2 else x4((6, 4, 3, 3), 3)
        out.append(Case(f"Conv[{_label(c)}]", [node("Conv", ["x", "w", "b"], **c)], {"x": x}, ["y"], inits={"w": wc, "b": b}, rtol=1e-4, atol=1e-4))
    for mult in (1, 2):  # depthwise, with and without a channel multiplier
        c = dict(group=4, strides=[2, 1], pads=[1, 1, 0, 1], dilations=[1, 2])
        out.append(Case(f"Conv[depthwise x{mult},{_label(c)}]", [node("Conv", ["x", "w", "b"], **c)], {"x": x}, ["y"],
                        inits={"w": x4((4 * mult, 1, 3, 3), 6), "b": x4((4 * mult,), 7)}, rtol=1e-4, atol=1e-4))
    out.append(Case("Conv[1d,nobias]", [node("Conv", ["x", "w"], pads=[1, 1])], {"x": x4((2, 3, 10))}, ["y"], inits={"w": x4((5, 3, 3), 5)}, rtol=1e-4, atol=1e-4))
    return out


def conv_transpose_cases(v):
    x = x4((2, 4, 5, 6))
    cfgs = [
        dict(),
        dict(strides=[2, 2], pads=[1, 0, 1, 1]),
        dict(strides=[2, 3], output_padding=[1, 1], group=2),
        dict(strides=[2, 2], output_shape=[10, 12]),
        dict(strides=[2, 2], auto_pad="SAME_UPPER"),
        dict(dilations=[2, 1], strides=[1, 2]),
    ]
    out = []
    for c in cfgs:
        g = c.get("group", 1)
        w = x4((4, 6 // g, 3, 3), 3)
        out.append(Case(f"ConvTranspose[{_label(c)}]", [node("ConvTranspose", ["x", "w", "b"], **c)], {"x": x}, ["y"], inits={"w": w, "b": x4((6,), 4)}, rtol=1e-4, atol=1e-4))
    return out


def bn_cases(v):
    x = x4((2, 3, 4, 5))
    c = {"s": x4((3,), 1), "b": x4((3,), 2), "m": x4((3,), 3), "var": x4((3,), 4, low=0.5)}
    out = [Case("BatchNormalization", [node("BatchNormalization", ["x", "s", "b", "m", "var"], epsilon=1e-3)], {"x": x}, ["y"], inits=c)]
    if v >= 14:
        out.append(Case(
            "BatchNormalization[training]",
            [node("BatchNormalization", ["x", "s", "b", "m", "var"], ["y", "rm", "rv"], training_mode=1, momentum=0.8)],
            {"x": x}, ["y", "rm", "rv"], inits=c, rtol=1e-4, atol=1e-5,
        ))
    return out


def reduce_cases(op, v):
    x = x4((2, 3, 4, 5), low=0.1 if op == "ReduceL2" else None)
    attr_axes = (op == "ReduceSum" and v < 13) or (op != "ReduceSum" and v < 18)
    out = []
    for axes, keep in (([1, 2], 1), ([-1], 0), (None, 1)):
        if attr_axes:
            kw = {"keepdims": keep} | ({"axes": axes} if axes is not None else {})
            out.append(Case(f"{op}[axes={axes},keep={keep}]", [node(op, ["x"], **kw)], {"x": x}, ["y"]))
        else:
            ins = ["x", "axes"] if axes is not None else ["x"]
            inits = {"axes": np.array(axes, I64)} if axes is not None else {}
            out.append(Case(f"{op}[axes={axes},keep={keep}]", [node(op, ins, keepdims=keep)], {"x": x}, ["y"], inits=inits))
    if not attr_axes:
        out.append(Case(f"{op}[noop]", [node(op, ["x"], noop_with_empty_axes=1)], {"x": x}, ["y"]))
    return out


def clip_cases(v):
    x = x4((2, 3, 4, 5))
    if v < 11:
        return [Case("Clip[attrs]", [node("Clip", ["x"], min=-0.5, max=0.7)], {"x": x}, ["y"]),
                Case("Clip[none]", [node("Clip", ["x"])], {"x": x}, ["y"])]
    return [
        Case("Clip[inputs]", [node("Clip", ["x", "lo", "hi"])], {"x": x}, ["y"], inits={"lo": np.array(-0.5, F32), "hi": np.array(0.7, F32)}),
        Case("Clip[max only]", [node("Clip", ["x", "", "hi"])], {"x": x}, ["y"], inits={"hi": np.array(0.7, F32)}),
    ]


def softmax_cases(op, v):
    x = x4((2, 3, 4, 5))
    return [Case(f"{op}[axis={a}]", [node(op, ["x"], **({} if a is None else {"axis": a}))], {"x": x}, ["y"]) for a in (None, 1, -1)]


def resize_cases(v):
    x = x4((1, 2, 5, 6))
    out = []
    if v == 10:
        for mode in ("nearest", "linear"):
            out.append(Case(f"Resize[{mode}]", [node("Resize", ["x", "s"], mode=mode)], {"x": x}, ["y"], inits={"s": np.array([1, 1, 2, 1.5], F32)}, grad=mode != "nearest"))
        return out
    cfgs = [
        ("nearest", "half_pixel", dict(nearest_mode="round_prefer_floor")),
        ("nearest", "asymmetric", dict(nearest_mode="floor")),
        ("linear", "half_pixel", {}),
        ("linear", "align_corners", {}),
        ("linear", "pytorch_half_pixel", {}),
        ("cubic", "half_pixel", dict(cubic_coeff_a=-0.5, exclude_outside=1)),
        ("cubic", "asymmetric", {}),
    ]
    for mode, coord, extra in cfgs:
        for kind, arr in (("scales", np.array([1, 1, 1.6, 0.5], F32)), ("sizes", np.array([1, 2, 9, 4], I64))):
            ins = ["x", "", "s"] if kind == "scales" else ["x", "", "", "s"]
            out.append(Case(
                f"Resize[{mode},{coord},{kind}]",
                [node("Resize", ins, mode=mode, coordinate_transformation_mode=coord, **extra)],
                {"x": x}, ["y"], inits={"s": arr}, rtol=1e-4, atol=1e-5, grad=mode != "nearest",
            ))
    if v >= 18:
        out.append(Case("Resize[linear,antialias,axes]", [node("Resize", ["x", "", "s"], mode="linear", antialias=1, axes=[2, 3])],
                        {"x": x4((1, 2, 12, 10))}, ["y"], inits={"s": np.array([0.5, 0.7], F32)}, rtol=1e-4, atol=1e-5))
        out.append(Case("Resize[nearest,not_larger]", [node("Resize", ["x", "", "", "s"], mode="nearest", keep_aspect_ratio_policy="not_larger", axes=[2, 3])],
                        {"x": x}, ["y"], inits={"s": np.array([7, 7], I64)}, grad=False))
    return out


def upsample_cases(v):
    x = x4((1, 2, 3, 4))
    scales = [1.0, 1.0, 2.0, 3.0]
    modes = ("nearest", "linear") if v < 10 else ("nearest",)  # Upsample-10 exists only as deprecated
    out = []
    for mode in modes:
        if v == 7:
            n = node("Upsample", ["x"], mode=mode, scales=scales)
            inits = {}
        else:
            n = node("Upsample", ["x", "s"], mode=mode)
            inits = {"s": np.array(scales, F32)}
        out.append(Case(f"Upsample[{mode}]", [n], {"x": x}, ["y"], inits=inits, grad=mode != "nearest"))
    return out


def cases_for(op: str, v: int) -> list[Case]:  # noqa: C901 - one table of small builders
    x = x4((2, 3, 4, 5))
    simple = {
        "Relu": lambda: unary("Relu", v), "Sigmoid": lambda: unary("Sigmoid", v), "Tanh": lambda: unary("Tanh", v),
        "Softplus": lambda: unary("Softplus", v), "Erf": lambda: unary("Erf", v), "Exp": lambda: unary("Exp", v),
        "Neg": lambda: unary("Neg", v), "Abs": lambda: unary("Abs", v), "Sqrt": lambda: unary("Sqrt", v, low=0.1),
        "HardSwish": lambda: unary("HardSwish", v), "Identity": lambda: unary("Identity", v),
        "LeakyRelu": lambda: unary("LeakyRelu", v, alpha=0.2), "Elu": lambda: unary("Elu", v, alpha=0.7),
        "Selu": lambda: unary("Selu", v), "HardSigmoid": lambda: unary("HardSigmoid", v, alpha=0.3, beta=0.4),
        "Add": lambda: binary("Add", v), "Sub": lambda: binary("Sub", v), "Mul": lambda: binary("Mul", v),
        "Div": lambda: binary("Div", v, positive=True), "Pow": lambda: binary("Pow", v, positive=True),
        "Equal": lambda: [Case("Equal", [node("Equal", ["a", "b"])], {"a": np.array([1, 2, 3, 4], I64), "b": np.array([1, 0, 3, 5], I64)}, ["y"], grad=False)],
        "GlobalAveragePool": lambda: unary("GlobalAveragePool", v), "GlobalMaxPool": lambda: unary("GlobalMaxPool", v),
        "MaxPool": lambda: pool_cases("MaxPool", v), "AveragePool": lambda: pool_cases("AveragePool", v),
        "Conv": lambda: conv_cases(v), "ConvTranspose": lambda: conv_transpose_cases(v),
        "BatchNormalization": lambda: bn_cases(v), "Clip": lambda: clip_cases(v),
        "Softmax": lambda: softmax_cases("Softmax", v), "LogSoftmax": lambda: softmax_cases("LogSoftmax", v),
        "Resize": lambda: resize_cases(v), "Upsample": lambda: upsample_cases(v),
    }
    if op in simple:
        return simple[op]()
    if op.startswith("Reduce"):
        return reduce_cases(op, v)
    if op == "PRelu":
        return [Case("PRelu", [node("PRelu", ["x", "s"])], {"x": x}, ["y"], inits={"s": x4((3, 1, 1), 1)})]
    if op == "Gelu":
        return [Case(f"Gelu[{a}]", [node("Gelu", ["x"], approximate=a)], {"x": x}, ["y"]) for a in ("none", "tanh")]
    if op == "LRN":
        return [Case(f"LRN[size={s}]", [node("LRN", ["x"], size=s, alpha=0.002, beta=0.75, bias=1.5)], {"x": x4((2, 6, 4, 5))}, ["y"]) for s in (3, 5)]
    if op == "InstanceNormalization":
        return [Case(op, [node(op, ["x", "s", "b"], epsilon=1e-4)], {"x": x}, ["y"], inits={"s": x4((3,), 1), "b": x4((3,), 2)}, rtol=1e-4, atol=1e-5)]
    if op == "LayerNormalization":
        return [Case(f"{op}[axis={a}]", [node(op, ["x", "s", "b"], ["y", "mean", "inv"], axis=a)], {"x": x}, ["y", "mean", "inv"],
                     inits={"s": x4(x.shape[a:], 1), "b": x4(x.shape[a:], 2)}, rtol=1e-4, atol=1e-5) for a in (-1, 2)] + [
            # Only the normalised output, over the last axis (ConvNeXt): the shared kernel's path.
            Case(f"{op}[last axis, y only{label}]", [node(op, ["x", *names], ["y"])], {"x": x}, ["y"],
                 inits={k: x4(x.shape[-1:], i + 1) for i, k in enumerate(names)}, rtol=1e-4, atol=1e-5)
            for label, names in (("", ("s", "b")), (", no bias", ("s",)))]
    if op == "Gemm":
        cs = [Case("Gemm[transB,alpha,beta]", [node("Gemm", ["a", "w", "c"], transB=1, alpha=0.5, beta=2.0)], {"a": x4((4, 6))}, ["y"], inits={"w": x4((5, 6), 1), "c": x4((5,), 2)}, rtol=1e-4, atol=1e-5),
              Case("Gemm[transA]", [node("Gemm", ["a", "w", "c"], transA=1)], {"a": x4((6, 4))}, ["y"], inits={"w": x4((6, 5), 1), "c": x4((4, 5), 2)}, rtol=1e-4, atol=1e-5)]
        if v >= 11:
            cs.append(Case("Gemm[no C]", [node("Gemm", ["a", "w"])], {"a": x4((4, 6))}, ["y"], inits={"w": x4((6, 5), 1)}, rtol=1e-4, atol=1e-5))
        return cs
    if op == "MatMul":
        return [Case("MatMul[batched]", [node("MatMul", ["a", "b"])], {"a": x4((2, 3, 4, 6))}, ["y"], inits={"b": x4((6, 5), 1)}, rtol=1e-4, atol=1e-5),
                Case("MatMul[vector]", [node("MatMul", ["a", "b"])], {"a": x4((3, 6))}, ["y"], inits={"b": x4((6,), 1)}, rtol=1e-4, atol=1e-5)]
    if op in ("Max", "Min", "Sum", "Mean"):
        shapes = [(2, 3, 4), (2, 3, 4), (2, 3, 4)] if v < 8 else [(2, 3, 4), (3, 1), (4,)]
        ins = {f"x{i}": x4(s, i) for i, s in enumerate(shapes)}
        return [Case(op, [node(op, list(ins))], ins, ["y"]), Case(f"{op}[single]", [node(op, ["x0"])], {"x0": ins["x0"]}, ["y"])]
    if op == "Concat":
        return [Case(f"Concat[axis={a}]", [node("Concat", ["a", "b"], axis=a)], {"a": x, "b": x4((2, 3, 4, 5), 1)}, ["y"]) for a in ([1, 3] if v < 11 else [1, -1])]
    if op == "Split":
        cs = []
        if v < 13:
            cs.append(Case("Split[attr]", [node("Split", ["x"], ["y0", "y1"], axis=3, split=[2, 3])], {"x": x}, ["y0", "y1"]))
            cs.append(Case("Split[equal]", [node("Split", ["x"], ["y0", "y1"], axis=0)], {"x": x}, ["y0", "y1"]))
        else:
            cs.append(Case("Split[input]", [node("Split", ["x", "s"], ["y0", "y1"], axis=-1)], {"x": x}, ["y0", "y1"], inits={"s": np.array([2, 3], I64)}))
            if v >= 18:
                cs.append(Case("Split[num_outputs,uneven]", [node("Split", ["x"], ["y0", "y1"], axis=3, num_outputs=2)], {"x": x}, ["y0", "y1"]))
            else:
                cs.append(Case("Split[equal]", [node("Split", ["x"], ["y0", "y1"], axis=0)], {"x": x}, ["y0", "y1"]))
        return cs
    if op == "Flatten":
        return [Case(f"Flatten[axis={a}]", [node("Flatten", ["x"], axis=a)], {"x": x}, ["y"]) for a in ([0, 2] if v < 11 else [0, 2, -1])]
    if op == "Reshape":
        cs = [Case("Reshape[0,-1]", [node("Reshape", ["x", "s"])], {"x": x}, ["y"], inits={"s": np.array([0, -1, 5], I64)})]
        if v >= 14:
            cs.append(Case("Reshape[allowzero]", [node("Reshape", ["x", "s"], allowzero=1)], {"x": x}, ["y"], inits={"s": np.array([6, 20], I64)}))
        return cs
    if op == "Transpose":
        return [Case("Transpose[perm]", [node("Transpose", ["x"], perm=[0, 2, 3, 1])], {"x": x}, ["y"]), Case("Transpose[default]", [node("Transpose", ["x"])], {"x": x}, ["y"])]
    if op in ("Squeeze", "Unsqueeze"):
        xs = x4((2, 1, 4, 1)) if op == "Squeeze" else x4((2, 3))
        axes = [1, -1] if op == "Squeeze" else [0, -1]
        if v < 13:
            return [Case(op, [node(op, ["x"], axes=axes)], {"x": xs}, ["y"])] + ([Case(f"{op}[all]", [node(op, ["x"])], {"x": xs}, ["y"])] if op == "Squeeze" else [])
        cs = [Case(op, [node(op, ["x", "a"])], {"x": xs}, ["y"], inits={"a": np.array(axes, I64)})]
        if op == "Squeeze":
            cs.append(Case(f"{op}[all]", [node(op, ["x"])], {"x": xs}, ["y"]))
        return cs
    if op == "Shape":
        cs = [Case("Shape", [node("Shape", ["x"])], {"x": x}, ["y"], grad=False)]
        if v >= 15:
            cs.append(Case("Shape[start,end]", [node("Shape", ["x"], start=1, end=-1)], {"x": x}, ["y"], grad=False))
        return cs
    if op == "Gather":
        return [Case(f"Gather[axis={a}]", [node("Gather", ["x", "i"], axis=a)], {"x": x}, ["y"], inits={"i": np.array([[0, -1], [1, 0]], I64)}) for a in (0, 2)]
    if op == "Slice":
        if v < 10:
            return [Case("Slice[attrs]", [node("Slice", ["x"], starts=[1, 0], ends=[1000, -1], axes=[2, 3])], {"x": x}, ["y"]),
                    Case("Slice[no axes]", [node("Slice", ["x"], starts=[0, 1], ends=[1, 3])], {"x": x}, ["y"])]
        return [
            Case("Slice[steps]", [node("Slice", ["x", "s", "e", "a", "st"])], {"x": x}, ["y"],
                 inits={"s": np.array([1, -1], I64), "e": np.array([9223372036854775807, -1000], I64), "a": np.array([2, 3], I64), "st": np.array([2, -2], I64)}),
            Case("Slice[no axes]", [node("Slice", ["x", "s", "e"])], {"x": x}, ["y"], inits={"s": np.array([0, 1], I64), "e": np.array([1, 3], I64)}),
        ]
    if op == "Pad":
        modes = ["constant", "reflect", "edge"] + (["wrap"] if v >= 19 else [])
        cs = []
        for m in modes:
            pads = [0, 0, 1, 2, 0, 0, 2, 1]
            if v < 11:
                cs.append(Case(f"Pad[{m}]", [node("Pad", ["x"], mode=m, pads=pads, value=0.5)], {"x": x}, ["y"]))
            else:
                cs.append(Case(f"Pad[{m}]", [node("Pad", ["x", "p", "c"], mode=m)], {"x": x}, ["y"], inits={"p": np.array(pads, I64), "c": np.array(0.5, F32)}))
        if v >= 18:
            cs.append(Case("Pad[axes,negative]", [node("Pad", ["x", "p", "", "a"])], {"x": x}, ["y"], inits={"p": np.array([1, -1, 2, 1], I64), "a": np.array([2, -1], I64)}))
        return cs
    if op == "Constant":
        c = helper.make_tensor("v", TensorProto.FLOAT, [2, 3], np.arange(6, dtype=F32).tolist())
        cs = [Case("Constant[value]", [node("Constant", [], ["c"], value=c), node("Add", ["x", "c"])], {"x": x4((2, 3))}, ["y"])]
        if v >= 12:
            cs.append(Case("Constant[value_floats]", [node("Constant", [], ["c"], value_floats=[1.0, 2.0, 3.0]), node("Mul", ["x", "c"])], {"x": x4((2, 3))}, ["y"]))
            cs.append(Case("Constant[value_ints]", [node("Constant", [], ["s"], value_ints=[3, 2]), node("Reshape", ["x", "s"])], {"x": x4((2, 3))}, ["y"]))
        return cs
    if op == "ConstantOfShape":
        val = helper.make_tensor("v", TensorProto.FLOAT, [1], [1.5])
        return [Case("ConstantOfShape[from Shape]", [node("Shape", ["x"], ["s"]), node("ConstantOfShape", ["s"], ["c"], value=val), node("Mul", ["x", "c"])], {"x": x}, ["y"]),
                Case("ConstantOfShape[default]", [node("ConstantOfShape", ["s"])], {"x": x}, ["y"], inits={"s": np.array([2, 3], I64)}, grad=False)]
    if op == "Dropout":
        if v < 12:
            # onnxruntime fills the old mask with zeros, onnx.reference with ones; the values are
            # compared here and the mask (all kept at inference) in test_onnx_ops.py.
            return [Case("Dropout", [node("Dropout", ["x"], ["y"])], {"x": x}, ["y"])]
        return [Case("Dropout[ratio,inference]", [node("Dropout", ["x", "r"], ["y", "m"])], {"x": x}, ["y", "m"], inits={"r": np.array(0.3, F32)}),
                Case("Dropout[training_mode=0]", [node("Dropout", ["x", "r", "t"])], {"x": x}, ["y"], inits={"r": np.array(0.3, F32), "t": np.array(False)})]
    if op == "Cast":
        cs = [Case("Cast[f32->i32]", [node("Cast", ["x"], to=TensorProto.INT32)], {"x": (x * 10).astype(F32)}, ["y"], grad=False),
              Case("Cast[i64->f32]", [node("Cast", ["x"], to=TensorProto.FLOAT)], {"x": np.arange(-3, 5, dtype=I64)}, ["y"], grad=False),
              Case("Cast[f32->f16]", [node("Cast", ["x"], to=TensorProto.FLOAT16)], {"x": x}, ["y"], rtol=1e-3, atol=1e-3, grad=False),
              Case("Cast[f32->bool]", [node("Cast", ["x"], to=TensorProto.BOOL)], {"x": np.array([0.0, 1.5, -2.0, 0.0], F32)}, ["y"], grad=False)]
        if v >= 19:
            cs.append(Case("Cast[f32->f8e4m3fn,saturate]", [node("Cast", ["x"], to=TensorProto.FLOAT8E4M3FN, saturate=1), node("Cast", ["y"], ["z"], to=TensorProto.FLOAT)],
                           {"x": np.array([0.1, 500.0, -1000.0, 3.3], F32)}, ["z"], grad=False))
        return cs
    if op == "Expand":
        return [Case("Expand", [node("Expand", ["x", "s"])], {"x": x4((3, 1))}, ["y"], inits={"s": np.array([2, 1, 4], I64)})]
    if op == "Tile":
        return [Case("Tile", [node("Tile", ["x", "r"])], {"x": x4((2, 3))}, ["y"], inits={"r": np.array([2, 3], I64)})]
    if op == "Where":
        return [Case("Where", [node("Greater", ["a", "b"], ["c"]), node("Where", ["c", "a", "b"])], {"a": x4((3, 4)), "b": x4((4,), 1)}, ["y"])]
    if op == "Range":
        return [Case("Range[float]", [node("Range", ["s", "l", "d"])], {}, ["y"], inits={"s": np.array(1.0, F32), "l": np.array(5.5, F32), "d": np.array(0.75, F32)}, grad=False),
                Case("Range[from shape]", [node("Shape", ["x"], ["sh"]), node("Gather", ["sh", "i"], ["n"], axis=0), node("Range", ["z", "n", "one"], ["r"]), node("Cast", ["r"], ["rf"], to=TensorProto.FLOAT), node("Add", ["x", "rf"])],
                     {"x": x}, ["y"], inits={"i": np.array(3, I64), "z": np.array(0, I64), "one": np.array(1, I64)})]
    if op == "Einsum":
        return [Case("Einsum[bij,bjk->bik]", [node("Einsum", ["a", "b"], equation="bij,bjk->bik")], {"a": x4((2, 3, 4)), "b": x4((2, 4, 5), 1)}, ["y"], rtol=1e-4, atol=1e-5),
                Case("Einsum[nchw->nhwc sum]", [node("Einsum", ["a"], equation="nchw->nhw")], {"a": x}, ["y"])]
    raise KeyError(f"no cases written for {op}")
