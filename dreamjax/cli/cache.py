"""``dreamjax cache info|clear|warm``: the compiled-program cache on disk."""

from __future__ import annotations

import argparse

from rich.console import Console

from ..errors import DreamjaxError
from ..runtime import cache as caches
from ..zoo import DEFAULT_MODEL
from .options import layer_weight, positive_int, size_text


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("cache", help="the compiled-program cache: info, clear, warm",
                       description="Compiled programs are kept in DREAMJAX_CACHE_DIR (default ~/.cache/dreamjax), "
                                   "at most DREAMJAX_CACHE_MAX_SIZE (default 2G) each for dreamjax's own cache and "
                                   "JAX's, least recently used first out.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("info", help="where the cache is, what it holds, how often it was hit")
    actions.add_parser("clear", help="remove every compiled program")
    warm = actions.add_parser("warm", help="compile ahead of time, so first pictures of these sizes start warm")
    warm.add_argument("model", nargs="?", default=DEFAULT_MODEL, help=f"zoo name or .onnx path (default {DEFAULT_MODEL})")
    warm.add_argument("--sizes", nargs="+", type=size_text, metavar="WxH",
                      help="picture sizes (default: 451x300, the bundled photo; 512x512; 640x480, 800x600, "
                           "1024x768 and 1280x720)")
    warm.add_argument("-l", "--layer", action="append", type=layer_weight, metavar="NAME[:WEIGHT]",
                      help="layer(s) the dreams will use (default: the model's default)")
    warm.add_argument("--octaves", type=positive_int, default=4)
    warm.add_argument("--octave-scale", type=float, default=1.4)
    warm.add_argument("--steps", type=positive_int, default=10, help="ascent steps per octave (as the dreams will use)")
    return p


def run(args: argparse.Namespace, console: Console) -> int:
    return {"info": _info, "clear": _clear, "warm": _warm}[args.action](args, console)


def _root() -> caches.Path:
    root = caches.default_cache_root()
    if root is None:
        raise DreamjaxError(f"caching is turned off ({caches.ENV_DIR} is empty)", f"set {caches.ENV_DIR} to a folder")
    return root


def _size(n: int) -> str:
    return f"{n / (1 << 20):,.1f} MiB"


def _info(args: argparse.Namespace, console: Console) -> int:
    from ..runtime.programs import BadEntry, ProgramCache, folder_entries, read_header

    root = _root()
    rows = [("folder", str(root))]
    if root.is_dir():
        try:
            caches.check_private_folder(root)
        except caches.UnsafeCacheError as exc:
            rows.append(("[red]refused[/]", exc.message))
    store = ProgramCache(root / "programs")
    programs, fallback = store.entries(), folder_entries(root / "xla", "-cache")
    bound = _size(store.max_bytes)
    rows.append(("programs", f"{len(programs)} entries, {_size(sum(e.bytes for e in programs))} of {bound}"))
    rows.append(("JAX's cache (fallback)", f"{len(fallback)} entries, {_size(sum(e.bytes for e in fallback))} of {bound}"))
    counts = store.saved_counts()
    looked = counts["hits"] + counts["misses"]
    rows.append(("hits", f"{counts['hits']} of {looked} lookups" + (f" ({counts['hits'] / looked:.0%})" if looked else "")
                 + f", {counts['stores']} stored, {counts['rejected']} unusable entries rebuilt"))
    for entry in sorted(programs, key=lambda e: -e.last_used)[:5]:
        try:
            what = read_header(entry.path).get("summary") or entry.path.name
        except (OSError, BadEntry):
            what = f"{entry.path.name} (unreadable: rebuilt when next needed)"
        rows.append(("recently used", f"{what}, {_size(entry.bytes)}"))
    out = Console()
    for name, value in rows:
        out.print(f"[bold]{name}[/]: {value}", highlight=False, soft_wrap=True)
    return 0


def _clear(args: argparse.Namespace, console: Console) -> int:
    from ..runtime.programs import ProgramCache, folder_entries

    root = _root()
    removed = ProgramCache(root / "programs").clear()
    fallback = folder_entries(root / "xla", "-cache")
    for entry in fallback:
        entry.path.unlink(missing_ok=True)
    console.print(f"removed {removed} programs and {len(fallback)} entries of JAX's cache from {root}", highlight=False)
    return 0


def _warm(args: argparse.Namespace, console: Console) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..apps import warm
    from ..ascent.engine import DreamConfig
    from ..ascent.objective_syntax import LayerTerm
    from ..ascent.objectives import build_objective, default_layer
    from ..backends import load_model

    _root()
    if caches.ensure_compilation_cache() is None:
        raise DreamjaxError("the cache folder cannot be used, so there is nothing to warm", "see `dreamjax cache info`")
    with console.status(f"loading {args.model}"):
        model = load_model(args.model)
    # Built as `dreamjax dream` builds it: the same objective structure is the same program.
    terms = [LayerTerm(name, weight=weight) for name, weight in args.layer or ()] or [LayerTerm(default_layer(model))]
    objective = build_objective(model, terms)
    config = DreamConfig(octaves=args.octaves, octave_scale=args.octave_scale, steps=args.steps)
    sizes = args.sizes or list(warm.DEFAULT_SIZES)
    plans = {size: warm.program_count(model, size, objective, config) for size in sizes}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("programs"),
                  TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task(f"compiling {sizes[0][1]}x{sizes[0][0]}", total=sum(plans.values()))

        def on_size(done: warm.Warmed) -> None:
            following = sizes[sizes.index(done.size) + 1] if done.size != sizes[-1] else None
            bar.update(task, advance=done.programs,
                       description=f"compiling {following[1]}x{following[0]}" if following else "done")

        done = warm.warm(model, sizes, objective, config, on_size)
    for item in done:
        console.print(f"{item.size[1]}x{item.size[0]}: {item.programs} programs, {item.loaded} already cached, "
                      f"{item.seconds:.1f} s", highlight=False)
    return 0
