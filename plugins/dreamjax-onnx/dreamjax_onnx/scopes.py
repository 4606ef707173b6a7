"""Module scopes of an ONNX graph, so that a layer can be named ``inception4c`` or ``layer3.1``.

Exporters record which module computed each node. The scope of a node is read from, first
found wins:

- the dynamo exporter's node metadata ``pkg.torch.onnx.name_scopes``, the cumulative module
  paths and then the node's own name: ``['', 'layer3', 'layer3.1', 'conv2d_7']``;
- a node name with ``/`` in it: TorchScript's ``/layer3/layer3.1/conv1/Conv`` (rebuilt into
  torch's module paths ``layer3``, ``layer3.1``, ``layer3.1.conv1``) or tf2onnx's
  ``model/block_4c/conv/Conv2D`` (scopes ``model``, ``model/block_4c``, ...);
- a value name with ``/`` in it, as in the Caffe-era model-zoo graphs: ``inception_4c/output``.

The dynamo exporter's output with that metadata stripped names nothing after modules
(``relu_3``, ``cat``): such a graph has no scopes and is listed by value names.

A scope's output is the last value computed inside it that is used outside it, by a node of
another scope or as a graph output: for torchvision's ``inception4c`` the Concat of its four
branches, for ``layer3.1`` the ReLU after its residual Add. Scopes inside a wrapper that holds
every other scope (tf2onnx's ``model/``) are also named without it (``block_4c``).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import onnx

from .graph import node_reads

NAME_SCOPES_KEY = "pkg.torch.onnx.name_scopes"
MAX_METADATA_CHARS = 100_000  # a longer name_scopes entry is not an exporter's
# The short listing opens scopes one level further while it has fewer rows than this.
MIN_ROWS = 8


@dataclass
class _Scope:
    key: str  # the scope's full path as the graph writes it (torch: the module path)
    local: str  # its name inside its parent: "1" in "layer3.1", "block_4c" in "model/block_4c"
    children: list[str] = field(default_factory=list)
    output: str | None = None


@dataclass(frozen=True)
class GraphScopes:
    """``names``: every scope name and spelling -> the value that is its output.

    ``listed``: the short listing (top-level scopes, containers of numbered blocks such as
    ``layer3`` or ``features`` opened), in forward order, one name per distinct output.
    """

    names: dict[str, str]
    listed: tuple[str, ...]


def find_scopes(
    nodes: Sequence[onnx.NodeProto],
    graph_outputs: Sequence[str],
    keep: Callable[[str], bool],
    listable: Callable[[str], bool] = lambda value: True,
) -> GraphScopes:
    """The scopes of ``nodes`` (a graph's nodes in execution order).

    Only values for which ``keep`` holds (activations, not shape arithmetic) can be outputs;
    only scopes whose output is ``listable`` are listed.
    """
    scopes: dict[str, _Scope] = {}
    top: list[str] = []
    path_of: dict[str, tuple[str, ...]] = {}  # value -> the scopes of the node that made it
    order: dict[str, int] = {}
    for node in nodes:
        for value in node.output:
            if not value:
                continue
            order[value] = len(order)
            path = _node_path(node, value)
            parent = None
            for key, local in path:
                if key not in scopes:
                    scopes[key] = _Scope(key, local)
                    (scopes[parent].children if parent else top).append(key)
                parent = key
            path_of[value] = tuple(key for key, _ in path)
    _set_outputs(nodes, graph_outputs, keep, scopes, path_of, order)
    names, display = _names(scopes, top)
    listed = _listing(scopes, _unwrap(scopes, top), order, listable)
    return GraphScopes({name: scope.output for name, scope in names.items()}, tuple(display[key] for key in listed))


def _node_path(node: onnx.NodeProto, value: str) -> list[tuple[str, str]]:
    """(scope, local name) pairs from outermost to innermost for one output of ``node``."""
    modules = _metadata_modules(node)
    if modules is not None:
        return _dotted(modules)
    text = node.name if "/" in node.name else value
    if "/" not in text:
        return []
    parts = text.split("/")[:-1]  # the last part names the op or the value, not a scope
    if text.startswith("/"):
        return _torchscript(parts[1:])
    return [("/".join(parts[: i + 1]), part) for i, part in enumerate(parts) if part]


def _metadata_modules(node: onnx.NodeProto) -> list[str] | None:
    for prop in node.metadata_props:
        if prop.key != NAME_SCOPES_KEY or len(prop.value) > MAX_METADATA_CHARS:
            continue
        try:
            entries = ast.literal_eval(prop.value)  # a Python list literal; never executed
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return None
        if isinstance(entries, list) and all(isinstance(e, str) for e in entries):
            return [e for e in entries[:-1] if e]  # drop the root "" and the node's own name
    return None


def _dotted(modules: list[str]) -> list[tuple[str, str]]:
    path, parent = [], ""
    for key in modules:
        path.append((key, key[len(parent) + 1 :] if parent and key.startswith(parent + ".") else key))
        parent = key
    return path


def _torchscript(parts: list[str]) -> list[tuple[str, str]]:
    """TorchScript's scope parts -> torch module paths.

    A module inside a container is written with the container's name in front
    (``/layer3/layer3.1/conv1``), any other by its own name; the module path is
    ``layer3.1.conv1`` either way.
    """
    path: list[tuple[str, str]] = []
    previous = ""
    for part in filter(None, parts):
        if previous and part.startswith(previous + "."):
            local = part[len(previous) + 1 :]
        else:
            local = part
        key = f"{path[-1][0]}.{local}" if path else part
        path.append((key, local))
        previous = part
    return path


def _set_outputs(nodes, graph_outputs, keep, scopes, path_of, order) -> None:
    """Each scope's output: its last kept value that a node outside it (or the graph) reads."""
    outside: dict[str, set[str]] = {}  # value -> the scopes it leaves
    for node in nodes:
        reader = set(path_of.get(next((o for o in node.output if o), ""), ()))
        for name in node_reads(node):
            if name in path_of:
                outside.setdefault(name, set()).update(set(path_of[name]) - reader)
    for name in graph_outputs:
        if name in path_of:
            outside.setdefault(name, set()).update(path_of[name])
    for value in sorted(outside, key=order.__getitem__):
        if keep(value):
            for key in outside[value]:
                scopes[key].output = value


def _unwrap(scopes: dict[str, _Scope], top: list[str]) -> list[str]:
    """The top-level scopes, below any wrapper that holds all the others (tf2onnx's ``model``)."""
    while len(top) == 1 and scopes[top[0]].children:
        top = scopes[top[0]].children
    return top


def _names(scopes: dict[str, _Scope], top: list[str]) -> tuple[dict[str, _Scope], dict[str, str]]:
    """Every scope with an output by name, and the name each is shown by.

    Scopes below a wrapper that holds all the others are shown without it (``block_4c`` for
    ``model/block_4c``) and found by either name; numbered blocks keep their container's name.
    """
    full = {key: scope for key, scope in scopes.items() if scope.output}
    inner = _unwrap(scopes, top)
    if inner is top or any(scopes[key].local.isdigit() for key in inner):
        return full, {key: key for key in full}
    wrapper = inner[0][: -len(scopes[inner[0]].local)]  # "model/" or "net."
    display = {key: key.removeprefix(wrapper) for key in full}
    return {display[key]: scope for key, scope in full.items()} | full, display


def _listing(scopes: dict[str, _Scope], top: list[str], order: dict[str, int], listable: Callable[[str], bool]) -> list[str]:
    def opened(rows: list[str], which: Callable[[_Scope], bool]) -> list[str]:
        return [child for key in rows for child in (scopes[key].children if which(scopes[key]) else [key])]

    def distinct(rows: list[str]) -> list[str]:
        first = {}
        for key in rows:
            if scopes[key].output and listable(scopes[key].output):
                first.setdefault(scopes[key].output, key)
        return sorted(first.values(), key=lambda key: order[scopes[key].output])

    # Containers of numbered blocks (torch's Sequential / ModuleList: layer3.0, layer3.1, ...).
    rows = opened(top, lambda s: bool(s.children) and all(scopes[c].local.isdigit() for c in s.children))
    while len(distinct(rows)) < MIN_ROWS:
        more = opened(rows, lambda s: bool(s.children))
        if more == rows:
            break
        rows = more
    return distinct(rows)
