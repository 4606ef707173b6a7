"""Atomic writes under concurrency and after crashes: no torn files, no leftovers."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from dreamjax.files.atomic import atomic_path, clean_stale_parts
from dreamjax.files.image import check_output_path, load_image, save_image

WRITER = textwrap.dedent(
    """
    import sys, numpy as np
    from dreamjax.files.image import save_image
    folder, seed, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    picture = np.random.default_rng(seed).uniform(size=(96, 128, 3)).astype(np.float32)
    for i in range(rounds):
        save_image(f"{folder}/shared.png", picture)      # both processes, same name
        save_image(f"{folder}/own_{seed}_{i % 3}.png", picture)  # same folder, own names
    """
)


def _expected(seed: int) -> np.ndarray:
    picture = np.random.default_rng(seed).uniform(size=(96, 128, 3)).astype(np.float32)
    return np.round(picture * 255) / 255


def test_two_processes_writing_one_folder_never_tear_a_file(tmp_path):
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(seed), "15"], stderr=subprocess.PIPE)
        for seed in (1, 2)
    ]
    expected = [_expected(1), _expected(2)]
    reads = 0
    while any(w.poll() is None for w in writers):
        if (tmp_path / "shared.png").exists():
            seen = load_image(tmp_path / "shared.png")  # raises on a torn or partial file
            assert any(np.allclose(seen, e, atol=1e-6) for e in expected)
            reads += 1
        time.sleep(0.005)
    for w in writers:
        _, err = w.communicate()
        assert w.returncode == 0, err.decode()
    assert reads > 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["own_1_0.png", "own_1_1.png", "own_1_2.png", "own_2_0.png", "own_2_1.png", "own_2_2.png", "shared.png"]
    for seed in (1, 2):
        np.testing.assert_allclose(load_image(tmp_path / f"own_{seed}_0.png"), _expected(seed), atol=1e-6)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid  # reaped, so no process has this id (until reused, which only keeps a file)


def test_stale_parts_of_dead_processes_are_cleaned_and_live_ones_kept(tmp_path):
    from dreamjax.files.atomic import _host

    host = _host()
    dead = tmp_path / f".out.png.{host}-{_dead_pid()}.abc123.part.png"
    live = tmp_path / f".out.png.{host}-{os.getppid()}.def456.part.png"
    other_host = tmp_path / f".out.png.otherhost-{_dead_pid()}.ghi789.part.png"
    user_file = tmp_path / ".notes.part.png"  # not our pattern: never touched
    for p in (dead, live, other_host, user_file):
        p.write_bytes(b"partial")
    assert clean_stale_parts(tmp_path) == [dead]
    assert not dead.exists() and live.exists() and other_host.exists() and user_file.exists()


def test_check_output_path_cleans_the_output_folder(tmp_path):
    from dreamjax.files.atomic import _host

    stale = tmp_path / f".x.png.{_host()}-{_dead_pid()}.zz9.part.png"
    stale.write_bytes(b"half a png")
    check_output_path(tmp_path / "x.png")
    assert not stale.exists()


def test_temp_name_is_recognised_by_the_cleaner(tmp_path):
    # The name atomic_path really makes must match the cleaner's pattern, or SIGKILL leftovers stay.
    from dreamjax.files.atomic import _PART

    with atomic_path(tmp_path / "out.png") as tmp:
        assert _PART.match(tmp.name), tmp.name
        tmp.write_bytes(b"x")


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_outputs_get_normal_permissions_not_mkstemp_0600(tmp_path):
    save_image(tmp_path / "p.png", np.zeros((2, 2, 3)))
    mode = (tmp_path / "p.png").stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask
