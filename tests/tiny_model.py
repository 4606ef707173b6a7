"""A small random-weight CNN that follows the DreamModel contract.

Engine tests use it because it compiles in a fraction of a second; everything that needs
real features runs on the pretrained zoo models in their own tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from dreamjax.model import InputSpec, LayerInfo


def _conv(x, w, stride):
    return jax.lax.conv_general_dilated(x, w, (stride, stride), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))


@dataclass(eq=False)
class TinyModel:
    name: str = "tiny"
    params: dict = field(default_factory=dict)
    layers: tuple = ()
    input_spec: InputSpec = InputSpec(native_size=(32, 32), min_size=8, same_padding=True)  # lax "SAME" convs
    logits_layer: str | None = "logits"
    class_names: tuple | None = ("a", "b", "c", "d")

    def apply(self, params, images, capture):
        out = {}
        x = (images - 0.5) / 0.5
        for i, w in enumerate(params["convs"]):
            x = jax.nn.relu(_conv(x, w, 2 if i else 1))
            out[f"conv{i}"] = x
        out["logits"] = jnp.mean(x, axis=(1, 2)) @ params["fc"]
        return {name: out[name] for name in capture}


def tiny_model(seed: int = 0) -> TinyModel:
    rng = np.random.default_rng(seed)
    chans = [3, 8, 16, 16]
    convs = [jnp.asarray(rng.normal(0, (2 / (9 * a)) ** 0.5, (3, 3, a, b)), jnp.float32) for a, b in zip(chans, chans[1:])]
    fc = jnp.asarray(rng.normal(0, 0.3, (16, 4)), jnp.float32)
    layers = (LayerInfo("conv0", 8, (32, 32)), LayerInfo("conv1", 16, (16, 16)), LayerInfo("conv2", 16, (8, 8)), LayerInfo("logits", 4))
    return TinyModel(params={"convs": convs, "fc": fc}, layers=layers)
