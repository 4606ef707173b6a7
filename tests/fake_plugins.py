"""Installs throw-away distributions with dreamjax entry points for tests.

The distribution holds ``dreamjax_fake_backend`` (the tiny model as a backend),
``dreamjax_fake_commands`` (subcommands, working and broken ones) and its own copy of
``tiny_model.py``, so that a subprocess needs only the distribution's folder on its path.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from dreamjax import backends as backends_module
from dreamjax.cli import plugin_commands

BACKEND_MODULE = '''
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
not_a_backend = 42
'''

COMMANDS_MODULE = '''
import types


def _command(name, message):
    def register(sub):
        p = sub.add_parser(name, help="say " + message)
        p.add_argument("--times", type=int, default=1)
        return p

    def run(args, console):
        print(" ".join([message] * args.times))
        return 0

    return types.SimpleNamespace(register=register, run=run)


hello = _command("hello", "hello")
clash = _command("dream", "a second dream")  # a plugin that takes a built-in name
misnamed = _command("other", "misnamed")  # registers another name than its entry point's
no_run = types.SimpleNamespace(register=hello.register)


def _register_fails(sub):
    raise RuntimeError("register() of this plugin is broken")


register_fails = types.SimpleNamespace(register=_register_fails, run=hello.run)
'''


def write_distribution(
    root: Path, entries: dict[str, str], commands: dict[str, str] | None = None, name: str = "dreamjax-fake"
) -> Path:
    """Make a distribution under ``root`` with these entry points (name -> target).

    ``entries`` go into ``dreamjax.backends``, ``commands`` into ``dreamjax.commands``. Put
    ``root`` on sys.path (or PYTHONPATH, for a subprocess) to make it visible.
    """
    (root / "dreamjax_fake_backend.py").write_text(BACKEND_MODULE)
    (root / "dreamjax_fake_commands.py").write_text(COMMANDS_MODULE)
    shutil.copy(Path(__file__).with_name("tiny_model.py"), root / "tiny_model.py")
    dist = root / f"{name.replace('-', '_')}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    groups = {"dreamjax.backends": entries, "dreamjax.commands": commands or {}}
    text = "".join(
        f"[{group}]\n" + "".join(f"{key} = {target}\n" for key, target in items.items()) + "\n"
        for group, items in groups.items() if items
    )
    (dist / "entry_points.txt").write_text(text)
    return root


def forget_discoveries() -> None:
    backends_module.discover.cache_clear()
    plugin_commands.discover_commands.cache_clear()


def install(monkeypatch, root: Path, entries: dict[str, str], commands: dict[str, str] | None = None) -> None:
    """Make the distribution and put it on this process's sys.path."""
    write_distribution(root, entries, commands)
    monkeypatch.syspath_prepend(str(root))
    forget_discoveries()
