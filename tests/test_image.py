import os

import numpy as np
import pytest
from PIL import Image

from dreamjax.errors import DreamjaxError
from dreamjax.files.image import ImageError, check_output_path, load_image, sample_image_path, save_image


def test_bundled_sample_loads_as_float_rgb():
    img = load_image(sample_image_path())
    assert img.shape == (300, 451, 3) and img.dtype == np.float32
    assert 0.0 <= img.min() and img.max() <= 1.0 and img.std() > 0.05


def test_round_trip_png(tmp_path, rng):
    img = rng.uniform(size=(17, 23, 3)).astype(np.float32)
    save_image(tmp_path / "x.png", img)
    back = load_image(tmp_path / "x.png")
    np.testing.assert_allclose(back, img, atol=0.5 / 255 + 1e-6)
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]  # no temp files left


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "RGBA", "LA", "I;16"])
def test_colour_modes_become_rgb(tmp_path, mode):
    base = Image.new("RGB", (8, 6), (200, 100, 50))
    img = base.convert(mode) if mode != "I;16" else Image.new("I;16", (8, 6), 30000)
    path = tmp_path / ("x.tif" if mode in ("CMYK", "I;16") else "x.png")
    img.save(path)
    out = load_image(path)
    assert out.shape == (6, 8, 3) and np.all(np.isfinite(out))
    if mode == "I;16":
        np.testing.assert_allclose(out, 30000 / 65535, atol=1e-6)


def test_transparent_pixels_are_white(tmp_path):
    Image.new("RGBA", (4, 4), (0, 0, 0, 0)).save(tmp_path / "a.png")
    np.testing.assert_allclose(load_image(tmp_path / "a.png"), 1.0)


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (10, 4), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    img.save(tmp_path / "r.jpg", exif=exif)
    assert load_image(tmp_path / "r.jpg").shape == (10, 4, 3)


def test_not_an_image(tmp_path):
    (tmp_path / "fake.png").write_text("hello")
    with pytest.raises(ImageError, match="not an image"):
        load_image(tmp_path / "fake.png")


def test_truncated_image(tmp_path):
    save_image(tmp_path / "full.png", np.random.default_rng(0).uniform(size=(64, 64, 3)))
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError):
        load_image(tmp_path / "cut.png")


def test_missing_and_folder(tmp_path):
    with pytest.raises(ImageError, match="does not exist"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="folder"):
        load_image(tmp_path)


def test_pixel_limit_checked_before_decoding(tmp_path):
    Image.new("RGB", (300, 200)).save(tmp_path / "big.png")
    with pytest.raises(ImageError, match="over the limit") as err:
        load_image(tmp_path / "big.png", max_pixels=50_000)
    assert "--max-pixels" in str(err.value)
    assert load_image(tmp_path / "big.png", max_pixels=60_000).shape == (200, 300, 3)


def test_unwritable_outputs_are_refused_before_work(tmp_path):
    with pytest.raises(DreamjaxError, match="does not exist"):
        check_output_path(tmp_path / "no" / "x.png")
    with pytest.raises(DreamjaxError, match="unknown image type"):
        check_output_path(tmp_path / "x.txt")
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(DreamjaxError, match="is a folder"):
        check_output_path(tmp_path / "dir.png")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_folder(tmp_path):
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(DreamjaxError, match="not writable"):
            check_output_path(tmp_path / "x.png")
    finally:
        tmp_path.chmod(0o700)


def test_failed_write_leaves_old_file_untouched(tmp_path, monkeypatch):
    target = tmp_path / "x.png"
    target.write_bytes(b"old")
    with pytest.raises(ImageError, match="NaN"):
        save_image(target, np.full((4, 4, 3), np.nan))
    assert target.read_bytes() == b"old"

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", boom)
    with pytest.raises(KeyboardInterrupt):
        save_image(target, np.zeros((4, 4, 3)))
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["x.png"]
