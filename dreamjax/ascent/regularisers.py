"""Optional regularisers of the ascent, for smoother pictures; all off by default.

- ``tv``: total variation penalty. The ascent maximises ``objective - tv * TV(image)``, where
  TV is the mean absolute difference between neighbouring pixels (as ``tf.image.total_variation``,
  but a mean, so the weight does not depend on the picture's size).
- ``blur_sigma``: after every step, what this octave has added to the picture so far is blurred
  with a Gaussian of this sigma (in pixels of the octave). The photo underneath stays sharp;
  only the dream's own high frequencies are damped (as in Yosinski et al. 2015, but on the change).
- ``laplacian_levels``: Laplacian-pyramid gradient normalisation, as ``lap_normalize`` in the
  original DeepDream notebook and the TensorFlow tutorial: the gradient is split into this many
  octaves of detail plus a remainder (5x5 binomial kernel), each band is scaled to unit RMS,
  and the bands are added back. Low frequencies then get as much of the step as high ones.
- ``decorrelate_colour``: the step is taken in Lucid's decorrelated colour space. With
  ``x = C y`` (``C`` the square root of ImageNet's colour covariance, scaled as in Lucid), a
  gradient step on ``y`` moves the picture by ``C Cᵀ g``: colour changes follow natural image
  statistics instead of independent red, green and blue noise.

The engine still normalises the resulting step to a mean absolute value of one, so
``step_size`` keeps its meaning whichever regularisers are on.

Which regularisers are on (and the Laplacian's levels, and the blur kernel's radius class) is
the static :class:`RegulariserPlan` of a compiled program; the TV weight and the blur sigma are
runtime numbers, so changing them compiles nothing. On a padded canvas every statistic counts
the picture's pixels only (a :class:`~dreamjax.ascent.region.Region`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import DreamjaxError
from .region import Region

# Lucid's square root of the ImageNet colour correlation (lucid/optvis/param/color.py).
_COLOR_CORRELATION_SVD_SQRT = np.asarray([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], np.float32)
_COLOR_CORRELATION = _COLOR_CORRELATION_SVD_SQRT / np.max(np.linalg.norm(_COLOR_CORRELATION_SVD_SQRT, axis=0))
_BINOMIAL = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]).astype(np.float32) / 256.0
MAX_LAPLACIAN_LEVELS = 8
MAX_BLUR_SIGMA = 20.0
# Blur kernels are built in the program from the runtime sigma, over a static radius: the
# smallest of these that holds 3 sigma (taps past 3 sigma get weight 0, as before).
BLUR_RADII = (3, 6, 12, 24, 60)


@dataclass(frozen=True)
class Regularisers:
    """The regularisers of a dream; :meth:`plan` is what its program is compiled for."""

    tv: float = 0.0
    blur_sigma: float = 0.0
    laplacian_levels: int = 0
    decorrelate_colour: bool = False

    def __post_init__(self):
        problems = []
        if not (math.isfinite(self.tv) and self.tv >= 0):
            problems.append(f"total variation weight must be 0 or more, got {self.tv}")
        if not (math.isfinite(self.blur_sigma) and 0 <= self.blur_sigma <= MAX_BLUR_SIGMA):
            problems.append(f"blur sigma must be from 0 to 20 pixels, got {self.blur_sigma}")
        if not (isinstance(self.laplacian_levels, int) and 0 <= self.laplacian_levels <= MAX_LAPLACIAN_LEVELS):
            problems.append(f"Laplacian levels must be a whole number from 0 to {MAX_LAPLACIAN_LEVELS}, got {self.laplacian_levels}")
        if problems:
            raise DreamjaxError("; ".join(problems))

    def plan(self) -> RegulariserPlan:
        radius = next(r for r in BLUR_RADII if r >= blur_radius(self.blur_sigma)) if self.blur_sigma else 0
        return RegulariserPlan(self.tv > 0, radius, self.laplacian_levels, self.decorrelate_colour)

    def numbers(self) -> dict[str, np.ndarray]:
        """The runtime arguments: TV weight and blur sigma."""
        return {"tv": np.float32(self.tv), "blur_sigma": np.float32(self.blur_sigma or 1.0)}


@dataclass(frozen=True)
class RegulariserPlan:
    """The static part of the regularisers: which are on, the Laplacian's levels, the blur radius."""

    tv: bool = False
    blur_radius: int = 0  # 0: no blur
    laplacian_levels: int = 0
    decorrelate_colour: bool = False

    def penalty(self, images: jax.Array, tv: jax.Array, region: Region | None = None) -> jax.Array:
        """``tv * TV(image)`` per image, shape ``[B]``."""
        return tv * total_variation(images, region)

    def precondition(self, grad: jax.Array, region: Region | None = None) -> jax.Array:
        """The gradient reshaped by the Laplacian and colour options (identity when both are off)."""
        if self.laplacian_levels:
            grad = laplacian_normalise(grad, self.laplacian_levels, region=region)
        if self.decorrelate_colour:
            grad = decorrelate_colour_step(grad)
        return grad

    def smooth(self, image: jax.Array, start: jax.Array, sigma: jax.Array) -> jax.Array:
        """``start`` plus the blurred change from it (identity when blur is off).

        On a padded canvas both pads must show their picture (the ascent step's shift back does that).
        """
        if not self.blur_radius:
            return image
        return start + gaussian_blur(image - start, sigma, self.blur_radius)


def total_variation(images: jax.Array, region: Region | None = None) -> jax.Array:
    """Mean absolute difference of vertical and horizontal neighbours, per image ``[B]``.

    With a ``region``, only neighbours that both lie in the picture count.
    """
    dy = jnp.abs(images[:, 1:] - images[:, :-1])
    dx = jnp.abs(images[:, :, 1:] - images[:, :, :-1])
    if region is None:
        return jnp.mean(dy, axis=(1, 2, 3)) + jnp.mean(dx, axis=(1, 2, 3))
    inside = region.mask()
    pairs_y, pairs_x = inside[:, 1:] * inside[:, :-1], inside[:, :, 1:] * inside[:, :, :-1]
    channels = images.shape[-1]
    return (jnp.sum(dy * pairs_y, axis=(1, 2, 3)) / (jnp.sum(pairs_y) * channels)
            + jnp.sum(dx * pairs_x, axis=(1, 2, 3)) / (jnp.sum(pairs_x) * channels))


def _to_planes(images: jax.Array) -> jax.Array:
    """``[B, H, W, C]`` as ``[B*C, H, W, 1]``: one single-channel image per colour plane."""
    b, h, w, c = images.shape
    return images.transpose(0, 3, 1, 2).reshape(b * c, h, w, 1)


def _from_planes(planes: jax.Array, batch: int, channels: int) -> jax.Array:
    """The inverse of :func:`_to_planes` (the planes may have another height and width)."""
    return planes.reshape(batch, channels, *planes.shape[1:3]).transpose(0, 2, 3, 1)


def _per_channel(fn, images: jax.Array) -> jax.Array:
    """Apply ``fn`` on ``[B*C, H, W, 1]``: every colour plane filtered on its own."""
    return _from_planes(fn(_to_planes(images)), images.shape[0], images.shape[3])


def _conv(planes: jax.Array, kernel, stride: int = 1, padding="SAME") -> jax.Array:
    k = jnp.asarray(kernel, planes.dtype)[:, :, None, None]
    return jax.lax.conv_general_dilated(planes, k, (stride, stride), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _down(planes: jax.Array) -> jax.Array:
    """Blur with the 5x5 binomial kernel and keep every second pixel (TF 'SAME' padding)."""
    return _conv(planes, _BINOMIAL, stride=2)


def _up(planes: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """The transpose of ``_down`` times 4, to ``shape``: TF's ``conv2d_transpose(lo, k5x5*4)``."""
    (up,) = jax.linear_transpose(_down, jax.ShapeDtypeStruct(shape, planes.dtype))(planes)
    return 4.0 * up


def laplacian_split(images: jax.Array, levels: int) -> list[jax.Array]:
    """Laplacian pyramid of ``[B, H, W, 3]``: coarsest remainder first, then finer and finer bands."""

    def split(planes):
        bands = []
        for _ in range(levels):
            low = _down(planes)
            bands.append(planes - _up(low, planes.shape))
            planes = low
        bands.append(planes)
        return bands[::-1]

    return [_from_planes(band, images.shape[0], images.shape[3]) for band in split(_to_planes(images))]


def laplacian_merge(bands: list[jax.Array]) -> jax.Array:
    """The inverse of :func:`laplacian_split` (exact: each band was made with the same ``_up``)."""

    image = _to_planes(bands[0])
    for band in bands[1:]:
        band_planes = _to_planes(band)
        image = _up(image, band_planes.shape) + band_planes
    return _from_planes(image, bands[-1].shape[0], bands[-1].shape[3])


def laplacian_normalise(grad: jax.Array, levels: int, eps: float = 1e-10, region: Region | None = None) -> jax.Array:
    """Each band of the gradient's Laplacian pyramid scaled to unit RMS (per image), then merged.

    With a ``region``, each band's RMS is taken over the picture's cells of that band.
    """
    def rms(band):
        if region is None:
            return jnp.sqrt(jnp.mean(jnp.square(band), axis=(1, 2, 3), keepdims=True))
        return jnp.sqrt(region.mean(jnp.square(band)))[:, None, None, None]

    bands = laplacian_split(grad, levels)
    return laplacian_merge([band / jnp.maximum(rms(band), eps) for band in bands])


def decorrelate_colour_step(grad: jax.Array) -> jax.Array:
    """``C Cᵀ g`` at every pixel: the image-space step of a gradient step in decorrelated colour."""
    metric = jnp.asarray(_COLOR_CORRELATION @ _COLOR_CORRELATION.T, grad.dtype)
    return grad @ metric  # the metric is symmetric, so right-multiplying rows is C Cᵀ g


def blur_radius(sigma: float) -> int:
    """Taps each side of the centre that a Gaussian of ``sigma`` uses (3 sigma, at least 1)."""
    return max(1, math.ceil(3 * sigma))


def gaussian_kernel(sigma, radius: int | None = None) -> jax.Array:
    """The normalised Gaussian over ``2 * radius + 1`` taps; taps past ``blur_radius(sigma)`` are 0.

    ``sigma`` may be a traced number; ``radius`` (static) defaults to ``blur_radius(sigma)``.
    """
    radius = blur_radius(sigma) if radius is None else radius
    x = jnp.arange(-radius, radius + 1, dtype=jnp.float32)
    k = jnp.exp(-0.5 * (x / sigma) ** 2) * (jnp.abs(x) <= jnp.maximum(1.0, jnp.ceil(3.0 * sigma)))
    return k / jnp.sum(k)


def gaussian_blur(images: jax.Array, sigma, radius: int | None = None) -> jax.Array:
    """Separable Gaussian blur of ``[B, H, W, C]`` with mirrored edges (no darkening at the border)."""
    k = gaussian_kernel(sigma, radius)
    r = len(k) // 2

    def blur(planes):
        padded = jnp.pad(planes, ((0, 0), (r, r), (r, r), (0, 0)), mode="symmetric")
        return _conv(_conv(padded, k[:, None], padding="VALID"), k[None, :], padding="VALID")

    return _per_channel(blur, images)
