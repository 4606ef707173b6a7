"""The up-front memory estimate: read from XLA, compared with what the machine has free."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from dreamjax.runtime import memory
from dreamjax.ascent.engine import DreamConfig, Dreamer
from dreamjax.ascent.objectives import layer_objective
from dreamjax.runtime.memory import MemoryLimitError, _cgroup_available, _meminfo_available

CONFIG = DreamConfig(octaves=2, steps=2, jitter=2)


def _estimate(model, batch, side):
    dreamer = Dreamer(model)
    images = np.full((batch, side, side, 3), 0.5, np.float32)
    _, stats = dreamer.run(images, layer_objective(model, ["conv1"]), CONFIG)
    return stats.estimated_bytes


def test_estimate_grows_with_batch_and_size_and_covers_the_activations(tiny):
    one = _estimate(tiny, 1, 64)
    four = _estimate(tiny, 4, 64)
    big = _estimate(tiny, 1, 128)
    assert 3 * one < four < 5 * one
    assert 3 * one < big < 5 * one
    # conv0 alone (8 channels at full size, kept for the backward pass) is a lower bound.
    assert one > 64 * 64 * 8 * 4


def test_run_is_refused_before_any_step_when_memory_is_short(tiny, monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda device: (1 << 20, "host memory"))
    steps_done = []
    images = np.full((2, 96, 96, 3), 0.5, np.float32)
    with pytest.raises(MemoryLimitError, match=r"dreaming 2 image\(s\) of 96x96 needs about .* but only 1.0 MiB of host memory") as err:
        Dreamer(tiny).run(images, layer_objective(tiny, ["conv1"]), CONFIG, progress=lambda *a: steps_done.append(a))
    assert steps_done == []  # refused up front, not after the first octave
    assert "--tile" in str(err.value) and "fewer images" in str(err.value)
    assert err.value.needed > err.value.available


def test_switch_lets_a_refused_run_go_ahead(tiny, monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda device: (1 << 20, "host memory"))
    monkeypatch.setenv(memory.ENV_SWITCH, "0")
    out, stats = Dreamer(tiny).run(np.full((1, 96, 96, 3), 0.5, np.float32), layer_objective(tiny, ["conv1"]), CONFIG)
    assert out.shape == (1, 96, 96, 3) and stats.estimated_bytes > 1 << 20


def test_refusal_in_the_cli_is_one_line(tiny, monkeypatch, tmp_path, capsys):
    from dreamjax.cli import main
    from dreamjax.files.image import save_image

    monkeypatch.setattr("dreamjax.cli.dream.load_model", lambda ref, **kw: tiny)
    monkeypatch.setattr(memory, "available_bytes", lambda device: (1 << 20, "host memory"))
    save_image(tmp_path / "in.png", np.full((96, 96, 3), 0.5))
    args = ["--layer", "conv1", "--octaves", "2", "--steps", "2", "--no-cache"]
    assert main(["dream", str(tmp_path / "in.png"), "-o", str(tmp_path / "o.png"), *args]) == 2
    err = capsys.readouterr().err
    assert "needs about" in err and "hint:" in err and "Traceback" not in err
    assert not (tmp_path / "o.png").exists()


def test_meminfo(tmp_path):
    (tmp_path / "meminfo").write_text("MemTotal: 100 kB\nMemFree: 10 kB\nMemAvailable:   2048 kB\n")
    assert _meminfo_available(str(tmp_path / "meminfo")) == 2048 * 1024
    assert _meminfo_available(str(tmp_path / "missing")) is None


@pytest.mark.parametrize(
    "files, expected",
    [
        ({"memory.max": "1000000\n", "memory.current": "250000\n"}, 750000),
        ({"memory.max": "max\n", "memory.current": "250000\n"}, None),
        ({"memory/memory.limit_in_bytes": "4096\n", "memory/memory.usage_in_bytes": "1024\n"}, 3072),
        ({"memory/memory.limit_in_bytes": str(2**63 - 4096), "memory/memory.usage_in_bytes": "1024"}, None),
        ({}, None),
    ],
    ids=["v2", "v2-unlimited", "v1", "v1-unlimited", "none"],
)
def test_cgroup_limits(tmp_path, files, expected):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert _cgroup_available(str(tmp_path)) == expected


def test_this_machine_reports_some_free_memory():
    available, where = memory.available_bytes(jax.devices()[0])
    assert where.endswith("memory") and (available is None or available > 0)
