import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dreamjax import DreamjaxError, dream
from dreamjax.ascent.engine import DreamConfig, Dreamer
from dreamjax.ascent.objectives import layer_objective
from dreamjax.ascent.regularisers import (
    _COLOR_CORRELATION,
    Regularisers,
    _down,
    _up,
    decorrelate_colour_step,
    gaussian_blur,
    gaussian_kernel,
    laplacian_merge,
    laplacian_normalise,
    laplacian_split,
    total_variation,
)

FAST = dict(octaves=2, steps=4, octave_scale=1.5, jitter=4)


@pytest.fixture
def images(rng):
    return jnp.asarray(rng.normal(size=(2, 33, 46, 3)), jnp.float32)


def test_laplacian_pyramid_shapes_and_exact_merge(images):
    bands = laplacian_split(images, 3)
    assert [b.shape[1:3] for b in bands] == [(5, 6), (9, 12), (17, 23), (33, 46)]
    np.testing.assert_allclose(laplacian_merge(bands), images, atol=1e-5)


def test_up_is_four_times_the_transpose_of_down(rng):
    """TF's conv2d_transpose(lo, 4*k) is the adjoint of conv2d(x, 4*k, stride 2): <down x, y> = <x, up y>/4."""
    x = jnp.asarray(rng.normal(size=(3, 17, 22, 1)), jnp.float32)
    y = jnp.asarray(rng.normal(size=(3, 9, 11, 1)), jnp.float32)
    assert _down(x).shape == y.shape
    np.testing.assert_allclose(jnp.vdot(_down(x), y), jnp.vdot(x, _up(y, x.shape)) / 4, rtol=1e-5)


def test_binomial_down_keeps_a_flat_picture_flat_inside():
    flat = jnp.full((1, 16, 16, 1), 0.7)
    np.testing.assert_allclose(_down(flat)[0, 1:-1, 1:-1], 0.7, rtol=1e-6)


def test_laplacian_normalise_rebalances_frequencies(images):
    np.testing.assert_allclose(laplacian_normalise(3.0 * images, 3), laplacian_normalise(images, 3), rtol=1e-4, atol=1e-5)
    # A gradient that is almost all low frequency: the fine detail gains weight against the coarse.
    y, x = np.mgrid[0:64, 0:64]
    low, high = np.sin(2 * np.pi * 2 * x / 64), np.sin(2 * np.pi * 24 * x / 64)
    grad = jnp.asarray(np.repeat((low + 0.01 * high)[None, :, :, None], 3, axis=-1), jnp.float32)

    def high_over_low(g):
        spectrum = np.abs(np.fft.rfft(np.asarray(g)[0, :, :, 0].mean(axis=0)))
        return spectrum[24] / spectrum[2]

    assert high_over_low(grad) == pytest.approx(0.01, rel=1e-3)
    assert high_over_low(laplacian_normalise(grad, 4)) > 2.5 * high_over_low(grad)


def test_gaussian_blur_matches_a_direct_convolution(images):
    sigma = 1.3
    k = gaussian_kernel(sigma)
    assert k.sum() == pytest.approx(1.0, abs=1e-6) and len(k) == 2 * 4 + 1
    r = len(k) // 2
    x = np.asarray(images)
    padded = np.pad(x, ((0, 0), (r, r), (r, r), (0, 0)), mode="symmetric")
    k2 = np.outer(k, k)
    ref = np.zeros_like(x)
    for dy in range(len(k)):
        for dx in range(len(k)):
            ref += k2[dy, dx] * padded[:, dy : dy + x.shape[1], dx : dx + x.shape[2]]
    np.testing.assert_allclose(gaussian_blur(images, sigma), ref, atol=1e-5)


def test_total_variation_value():
    image = jnp.zeros((1, 4, 5, 3)).at[:, :, 2:].set(1.0)  # one vertical edge
    # Horizontal neighbours: 4 rows x 4 pairs, one pair per row differs; vertical: no change.
    assert float(total_variation(image)[0]) == pytest.approx(4 / 16)


def test_colour_step_is_a_gradient_step_in_decorrelated_space(rng):
    """x = C y; a step on y along dL/dy moves x by C Cᵀ dL/dx."""
    c = jnp.asarray(_COLOR_CORRELATION)
    w = jnp.asarray(rng.normal(size=(1, 4, 4, 3)), jnp.float32)
    y = jnp.asarray(rng.normal(size=(1, 4, 4, 3)), jnp.float32)
    loss_x = lambda x: jnp.sum(w * x**2)  # noqa: E731
    to_x = lambda y: y @ c.T  # noqa: E731  per pixel x = C y
    grad_y = jax.grad(lambda y: loss_x(to_x(y)))(y)
    moved = to_x(y + 1e-3 * grad_y) - to_x(y)
    np.testing.assert_allclose(moved, 1e-3 * decorrelate_colour_step(jax.grad(loss_x)(to_x(y))), rtol=1e-3, atol=1e-7)


def test_defaults_change_nothing(images):
    plan = Regularisers().plan()
    assert plan.precondition(images) is images and plan.smooth(images, images * 0, 1.0) is images


def test_numbers_are_runtime_arguments_and_only_structure_is_planned():
    assert Regularisers(tv=0.5).plan() == Regularisers(tv=2.0).plan() != Regularisers().plan()
    assert Regularisers(blur_sigma=0.5).plan() == Regularisers(blur_sigma=1.0).plan()  # radius class 3
    assert Regularisers(blur_sigma=1.5).plan().blur_radius == 6
    assert Regularisers(laplacian_levels=3).plan() != Regularisers(laplacian_levels=4).plan()


@pytest.mark.parametrize("sigma", [0.4, 1.0, 1.3, 3.9, 20.0])
def test_blur_kernel_over_a_wider_radius_is_the_same_kernel(sigma):
    exact = np.asarray(gaussian_kernel(sigma))
    radius = Regularisers(blur_sigma=sigma).plan().blur_radius
    wide = np.asarray(jax.jit(gaussian_kernel, static_argnums=1)(jnp.float32(sigma), radius))
    pad = radius - len(exact) // 2
    np.testing.assert_allclose(wide, np.pad(exact, pad), atol=1e-7)


@pytest.mark.parametrize("kwargs", [dict(tv=-1), dict(tv=float("nan")), dict(blur_sigma=-0.5), dict(blur_sigma=50), dict(laplacian_levels=9)])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(DreamjaxError):
        Regularisers(**kwargs)


def _high_frequency(change):
    return float(np.mean(np.abs(np.diff(change, axis=0))) + np.mean(np.abs(np.diff(change, axis=1))))


def test_each_regulariser_changes_the_dream_the_way_it_says(tiny, rng):
    photo = rng.uniform(0.2, 0.8, size=(48, 48, 3)).astype(np.float32)
    plain = dream(tiny, photo, "conv1", **FAST)
    tv = dream(tiny, photo, "conv1", regularisers=Regularisers(tv=5.0), **FAST)
    blur = dream(tiny, photo, "conv1", regularisers=Regularisers(blur_sigma=1.0), **FAST)
    lap = dream(tiny, photo, "conv1", regularisers=Regularisers(laplacian_levels=3), **FAST)
    colour = dream(tiny, photo, "conv1", regularisers=Regularisers(decorrelate_colour=True), **FAST)
    for out in (tv, blur, lap, colour):
        assert np.all(np.isfinite(out)) and out.min() >= 0 and out.max() <= 1
        assert np.abs(out - plain).mean() > 1e-3
    tv_of = lambda x: float(total_variation(jnp.asarray(x)[None])[0])  # noqa: E731
    assert tv_of(tv) < tv_of(plain)
    assert _high_frequency(blur - photo) < 0.7 * _high_frequency(plain - photo)
    assert _high_frequency(lap - photo) < _high_frequency(plain - photo)
    # Decorrelated steps move the colour channels together more than independent steps do.
    corr = lambda x: np.corrcoef((x - photo).reshape(-1, 3).T)[np.triu_indices(3, 1)].mean()  # noqa: E731
    assert corr(colour) > corr(plain) + 0.1


def test_regularisers_are_part_of_the_program(tiny, rng):
    dreamer = Dreamer(tiny)
    photo = rng.uniform(size=(1, 32, 32, 3)).astype(np.float32)
    objective = layer_objective(tiny, "conv1")
    _, a = dreamer.run(photo, objective, DreamConfig(octaves=1, steps=2))
    _, b = dreamer.run(photo, objective, DreamConfig(octaves=1, steps=2, regularisers=Regularisers(blur_sigma=1.0)))
    _, c = dreamer.run(photo, objective, DreamConfig(octaves=1, steps=2, regularisers=Regularisers(blur_sigma=1.0)))
    assert (a.programs_compiled, b.programs_compiled, c.programs_compiled) == (1, 1, 0)
