"""Fixtures for the data tests: real MNIST from ../shared/data, synthetic IDX files, and a
local HTTP server on 127.0.0.1. No test here may reach the internet: an autouse fixture
refuses any URL that is not on 127.0.0.1."""
import functools
import hashlib
import http.server
import socket
import threading
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from proxnet.data import download as download_mod
from proxnet.data import mnist as mnist_mod
from proxnet.data.idx import write_idx

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPO_ROOT.parent / "shared" / "data"
MNIST_REASON = f"MNIST not found in {SHARED / 'mnist'} (the shared data folder)"


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path_factory):
    """Only 127.0.0.1 may be contacted; the cache and data folders are sandboxed."""
    real = urllib.request.urlopen

    def guarded(url, *args, **kwargs):
        full = url if isinstance(url, str) else url.full_url
        if not full.startswith("http://127.0.0.1:"):
            raise AssertionError(f"test tried to reach the internet: {full}")
        return real(url, *args, **kwargs)

    monkeypatch.setattr(download_mod.urllib.request, "urlopen", guarded)
    monkeypatch.setenv("PROXNET_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("PROXNET_DATA", raising=False)


@pytest.fixture(scope="session")
def shared_data():
    """The parent data folder holding ``mnist/`` (skips visibly when absent)."""
    if not (SHARED / "mnist" / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(MNIST_REASON)
    return SHARED


@pytest.fixture
def mnist_env(shared_data, monkeypatch):
    """PROXNET_DATA pointing at the shared data folder."""
    monkeypatch.setenv("PROXNET_DATA", str(shared_data))
    return shared_data


@pytest.fixture(scope="session")
def mnist_full(shared_data):
    """``load_dataset("mnist")`` read through $PROXNET_DATA, loaded once per session."""
    from proxnet.data import load_dataset

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PROXNET_DATA", str(shared_data))
        mp.setenv("PROXNET_CACHE", str(shared_data / "no-such-cache"))
        mp.setattr(mnist_mod, "download_file", _no_download)
        return load_dataset("mnist")


def _no_download(*args, **kwargs):
    raise AssertionError("MNIST should have been read from the shared folder")


SYNTH_COUNTS = {"train": 30, "test": 20}


def make_synthetic(folder, seed=0, compress=True):
    """Write small valid MNIST-like IDX files into ``folder``; return {name: md5 of file}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    md5 = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        n = SYNTH_COUNTS[split]
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        suffix = ".gz" if compress else ""
        for kind, arr in (("images-idx3-ubyte", images), ("labels-idx1-ubyte", labels)):
            path = write_idx(folder / f"{prefix}-{kind}{suffix}", arr, compress=compress)
            md5[path.name] = hashlib.md5(path.read_bytes()).hexdigest()
    return md5


@pytest.fixture
def make_files():
    """``make_files(folder, seed=0, compress=True) -> {file name: md5}``."""
    return make_synthetic


@pytest.fixture
def synthetic(tmp_path):
    """A folder ``served/`` with synthetic ``.gz`` files, and their MD5s."""
    served = tmp_path / "served"
    return served, make_synthetic(served)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_root(tmp_path):
    """A local HTTP server on 127.0.0.1 serving ``tmp_path / "www"``; yields (root, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def dead_url():
    """A base URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"
