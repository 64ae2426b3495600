"""Reading IDX files (the MNIST family's format), gzip-compressed or raw, with header checks.

An IDX file is a 4-byte magic number ``0x00 0x00 <type code> <ndim>``, then ``ndim``
big-endian uint32 dimensions, then the payload: ``prod(dims)`` items of the type, big-endian,
C order. Every check below turns a truncated, corrupted or oversized file into a ``ValueError``
that names the file and what was expected, never into silently wrong data, and memory is
bounded by the size the header declares (see :func:`read_idx`).
"""
from __future__ import annotations

import gzip
import io
import math
import os
import zlib
from pathlib import Path

import numpy as np

from .limits import CHUNK, DEFLATE_RATIO, MAX_BYTES, check_declared, check_max_bytes, read_exact

IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
"""IDX type code -> NumPy dtype of the payload (big-endian)."""

_GZIP_MAGIC = b"\x1f\x8b"


class _RawStream:
    """Uncompressed bytes of a file object; ``limit`` is exactly what it can deliver."""

    def __init__(self, f, name, size):
        self._f, self.name, self.limit = f, name, size

    def read(self, n: int) -> bytes:
        return self._f.read(n)


class _GzipStream:
    """Inflates a gzip file (one member or several) at most ``n`` bytes per :meth:`read`.

    The decompressor is never asked for more than the caller wants, so a bomb costs no more
    memory than the bytes taken from it. ``limit`` bounds what the file could ever inflate
    to (see :data:`~proxnet.data.limits.DEFLATE_RATIO`).
    """

    def __init__(self, f, name, size):
        self._f, self.name = f, name
        self.limit = DEFLATE_RATIO * size + 1024
        self._d = zlib.decompressobj(wbits=31)
        self._pending = b""

    def _bad(self, what):
        return ValueError(f"{self.name}: {what}; delete it and fetch it again")

    def _next_member(self) -> bool:
        """After a member's end: start the next one, or report the true end of the file."""
        rest = self._d.unused_data
        while True:
            rest = rest.lstrip(b"\0")  # zero padding after a member is allowed, as in gzip
            if len(rest) >= 2 or not (more := self._f.read(CHUNK)):
                break
            rest += more
        if not rest:
            return False
        if rest[:2] != _GZIP_MAGIC:
            raise self._bad("corrupted gzip file (unexpected data after the compressed "
                            "stream)")
        self._d, self._pending = zlib.decompressobj(wbits=31), rest
        return True

    def read(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            if self._d.eof and not self._next_member():
                break
            data = self._pending or self._f.read(CHUNK)
            if not data:
                raise self._bad("truncated or corrupted gzip file (the compressed stream "
                                "ends early)")
            try:
                out += self._d.decompress(data, n - len(out))
            except zlib.error as exc:
                raise self._bad(f"truncated or corrupted gzip file ({exc})") from None
            self._pending = self._d.unconsumed_tail
        return bytes(out)


def _open_stream(f, name):
    size = len(f.getbuffer()) if isinstance(f, io.BytesIO) else os.fstat(f.fileno()).st_size
    gz = f.read(2) == _GZIP_MAGIC
    f.seek(0)
    return (_GzipStream if gz else _RawStream)(f, name, size)


def _read_header(stream, expected_magic, expected_shape):
    """Magic and dimensions -> (dtype, dims), with every check that needs no payload."""
    name = stream.name
    head = stream.read(4)
    if len(head) < 4:
        raise ValueError(f"{name}: not an IDX file: {len(head)} bytes, shorter than the "
                         "4-byte magic number")
    magic = int.from_bytes(head, "big")
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(
            f"{name}: wrong IDX magic number 0x{magic:08X} ({magic}), expected "
            f"0x{expected_magic:08X} ({expected_magic}); this is not the expected IDX file "
            "or it is corrupted")
    if head[0] != 0 or head[1] != 0 or head[2] not in IDX_TYPES:
        raise ValueError(
            f"{name}: not an IDX file: magic number 0x{magic:08X} should be 0x0000TTDD with "
            f"type code TT in {{{', '.join(f'0x{t:02X}' for t in IDX_TYPES)}}}")
    ndim = head[3]
    raw = stream.read(4 * ndim)
    if len(raw) < 4 * ndim:
        raise ValueError(f"{name}: truncated IDX header: {ndim} dimensions need "
                         f"{4 + 4 * ndim} bytes, file has {4 + len(raw)}")
    dims = tuple(int.from_bytes(raw[4 * i:4 * i + 4], "big") for i in range(ndim))
    if expected_shape is not None and (len(dims) != len(expected_shape) or any(
            e is not None and e != d for e, d in zip(expected_shape, dims))):
        want = "(" + ", ".join("N" if e is None else str(e) for e in expected_shape) + ")"
        raise ValueError(f"{name}: IDX dimensions {dims}, expected {want}")
    return IDX_TYPES[head[2]], dims


def _payload_size(stream, dtype, dims, max_bytes):
    """Bytes the header declares, refused before any allocation when they cannot be right."""
    name, header = stream.name, 4 + 4 * len(dims)
    n_bytes = math.prod(dims) * dtype.itemsize
    declared = f"header declares dims {dims} of {dtype.name} = {n_bytes} payload bytes"
    check_declared(n_bytes, max_bytes, name,
                   f"its IDX header (dims {dims} of {dtype.name}) declares")
    if isinstance(stream, _RawStream) and stream.limit != header + n_bytes:
        found = stream.limit - header
        kind = "truncated" if found < n_bytes else "corrupted (trailing bytes)"
        raise ValueError(f"{name}: {kind} IDX file: {declared}, found {found}")
    if header + n_bytes > stream.limit:
        raise ValueError(f"{name}: truncated IDX file: {declared}, more than a gzip file of "
                         f"its size can hold")
    return n_bytes


def _read_stream(stream, expected_magic, expected_shape, max_bytes) -> np.ndarray:
    name = stream.name
    dtype, dims = _read_header(stream, expected_magic, expected_shape)
    n_bytes = _payload_size(stream, dtype, dims, max_bytes)
    payload = read_exact(stream.read, n_bytes, name)
    declared = f"header declares dims {dims} of {dtype.name} = {n_bytes} payload bytes"
    if len(payload) < n_bytes:
        raise ValueError(f"{name}: truncated IDX file: {declared}, found {len(payload)}")
    if stream.read(1):
        raise ValueError(f"{name}: corrupted (trailing bytes) IDX file: {declared}, but it "
                         "holds more; reading stopped there")
    arr = np.frombuffer(payload, dtype=dtype).reshape(dims)
    if not dtype.isnative and dtype.itemsize > 1:
        try:
            arr = arr.astype(dtype.newbyteorder("="))
        except MemoryError:
            raise ValueError(f"{name}: not enough memory to convert its {n_bytes} bytes to "
                             "native byte order") from None
    return arr


def parse_idx(data: bytes, name: str = "<bytes>", *, expected_magic: int | None = None,
              expected_shape=None, max_bytes: int = MAX_BYTES) -> np.ndarray:
    """Parse IDX content held in memory (raw or gzip-compressed) into a writable array.

    Same checks and errors as :func:`read_idx`; ``name`` is used in the messages.
    """
    with io.BytesIO(data) as f:
        return _read_stream(_open_stream(f, name), expected_magic, expected_shape,
                            check_max_bytes(max_bytes))


def read_idx(path: str | os.PathLike, *, expected_magic: int | None = None,
             expected_shape=None, max_bytes: int = MAX_BYTES) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw) into a new, writable array, within bounded memory.

    The header is read first; the payload size it declares (``prod(dims) * itemsize``) is
    checked against ``max_bytes`` and against what the file could hold (its size when raw,
    :data:`~proxnet.data.limits.DEFLATE_RATIO` times it when compressed) before anything
    is allocated. The payload is then inflated in chunks, and reading stops with an error
    as soon as the stream goes past the declared size: a small ``.gz`` that inflates to
    gigabytes costs no more memory than the size its header declares.

    Parameters
    ----------
    path : str or PathLike
        The file; gzip compression is detected from its content.
    expected_magic : int, optional
        Required magic number (e.g. 2051 for MNIST images, 2049 for labels).
    expected_shape : tuple, optional
        Required dimensions, ``None`` for free axes, e.g. ``(None, 28, 28)``.
    max_bytes : int
        Largest payload accepted (default :data:`~proxnet.data.limits.MAX_BYTES`, 4 GiB).

    Returns
    -------
    ndarray of shape ``dims``
        uint8 for MNIST-family files; other IDX types in native byte order.

    Raises
    ------
    ValueError
        For any truncated, corrupted or oversized file, a payload past its declared size,
        or too little memory; the message names the file and what was expected.
    """
    path = Path(path)
    max_bytes = check_max_bytes(max_bytes)
    with open(path, "rb") as f:
        return _read_stream(_open_stream(f, str(path)), expected_magic, expected_shape,
                            max_bytes)


def write_idx(path: str | os.PathLike, array, *, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed when ``compress`` or a ``.gz`` name).

    The inverse of :func:`read_idx`; used to make small synthetic files for tests.

    Parameters
    ----------
    path : str or PathLike
    array : array-like
        Of a dtype in :data:`IDX_TYPES` (uint8, int8, int16, int32, float32, float64).
    compress : bool, optional
        Default: compress when ``path`` ends with ``.gz``.
    """
    path = Path(path)
    arr = np.asarray(array)
    code = {np.dtype(v).newbyteorder("=").str: k for k, v in IDX_TYPES.items()}.get(
        arr.dtype.newbyteorder("=").str)
    if code is None:
        raise ValueError(f"array: dtype {arr.dtype} has no IDX type code")
    be = arr.astype(IDX_TYPES[code], copy=False)
    payload = (bytes([0, 0, code, arr.ndim])
               + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
               + np.ascontiguousarray(be).tobytes())
    if compress is None:
        compress = path.suffix == ".gz"
    path.write_bytes(gzip.compress(payload, mtime=0) if compress else payload)
    return path
