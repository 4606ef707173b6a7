"""Byte-level builders for crafted files: PNGs with any header, chunk or bit depth PIL won't write.

Used by the tests and by scripts/make_corpus.py, which writes the committed bad-file corpus.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunk(kind: bytes, data: bytes, crc: int | None = None) -> bytes:
    crc = zlib.crc32(kind + data) if crc is None else crc
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc & 0xFFFFFFFF)


def png(width: int, height: int, depth: int, colour_type: int, rows: list[bytes], extra: bytes = b"", idat: bytes | None = None) -> bytes:
    """A PNG from raw scanlines (filter byte 0 is prepended); ``extra`` chunks go before IDAT."""
    if idat is None:
        idat = zlib.compress(b"".join(b"\0" + r for r in rows), 9)
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    return PNG_SIGNATURE + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def png16_rgb(pixels: np.ndarray) -> bytes:
    """``pixels``: uint16 [H, W, 3] -> a 48-bit PNG (colour type 2, depth 16)."""
    h, w, _ = pixels.shape
    data = pixels.astype(">u2")
    return png(w, h, 16, 2, [data[y].tobytes() for y in range(h)])


def png16_grey(pixels: np.ndarray) -> bytes:
    h, w = pixels.shape
    data = pixels.astype(">u2")
    return png(w, h, 16, 0, [data[y].tobytes() for y in range(h)])


def pil_bytes(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def noise(height: int, width: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray((rng.uniform(size=(height, width, 3)) * 255).astype(np.uint8))


def two_frames(fmt: str, size=(8, 8), **kwargs) -> bytes:
    """An animation (GIF, PNG, WEBP) or a two-page TIFF."""
    first, second = Image.new("RGB", size, (0, 0, 0)), Image.new("RGB", size, (255, 0, 0))
    return pil_bytes(first, fmt, save_all=True, append_images=[second], **kwargs)
