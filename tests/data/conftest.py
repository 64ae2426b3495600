"""Fixtures for the data tests: real MNIST from ../shared/data, synthetic IDX files, and a
local HTTP server on 127.0.0.1. No test here may reach the internet: an autouse fixture
refuses any URL that is not on 127.0.0.1."""
import functools
import hashlib
import http.server
import os
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from proxnet.data import mnist as mnist_mod
from proxnet.data.idx import write_idx

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPO_ROOT.parent / "shared" / "data"
MNIST_REASON = f"MNIST not found in {SHARED / 'mnist'} (the shared data folder)"


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path_factory):
    """Only 127.0.0.1 may be contacted (every HTTP connection goes through
    ``socket.create_connection``); the cache and data folders are sandboxed."""
    real = socket.create_connection

    def guarded(address, *args, **kwargs):
        if address[0] != "127.0.0.1":
            raise AssertionError(f"test tried to reach the internet: {address}")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)
    monkeypatch.setenv("PROXNET_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("PROXNET_DATA", raising=False)
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy",
                "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


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


ADDRESS_LIMIT = 512 << 20
"""The address-space limit (RLIMIT_AS) hostile files are loaded under."""


def run_limited(code: str, limit: int = ADDRESS_LIMIT, timeout: float = 120.0) -> str:
    """Run ``code`` in a fresh Python under ``RLIMIT_AS = limit``; return what it reports.

    The code runs inside ``try``; the child prints ``OK`` or ``<ExceptionType>: <message>``
    on one line (a MemoryError or any other exception is reported the same way, so the test
    can assert on its type).
    """
    script = "\n".join([
        "import resource, sys",
        f"resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))",
        "try:",
        textwrap.indent(textwrap.dedent(code), "    "),
        "except BaseException as exc:",
        "    print(f'{type(exc).__name__}: {exc}'.replace(chr(10), ' | ')); sys.exit(0)",
        "print('OK')",
    ])
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=timeout, env=env, cwd=str(REPO_ROOT))
    assert out.returncode == 0, f"child failed (rc {out.returncode}):\n{out.stderr[-3000:]}"
    return out.stdout.strip().splitlines()[-1]


def _deflate_zeros(f, head: bytes, n_chunks: int, chunk: int = 16 << 20):
    """Write a raw deflate stream of ``head`` then ``n_chunks * chunk`` zero bytes to ``f``.

    Built from identical pieces (each ends in a full flush, which resets the compressor, so
    one piece serves every chunk): ~1 MB written per GiB inflated, in about a second.
    Returns ``(crc32, inflated size, compressed size)``.
    """
    zeros = bytes(chunk)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(head + zeros) + c.flush(zlib.Z_FULL_FLUSH)
    piece = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    last = c.flush()
    crc = zlib.crc32(zeros, zlib.crc32(head))
    for _ in range(n_chunks - 1):
        crc = zlib.crc32(zeros, crc)
    f.write(first)
    for _ in range(n_chunks - 1):
        f.write(piece)
    f.write(last)
    return crc, len(head) + n_chunks * chunk, len(first) + (n_chunks - 1) * len(piece) + len(last)


def gzip_bomb(path, head: bytes, n_chunks: int) -> int:
    """Write a valid single-member gzip file of ``head`` then ``n_chunks`` x 16 MiB of zeros;
    return the inflated size."""
    with open(path, "wb") as f:
        f.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff")
        crc, size, _ = _deflate_zeros(f, head, n_chunks)
        f.write(struct.pack("<II", crc, size & 0xFFFFFFFF))
    return size


def zip_bomb(path, members: dict, n_chunks: int, declared_size=None) -> int:
    """Write a zip of deflated members. ``members``: name -> head bytes; the *first* member
    gets ``n_chunks`` x 16 MiB of zeros after its head (the others hold just their head).
    ``declared_size`` (default: the truth) is the first member's size in the directory.
    Returns the first member's true inflated size."""
    central, true_size = [], None
    with open(path, "wb") as f:
        for i, (name, head) in enumerate(members.items()):
            offset, fname = f.tell(), name.encode()
            f.write(bytes(30 + len(fname)))  # local header, filled in below
            crc, size, csize = _deflate_zeros(f, head, n_chunks) if i == 0 else (
                zlib.crc32(head), len(head), _write_deflated(f, head))
            true_size = size if i == 0 else true_size
            usize = declared_size if (i == 0 and declared_size is not None) else size
            fields = struct.pack("<HHHHHIIIHH", 20, 0, 8, 0, 0x21, crc, csize, usize,
                                 len(fname), 0)
            end = f.tell()
            f.seek(offset)
            f.write(b"PK\x03\x04" + fields + fname)
            f.seek(end)
            central.append(b"PK\x01\x02" + struct.pack("<H", 20) + fields
                           + struct.pack("<HHHII", 0, 0, 0, 0, offset) + fname)
        cd_offset = f.tell()
        cd = b"".join(central)
        f.write(cd + b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, len(central),
                                                    len(central), len(cd), cd_offset, 0))
    return true_size


def _write_deflated(f, data: bytes) -> int:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush()
    f.write(out)
    return len(out)


def npy_header(shape, descr="|u1") -> bytes:
    """The bytes of an .npy (1.0) header for an array of ``shape`` and dtype ``descr``."""
    import io
    import numpy as np
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False,
                                               "shape": tuple(shape)})
    return buf.getvalue()


def idx_header(dims, type_code=0x08) -> bytes:
    """The header of an IDX file with these dimensions (uint8 by default)."""
    return bytes([0, 0, type_code, len(dims)]) + b"".join(int(d).to_bytes(4, "big")
                                                          for d in dims)


@pytest.fixture(scope="session")
def limited():
    """``limited(code) -> 'OK' or '<Exception>: <message>'`` (see :func:`run_limited`)."""
    return run_limited


@pytest.fixture(scope="session")
def hostile():
    """Builders of hostile files: ``.gzip_bomb``, ``.zip_bomb``, ``.idx_header``,
    ``.npy_header`` (see the functions of those names)."""
    return type("Hostile", (), {name: staticmethod(f) for name, f in (
        ("gzip_bomb", gzip_bomb), ("idx_header", idx_header), ("zip_bomb", zip_bomb),
        ("npy_header", npy_header))})


class _HostileHandler(http.server.BaseHTTPRequestHandler):
    """Misbehaving server routes (each loop gives up after 10 s or when the client leaves)."""

    protocol_version = "HTTP/1.1"
    good = b""  # the body of /good, set by the fixture

    def log_message(self, *args):
        pass

    def _head(self, code=200, length=None, extra=()):
        self.send_response(code)
        if length is not None:
            self.send_header("Content-Length", str(length))
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Connection", "close")
        self.end_headers()

    def _drip(self, data: bytes, pause: float, give_up: float = 10.0):
        t0 = time.monotonic()
        for i in range(len(data)):
            if time.monotonic() - t0 > give_up:
                return
            self.wfile.write(data[i:i + 1])
            self.wfile.flush()
            time.sleep(pause)

    def do_GET(self):  # noqa: C901 - one branch per route
        route = self.path.strip("/").split("/")[0]
        try:
            if route == "good":
                self._head(200, len(self.good))
                self.wfile.write(self.good)
            elif route == "drip":          # 1 byte per second, Content-Length 1000
                self._head(200, 1000)
                self._drip(bytes(1000), 1.0)
            elif route == "header-drip":   # the status line, then headers 1 byte per 0.2 s
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                self.wfile.flush()
                self._drip(b"X-Slow: " + b"a" * 200, 0.2)
            elif route == "stall":         # 10 bytes, then silence
                self._head(200, 1000)
                self.wfile.write(bytes(10))
                self.wfile.flush()
                time.sleep(10)
            elif route == "short":         # promises 1000 bytes, sends 500 and closes
                self._head(200, 1000)
                self.wfile.write(bytes(500))
            elif route == "endless":       # no Content-Length, zeros until the client leaves
                self._head(200)
                t0 = time.monotonic()
                while time.monotonic() - t0 < 10:
                    self.wfile.write(bytes(1 << 16))
            elif route == "big-length":    # declares 10 GB
                self._head(200, 10 ** 10)
                self.wfile.write(bytes(1000))
            elif route in ("404", "500"):
                self.send_error(int(route))
            elif route == "to-file":
                self._head(302, 0, [("Location", "file:///etc/passwd")])
            elif route == "to-ftp":
                self._head(301, 0, [("Location", "ftp://127.0.0.1/x")])
            elif route == "to-good":
                self._head(302, 0, [("Location", "/good/" + self.path.split("/")[-1])])
            else:
                self.send_error(404)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def hostile_http():
    """A misbehaving HTTP server on 127.0.0.1; yields (base URL, handler class). Routes:
    ``good`` (serves ``handler.good``), ``drip``, ``header-drip``, ``stall``, ``short``,
    ``endless``, ``big-length``, ``404``, ``500``, ``to-file``, ``to-ftp``, ``to-good``."""
    handler = type("Handler", (_HostileHandler,), {"good": b""})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", handler
    finally:
        server.shutdown()
        server.server_close()
