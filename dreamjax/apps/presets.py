"""Named looks per model: which layers to dream at, and the settings that suit them.

The classic DeepDream looks come from depth: low layers paint strokes and fine textures,
middle layers ornaments and patterns, high layers eyes, faces, animals and buildings.
The EfficientNet-Lite tables use stage names (``stage1`` ... ``stage7`` exist in lite0, lite1
and lite2 alike) where a stage's output is the look, and block numbers inside a stage where the
middle of a stage is better (lite1 and lite2 have more blocks than lite0). Other models (ONNX
files) get the same looks by relative depth among their spatial layers.

A preset's settings use the names of ``dreamjax dream``'s options; explicit options, and
a config file, override them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..ascent.objective_syntax import LayerTerm, format_term
from ..errors import UnknownNameError
from ..model import DreamModel


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    objective: str  # the compact form, see dreamjax.ascent.objective_syntax
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))


def _lite(eyes: str, objects: str) -> tuple[Preset, ...]:
    """The EfficientNet-Lite looks; ``eyes`` and ``objects`` name the second block of stage 5 and 6."""
    return (
        Preset("strokes", "brush strokes and fine texture (end of stage 2, 1/4 resolution)", "stage2",
               dict(octaves=4, octave_scale=1.3, steps=12, step_size=0.008)),
        Preset("ornaments", "curls, rosettes and ornaments (end of stage 3, 1/8 resolution)", "stage3",
               dict(octaves=4, octave_scale=1.4, steps=12, step_size=0.01)),
        Preset("patterns", "interlocking stripes and spots (end of stage 4, 1/16 resolution)", "stage4",
               dict(octaves=4, octave_scale=1.4, steps=10, step_size=0.01)),
        Preset("eyes", "eyes and fur, the classic look (inside stage 5, 1/16 resolution)", eyes,
               dict(octaves=4, octave_scale=1.4, steps=10, step_size=0.01)),
        Preset("objects", "flowers, shells, animal parts and objects (inside stage 6, 1/32 resolution)", objects,
               dict(octaves=5, octave_scale=1.4, steps=12, step_size=0.012)),
    )


# Checked on each variant's layer list: stage 5 is blocks 8-10 in lite0 and 11-14 in lite1/2,
# stage 6 is blocks 11-14 in lite0 and 15-19 in lite1/2.
_LITE0 = _lite(eyes="blocks.9", objects="blocks.12")
_LITE12 = _lite(eyes="blocks.12", objects="blocks.16")
_LITE = _LITE0  # the looks by name, for models without a table

# Relative depth among a model's spatial layers, for models without a table of their own.
_BY_DEPTH = {"strokes": 0.2, "ornaments": 0.35, "patterns": 0.5, "eyes": 0.6, "objects": 0.85}

PRESETS: Mapping[str, tuple[Preset, ...]] = MappingProxyType(
    {"efficientnet_lite0": _LITE0, "efficientnet_lite1": _LITE12, "efficientnet_lite2": _LITE12}
)


def presets_for(model: DreamModel) -> dict[str, Preset]:
    """The presets of ``model`` by name: its own table, or looks chosen by relative depth."""
    table = PRESETS.get(model.name)
    if table is not None:
        return {p.name: p for p in table}
    spatial = [layer.name for layer in model.layers if layer.spatial is not None] or [layer.name for layer in model.layers]
    looks = {p.name: p for p in _LITE}
    out = {}
    for name, depth in _BY_DEPTH.items():
        layer = spatial[min(len(spatial) - 1, int(depth * len(spatial)))]
        description = f"{looks[name].description.split(' (')[0]} ({int(depth * 100)}% deep)"
        out[name] = Preset(name, description, format_term(LayerTerm(layer)), looks[name].settings)
    return out


def get_preset(model: DreamModel, name: str) -> Preset:
    presets = presets_for(model)
    if name not in presets:
        raise UnknownNameError(f"preset of {model.name}", name, presets)
    return presets[name]
