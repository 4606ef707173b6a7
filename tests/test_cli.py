import subprocess
import sys

import numpy as np
import pytest

from dreamjax.cli import main
from dreamjax.files.image import load_image

FAST = ["--model", "tiny", "--octaves", "2", "--steps", "2", "--jitter", "2"]




def test_dream_writes_a_new_picture_and_reports(tiny_backend, photo, tmp_path, capsys):
    out = tmp_path / "out.png"
    assert main(["dream", str(photo), "-o", str(out), "--layer", "conv1", "--no-cache", *FAST]) == 0
    dreamed = load_image(out)
    assert dreamed.shape == (40, 44, 3)
    assert np.abs(dreamed - load_image(photo)).mean() > 0.01
    err = capsys.readouterr().err
    assert "wrote" in err and "steps/s" in err and "compile" in err


def test_unknown_layer_is_one_line_with_suggestion(tiny_backend, photo, tmp_path, capsys):
    out = tmp_path / "out.png"
    assert main(["dream", str(photo), "-o", str(out), "--layer", "conv9", *FAST]) == 2
    err = capsys.readouterr().err
    assert "unknown layer" in err and "did you mean" in err and "Traceback" not in err
    assert not out.exists()


def test_debug_shows_the_traceback(tiny_backend, photo, tmp_path, capsys):
    assert main(["--debug", "dream", str(photo), "-o", str(tmp_path / "o.png"), "--layer", "conv9", *FAST]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_unwritable_output_fails_before_any_work(photo, tmp_path, capsys):
    assert main(["dream", str(photo), "-o", str(tmp_path / "missing" / "o.png")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_non_image_input(tmp_path, capsys):
    bad = tmp_path / "x.png"
    bad.write_bytes(b"\x89PNG not really")
    assert main(["dream", str(bad), "-o", str(tmp_path / "o.png")]) == 2
    assert "not an image" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("arg", [["--steps", "0"], ["--step-size", "nan"], ["--octave-scale", "0.5"], ["--jitter", "-3"]])
def test_bad_numbers_are_caught_at_parse_time(arg, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["dream", *arg])
    assert exc.value.code == 2
    assert "dreamjax dream: error" in capsys.readouterr().err


def test_layers_and_models_tables(tiny_backend, capsys):
    assert main(["layers", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "conv1" in out and "16x16" in out
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "efficientnet_lite0" in out and "tiny" in out


def test_console_script_runs():
    result = subprocess.run([sys.executable, "-m", "dreamjax", "layers", "no_such_model"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "unknown model" in result.stderr and "efficientnet_lite" in result.stderr
