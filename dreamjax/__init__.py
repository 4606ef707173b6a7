"""dreamjax: fast batched DeepDream on JAX.

Public API (nothing is discovered or compiled at import time)::

    import dreamjax
    model = dreamjax.load_model("efficientnet_lite0")
    out = dreamjax.dream(model, image, layers=["blocks.9"])
    out = dreamjax.dream(model, image, objective="blocks.5,class=tabby cat:2",
                         regularisers=dreamjax.Regularisers(laplacian_levels=4))
    pictures = dreamjax.visualize(model, "blocks.10", channels=range(16))  # [16, 128, 128, 3]
"""

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
from .files.image import load_image, save_image
from .files.starts import colour_image, noise_image
from .model import Backend, DreamModel, InputSpec, LayerInfo

__all__ = [
    "Backend",
    "DreamModel",
    "DreamjaxError",
    "InputSpec",
    "LayerInfo",
    "Objective",
    "Regularisers",
    "UnknownNameError",
    "build_objective",
    "channel_objective",
    "class_objective",
    "colour_image",
    "dream",
    "guide_objective",
    "layer_objective",
    "list_backends",
    "neuron_objective",
    "noise_image",
    "load_image",
    "load_model",
    "save_image",
    "visualize",
]
__version__ = "0.1.0"


def __getattr__(name: str):
    # visualize needs optax; it is imported when first asked for, not with dreamjax.
    if name == "visualize":
        from .featurevis.visualize import visualize

        return visualize
    raise AttributeError(f"module 'dreamjax' has no attribute {name!r}")
