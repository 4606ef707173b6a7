"""Regenerate dreamjax/data/imagenet_classes.txt: the 1000 ImageNet-1k class names in index order.

The names come from timm's wheel (Apache-2.0): ``timm/data/_info/imagenet_synsets.txt`` lists
the 1000 WordNet synsets in the standard class-index order, and
``imagenet_synset_to_lemma.txt`` maps each synset to its WordNet lemmas ("tabby, tabby cat").

    python scripts/make_imagenet_classes.py            # pip-downloads the timm wheel
    python scripts/make_imagenet_classes.py timm-1.0.31-py3-none-any.whl
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import tempfile
import zipfile

OUT = os.path.join(os.path.dirname(__file__), "..", "dreamjax", "data", "imagenet_classes.txt")
TIMM_VERSION = "1.0.31"


def class_names(wheel: str) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        synsets = z.read("timm/data/_info/imagenet_synsets.txt").decode().split()
        lemmas = dict(
            line.split("\t", 1) for line in z.read("timm/data/_info/imagenet_synset_to_lemma.txt").decode().splitlines()
        )
    if len(synsets) != 1000:
        raise SystemExit(f"expected 1000 synsets, found {len(synsets)}")
    return [lemmas[s].strip() for s in synsets]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if len(sys.argv) > 1:
            wheel = sys.argv[1]
        else:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, f"timm=={TIMM_VERSION}"],
                check=True,
            )
            wheel = glob.glob(os.path.join(tmp, "timm-*.whl"))[0]
        names = class_names(wheel)
    tmp_out = OUT + ".tmp"
    with open(tmp_out, "w", encoding="utf-8") as f:
        f.write("\n".join(names) + "\n")
    os.replace(tmp_out, OUT)
    print(f"wrote {len(names)} names to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
