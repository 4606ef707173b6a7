"""Bad command lines are caught at parse time: one message naming the option, exit code 2,
nothing loaded or computed. Table-driven over every numeric option and the objective syntax.
"""

from __future__ import annotations

import argparse
import re

import pytest

from dreamjax import DreamjaxError
from dreamjax.ascent.engine import DreamConfig
from dreamjax.cli import build_parser, main

DREAM_CASES = [
    (["--steps", "0"], "--steps", "must be at least 1"),
    (["--steps", "-1"], "--steps", "must be at least 1"),
    (["--steps", "3000000000"], "--steps", "must be at most 100,000"),
    (["--steps", "ten"], "--steps", "is not a whole number"),
    (["--octaves", "0"], "--octaves", "must be at least 1"),
    (["--octaves", "100000"], "--octaves", "must be at most 32"),
    (["--octave-scale", "0.5"], "--octave-scale", "must be a number from 1.0 to 16.0"),
    (["--octave-scale", "1e308"], "--octave-scale", "must be a number from 1.0"),
    (["--octave-scale", "nan"], "--octave-scale", "must be a number from 1.0"),
    (["--step-size", "nan"], "--step-size", "positive finite number"),
    (["--step-size", "inf"], "--step-size", "positive finite number"),
    (["--step-size", "0"], "--step-size", "positive finite number"),
    (["--step-size", "-0.1"], "--step-size", "positive finite number"),
    (["--jitter", "-3"], "--jitter", "must be at least 0"),
    (["--jitter", "1000000000000"], "--jitter", "must be at most 65,536"),
    (["--seed", str(2**70)], "--seed", "must be at most"),
    (["--seed", "abc"], "--seed", "is not a whole number"),
    (["--max-pixels", "0"], "--max-pixels", "must be at least 1"),
    (["--tile", "-1"], "--tile", "must be 0 or more"),
    (["--layer", ":2"], "--layer", "missing layer name"),
    (["--layer", "conv1:nan"], "--layer", "must be finite"),
    (["--layer", "conv1:inf"], "--layer", "must be finite"),
    (["--layer", "conv1:1e39"], "--layer", "at most 3.4e+38 in size"),
    (["--objective", "conv1:1e39"], "--objective", "at most 3.4e+38 in size"),
    (["--objective", "blocks.5["], "--objective", ""),
    (["--objective", "blocks.5:"], "--objective", ""),
    (["--objective", "class="], "--objective", ""),
    (["--objective", ",,"], "--objective", ""),
    (["--objective", "blocks.5[3]@(2,2)"], "--objective", ""),
    (["--objective", "blocks.5:nan"], "--objective", ""),
    (["--laplacian", "9"], "--laplacian", "must be at most 8"),
    (["--blur", "-1"], "--blur", ""),
    (["--tv", "nan"], "--tv", ""),
    (["--size", "0x0"], "--size", ""),
    (["--size", "100000x100000"], "--size", ""),
    (["--from-colour", "not-a-colour"], "--from-colour", ""),
]

ZOOM_CASES = [
    (["--frames", "0"], "--frames", "must be at least 1"),
    (["--rotate", "nan"], "--rotate", "must be a number from -360.0"),
    (["--zoom", "0"], "--zoom", "positive finite number"),
    (["--shift", "1,nan"], "--shift", "two numbers"),
    (["--steps", "3000000000"], "--steps", "must be at most 100,000"),
    (["--octave-scale", "1e308"], "--octave-scale", "must be a number from 1.0"),
]


def _parse_error(argv, capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    # One line and a hint, not argparse's usage block
    assert err.splitlines()[1:] == [f"hint: see 'dreamjax {argv[0]} --help'"], err
    assert "usage:" not in err and "Traceback" not in err
    return err


@pytest.mark.parametrize("args, option, message", DREAM_CASES, ids=[" ".join(c[0]) for c in DREAM_CASES])
def test_dream_rejects_at_parse_time(args, option, message, capsys, monkeypatch):
    # Parse time: no model is loaded (loading would fail loudly here) and no image is read.
    monkeypatch.setattr("dreamjax.cli.dream.load_model", lambda *a, **k: pytest.fail("model loaded"))
    err = _parse_error(["dream", *args], capsys)
    assert re.search(rf"dreamjax dream: error: argument (-\w/)?{option}", err), err
    assert message in err


@pytest.mark.parametrize("args, option, message", ZOOM_CASES, ids=[" ".join(c[0]) for c in ZOOM_CASES])
def test_zoom_rejects_at_parse_time(args, option, message, capsys):
    err = _parse_error(["zoom", *args], capsys)
    assert f"dreamjax zoom: error: argument {option}" in err and message in err


def test_unknown_options_and_commands_get_the_same_short_error(capsys):
    err = _parse_error(["dream", "--no-such-option"], capsys)
    assert err.startswith("dreamjax dream: error: unrecognized arguments: --no-such-option\n")
    with pytest.raises(SystemExit):
        main(["dreem"])
    assert capsys.readouterr().err.splitlines() == [
        "dreamjax: error: argument COMMAND: invalid choice: 'dreem' (choose from "
        + ", ".join(f"'{c}'" for c in _parser_of(None).choices) + ")",
        "hint: see 'dreamjax --help'",
    ]


def _parser_of(command):
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub if command is None else sub.choices[command]


SHARED = ("--model", "--layer", "--objective", "--class", "--guide", "--octaves", "--octave-scale", "--steps",
          "--step-size", "--jitter", "--seed", "--tile", "--max-pixels", "--no-cache")


@pytest.mark.parametrize("option", SHARED)
def test_dream_and_zoom_share_one_definition_of_each_option(option):
    dream, zoom = (_parser_of(c)._option_string_actions[option] for c in ("dream", "zoom"))
    assert dream.option_strings == zoom.option_strings and dream.dest == zoom.dest
    assert dream.type is zoom.type and type(dream) is type(zoom) and dream.metavar == zoom.metavar


@pytest.mark.parametrize("command", ["dream", "zoom"])
def test_both_take_every_64_bit_seed(command):
    seed = _parser_of(command)._option_string_actions["--seed"].type
    assert seed(str(-(2**63))) == -(2**63) and seed(str(2**63 - 1)) == 2**63 - 1
    for bad in (str(2**63), str(-(2**63) - 1)):
        with pytest.raises(argparse.ArgumentTypeError):
            seed(bad)


def test_zoom_refuses_seeds_that_would_run_past_64_bits_before_touching_the_folder(tmp_path, capsys):
    outdir = tmp_path / "frames"
    assert main(["zoom", "--seed", str(2**63 - 2), "--frames", "3", "-o", str(outdir), "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert "runs past the largest seed" in err and "smaller --seed" in err
    assert not outdir.exists()


def test_bench_steps_and_octaves_have_the_dream_limits(capsys):
    err = _parse_error(["bench", "--steps", "3000000000"], capsys)
    assert "must be at most 100,000" in err
    err = _parse_error(["bench", "--octaves", "33"], capsys)
    assert "must be at most 32" in err


@pytest.mark.parametrize(
    "kwargs",
    [dict(steps=2**31), dict(octaves=33), dict(octave_scale=1e308), dict(jitter=2**40), dict(seed=2**64), dict(steps=0)],
    ids=["steps", "octaves", "scale", "jitter", "seed", "zero-steps"],
)
def test_library_config_has_the_same_limits(kwargs):
    with pytest.raises(DreamjaxError):
        DreamConfig(**kwargs)


def test_config_file_values_get_the_same_checks(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text("steps = 3000000000\n")
    code = main(["dream", "--config", str(config), "-o", str(tmp_path / "o.png")])
    err = capsys.readouterr().err
    assert code == 2 and "steps" in err and "100,000" in err and "Traceback" not in err
