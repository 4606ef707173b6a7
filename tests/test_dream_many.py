"""`dreamjax dream DIR_OR_GLOB -o OUTDIR`: batches, skipping finished pictures, process shares."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dreamjax.apps import folders
from dreamjax.runtime import distributed
from dreamjax.cli import main
from dreamjax.errors import DreamjaxError
from dreamjax.files.image import load_image, save_image

FAST = ["--model", "tiny", "--octaves", "2", "--steps", "2", "--jitter", "2", "--layer", "conv1", "--no-cache"]



@pytest.fixture
def photos(tmp_path, rng):
    folder = tmp_path / "in"
    folder.mkdir()
    for name, size in [("a.png", (40, 44)), ("b.jpg", (40, 44)), ("c.png", (36, 48)), ("d.png", (40, 44))]:
        save_image(folder / name, rng.uniform(0.2, 0.8, size=(*size, 3)))
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_folder_is_dreamed_in_batches_and_a_rerun_skips_everything(tiny_backend, photos, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["dream", str(photos), "-o", str(out), "--batch-size", "2", *FAST]) == 0
    written = sorted(p.name for p in out.iterdir())
    assert written == ["a.png", "b.png", "c.png", "d.png"]
    for name in written:
        source = next(photos.glob(Path(name).stem + ".*"))
        dreamed, original = load_image(out / name), load_image(source)
        assert dreamed.shape == original.shape
        assert np.abs(dreamed - original).mean() > 0.01
    err = capsys.readouterr().err
    assert "4 to dream in 2 size group(s)" in err and "wrote 4 pictures" in err
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert main(["dream", str(photos), "-o", str(out), *FAST]) == 0
    assert "4 done already, 0 to dream" in capsys.readouterr().err
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == stamps


def test_interrupted_run_continues_with_the_missing_pictures(tiny_backend, photos, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    marker = np.full((40, 44, 3), 0.5, np.float32)
    save_image(out / "a.png", marker)  # as if the first run had finished this one
    assert main(["dream", str(photos), "-o", str(out), *FAST]) == 0
    assert "1 done already, 3 to dream" in capsys.readouterr().err
    np.testing.assert_allclose(load_image(out / "a.png"), marker, atol=1 / 255)
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png", "c.png", "d.png"]


def test_glob_selects_files(tiny_backend, photos, tmp_path):
    out = tmp_path / "out"
    assert main(["dream", str(photos / "*.png"), "-o", str(out), *FAST]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "c.png", "d.png"]


def test_all_bad_inputs_are_listed_before_any_work(tiny_backend, photos, tmp_path, capsys):
    (photos / "e.png").write_bytes(b"\x89PNG broken")
    (photos / "f.jpg").write_bytes(b"nothing")
    out = tmp_path / "out"
    assert main(["dream", str(photos), "-o", str(out), *FAST]) == 2
    err = capsys.readouterr().err
    assert "2 input(s) cannot be dreamed" in err and "e.png" in err and "f.jpg" in err
    assert not out.exists()


def test_names_that_would_collide_are_refused(photos, tmp_path):
    save_image(photos / "a.jpg", np.zeros((40, 44, 3), np.float32))
    with pytest.raises(DreamjaxError, match="written twice"):
        folders.plan(folders.find_images(str(photos)), tmp_path / "out")


def test_many_inputs_need_an_output_folder(photos, tmp_path, capsys):
    assert main(["dream", str(photos)]) == 2
    assert "-o OUTDIR" in capsys.readouterr().err
    (tmp_path / "file.png").write_bytes(b"")
    assert main(["dream", str(photos), "-o", str(tmp_path / "file.png")]) == 2
    assert main(["dream", str(tmp_path / "nothing-*.png"), "-o", str(tmp_path / "o")]) == 2
    assert "no images found" in capsys.readouterr().err


def test_processes_share_the_files_without_overlap():
    files = [Path(f"{i}.png") for i in range(7)]
    shares = [folders.share(files, i, 3) for i in range(3)]
    assert sorted(sum(shares, [])) == sorted(files)
    assert [len(s) for s in shares] == [3, 2, 2]


def test_distributed_settings_from_flags_and_environment():
    assert distributed.settings(env={}) is None
    env = {"JAX_COORDINATOR_ADDRESS": "10.0.0.1:1234", "JAX_NUM_PROCESSES": "4", "JAX_PROCESS_ID": "2"}
    assert distributed.settings(env=env) == distributed.Settings("10.0.0.1:1234", 4, 2)
    assert distributed.settings(process_id=3, env=env).process_id == 3  # a flag wins
    with pytest.raises(DreamjaxError) as info:
        distributed.settings(coordinator="h:1", env={"JAX_PROCESS_ID": "x"})
    message = info.value.message
    assert "process count" in message and "not a whole number" in message  # both problems at once
    with pytest.raises(DreamjaxError, match="0..1"):
        distributed.settings("h:1", 2, 5, env={})
    assert distributed.settings(auto=True, env={}) == distributed.Settings(None, None, None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_split_a_folder_through_jax_distributed(tiny_backend, photos, tmp_path):
    out = tmp_path / "out"
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tiny_backend), os.environ.get("PYTHONPATH", "")]),
               JAX_PLATFORMS="cpu", DREAMJAX_CACHE_DIR="")
    procs = [
        subprocess.Popen([sys.executable, "-m", "dreamjax", "dream", str(photos), "-o", str(out), *FAST,
                          "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", str(i)],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(2)
    ]
    logs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, logs):
        assert p.returncode == 0, err[-3000:]
    assert "process 1/2 takes 2 of 4" in logs[0][1] and "process 2/2 takes 2 of 4" in logs[1][1]
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png", "c.png", "d.png"]
