"""Kill a batch-directory run (`dreamjax dream DIR -o OUTDIR`) inside a file write, run it again:
the folder ends with every picture, each equal to an uninterrupted run's, and no leftovers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from fake_plugins import write_distribution

from dreamjax.files.image import load_image, save_image

TESTS = Path(__file__).parent
ARGS = ["--model", "tiny", "--layer", "conv1", "--octaves", "2", "--steps", "3", "--jitter", "2", "--seed", "9",
        "--batch-size", "2", "--no-cache"]
NAMES = [f"pic{i}.png" for i in range(6)]


@pytest.fixture(scope="module")
def plugin_root(tmp_path_factory):
    return write_distribution(tmp_path_factory.mktemp("plugin"), {"tiny": "dreamjax_fake_backend:backend"})


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(4)
    for i, name in enumerate(NAMES):  # two sizes: two size groups, several batches
        save_image(folder / name, rng.uniform(0.2, 0.8, size=(40, 44, 3) if i % 2 else (36, 48, 3)))
    return folder


def _start(plugin_root, inputs: Path, outdir: Path, slow_writes: bool = False) -> subprocess.Popen:
    env = dict(os.environ, DREAMJAX_CACHE_DIR="", PYTHONPATH=os.pathsep.join(
        [str(plugin_root), str(TESTS / "slow_writes"), os.environ.get("PYTHONPATH", "")]))
    if slow_writes:
        env["DREAMJAX_TEST_SLOW_WRITES"] = "1"
    return subprocess.Popen([sys.executable, "-m", "dreamjax", "dream", str(inputs), "-o", str(outdir), *ARGS],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(proc: subprocess.Popen) -> tuple[int, str]:
    _, err = proc.communicate(timeout=300)
    return proc.returncode, err.decode(errors="replace")


@pytest.fixture(scope="module")
def reference(plugin_root, inputs, tmp_path_factory):
    outdir = tmp_path_factory.mktemp("reference")
    code, err = _finish(_start(plugin_root, inputs, outdir))
    assert code == 0, err
    assert sorted(p.name for p in outdir.iterdir()) == NAMES
    return outdir


def _same(a: Path, b: Path) -> None:
    # Batch mates differ after a resume; per-image results agree to float rounding (see
    # test_batch_equals_each_image_alone), so 8-bit pixels agree to one level.
    np.testing.assert_allclose(load_image(a), load_image(b), atol=1 / 255 + 1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_batch_killed_inside_a_write_resumes_to_the_uninterrupted_result(plugin_root, inputs, reference, tmp_path, sig):
    outdir = tmp_path / "out"
    proc = _start(plugin_root, inputs, outdir, slow_writes=True)
    deadline = time.monotonic() + 300
    # Wait until one picture is finished and the next is half written.
    while not (outdir.is_dir() and list(outdir.glob("pic*.png")) and list(outdir.glob(".*.part.png"))):
        assert proc.poll() is None and time.monotonic() < deadline, _finish(proc)[1]
        time.sleep(0.01)
    time.sleep(0.2)
    proc.send_signal(sig)
    _finish(proc)
    finished = sorted(p.name for p in outdir.glob("pic*.png"))
    assert 1 <= len(finished) < len(NAMES)
    for name in finished:  # complete and right, never partial
        _same(outdir / name, reference / name)
    if sig == signal.SIGINT:
        assert not list(outdir.glob(".*part*"))

    code, err = _finish(_start(plugin_root, inputs, outdir))
    assert code == 0, err
    assert sorted(p.name for p in outdir.iterdir()) == NAMES  # all there, stale temporary file gone
    for name in NAMES:
        _same(outdir / name, reference / name)
