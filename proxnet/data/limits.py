"""Size limits shared by every loader: one cap, one bounded read, one clear error.

A file says how big it is (an IDX header's dimensions, a zip directory's sizes, an ``.npy``
header's shape, an HTTP Content-Length); the loaders compare that with :data:`MAX_BYTES` (or
the caller's ``max_bytes``) *before* they allocate anything, then read in chunks and stop as
soon as the data run past what was declared. Memory therefore grows with the bytes actually
present, never with what a header claims.
"""
from __future__ import annotations

import numpy as np

MAX_BYTES = 4 << 30
"""Default cap (4 GiB) on what one file may make a loader hold in memory."""

CHUNK = 4 << 20
"""Bytes read (or inflated) per step: the most any single read allocates."""

DEFLATE_RATIO = 1032
"""Deflate cannot expand data more than about 1032:1 (258-byte matches in ~2 bits), so a
compressed file of S bytes never inflates past ``DEFLATE_RATIO * S + 1024`` bytes."""


def check_max_bytes(value, name: str = "max_bytes") -> int:
    """Return ``value`` as an int in [1, 2**50] or raise ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not (
            1 <= value <= 1 << 50):
        raise ValueError(f"{name}: expected an integer number of bytes in [1, 2**50], "
                         f"got {value!r}")
    return int(value)


def human(n: int) -> str:
    """``12345678`` -> ``'11.8 MiB'`` (for messages)."""
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{int(size)} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def check_declared(n_bytes: int, max_bytes: int, name: str, what: str) -> int:
    """Refuse a declared size above ``max_bytes`` before anything is allocated.

    The message reads ``"<name>: <what> <n> bytes (...), more than max_bytes=..."``, so
    ``what`` is a subject and verb, e.g. ``"its IDX header declares"``.
    """
    if n_bytes > max_bytes:
        raise ValueError(f"{name}: {what} {n_bytes} bytes ({human(n_bytes)}), more than "
                         f"max_bytes={max_bytes} ({human(max_bytes)}); pass a larger "
                         "max_bytes if the file is genuine")
    return n_bytes


def read_exact(read, n: int, name: str) -> bytearray:
    """Read ``n`` bytes with ``read(k)`` in chunks of at most :data:`CHUNK`.

    Returns fewer than ``n`` bytes only when the stream ends early (the caller reports the
    truncation). Memory grows with the bytes read; running out of it is a ``ValueError``
    naming the file, not a ``MemoryError`` from deep inside.
    """
    buf = bytearray()
    try:
        while len(buf) < n:
            piece = read(min(CHUNK, n - len(buf)))
            if not piece:
                break
            buf += piece
    except MemoryError:
        del buf
        raise ValueError(f"{name}: not enough memory to hold its {n} declared bytes "
                         f"({human(n)})") from None
    return buf
