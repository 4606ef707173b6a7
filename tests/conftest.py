import os

# Tests must never touch the user's cache; each run gets its own (set before jax is configured).
os.environ.setdefault("DREAMJAX_CACHE_DIR", "")

import numpy as np
import pytest

from dreamjax.image import load_image, sample_image_path
from tiny_model import tiny_model


@pytest.fixture(scope="session")
def tiny():
    return tiny_model()


@pytest.fixture(scope="session")
def cat_image():
    return load_image(sample_image_path("chelsea.png"))


@pytest.fixture
def rng():
    return np.random.default_rng(0)
