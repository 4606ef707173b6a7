"""Property tests (hypothesis, fixed budget): the image loader on random and mutated bytes.

Whatever the bytes, load_image either returns a finite float32 [H, W, 3] array in [0, 1]
within the pixel limit, or raises ImageError. Any other exception is a bug.
"""

from __future__ import annotations

import numpy as np
import pytest
from crafted import noise, pil_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dreamjax.files.image import READABLE_FORMATS, ImageError, load_image

MAX_PIXELS = 1 << 20  # small, so a mutated header can never make a test allocate much
SEEDS = {fmt: pil_bytes(noise(10, 12, seed=3), fmt) for fmt in ("PNG", "JPEG", "GIF", "WEBP", "TIFF", "BMP", "PPM")}
FUZZ = settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _check(tmp_path, data: bytes, name: str = "x.png") -> None:
    path = tmp_path / name
    path.write_bytes(data)
    try:
        out = load_image(path, max_pixels=MAX_PIXELS)
    except ImageError as exc:
        assert str(exc) and "\n" not in exc.message
        return
    assert out.dtype == np.float32 and out.ndim == 3 and out.shape[2] == 3
    assert out.shape[0] * out.shape[1] <= MAX_PIXELS
    assert np.all(np.isfinite(out)) and out.min() >= 0.0 and out.max() <= 1.0


def test_seeds_are_valid(tmp_path):
    assert set(READABLE_FORMATS) <= set(SEEDS)
    for fmt, data in SEEDS.items():
        (tmp_path / "s").write_bytes(data)
        assert load_image(tmp_path / "s").shape == (10, 12, 3), fmt


@FUZZ
@given(data=st.binary(max_size=512))
def test_random_bytes(tmp_path, data):
    _check(tmp_path, data)


@FUZZ
@given(fmt=st.sampled_from(sorted(SEEDS)), data=st.binary(min_size=1, max_size=256))
def test_valid_header_random_body(tmp_path, fmt, data):
    # The first bytes pick PIL's decoder; the rest is noise.
    seed = SEEDS[fmt]
    _check(tmp_path, seed[: min(len(seed), 32)] + data)


@FUZZ
@given(
    fmt=st.sampled_from(sorted(SEEDS)),
    edits=st.lists(st.tuples(st.integers(0, 4096), st.integers(0, 255)), min_size=1, max_size=8),
    cut=st.one_of(st.none(), st.integers(0, 4096)),
)
def test_mutated_valid_files(tmp_path, fmt, edits, cut):
    data = bytearray(SEEDS[fmt])
    for at, value in edits:  # byte overwrites, biased to headers by the small offsets
        data[at % len(data)] = value
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    _check(tmp_path, bytes(data))


@FUZZ
@given(width=st.integers(0, 2**31 - 1), height=st.integers(0, 2**31 - 1))
def test_any_declared_png_size(tmp_path, width, height):
    # Crafted headers with any size and a tiny body: refused up front or by the decoder.
    from crafted import png

    _check(tmp_path, png(width, height, 8, 2, [], idat=b"\x78\x9c\x03\x00\x00\x00\x00\x01"))


@pytest.mark.slow
@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fmt=st.sampled_from(sorted(SEEDS)), edits=st.lists(st.tuples(st.integers(0, 4096), st.integers(0, 255)), min_size=1, max_size=16))
def test_mutated_valid_files_long(tmp_path, fmt, edits):
    data = bytearray(SEEDS[fmt])
    for at, value in edits:
        data[at % len(data)] = value
    _check(tmp_path, bytes(data))
