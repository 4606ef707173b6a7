"""dreamjax: fast batched DeepDream on JAX.

Public API (nothing is discovered or compiled at import time)::

    import dreamjax
    model = dreamjax.load_model("efficientnet_lite0")
    out = dreamjax.dream(model, image, layers=["blocks.9"])
"""

from .backends import list_backends, load_model
from .engine import dream
from .errors import DreamjaxError, UnknownNameError
from .image import load_image, save_image
from .model import Backend, DreamModel, InputSpec, LayerInfo

__all__ = [
    "Backend",
    "DreamModel",
    "DreamjaxError",
    "InputSpec",
    "LayerInfo",
    "UnknownNameError",
    "list_backends",
    "dream",
    "load_image",
    "load_model",
    "save_image",
]
__version__ = "0.1.0"
