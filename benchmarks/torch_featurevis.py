"""The PyTorch eager baseline for ``dreamjax atlas``: lucid's recipe, one channel at a time, as lucent does.

The same recipe as :mod:`dreamjax.featurevis` with the same numbers: an FFT spectrum
``[1, 3, H, W//2+1]`` scaled by ``sqrt(HW) / max(f, 1/max(H, W))``, the picture divided by 4,
lucid's colour correlation matrix, a sigmoid; every step the picture is resampled once
(bilinear, ``grid_sample``) by a random affine map onto a canvas of ``size + 2 * (pad - jitter)``
with grey outside (shift up to ``jitter``, scale 1 +- ``scale``, turn up to ``rotate`` degrees);
the network runs up to the layer (``torch_baseline.forward_to``, on the same weights); Adam
(lr 0.05) maximises the channel's mean activation. lucent's ``render_vis`` does the same work per
step, with its transforms as separate resamples, and also upsamples the canvas to 224 pixels and
runs the whole network forward; ``lucent=True`` measures that pipeline too.

Benchmark-only: torch is never a run-time dependency of dreamjax.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from dreamjax.featurevis.param import COLOUR_CORRELATION, SPECTRUM_DIVISOR, frequencies
from torch_baseline import forward_to


def spectrum_scale(height: int, width: int, decay_power: float = 1.0) -> torch.Tensor:
    floor = np.maximum(frequencies(height, width), 1.0 / max(height, width))
    return torch.from_numpy((math.sqrt(height * width) / floor**decay_power).astype(np.float32))


def to_image(params: torch.Tensor, scale: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``[1, 3, H, W//2+1, 2]`` spectrum -> NCHW picture in (0, 1)."""
    spectrum = torch.complex(params[..., 0], params[..., 1]) * scale
    x = torch.fft.irfft2(spectrum, s=(height, width)) / SPECTRUM_DIVISOR
    x = torch.einsum("bchw,dc->bdhw", x, torch.from_numpy(COLOUR_CORRELATION))
    return torch.sigmoid(x)


def random_view(picture: torch.Tensor, gen: torch.Generator, pad: int, jitter: int, scale: float, rotate: float) -> torch.Tensor:
    """The picture on the network's canvas, moved, scaled and turned at random (grey outside)."""
    _, _, height, width = picture.shape
    ch, cw = height + 2 * (pad - jitter), width + 2 * (pad - jitter)
    u = torch.rand(4, generator=gen) * 2 - 1
    shift_y, shift_x = float(u[0]) * jitter, float(u[1]) * jitter
    zoom, angle = 1.0 + float(u[2]) * scale, math.radians(float(u[3]) * rotate)
    y = torch.arange(ch, dtype=torch.float32)[:, None] - (ch - 1) / 2 - shift_y
    x = torch.arange(cw, dtype=torch.float32)[None, :] - (cw - 1) / 2 - shift_x
    cos, sin = math.cos(angle) / zoom, math.sin(angle) / zoom
    rows = cos * y - sin * x + (height - 1) / 2
    cols = sin * y + cos * x + (width - 1) / 2
    grid = torch.stack([cols / (width - 1) * 2 - 1, rows / (height - 1) * 2 - 1], dim=-1)[None]
    return F.grid_sample(picture - 0.5, grid, mode="bilinear", padding_mode="zeros", align_corners=True) + 0.5


def lucent_forward(net, images01: torch.Tensor, block: int) -> torch.Tensor:
    """What lucent's ``render_vis`` runs per step: pictures under 224 pixels upsampled to 224
    (bilinear), the whole network forward, the layer read by a forward hook."""
    captured = {}
    hook = net._blocks[block].register_forward_hook(lambda module, inputs, output: captured.setdefault("act", output))
    try:
        if min(images01.shape[-2:]) < 224:
            images01 = F.interpolate(images01, size=224, mode="bilinear", align_corners=True)
        net((images01 * 255.0 - 127.0) / 128.0)
    finally:
        hook.remove()
    return captured["act"]


def visualize_channel(net, block: int, channel: int, *, size: int = 128, steps: int = 512, seed: int = 0,
                      lr: float = 0.05, pad: int = 12, jitter: int = 6, scale: float = 0.1, rotate: float = 10.0,
                      lucent: bool = False) -> np.ndarray:
    """One channel's picture, ``[H, W, 3]`` float32 in [0, 1]. ``lucent``: run the network as lucent
    does (:func:`lucent_forward`) instead of up to the layer at the canvas size."""
    forward = lucent_forward if lucent else forward_to
    gen = torch.Generator().manual_seed(seed * 100_003 + channel)
    params = (0.01 * torch.randn(1, 3, size, size // 2 + 1, 2, generator=gen)).requires_grad_(True)
    spectrum = spectrum_scale(size, size)
    optimiser = torch.optim.Adam([params], lr=lr)
    for _ in range(steps):
        optimiser.zero_grad(set_to_none=True)
        view = random_view(to_image(params, spectrum, size, size), gen, pad, jitter, scale, rotate)
        loss = -forward(net, view, block)[:, channel].mean()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        return to_image(params, spectrum, size, size)[0].permute(1, 2, 0).numpy()
