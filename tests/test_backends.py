import pytest

import dreamjax
from dreamjax import backends as backends_module
from dreamjax.errors import UnknownNameError
from fake_plugins import forget_discoveries, install


@pytest.fixture(autouse=True)
def fresh_discovery():
    forget_discoveries()
    yield
    forget_discoveries()


def test_zoo_is_published_through_the_entry_point():
    names = [b.name for b in dreamjax.list_backends()]
    assert names[0] == "zoo"
    zoo = dreamjax.list_backends()[0]
    assert "efficientnet_lite0" in zoo.available()


def test_plugin_found_by_name_and_by_path(monkeypatch, tmp_path):
    install(monkeypatch, tmp_path, {"tiny": "dreamjax_fake_backend:backend"})
    assert dreamjax.load_model("tiny").name == "tiny"
    assert dreamjax.load_model("some/net.tiny").name == "tiny"


def test_broken_plugin_is_recorded_and_others_keep_working(monkeypatch, tmp_path):
    install(monkeypatch, tmp_path, {
        "tiny": "dreamjax_fake_backend:backend",
        "missing": "dreamjax_no_such_module:backend",
        "notabackend": "dreamjax_fake_backend:not_a_backend",
    })
    found = backends_module.discover()
    assert {b.name for b in found.backends} >= {"zoo", "tiny"}
    broken = {b.name: b.error for b in found.broken}
    assert "ModuleNotFoundError" in broken["missing"] and "dreamjax_no_such_module" in broken["missing"]
    assert "not a dreamjax Backend" in broken["notabackend"]
    assert dreamjax.load_model("tiny").name == "tiny"


def test_unknown_model_suggests_names_and_mentions_broken_plugins(monkeypatch, tmp_path):
    install(monkeypatch, tmp_path, {"missing": "dreamjax_no_such_module:backend"})
    with pytest.raises(UnknownNameError) as err:
        dreamjax.load_model("efficientnet_lite")
    text = str(err.value)
    assert "efficientnet_lite0" in text and "missing" in text


def test_discovery_is_lazy():
    import subprocess
    import sys

    code = "import dreamjax, dreamjax.backends as b; print(b.discover.cache_info().currsize)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"
