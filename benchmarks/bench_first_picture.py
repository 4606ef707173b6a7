"""The first picture as a user meets it: whole processes, dreamjax CLI vs a PyTorch eager script.

Rows (EfficientNet-Lite0, ``--layer blocks.8``, 4 octaves x 10 steps, the bundled 451x300 cat):

* ``empty``: dream one photo with an empty cache;
* ``warm``: the same photo again (the cache holds its programs);
* ``new-size``: a photo of a size never dreamed before, with a cache that has dreamed others;
* ``folder``: a folder of 6 photos of 6 different sizes in one command, empty cache.

The PyTorch side (``torch_first_picture.py``) does the same dream from a cold process every
time (it has nothing to cache). Runs are interleaved (torch, dreamjax, then dreamjax, torch, ...)
so drifting load hits both; every cache state is prepared afresh (a copy of a template) so each
run sees the same. Wall time is measured around each process; the medians give the ratio
(torch time / dreamjax time, above 1 means dreamjax is faster) and each process's own phase
breakdown (``DREAMJAX_TIMINGS=json``) is kept. The table goes to stdout and, unless
``--no-write``, into this benchmark's section of ``benchmarks/RESULTS.md``.

    python benchmarks/bench_first_picture.py --torch-python /work/venv-torch/bin/python
    python benchmarks/bench_first_picture.py --rows warm new-size --runs 5 --no-write

Not a test: targets (issue 12) are printed beside the ratios, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import machine  # noqa: E402
import torch_first_picture  # noqa: E402

ROWS = {  # name -> (what a user does, target ratio from the issue)
    "empty": ("dream one photo (451x300), empty cache", 0.75),
    "warm": ("the same photo again (warm cache)", 1.5),
    "new-size": ("a photo of a size never dreamed before (512x340), cache used before", 1.2),
    "folder": ("a folder of 6 photos of 6 sizes, one command, empty cache", 1.2),
}
DREAM = ["--layer", "blocks.8", "--octaves", "4", "--steps", "10"]
NEW_SIZE = (512, 340)  # width, height
FOLDER_SIZES = ((451, 300), (400, 300), (512, 384), (384, 256), (480, 320), (320, 240))
SEEN_SIZES = ((451, 300), (600, 400))  # what the "cache used before" has dreamed
MARK_START, MARK_END = "<!-- bench_first_picture: start -->", "<!-- bench_first_picture: end -->"


def photo(work: Path, name: str, size: tuple[int, int]) -> Path:
    """The bundled cat at ``size`` (width, height), as a PNG under ``work``."""
    path = work / name
    with Image.open(REPO / "dreamjax" / "data" / "chelsea.png") as im:
        im = im.convert("RGB")
        (im if im.size == size else im.resize(size, Image.BICUBIC)).save(path)
    return path


def last_json(text: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                pass
    return {}


class Runner:
    def __init__(self, work: Path, torch_python: str, cores: int | None = None):
        self.work, self.torch_python = work, torch_python
        self.env = dict(os.environ, JAX_PLATFORMS=os.environ.get("JAX_PLATFORMS", "cpu"), DREAMJAX_TIMINGS="json",
                        PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "plugins" / "dreamjax-onnx"),
                                                    os.environ.get("PYTHONPATH", "")]))
        # --cores N: both sides pinned to the same N CPUs, torch with N threads (a like-for-like
        # comparison when other jobs load the machine: torch's thread pool spins under load).
        self.prefix = ["taskset", "-c", f"0-{cores - 1}"] if cores else []
        if cores:
            self.env.update(OMP_NUM_THREADS=str(cores), MKL_NUM_THREADS=str(cores))
        self.cat = photo(work, "chelsea.png", (451, 300))
        self.new = photo(work, "new_size.png", NEW_SIZE)
        self.folder = work / "six"
        self.folder.mkdir()
        for i, size in enumerate(FOLDER_SIZES):
            photo(self.folder, f"photo{i}_{size[0]}x{size[1]}.png", size)
        self.templates: dict[str, Path] = {}

    def _timed(self, argv: list[str], env: dict) -> tuple[float, dict]:
        t0 = time.perf_counter()
        proc = subprocess.run([*self.prefix, *argv], env=env, capture_output=True, text=True, timeout=1800)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:4])}... failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        report = last_json(proc.stderr)
        notes = {f"({name})": seconds for name, seconds in report.get("notes", {}).items()}
        return wall, report.get("phases", {}) | notes

    def dreamjax(self, source: Path, cache: Path, out: str) -> tuple[float, dict]:
        output = self.work / out
        shutil.rmtree(output, ignore_errors=True)
        target = output if source.is_dir() else output.with_suffix(".png")
        argv = [sys.executable, "-m", "dreamjax", "dream", str(source), "-o", str(target), *DREAM]
        return self._timed(argv, dict(self.env, DREAMJAX_CACHE_DIR=str(cache)))

    def torch(self, row: str) -> tuple[float, dict]:
        images = sorted(self.folder.iterdir()) if row == "folder" else [self.new if row == "new-size" else self.cat]
        argv = [self.torch_python, str(HERE / "torch_first_picture.py"), *map(str, images), "-o", str(self.work / "torch_out"),
                *DREAM]
        env = {k: v for k, v in self.env.items() if k != "DREAMJAX_TIMINGS"}
        return self._timed(argv, env)

    def template(self, row: str) -> Path | None:
        """The cache a row starts from (None: empty), made once by untimed dreamjax runs."""
        if row not in ("warm", "new-size"):
            return None
        if row not in self.templates:
            folder = self.templates[row] = self.work / f"template-{row}"
            sizes = ((451, 300),) if row == "warm" else SEEN_SIZES
            for size in sizes:
                self.dreamjax(photo(self.work, f"seen_{size[0]}x{size[1]}.png", size), folder, "template_out")
        return self.templates[row]

    def run_jax(self, row: str, index: int) -> tuple[float, dict]:
        cache = self.work / f"cache-{row}-{index}"
        template = self.template(row)
        if template is not None:
            shutil.copytree(template, cache, symlinks=True)
        source = {"folder": self.folder, "new-size": self.new}.get(row, self.cat)
        try:
            return self.dreamjax(source, cache, f"jax_out_{row}")
        finally:
            shutil.rmtree(cache, ignore_errors=True)


def check_same_octaves() -> None:
    """The torch script dreams on dreamjax's exact octave sizes."""
    from dreamjax.ascent.engine import octave_shapes

    for w, h in (*FOLDER_SIZES, NEW_SIZE, (451, 300)):
        theirs = torch_first_picture.octave_shapes(h, w, 4, 1.4)
        assert theirs == octave_shapes(h, w, 4, 1.4, torch_first_picture.MIN_SIZE), (w, h)


def median_phases(runs: list[dict]) -> dict[str, float]:
    names = list(dict.fromkeys(name for phases in runs for name in phases))
    return {name: statistics.median(p.get(name, 0.0) for p in runs) for name in names}


def phase_text(phases: dict[str, float]) -> str:
    return ", ".join(f"{name} {seconds:.2f}" for name, seconds in phases.items())


def measure(rows: list[str], runs: int, torch_python: str, cores: int | None) -> tuple[list[dict], list[str]]:
    loads = [machine.load_note()]
    results = {row: {"jax": [], "torch": []} for row in rows}
    with tempfile.TemporaryDirectory(prefix="first-picture-") as tmp:
        runner = Runner(Path(tmp), torch_python, cores)
        for row in rows:  # templates first: their runs are not timed
            runner.template(row)
        for i in range(runs):
            for row in rows:
                order = ("torch", "jax") if i % 2 == 0 else ("jax", "torch")
                for side in order:
                    wall, phases = runner.torch(row) if side == "torch" else runner.run_jax(row, i)
                    results[row][side].append((wall, phases))
                    print(f"  run {i + 1}/{runs} {row:9s} {side:5s} {wall:6.2f} s  ({machine.load_note()})", file=sys.stderr)
            loads.append(machine.load_note())
    table = []
    for row in rows:
        jax_s = statistics.median(w for w, _ in results[row]["jax"])
        torch_s = statistics.median(w for w, _ in results[row]["torch"])
        table.append({"row": row, "what": ROWS[row][0], "target": ROWS[row][1], "dreamjax_s": jax_s, "torch_s": torch_s,
                      "ratio": torch_s / jax_s, "runs": runs,
                      "dreamjax_all": [round(w, 2) for w, _ in results[row]["jax"]],
                      "torch_all": [round(w, 2) for w, _ in results[row]["torch"]],
                      "dreamjax_phases": median_phases([p for _, p in results[row]["jax"]]),
                      "torch_phases": median_phases([p for _, p in results[row]["torch"]])})
    return table, loads


def torch_versions(torch_python: str) -> str:
    """torch's version and thread count in the Python that runs the PyTorch side."""
    code = "import torch; print(torch.__version__, torch.get_num_threads())"
    proc = subprocess.run([torch_python, "-c", code], capture_output=True, text=True, timeout=300)
    version, _, threads = proc.stdout.strip().rpartition(" ")
    return f"torch {version} ({threads} threads)" if proc.returncode == 0 else "torch unknown"


def markdown(table: list[dict], loads: list[str], command: str, torch_python: str) -> str:
    info = machine.describe()
    info["versions"].pop("torch", None)
    lines = [
        MARK_START,
        "## First picture, whole processes: dreamjax CLI vs a PyTorch eager script (`benchmarks/bench_first_picture.py`)",
        "",
        f"Machine: {info['cpu']}, {info['cpus']} CPUs; {', '.join(f'{k} {v}' for k, v in info['versions'].items())}, "
        f"{torch_versions(torch_python)}. "
        f"Load before, between and after the runs: {'; '.join(loads)}. Median of {table[0]['runs']} interleaved runs "
        "per row; ratio = PyTorch time / dreamjax time (above 1: dreamjax is faster).",
        "",
        "```console",
        f"$ {command}",
        "```",
        "",
        "| what a user does | dreamjax s | PyTorch eager script s | ratio | target | all runs (dreamjax / torch) |",
        "|---|---|---|---|---|---|",
    ]
    for r in table:
        met = "met" if r["ratio"] >= r["target"] else "not met"
        lines.append(f"| {r['what']} | {r['dreamjax_s']:.2f} | {r['torch_s']:.2f} | **{r['ratio']:.2f}x** | "
                     f">= {r['target']}x ({met}) | {r['dreamjax_all']} / {r['torch_all']} |")
    lines += ["", "Phase breakdown (median seconds per phase, as each process reports it; in brackets: work "
              "that overlapped the phases, such as programs built in the background):", ""]
    for r in table:
        lines.append(f"- {r['what']}: dreamjax: {phase_text(r['dreamjax_phases'])}; torch: {phase_text(r['torch_phases'])}")
    lines.append(MARK_END)
    return "\n".join(lines) + "\n"


def write_results(section: str, path: Path) -> None:
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    if MARK_START in text and MARK_END in text:
        head, rest = text.split(MARK_START, 1)
        text = head + section + rest.split(MARK_END, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="+", choices=list(ROWS), default=list(ROWS))
    parser.add_argument("--runs", type=int, default=3, help="timed runs per row and side (default 3)")
    parser.add_argument("--torch-python", default=sys.executable, help="the Python with torch (default: this one)")
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument("--steps", type=int, default=10, help="steps per octave (other than 10: a quick check only)")
    parser.add_argument("--cores", type=int, help="pin both sides to this many CPUs (torch with as many threads)")
    args = parser.parse_args()
    DREAM[DREAM.index("--steps") + 1] = str(args.steps)
    check_same_octaves()
    command = "python benchmarks/bench_first_picture.py " + " ".join(sys.argv[1:])
    table, loads = measure(args.rows, args.runs, args.torch_python, args.cores)
    section = markdown(table, loads, command.strip(), args.torch_python)
    print(section)
    if not args.no_write:
        write_results(section, args.results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
