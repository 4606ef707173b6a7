"""Unusual but valid images are converted correctly; broken ones are refused with one clear error."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
from crafted import chunk, noise, pil_bytes, png, png16_grey, png16_rgb, two_frames
from PIL import Image, ImageFile

from dreamjax.files.image import ImageError, load_image


def _write(tmp_path, data: bytes, name: str):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_16_bit_rgb_png_keeps_its_colours(tmp_path):
    px = np.array([[[65535, 0, 32768], [1000, 40000, 65535]]], np.uint16)
    out = load_image(_write(tmp_path, png16_rgb(px), "rgb16.png"))
    # PIL reduces 48-bit PNGs to 8 bits per channel: exact to within one 8-bit level.
    np.testing.assert_allclose(out, px / 65535.0, atol=1 / 255 + 1e-6)


def test_16_bit_grey_png_uses_the_full_16_bit_range(tmp_path):
    px = np.array([[100, 200], [30000, 65535]], np.uint16)  # a dark image stays dark
    out = load_image(_write(tmp_path, png16_grey(px), "grey16.png"))
    np.testing.assert_allclose(out[..., 0], px / 65535.0, atol=1e-6)
    assert np.all(out[..., 0] == out[..., 2])


def test_palette_with_transparency(tmp_path):
    plte = chunk(b"PLTE", bytes([255, 0, 0, 0, 0, 255]))
    trns = chunk(b"tRNS", bytes([0, 255]))  # index 0 transparent, index 1 opaque
    out = load_image(_write(tmp_path, png(2, 1, 8, 3, [bytes([0, 1])], plte + trns), "p.png"))
    np.testing.assert_allclose(out[0, 0], [1, 1, 1])  # transparent -> white
    np.testing.assert_allclose(out[0, 1], [0, 0, 1])


@pytest.mark.parametrize(
    "colour_type, row, trns",
    [(0, bytes([7, 100]), b"\0\x07"), (2, bytes([7, 7, 7, 100, 50, 0]), b"\0\x07\0\x07\0\x07")],
    ids=["grey-key", "rgb-key"],
)
def test_colour_key_transparency(tmp_path, colour_type, row, trns):
    out = load_image(_write(tmp_path, png(2, 1, 8, colour_type, [row], chunk(b"tRNS", trns)), "k.png"))
    np.testing.assert_allclose(out[0, 0], [1, 1, 1])
    assert out[0, 1, 0] == pytest.approx(100 / 255)


def test_cmyk_jpeg_colours(tmp_path):
    cmyk = Image.new("RGB", (16, 16), (200, 100, 50)).convert("CMYK")
    out = load_image(_write(tmp_path, pil_bytes(cmyk, "JPEG", quality=95), "cmyk.jpg"))
    np.testing.assert_allclose(out.mean(axis=(0, 1)) * 255, [200, 100, 50], atol=4)


def test_float_tiff(tmp_path):
    ramp = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    out = load_image(_write(tmp_path, pil_bytes(Image.fromarray(ramp, "F"), "TIFF"), "f.tif"))
    np.testing.assert_allclose(out[..., 1], ramp, atol=1e-6)


def test_float_tiff_with_nan_is_refused(tmp_path):
    bad = np.array([[0.5, np.nan]], np.float32)
    with pytest.raises(ImageError, match="NaN or Inf"):
        load_image(_write(tmp_path, pil_bytes(Image.fromarray(bad, "F"), "TIFF"), "nan.tif"))


def test_camera_mpo_uses_its_first_frame(tmp_path):
    data = pil_bytes(Image.new("RGB", (8, 6), (0, 255, 0)), "MPO", save_all=True, append_images=[Image.new("RGB", (8, 6))])
    out = load_image(_write(tmp_path, data, "camera.jpg"))
    assert out.shape == (6, 8, 3) and out[..., 1].mean() > 0.95


@pytest.mark.parametrize("fmt, name", [("GIF", "a.gif"), ("PNG", "a.png"), ("WEBP", "a.webp"), ("TIFF", "a.tif")])
def test_animations_and_multi_page_files_are_refused(tmp_path, fmt, name):
    with pytest.raises(ImageError, match="animation or has several pages") as err:
        load_image(_write(tmp_path, two_frames(fmt), name))
    assert "save the frame" in str(err.value)


def test_lab_tiff_is_refused_not_miscoloured(tmp_path):
    with pytest.raises(ImageError, match="colour mode LAB"):
        load_image(_write(tmp_path, pil_bytes(Image.new("LAB", (4, 4)), "TIFF"), "lab.tif"))


@pytest.mark.parametrize("size", [(1, 1), (1, 3000), (3000, 1)])
def test_tiny_and_extreme_aspect_images_load(tmp_path, size):
    w, h = size
    out = load_image(_write(tmp_path, pil_bytes(noise(h, w), "PNG"), "x.png"))
    assert out.shape == (h, w, 3)


@pytest.mark.parametrize("fmt, name", [("PNG", "t.png"), ("JPEG", "t.jpg"), ("GIF", "t.gif"), ("WEBP", "t.webp"), ("TIFF", "t.tif"), ("BMP", "t.bmp")])
def test_every_truncation_is_refused(tmp_path, fmt, name):
    data = pil_bytes(noise(12, 10), fmt)
    path = tmp_path / name
    loaded = []
    # Every cut near the ends (headers, trailers: where silent half-decodes hide) and a sample between.
    n = len(data)
    cuts = sorted({*range(min(n, 48)), *range(max(0, n - 48), n), *range(0, n, max(1, n // 40))})
    for cut in cuts:
        path.write_bytes(data[:cut])
        try:
            load_image(path)
            loaded.append(cut)
        except ImageError:
            pass
    assert loaded == [], f"{fmt} cut to {loaded[:5]} of {n} bytes loaded without error"
    path.write_bytes(data)
    assert load_image(path).shape == (12, 10, 3)


def test_png_chunk_with_bad_crc_is_refused(tmp_path):
    data = bytearray(pil_bytes(noise(8, 8), "PNG"))
    data[data.index(b"IDAT") + 10] ^= 0xFF
    with pytest.raises(ImageError, match="cannot read image"):
        load_image(_write(tmp_path, bytes(data), "crc.png"))


def test_truncated_files_stay_refused_when_pil_is_told_to_accept_them(tmp_path, monkeypatch):
    # Another library in the process may switch this global on; we must not inherit it.
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    data = pil_bytes(noise(32, 32), "JPEG")
    with pytest.raises(ImageError, match="cannot read image"):
        load_image(_write(tmp_path, data[: len(data) // 2], "cut.jpg"))
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # restored afterwards


def test_raised_pixel_limit_is_not_overruled_by_pil(tmp_path):
    # 10000 x 10000 is above PIL's own bomb limit (~89 M pixels); a user who raised ours gets the
    # real problem with the file (here: it is truncated), not a decompression-bomb refusal.
    data = png(10000, 10000, 8, 0, [], idat=b"x\x9c")
    path = _write(tmp_path, data, "big.png")
    with pytest.raises(ImageError, match="over the limit"):
        load_image(path)
    with pytest.raises(ImageError, match="cannot read image") as err:
        load_image(path, max_pixels=200_000_000)
    assert "bomb" not in str(err.value)
    assert Image.MAX_IMAGE_PIXELS == 89478485 or Image.MAX_IMAGE_PIXELS > 0  # PIL's global restored


def test_eps_is_refused_without_running_ghostscript(tmp_path):
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    with pytest.raises(ImageError, match="not an image dreamjax can read") as err:
        load_image(_write(tmp_path, eps, "x.png"))
    assert "PNG" in str(err.value)


def test_content_decides_the_format_not_the_name(tmp_path):
    out = load_image(_write(tmp_path, pil_bytes(noise(5, 7), "PNG"), "really_a_png.jpg"))
    assert out.shape == (5, 7, 3)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_refused_instead_of_blocking(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    result = []
    reader = threading.Thread(target=lambda: result.append(_try_load(fifo)), daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert result and "not a regular file" in result[0]


def _try_load(path) -> str:
    try:
        load_image(path)
    except ImageError as exc:
        return str(exc)
    return "loaded"
