"""Endless zoom: every frame is a dream on the previous frame, zoomed, turned and shifted a little.

All frames have one shape, so the whole stream reuses the octave programs compiled for the
first frame. Frames are written atomically as ``frame_00000.png`` ... into one folder, beside a
manifest (``zoom.json``) holding the run's settings. Running the same stream again continues
after the last finished frame: the next frame starts from that PNG, and an uninterrupted run
also continues from the 8-bit frame it just wrote, so both paths see exactly the same pixels.
Frame ``i`` dreams with seed ``seed + i``, so a resumed stream equals an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from ..ascent.engine import SEED_RANGE, DreamConfig, DreamStats, dreamer_for
from ..ascent.objectives import Objective, layer_objective
from ..errors import DreamjaxError
from ..files.atomic import atomic_path, clean_stale_parts, write_bytes_atomic
from ..files.image import load_image, to_uint8
from ..model import DreamModel
from .stats import add_stats

FRAME_NAME = "frame_{:05d}.png"
FRAME_RE = re.compile(r"frame_(\d{5})\.png")
MANIFEST = "zoom.json"
MANIFEST_VERSION = 1
ANIMATIONS = ("gif", "webp", "mp4")


@dataclass(frozen=True)
class Motion:
    """How the picture moves from one frame to the next.

    ``zoom`` > 1 moves in (the centre grows); ``rotate`` turns the content counter-clockwise
    by that many degrees; ``shift`` moves the content by ``(dx, dy)`` pixels (right, down).
    """

    zoom: float = 1.05
    rotate: float = 0.0
    shift: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self):
        values = (self.zoom, self.rotate, *self.shift)
        if not all(math.isfinite(v) for v in values) or self.zoom <= 0:
            raise DreamjaxError(f"zoom must be a positive number and rotate/shift finite, got {self}")


def check_seeds(config: DreamConfig, frames: int) -> None:
    """Frame ``i`` dreams with seed ``seed + i``: refuse a stream whose last seed leaves 64 bits."""
    if config.seed + frames - 1 > SEED_RANGE[1]:
        raise DreamjaxError(f"seed {config.seed} + {frames} frames runs past the largest seed, {SEED_RANGE[1]:,}",
                            "use a smaller --seed")


def move(image: np.ndarray, motion: Motion) -> np.ndarray:
    """Apply one frame's motion to ``[H, W, 3]`` floats; the shape stays the same.

    Cubic-spline resampling (scipy.ndimage), mirrored at the borders so a turn or a zoom out
    never brings in a black edge.
    """
    height, width = image.shape[:2]
    angle = math.radians(motion.rotate)
    cos, sin = math.cos(angle), math.sin(angle)
    # Output pixel o (row, col) samples the input at centre + M (o - centre - shift).
    matrix = np.array([[cos, sin], [-sin, cos]]) / motion.zoom
    centre = np.array([(height - 1) / 2, (width - 1) / 2])
    offset = centre - matrix @ (centre + np.array([motion.shift[1], motion.shift[0]]))
    channels = [
        ndimage.affine_transform(image[..., c], matrix, offset, order=3, mode="mirror")
        for c in range(image.shape[-1])
    ]
    return np.clip(np.stack(channels, axis=-1), 0.0, 1.0).astype(np.float32)


@dataclass
class ZoomResult:
    frames: int  # frames now in the folder
    resumed_at: int  # first frame this call dreamed (== frames when nothing was left to do)
    stats: DreamStats  # summed over the frames dreamed in this call


def frame_path(outdir: Path, index: int) -> Path:
    return outdir / FRAME_NAME.format(index)


def finished_frames(outdir: Path) -> int:
    """How many frames, counting from 0 without a gap, are in ``outdir``."""
    count = 0
    while frame_path(outdir, count).is_file():
        count += 1
    return count


def _describe_objective(objective: Objective) -> list[dict]:
    """A JSON-able identity of an objective: static fields as they are, arrays by hash."""
    described = []
    for term in objective.terms:
        entry = {"type": type(term).__name__}
        for f in dataclasses.fields(term):
            value = getattr(term, f.name)
            if isinstance(value, str | int | float | bool | type(None)):
                entry[f.name] = value
            else:
                entry[f.name] = "sha256:" + hashlib.sha256(np.ascontiguousarray(np.asarray(value)).tobytes()).hexdigest()[:16]
        described.append(entry)
    return described


def stream_settings(
    model: DreamModel, objective: Objective, config: DreamConfig, motion: Motion, start: np.ndarray,
    keyframes: Mapping[int, Objective] | None = None,
) -> dict:
    """Everything that decides the frames; a resume must match it."""
    start_bytes = to_uint8(start).tobytes()
    settings = {
        "model": model.name,
        "objective": _describe_objective(objective),
        "dream": json.loads(json.dumps(dataclasses.asdict(config))),
        "motion": json.loads(json.dumps(dataclasses.asdict(motion))),
        "size": [int(start.shape[1]), int(start.shape[0])],
        "start": "sha256:" + hashlib.sha256(start_bytes).hexdigest()[:16],
    }
    if keyframes:
        settings["keyframes"] = {str(k): _describe_objective(keyframes[k]) for k in sorted(keyframes)}
    return settings


def objective_at(index: int, objective: Objective, keyframes: Mapping[int, Objective] | None) -> Objective:
    """The objective of frame ``index``: the latest keyframe at or before it, else ``objective``."""
    current = objective
    for first in sorted(keyframes or {}):
        if first <= index:
            current = keyframes[first]
    return current


def _differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {json.dumps(a)} -> {json.dumps(b)}")
    return out


def _remove_frames(outdir: Path) -> None:
    for path in outdir.iterdir():
        if FRAME_RE.fullmatch(path.name):
            path.unlink()
    (outdir / MANIFEST).unlink(missing_ok=True)


def prepare_folder(outdir: Path, settings: dict, *, restart: bool = False, force: bool = False) -> int:
    """Check ``outdir`` against ``settings`` and return the index of the first frame to dream.

    Refuses (listing every difference) to continue a stream made with other settings unless
    ``force``; ``restart`` deletes the stream's frames and starts over.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    if not outdir.is_dir():
        raise DreamjaxError(f"output folder {str(outdir)!r} is not a folder")
    clean_stale_parts(outdir)  # frames half-written by a killed run
    manifest_path = outdir / MANIFEST
    if restart:
        _remove_frames(outdir)
    done = finished_frames(outdir)
    if manifest_path.exists():
        try:
            recorded = json.loads(manifest_path.read_text())
        except (OSError, ValueError) as exc:
            raise DreamjaxError(f"cannot read {str(manifest_path)!r}: {exc}", "use --restart to start over") from None
        if recorded.get("version") != MANIFEST_VERSION:
            raise DreamjaxError(f"{str(manifest_path)!r} was written by another version of dreamjax", "use --restart to start over")
        diffs = _differences(recorded.get("settings", {}), settings)
        if diffs and not force:
            raise DreamjaxError(
                f"{str(outdir)!r} holds {done} frames of a stream with other settings: " + "; ".join(diffs),
                "run the same command as before to continue it, --force to continue with the new settings, "
                "or --restart to delete its frames and start over",
            )
    elif done and not force:
        raise DreamjaxError(
            f"{str(outdir)!r} holds {done} frames but no {MANIFEST}; they were not made by `dreamjax zoom`",
            "use another folder, --force to continue from its last frame, or --restart to delete the frames",
        )
    manifest = {"version": MANIFEST_VERSION, "settings": settings}
    write_bytes_atomic(manifest_path, (json.dumps(manifest, indent=2) + "\n").encode())
    return done


def zoom(
    model: DreamModel,
    start: np.ndarray,
    outdir: str | Path,
    frames: int,
    *,
    objective: Objective | None = None,
    config: DreamConfig = DreamConfig(),
    motion: Motion = Motion(),
    keyframes: Mapping[int, Objective] | None = None,
    restart: bool = False,
    force: bool = False,
    on_frame: Callable[[int, Path, DreamStats], None] | None = None,
) -> ZoomResult:
    """Dream ``frames`` frames into ``outdir``, continuing a stream already there.

    ``start`` is the first frame's input, float32 ``[H, W, 3]`` in ``[0, 1]``; every frame has
    its shape. ``keyframes`` maps a frame index to the objective used from that frame on (a
    layer schedule); each distinct objective compiles its programs once. ``on_frame(index, path,
    stats)`` is called after each frame is on disk.
    """
    if frames < 1:
        raise DreamjaxError(f"frames must be at least 1, got {frames}")
    check_seeds(config, frames)
    start = np.asarray(start, dtype=np.float32)
    if start.ndim != 3 or start.shape[-1] != 3:
        raise DreamjaxError(f"expected a start image [H, W, 3], got shape {start.shape}")
    outdir = Path(outdir)
    objective = objective if objective is not None else layer_objective(model)
    if any(not isinstance(k, int) or k < 0 for k in keyframes or {}):
        raise DreamjaxError(f"keyframes must be frame numbers >= 0, got {sorted(keyframes)}")
    settings = stream_settings(model, objective, config, motion, start, keyframes)
    done = prepare_folder(outdir, settings, restart=restart, force=force)
    total = DreamStats()
    if done >= frames:
        return ZoomResult(done, done, total)

    previous = None
    if done:
        previous = load_image(frame_path(outdir, done - 1))
        if previous.shape != start.shape:
            raise DreamjaxError(
                f"frame {done - 1} is {previous.shape[1]}x{previous.shape[0]}, the stream is {start.shape[1]}x{start.shape[0]}",
                "use --restart to start over",
            )
    dreamer = dreamer_for(model)
    for index in range(done, frames):
        source = start if previous is None else move(previous, motion)
        wanted = objective_at(index, objective, keyframes)
        dreamed, stats = dreamer.run(source[None], wanted, dataclasses.replace(config, seed=config.seed + index))
        frame = to_uint8(dreamed[0])
        path = frame_path(outdir, index)
        with atomic_path(path) as tmp:
            _save_png(tmp, frame)
        previous = frame.astype(np.float32) / 255.0  # exactly what a resume would read back
        add_stats(total, stats)
        if on_frame is not None:
            on_frame(index, path, stats)
    return ZoomResult(frames, done, total)


def _save_png(path: Path, frame: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(frame).save(path, format="PNG")


# --- animations -------------------------------------------------------------------------


def write_animation(outdir: str | Path, path: str | Path, frames: int, fps: float = 12.0) -> Path:
    """Join ``frame_00000.png`` ... ``frame_{frames-1}`` of ``outdir`` into a GIF, WebP or MP4.

    GIF and WebP need only Pillow; MP4 needs the ``video`` extra (imageio-ffmpeg).
    """
    from PIL import Image

    outdir, path = Path(outdir), Path(path)
    kind = path.suffix.lower().lstrip(".")
    if kind not in ANIMATIONS:
        raise DreamjaxError(f"cannot write an animation as {path.suffix or '(no suffix)'!r}", f"use one of .{', .'.join(ANIMATIONS)}")
    missing = [i for i in range(frames) if not frame_path(outdir, i).is_file()]
    if missing:
        raise DreamjaxError(f"frames {missing[:5]} of {frames} are missing in {str(outdir)!r}")
    if kind == "mp4":
        return _write_mp4(outdir, path, frames, fps)
    images = [Image.open(frame_path(outdir, i)) for i in range(frames)]
    try:
        options = {"loop": 0, "duration": round(1000 / fps)}
        if kind == "webp":
            options |= {"quality": 80, "method": 4}
        else:
            options |= {"optimize": False}
        with atomic_path(path) as tmp:
            images[0].save(tmp, format=kind.upper(), save_all=True, append_images=images[1:], **options)
    finally:
        for image in images:
            image.close()
    return path


def _write_mp4(outdir: Path, path: Path, frames: int, fps: float) -> Path:
    try:
        import imageio_ffmpeg
    except ImportError:
        raise DreamjaxError("writing MP4 needs imageio-ffmpeg", "pip install 'dreamjax[video]', or use .gif or .webp") from None
    first = load_frame(outdir, 0)
    # H.264 in yuv420p needs even sides: drop a last row/column if needed.
    height, width = first.shape[0] // 2 * 2, first.shape[1] // 2 * 2
    with atomic_path(path) as tmp:
        # Raw RGB frames into the ffmpeg binary the wheel ships. A plain Popen (no preexec_fn)
        # spawns without fork(), which JAX's threads would not survive.
        command = [
            imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
            "-s", f"{width}x{height}", "-r", f"{fps}", "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p",
            "-crf", "18", "-movflags", "+faststart", "-f", "mp4", str(tmp),
        ]
        with subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE) as ffmpeg:
            try:
                for i in range(frames):
                    ffmpeg.stdin.write(np.ascontiguousarray(load_frame(outdir, i)[:height, :width]).tobytes())
            except BrokenPipeError:
                pass  # ffmpeg stopped early; its message follows
            finally:
                ffmpeg.stdin.close()
            errors = ffmpeg.stderr.read().decode(errors="replace").strip()
        if ffmpeg.returncode != 0:
            raise DreamjaxError(f"ffmpeg could not write {str(path)!r}: {errors or f'exit code {ffmpeg.returncode}'}")
    return path


def load_frame(outdir: str | Path, index: int) -> np.ndarray:
    """Frame ``index`` as uint8 ``[H, W, 3]``."""
    from PIL import Image

    with Image.open(frame_path(Path(outdir), index)) as image:
        return np.asarray(image.convert("RGB"))


def animation_paths(outdir: Path, kinds: Sequence[str], name: str = "zoom") -> list[Path]:
    return [outdir / f"{name}.{kind}" for kind in kinds]
