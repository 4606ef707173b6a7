"""Data parallel dreaming: same pictures on 4 (virtual CPU) devices as on one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest

from dreamjax.errors import DreamjaxError
from dreamjax.runtime.devices import choose_device_count, place

TESTS = Path(__file__).parent

# Runs in a fresh process: the device count is fixed when the CPU backend starts.
SCRIPT = textwrap.dedent(
    """
    import dataclasses, json, sys
    import numpy as np
    import jax
    from tiny_model import tiny_model  # from this folder, on PYTHONPATH
    from dreamjax.ascent.engine import DreamConfig, Dreamer
    from dreamjax.ascent.objectives import layer_objective

    model = tiny_model()
    objective = layer_objective(model, ["conv1"])
    config = DreamConfig(octaves=2, steps=3, jitter=4)
    images = np.random.default_rng(1).random((3, 40, 36, 3), dtype=np.float32)
    one, _ = Dreamer(model).run(images, objective, config, devices=1)
    dreamer = Dreamer(model)
    four, stats = dreamer.run(images, objective, config, devices=4)
    auto, _ = dreamer.run(images[:2], objective, config)
    program = next(iter(dreamer._compiled.values()))
    exact, _ = dreamer.run(images, objective, dataclasses.replace(config, exact_shapes=True), devices=4)
    seed, _ = dreamer.run(images, objective, dataclasses.replace(config, exact_shapes=True, seed=1), devices=4)
    print(json.dumps({
        "devices": jax.local_device_count(),
        "max_diff": float(np.max(np.abs(one - four))),
        "auto_diff": float(np.max(np.abs(one[:2] - auto))),
        "exact_mean": float(np.mean(np.abs(four - exact))),
        "seed_mean": float(np.mean(np.abs(seed - exact))),
        "exact_psnr": float(10 * np.log10(1 / np.mean((four - exact) ** 2))),
        "shape": list(four.shape),
        "changed": float(np.max(np.abs(four - images[:, :, :, :]))) if four.shape == images.shape else -1.0,
        "input_devices": len(program.input_shardings[0][2].device_set),
    }))
    """
)


def test_four_devices_dream_the_same_pictures_as_one():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu",
               DREAMJAX_CACHE_DIR="", PYTHONPATH=os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["devices"] == 4
    assert result["shape"] == [3, 40, 36, 3]  # padding (3 -> 4 images) dropped again
    assert result["input_devices"] == 4  # the program really took a batch spread over 4 devices
    assert result["changed"] > 0.01  # it dreamed
    # Same per-image arithmetic on each device; only reduction order may differ.
    assert result["max_diff"] < 1e-4
    assert result["auto_diff"] < 1e-4
    # Buckets against exact shapes, on 4 devices: the stated tolerance (docs/programs.md).
    assert result["exact_mean"] < 0.5 * result["seed_mean"] and result["exact_psnr"] > 30.0


def test_device_count_is_checked():
    available = jax.local_device_count()
    assert choose_device_count(5) == min(5, available)
    assert choose_device_count(1, None) == 1
    with pytest.raises(DreamjaxError, match="devices"):
        choose_device_count(4, available + 1)
    with pytest.raises(DreamjaxError):
        choose_device_count(4, 0)


def test_single_device_placement_pads_nothing():
    placement = place(3, 1)
    batch = np.arange(3 * 2 * 2 * 3, dtype=np.float32).reshape(3, 2, 2, 3)
    assert placement.padded == 3
    np.testing.assert_array_equal(placement.take(placement.put(batch)), batch)
