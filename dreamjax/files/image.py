"""Image files in and out: PIL does the decoding; we add limits, colour handling and atomic writes.

Images leave this module as float32 ``[H, W, 3]`` RGB arrays in ``[0, 1]``.
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
import warnings
import zlib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from ..errors import DreamjaxError
from .atomic import atomic_path, check_writable_dir, clean_stale_parts

# Refuse bigger images before decoding them (decompression bombs); --max-pixels raises it.
DEFAULT_MAX_PIXELS = 64_000_000
WRITABLE_SUFFIXES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF", ".bmp": "BMP"}
SAMPLE_IMAGE = "chelsea.png"


class ImageError(DreamjaxError):
    pass


# Formats we decode (JPEG includes MPO camera files). PIL knows dozens more; several run external programs (EPS calls
# Ghostscript) or are rarely tested, so files in them are refused instead of opened.
READABLE_FORMATS = ("PNG", "JPEG", "WEBP", "TIFF", "BMP", "GIF", "PPM")
# Colour modes with a well-defined conversion to RGB (PIL's LAB/HSV -> RGB only copies channels).
_READABLE_MODES = {"1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "I", "F"}
# Anything PIL can raise on a corrupt file means "unreadable", never a crash with a traceback.
_DECODE_ERRORS = (
    OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError, TypeError,
    ZeroDivisionError, OverflowError, MemoryError, RecursionError, UserWarning, RuntimeWarning,
)
# PIL's switches are process-wide; hold them steady while a file is decoded.
_PIL_SETTINGS = threading.Lock()


def sample_image_path(name: str = SAMPLE_IMAGE) -> Path:
    """Path of an image bundled with the package (see dreamjax/data/LICENSES.md)."""
    return Path(str(resources.files("dreamjax") / "data" / name))


@contextlib.contextmanager
def _strict_pil() -> Iterator[None]:
    """Decode with truncated files as errors, PIL's warnings as errors, and our pixel limit only."""
    with _PIL_SETTINGS, warnings.catch_warnings():
        saved = ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS
        # Another library may have switched this on; a half-decoded picture must be an error.
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        # load_image checks its own limit from the header (with a hint); PIL's would refuse
        # images the user allowed with --max-pixels.
        Image.MAX_IMAGE_PIXELS = None
        warnings.simplefilter("error", UserWarning)  # "Truncated File Read", "Corrupt EXIF data"
        warnings.simplefilter("error", RuntimeWarning)
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS = saved


def load_image(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image file as float32 ``[H, W, 3]`` RGB in ``[0, 1]``.

    EXIF orientation is applied; grey, palette, CMYK, 16-bit and float images are converted;
    alpha (and palette/colour-key transparency) is composited over white. Refused with one
    clear ImageError: missing or special files, formats outside READABLE_FORMATS, images over
    ``max_pixels`` (checked from the header, before decoding), animations, truncated or
    corrupt data, and float images holding NaN or Inf.
    """
    path = Path(path)
    name = str(path)
    if not path.exists():
        raise ImageError(f"image {name!r} does not exist")
    if path.is_dir():
        raise ImageError(f"image {name!r} is a folder")
    if not path.is_file():  # a FIFO or device would block or never end
        raise ImageError(f"image {name!r} is not a regular file")
    try:
        with _strict_pil():
            with Image.open(path, formats=READABLE_FORMATS) as img:
                _check_header(img, name, max_pixels)
                _check_complete(img, path)
                img.load()
                img = ImageOps.exif_transpose(img)
                return _to_rgb_array(img, name)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(
            f"{name!r} is not an image dreamjax can read", f"readable formats: {', '.join(READABLE_FORMATS)}"
        ) from None
    except _DECODE_ERRORS as exc:
        raise ImageError(f"cannot read image {name!r}: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) < 200 else text[:200] + "..."


def _check_header(img: Image.Image, name: str, max_pixels: int) -> None:
    """Everything that can be refused from the header alone, before any pixel is decoded."""
    w, h = img.size
    if w < 1 or h < 1:
        raise ImageError(f"image {name!r} is {w}x{h}: it has no pixels")
    if w * h > max_pixels:
        raise ImageError(
            f"image {name!r} is {w}x{h} = {w * h:,} pixels, over the limit of {max_pixels:,}",
            "raise it with --max-pixels if you trust the file",
        )
    # MPO is a camera JPEG with extra views; its first frame is the photo itself.
    if getattr(img, "is_animated", False) and img.format != "MPO":
        raise ImageError(
            f"image {name!r} is an animation or has several pages ({img.format})",
            "dreamjax dreams on still images; save the frame you want as PNG first",
        )
    if img.mode not in _READABLE_MODES and not img.mode.startswith("I;16"):
        raise ImageError(f"image {name!r} has colour mode {img.mode}, which dreamjax does not convert", "save it as RGB first")


def _check_complete(img: Image.Image, path: Path) -> None:
    """Refuse files cut short where PIL alone would still decode every pixel it needs.

    PIL stops reading once it has the pixels, so a PNG without its final chunks, a GIF without
    its trailer or a BMP without its last row padding loads silently; each is a truncated file.
    """
    if img.format == "PNG":
        _check_png_chunks(path)
    elif img.format == "GIF":
        with open(path, "rb") as f:
            f.seek(max(0, path.stat().st_size - 64))
            if not f.read().rstrip(b"\0").endswith(b";"):
                raise ImageError(f"cannot read image {str(path)!r}: the GIF is truncated (no trailer)")
    elif img.format == "BMP":
        with open(path, "rb") as f:
            header = f.read(6)
        declared = struct.unpack("<I", header[2:6])[0] if len(header) == 6 else 0
        if path.stat().st_size < declared:
            raise ImageError(f"cannot read image {str(path)!r}: the BMP is truncated")


def _check_png_chunks(path: Path) -> None:
    """Walk every chunk to IEND: lengths within the file and CRCs correct (PIL skips IEND's)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        f.seek(8)  # signature, already matched by PIL
        while True:
            head = f.read(8)
            if len(head) < 8:
                raise ImageError(f"cannot read image {str(path)!r}: the PNG is truncated (no IEND chunk)")
            length, kind = struct.unpack(">I4s", head)
            if f.tell() + length + 4 > size:
                raise ImageError(f"cannot read image {str(path)!r}: the PNG is truncated inside its {_chunk_name(kind)} chunk")
            crc = zlib.crc32(kind)
            left = length
            while left:  # in blocks: a chunk may be as large as the file
                block = f.read(min(left, 1 << 20))
                crc, left = zlib.crc32(block, crc), left - len(block)
            if struct.unpack(">I", f.read(4))[0] != crc:
                raise ImageError(f"cannot read image {str(path)!r}: the PNG is corrupt (bad CRC in its {_chunk_name(kind)} chunk)")
            if kind == b"IEND":
                return


def _chunk_name(kind: bytes) -> str:
    return kind.decode("latin-1") if kind.isalpha() else repr(kind)


def _to_rgb_array(img: Image.Image, name: str) -> np.ndarray:
    if img.mode.startswith("I;16") or img.mode in ("I", "F"):
        arr = np.asarray(img, dtype=np.float32)
        if not np.all(np.isfinite(arr)):
            raise ImageError(f"image {name!r} holds NaN or Inf values")
        return np.repeat(_grey_scale(arr, img.mode)[..., None], 3, axis=-1)
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    rgb = img.convert("RGB")
    return np.asarray(rgb, dtype=np.float32) / 255.0


def _grey_scale(arr: np.ndarray, mode: str) -> np.ndarray:
    """Map a single-channel integer or float image to [0, 1] by the range its type implies."""
    top = float(arr.max(initial=0.0))
    if mode.startswith("I;16"):
        full = 65535.0
    elif mode == "F" and top <= 1.0:
        full = 1.0  # float images in [0, 1]
    elif top <= 255.0:
        full = 255.0
    elif top <= 65535.0:
        full = 65535.0
    else:
        full = top
    return np.clip(arr / full, 0.0, 1.0)


def check_output_path(path: str | os.PathLike) -> Path:
    """Validate an output image path before any work is done, and clear stale temporary files.

    Call once per run and output folder: leftovers of runs killed outright are removed here
    (those of live runs stay; see atomic.clean_stale_parts).
    """
    path = check_writable_dir(_check_suffix(path))
    clean_stale_parts(path.parent)
    return path


def _check_suffix(path: str | os.PathLike) -> Path:
    path = Path(path)
    if path.suffix.lower() not in WRITABLE_SUFFIXES:
        raise ImageError(
            f"cannot write {str(path)!r}: unknown image type {path.suffix or '(none)'!r}",
            f"use one of {', '.join(sorted(WRITABLE_SUFFIXES))}",
        )
    return path


def to_uint8(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, dtype=np.float32)
    if not np.all(np.isfinite(image)):
        raise ImageError("refusing to write an image containing NaN or Inf")
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def to_pil(image: np.ndarray) -> Image.Image:
    return Image.fromarray(to_uint8(image))


def save_image(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write ``[H, W, 3]`` floats in ``[0, 1]`` atomically; the format follows the suffix."""
    path = _check_suffix(path)
    pil = to_pil(image)
    with atomic_path(path) as tmp:
        pil.save(tmp, format=WRITABLE_SUFFIXES[path.suffix.lower()])
    return path
