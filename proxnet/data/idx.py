"""Reading IDX files (the MNIST family's format), gzip-compressed or raw, with header checks.

An IDX file is a 4-byte magic number ``0x00 0x00 <type code> <ndim>``, then ``ndim``
big-endian uint32 dimensions, then the payload: ``prod(dims)`` items of the type, big-endian,
C order. Every check below turns a truncated or corrupted file into a ``ValueError`` that names
the file and what was expected, never into silently wrong data.
"""
from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

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


def read_bytes(path) -> bytes:
    """Return the content of ``path``, decompressed when it is gzip data.

    Compression is detected from the content (gzip magic bytes), not the file name, so
    ``.gz`` and raw files are both accepted whatever they are called.

    Raises
    ------
    ValueError
        If the gzip stream is truncated or corrupted (the message names the file).
    """
    path = Path(path)
    data = path.read_bytes()
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as exc:
            raise ValueError(
                f"{path}: truncated or corrupted gzip file ({exc}); delete it and fetch it "
                "again") from None
    return data


def parse_idx(data: bytes, name: str = "<bytes>", *, expected_magic: int | None = None,
              expected_shape=None) -> np.ndarray:
    """Parse IDX bytes into a read-only array view (native byte order where possible).

    Parameters
    ----------
    data : bytes
        Uncompressed IDX content.
    name : str
        File name used in error messages.
    expected_magic : int, optional
        The whole 4-byte magic as an int, e.g. ``2051`` (``0x00000803``: uint8, 3 dims) for
        MNIST images, ``2049`` (``0x00000801``: uint8, 1 dim) for labels.
    expected_shape : tuple, optional
        Expected dimensions with ``None`` for free axes, e.g. ``(None, 28, 28)``.

    Returns
    -------
    ndarray of shape ``dims``
        dtype from the type code (uint8 for MNIST), read-only when no byte swap was needed.

    Raises
    ------
    ValueError
        Wrong magic, unknown type code, short header, unexpected dimensions, or a payload
        whose length is not ``prod(dims) * itemsize``.
    """
    if len(data) < 4:
        raise ValueError(f"{name}: not an IDX file: {len(data)} bytes, shorter than the 4-byte "
                         "magic number")
    magic = int.from_bytes(data[:4], "big")
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(
            f"{name}: wrong IDX magic number 0x{magic:08X} ({magic}), expected "
            f"0x{expected_magic:08X} ({expected_magic}); this is not the expected IDX file "
            "or it is corrupted")
    if data[0] != 0 or data[1] != 0 or data[2] not in IDX_TYPES:
        raise ValueError(
            f"{name}: not an IDX file: magic number 0x{magic:08X} should be 0x0000TTDD with "
            f"type code TT in {{{', '.join(f'0x{t:02X}' for t in IDX_TYPES)}}}")
    dtype = IDX_TYPES[data[2]]
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{name}: truncated IDX header: {ndim} dimensions need {header} bytes, "
                         f"file has {len(data)}")
    dims = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    if expected_shape is not None:
        if len(dims) != len(expected_shape) or any(
                e is not None and e != d for e, d in zip(expected_shape, dims)):
            want = "(" + ", ".join("N" if e is None else str(e) for e in expected_shape) + ")"
            raise ValueError(f"{name}: IDX dimensions {dims}, expected {want}")
    n_items = int(np.prod(dims, dtype=np.int64)) if dims else 1
    want_bytes = n_items * dtype.itemsize
    got_bytes = len(data) - header
    if got_bytes != want_bytes:
        kind = "truncated" if got_bytes < want_bytes else "corrupted (trailing bytes)"
        raise ValueError(
            f"{name}: {kind} IDX file: header declares dims {dims} of {dtype.name} = "
            f"{want_bytes} payload bytes, found {got_bytes}")
    arr = np.frombuffer(data, dtype=dtype, count=n_items, offset=header).reshape(dims)
    if not dtype.isnative and dtype.itemsize > 1:
        arr = arr.astype(dtype.newbyteorder("="))
    return arr


def read_idx(path: str | os.PathLike, *, expected_magic: int | None = None,
             expected_shape=None) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw) into a new, writable array.

    Parameters
    ----------
    path : str or PathLike
        The file; gzip compression is detected from its content.
    expected_magic : int, optional
        Required magic number (e.g. 2051 for MNIST images, 2049 for labels).
    expected_shape : tuple, optional
        Required dimensions, ``None`` for free axes, e.g. ``(None, 28, 28)``.

    Returns
    -------
    ndarray of shape ``dims``
        uint8 for MNIST-family files; other IDX types in native byte order.

    Raises
    ------
    ValueError
        For any truncated or corrupted file; the message names the file and what was
        expected.
    """
    path = Path(path)
    return parse_idx(read_bytes(path), str(path), expected_magic=expected_magic,
                     expected_shape=expected_shape).copy()


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
