"""Affine (fully connected) kernel: out = x @ W + b.

The products go through :mod:`proxnet.functional.products`: ``@``, except that with the
compiled kernels and a spare core a large product inside training or inference runs as two
blocks of rows on two cores, where that gives the bits of ``@``.
"""
from __future__ import annotations

import numpy as np

from . import products


def affine_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray | None):
    """Forward pass of a dense layer.

    Parameters
    ----------
    x : (N, D) inputs
    W : (D, M) weights
    b : (M,) biases or None

    Returns
    -------
    out : (N, M)
    cache : (x, W) for :func:`affine_backward`
    """
    out = products.matmul(x, W)
    if b is not None:
        out += b
    return out, (x, W)


def affine_backward(dout: np.ndarray, cache, need_dx: bool = True):
    """Backward pass of a dense layer.

    Parameters
    ----------
    dout : (N, M) upstream gradient
    cache : (x (N, D), W (D, M))
    need_dx : bool
        Skip dx (return None) when the input needs no gradient.

    Returns
    -------
    dx : (N, D) or None, dW : (D, M), db : (M,)
    """
    x, W = cache
    dW = products.matmul(x.T, dout)
    db = dout.sum(axis=0)
    dx = products.matmul(dout, W.T) if need_dx else None
    return dx, dW, db
