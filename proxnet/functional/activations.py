"""Elementwise activation kernels: ``forward(x) -> (out, cache)``, ``backward(dout, cache) -> dx``.

All arrays have any shape; ``out`` and ``dx`` have the shape and dtype of ``x``.
Caches hold the output where the derivative is cheapest from it (ReLU, sigmoid, tanh).
"""
from __future__ import annotations

import numpy as np

from . import accel

_ZEROS: dict = {}           # dtype -> one flat zero buffer, grown on demand
_ZEROS_MAX = 2**24          # larger inputs use the scalar 0

# The compiled ReLU (:mod:`.accel`) runs on feature maps (3 or more axes) only. On a dense
# layer's activation it would save tens of microseconds per call (25 µs on 2000 × 128 float32,
# AMD EPYC), while the first compiled call of a process imports Numba and loads its cache
# (1.5 s): a study's worker training an MLP would pay that for a gain it recovers only after
# thousands of epochs. A network with feature maps pools them, which loads Numba anyway.


def _compiled_for(a):
    """The compiled-kernel module for a ReLU on ``a`` (a feature map), or None."""
    return accel.compiled() if a.ndim >= 3 else None


def _zeros_like(x):
    """Read-only zeros of the shape and dtype of ``x``: a view of one cached buffer.

    ``np.maximum(x, zeros)`` runs NumPy's vectorized loop for two arrays, which is faster
    than its loop for an array and a scalar operand (``np.maximum(x, 0)``; figures in
    docs/convolution.md). A large buffer comes from ``calloc`` untouched, so reading it
    costs no memory.
    """
    buf = _ZEROS.get(x.dtype)
    if buf is None or buf.size < x.size:
        buf = np.zeros(max(x.size, 2**16), x.dtype)
        buf.flags.writeable = False
        _ZEROS[x.dtype] = buf
    return buf[:x.size].reshape(x.shape)


def relu_forward(x):
    """out = max(x, 0). cache = out."""
    fast = _compiled_for(x)
    if fast is not None and fast.supports(x):
        out = fast.relu(x)
        return out, out
    if x.dtype.kind == "f" and x.size <= _ZEROS_MAX:
        out = np.maximum(x, _zeros_like(x))
    else:
        out = np.maximum(x, 0)
    return out, out


def relu_backward(dout, cache):
    """dx = dout · [out > 0] (the subgradient 0 is used at x = 0, as PyTorch does)."""
    fast = _compiled_for(dout)
    if fast is not None and dout.shape == cache.shape and fast.supports(dout, cache):
        return fast.relu_backward(dout, cache)
    return dout * (cache > 0)


def leaky_relu_forward(x, slope=0.01):
    """out = x if x > 0 else slope·x. cache = (x, slope)."""
    out = np.where(x > 0, x, x * slope)
    return out, (x, slope)


def leaky_relu_backward(dout, cache):
    """dx = dout · (1 if x > 0 else slope)."""
    x, slope = cache
    return np.where(x > 0, dout, dout * slope)


def sigmoid(x):
    """Numerically stable logistic function σ(x) = 1 / (1 + e^{−x}) (no overflow warning)."""
    # σ(x) = ½(1 + tanh(x/2)) is exact and never overflows.
    out = np.multiply(x, 0.5)
    np.tanh(out, out=out)
    out += 1
    out *= 0.5
    return out


def sigmoid_forward(x):
    """out = σ(x). cache = out."""
    out = sigmoid(x)
    return out, out


def sigmoid_backward(dout, cache):
    """dx = dout · out · (1 − out)."""
    out = cache
    return dout * out * (1 - out)


def tanh_forward(x):
    """out = tanh(x). cache = out."""
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    """dx = dout · (1 − out²)."""
    out = cache
    return dout * (1 - out * out)


def identity_forward(x):
    """out = x (no copy)."""
    return x, None


def identity_backward(dout, cache):
    return dout


def softmax(x):
    """softmax over the last axis, exp(x − max) / Σ exp(x − max): no overflow for any finite
    input; float inputs keep their dtype, others become float64."""
    s = x - x.max(axis=-1, keepdims=True)
    if s.dtype.kind != "f":
        s = s.astype(np.float64)
    np.exp(s, out=s)
    s /= s.sum(axis=-1, keepdims=True)
    return s


def log_softmax(x):
    """log softmax over the last axis, x − max − log Σ exp(x − max) (stable: no log of a
    probability that underflowed to 0)."""
    s = x - x.max(axis=-1, keepdims=True)
    if s.dtype.kind != "f":
        s = s.astype(np.float64)
    s -= np.log(np.exp(s).sum(axis=-1, keepdims=True))
    return s


def softmax_forward(x):
    """s = :func:`softmax` (x); cache = s."""
    s = softmax(x)
    return s, s


def softmax_backward(dout, cache):
    """dx = J(x)ᵀ·dout = s ⊙ (dout − Σ_k dout_k s_k): the exact Jacobian-vector product of
    ∂s_i/∂x_j = s_i (δ_ij − s_j), summed over the last axis."""
    s = cache
    return s * (dout - (dout * s).sum(axis=-1, keepdims=True))
