"""`dreamjax cache info|clear|warm`, `--timings`, refused cache folders, and what the CLI imports."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import OrderedDict

import pytest

from dreamjax.ascent import engine
from dreamjax.cli import BUILTIN_COMMANDS, build_parser, main
from dreamjax.runtime import cache, programs

DREAM = ["--model", "tiny", "--layer", "conv1", "--octaves", "2", "--steps", "2"]


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """The program cache on, in a fresh folder (the environment names it too, for `dreamjax cache`).

    JAX's own cache stays off: it is configured once per process, and would outlive the test.
    """
    root = tmp_path / "cache"
    monkeypatch.setenv(cache.ENV_DIR, str(root))
    monkeypatch.setitem(cache._state, "root", root)
    monkeypatch.setitem(cache._state, "configured", True)
    monkeypatch.setitem(cache._state, "warned", set())
    monkeypatch.setattr(programs, "_CACHES", {})
    monkeypatch.setattr(engine, "_DREAMERS", OrderedDict())  # no programs left in memory by other tests
    return root


def _programs_line(err: str) -> tuple[int, int]:
    found = re.search(r"\((\d+) programs, (\d+) from cache\)", err)
    assert found, err
    return int(found.group(1)), int(found.group(2))


def test_warm_then_dream_loads_every_program(tiny_backend, cache_dir, photo, tmp_path, capsys, monkeypatch):
    assert main(["cache", "warm", "tiny", "--sizes", "44x40", "--layer", "conv1", "--octaves", "2", "--steps", "2"]) == 0
    err = capsys.readouterr().err
    assert "44x40: 2 programs, 0 already cached" in err
    monkeypatch.setattr(engine, "_DREAMERS", OrderedDict())  # as in a new process
    assert main(["dream", str(photo), "-o", str(tmp_path / "out.png"), *DREAM]) == 0
    assert _programs_line(capsys.readouterr().err) == (2, 2)
    programs.default_cache().flush_counts()

    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert str(cache_dir) in out and "2 entries" in out and "2 of 4 lookups" in out and "2,048.0 MiB" in out
    assert main(["cache", "clear"]) == 0
    assert "removed 2 programs" in capsys.readouterr().err
    assert programs.ProgramCache(cache_dir / "programs").entries() == []


def test_timings_table_and_json(tiny_backend, cache_dir, photo, tmp_path, capsys, monkeypatch):
    assert main(["dream", str(photo), "-o", str(tmp_path / "a.png"), *DREAM, "--timings"]) == 0
    err = capsys.readouterr().err
    for phase in ("where the time went", "imports", "image read", "waiting for programs (0 loaded, 2 compiled)", "ascent",
                  "PNG write", "total (whole process)"):
        assert phase in err
    monkeypatch.setenv("DREAMJAX_TIMINGS", "json")
    monkeypatch.setattr(engine, "_DREAMERS", OrderedDict())
    assert main(["dream", str(photo), "-o", str(tmp_path / "b.png"), *DREAM]) == 0
    report = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert report["phases"]["waiting for programs (2 loaded, 0 compiled)"] >= 0 and report["total"] > 0


def test_a_folder_others_can_write_is_refused_in_one_line(tiny_backend, cache_dir, photo, tmp_path, capsys, monkeypatch):
    cache_dir.mkdir(mode=0o700)
    cache_dir.chmod(0o757)
    monkeypatch.setitem(cache._state, "configured", False)  # the run checks the folder itself
    monkeypatch.setitem(cache._state, "root", None)
    assert main(["dream", str(photo), "-o", str(tmp_path / "out.png"), *DREAM]) == 0
    err = capsys.readouterr().err
    warning = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warning == [f"warning: cache folder {cache_dir} can be written by other users, so its programs could be "
                       f"replaced; it is not used (chmod go-w {cache_dir})"]
    assert _programs_line(err) == (2, 0) and not (cache_dir / "programs").exists()
    assert main(["cache", "info"]) == 0
    assert "refused" in capsys.readouterr().out


def test_cache_needs_a_folder(monkeypatch, capsys):
    monkeypatch.setenv(cache.ENV_DIR, "")
    assert main(["cache", "info"]) == 2
    assert "caching is turned off" in capsys.readouterr().err


def test_listing_without_imports_matches_the_full_parser():
    assert build_parser("").format_help() == build_parser().format_help()
    choices = list(build_parser()._subparsers._group_actions[0].choices)
    assert choices[: len(BUILTIN_COMMANDS)] == list(BUILTIN_COMMANDS)


@pytest.mark.parametrize("argv", [["--help"], ["cache", "info"], ["cache", "clear"], []])
def test_light_commands_do_not_import_jax(argv, tmp_path):
    code = ("import sys\nfrom dreamjax.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print('imported jax' if 'jax' in sys.modules else 'no jax', file=sys.stderr)")
    env = {**os.environ, cache.ENV_DIR: str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env, timeout=120)
    assert proc.stderr.strip().splitlines()[-1] == "no jax", proc.stderr


def test_a_zoo_model_does_not_import_other_plugins():
    code = ("import sys\nfrom dreamjax.backends import find_backend\nfind_backend('efficientnet_lite0')\n"
            "print(sorted(m for m in sys.modules if m.startswith('dreamjax_onnx') or m in ('jax', 'onnx')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert proc.stdout.strip() == "[]"
