import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamjax.ascent.objective_syntax import (
    CENTRE,
    MAX_WEIGHT,
    ClassTerm,
    GuideTerm,
    LayerTerm,
    ObjectiveSyntaxError,
    format_objective,
    parse_objective,
)


@pytest.mark.parametrize(
    "text, terms",
    [
        ("blocks.9", (LayerTerm("blocks.9"),)),
        (
            "blocks.5:1.0,blocks.3[12]:0.5,class=tabby cat:2",
            (LayerTerm("blocks.5"), LayerTerm("blocks.3", (12,), weight=0.5), ClassTerm("tabby cat", 2.0)),
        ),
        (" blocks.3 [ 0-3 , 40 ] : -1e-3 ", (LayerTerm("blocks.3", (0, 1, 2, 3, 40), weight=-0.001),)),
        ("blocks.9[100]@centre", (LayerTerm("blocks.9", (100,), CENTRE),)),
        ("blocks.9[100]@Center:3", (LayerTerm("blocks.9", (100,), CENTRE, 3.0),)),
        ("blocks.9[7]@(0.25, 1)", (LayerTerm("blocks.9", (7,), (0.25, 1.0)),)),
        ("class=jack-o'-lantern", (ClassTerm("jack-o'-lantern"),)),
        ("CLASS = 281 : .5", (ClassTerm("281", 0.5),)),
        ('class="tabby, tabby cat"', (ClassTerm("tabby, tabby cat"),)),
        ("guide=flowers.jpg", (GuideTerm("flowers.jpg"),)),
        ("guide = my photos/flowers 2.jpg @ blocks.9 : 2", (GuideTerm("my photos/flowers 2.jpg", "blocks.9", 2.0),)),
        ("guide='C:\\\\pics\\\\a,b.png'@\"odd:name\"", (GuideTerm("C:\\pics\\a,b.png", "odd:name"),)),
        ('"conv2d0:0"[3]', (LayerTerm("conv2d0:0", (3,)),)),
        ("/features/Relu_output_0", (LayerTerm("/features/Relu_output_0"),)),
    ],
)
def test_parses_the_documented_forms(text, terms):
    assert parse_objective(text) == terms
    assert parse_objective(format_objective(terms)) == terms


@pytest.mark.parametrize(
    "text, column, words",
    [
        ("", 1, "empty"),
        ("   ", 1, "empty"),
        ("blocks.3[12:0.5", 12, "expected ']'"),
        ("blocks.3[5-2]", 10, "backwards"),
        ("blocks.3[1,1]", 12, "twice"),
        ("blocks.3[]", 10, "channel number"),
        ("blocks.3[-1]", 10, "channel number"),
        ("clas=tabby", 1, "unknown term kind 'clas'"),
        ("blocks.5:abc", 10, "number"),
        ("blocks.5:nan", 10, "number"),
        ("blocks.5,,x", 10, "layer name"),
        ("blocks.5,", 10, "layer name"),
        ("blocks.5@centre", 9, "channel first"),
        ("a[1,2]@centre", 7, "exactly one channel"),
        ("a[1]@(2,0)", 7, "from 0 to 1"),
        ("a[1]@middle", 6, "unknown position"),
        ("a[1]@(0.5 0.5)", 11, "expected ','"),
        ("a b", 3, "separated by ','"),
        ('"abc', 1, "unterminated"),
        ("class=", 7, "class name"),
        ("class=:2", 7, "class name"),
        ("guide=@blocks.9", 7, "guide image path"),
        ("guide=x.png@", 13, "layer name"),
        ("blocks.5:1:2", 11, "separated by ','"),
    ],
)
def test_bad_syntax_points_at_the_bad_part(text, column, words):
    with pytest.raises(ObjectiveSyntaxError) as err:
        parse_objective(text)
    assert err.value.position + 1 == column
    assert words in err.value.message and f"column {column}" in err.value.message
    assert err.value.hint  # the grammar in brief


_names = st.text(min_size=1, max_size=12)  # any text but lone surrogates
_layers = st.one_of(st.from_regex(r"[A-Za-z0-9_./\-]{1,12}", fullmatch=True), _names)
_weights = st.floats(min_value=-MAX_WEIGHT, max_value=MAX_WEIGHT, allow_nan=False, width=64)
_channels = st.lists(st.integers(0, 5000), max_size=6, unique=True).map(tuple)
_positions = st.one_of(st.none(), st.tuples(st.floats(0, 1), st.floats(0, 1)))


@st.composite
def _layer_terms(draw):
    channels = draw(_channels)
    position = draw(_positions) if len(channels) == 1 else None
    return LayerTerm(draw(_layers), channels, position, draw(_weights))


_terms = st.one_of(
    _layer_terms(),
    st.builds(ClassTerm, _names, _weights),
    st.builds(GuideTerm, _names, st.one_of(st.none(), _layers), _weights),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_terms, min_size=1, max_size=5))
def test_format_then_parse_round_trips(terms):
    # Free text loses its outer whitespace unless quoted; the formatter quotes such text.
    assert parse_objective(format_objective(terms)) == tuple(terms)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab.39[]@(),:=-'\" clasguide", max_size=30))
def test_any_text_parses_or_fails_with_a_position(text):
    try:
        terms = parse_objective(text)
    except ObjectiveSyntaxError as err:
        assert 0 <= err.position <= len(text)
    else:
        assert terms and parse_objective(format_objective(terms)) == terms
