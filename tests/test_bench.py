"""`dreamjax bench` and the compile-count property of the engine."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from dreamjax.cli import main



def test_bench_json_reports_every_case(tiny_backend, capsys):
    argv = ["bench", "-m", "tiny", "--layer", "conv1", "--sizes", "40", "32", "--batch-sizes", "2", "1",
            "--steps", "2", "--octaves", "2", "--json", "--no-cache"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert "cpu" in report["device"]
    cases = [(r["size"], r["batch"]) for r in report["results"]]
    assert cases == [(32, 1), (32, 2), (40, 1), (40, 2)]  # smallest first
    for r in report["results"]:
        assert r["ascent_steps"] == 2 * r["octaves"]
    # One program per octave canvas, no more; 40's first octave (29x29) lands on 32's canvas.
    assert [r["programs_compiled"] for r in report["results"]] == [2, 2, 1, 1]
    for r in report["results"]:
        assert r["images_per_second"] > 0 and r["compile_seconds"] > 0 and r["peak_rss_mib"] > 10
        assert r["ms_per_step"] == pytest.approx(1000 * r["run_seconds"] / r["ascent_steps"])


def test_bench_table(tiny_backend, capsys):
    assert main(["bench", "-m", "tiny", "--sizes", "32", "--batch-sizes", "1", "--steps", "1", "--octaves", "1", "--no-cache"]) == 0
    out = capsys.readouterr().out
    assert "ms/step" in out and "compile s" in out and "peak MiB" in out


def test_bench_rejects_too_small_sizes(tiny_backend, capsys):
    assert main(["bench", "-m", "tiny", "--sizes", "4", "--no-cache"]) == 2
    assert "minimum" in capsys.readouterr().err


# `dreamjax ...` that also says, as it exits, whether Flax was imported.
_MAIN = """import sys
from dreamjax.cli import main
try:
    code = main(sys.argv[1:])
finally:
    print("flax imported:", "flax" in sys.modules, file=sys.stderr)
sys.exit(code)
"""


def _dream(tmp_path, cache, name):
    """(programs, programs from the disk cache, whether Flax was imported) of one CLI dream."""
    env = dict(os.environ, DREAMJAX_CACHE_DIR=str(cache), JAX_PLATFORMS="cpu")
    argv = [sys.executable, "-c", _MAIN, "dream", "-o", str(tmp_path / name), "--layer", "blocks.1",
            "--octaves", "4", "--steps", "1"]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = re.search(r"\((\d+) programs, (\d+) from cache\)", proc.stderr)
    assert found, proc.stderr
    return int(found.group(1)), int(found.group(2)), "flax imported: True" in proc.stderr


def test_second_cli_run_loads_every_program_from_the_disk_cache(tmp_path):
    """Real model, bundled photo, 4 octaves: <= 4 programs, then all 4 from disk next time."""
    cache = tmp_path / "xla-cache"
    compiled, from_disk, flax_first = _dream(tmp_path, cache, "first.png")
    assert 1 <= compiled <= 4 and from_disk == 0
    assert flax_first  # the network was traced
    assert any(cache.iterdir())
    again, again_from_disk, flax_again = _dream(tmp_path, cache, "second.png")
    assert again == compiled and again_from_disk == compiled
    assert not flax_again  # nothing traced, so Flax was never imported
