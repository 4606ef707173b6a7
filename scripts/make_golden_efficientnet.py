"""Write tests/golden/efficientnet_lite{0,1,2}.npz from the reference PyTorch implementation.

The reference is ``efficientnet_lite_pytorch`` 0.1.0 (lukemelas' EfficientNet-PyTorch with the
"lite" settings: ReLU6, no squeeze-excite, fixed stem/head), loaded with the very checkpoint
files that dreamjax reads. Needs torch and that package (``pip install -e '.[bench]'``):

    python scripts/make_golden_efficientnet.py

Inputs, at each model's native size (224 / 240 / 260):

* ``chelsea``: dreamjax/data/chelsea.png, centre-cropped to a square and resized (PIL bicubic);
  stored in the file as uint8 so the test does not depend on PIL's resampling;
* ``noise``: ``np.random.default_rng(0).random((1, S, S, 3), dtype=np.float32)``, rebuilt by
  the test from the seed.

Both are normalised with the port's ``InputSpec`` (``(x - mean) / std`` per channel) before
going into the reference, so the golden values check the network, not the preprocessing.

How the reference pads and normalises, checked against the port:

* Padding: ``Conv2dStaticSamePadding`` pads like TensorFlow "SAME" for the ``image_size`` given
  at construction (the native size), i.e. the extra pixel of a stride-2 layer goes to the
  bottom/right. That is what the TF checkpoints were trained with, and what the port does at
  every size (XLA "SAME" / explicit TF pads). At native size the two agree exactly; at other
  sizes the reference would keep the native-size pads, the port recomputes them (TF behaviour).
* Normalisation: the reference applies none; its users must. TensorFlow's EfficientNet-Lite
  preprocessing is ``(x*255 - 127) / 128`` (``MEAN_RGB = 127``, ``STDDEV_RGB = 128`` in
  ``efficientnet_lite_builder.py``), which the port uses; ``(x - 0.5) / 0.5`` is within 0.4% of
  it. Both classify the bundled cat and coffee photos correctly.

Stored per model: ``chelsea_u8`` [1,S,S,3] uint8, ``logits`` [2,1000] (chelsea, noise) and
``stage3`` [2,h,w,8] (first 8 channels of the last stage-3 block, NHWC).
"""

from __future__ import annotations

import os

import numpy as np
import torch
from efficientnet_lite_pytorch import EfficientNet
from PIL import Image

from dreamjax.zoo import efficientnet_lite as port

ROOT = os.path.join(os.path.dirname(__file__), "..")
GOLDEN = os.path.join(ROOT, "tests", "golden")
STAGE3_CHANNELS = 8


def chelsea(size: int) -> np.ndarray:
    im = Image.open(os.path.join(ROOT, "dreamjax", "data", "chelsea.png")).convert("RGB")
    w, h = im.size
    c = min(w, h)
    left, top = (w - c) // 2, (h - c) // 2
    im = im.crop((left, top, left + c, top + c)).resize((size, size), Image.BICUBIC)
    return np.asarray(im, np.uint8)[None]


def noise(size: int) -> np.ndarray:
    return np.random.default_rng(0).random((1, size, size, 3), dtype=np.float32)


def reference(variant: str) -> EfficientNet:
    net = EfficientNet.from_name(f"efficientnet-{variant}")
    state = torch.load(port.checkpoint_path(variant), map_location="cpu", weights_only=True)
    net.load_state_dict(state)
    return net.eval()


def last_block_of_stage(variant: str, stage: int) -> int:
    blocks = port.block_specs(port.read_torch_checkpoint(port.checkpoint_path(variant)))
    return max(i for i, b in enumerate(blocks) if b.stage == stage)


def main() -> None:
    os.makedirs(GOLDEN, exist_ok=True)
    torch.manual_seed(0)
    for variant, size in port.NATIVE_SIZE.items():
        net = reference(variant)
        cat_u8 = chelsea(size)
        images = np.concatenate([cat_u8.astype(np.float32) / 255.0, noise(size)])
        x = (images - np.array(port.MEAN, np.float32)) / np.array(port.STD, np.float32)
        captured = {}
        block = last_block_of_stage(variant, 3)
        hook = net._blocks[block].register_forward_hook(lambda m, i, o: captured.__setitem__("stage3", o))
        with torch.no_grad():
            logits = net(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()).numpy()
        hook.remove()
        stage3 = captured["stage3"].permute(0, 2, 3, 1).numpy()[..., :STAGE3_CHANNELS]
        path = os.path.join(GOLDEN, f"efficientnet_{variant}.npz")
        np.savez_compressed(path, chelsea_u8=cat_u8, logits=logits.astype(np.float32), stage3=stage3.astype(np.float32))
        top = np.argsort(-logits[0])[:3]
        print(f"{variant}: wrote {os.path.relpath(path, ROOT)}; chelsea top-3 class ids {top.tolist()}")


if __name__ == "__main__":
    main()
