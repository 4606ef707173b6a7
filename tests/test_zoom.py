import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from fake_plugins import install
from PIL import Image

from dreamjax import DreamjaxError
from dreamjax.apps.zoom import Motion, frame_path, load_frame, move, write_animation, zoom
from dreamjax.ascent.engine import DreamConfig
from dreamjax.ascent.objectives import layer_objective

FAST = DreamConfig(octaves=2, steps=2, octave_scale=1.5, jitter=4, seed=7)
MOTION = Motion(zoom=1.1, rotate=3.0, shift=(1.5, -2.0))


@pytest.fixture
def start(rng):
    # Smooth content (a real photo's statistics matter less than speed here), stored in 8 bits.
    y, x = np.mgrid[0:40, 0:48] / 40.0
    picture = np.stack([0.5 + 0.3 * np.sin(6 * x), 0.5 + 0.3 * np.cos(5 * y), 0.5 + 0.2 * np.sin(4 * (x + y))], -1)
    return np.round(picture * 255).astype(np.float32) / 255.0


def frames_of(folder, n):
    return [load_frame(folder, i) for i in range(n)]


def test_move_identity_shift_and_turn():
    rng = np.random.default_rng(1)
    image = rng.uniform(size=(32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(move(image, Motion(1.0)), image, atol=1e-5)
    shifted = move(image, Motion(1.0, 0.0, (3.0, -2.0)))  # content moves right 3, up 2
    np.testing.assert_allclose(shifted[5:25, 8:28], image[7:27, 5:25], atol=1e-5)
    turned = move(image, Motion(1.0, 90.0))  # counter-clockwise, as np.rot90
    np.testing.assert_allclose(turned, np.rot90(image), atol=1e-5)
    zoomed = move(image, Motion(2.0))
    assert zoomed.shape == image.shape and zoomed.dtype == np.float32
    assert 0.0 <= zoomed.min() and zoomed.max() <= 1.0


def test_move_zoom_in_magnifies_the_centre():
    y, x = np.mgrid[0:33, 0:33].astype(np.float32)
    ramp = np.repeat((x / 32.0)[..., None], 3, -1)
    zoomed = move(ramp, Motion(2.0))
    # At zoom 2 the horizontal ramp gets half as steep around the centre.
    np.testing.assert_allclose(np.diff(zoomed[16, 8:25, 0]), 0.5 / 32, atol=1e-4)


def test_stream_reuses_programs_and_resume_equals_uninterrupted(tiny, start, tmp_path):
    objective = layer_objective(tiny, ["conv1"])
    compiled = []
    whole = zoom(tiny, start, tmp_path / "whole", 4, objective=objective, config=FAST, motion=MOTION,
                 on_frame=lambda i, path, stats: compiled.append(stats.programs_compiled))
    assert whole.frames == 4 and whole.resumed_at == 0
    # Every frame has one shape: the first frame compiles (at most) its octave programs, the rest none.
    assert compiled[0] <= len(whole.stats.shapes) and compiled[1:] == [0, 0, 0]
    frames = frames_of(tmp_path / "whole", 4)
    assert all(np.abs(a.astype(int) - b).mean() > 1 for a, b in zip(frames, frames[1:]))

    half = zoom(tiny, start, tmp_path / "half", 2, objective=objective, config=FAST, motion=MOTION)
    rest = zoom(tiny, start, tmp_path / "half", 4, objective=objective, config=FAST, motion=MOTION)
    assert (half.frames, rest.resumed_at, rest.frames) == (2, 2, 4)
    assert rest.stats.programs_compiled == 0
    for a, b in zip(frames, frames_of(tmp_path / "half", 4)):
        np.testing.assert_array_equal(a, b)
    again = zoom(tiny, start, tmp_path / "half", 4, objective=objective, config=FAST, motion=MOTION)
    assert again.resumed_at == 4 and again.stats.images == 0


def test_keyframes_switch_the_objective_and_resume_through_them(tiny, start, tmp_path):
    from dreamjax.apps.zoom import objective_at

    one, two = layer_objective(tiny, ["conv1"]), layer_objective(tiny, ["conv2"])
    schedule = {2: two}
    assert [objective_at(i, one, schedule) for i in range(4)] == [one, one, two, two]
    zoom(tiny, start, tmp_path / "whole", 4, objective=one, keyframes=schedule, config=FAST, motion=MOTION)
    zoom(tiny, start, tmp_path / "plain", 4, objective=one, config=FAST, motion=MOTION)
    zoom(tiny, start, tmp_path / "cut", 3, objective=one, keyframes=schedule, config=FAST, motion=MOTION)
    zoom(tiny, start, tmp_path / "cut", 4, objective=one, keyframes=schedule, config=FAST, motion=MOTION)
    whole, plain = frames_of(tmp_path / "whole", 4), frames_of(tmp_path / "plain", 4)
    np.testing.assert_array_equal(whole[1], plain[1])
    assert np.abs(whole[2].astype(int) - plain[2]).mean() > 1
    for a, b in zip(whole, frames_of(tmp_path / "cut", 4)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(DreamjaxError, match="keyframes"):
        zoom(tiny, start, tmp_path / "cut", 4, objective=one, keyframes={3: one}, config=FAST, motion=MOTION)


def test_other_settings_are_refused_listing_all_differences(tiny, start, tmp_path):
    zoom(tiny, start, tmp_path, 1, config=FAST, motion=MOTION)
    other = DreamConfig(octaves=2, steps=3, octave_scale=1.5, jitter=4, seed=7)
    with pytest.raises(DreamjaxError) as err:
        zoom(tiny, start, tmp_path, 2, config=other, motion=Motion(1.2, 3.0, (1.5, -2.0)))
    assert "dream.steps: 2 -> 3" in str(err.value) and "motion.zoom: 1.1 -> 1.2" in str(err.value)
    assert "--restart" in err.value.hint and not frame_path(tmp_path, 1).exists()
    forced = zoom(tiny, start, tmp_path, 2, config=other, motion=MOTION, force=True)
    assert forced.resumed_at == 1 and json.loads((tmp_path / "zoom.json").read_text())["settings"]["dream"]["steps"] == 3
    restarted = zoom(tiny, start, tmp_path, 1, config=FAST, motion=MOTION, restart=True)
    assert restarted.resumed_at == 0 and not frame_path(tmp_path, 1).exists()


def test_frames_not_made_by_zoom_are_not_taken_over(tiny, start, tmp_path):
    Image.new("RGB", (48, 40)).save(frame_path(tmp_path, 0))
    with pytest.raises(DreamjaxError, match="not made by"):
        zoom(tiny, start, tmp_path, 2, config=FAST)


def test_leftover_partial_files_are_removed(tiny, start, tmp_path):
    from dreamjax.files.atomic import _host

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a process id that no longer runs, as after a kill
    leftover = tmp_path / f".frame_00000.png.{_host()}-{gone.pid}.abc123.part.png"
    leftover.write_bytes(b"half a png")
    zoom(tiny, start, tmp_path, 1, config=FAST)
    assert not leftover.exists() and frame_path(tmp_path, 0).is_file()


def test_interrupt_while_writing_leaves_no_frame_and_resume_is_exact(tiny, start, tmp_path, monkeypatch):
    from dreamjax.apps import zoom as zoomlib

    objective = layer_objective(tiny, ["conv1"])
    zoom(tiny, start, tmp_path / "whole", 3, objective=objective, config=FAST, motion=MOTION)
    save = zoomlib._save_png

    def half_then_interrupt(path, frame):
        if path.name.startswith(".frame_00002"):
            path.write_bytes(b"\x89PNG half")
            raise KeyboardInterrupt
        save(path, frame)

    monkeypatch.setattr(zoomlib, "_save_png", half_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        zoom(tiny, start, tmp_path / "cut", 3, objective=objective, config=FAST, motion=MOTION)
    assert sorted(p.name for p in (tmp_path / "cut").iterdir()) == ["frame_00000.png", "frame_00001.png", "zoom.json"]
    monkeypatch.setattr(zoomlib, "_save_png", save)
    resumed = zoom(tiny, start, tmp_path / "cut", 3, objective=objective, config=FAST, motion=MOTION)
    assert resumed.resumed_at == 2
    for a, b in zip(frames_of(tmp_path / "whole", 3), frames_of(tmp_path / "cut", 3)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["gif", "webp"])
def test_animation_holds_every_frame(tiny, start, tmp_path, kind):
    zoom(tiny, start, tmp_path, 3, config=FAST, motion=MOTION)
    path = write_animation(tmp_path, tmp_path / f"zoom.{kind}", 3, fps=10)
    with Image.open(path) as anim:
        assert anim.n_frames == 3 and anim.size == (48, 40)
    with pytest.raises(DreamjaxError, match="missing"):
        write_animation(tmp_path, tmp_path / f"more.{kind}", 5)


@pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")  # imageio-ffmpeg's frame counter forks
def test_mp4_when_the_video_extra_is_installed(tiny, start, tmp_path):
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    zoom(tiny, start, tmp_path, 3, config=FAST, motion=MOTION)
    path = write_animation(tmp_path, tmp_path / "zoom.mp4", 3, fps=10)
    assert path.read_bytes()[4:8] == b"ftyp"
    assert imageio_ffmpeg.count_frames_and_secs(str(path))[0] == 3


@pytest.fixture
def tiny_cli_env(monkeypatch, tmp_path_factory):
    root = tmp_path_factory.mktemp("plugins")
    install(monkeypatch, root, {"tiny": "dreamjax_fake_backend:backend"})
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]), "DREAMJAX_CACHE_DIR": ""}


@pytest.mark.slow  # three processes that each import JAX and compile
def test_killed_cli_stream_resumes_without_lost_or_broken_frames(tiny_cli_env, tmp_path):
    photo = tmp_path / "start.png"
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(60, 200, size=(40, 48, 3), dtype=np.uint8)).save(photo)
    command = [sys.executable, "-m", "dreamjax", "zoom", str(photo), "-m", "tiny", "-l", "conv1", "--octaves", "1",
               "--steps", "2", "--jitter", "2", "--zoom", "1.1", "--rotate", "2", "--animation", "gif"]
    reference, killed = tmp_path / "reference", tmp_path / "killed"

    proc = subprocess.Popen([*command, "-o", str(killed), "--frames", "40"], env=tiny_cli_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not frame_path(killed, 3).exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    cut = len(list(killed.glob("frame_*.png")))
    assert 3 <= cut < 40

    n = cut + 2
    for folder in (killed, reference):
        result = subprocess.run([*command, "-o", str(folder), "--frames", str(n)], env=tiny_cli_env,
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in killed.glob("frame_*.png")) == [f"frame_{i:05d}.png" for i in range(n)]
    assert not list(killed.glob(".*part*"))
    for i in range(n):
        np.testing.assert_array_equal(load_frame(killed, i), load_frame(reference, i))
    with Image.open(killed / "zoom.gif") as anim:
        assert anim.n_frames == n



def test_cli_zoom_continues_refuses_other_settings_and_restarts(tiny_backend, tmp_path, capsys):
    from dreamjax.cli import main

    photo = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(5).integers(60, 200, size=(50, 60, 3), dtype=np.uint8)).save(photo)
    out = tmp_path / "stream"
    base = ["zoom", str(photo), "-o", str(out), "-m", "tiny", "-l", "conv1", "--octaves", "1", "--steps", "2",
            "--jitter", "2", "--size", "48x40", "--shift", "1,-1", "--no-cache"]
    assert main([*base, "--frames", "2", "--animation", "webp", "--keyframe", "1:conv2", "--keyframe", "1:class=b:0.5"]) == 0
    keyframes = json.loads((out / "zoom.json").read_text())["settings"]["keyframes"]
    assert [t["type"] for t in keyframes["1"]] == ["LayerEnergy", "ClassLogit"]
    base += ["--keyframe", "1:conv2", "--keyframe", "1:class=b:0.5"]
    assert sorted(p.name for p in out.iterdir()) == ["frame_00000.png", "frame_00001.png", "zoom.json", "zoom.webp"]
    assert load_frame(out, 0).shape == (40, 48, 3)
    capsys.readouterr()
    assert main([*base, "--frames", "3"]) == 0
    assert "continuing" in capsys.readouterr().err and frame_path(out, 2).exists()
    assert main([*base, "--frames", "4", "--zoom", "1.2"]) == 2
    err = capsys.readouterr().err
    assert "motion.zoom: 1.05 -> 1.2" in err and "--restart" in err and not frame_path(out, 3).exists()
    assert main([*base, "--frames", "1", "--zoom", "1.2", "--restart", "--animation", "none"]) == 0
    assert sorted(p.name for p in out.iterdir() if p.suffix == ".png") == ["frame_00000.png"]


@pytest.mark.parametrize("args,message", [
    (["--shift", "1"], "DX,DY"), (["--size", "big"], "WIDTHxHEIGHT"), (["--animation", "avi"], "unknown animation"),
    (["--frames", "0"], "at least 1"), (["--zoom", "-1"], "positive"), (["--keyframe", "x:conv1"], "FRAME:TERMS"), (["--objective", "conv1["], "objective"),
])
def test_cli_zoom_bad_options(args, message, capsys):
    from dreamjax.cli import main

    with pytest.raises(SystemExit):
        main(["zoom", *args])
    assert message in capsys.readouterr().err
