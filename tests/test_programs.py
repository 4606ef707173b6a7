"""The program cache: warm runs trace nothing, bad entries are rebuilt, unsafe ones refused, size bounded."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from dataclasses import dataclass

import jax
import numpy as np
import pytest
from tiny_model import TinyModel, tiny_model

from dreamjax.ascent.engine import DreamConfig, Dreamer
from dreamjax.ascent.objectives import layer_objective
from dreamjax.runtime import cache, executables, programs
from dreamjax.runtime.devices import place
from dreamjax.runtime.program_key import program_key

CONFIG = DreamConfig(octaves=2, steps=2, jitter=2)
ONE_OCTAVE = DreamConfig(octaves=1, steps=2, jitter=2)


@dataclass(eq=False)
class CountingModel(TinyModel):
    """The tiny model, counting how often ``apply`` is traced (it only runs inside jit)."""

    traces: int = 0

    def apply(self, params, images, capture):
        self.traces += 1
        return super().apply(params, images, capture)


def counting_model() -> CountingModel:
    base = tiny_model()
    return CountingModel(params=base.params, layers=base.layers)


@pytest.fixture
def program_cache(tmp_path, monkeypatch):
    """A program cache in a fresh private folder, for this test only (JAX's own cache stays off)."""
    root = tmp_path / "cache"
    root.mkdir(mode=0o700)
    monkeypatch.setitem(cache._state, "root", root)
    monkeypatch.setitem(cache._state, "configured", True)
    monkeypatch.setattr(programs, "_CACHES", {})
    return root


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(0.2, 0.8, size=(1, 40, 44, 3)).astype(np.float32)


def dream(model, images, config=CONFIG):
    """A dream by a fresh Dreamer: nothing compiled in memory, as in a new process."""
    return Dreamer(model).run(images, layer_objective(model, "conv1"), config)


def test_a_warm_run_loads_every_program_without_tracing(program_cache, images):
    model = counting_model()
    cold, cold_stats = dream(model, images)
    assert model.traces == cold_stats.programs_compiled == 2 and cold_stats.programs_from_disk == 0
    assert len(programs.default_cache().entries()) == 2
    model.traces = 0
    warm, warm_stats = dream(model, images)
    assert model.traces == 0  # nothing traced, nothing lowered
    assert warm_stats.programs_from_disk == warm_stats.programs_compiled == 2
    np.testing.assert_array_equal(warm, cold)
    assert warm_stats.estimated_bytes == cold_stats.estimated_bytes > 0  # XLA's memory analysis, stored
    assert programs.default_cache().counts == {"hits": 2, "misses": 2, "stores": 2, "rejected": 0}


def test_another_model_of_the_same_shapes_does_not_hit(program_cache, images):
    dream(counting_model(), images, ONE_OCTAVE)
    other = counting_model()
    other.params = jax.tree.map(lambda a: a * 1.5, other.params)
    dream(other, images, ONE_OCTAVE)
    assert other.traces == 1  # its own program: weights are part of the model's identity


def _octave_program_args(dreamer, model, layer="conv1", size=(40, 44), batch=1, steps=2, concrete=False):
    """The arguments and plan of the last octave program of a dream, as the engine builds them."""
    objective, config, placement = layer_objective(model, layer), DreamConfig(steps=steps), place(batch)
    octave = dreamer.plan(size, objective, config, placement)[-1]
    canvas = placement.put(np.zeros((batch, *octave.canvas.shape, 3), np.float32)) if concrete else None
    return dreamer._args(octave, objective.runtime(), config, jax.random.key(0), placement, canvas), octave.plan


def test_key_names_what_determines_the_program(images):
    model = tiny_model()
    dreamer = Dreamer(model)

    def key(**kw):
        args, plan = _octave_program_args(dreamer, model, **kw)
        return program_key(model, dreamer._jitted, args, {"plan": plan})

    assert key() == key()
    assert key(steps=3) == key()  # a number, not structure: a runtime argument of the same program
    different = [key(layer="conv2"), key(size=(80, 80)), key(batch=2)]
    assert len({key(), *different}) == 4


def _only_entry(root):
    (entry,) = programs.ProgramCache(root / "programs").entries()
    return entry.path


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "garbage", "empty"])
def test_a_corrupt_entry_is_rebuilt(program_cache, images, damage):
    model = counting_model()
    first, _ = dream(model, images, ONE_OCTAVE)
    path = _only_entry(program_cache)
    data = bytearray(path.read_bytes())
    if damage == "flip a byte":
        data[len(data) // 2] ^= 0xFF
    elif damage == "truncate":
        data = data[: len(data) // 3]
    elif damage == "garbage":
        data = bytearray(os.urandom(4096))
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    model.traces = 0
    again, stats = dream(model, images, ONE_OCTAVE)
    assert model.traces == 1 and stats.programs_from_disk == 0  # compiled again, no crash
    np.testing.assert_array_equal(again, first)
    assert programs.default_cache().counts["rejected"] == 1
    header, _ = programs.read_entry(path)  # and stored again, whole
    assert header["jax"] == jax.__version__


def test_an_entry_from_another_jax_version_is_rebuilt(program_cache, images):
    model = counting_model()
    dream(model, images, ONE_OCTAVE)
    path = _only_entry(program_cache)
    header, payload = programs.read_entry(path)
    programs.write_entry(path, header | {"jax": "0.0.1"}, payload)
    model.traces = 0
    _, stats = dream(model, images, ONE_OCTAVE)
    assert model.traces == 1 and stats.programs_from_disk == 0
    assert programs.read_entry(path)[0]["jax"] == jax.__version__


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (shutil.copyfile, (__file__, self.marker))  # would create the marker file if run


def test_a_hostile_entry_is_refused_and_never_run(program_cache, images, tmp_path):
    model = counting_model()
    dream(model, images, ONE_OCTAVE)
    path = _only_entry(program_cache)
    header, _ = programs.read_entry(path)
    marker = tmp_path / "pwned"
    programs.write_entry(path, header, pickle.dumps((_RunsCode(str(marker)), [], False)))  # valid header, checksum
    model.traces = 0
    with pytest.warns(cache.CacheWarning, match="shutil.copyfile, which is not allowed"):
        _, stats = dream(model, images, ONE_OCTAVE)
    assert not marker.exists()
    assert model.traces == 1 and stats.programs_from_disk == 0


def test_the_allow_list_covers_a_fresh_program(images):
    model = tiny_model()
    dreamer = Dreamer(model)
    args, plan = _octave_program_args(dreamer, model, concrete=True)
    compiled = dreamer._jitted.lower(*args, plan=plan).compile()
    payload, out_tree, devices = executables.dump(compiled)  # raises if a global is not allowed
    loaded = executables.load(payload, out_tree, devices, args)
    for a, b in zip(compiled(*args), loaded(*args)):
        np.testing.assert_array_equal(a, b)


def test_a_folder_other_users_can_write_is_refused(tmp_path, images, monkeypatch):
    root = tmp_path / "shared"
    root.mkdir(mode=0o700)
    root.chmod(0o777)
    monkeypatch.setattr(programs, "_CACHES", {})
    monkeypatch.setitem(cache._state, "warned", set())
    monkeypatch.setitem(cache._state, "configured", False)
    with pytest.warns(cache.CacheWarning) as caught:
        assert cache.ensure_compilation_cache(root) is None
    (warning,) = caught
    assert str(warning.message) == (f"cache folder {root} can be written by other users, so its programs could be "
                                     f"replaced; it is not used (chmod go-w {root})")
    assert programs.default_cache() is None and not (root / "programs").exists()
    cache._state.update(configured=True, root=None)  # the run goes on, uncached
    out, stats = dream(tiny_model(), images, ONE_OCTAVE)
    assert stats.programs_compiled == 1 and np.isfinite(out).all()


def test_a_group_writable_programs_folder_is_refused(program_cache, monkeypatch):
    monkeypatch.setitem(cache._state, "warned", set())
    (program_cache / "programs").mkdir(mode=0o700)
    (program_cache / "programs").chmod(0o770)
    with pytest.warns(cache.CacheWarning, match="can be written by its group"):
        assert programs.default_cache() is None


def test_an_entry_others_can_write_is_not_loaded(program_cache, images):
    model = counting_model()
    dream(model, images, ONE_OCTAVE)
    _only_entry(program_cache).chmod(0o646)
    model.traces = 0
    dream(model, images, ONE_OCTAVE)
    assert model.traces == 1
    assert _only_entry(program_cache).stat().st_mode & 0o777 == 0o600  # rebuilt private


def test_eviction_keeps_the_folder_under_its_bound(program_cache, images):
    model = counting_model()
    dream(model, images, ONE_OCTAVE)
    one_entry = _only_entry(program_cache).stat().st_size
    bound = int(2.5 * one_entry)
    store = programs.default_cache()
    store.max_bytes = bound
    sizes = [(40, 44), (40, 40), (36, 44), (44, 44), (48, 40)]
    for i, (h, w) in enumerate(sizes):
        dream(model, np.resize(images, (1, h, w, 3)), ONE_OCTAVE)
        entries = store.entries()
        assert sum(e.bytes for e in entries) <= bound
        if i == 2:  # touch the oldest survivor: a hit makes it the most recently used
            oldest = min(entries, key=lambda e: e.last_used)
            os.utime(oldest.path, (oldest.last_used + 1000, oldest.last_used + 1000))
            kept = oldest.path
    assert len(store.entries()) == 2
    assert kept in {e.path for e in store.entries()}  # recently used survived two newer writes


def test_jax_cache_folder_is_kept_under_the_bound_too(program_cache, images):
    xla = program_cache / "xla"
    xla.mkdir()
    for i in range(4):
        (xla / f"entry{i}-cache").write_bytes(b"x" * 1000)
        os.utime(xla / f"entry{i}-cache", (1000 + i, 1000 + i))
    programs.default_cache().max_bytes = 2500  # smaller than a program: nothing of ours is written
    dream(counting_model(), images, ONE_OCTAVE)
    assert sorted(p.name for p in xla.iterdir()) == ["entry2-cache", "entry3-cache"]  # oldest out first
    assert programs.default_cache().entries() == []


def test_counts_are_kept_in_the_folder(program_cache, images):
    dream(counting_model(), images, ONE_OCTAVE)
    store = programs.default_cache()
    store.flush_counts()
    assert store.saved_counts() == {"hits": 0, "misses": 1, "stores": 1, "rejected": 0}
    assert store.clear() == 1 and store.entries() == []
    assert store.saved_counts()["stores"] == 0


def test_size_bound_from_the_environment(monkeypatch):
    monkeypatch.setenv(cache.ENV_MAX_SIZE, "500M")
    assert cache.max_cache_bytes() == 500 << 20
    monkeypatch.delenv(cache.ENV_MAX_SIZE)
    assert cache.max_cache_bytes() == cache.DEFAULT_MAX_BYTES == 2 << 30
    assert cache.parse_size("1.5GiB") == 3 << 29 and cache.parse_size("4096") == 4096
    with pytest.raises(cache.DreamjaxError, match="not a size"):
        cache.parse_size("lots")



# A fresh process: the device count is fixed when the CPU backend starts.
TWO_DEVICES = """
import json, sys
import numpy as np
sys.path.insert(0, {tests!r})
from test_programs import counting_model, dream
from dreamjax.runtime import cache
cache.ensure_compilation_cache({root!r})
model = counting_model()
images = np.random.default_rng(1).random((2, 40, 36, 3), dtype=np.float32)
cold, cold_stats = dream(model, images)
traced, model.traces = model.traces, 0
warm, warm_stats = dream(model, images)
print(json.dumps({{"traced": traced, "warm_traces": model.traces, "loaded": warm_stats.programs_from_disk,
                  "same": bool(np.array_equal(cold, warm))}}))
"""


def test_programs_split_over_two_devices_load_too(tmp_path):
    root = tmp_path / "cache"
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    script = TWO_DEVICES.format(tests=os.path.dirname(__file__), root=str(root))
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"traced": 2, "warm_traces": 0, "loaded": 2, "same": True}


JAX_FALLBACK = """
import json, sys
import jax
import numpy as np
sys.path.insert(0, {tests!r})
from test_programs import ONE_OCTAVE, counting_model, dream
from dreamjax.runtime import cache
cache.ensure_compilation_cache({root!r})
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)  # keep even a quick compile
model = counting_model()
images = np.random.default_rng(1).random((1, 40, 36, 3), dtype=np.float32)
out, stats = dream(model, images, ONE_OCTAVE)
np.save({out!r}, out)
print(json.dumps({{"traces": model.traces, "from_disk": stats.programs_from_disk}}))
"""


def test_a_program_jax_cache_served_is_stored_fresh_and_runs(tmp_path):
    """An executable from JAX's cache breaks when serialised again; what is stored must run."""
    root = tmp_path / "cache"

    def run(name):
        script = JAX_FALLBACK.format(tests=os.path.dirname(__file__), root=str(root), out=str(tmp_path / name))
        proc = subprocess.run([sys.executable, "-c", script], env=dict(os.environ, JAX_PLATFORMS="cpu"),
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(proc.stdout.strip().splitlines()[-1]), np.load(tmp_path / name)

    first, picture = run("first.npy")
    assert first == {"traces": 1, "from_disk": 0}
    shutil.rmtree(root / "programs")  # only JAX's cache holds the program now
    second, again = run("second.npy")
    assert second["from_disk"] == 1 and second["traces"] >= 1  # JAX's cache still traces
    third, last = run("third.npy")
    assert third == {"traces": 0, "from_disk": 1}  # from the program cache, and it runs
    np.testing.assert_array_equal(again, picture)
    np.testing.assert_array_equal(last, picture)


def test_code_fingerprint_follows_the_contents_not_the_dates(tmp_path, monkeypatch):
    from dreamjax.runtime.program_key import code_fingerprint

    (tmp_path / "netpkg").mkdir()
    source = tmp_path / "netpkg" / "__init__.py"
    source.write_text("SCALE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    __import__("netpkg")

    def fingerprint():
        code_fingerprint.cache_clear()
        return code_fingerprint("netpkg.model")

    first = fingerprint()
    os.utime(source, (1, 1))
    assert fingerprint() == first  # a checkout that only touches files keeps the programs
    source.write_text("SCALE = 2\n")
    assert fingerprint() != first  # an edit does not
    code_fingerprint.cache_clear()
    monkeypatch.delitem(sys.modules, "netpkg")


def test_threads_building_programs_at_once_share_one_cache_and_its_counts(program_cache):
    import threading

    start, found = threading.Barrier(8), []

    def first_use():
        start.wait()
        found.append(programs.default_cache())

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(c) for c in found}) == 1 and found[0] is programs.default_cache()
