"""Adversarial objective text: the parser and the model-side resolution never hang, never
allocate per listed channel without bound, and fail only with a DreamjaxError that points at
the text. (Round trips and the grammar itself are tested in test_objective_syntax.py.)
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamjax.ascent.objective_syntax import ObjectiveSyntaxError, parse_objective
from dreamjax.ascent.objectives import build_objective
from dreamjax.errors import DreamjaxError

FUZZ = settings(max_examples=300, deadline=None, derandomize=True)
PIECES = st.sampled_from([
    "conv0", "conv1", "conv2", "logits", "conv9", "[", "]", "-", ",", ":", "@", "(", ")", "centre", "class=", "guide=",
    "a", "0", "3", "15", "99999999999", "9" * 40, "1e400", "nan", "-inf", "0.5", "'", '"', "\\", " ", "\t", "\x00", "é", "☃",
])


@FUZZ
@given(st.lists(PIECES, max_size=14).map("".join))
def test_pieces_of_syntax(text):
    _parse_or_fail(text)


@FUZZ
@given(st.text(max_size=60))
def test_any_unicode(text):
    _parse_or_fail(text)


def _parse_or_fail(text):
    try:
        parse_objective(text)
    except ObjectiveSyntaxError as err:
        assert 0 <= err.position <= len(text) and "\n" not in err.message.split(":", 1)[0]


@FUZZ
@given(st.lists(PIECES, max_size=12).map("".join))
def test_resolving_against_a_model(tiny, text):
    # Unknown layers and classes, channels out of range, positions on vectors: DreamjaxError.
    try:
        build_objective(tiny, text, load_guide=lambda path: (_ for _ in ()).throw(DreamjaxError(f"no guide {path}")))
    except DreamjaxError:
        pass


@pytest.mark.parametrize(
    "text, message",
    [
        ("conv1[0-999999999]", "more than 65,536 channels"),
        ("conv1[0-99999999999]", "too large"),
        ("conv1[0-65536]", "more than 65,536 channels"),
        ("conv1[" + "9" * 5000 + "]", "too large"),
        ("conv1:" + "9" * 5000, "finite number"),
        ("conv1[1]@(1e400,0.5)", "fractions"),
    ],
)
def test_huge_numbers_are_refused_before_expanding(text, message):
    # Before: the range was expanded with a quadratic duplicate check (minutes, then memory).
    with pytest.raises(ObjectiveSyntaxError, match=message):
        parse_objective(text)


def test_widest_allowed_channel_list():
    (term,) = parse_objective("conv1[0-65535]")
    assert term.channels == tuple(range(65536))
