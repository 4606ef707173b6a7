"""``dreamjax atlas`` and dreamjax.apps.atlas: the folder, the sheet, the page, resuming."""

import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dreamjax.apps import atlas
from dreamjax.cli import main
from dreamjax.featurevis import Recipe, Transforms
from dreamjax.featurevis.visualize import make_job

FAST = ["--size", "16", "--steps", "3", "--pad", "2", "--jitter", "1", "--no-cache"]
NETWORKS = Path(__file__).parents[1] / "plugins" / "dreamjax-onnx" / "tests" / "fixtures" / "networks"


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.links += [value for name, value in attrs if name in ("href", "src")]

    def handle_data(self, data):
        self.text.append(data)


def read_page(path: Path) -> Links:
    parser = Links()
    parser.feed(path.read_text("utf-8"))
    return parser


def test_cli_atlas_writes_pictures_sheet_and_page(tiny_backend, tmp_path, capsys):
    out = tmp_path / "atlas"
    assert main(["atlas", "tiny", "--layer", "conv2", "--channels", "0:3,9", "-o", str(out), *FAST]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["atlas.json", "atlas.png", "channel_0000.png", "channel_0001.png", "channel_0002.png",
                     "channel_0009.png", "index.html"]
    with Image.open(out / "channel_0009.png") as picture:
        assert picture.size == (16, 16)
    with Image.open(out / "atlas.png") as sheet:
        assert sheet.width > 2 * 16 and sheet.height > 2 * 16
    page = read_page(out / "index.html")
    assert all((out / link).is_file() for link in page.links) and "channel_0009.png" in page.links
    assert not any(link.startswith(("/", "file:")) for link in page.links)
    state = json.loads((out / "atlas.json").read_text())
    assert state["done"] == [0, 1, 2, 3] and state["settings"]["ids"] == [0, 1, 2, 9]
    err = capsys.readouterr().err
    assert "made 4 pictures" in err and "excite their own channel" in err


def test_an_interrupted_atlas_continues_by_batch_and_equals_an_uninterrupted_one(tiny_backend, tmp_path, monkeypatch):
    base = ["atlas", "tiny", "--layer", "conv2", "--channels", "0:6", "--batch", "2", *FAST]
    whole = tmp_path / "whole"
    assert main([*base, "-o", str(whole)]) == 0

    real_save, saved = atlas.save_image, []

    def save_then_stop(path, image):  # Ctrl-C after the first batch's pictures are on disk
        real_save(path, image)
        saved.append(path)
        if len(saved) == 3:
            raise KeyboardInterrupt

    part = tmp_path / "part"
    monkeypatch.setattr(atlas, "save_image", save_then_stop)
    assert main([*base, "-o", str(part)]) == 130
    monkeypatch.setattr(atlas, "save_image", real_save)
    state = json.loads((part / "atlas.json").read_text())
    assert state["done"] == [0, 1]  # the batch that finished; its third picture's batch did not
    assert not (part / "atlas.png").exists()
    assert main([*base, "-o", str(part)]) == 0
    for p in range(6):
        name = f"channel_{p:04d}.png"
        assert np.array_equal(np.asarray(Image.open(part / name)), np.asarray(Image.open(whole / name))), name


def test_other_settings_are_refused_unless_restart(tiny_backend, tmp_path, capsys):
    base = ["atlas", "tiny", "--layer", "conv2", "--channels", "0:2", "-o", str(tmp_path / "a"), *FAST]
    assert main(base) == 0
    capsys.readouterr()
    assert main([*base, "--seed", "4", "--no-fft"]) == 2
    err = capsys.readouterr().err
    assert "seed: 0 -> 4" in err and "recipe.param.fft: true -> false" in err and "--restart" in err
    assert main([*base, "--channels", "5", "--restart"]) == 0
    assert sorted(p.name for p in (tmp_path / "a").glob("channel_*")) == ["channel_0005.png"]


def test_a_folder_of_other_pictures_is_refused(tiny_backend, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    Image.new("RGB", (4, 4)).save(out / "channel_0000.png")
    assert main(["atlas", "tiny", "--layer", "conv2", "--channels", "0", "-o", str(out), *FAST]) == 2
    assert "not made by `dreamjax atlas`" in capsys.readouterr().err
    assert (out / "channel_0000.png").stat().st_size > 0


@pytest.mark.parametrize("argv, match", [
    (["--layer", "conv9"], "conv9"),
    (["--layer", "conv2", "--channels", "40"], "out of range"),
    (["--layer", "conv2", "--class", "b"], "--kind class"),
    (["--layer", "conv2", "--kind", "direction", "--directions", "missing.npy"], "cannot read directions"),
    (["--layer", "conv2", "--copies", "2", "--batch", "3"], "multiple of 2"),
])
def test_bad_atlas_input_is_one_line(tiny_backend, tmp_path, capsys, argv, match):
    assert main(["atlas", "tiny", *argv, "-o", str(tmp_path / "x"), *FAST]) == 2
    err = capsys.readouterr().err
    assert match in err and "Traceback" not in err


def test_channel_spec_parse_errors(capsys):
    for bad in ("5:2", "a", "1,1"):
        with pytest.raises(SystemExit):
            main(["atlas", "--channels", bad])
        assert "--channels" in capsys.readouterr().err


def test_cli_atlas_of_classes_copies_and_directions(tiny_backend, tmp_path):
    assert main(["atlas", "tiny", "--kind", "class", "--class", "b", "--channels", "0", "--copies", "2",
                 "--diversity", "5", "--diversity-layer", "conv2", "-o", str(tmp_path / "c"), *FAST]) == 0
    assert sorted(p.name for p in (tmp_path / "c").glob("*.png")) == [
        "atlas.png", "class_0000.png", "class_0000_1.png", "class_0001.png", "class_0001_1.png"]
    np.save(tmp_path / "d.npy", np.random.default_rng(0).normal(size=(2, 16)))
    assert main(["atlas", "tiny", "--layer", "conv2", "--kind", "direction", "--directions", str(tmp_path / "d.npy"),
                 "--also", "conv0:0.5", "-o", str(tmp_path / "d"), *FAST]) == 0
    assert (tmp_path / "d" / "direction_0001.png").is_file()


def test_page_escapes_names(tiny, tmp_path):
    job = make_job(tiny, "conv2", [0], size=16, steps=1, recipe=Recipe(transforms=Transforms(pad=2, jitter=1)))
    atlas.make_atlas(tiny, job, tmp_path, title='<script>alert("x")</script> & co')
    text = (tmp_path / "index.html").read_text("utf-8")
    assert "<script>" not in text and "&lt;script&gt;" in text and "&amp; co" in text


def test_layers_points_at_atlas(tiny_backend, capsys):
    assert main(["layers", "tiny"]) == 0
    assert "dreamjax atlas tiny --layer" in capsys.readouterr().out


def test_atlas_of_an_onnx_model(tmp_path, capsys):
    pytest.importorskip("dreamjax_onnx")
    from dreamjax.ascent.objectives import default_layer
    from dreamjax.backends import load_model

    path = NETWORKS / "mobilenet_v2_tiny-op13.onnx"
    layer = default_layer(load_model(str(path)))
    assert main(["atlas", str(path), "--layer", layer, "--channels", "0:3", "-o", str(tmp_path / "onnx"),
                 "--size", "32", "--steps", "2", "--no-cache"]) == 0
    assert len(list((tmp_path / "onnx").glob("channel_*.png"))) == 3
    assert any(layer in text for text in read_page(tmp_path / "onnx" / "index.html").text)
