"""Inverted dropout kernel."""
from __future__ import annotations

import numpy as np


def dropout_forward(x, rate: float, rng: np.random.Generator, training: bool):
    """Inverted dropout: drop each entry with probability ``rate``, scale the kept by 1/(1−rate).

    Parameters
    ----------
    x : array of any shape
    rate : float in [0, 1), probability of dropping
    rng : np.random.Generator drawing the mask
    training : bool; at inference the input is returned unchanged

    Returns
    -------
    out : same shape as x
    cache : the scaled mask (same shape as x, dtype of x) or None
    """
    if not training or rate == 0.0:
        return x, None
    keep = 1.0 - rate
    mask = rng.random(x.shape, dtype=x.dtype if x.dtype in (np.float32, np.float64) else np.float64)
    mask = (mask < keep).astype(x.dtype)
    mask *= 1.0 / keep
    return x * mask, mask


def dropout_backward(dout, cache):
    """dx = dout · mask (the identity when no mask was drawn)."""
    return dout if cache is None else dout * cache
