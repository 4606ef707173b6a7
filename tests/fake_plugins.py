"""Installs throw-away distributions with ``dreamjax.backends`` entry points for tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

from dreamjax import backends as backends_module

BACKEND_MODULE = '''
import sys
sys.path.insert(0, {tests!r})
from tiny_model import tiny_model


class TinyBackend:
    name = "tiny"

    def __init__(self):
        self.model = tiny_model()

    def available(self):
        return ["tiny"]

    def accepts(self, ref):
        return ref.endswith(".tiny")

    def load(self, ref, **options):
        return self.model


backend = TinyBackend()
'''


def write_distribution(root: Path, entries: dict[str, str]) -> Path:
    """Make a distribution under ``root`` whose entry points are ``entries`` (name -> target).

    Put ``root`` on sys.path (or PYTHONPATH, for a subprocess) to make it visible.
    """
    (root / "dreamjax_fake_backend.py").write_text(BACKEND_MODULE.format(tests=str(Path(__file__).parent)))
    dist = root / "dreamjax_fake-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: dreamjax-fake\nVersion: 0.1\n")
    lines = "\n".join(f"{name} = {target}" for name, target in entries.items())
    (dist / "entry_points.txt").write_text(textwrap.dedent(f"[dreamjax.backends]\n{lines}\n"))
    return root


def install(monkeypatch, root: Path, entries: dict[str, str]) -> None:
    """Make the distribution and put it on this process's sys.path."""
    write_distribution(root, entries)
    monkeypatch.syspath_prepend(str(root))
    backends_module.discover.cache_clear()
