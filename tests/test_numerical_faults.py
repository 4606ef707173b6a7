"""Fault injection: models whose gradient turns NaN/Inf at a chosen octave, step or image.

The engine must stop with the step and octave, and never hand back (or write) a NaN picture.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
import pytest
from tiny_model import TinyModel, tiny_model

from dreamjax.ascent.engine import DreamConfig, Dreamer, NumericalFaultError
from dreamjax.ascent.objectives import layer_objective


@dataclass(eq=False)
class FaultyModel(TinyModel):
    """The tiny CNN with a poisoned layer: ``conv1`` is multiplied by ``poison`` where ``when`` holds.

    ``when(images) -> bool[B]`` decides per image, inside the compiled program, so the fault
    appears at a step that depends on how the picture evolves, or on its shape.
    """

    when: object = None
    poison: float = float("nan")

    def apply(self, params, images, capture):
        out = super().apply(params, images, tuple(set(capture) | {"conv1"}))
        hit = self.when(images)[:, None, None, None]
        out["conv1"] = out["conv1"] * jnp.where(hit, self.poison, 1.0)
        return {name: out[name] for name in capture}


def faulty(when, poison=float("nan")) -> FaultyModel:
    base = tiny_model()
    return FaultyModel(params=base.params, layers=base.layers, when=when, poison=poison)


def _run(model, images, **config):
    dreamer = Dreamer(model)
    return dreamer.run(images, layer_objective(model, ["conv1"]), DreamConfig(**{"jitter": 0, **config}))


@pytest.fixture
def picture(rng):
    return rng.uniform(0.3, 0.5, size=(1, 32, 32, 3)).astype(np.float32)


@pytest.mark.parametrize("poison", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_fault_at_the_first_step(picture, poison):
    model = faulty(lambda x: jnp.ones(x.shape[0], bool), poison)
    with pytest.raises(NumericalFaultError, match=r"step 1/3 of octave 1/2") as err:
        _run(model, picture, octaves=2, steps=3)
    assert (err.value.octave, err.value.step, err.value.images) == (1, 1, (1,))
    assert "--step-size" in str(err.value)


def test_fault_only_in_the_full_size_octave(picture):
    # Shapes are static: the poison switches on at the last octave's size only.
    model = faulty(lambda x: jnp.full(x.shape[0], x.shape[1] >= 32))
    with pytest.raises(NumericalFaultError, match=r"step 1/2 of octave 3/3"):
        _run(model, picture, octaves=3, steps=2, octave_scale=1.5)


def test_fault_mid_octave_is_reported_at_the_step_it_happens(picture):
    # Poison once the dream has raised the contrast past a threshold: some step in the middle.
    model = faulty(lambda x: jnp.std(x, axis=(1, 2, 3)) > 0.2)
    with pytest.raises(NumericalFaultError) as err:
        _run(model, picture, octaves=1, steps=40, step_size=0.02)
    step = err.value.step
    assert 1 < step < 40
    # The report is exact: one step fewer runs clean, the reported number of steps does not.
    out, _ = _run(model, picture, octaves=1, steps=step - 1, step_size=0.02)
    assert np.all(np.isfinite(out))
    with pytest.raises(NumericalFaultError, match=f"step {step}/{step}"):
        _run(model, picture, octaves=1, steps=step, step_size=0.02)


def test_only_the_poisoned_images_of_a_batch_are_named(rng):
    dark = rng.uniform(0.1, 0.2, size=(32, 32, 3))
    bright = rng.uniform(0.8, 0.9, size=(32, 32, 3))
    batch = np.stack([dark, bright, dark, bright]).astype(np.float32)
    model = faulty(lambda x: jnp.mean(x, axis=(1, 2, 3)) > 0.5)
    with pytest.raises(NumericalFaultError, match=r"image 2, 4 of 4") as err:
        _run(model, batch, octaves=1, steps=2)
    assert err.value.images == (2, 4)


def test_no_nan_reaches_the_cli_output(tmp_path, monkeypatch, capsys):
    from dreamjax import backends as backends_module
    from dreamjax.cli import main
    from dreamjax.files.image import save_image

    model = faulty(lambda x: jnp.ones(x.shape[0], bool))
    monkeypatch.setattr(backends_module, "load_model", lambda ref, **kw: model)
    monkeypatch.setattr("dreamjax.cli.dream.load_model", lambda ref, **kw: model)
    save_image(tmp_path / "in.png", np.full((32, 32, 3), 0.4))
    out = tmp_path / "out.png"
    code = main(["dream", str(tmp_path / "in.png"), "-o", str(out), "--layer", "conv1", "--octaves", "1",
                 "--steps", "2", "--no-cache"])
    assert code == 2
    err = capsys.readouterr().err
    assert "NaN or Inf at step 1/2 of octave 1/1" in err and "Traceback" not in err
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["in.png"]


def test_nan_input_is_refused_before_compiling(picture):
    picture[0, 3, 4, 1] = np.nan
    with pytest.raises(NumericalFaultError, match="input images contain NaN"):
        _run(tiny_model(), picture, octaves=1, steps=1)
