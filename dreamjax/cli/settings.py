"""Where ``dreamjax dream``'s settings come from: options, a TOML config file, a preset, defaults.

Precedence, highest first: options given on the command line, the ``--config`` file, the
``--preset`` (from either), the built-in defaults. The objective counts as one setting: if the
command line names any of ``--layer``, ``--objective``, ``--class`` or ``--guide``, the config
file's objective is not used; if neither names one, the preset's objective is used.

A config file holds the same options under their long names (``step-size`` or ``step_size``),
with TOML types; the objective may be the compact text or a list of tables::

    image = "photo.jpg"
    steps = 12
    step_size = 0.012
    laplacian = 4

    [[objective]]
    layer = "blocks.5"

    [[objective]]
    layer = "blocks.3"
    channels = [12, 40]      # a neuron: one channel and position = "centre" or [x, y]
    weight = 0.5

    [[objective]]
    class = "tabby cat"
    weight = 2

    [[objective]]
    guide = "flowers.jpg"
    layer = "blocks.9"       # optional: the model's default layer

Paths in a config file are taken relative to the current directory, as on the command line.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..ascent.objective_syntax import MAX_WEIGHT, ClassTerm, GuideTerm, LayerTerm, Term, parse_objective, usable_weight
from ..errors import DreamjaxError, nearest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

OBJECTIVE_DESTS = ("layer", "objective", "classes", "guide")
_NOT_IN_CONFIG = ("config", "help", "debug")


@dataclass(frozen=True)
class OptionTable:
    """The dream parser's options: each dest's action and built-in default, and config-file names."""

    actions: dict[str, argparse.Action]
    defaults: dict[str, Any]
    names: dict[str, str]  # config key (with '_' for '-') -> dest


def defer_defaults(parser: argparse.ArgumentParser) -> None:
    """Make every option default to None, so the values a user gave can be told apart.

    The built-in defaults are kept in an OptionTable that the parser leaves on the namespace
    as ``_options``; :func:`resolve` fills them in last.
    """
    actions, defaults, names = {}, {}, {}
    for action in parser._actions:  # argparse has no public list of a parser's actions
        if action.dest in _NOT_IN_CONFIG or action.dest == argparse.SUPPRESS:
            continue
        actions[action.dest] = action
        defaults[action.dest] = action.default
        names[action.dest] = action.dest
        for option in action.option_strings:
            if option.startswith("--"):
                names[option[2:].replace("-", "_")] = action.dest
        if action.default is not None and action.default is not False and "default" not in (action.help or ""):
            action.help = f"{action.help} (default {action.default})" if action.help else f"(default {action.default})"
        action.default = None
    parser.set_defaults(_options=OptionTable(actions, defaults, names))


def resolve(args: argparse.Namespace, preset_settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every setting by dest: command line, then config file, then preset, then default."""
    table: OptionTable = args._options
    given = {dest: getattr(args, dest) for dest in table.actions if getattr(args, dest, None) is not None}
    config = read_config(args.config, table) if getattr(args, "config", None) else {}
    if any(dest in given for dest in OBJECTIVE_DESTS):
        config = {k: v for k, v in config.items() if k not in OBJECTIVE_DESTS}
    values = config | given
    for dest, default in table.defaults.items():
        if values.get(dest) is None:
            values[dest] = (preset_settings or {}).get(dest, default)
    return values


def objective_terms(values: dict[str, Any]) -> tuple[Term, ...]:
    """The terms named by --layer, --objective, --class and --guide, in that order."""
    terms: list[Term] = [LayerTerm(name, weight=weight) for name, weight in values.get("layer") or ()]
    for group in values.get("objective") or ():
        terms.extend(group)
    terms.extend(ClassTerm(name) for name in values.get("classes") or ())
    terms.extend(GuideTerm(path) for path in values.get("guide") or ())
    return tuple(terms)


def read_config(path: str | Path, table: OptionTable) -> dict[str, Any]:
    """A TOML config file as ``{dest: value}``, converted and checked like the options.

    Every problem in the file is reported at once.
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise DreamjaxError(f"config file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise DreamjaxError(f"config file {str(path)!r} is a folder") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DreamjaxError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
    values, problems = {}, []
    for key, value in data.items():
        dest = table.names.get(key.replace("-", "_"))
        if dest is None:
            near = nearest(key, [k for k in table.names if k != "classes"])
            problems.append(f"unknown setting {key!r}" + (f" (did you mean {', '.join(map(repr, near))}?)" if near else ""))
            continue
        try:
            values[dest] = _convert(table.actions[dest], dest, value)
        except (ValueError, argparse.ArgumentTypeError, DreamjaxError) as exc:
            problems.append(f"{key}: {exc}")
    if problems:
        raise DreamjaxError(
            f"{len(problems)} problem{'s' if len(problems) > 1 else ''} in {str(path)!r}: " + "; ".join(problems),
            "settings are the long option names of `dreamjax dream` (see --help)",
        )
    return values


def _convert(action: argparse.Action, dest: str, value: Any) -> Any:
    if dest == "objective":
        return _config_objective(value)
    if action.nargs == 0:  # a flag
        if not isinstance(value, bool):
            raise ValueError(f"must be true or false, got {value!r}")
        return action.const if value else None
    if isinstance(action, argparse._AppendAction):
        items = value if isinstance(value, list) else [value]
        return [_convert_one(action, item) for item in items]
    return _convert_one(action, value)


def _convert_one(action: argparse.Action, value: Any) -> Any:
    if isinstance(value, bool) or isinstance(value, dict | list):
        raise ValueError(f"expected a {'number' if action.type not in (None, str) else 'text'}, got {value!r}")
    converted = action.type(str(value)) if action.type else str(value)
    if action.choices is not None and converted not in action.choices:
        raise ValueError(f"must be one of {', '.join(map(str, action.choices))}, got {value!r}")
    return converted


def _config_objective(value: Any) -> list[tuple[Term, ...]]:
    """``objective`` in a config file: compact text, a list of texts, or a list of tables."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ValueError("is empty")
    if all(isinstance(item, str) for item in items):
        return [parse_objective(item) for item in items]
    if all(isinstance(item, dict) for item in items):
        problems, terms = [], []
        for i, item in enumerate(items, 1):
            try:
                terms.append(objective_table(item))
            except ValueError as exc:
                problems.append(f"term {i}: {exc}")
        if problems:
            raise ValueError("; ".join(problems))
        return [tuple(terms)]
    raise ValueError("must be the compact text or a list of [[objective]] tables")


_TABLE_KEYS = ("layer", "channels", "position", "class", "guide", "weight")


def objective_table(table: dict[str, Any]) -> Term:
    """One ``[[objective]]`` table as a term."""
    unknown = [k for k in table if k not in _TABLE_KEYS]
    if unknown:
        hints = [f"{k!r}" + (f" (did you mean {nearest(k, _TABLE_KEYS, 1)[0]!r}?)" if nearest(k, _TABLE_KEYS, 1) else "") for k in unknown]
        raise ValueError(f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(hints)}; known: {', '.join(_TABLE_KEYS)}")
    weight = table.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not usable_weight(weight):
        raise ValueError(f"weight must be a finite number at most {MAX_WEIGHT:.2g} in size, got {weight!r}")
    weight = float(weight)
    if "class" in table:
        extra = [k for k in table if k not in ("class", "weight")]
        if extra:
            raise ValueError(f"a class term takes only class and weight, not {', '.join(extra)}")
        name = table["class"]
        if isinstance(name, bool) or not isinstance(name, str | int) or (isinstance(name, int) and name < 0):
            raise ValueError(f"class must be a name or a number, got {name!r}")
        return ClassTerm(str(name), weight)
    if "guide" in table:
        extra = [k for k in table if k not in ("guide", "layer", "weight")]
        if extra:
            raise ValueError(f"a guide term takes only guide, layer and weight, not {', '.join(extra)}")
        layer = table.get("layer")
        if not isinstance(table["guide"], str) or (layer is not None and not isinstance(layer, str)):
            raise ValueError("guide and layer must be text")
        return GuideTerm(table["guide"], layer, weight)
    if not isinstance(table.get("layer"), str) or not table["layer"]:
        raise ValueError("each term needs a layer (text), a class or a guide")
    channels = table.get("channels", ())
    channels = [channels] if isinstance(channels, int) and not isinstance(channels, bool) else channels
    if not isinstance(channels, list | tuple) or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in channels):
        raise ValueError(f"channels must be a channel number or a list of them, got {table.get('channels')!r}")
    if len(set(channels)) != len(channels):
        raise ValueError("a channel is listed twice")
    position = table.get("position")
    if position is not None:
        if len(channels) != 1:
            raise ValueError("a neuron (position) takes exactly one channel")
        if isinstance(position, str) and position.lower() in ("centre", "center"):
            position = (0.5, 0.5)
        elif (
            isinstance(position, list) and len(position) == 2
            and all(isinstance(p, int | float) and not isinstance(p, bool) and 0 <= p <= 1 for p in position)
        ):
            position = (float(position[0]), float(position[1]))
        else:
            raise ValueError(f'position must be "centre" or [x, y] with fractions from 0 to 1, got {position!r}')
    return LayerTerm(table["layer"], tuple(channels), position, weight)
