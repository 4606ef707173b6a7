"""How a feature-visualisation picture is parametrised: an FFT spectrum in decorrelated colour.

This is the parametrisation of Olah et al., "Feature Visualization" (Distill, 2017) and of
lucid (``lucid/optvis/param/spatial.py`` and ``color.py``), which made its pictures readable:

- **spectral (FFT) image**: the optimised numbers are the real and imaginary parts of the
  picture's 2-D real Fourier spectrum, each frequency scaled by ``1 / f**decay_power`` (and by
  ``sqrt(H * W)``, then the picture by 1/4, as lucid does). Gradient steps then move low
  frequencies as readily as high ones, instead of piling up high-frequency noise.
- **decorrelated colour**: the three "colour" channels are mapped to RGB through the square root
  of ImageNet's colour correlation (lucid's published 3x3 matrix, its columns scaled to a largest
  norm of one), so steps follow natural colour statistics;
- **sigmoid**: the result is squashed into ``[0, 1]`` smoothly instead of clipped.

Every piece can be switched off (:class:`Parametrisation`). Parameters are float32 arrays
``[B, 3, H, W // 2 + 1, 2]`` (spectral) or ``[B, H, W, 3]`` (pixels); :func:`to_image` maps them to
float32 ``[B, H, W, 3]`` in ``[0, 1]`` and :func:`from_image` is its inverse (for a picture
strictly inside ``(0, 1)`` with the sigmoid on).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..ascent.regularisers import _COLOR_CORRELATION as COLOUR_CORRELATION
from ..errors import DreamjaxError

# Lucid's mean ImageNet colour, added when the colours are decorrelated but not squashed.
COLOUR_MEAN = np.asarray([0.48, 0.46, 0.41], np.float32)
# Lucid's fixed damping of the spectral picture ("image_t / 4.0").
SPECTRUM_DIVISOR = 4.0
LOGIT_EPS = 1e-6


@dataclass(frozen=True)
class Parametrisation:
    """Which pieces of the parametrisation are on; static (part of the compiled program)."""

    fft: bool = True
    decorrelate: bool = True
    sigmoid: bool = True


def spectrum_shape(height: int, width: int) -> tuple[int, int]:
    """Rows and columns of the real 2-D spectrum of a ``height`` x ``width`` picture."""
    return height, width // 2 + 1


def frequencies(height: int, width: int) -> np.ndarray:
    """``sqrt(fy**2 + fx**2)`` in cycles per pixel for every bin of the real spectrum."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    return np.sqrt(fy * fy + fx * fx).astype(np.float32)


def spectrum_scale(height: int, width: int, decay_power: jax.Array | float = 1.0) -> jax.Array:
    """Lucid's per-frequency scale ``sqrt(H W) / max(f, 1 / max(H, W)) ** decay_power``.

    The floor at the lowest non-zero frequency keeps the constant (DC) term finite.
    """
    floor = np.maximum(frequencies(height, width), 1.0 / max(height, width))
    return jnp.asarray(math.sqrt(height * width), jnp.float32) / jnp.power(jnp.asarray(floor), decay_power)


def param_shape(batch: int, height: int, width: int, param: Parametrisation) -> tuple[int, ...]:
    if param.fft:
        return (batch, 3, *spectrum_shape(height, width), 2)
    return (batch, height, width, 3)


def init_params(keys: jax.Array, height: int, width: int, param: Parametrisation, sd: jax.Array | float = 0.01) -> jax.Array:
    """Random parameters (normal, standard deviation ``sd``, as lucid), one picture per key.

    Each picture draws from its own key, so a picture does not depend on its batch neighbours.
    """
    shape = param_shape(1, height, width, param)[1:]
    return jax.vmap(lambda key: sd * jax.random.normal(key, shape, jnp.float32))(keys)


def _colour_matrix(param: Parametrisation) -> jax.Array:
    return jnp.asarray(COLOUR_CORRELATION.T if param.decorrelate else np.eye(3, dtype=np.float32))


def to_image(params: jax.Array, height: int, width: int, param: Parametrisation,
             decay_power: jax.Array | float = 1.0) -> jax.Array:
    """The pictures, float32 ``[B, H, W, 3]`` in ``[0, 1]``, of ``params``."""
    if param.fft:
        spectrum = jax.lax.complex(params[..., 0], params[..., 1]) * spectrum_scale(height, width, decay_power)
        x = jnp.fft.irfft2(spectrum, s=(height, width), axes=(-2, -1)) / SPECTRUM_DIVISOR
        x = jnp.transpose(x, (0, 2, 3, 1))
    else:
        x = params
    x = x @ _colour_matrix(param)
    if param.sigmoid:
        return jax.nn.sigmoid(x)
    return jnp.clip(x + (COLOUR_MEAN if param.decorrelate else 0.5), 0.0, 1.0)


def from_image(images: jax.Array, param: Parametrisation, decay_power: jax.Array | float = 1.0) -> jax.Array:
    """Parameters whose picture is ``images`` (float32 ``[B, H, W, 3]``); the inverse of :func:`to_image`.

    With the sigmoid on, values are kept ``LOGIT_EPS`` inside ``(0, 1)`` first; with it off,
    values outside the clip range cannot be told apart and come back clipped.
    """
    images = jnp.asarray(images, jnp.float32)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise DreamjaxError(f"expected pictures [B, H, W, 3], got shape {images.shape}")
    _, height, width, _ = images.shape
    if param.sigmoid:
        x = jax.scipy.special.logit(jnp.clip(images, LOGIT_EPS, 1.0 - LOGIT_EPS))
    else:
        x = images - (COLOUR_MEAN if param.decorrelate else 0.5)
    x = x @ jnp.linalg.inv(_colour_matrix(param))
    if not param.fft:
        return x
    spectrum = jnp.fft.rfft2(jnp.transpose(x, (0, 3, 1, 2)) * SPECTRUM_DIVISOR, axes=(-2, -1))
    spectrum = spectrum / spectrum_scale(height, width, decay_power)
    return jnp.stack([spectrum.real, spectrum.imag], axis=-1).astype(jnp.float32)
