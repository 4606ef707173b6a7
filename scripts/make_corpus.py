#!/usr/bin/env python3
"""Write the corpus of crafted bad files under tests/corpus/ (images, checkpoints).

    python scripts/make_corpus.py            # rewrites tests/corpus/
    python scripts/make_corpus.py OUT_DIR    # somewhere else (the tests regenerate into a temp dir)

Each file is tiny and breaks one thing. tests/test_corpus.py holds the table of what each file
must produce (the error and its message, or a clean load where a file is odd but valid).
Deterministic given the same library versions; the tests compare outcomes, not bytes. The ONNX
plugin's hostile models are written by plugins/dreamjax-onnx/tests/onnx_corpus.py.
"""

from __future__ import annotations

import io
import pickle
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from crafted import noise, pil_bytes, png, two_frames  # noqa: E402
from torch_pickle import legacy_checkpoint, legacy_header, state_dict_pickle, zip_checkpoint  # noqa: E402


def _cut(data: bytes, fraction: float) -> bytes:
    return data[: int(len(data) * fraction)]


def _flip(data: bytes, at: int) -> bytes:
    out = bytearray(data)
    out[at] ^= 0x5A
    return bytes(out)


def images() -> dict[str, bytes]:
    photo = noise(24, 32, seed=1)
    png_ok = pil_bytes(photo, "PNG")
    jpeg_ok = pil_bytes(photo, "JPEG", quality=90)
    idat = png_ok.index(b"IDAT")
    sos = jpeg_ok.index(b"\xff\xda")
    rows = [bytes(96)] * 24
    bad_zlib = png(32, 24, 8, 2, [], idat=b"\x78\x9c" + bytes(range(40)))
    huge_chunk = png_ok[:33] + struct.pack(">I", 0x7FFFFFF0) + b"tEXt" + b"abc" + png_ok[33:]
    bmp = pil_bytes(photo, "BMP")
    bmp_huge = bmp[:18] + struct.pack("<ii", 50000, 50000) + bmp[26:]
    zip_buf = io.BytesIO()
    with zipfile.ZipFile(zip_buf, "w") as zf:
        zf.writestr("a.txt", "zip, not png")
    nan_tiff = pil_bytes(Image.fromarray(np.array([[0.5, np.nan], [np.inf, 0.1]], np.float32), "F"), "TIFF")
    return {
        # Not images at all, whatever the name says.
        "text_named.png": b"hello, this is not a picture\n",
        "empty.png": b"",
        "html_named.jpg": b"<!doctype html><html><body>hi</body></html>\n",
        "svg_named.png": b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>\n',
        "zip_named.png": zip_buf.getvalue(),
        # PIL can open EPS only by running Ghostscript on it: refused by the format allow-list.
        "eps_named.png": b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n",
        "icon.ico": pil_bytes(Image.new("RGB", (16, 16)), "ICO"),
        # Broken PNGs.
        "png_signature_only.png": png_ok[:12],
        "png_cut_in_idat.png": png_ok[: idat + 40],
        "png_no_iend.png": png_ok[:-12],
        "png_cut_in_iend_crc.png": png_ok[:-2],
        "png_bad_crc.png": _flip(png_ok, idat + 10),
        "png_bad_zlib.png": bad_zlib,
        "png_huge_chunk_length.png": huge_chunk,
        "png_zero_width.png": png(0, 24, 8, 2, rows),
        # Decompression bombs: declared sizes far over the limit, a few bytes on disk.
        "png_bomb_100k_square.png": png(100_000, 100_000, 8, 0, [], idat=zlib.compress(bytes(100_001))),
        "png_bomb_70m_by_1.png": png(70_000_000, 1, 8, 0, [], idat=zlib.compress(bytes(1000))),
        "bmp_bomb_50k_square.bmp": bmp_huge,
        # Broken JPEGs.
        "jpeg_header_only.jpg": jpeg_ok[:sos],
        "jpeg_cut.jpg": _cut(jpeg_ok, 0.6),
        "jpeg_no_eoi.jpg": jpeg_ok[:-2],
        # Bit flips inside JPEG scan data are not detectable (no checksum); they decode to
        # garbled but valid pixels. Kept in the corpus to pin that behaviour down.
        "jpeg_flipped_scan_bits.jpg": _flip(_flip(jpeg_ok, sos + 40), sos + 90),
        # Other formats, cut short or not still images.
        "gif_animated.gif": two_frames("GIF"),
        "gif_no_trailer.gif": pil_bytes(photo, "GIF")[:-1],
        "apng_two_frames.png": two_frames("PNG"),
        "webp_animated.webp": two_frames("WEBP"),
        "webp_cut.webp": _cut(pil_bytes(photo, "WEBP"), 0.7),
        "tiff_two_pages.tif": two_frames("TIFF"),
        "tiff_cut.tif": _cut(pil_bytes(photo, "TIFF"), 0.7),
        "tiff_float_nan.tif": nan_tiff,
        "tiff_lab.tif": pil_bytes(Image.new("LAB", (4, 4)), "TIFF"),
        "bmp_cut.bmp": bmp[:-30],
    }


class _Payload:
    """Pickles to a call of ``func(*args)``: what a hostile checkpoint would run."""

    def __init__(self, func: Callable, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def _legacy_with(obj) -> bytes:
    return legacy_header() + pickle.dumps(obj, protocol=2) + pickle.dumps([], protocol=2)


def _zip(members: dict[str, bytes], compress: bool = False) -> bytes:
    out = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(out, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def checkpoints() -> dict[str, bytes]:
    import os
    import subprocess

    weights = {"conv.weight": np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2), "fc.bias": np.ones(3, np.float32)}
    legacy = legacy_checkpoint(weights)
    one = {"w": ("0", "FloatStorage", 4, 0, (4,), (1,))}
    good_zip = zip_checkpoint(weights)
    pkl = state_dict_pickle(one, zip_layout=True)
    return {
        # Pickles that name code: refused by name, nothing imported or run.
        "pickle_os_system.pth": _legacy_with(_Payload(os.system, "touch /tmp/dreamjax-pwned")),
        "pickle_builtins_eval.pth": _legacy_with({"w": _Payload(eval, "1+1")}),
        "pickle_subprocess_in_magic.pth": pickle.dumps(_Payload(subprocess.call, ["true"]), protocol=2),
        "zip_pickle_os_system.pth": _zip({"archive/data.pkl": pickle.dumps(_Payload(os.system, "true"), protocol=2)}),
        # Broken legacy files.
        "legacy_cut_in_storage.pth": legacy[:-20],
        "legacy_trailing_bytes.pth": legacy + b"\0\0\0\0",
        "legacy_count_mismatch.pth": legacy.replace(struct.pack("<q", 27), struct.pack("<q", 28), 1),
        "legacy_past_storage.pth": legacy.replace(b"(J\x02\x00\x00\x00J\x03\x00\x00\x00J\x02", b"(J\x02\x00\x00\x00J\x09\x00\x00\x00J\x02", 1),
        "stride0_huge_tensor.pth": legacy_header()
        + state_dict_pickle({"w": ("0", "FloatStorage", 1, 0, (100_000, 100_000), (0, 0))}, zip_layout=False)
        + pickle.dumps(["0"], protocol=2) + struct.pack("<q", 1) + np.ones(1, np.float32).tobytes(),
        "not_a_checkpoint.pth": b"\x89PNG\r\n\x1a\n" + bytes(64),
        "empty.pth": b"",
        # Broken zip files.
        "zip_missing_record.pth": _zip({"archive/data.pkl": pkl}),
        "zip_record_bomb.pth": _zip({"archive/data.pkl": pkl, "archive/data/0": bytes(16 << 20)}, compress=True),
        "zip_pickle_bomb.pth": _zip({"archive/data.pkl": bytes(80 << 20)}, compress=True),
        "zip_two_roots.pth": _zip({"a/data.pkl": pkl, "b/data.pkl": pkl}),
        "zip_big_endian.pth": _zip({"archive/data.pkl": pkl, "archive/byteorder": b"big"}),
        "zip_list_not_dict.pth": _zip({"archive/data.pkl": pickle.dumps([1, 2, 3], protocol=2)}),
        "zip_cut.pth": _cut(good_zip, 0.5),
    }


def build(out: Path) -> list[Path]:
    written = []
    for sub, files in (("images", images()), ("checkpoints", checkpoints())):
        folder = out / sub
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            target = folder / name
            target.write_bytes(data)
            written.append(target)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "corpus"
    files = build(target)
    print(f"wrote {len(files)} files ({sum(f.lstat().st_size for f in files):,} bytes) under {target}")
