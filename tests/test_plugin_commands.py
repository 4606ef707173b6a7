"""Plugins bring their own subcommands through ``dreamjax.commands``; broken ones hurt no other."""

import re

import pytest
from fake_plugins import forget_discoveries, install, write_distribution

from dreamjax.cli import BUILTIN_COMMANDS, main
from dreamjax.cli.plugin_commands import discover_commands

TARGET = "dreamjax_fake_commands:"
BROKEN = {
    "missing": "dreamjax_no_such_module",
    "norun": TARGET + "no_run",
    "dream": TARGET + "clash",
    "misnamed": TARGET + "misnamed",
    "regfails": TARGET + "register_fails",
}


@pytest.fixture(autouse=True)
def fresh_discovery():
    forget_discoveries()
    yield
    forget_discoveries()


@pytest.fixture
def broken_plugins(monkeypatch, tmp_path):
    install(monkeypatch, tmp_path, {"tiny": "dreamjax_fake_backend:backend"}, {"hello": TARGET + "hello", **BROKEN})


def test_plugin_command_runs_and_is_listed_in_help(monkeypatch, tmp_path, capsys):
    install(monkeypatch, tmp_path, {}, {"hello": TARGET + "hello"})
    assert main(["hello", "--times", "2"]) == 0
    assert capsys.readouterr().out.strip() == "hello hello"
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "say hello" in out and "commands from plugins:" in out
    assert re.search(r"^  hello +dreamjax-fake$", out, re.M)


def test_each_broken_command_is_recorded_with_its_reason(broken_plugins):
    commands, broken = discover_commands(BUILTIN_COMMANDS)
    assert "hello" in [c.name for c in commands]
    reasons = {b.name: b.error for b in broken}
    assert set(reasons) == set(BROKEN)
    assert "ModuleNotFoundError" in reasons["missing"] and "dreamjax_no_such_module" in reasons["missing"]
    assert "has no run()" in reasons["norun"]
    assert "'dream' is a built-in dreamjax command" in reasons["dream"]
    assert "added 'other', not 'misnamed'" in reasons["misnamed"]
    assert "RuntimeError: register() of this plugin is broken" in reasons["regfails"]
    assert all(b.kind == "command" and b.distribution == "dreamjax-fake" for b in broken)


def test_other_commands_keep_working_beside_broken_ones(broken_plugins, capsys):
    assert main(["hello"]) == 0
    assert main(["layers", "tiny"]) == 0  # a built-in command, on the same fake distribution's backend
    assert "conv1" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    plugins, broken = out.split("commands from plugins:")[1].split("broken plugin commands (see `dreamjax models`):")
    assert re.search(r"^  hello +dreamjax-fake$", plugins, re.M)
    assert re.search(r"^  missing +dreamjax-fake$", broken, re.M)
    assert "a second dream" not in out  # the built-in dream keeps its name


def test_running_a_broken_command_says_why_in_one_line(broken_plugins, capsys):
    assert main(["missing", "--any", "thing"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the command 'missing' of the plugin dreamjax-fake failed to load: ModuleNotFoundError")
    assert "dreamjax models" in err and "Traceback" not in err


def test_models_lists_broken_commands_beside_broken_backends(broken_plugins, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # a wide table: no name is wrapped
    assert main(["models"]) == 1
    out = capsys.readouterr().out
    assert "tiny" in out and "plugins that failed to load" in out
    assert re.search(r"command .* regfails .* dreamjax-fake .* dreamjax_fake_commands:register_fails .* RuntimeError", out)
    assert "dreamjax_no_such_module" in out


def test_two_plugins_with_one_command_name(monkeypatch, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    install(monkeypatch, first, {}, {"hello": TARGET + "hello"})
    write_distribution(second, {}, {"hello": TARGET + "hello"}, name="dreamjax-other")
    monkeypatch.syspath_prepend(str(second))
    forget_discoveries()
    commands, broken = discover_commands(BUILTIN_COMMANDS)
    assert [c.name for c in commands].count("hello") == 1
    assert len(broken) == 1 and "already taken by" in broken[0].error
