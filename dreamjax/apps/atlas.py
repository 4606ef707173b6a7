"""A layer atlas: one feature-visualisation picture per channel in a folder, a contact sheet and
a web page, made batch by batch so an interrupted run continues where it stopped.

The folder holds ``channel_0097.png`` ... (``_1``, ``_2`` for further copies of a channel),
``atlas.png`` (every picture, labelled with its channel), ``index.html`` (relative links,
open it in a browser) and ``atlas.json``: the settings that decide the pictures and which are
finished. After each batch its PNGs are written (atomically), then ``atlas.json``. The same
command again skips the finished pictures; other settings are refused, listing every
difference, unless ``restart`` deletes the atlas and starts over. A picture depends only on
the settings, its channel and its copy number, never on its batch, so a resumed atlas equals an
uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np

from ..ascent.engine import DreamStats
from ..errors import DreamjaxError
from ..featurevis.visualize import Job, channel_scores, visualizer_for
from ..files.atomic import atomic_path, clean_stale_parts, write_bytes_atomic
from ..files.image import load_image, save_image
from ..model import DreamModel
from .zoom import _differences as setting_differences

STATE = "atlas.json"
SHEET = "atlas.png"
PAGE = "index.html"
STATE_VERSION = 1
CELL = 128  # largest side of a picture on the contact sheet
LABEL_HEIGHT = 16


def file_name(job: Job, picture: int) -> str:
    """``channel_0097.png``; further copies of a channel ``channel_0097_1.png`` ..."""
    target, copy = divmod(picture, job.copies)
    return f"{job.targets.kind}_{job.targets.ids[target]:04d}" + (f"_{copy}" if copy else "") + ".png"


def label(job: Job, picture: int) -> str:
    target, copy = divmod(picture, job.copies)
    return job.targets.labels[target] + (f" #{copy + 1}" if job.copies > 1 else "")


@dataclass
class AtlasResult:
    pictures: int  # pictures now in the folder
    resumed: int  # pictures already finished before this call
    stats: DreamStats
    own_first: float | None  # share of pictures that excite their own channel most (None: not measured)
    paths: dict[str, Path]


def _hash(array: np.ndarray) -> str:
    return "sha256:" + hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


def settings(model: DreamModel, job: Job) -> dict:
    """A JSON-able identity of the job; a resume must match it."""
    objective = job.objective
    described = {
        "model": model.name,
        "layer": job.targets.layer,
        "kind": job.targets.kind,
        "ids": list(job.targets.ids),
        "vectors": _hash(job.targets.vectors),
        "also": objective.also.describe() if objective.also is not None else None,
        "diversity": dataclasses.asdict(objective.diversity) if objective.diversity is not None else None,
        "size": [job.shape[1], job.shape[0]],
        "steps": job.steps,
        "seed": job.seed,
        "copies": job.copies,
        "recipe": dataclasses.asdict(job.recipe),
    }
    return json.loads(json.dumps(described))


def prepare_folder(outdir: Path, model: DreamModel, job: Job, *, restart: bool = False) -> list[int]:
    """Check ``outdir`` against the job and return the finished pictures (whose PNGs exist)."""
    if outdir.exists() and not outdir.is_dir():
        raise DreamjaxError(f"output folder {str(outdir)!r} is a file", "give a folder name")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DreamjaxError(f"cannot make the output folder {str(outdir)!r}: {exc.strerror or exc}") from None
    clean_stale_parts(outdir)
    state_path = outdir / STATE
    wanted = settings(model, job)
    if restart:
        _remove_atlas(outdir, job)
    done: list[int] = []
    if state_path.exists():
        recorded = _read_state(state_path)
        diffs = setting_differences(recorded.get("settings", {}), wanted)
        if diffs:
            raise DreamjaxError(
                f"{str(outdir)!r} holds an atlas made with other settings: " + "; ".join(diffs),
                "run the same command as before to continue it, or --restart to delete it and start over",
            )
        listed = recorded.get("done") if isinstance(recorded.get("done"), list) else []
        done = [p for p in listed if isinstance(p, int) and 0 <= p < job.pictures and (outdir / file_name(job, p)).is_file()]
    elif any((outdir / file_name(job, p)).exists() for p in range(job.pictures)):
        raise DreamjaxError(f"{str(outdir)!r} holds pictures but no {STATE}; they were not made by `dreamjax atlas`",
                            "use another folder, or --restart to start over there")
    _write_state(state_path, wanted, done, job)
    return done


def _remove_atlas(outdir: Path, job: Job) -> None:
    """Delete the atlas in ``outdir``: this job's files and those its ``atlas.json`` lists."""
    names = {STATE, SHEET, PAGE, *(file_name(job, p) for p in range(job.pictures))}
    listed = _read_state(outdir / STATE, strict=False).get("files")
    names |= {n for n in listed if isinstance(n, str)} if isinstance(listed, list) else set()
    for name in names:
        if Path(name).name == name and name not in ("", ".", ".."):  # plain names in this folder only
            (outdir / name).unlink(missing_ok=True)


def _read_state(path: Path, strict: bool = True) -> dict:
    try:
        state = json.loads(path.read_text())
        if not isinstance(state, dict) or (strict and state.get("version") != STATE_VERSION):
            raise ValueError("written by another version of dreamjax")
        return state
    except (OSError, ValueError) as exc:
        if not strict or not path.exists():
            return {}
        raise DreamjaxError(f"cannot read {str(path)!r}: {exc}", "use --restart to start over") from None


def _write_state(path: Path, wanted: dict, done: Sequence[int], job: Job) -> None:
    state = {"version": STATE_VERSION, "settings": wanted, "done": sorted(set(done)),
             "files": [file_name(job, p) for p in range(job.pictures)]}
    write_bytes_atomic(path, (json.dumps(state, indent=1) + "\n").encode())


def make_atlas(
    model: DreamModel,
    job: Job,
    outdir: str | Path,
    *,
    batch: int = 0,
    restart: bool = False,
    done: list[int] | None = None,
    title: str | None = None,
    on_plan: Callable[[int, int, int], None] | None = None,
    on_step: Callable[[int], None] | None = None,
) -> AtlasResult:
    """Make (or continue) the atlas of ``job`` in ``outdir``.

    ``on_plan(pictures_left, batch_size, batches)`` is called once the batches are known (after
    compiling); ``on_step(picture_steps_done)`` as the ascent goes (finished pictures included).
    ``done``: the finished pictures, as :func:`prepare_folder` returned them (None: check here).
    """
    outdir = Path(outdir)
    done = list(done) if done is not None else prepare_folder(outdir, model, job, restart=restart)
    resumed = len(done)
    finished = set(done)
    left = [p for p in range(job.pictures) if p not in finished]
    stats = DreamStats()
    if left:
        groups = sorted({p // job.copies for p in left})  # a channel's copies always run together
        left = [g * job.copies + c for g in groups for c in range(job.copies)]
        wanted = settings(model, job)

        def keep(members: list[int], images: np.ndarray) -> None:
            for picture, image in zip(members, images):
                save_image(outdir / file_name(job, picture), image)
            done.extend(members)
            _write_state(outdir / STATE, wanted, done, job)

        planned = None if on_plan is None else (lambda plan: on_plan(len(left), plan.size, len(plan.batches)))
        stepped = None if on_step is None else (lambda steps: on_step(resumed * job.steps + steps))
        visualizer_for(model).make(job, left, batch=batch, stats=stats, on_plan=planned, on_batch=keep, on_step=stepped)
    elif on_plan is not None:
        on_plan(0, 0, 0)
    own = _own_first(model, job, outdir)
    paths = {"sheet": write_sheet(job, outdir, title), "page": write_page(job, outdir, title, own)}
    return AtlasResult(job.pictures, resumed, stats, None if own is None else float(np.mean(own)), paths)


def _own_first(model: DreamModel, job: Job, outdir: Path) -> np.ndarray | None:
    """Per picture: does it excite its own channel most of all the atlas's channels? (None: direction atlases.)"""
    if job.targets.kind == "direction" or len(job.targets) < 2:
        return None
    pictures = np.stack([load_image(outdir / file_name(job, p)) for p in range(job.pictures)])
    scores = channel_scores(model, job.targets.layer, pictures, job.targets.ids)
    return np.argmax(scores, axis=1) == np.arange(job.pictures) // job.copies


# --- the contact sheet and the page -------------------------------------------------------


def sheet_columns(pictures: int) -> int:
    return max(1, min(16, math.ceil(math.sqrt(pictures))))


def write_sheet(job: Job, outdir: Path, title: str | None = None) -> Path:
    """``atlas.png``: every picture in a grid, its label under it, a title line on top."""
    from PIL import Image, ImageDraw, ImageFont

    scale = min(1.0, CELL / max(job.shape))
    cell_w, cell_h = max(1, round(job.shape[1] * scale)), max(1, round(job.shape[0] * scale))
    columns = sheet_columns(job.pictures)
    rows = math.ceil(job.pictures / columns)
    gap, top = 4, LABEL_HEIGHT + 8
    sheet = Image.new("RGB", (columns * (cell_w + gap) + gap, top + rows * (cell_h + LABEL_HEIGHT + gap)), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=11)
    heading = _fit(draw, title or f"{job.targets.layer}: {job.pictures} pictures", font, sheet.width - 2 * gap)
    draw.text((gap, 4), heading, fill=(230, 230, 230), font=font)
    for p in range(job.pictures):
        row, col = divmod(p, columns)
        x, y = gap + col * (cell_w + gap), top + row * (cell_h + LABEL_HEIGHT + gap)
        with Image.open(outdir / file_name(job, p)) as picture:
            sheet.paste(picture.convert("RGB").resize((cell_w, cell_h), Image.Resampling.LANCZOS), (x, y))
        draw.text((x + cell_w / 2, y + cell_h + 2), _fit(draw, label(job, p), font, cell_w), fill=(210, 210, 210), font=font, anchor="ma")
    path = outdir / SHEET
    with atomic_path(path) as tmp:
        sheet.save(tmp, format="PNG", optimize=True)
    return path


def _fit(draw, text: str, font, width: int) -> str:
    """``text``, cut with an ellipsis to fit ``width`` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text + "..."


def write_page(job: Job, outdir: Path, title: str | None = None, own: np.ndarray | None = None) -> Path:
    """``index.html``: the pictures with their labels, each linking to its PNG (relative links)."""
    heading = html.escape(title or f"{job.targets.layer} atlas")
    figures = []
    for p in range(job.pictures):
        name, caption = quote(file_name(job, p)), html.escape(label(job, p))
        mark = "" if own is None else (" class=\"own\"" if own[p] else " class=\"other\"")
        figures.append(f'<figure{mark}><a href="{name}"><img src="{name}" alt="{caption}" loading="lazy"></a>'
                       f"<figcaption>{caption}</figcaption></figure>")
    note = ""
    if own is not None:
        note = (f"<p>{int(own.sum())} of {len(own)} pictures excite their own channel more than any other channel "
                f"of this atlas (mean activation, picture shown as it is; the others are outlined).</p>")
    page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{heading}</title>
<style>
body {{ font-family: sans-serif; background: #181818; color: #ddd; margin: 1.5em; }}
.grid {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(140px, 1fr)); gap: 10px; }}
figure {{ margin: 0; }} img {{ width: 100%; display: block; }}
figure.other img {{ outline: 2px solid #a64; }}
figcaption {{ text-align: center; font-size: 13px; padding-top: 3px; }}
a {{ color: #9cf; }}
</style>
</head>
<body>
<h1>{heading}</h1>
<p>{job.pictures} pictures of {job.shape[1]}x{job.shape[0]} pixels, {job.steps} steps, seed {job.seed}.
<a href="{SHEET}">Contact sheet</a> &middot; <a href="{STATE}">settings</a></p>
{note}
<div class="grid">
{chr(10).join(figures)}
</div>
</body>
</html>
"""
    path = outdir / PAGE
    write_bytes_atomic(path, page.encode("utf-8"))
    return path
