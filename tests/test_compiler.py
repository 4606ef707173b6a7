"""dreamjax.runtime.compiler: per-backend XLA options, validated before use."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from dreamjax.runtime import compiler


@pytest.fixture(autouse=True)
def fresh_cache():
    compiler._supported.cache_clear()
    yield
    compiler._supported.cache_clear()


def test_cpu_programs_keep_convolutions_on_xla(monkeypatch):
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    options = compiler.compiler_options("cpu")
    assert options == {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"}

    def conv(x, w):
        return lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))

    x, w = jnp.ones((1, 56, 56, 64)), jnp.ones((3, 3, 64, 64))
    default = jax.jit(conv).lower(x, w).compile()
    tuned = jax.jit(conv).lower(x, w).compile(options)
    assert "ynn_fusion" in default.as_text()  # what the option is for: XLA's default hands it to YNNPACK
    assert "ynn_fusion" not in tuned.as_text()
    np.testing.assert_allclose(np.asarray(tuned(x, w)), np.asarray(default(x, w)), rtol=1e-6)


def test_other_backends_get_no_options():
    assert compiler.compiler_options("gpu") == {}


def test_the_users_xla_flags_win(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_experimental_ynn_fusion_type=individual_convolution")
    assert compiler.compiler_options("cpu") == {}


def test_an_xla_without_the_option_keeps_its_defaults(monkeypatch):
    monkeypatch.setattr(compiler, "_CPU", {"xla_cpu_no_such_option_in_any_xla": "1"})
    assert compiler.compiler_options("cpu") == {}


class _Network:
    compiler_options = {"cpu": {"xla_cpu_use_fusion_emitters": False}}


def test_a_network_adds_its_own_options(monkeypatch):
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    options = compiler.compiler_options("cpu", model=_Network())
    assert options == {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT",
                       "xla_cpu_use_fusion_emitters": False}
    assert compiler.compiler_options("cpu", model=object()) == compiler.compiler_options("cpu")
    assert compiler.compiler_options("gpu", model=_Network()) == {}  # options are per backend
    # Programs compiled with other options are other programs in the cache.
    assert compiler.compiler_key("cpu", model=_Network()) != compiler.compiler_key("cpu")
    assert compiler.compiler_key("cpu", model=object()) == compiler.compiler_key("cpu")


def test_the_zoo_network_compiles_with_its_options_and_gives_the_same_values():
    import dreamjax

    model = dreamjax.load_model("efficientnet_lite0")
    assert compiler.compiler_options("cpu", model=model)["xla_cpu_use_fusion_emitters"] is False
    x = np.random.default_rng(0).random((1, 64, 96, 3), np.float32)

    def energy(images):
        return jnp.mean(model.apply(model.params, images, ["blocks.4"])["blocks.4"] ** 2)

    lowered = jax.jit(jax.value_and_grad(energy)).lower(x)
    (v0, g0), (v1, g1) = lowered.compile()(x), lowered.compile(compiler.compiler_options("cpu", model=model))(x)
    np.testing.assert_allclose(float(v1), float(v0), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(g1), np.asarray(g0), rtol=1e-4, atol=1e-6 * float(np.abs(g0).max()))
