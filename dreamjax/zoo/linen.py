"""EfficientNet-Lite as a Flax Linen module (see :mod:`.efficientnet_lite` for the weights,
the layers and the DreamModel). Imported only when a network is traced or a Linen module is
asked for, so that a dream whose programs come from the program cache never imports Flax.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from .. import nn as kernels
from ..errors import DreamjaxError, UnknownNameError
from .efficientnet_lite import BlockSpec, _stage_aliases, layer_order


@dataclasses.dataclass(frozen=True, eq=False)
class InitialParams:
    """Params that ``init`` returns instead of random ones (hashed by identity, so a module
    holding them is still static data for ``jit``)."""

    tree: Mapping[str, Any]

    def initializer(self, name: str) -> Any:
        value = self.tree[name]

        def init(_rng: jax.Array, shape: tuple[int, ...]) -> jax.Array:
            if tuple(value.shape) != tuple(shape):
                raise DreamjaxError(f"initial param {name!r} has shape {tuple(value.shape)}, the module wants {tuple(shape)}")
            return value

        return init

    def child(self, name: str) -> InitialParams:
        return InitialParams(self.tree[name])


class EfficientNetLite(nn.Module):
    """The network on NHWC float32 input that is already normalised.

    ``__call__(x)`` returns the logits. ``__call__(x, stop_at)`` returns ``{layer name:
    activation}`` for every layer up to and including ``stop_at``, a position of
    :meth:`layer_order` or a layer name (a stage alias too); the rest is never computed. With ``initial``, ``init`` returns those
    params (the pretrained ones) instead of random ones.
    """

    blocks: tuple[BlockSpec, ...]
    stem_channels: int = 32
    head_channels: int = 1280
    num_classes: int = 1000
    depthwise: str = "taps_vjp"
    initial: InitialParams | None = None

    def layer_order(self) -> tuple[str, ...]:
        return layer_order(self.blocks)

    @nn.compact
    def __call__(self, x: jax.Array, stop_at: int | str | None = None) -> jax.Array | dict[str, jax.Array]:
        order = self.layer_order()
        if isinstance(stop_at, str):
            aliases = _stage_aliases(self.blocks)
            if stop_at not in order and stop_at not in aliases:
                raise UnknownNameError("layer", stop_at, [*order, *aliases])
            out = self._layers(x, order.index(aliases.get(stop_at, stop_at)))
            return out | {stop_at: out[aliases.get(stop_at, stop_at)]}
        out = self._layers(x, len(order) - 1 if stop_at is None else stop_at)
        return out["logits"] if stop_at is None else out

    def _layers(self, x: jax.Array, stop_at: int) -> dict[str, jax.Array]:
        out: dict[str, jax.Array] = {}
        x = _relu6(kernels.conv2d(x, *_conv_params(self, "stem", (3, 3, 3, self.stem_channels)), stride=2))
        out["stem"] = x
        for i, spec in enumerate(self.blocks):
            if len(out) > stop_at:
                return out
            initial = self.initial.child(f"blocks_{i}") if self.initial is not None else None
            x = _Block(spec, self.depthwise, initial, name=f"blocks_{i}")(x)
            out[f"blocks.{i}"] = x
        if len(out) > stop_at:
            return out
        x = _relu6(kernels.pointwise(x, *_conv_params(self, "head", (self.blocks[-1].out_channels, self.head_channels))))
        out["head"] = x
        if len(out) > stop_at:
            return out
        pooled = jnp.mean(x, axis=(1, 2))
        out["logits"] = kernels.pointwise(pooled, *_conv_params(self, "fc", (self.head_channels, self.num_classes)))
        return out


class _Block(nn.Module):
    spec: BlockSpec
    depthwise: str
    initial: InitialParams | None = None

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        s = self.spec
        y = x
        if s.expand:
            expand = _conv_params(self, "expand", (s.in_channels, s.mid_channels))
        kernel, bias = _conv_params(self, "depthwise", (s.kernel, s.kernel, s.mid_channels))
        if s.expand and self.depthwise == "taps_vjp":  # CPU: no padded copy of the wide tensor
            y = _relu6(kernels.expand_depthwise(y, *expand, kernel, bias, s.stride))
        else:
            if s.expand:
                y = _relu6(kernels.pointwise(y, *expand))
            y = _relu6(kernels.depthwise(y, kernel, bias, s.stride, self.depthwise))
        y = kernels.pointwise(y, *_conv_params(self, "project", (s.mid_channels, s.out_channels)))
        return y + x if s.residual else y


def _conv_params(module: nn.Module, name: str, kernel_shape: tuple[int, ...]) -> tuple[jax.Array, jax.Array]:
    """Kernel and bias of one folded conv: params ``<name>_kernel`` and ``<name>_bias``."""
    def init(key: str, random: Any) -> Any:
        return module.initial.initializer(key) if module.initial is not None else random

    kernel = module.param(f"{name}_kernel", init(f"{name}_kernel", nn.initializers.lecun_normal()), kernel_shape)
    bias = module.param(f"{name}_bias", init(f"{name}_bias", nn.initializers.zeros), kernel_shape[-1:])
    return kernel, bias


_relu6 = kernels.relu6
