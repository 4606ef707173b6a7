"""Adversarial objective text: the parser and the model-side resolution never hang, never
allocate per listed channel without bound, and fail only with a DreamjaxError that points at
the text. What they accept is checked too: parsed terms are in range and read back the same,
a resolved objective scores every image as the terms say (recomputed here with numpy), and the
text is refused exactly when one of its terms cannot be resolved. (The grammar itself is tested
in test_objective_syntax.py.)
"""

from __future__ import annotations

import functools
import math

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamjax.ascent.objective_syntax import (
    MAX_CHANNELS,
    ClassTerm,
    GuideTerm,
    LayerTerm,
    ObjectiveSyntaxError,
    format_objective,
    parse_objective,
)
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
        terms = parse_objective(text)
    except ObjectiveSyntaxError as err:
        assert 0 <= err.position <= len(text) and "\n" not in err.message.split(":", 1)[0]
        assert err.text == text and (not text or f"{text[:err.position]} >>> {text[err.position:]}" in err.message)
        return
    assert terms, "an objective has at least one term"
    for term in terms:
        assert math.isfinite(term.weight)
        if isinstance(term, LayerTerm):
            assert term.layer and len(term.channels) <= MAX_CHANNELS
            assert len(set(term.channels)) == len(term.channels) and all(c >= 0 for c in term.channels)
            if term.position is not None:
                assert all(0.0 <= v <= 1.0 for v in term.position)
    assert parse_objective(format_objective(terms)) == terms


def _no_guides(path):
    raise DreamjaxError(f"no guide {path}")


@functools.cache
def _activations(model):
    images = np.random.default_rng(5).uniform(size=(2, 32, 32, 3)).astype(np.float32)
    acts = model.apply(model.params, jnp.asarray(images), tuple(layer.name for layer in model.layers))
    return {name: np.asarray(act) for name, act in acts.items()}


def _expected(model, terms):
    """Each term's value per image, from the activations with numpy; None if a term cannot be resolved."""
    info, acts = {layer.name: layer for layer in model.layers}, _activations(model)
    values = []
    for term in terms:
        if abs(term.weight) > np.finfo(np.float32).max:
            return None
        if isinstance(term, GuideTerm):
            return None  # _no_guides refuses every guide file
        if isinstance(term, ClassTerm):
            name = term.name.strip()
            index = int(name) if name.isdigit() else [n.lower() for n in model.class_names].index(name.lower()) \
                if name.lower() in [n.lower() for n in model.class_names] else len(model.class_names)
            if index >= len(model.class_names):
                return None
            value = acts[model.logits_layer][:, index]
        elif term.layer not in info or any(c >= info[term.layer].channels for c in term.channels):
            return None
        elif not term.channels:
            act = acts[term.layer]
            value = np.mean(np.square(act), axis=tuple(range(1, act.ndim)))
        elif term.position is None:
            act = acts[term.layer][..., list(term.channels)]
            value = np.mean(act, axis=tuple(range(1, act.ndim)))
        elif len(term.channels) != 1 or info[term.layer].spatial is None:
            return None
        else:
            act = acts[term.layer]
            x, y = term.position
            value = act[:, round(y * (act.shape[1] - 1)), round(x * (act.shape[2] - 1)), term.channels[0]]
        values.append(np.float32(term.weight) * value.astype(np.float32))
    return sum(values)


@FUZZ
@given(st.lists(PIECES, max_size=12).map("".join))
def test_resolving_against_a_model(tiny, text):
    try:
        terms = parse_objective(text)
    except ObjectiveSyntaxError:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        expected = _expected(tiny, terms)
    try:
        objective = build_objective(tiny, terms, load_guide=_no_guides)
    except DreamjaxError as err:
        assert expected is None, f"{text!r} was refused but every term resolves: {err.message}"
        return
    assert expected is not None, f"{text!r} was accepted but a term cannot be resolved"
    assert len(objective.terms) == len(terms)
    got = np.asarray(objective({name: jnp.asarray(act) for name, act in _activations(tiny).items()}))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "text, message",
    [
        ("conv1[0-999999999]", "more than 65,536 channels"),
        ("conv1[0-99999999999]", "too large"),
        ("conv1[0-65536]", "more than 65,536 channels"),
        ("conv1[" + "9" * 5000 + "]", "too large"),
        ("conv1:" + "9" * 5000, "finite number"),
        ("conv1[1]@(1e400,0.5)", "fractions"),
        ("conv1:" + "9" * 40, "at most 3.4e\\+38 in size"),  # finite, but inf in the float32 programs
        ("conv1:-4e38", "at most 3.4e\\+38 in size"),
    ],
)
def test_huge_numbers_are_refused_before_expanding(text, message):
    # Before: the range was expanded with a quadratic duplicate check (minutes, then memory).
    with pytest.raises(ObjectiveSyntaxError, match=message):
        parse_objective(text)


def test_widest_allowed_channel_list():
    (term,) = parse_objective("conv1[0-65535]")
    assert term.channels == tuple(range(65536))
