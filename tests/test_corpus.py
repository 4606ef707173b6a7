"""The crafted bad-file corpus (tests/corpus/, written by scripts/make_corpus.py), table-driven.

Every file in the corpus has one row here: which loader reads it and what must happen — a
refusal whose message matches, or (for odd but valid files) a clean load. A file without a
row, or a row without a file, fails the suite.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

from dreamjax.cli import main
from dreamjax.files.checkpoint import CheckpointError, read_torch_checkpoint
from dreamjax.files.image import ImageError, load_image

CORPUS = Path(__file__).parent / "corpus"
NOT_IMAGE = r"is not an image dreamjax can read"
TRUNCATED = r"cannot read image"
ANIMATION = r"is an animation or has several pages"
BOMB = r"over the limit of 64,000,000"
CODE = r"asks for the global .* which is not allowed"
LOADS = None  # a clean load: float32 RGB in [0, 1]

IMAGES = {
    "text_named.png": NOT_IMAGE,
    "empty.png": NOT_IMAGE,
    "html_named.jpg": NOT_IMAGE,
    "svg_named.png": NOT_IMAGE,
    "zip_named.png": NOT_IMAGE,
    "eps_named.png": NOT_IMAGE,
    "icon.ico": NOT_IMAGE,
    "png_signature_only.png": NOT_IMAGE,
    "png_cut_in_idat.png": r"truncated inside its IDAT chunk",
    "png_no_iend.png": r"truncated \(no IEND chunk\)",
    "png_cut_in_iend_crc.png": r"truncated inside its IEND chunk",
    "png_bad_crc.png": r"bad CRC in its IDAT chunk",
    "png_bad_zlib.png": TRUNCATED,
    "png_huge_chunk_length.png": TRUNCATED,
    "png_zero_width.png": NOT_IMAGE,
    "png_bomb_100k_square.png": BOMB,
    "png_bomb_70m_by_1.png": BOMB,
    "bmp_bomb_50k_square.bmp": BOMB,
    "jpeg_header_only.jpg": TRUNCATED,
    "jpeg_cut.jpg": r"truncated",
    "jpeg_no_eoi.jpg": r"truncated",
    "jpeg_flipped_scan_bits.jpg": LOADS,  # no checksum in JPEG: garbled but valid pixels
    "gif_animated.gif": ANIMATION,
    "gif_no_trailer.gif": r"GIF is truncated",
    "apng_two_frames.png": ANIMATION,
    "webp_animated.webp": ANIMATION,
    "webp_cut.webp": TRUNCATED,
    "tiff_two_pages.tif": ANIMATION,
    "tiff_cut.tif": r"truncated",
    "tiff_float_nan.tif": r"holds NaN or Inf",
    "tiff_lab.tif": r"colour mode LAB",
    "bmp_cut.bmp": r"BMP is truncated",
}

CHECKPOINTS = {
    "pickle_os_system.pth": CODE,
    "pickle_builtins_eval.pth": CODE,
    "pickle_subprocess_in_magic.pth": CODE,
    "zip_pickle_os_system.pth": CODE,
    "legacy_cut_in_storage.pth": r"truncated inside storage",
    "legacy_trailing_bytes.pth": r"unexpected bytes after the last storage",
    "legacy_count_mismatch.pth": r"holds 28 elements, the tensors expect 27",
    "legacy_past_storage.pth": r"reach past its storage",
    "stride0_huge_tensor.pth": r"more elements than its storage",
    "not_a_checkpoint.pth": r"wrong magic number",
    "empty.pth": r"wrong magic number",
    "zip_missing_record.pth": r"storage record archive/data/0 is missing",
    "zip_record_bomb.pth": r"has 16777216 bytes, the tensors expect 16",
    "zip_pickle_bomb.pth": r"declares 83,886,080 bytes",
    "zip_two_roots.pth": r"without exactly one <root>/data.pkl",
    "zip_big_endian.pth": r"big-endian",
    "zip_list_not_dict.pth": r"not a state dict",
    "zip_cut.pth": r"not a readable PyTorch checkpoint",
}

TABLE = {
    **{f"images/{k}": ("image", v) for k, v in IMAGES.items()},
    **{f"checkpoints/{k}": ("checkpoint", v) for k, v in CHECKPOINTS.items()},
}


def _outcome(path: Path, kind: str, expected: str | None) -> None:
    if kind == "image":
        if expected is LOADS:
            out = load_image(path)
            assert out.dtype == np.float32 and out.ndim == 3 and out.shape[2] == 3
            assert np.all(np.isfinite(out)) and out.min() >= 0 and out.max() <= 1
        else:
            with pytest.raises(ImageError, match=expected):
                load_image(path)
    elif kind == "checkpoint":
        with pytest.raises(CheckpointError, match=expected):
            read_torch_checkpoint(path)
    else:
        raise AssertionError(f"no loader for {kind}")


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_every_corpus_file_has_a_row_and_every_row_a_file():
    assert _files(CORPUS) == set(TABLE)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_corpus_file(name):
    kind, expected = TABLE[name]
    _outcome(CORPUS / name, kind, expected)


def test_hostile_checkpoints_ran_nothing():
    for name, (kind, expected) in TABLE.items():
        if expected == CODE:
            with pytest.raises(CheckpointError):
                read_torch_checkpoint(CORPUS / name)
    assert not os.path.exists("/tmp/dreamjax-pwned")  # what pickle_os_system.pth would create


@pytest.mark.parametrize("name", sorted(k for k, (kind, v) in TABLE.items() if kind == "image" and v is not LOADS))
def test_cli_refuses_each_bad_image_in_one_line(name, tmp_path, capsys):
    out = tmp_path / "o.png"
    assert main(["dream", str(CORPUS / name), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err and len(err.strip().splitlines()) <= 2
    assert not out.exists()


def test_generator_recreates_the_corpus(tmp_path):
    script = Path(__file__).parent.parent / "scripts" / "make_corpus.py"
    spec = importlib.util.spec_from_file_location("make_corpus", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.build(tmp_path)
    assert _files(tmp_path) == set(TABLE)
    for name, (kind, expected) in TABLE.items():
        _outcome(tmp_path / name, kind, expected)
