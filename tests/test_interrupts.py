"""Kill `dreamjax dream` at random moments: the output is absent or complete, never partial.

Each case starts the real CLI in a subprocess (tiny model through a fake plugin distribution),
sends SIGINT (Ctrl-C) or SIGKILL at a moment drawn from a seeded generator, and inspects the
output folder. A slow-writes hook (tests/slow_writes) lets a kill land inside the file write.
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
ARGS = ["--model", "tiny", "--layer", "conv1", "--octaves", "3", "--steps", "20", "--jitter", "4", "--seed", "5", "--no-cache"]


@pytest.fixture(scope="module")
def plugin_root(tmp_path_factory):
    return write_distribution(tmp_path_factory.mktemp("plugin"), {"tiny": "dreamjax_fake_backend:backend"})


@pytest.fixture
def folder(tmp_path, rng):
    out = tmp_path / "out"
    out.mkdir()
    save_image(tmp_path / "in.png", rng.uniform(0.2, 0.8, size=(72, 80, 3)))
    return out


def _start(plugin_root, folder: Path, slow_writes: bool = False) -> subprocess.Popen:
    env = dict(os.environ, DREAMJAX_CACHE_DIR="", PYTHONPATH=os.pathsep.join([str(plugin_root), str(TESTS / "slow_writes")]))
    if slow_writes:
        env["DREAMJAX_TEST_SLOW_WRITES"] = "1"
    cmd = [sys.executable, "-m", "dreamjax", "dream", str(folder.parent / "in.png"), "-o", str(folder / "dream.png"), *ARGS]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(proc: subprocess.Popen, timeout: float = 600) -> tuple[int, str]:
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err.decode(errors="replace")


def _parts(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != "dream.png")


def _check_output(folder: Path, reference: np.ndarray | None) -> str:
    """'none' or 'complete'; fails on anything partial or different."""
    out = folder / "dream.png"
    if not out.exists():
        return "none"
    picture = load_image(out)  # raises on a truncated file
    if reference is not None:
        np.testing.assert_array_equal(picture, reference)
    return "complete"


@pytest.fixture(scope="module")
def reference(plugin_root, tmp_path_factory):
    """An uninterrupted run: its picture, and how long it took."""
    folder = tmp_path_factory.mktemp("ref") / "out"
    folder.mkdir()
    save_image(folder.parent / "in.png", np.random.default_rng(0).uniform(0.2, 0.8, size=(72, 80, 3)))
    t0 = time.monotonic()
    code, err = _finish(_start(plugin_root, folder))
    assert code == 0, err
    return load_image(folder / "dream.png"), time.monotonic() - t0


def _wait_for_part(folder: Path, proc: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not _parts(folder):
        assert proc.poll() is None, _finish(proc)[1]
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_sigkill_inside_the_write_leaves_no_output_and_next_run_cleans_up(plugin_root, folder, reference):
    proc = _start(plugin_root, folder, slow_writes=True)
    _wait_for_part(folder, proc)
    time.sleep(0.3)  # a few pieces in: the temporary file is half written
    proc.kill()
    _finish(proc)
    assert _check_output(folder, None) == "none"
    leftovers = _parts(folder)
    assert len(leftovers) == 1 and leftovers[0].startswith(".dream.png.") and leftovers[0].endswith(".part.png")
    # The next run removes the dead run's temporary file and writes the full picture.
    code, err = _finish(_start(plugin_root, folder))
    assert code == 0, err
    assert _check_output(folder, reference[0]) == "complete" and _parts(folder) == []


@pytest.mark.slow
def test_sigkill_inside_a_rewrite_keeps_the_previous_picture(plugin_root, folder, reference):
    old = np.full((72, 80, 3), 0.25, np.float32)
    save_image(folder / "dream.png", old)
    before = (folder / "dream.png").read_bytes()
    proc = _start(plugin_root, folder, slow_writes=True)
    _wait_for_part(folder, proc)
    time.sleep(0.3)
    proc.kill()
    _finish(proc)
    assert (folder / "dream.png").read_bytes() == before


def test_ctrl_c_inside_the_write_removes_the_temporary_file(plugin_root, folder):
    proc = _start(plugin_root, folder, slow_writes=True)
    _wait_for_part(folder, proc)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    code, err = _finish(proc)
    assert code == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert _check_output(folder, None) == "none" and _parts(folder) == []


def _kill_at(plugin_root, folder, sig, delay, reference) -> tuple[str, int]:
    proc = _start(plugin_root, folder)
    time.sleep(delay)
    proc.send_signal(sig)
    code, _ = _finish(proc)
    outcome = _check_output(folder, reference)
    print(f"{signal.Signals(sig).name} after {delay:.2f} s: exit {code}, output {outcome}, temp files {len(_parts(folder))}")
    if sig == signal.SIGINT:
        assert _parts(folder) == []  # Ctrl-C always cleans up after itself
    return outcome, code


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_kill_at_a_random_moment(plugin_root, folder, reference, sig):
    picture, duration = reference
    delay = float(np.random.default_rng(int(sig)).uniform(0.2, 1.0) * duration)
    outcome, code = _kill_at(plugin_root, folder, sig, delay, picture)
    assert outcome in ("none", "complete")
    # Whatever happened, a rerun gives exactly the uninterrupted picture and no leftovers.
    rerun, err = _finish(_start(plugin_root, folder))
    assert rerun == 0, err
    assert _check_output(folder, picture) == "complete" and _parts(folder) == []


@pytest.mark.slow
@pytest.mark.parametrize("case", range(8))
def test_kill_sweep(plugin_root, tmp_path, reference, case):
    """Eight more kills, alternating signals, at seeded moments across the whole run."""
    picture, duration = reference
    rng = np.random.default_rng(1000 + case)
    sig = (signal.SIGINT, signal.SIGKILL)[case % 2]
    folder = tmp_path / "out"
    folder.mkdir()
    save_image(tmp_path / "in.png", np.random.default_rng(0).uniform(0.2, 0.8, size=(72, 80, 3)))
    outcome, _ = _kill_at(plugin_root, folder, sig, float(rng.uniform(0.05, 1.1) * duration), picture)
    assert outcome in ("none", "complete")
    rerun, err = _finish(_start(plugin_root, folder))
    assert rerun == 0, err
    assert _check_output(folder, picture) == "complete" and _parts(folder) == []


ZOOM = ["zoom", "--model", "tiny", "-l", "conv1", "--octaves", "1", "--steps", "2", "--jitter", "2",
        "--zoom", "1.1", "--rotate", "2", "--animation", "none", "--frames", "5"]


def _zoom(plugin_root, start: Path, outdir: Path, slow_writes: bool = False) -> subprocess.Popen:
    env = dict(os.environ, DREAMJAX_CACHE_DIR="", PYTHONPATH=os.pathsep.join([str(plugin_root), str(TESTS / "slow_writes")]))
    if slow_writes:
        env["DREAMJAX_TEST_SLOW_WRITES"] = "1"
    return subprocess.Popen([sys.executable, "-m", "dreamjax", *ZOOM, str(start), "-o", str(outdir)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_zoom_killed_inside_a_frame_write_resumes_to_the_uninterrupted_stream(plugin_root, tmp_path, sig):
    start = tmp_path / "start.png"
    save_image(start, np.random.default_rng(3).uniform(0.25, 0.75, size=(40, 48, 3)))
    reference, cut = tmp_path / "reference", tmp_path / "cut"
    code, err = _finish(_zoom(plugin_root, start, reference))
    assert code == 0, err

    proc = _zoom(plugin_root, start, cut, slow_writes=True)
    deadline = time.monotonic() + 600
    while not list(cut.glob(".frame_00002.png*.part.png")) if cut.exists() else True:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.3)  # inside the write of frame 2
    proc.send_signal(sig)
    _finish(proc)
    frames = sorted(p.name for p in cut.glob("frame_*.png"))
    assert frames == ["frame_00000.png", "frame_00001.png"]  # frame 2 was being written: absent, not partial
    for name in frames:
        np.testing.assert_array_equal(load_image(cut / name), load_image(reference / name))
    if sig == signal.SIGINT:
        assert not list(cut.glob(".*part*"))

    code, err = _finish(_zoom(plugin_root, start, cut))
    assert code == 0, err
    assert not list(cut.glob(".*part*"))
    names = sorted(p.name for p in reference.glob("frame_*.png"))
    assert names == sorted(p.name for p in cut.glob("frame_*.png")) and len(names) == 5
    for name in names:
        np.testing.assert_array_equal(load_image(cut / name), load_image(reference / name))
