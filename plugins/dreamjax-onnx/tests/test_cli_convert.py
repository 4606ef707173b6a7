"""``dreamjax convert``: the coverage table, all unsupported operators at once, the trial run."""

from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from dreamjax.cli import main
from onnx_helpers import make_model

FIXTURE = next(iter(sorted((Path(__file__).parent / "fixtures" / "networks").glob("squeezenet*op13.onnx"))))


def _unsupported_model(tmp_path):
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="ok"),
        helper.make_node("NoSuchOp", ["a"], ["b"], name="bad_one", domain="com.example"),
        helper.make_node("AlsoMissing", ["b"], ["y"], name="bad_two", domain="com.example"),
    ]
    model = make_model(nodes[:1], {"x": np.zeros((1, 3, 8, 8), np.float32)}, ["a"], opset=13)
    model.graph.node.extend(nodes[1:])
    model.graph.output[0].name = "y"
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    path = tmp_path / "custom.onnx"
    onnx.save(model, path)
    return path


def test_check_lists_every_operator(capsys):
    assert main(["convert", str(FIXTURE), "--check"]) == 0
    captured = capsys.readouterr()
    assert "Conv" in captured.out and "MaxPool" in captured.out and "supported" in captured.err


def test_check_fails_listing_all_unsupported_operators(tmp_path, capsys):
    assert main(["convert", str(_unsupported_model(tmp_path)), "--check"]) == 1
    err = capsys.readouterr().err
    assert "2 unsupported" in err and "NoSuchOp" in err and "AlsoMissing" in err


def test_trial_run_agrees_with_onnxruntime(capsys):
    assert main(["convert", str(FIXTURE)]) == 0
    captured = capsys.readouterr()
    assert "max |jax - onnxruntime|" in captured.out and "converted in" in captured.err


def test_malformed_file_is_one_clear_line(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage")
    assert main(["convert", str(bad), "--check"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err


def test_convert_comes_from_this_plugin_through_the_commands_group(capsys):
    from importlib.metadata import entry_points

    published = {ep.name: ep.value for ep in entry_points(group="dreamjax.commands")}
    assert published.get("convert") == "dreamjax_onnx.cli", "reinstall the plugin (pip install -e) to register it"
    try:
        main(["--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    assert "check or convert an ONNX model" in out and "dreamjax-onnx" in out.split("commands from plugins:")[1]
