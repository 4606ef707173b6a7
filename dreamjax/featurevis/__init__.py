"""Feature visualisation: pictures of what each channel of a layer detects (lucid's recipe, batched).

See :func:`dreamjax.featurevis.visualize.visualize` and ``docs/atlas.md``.
"""

from .objectives import KINDS, Targets, build_targets, own_channel_first
from .param import Parametrisation
from .transforms import NO_TRANSFORMS, Transforms
from .visualize import Recipe, Visualizer, channel_scores, visualize, visualizer_for

__all__ = [
    "KINDS",
    "NO_TRANSFORMS",
    "Parametrisation",
    "Recipe",
    "Targets",
    "Transforms",
    "Visualizer",
    "build_targets",
    "channel_scores",
    "own_channel_first",
    "visualize",
    "visualizer_for",
]
