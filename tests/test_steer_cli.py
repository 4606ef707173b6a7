"""``dreamjax dream`` steering options, config files, presets and synthetic starts (tiny model)."""

import numpy as np
import pytest

from dreamjax.ascent.objective_syntax import ClassTerm, GuideTerm, LayerTerm
from dreamjax.cli import build_parser, main
from dreamjax.cli.settings import objective_terms, resolve
from dreamjax.files.image import load_image

FAST = ["--model", "tiny", "--octaves", "1", "--steps", "3", "--jitter", "0", "--no-cache"]




def parse(argv):
    return build_parser().parse_args(["dream", *argv])


def test_objective_class_and_layer_options_steer_the_picture(tiny_backend, photo, tmp_path, capsys):
    outs = {}
    for name, args in {"layer": ["--layer", "conv2"], "objective": ["--objective", "conv2[3]:2,conv1:0.5"], "class": ["--class", "B"]}.items():
        out = tmp_path / f"{name}.png"
        assert main(["dream", str(photo), "-o", str(out), *args, *FAST]) == 0
        outs[name] = load_image(out)
    err = capsys.readouterr().err
    assert "at conv2[3]:2.0,conv1:0.5" in err and "at class=b" in err
    assert np.abs(outs["objective"] - outs["layer"]).mean() > 0.005
    assert np.abs(outs["class"] - outs["layer"]).mean() > 0.005


def test_bad_objective_syntax_is_caught_while_reading_options(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["dream", "--objective", "conv1[3:2"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "column 8" in err and "conv1[3 >>> :2" in err


@pytest.mark.parametrize(
    "args, words",
    [
        (["--class", "zebra"], "unknown class"),
        (["--objective", "conv2[99]"], "out of range"),
        (["--objective", "convv2"], "did you mean"),
        (["--preset", "stroke"], "did you mean 'strokes'"),
    ],
)
def test_bad_names_are_one_clear_error(tiny_backend, photo, tmp_path, capsys, args, words):
    out = tmp_path / "o.png"
    assert main(["dream", str(photo), "-o", str(out), *args, *FAST]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and not out.exists()


CONFIG = """
image = "in.png"
output = "out.png"
model = "tiny"
octaves = 3
octave-scale = 1.25
steps = 7
step_size = 0.02
jitter = 5
seed = 11
no_cache = true
layer = ["conv0:0.5"]
class = ["b"]
guide = ["stripes.png"]
tv = 0.5
blur = 0.75
laplacian = 3
decorrelate_colour = true
from_colour = "#336699"
size = "40x30"

[[objective]]
layer = "conv1"

[[objective]]
layer = "conv2"
channels = [3, 4]
weight = -0.5

[[objective]]
layer = "conv2"
channels = 7
position = [0.25, 1]

[[objective]]
class = "c"
weight = 2

[[objective]]
guide = "g.png"
layer = "conv1"
"""

FLAGS = [
    "in.png", "--output", "out.png", "--model", "tiny", "--octaves", "3", "--octave-scale", "1.25", "--steps", "7",
    "--step-size", "0.02", "--jitter", "5", "--seed", "11", "--no-cache", "--layer", "conv0:0.5", "--class", "b",
    "--guide", "stripes.png", "--tv", "0.5", "--blur", "0.75", "--laplacian", "3", "--decorrelate-colour",
    "--from-colour", "#336699", "--size", "40x30",
    "--objective", "conv1,conv2[3,4]:-0.5,conv2[7]@(0.25,1),class=c:2,guide=g.png@conv1",
]


def test_config_file_equals_the_same_flags(tmp_path):
    config = tmp_path / "dream.toml"
    config.write_text(CONFIG)
    from_file = resolve(parse(["--config", str(config)]))
    from_flags = resolve(parse(FLAGS))
    assert from_file == from_flags
    assert objective_terms(from_file) == (
        LayerTerm("conv0", weight=0.5),
        LayerTerm("conv1"),
        LayerTerm("conv2", (3, 4), weight=-0.5),
        LayerTerm("conv2", (7,), (0.25, 1.0)),
        ClassTerm("c", 2.0),
        GuideTerm("g.png", "conv1"),
        ClassTerm("b"),
        GuideTerm("stripes.png"),
    )


def test_config_objective_as_text_and_precedence(tmp_path):
    config = tmp_path / "dream.toml"
    config.write_text('steps = 7\nseed = 3\nobjective = "conv1,class=c:2"\n')
    values = resolve(parse(["--config", str(config), "--seed", "5"]))
    assert (values["steps"], values["seed"], values["octaves"]) == (7, 5, 4)  # file, flag, default
    assert objective_terms(values) == (LayerTerm("conv1"), ClassTerm("c", 2.0))
    # Any objective on the command line replaces the file's objective as a whole.
    values = resolve(parse(["--config", str(config), "--layer", "conv2"]))
    assert objective_terms(values) == (LayerTerm("conv2"),)


def test_preset_settings_give_way_to_config_and_flags(tmp_path):
    config = tmp_path / "dream.toml"
    config.write_text("steps = 7\n")
    preset = {"steps": 12, "octaves": 6, "step_size": 0.5}
    values = resolve(parse(["--config", str(config), "--step-size", "0.03"]), preset)
    assert (values["steps"], values["octaves"], values["step_size"]) == (7, 6, 0.03)


def test_config_problems_are_listed_together(tmp_path):
    from dreamjax import DreamjaxError

    config = tmp_path / "dream.toml"
    config.write_text('stepz = 3\noctaves = 0\nno_cache = "yes"\n[[objective]]\nlayer = "conv1"\nchanels = [1]\n')
    with pytest.raises(DreamjaxError) as err:
        resolve(parse(["--config", str(config)]))
    message = err.value.message
    assert message.startswith(f"4 problems in {str(config)!r}")
    assert "'stepz' (did you mean 'steps'" in message and "octaves: must be at least 1" in message
    assert "no_cache: must be true or false" in message and "'chanels' (did you mean 'channels'?)" in message


def test_config_syntax_and_missing_file(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("steps = = 3")
    assert main(["dream", "--config", str(bad)]) == 2
    assert "not valid TOML" in capsys.readouterr().err
    assert main(["dream", "--config", str(tmp_path / "none.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_config_objective_syntax_error_names_the_setting(tmp_path, capsys):
    config = tmp_path / "dream.toml"
    config.write_text('objective = "conv1[2"\n')
    assert main(["dream", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "objective: bad objective at column 8" in err


def test_from_noise_is_seeded_and_sized(tiny_backend, tmp_path):
    paths = [tmp_path / f"{i}.png" for i in range(3)]
    for path, seed in zip(paths, ["1", "1", "2"]):
        assert main(["dream", "--from-noise", "--size", "40x36", "--seed", seed, "-o", str(path), *FAST]) == 0
    a, b, c = (load_image(p) for p in paths)
    assert a.shape == (36, 40, 3)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).mean() > 0.01


def test_from_colour_starts_from_that_colour(tiny_backend, tmp_path):
    out = tmp_path / "c.png"
    assert main(["dream", "--from-colour", "#336699", "--size", "32", "-o", str(out), "--steps", "1", *FAST]) == 0
    picture = load_image(out)
    assert picture.shape == (32, 32, 3)
    np.testing.assert_allclose(np.median(picture.reshape(-1, 3), axis=0), [0x33 / 255, 0x66 / 255, 0x99 / 255], atol=0.08)
    assert picture.std(axis=(0, 1)).max() > 0.005  # the dream has drawn something


@pytest.mark.parametrize(
    "args, words",
    [
        (["in.png", "--from-noise"], "not both"),
        (["--from-noise", "--from-colour", "red"], "not both"),
    ],
)
def test_conflicting_starts(tiny_backend, tmp_path, capsys, args, words):
    assert main(["dream", *args, "-o", str(tmp_path / "o.png"), *FAST]) == 2
    assert words in capsys.readouterr().err


@pytest.mark.parametrize("args", [["--size", "0x3"], ["--size", "abc"], ["--from-colour", "#12345"], ["--tv", "-1"]])
def test_bad_start_and_regulariser_values_are_caught_while_reading_options(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["dream", *args])
    assert exc.value.code == 2


def test_preset_runs_and_presets_are_listed(tiny_backend, photo, tmp_path, capsys):
    out = tmp_path / "p.png"
    assert main(["dream", str(photo), "-o", str(out), "--preset", "strokes", *FAST]) == 0
    assert "(strokes) at conv0" in capsys.readouterr().err
    assert main(["presets", "tiny"]) == 0
    table = capsys.readouterr().out
    assert "strokes" in table and "objects" in table and "conv2" in table


def test_help_documents_the_grammar(capsys):
    with pytest.raises(SystemExit):
        main(["dream", "--help"])
    out = capsys.readouterr().out
    assert 'objective := term ("," term)*' in out and "class=tabby cat:2" in out and "(default 10)" in out
