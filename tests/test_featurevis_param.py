"""The FFT + decorrelated-colour parametrisation and the random transforms of dreamjax.featurevis."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dreamjax.featurevis.param import COLOUR_CORRELATION, Parametrisation, from_image, init_params, to_image
from dreamjax.featurevis.transforms import NO_TRANSFORMS, PAD_VALUE, Transforms, _sample, random_view, random_views

COMBOS = [Parametrisation(fft, dec, sig) for fft in (True, False) for dec in (True, False) for sig in (True, False)]


def lucid_image(params: np.ndarray, height: int, width: int, decay_power: float = 1.0) -> np.ndarray:
    """lucid's fft_image + to_valid_rgb(decorrelate=True, sigmoid=True), written out in numpy, for
    an even width (for an odd one lucid keeps one more column and crops the picture; dreamjax uses
    the exact inverse of a width-W real FFT instead)."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.fftfreq(width)[: width // 2 + 1]  # lucid's rfft2d_freqs
    freqs = np.sqrt(fx * fx + fy * fy)
    scale = 1.0 / np.maximum(freqs, 1.0 / max(width, height)) ** decay_power * np.sqrt(width * height)
    spectrum = (params[..., 0] + 1j * params[..., 1]) * scale
    image = np.fft.irfft2(spectrum, s=(height, width))[:, :3, :height, :width] / 4.0
    image = np.transpose(image, (0, 2, 3, 1))
    normalised = np.asarray([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
    normalised = normalised / np.max(np.linalg.norm(normalised, axis=0))
    return 1.0 / (1.0 + np.exp(-(image.reshape(-1, 3) @ normalised.T).reshape(image.shape)))


@pytest.mark.parametrize("shape", [(16, 16), (15, 22), (9, 10)])
def test_spectral_picture_matches_lucids_formula(shape):
    keys = jax.random.split(jax.random.key(1), 2)
    params = init_params(keys, *shape, Parametrisation(), sd=0.3)
    got = np.asarray(to_image(params, *shape, Parametrisation()))
    np.testing.assert_allclose(got, lucid_image(np.asarray(params, np.float64), *shape), atol=2e-6)
    assert COLOUR_CORRELATION.shape == (3, 3) and np.isclose(np.max(np.linalg.norm(COLOUR_CORRELATION, axis=0)), 1.0)


@pytest.mark.parametrize("param, decay_power", [(p, 1.0) for p in COMBOS] + [(Parametrisation(), 0.5)],
                         ids=lambda v: f"fft{v.fft:d}-dec{v.decorrelate:d}-sig{v.sigmoid:d}" if isinstance(v, Parametrisation) else str(v))
def test_picture_round_trips_through_its_parameters(param, decay_power, rng):
    pictures = rng.uniform(0.05, 0.95, size=(2, 12, 17, 3)).astype(np.float32)
    if not param.sigmoid:  # clipped range: stay where every colour transform is still inside [0, 1]
        pictures = 0.5 + 0.1 * (pictures - 0.5)
    params = from_image(pictures, param, decay_power)
    assert params.shape == ((2, 3, 12, 9, 2) if param.fft else (2, 12, 17, 3))
    back = np.asarray(to_image(params, 12, 17, param, decay_power))
    np.testing.assert_allclose(back, pictures, atol=2e-5)


def test_init_draws_each_picture_from_its_own_key():
    keys = jax.random.split(jax.random.key(0), 3)
    together = init_params(keys, 8, 8, Parametrisation(), sd=0.01)
    alone = init_params(keys[1:2], 8, 8, Parametrisation(), sd=0.01)
    np.testing.assert_array_equal(together[1:2], alone)
    assert abs(float(jnp.std(together)) - 0.01) < 0.002


def test_from_image_refuses_a_wrong_shape():
    from dreamjax.errors import DreamjaxError

    with pytest.raises(DreamjaxError, match=r"\[B, H, W, 3\]"):
        from_image(np.zeros((4, 4, 3)), Parametrisation())


def test_bilinear_sampling_matches_map_coordinates_inside_and_out(rng):
    picture = jnp.asarray(rng.uniform(size=(20, 24, 3)), jnp.float32)
    rows = jnp.asarray(rng.uniform(-3, 23, size=(30, 31)), jnp.float32)
    cols = jnp.asarray(rng.uniform(-3, 27, size=(30, 31)), jnp.float32)
    def reference(p):
        return jnp.stack([jax.scipy.ndimage.map_coordinates(p[..., c], [rows, cols], order=1, mode="constant", cval=PAD_VALUE)
                          for c in range(3)], axis=-1)

    np.testing.assert_allclose(_sample(picture, rows, cols), reference(picture), atol=1e-6)
    weights = jnp.asarray(rng.normal(size=(30, 31, 3)), jnp.float32)
    np.testing.assert_allclose(jax.grad(lambda p: jnp.sum(_sample(p, rows, cols) * weights))(picture),
                               jax.grad(lambda p: jnp.sum(reference(p) * weights))(picture), atol=1e-5)


def test_no_transforms_is_the_identity_and_pad_adds_a_grey_border(rng):
    picture = jnp.asarray(rng.uniform(size=(10, 14, 3)), jnp.float32)
    key = jax.random.key(3)
    np.testing.assert_allclose(random_view(picture, key, NO_TRANSFORMS), picture, atol=1e-6)
    padded = random_view(picture, key, Transforms(scale=0.0, rotate=0.0, pad=3, jitter=0))
    assert padded.shape == (16, 20, 3)
    np.testing.assert_allclose(padded[3:-3, 3:-3], picture, atol=1e-6)
    np.testing.assert_allclose(padded[:3], PAD_VALUE)
    assert Transforms().canvas(128, 128) == (140, 140)  # lucid's canvas after pad 12, jitter 8 and 4


def test_every_picture_gets_its_own_transformation(rng):
    pictures = jnp.asarray(rng.uniform(size=(3, 16, 16, 3)), jnp.float32)
    keys = jax.random.split(jax.random.key(0), 3)
    views = random_views(pictures, keys, Transforms())
    np.testing.assert_allclose(views[2], random_view(pictures[2], keys[2], Transforms()), atol=1e-6)
    same = random_views(jnp.stack([pictures[0]] * 2), jnp.stack([keys[0], keys[1]]), Transforms())
    assert not np.allclose(same[0], same[1])  # one picture, two keys: two views
    assert random_views(pictures, keys, None) is pictures


@pytest.mark.parametrize("bad, match", [(Transforms(scale=1.5), "scale"), (Transforms(rotate=-1.0), "rotation"),
                                        (Transforms(pad=-1), "pad")])
def test_transform_settings_out_of_range_are_refused(bad, match):
    from dreamjax.errors import DreamjaxError

    with pytest.raises(DreamjaxError, match=match):
        bad.check()
