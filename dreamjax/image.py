"""Image files in and out: PIL does the decoding; we add limits, colour handling and atomic writes.

Images leave this module as float32 ``[H, W, 3]`` RGB arrays in ``[0, 1]``.
"""

from __future__ import annotations

import os
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .atomic import atomic_path, check_writable_dir
from .errors import DreamjaxError

# Refuse bigger images before decoding them (decompression bombs); --max-pixels raises it.
DEFAULT_MAX_PIXELS = 64_000_000
WRITABLE_SUFFIXES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF", ".bmp": "BMP"}
SAMPLE_IMAGE = "chelsea.png"


class ImageError(DreamjaxError):
    pass


def sample_image_path(name: str = SAMPLE_IMAGE) -> Path:
    """Path of an image bundled with the package (see dreamjax/data/LICENSES.md)."""
    return Path(str(resources.files("dreamjax") / "data" / name))


def load_image(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image file as float32 ``[H, W, 3]`` RGB in ``[0, 1]``.

    EXIF orientation is applied; grey, palette, CMYK and 16-bit images are converted; alpha is
    composited over white. Raises ImageError with one clear line for anything unreadable.
    """
    path = Path(path)
    if not path.exists():
        raise ImageError(f"image {str(path)!r} does not exist")
    if path.is_dir():
        raise ImageError(f"image {str(path)!r} is a folder")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                w, h = img.size
                if w * h > max_pixels:
                    raise ImageError(
                        f"image {str(path)!r} is {w}x{h} = {w * h:,} pixels, over the limit of {max_pixels:,}",
                        "raise it with --max-pixels if you trust the file",
                    )
                img.load()
                img = ImageOps.exif_transpose(img)
                return _to_rgb_array(img)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{str(path)!r} is not an image PIL can read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"image {str(path)!r} refused as a decompression bomb: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"cannot read image {str(path)!r}: {exc}") from None


def _to_rgb_array(img: Image.Image) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float32)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        grey = np.clip(arr / top, 0.0, 1.0)
        return np.repeat(grey[..., None], 3, axis=-1)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    rgb = img.convert("RGB")
    return np.asarray(rgb, dtype=np.float32) / 255.0


def check_output_path(path: str | os.PathLike) -> Path:
    """Validate an output image path before any work is done."""
    path = Path(path)
    if path.suffix.lower() not in WRITABLE_SUFFIXES:
        raise ImageError(
            f"cannot write {str(path)!r}: unknown image type {path.suffix or '(none)'!r}",
            f"use one of {', '.join(sorted(WRITABLE_SUFFIXES))}",
        )
    return check_writable_dir(path)


def to_uint8(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, dtype=np.float32)
    if not np.all(np.isfinite(image)):
        raise ImageError("refusing to write an image containing NaN or Inf")
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def to_pil(image: np.ndarray) -> Image.Image:
    return Image.fromarray(to_uint8(image))


def save_image(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write ``[H, W, 3]`` floats in ``[0, 1]`` atomically; the format follows the suffix."""
    path = check_output_path(path)
    pil = to_pil(image)
    with atomic_path(path) as tmp:
        pil.save(tmp, format=WRITABLE_SUFFIXES[path.suffix.lower()])
    return path
