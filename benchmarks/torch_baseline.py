"""The PyTorch eager baseline: the same DeepDream as dreamjax's engine, on the same weights.

The network is ``efficientnet_lite_pytorch`` (the reference implementation the registry weights
were made for), with TF-"SAME" padding computed per input size, loaded with the very tensors
dreamjax reads (``dreamjax.files.checkpoint.read_torch_checkpoint`` on the registry ``.pth``). The dream
does what ``dreamjax.ascent.engine`` does per octave: resize (bilinear, antialiased) + carried detail,
then ``steps`` times roll by a random jitter, forward to the layer, backward to the input,
normalise the gradient per image by its mean absolute value, step, unroll, clip.

Benchmark-only: torch is never a run-time dependency of dreamjax.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def lite_model(variant: str = "lite0") -> torch.nn.Module:
    """EfficientNet-Lite with its registry weights, in eval mode, parameters frozen."""
    from efficientnet_lite_pytorch import EfficientNet

    from dreamjax.files.checkpoint import read_torch_checkpoint
    from dreamjax.zoo.efficientnet_lite import checkpoint_path

    n = variant.removeprefix("lite")
    net = EfficientNet.from_name(f"efficientnet-lite{n}", image_size=None)  # None: padding per input size
    state = {k: torch.from_numpy(v.copy()) for k, v in read_torch_checkpoint(checkpoint_path(variant)).items()}
    net.load_state_dict(state)
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)  # only the image gets a gradient, as in dreamjax
    return net


def block_index(layer: str) -> int:
    if not layer.startswith("blocks."):
        raise ValueError(f"the torch baseline dreams block outputs only, got {layer!r}")
    return int(layer.split(".")[1])


def forward_to(net: torch.nn.Module, images01: torch.Tensor, block: int) -> torch.Tensor:
    """Output of block ``block`` for NCHW images in [0, 1] (normalised as dreamjax does)."""
    x = (images01 * 255.0 - 127.0) / 128.0
    x = net._swish(net._bn0(net._conv_stem(x)))
    for b in net._blocks[: block + 1]:
        x = b(x)
    return x


def dream(net, images01: torch.Tensor, block: int, **settings) -> torch.Tensor:
    """DeepDream on NCHW ``images01`` to EfficientNet-Lite block ``block``."""
    return dream_with(lambda x: forward_to(net, x, block), images01, **settings)


def dream_with(forward, images01: torch.Tensor, *, octaves=4, octave_scale=1.4, steps=10, step_size=0.01,
               jitter=32, seed=0, min_size=32, shapes=None) -> torch.Tensor:
    """DeepDream on NCHW ``images01`` maximising the mean square of ``forward(images01)``
    (a network cut at its dream layer, input normalisation included); mirrors
    ``dreamjax.ascent.engine.Dreamer.run``.

    ``shapes``: the octave sizes (default: dreamjax's, which imports JAX; a whole-process
    baseline passes its own so that the torch process never imports JAX).
    """
    gen = torch.Generator().manual_seed(seed)
    b, _, h, w = images01.shape
    if shapes is None:
        from dreamjax.ascent.engine import octave_shapes

        shapes = octave_shapes(h, w, octaves, octave_scale, min_size)
    image = images01
    detail = torch.zeros(b, 3, *shapes[0])
    for shape in shapes:
        base = F.interpolate(image, size=shape, mode="bilinear", antialias=True, align_corners=False)
        detail = F.interpolate(detail, size=shape, mode="bilinear", align_corners=False)
        x = (base + detail).clamp(0.0, 1.0)
        for _ in range(steps):
            dy, dx = (int(v) for v in torch.randint(-jitter, jitter + 1, (2,), generator=gen))
            rolled = torch.roll(x, (dy, dx), dims=(2, 3)).requires_grad_(True)
            act = forward(rolled)
            score = act.square().mean(dim=tuple(range(1, act.ndim))).sum()
            (grad,) = torch.autograd.grad(score, rolled)
            grad = grad / (grad.abs().mean(dim=(1, 2, 3), keepdim=True) + 1e-8)
            with torch.no_grad():
                x = torch.roll(rolled + step_size * grad, (-dy, -dx), dims=(2, 3)).clamp(0.0, 1.0)
        image = x
        detail = x - base
    return image
