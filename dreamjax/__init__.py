"""dreamjax: fast batched DeepDream on JAX.

Public API (nothing is discovered or compiled at import time, and JAX itself is imported only
when a name that needs it is first used, so ``dreamjax --help`` starts fast)::

    import dreamjax
    model = dreamjax.load_model("efficientnet_lite0")
    out = dreamjax.dream(model, image, layers=["blocks.9"])
    out = dreamjax.dream(model, image, objective="blocks.5,class=tabby cat:2",
                         regularisers=dreamjax.Regularisers(laplacian_levels=4))
    pictures = dreamjax.visualize(model, "blocks.10", channels=range(16))  # [16, 128, 128, 3]
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# name -> the module that defines it, imported on first use (PEP 562).
_EXPORTS = {
    "dream": ".ascent.engine",
    **dict.fromkeys(("Objective", "build_objective", "channel_objective", "class_objective", "guide_objective",
                     "layer_objective", "neuron_objective"), ".ascent.objectives"),
    "Regularisers": ".ascent.regularisers",
    "list_backends": ".backends",
    "load_model": ".backends",
    "DreamjaxError": ".errors",
    "UnknownNameError": ".errors",
    "load_image": ".files.image",
    "save_image": ".files.image",
    "colour_image": ".files.starts",
    "noise_image": ".files.starts",
    **dict.fromkeys(("Backend", "DreamModel", "InputSpec", "LayerInfo"), ".model"),
    "visualize": ".featurevis.visualize",  # needs optax: imported only when asked for
}

if TYPE_CHECKING:  # what static tools see; at run time __getattr__ imports on demand
    from .ascent.engine import dream
    from .ascent.objectives import (
        Objective,
        build_objective,
        channel_objective,
        class_objective,
        guide_objective,
        layer_objective,
        neuron_objective,
    )
    from .ascent.regularisers import Regularisers
    from .backends import list_backends, load_model
    from .errors import DreamjaxError, UnknownNameError
    from .featurevis.visualize import visualize
    from .files.image import load_image, save_image
    from .files.starts import colour_image, noise_image
    from .model import Backend, DreamModel, InputSpec, LayerInfo


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dreamjax' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


__all__ = sorted(_EXPORTS)
__version__ = "0.1.0"

