import os

# Tests must never touch the user's cache; each run gets its own (set before jax is configured).
os.environ.setdefault("DREAMJAX_CACHE_DIR", "")

import numpy as np
import pytest
from tiny_model import tiny_model

from dreamjax.files.image import load_image, sample_image_path


@pytest.fixture(scope="session")
def tiny():
    return tiny_model()


@pytest.fixture(scope="session")
def cat_image():
    return load_image(sample_image_path("chelsea.png"))


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def tiny_backend(monkeypatch, tmp_path_factory):
    """The tiny model published through a throw-away ``dreamjax.backends`` entry point."""
    from fake_plugins import forget_discoveries, install

    root = tmp_path_factory.mktemp("plugins")
    install(monkeypatch, root, {"tiny": "dreamjax_fake_backend:backend"})
    yield root
    forget_discoveries()


@pytest.fixture
def photo(tmp_path, rng):
    """A small random picture saved as a PNG."""
    from dreamjax.files.image import save_image

    path = tmp_path / "in.png"
    save_image(path, rng.uniform(0.2, 0.8, size=(40, 44, 3)))
    return path
