"""Default dtype and random generators, decided in one place.

proxnet computes with NumPy directly (every module imports it); this module only fixes the
default floating dtype (:data:`DEFAULT_DTYPE`, :func:`resolve_dtype`) and how seeds become
generators (:func:`as_generator`, :func:`spawn`), so that every init, mask and shuffle is
seeded the same way.
"""
from __future__ import annotations

import numpy as np

DEFAULT_DTYPE = np.float32
"""float32 by default for speed; float64 is used by gradient checks and oracle tests."""

_FLOAT_DTYPES = {"float32": np.float32, "float64": np.float64}


def resolve_dtype(dtype) -> np.dtype:
    """Return a NumPy float dtype from ``None``, a name, or a dtype.

    ``None`` gives :data:`DEFAULT_DTYPE`. Only float32 and float64 are accepted.
    """
    if dtype is None:
        return np.dtype(DEFAULT_DTYPE)
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise ValueError(f"dtype: expected 'float32' or 'float64', got {dtype!r}") from exc
    if dt.name not in _FLOAT_DTYPES:
        raise ValueError(f"dtype: expected 'float32' or 'float64', got {dt.name!r}")
    return dt


def as_generator(seed=None) -> np.random.Generator:
    """Return a ``np.random.Generator`` from an int seed, a Generator, or None.

    An existing Generator is returned as is (shared, not copied); ``None`` gives a
    generator seeded from fresh OS entropy (not reproducible, by choice of the caller).
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (int, np.integer)):
        if seed is not None and seed < 0:
            raise ValueError(f"seed: expected a non-negative integer, got {seed}")
        return np.random.default_rng(seed)
    raise ValueError(f"seed: expected None, a non-negative int or np.random.Generator, got {type(seed).__name__}")


def spawn(rng: np.random.Generator, n: int) -> list[np.random.Generator]:
    """Return ``n`` independent child generators of ``rng`` (deterministic given ``rng``)."""
    return rng.spawn(n)
