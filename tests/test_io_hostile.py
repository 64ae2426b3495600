"""Hostile model files: each is built here and loaded in a subprocess under a 512 MiB
address-space limit; every one must end in ModelFileError (never MemoryError, RecursionError,
TypeError or another exception), and loading must never unpickle."""
import io
import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

import proxnet
from proxnet import Sequential
from proxnet.layers import Dense, ReLU

LIMIT = 512 * 2**20


def _npy(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def _meta_bytes(meta) -> bytes:
    return _npy(np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))


def _good(path: Path) -> dict:
    model = Sequential([Dense(4, 3), ReLU(), Dense(3, 2)], seed=0, optimizer="adam")
    model.fit(np.ones((4, 4)), np.array([0, 1, 0, 1]), epochs=1, batch_size=2, seed=0, verbose=False)
    proxnet.save(model, path)
    with zipfile.ZipFile(path) as z:
        return {n[:-4]: z.read(n) for n in z.namelist()}


def _meta_of(entries):
    return json.loads(np.load(io.BytesIO(entries["__meta__"])).tobytes())


def _write(path, entries, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in entries.items():
            z.writestr(name + ".npy", data)
    return path


def _with_meta(tmp_path, name, mutate):
    entries = _good(tmp_path / "good.npz")
    meta = _meta_of(entries)
    mutate(meta)
    entries["__meta__"] = _meta_bytes(meta)
    return _write(tmp_path / name, entries)


def _zip_bomb(path, entry, shape, meta_mutate=None, good=None):
    """A zip whose ``entry`` is a deflated .npy of zeros of ``shape`` (float32)."""
    entries = dict(good)
    meta = _meta_of(entries)
    if meta_mutate:
        meta_mutate(meta)
    entries["__meta__"] = _meta_bytes(meta)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, data in entries.items():
            if name != entry:
                z.writestr(name + ".npy", data)
        with z.open(entry + ".npy", "w", force_zip64=True) as f:
            f.write(header.getvalue())
            zeros, left = bytes(2**24), int(np.prod(shape)) * 4
            while left:
                f.write(zeros[:min(left, len(zeros))])
                left -= min(left, len(zeros))
    return path


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    good = _good(d / "good.npz")
    files = {}
    files["metadata bomb 12000x12000"] = _with_meta(
        d, "bomb1.npz", lambda m: m["layers"][0]["config"].update(in_features=12000, out_features=12000))
    files["metadata bomb 60000x60000"] = _with_meta(
        d, "bomb2.npz", lambda m: m["layers"][0]["config"].update(in_features=60000, out_features=60000))
    files["bool format_version"] = _with_meta(d, "v-bool.npz", lambda m: m.update(format_version=True))
    files["float format_version"] = _with_meta(d, "v-float.npz", lambda m: m.update(format_version=2.0))
    files["unknown layer class"] = _with_meta(d, "cls.npz", lambda m: m["layers"][0].update({"class": "os.system"}))
    files["config of the wrong type"] = _with_meta(d, "cfg.npz", lambda m: m["layers"][0].update(config=[1, 2]))
    files["bad constructor argument"] = _with_meta(d, "arg.npz", lambda m: m["layers"][0]["config"].update(evil=1))
    files["bad stream state"] = _with_meta(d, "rng.npz", lambda m: m["training"].update(streams={"shuffle": 1, "layers": []}))
    files["missing optimizer slot"] = _with_meta(
        d, "slot.npz", lambda m: m["training"]["optimizer"]["scalars"].pop("0.W/t"))
    nested = dict(good)
    nested["__meta__"] = _npy(np.frombuffer(("[" * 100_000 + "]" * 100_000).encode(), np.uint8))
    files["100,000-deep JSON"] = _write(d / "nested.npz", nested)
    files["renamed .npy"] = d / "renamed.npz"
    files["renamed .npy"].write_bytes(_npy(np.arange(10.0)))
    files["not JSON"] = _write(d / "notjson.npz", {**good, "__meta__": _npy(np.frombuffer(b"\xff\xfe{", np.uint8))})
    complex_entries = dict(good)
    w = np.load(io.BytesIO(good["param/0.W"]))
    complex_entries["param/0.W"] = _npy(w.astype(np.complex64))
    files["complex parameters"] = _write(d / "complex.npz", complex_entries)
    huge = dict(good)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (1_000_000, 1_000_000)})
    huge["param/0.W"] = header.getvalue() + bytes(64)          # declares 8 TB (7.3 TiB), holds 64 bytes
    files["7 TiB declared array"] = _write(d / "huge.npz", huge)
    files["pickled object array"] = _write(d / "pickle.npz", {**good, "param/0.W": _npy_object()})
    files["truncated"] = d / "truncated.npz"
    raw = (d / "good.npz").read_bytes()
    files["truncated"].write_bytes(raw[:len(raw) * 2 // 3])
    files["zip bomb, extra entry"] = _zip_bomb(d / "zb1.npz", "param/9.W", (25_000, 10_000), good=good)
    big = dict(good)
    files["zip bomb, matching layer"] = _zip_bomb(
        d / "zb2.npz", "param/0.W", (25_000, 3),
        meta_mutate=lambda m: (m["layers"][0]["config"].update(in_features=25_000),
                               m["arrays"].update({"param/0.W": {"shape": [25_000, 3], "dtype": "<f4",
                                                                  "sha256": "0" * 64}})),
        good=big)
    files["zip bomb, 600 MB layer"] = _zip_bomb(              # a 600 KB file, consistent throughout
        d / "zb3.npz", "param/0.W", (50_000_000, 3),
        meta_mutate=lambda m: (m["layers"][0]["config"].update(in_features=50_000_000),
                               m["arrays"].update({"param/0.W": {"shape": [50_000_000, 3], "dtype": "<f4",
                                                                  "sha256": "0" * 64}})),
        good=big)
    return files


def _npy_object() -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.array([object()], dtype=object), allow_pickle=True)
    return buf.getvalue()


SCRIPT = textwrap.dedent("""
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
    import proxnet
    out = {{}}
    for name, path in json.loads(sys.argv[1]).items():
        try:
            proxnet.load(path)
            out[name] = ["loaded", ""]
        except BaseException as exc:
            out[name] = [type(exc).__name__, str(exc)[:300]]
    print(json.dumps(out))
""")


def test_every_hostile_file_ends_in_model_file_error_under_512_mib(hostile):
    arg = json.dumps({k: str(v) for k, v in hostile.items()})
    proc = subprocess.run([sys.executable, "-c", SCRIPT.format(limit=LIMIT), arg],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    outcomes = json.loads(proc.stdout)
    wrong = {k: v for k, v in outcomes.items() if v[0] != "ModelFileError"}
    assert not wrong, wrong
    for name, (_, message) in outcomes.items():
        assert str(hostile[name]) in message          # every message names the file
    assert "shape" in outcomes["metadata bomb 60000x60000"][1]
    assert "format_version" in outcomes["bool format_version"][1]
    assert "complex" in outcomes["complex parameters"][1]
    assert "JSON" in outcomes["100,000-deep JSON"][1]
    assert "memory" in outcomes["zip bomb, 600 MB layer"][1] or "max_bytes" in outcomes["zip bomb, 600 MB layer"][1]


def test_max_bytes_caps_what_a_file_may_expand_to(hostile, tmp_path):
    good = tmp_path / "g.npz"
    _good(good)
    proxnet.load(good)
    with pytest.raises(proxnet.ModelFileError, match="max_bytes"):
        proxnet.load(good, max_bytes=100)
    with pytest.raises(ValueError, match="max_bytes"):
        proxnet.load(good, max_bytes=True)


def test_a_consistent_large_entry_is_held_once_while_checked(tmp_path):
    """A file that declares a large layer consistently (a 200 MB float32 array here, its
    digest wrong) costs the array's size once: it is hashed while read, never copied."""
    good = _good(tmp_path / "good.npz")
    n = 50_000_000 // 3
    path = _zip_bomb(tmp_path / "big.npz", "param/0.W", (n, 3), good=good, meta_mutate=lambda m: (
        m["layers"][0]["config"].update(in_features=n),
        m["arrays"].update({"param/0.W": {"shape": [n, 3], "dtype": "<f4", "sha256": "0" * 64}})))
    code = textwrap.dedent("""
        import resource, sys, proxnet
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            proxnet.load(sys.argv[1])
        except proxnet.ModelFileError as exc:
            assert "SHA-256" in str(exc), exc
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
    """)
    grown = int(subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                               text=True, check=True, timeout=300).stdout)
    declared = n * 3 * 4
    assert grown < 1.25 * declared, (grown, declared)
