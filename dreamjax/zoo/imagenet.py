"""The ImageNet-1k class names shipped in ``dreamjax/data/imagenet_classes.txt``."""

from __future__ import annotations

import functools
from importlib import resources


@functools.cache
def imagenet_class_names() -> tuple[str, ...]:
    """The 1000 class names in the standard index order ("tabby, tabby cat" is index 281)."""
    text = resources.files("dreamjax").joinpath("data", "imagenet_classes.txt").read_text(encoding="utf-8")
    names = tuple(line for line in text.splitlines() if line)
    if len(names) != 1000:
        raise RuntimeError(f"imagenet_classes.txt holds {len(names)} names, not 1000; reinstall dreamjax")
    return names
