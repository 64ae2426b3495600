"""Convolution and pooling kernels against naive loop references (float64, no PyTorch).

The references below are written from the definitions, one output (or one window) at a
time, with plain Python loops: slow, but obviously right. They make conv and pool
correctness independent of the PyTorch oracle (which is optional): many strides, paddings,
kernel shapes, thin and wide filter banks (row groups on and off) and chunk sizes.
"""
import itertools

import numpy as np
import pytest

from proxnet.functional.conv import conv2d_backward, conv2d_forward
from proxnet.functional.pool import (avg_pool2d_backward, avg_pool2d_forward,
                                     max_pool2d_backward, max_pool2d_forward)

TOL = 1e-12


def _padded(x, padding):
    """x (N, C, H, W) with ``padding`` (ph, pw) zeros on each side, in float64."""
    N, C, H, Wd = x.shape
    ph, pw = padding
    xpad = np.zeros((N, C, H + 2 * ph, Wd + 2 * pw))
    xpad[:, :, ph:ph + H, pw:pw + Wd] = x
    return xpad


def naive_conv2d(x, W, b, stride, padding):
    """out[n, f, r, q] = b[f] + Σ_{c,i,j} W[f, c, i, j] · xpad[n, c, sh·r + i, sw·q + j]."""
    N, C, H, Wd = x.shape
    F, _, kh, kw = W.shape
    (sh, sw), (ph, pw) = stride, padding
    xpad = _padded(x, padding)
    OH, OW = (H + 2 * ph - kh) // sh + 1, (Wd + 2 * pw - kw) // sw + 1
    out = np.zeros((N, F, OH, OW))
    for n, f, r, q in itertools.product(range(N), range(F), range(OH), range(OW)):
        s = 0.0 if b is None else b[f]
        for c, i, j in itertools.product(range(C), range(kh), range(kw)):
            s += W[f, c, i, j] * xpad[n, c, sh * r + i, sw * q + j]
        out[n, f, r, q] = s
    return out


def naive_conv2d_backward(dout, x, W, stride, padding):
    """dx, dW, db of Σ dout · conv(x, W, b), accumulated output by output."""
    N, C, H, Wd = x.shape
    F, _, kh, kw = W.shape
    (sh, sw), (ph, pw) = stride, padding
    xpad = _padded(x, padding)
    dxpad, dW, db = np.zeros_like(xpad), np.zeros_like(W), np.zeros(F)
    for n, f, r, q in itertools.product(*map(range, dout.shape)):
        g = dout[n, f, r, q]
        db[f] += g
        for c, i, j in itertools.product(range(C), range(kh), range(kw)):
            dW[f, c, i, j] += g * xpad[n, c, sh * r + i, sw * q + j]
            dxpad[n, c, sh * r + i, sw * q + j] += g * W[f, c, i, j]
    return dxpad[:, :, ph:ph + H, pw:pw + Wd], dW, db


def naive_pool2d(x, kernel, stride, kind):
    """Max (with the index of the first maximum, row-major) or mean of every window."""
    (kh, kw), (sh, sw) = kernel, stride
    N, C, H, Wd = x.shape
    OH, OW = (H - kh) // sh + 1, (Wd - kw) // sw + 1
    out = np.zeros((N, C, OH, OW))
    first = {}
    for n, c, r, q in itertools.product(range(N), range(C), range(OH), range(OW)):
        window = [(sh * r + i, sw * q + j) for i in range(kh) for j in range(kw)]
        values = [x[n, c, a, e] for a, e in window]
        if kind == "max":
            best = max(values)
            out[n, c, r, q] = best
            first[n, c, r, q] = window[values.index(best)]   # first in row-major order
        else:
            out[n, c, r, q] = sum(values) / len(values)
            first[n, c, r, q] = window
    return out, first


def naive_pool2d_backward(dout, xshape, first, kind):
    dx = np.zeros(xshape)
    for (n, c, r, q), where in first.items():
        if kind == "max":
            dx[n, c, where[0], where[1]] += dout[n, c, r, q]
        else:
            for a, e in where:
                dx[n, c, a, e] += dout[n, c, r, q] / len(where)
    return dx


# (C, F, H, W, kernel, stride, padding)
CONV_GEOMETRIES = [
    (1, 2, 6, 6, 3, 1, 0),
    (1, 6, 8, 8, 5, 1, 2),              # LeNet's first layer, small: row groups of 4
    (1, 3, 6, 7, 3, 1, 1),              # OH = 6: row groups of 2
    (3, 5, 7, 6, 3, (2, 1), 1),         # RGB, vertical stride 2
    (2, 9, 6, 6, 3, 1, 0),              # F >= 8: no row groups
    (6, 16, 9, 9, 5, 1, 0),             # LeNet's second layer, small
    (2, 3, 7, 5, 3, 2, 1),              # exact columns (horizontal stride 2)
    (1, 2, 5, 7, (2, 3), (1, 2), (1, 0)),
    (2, 2, 9, 8, 3, 3, 0),              # stride = kernel, leftover rows and columns
    (2, 3, 5, 5, 1, 1, 0),              # 1×1
    (1, 2, 4, 4, 4, 1, 3),              # padding close to the kernel size
    (2, 2, 8, 9, (3, 2), (3, 2), (2, 1)),
]


@pytest.mark.parametrize("geo", CONV_GEOMETRIES, ids=lambda g: "-".join(map(str, g)))
@pytest.mark.parametrize("chunk_bytes", [1, None])
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_matches_the_naive_loops(geo, chunk_bytes, bias):
    C, F, H, Wd, k, s, p = geo
    k, s, p = (v if isinstance(v, tuple) else (v, v) for v in (k, s, p))
    rng = np.random.default_rng(sum(map(hash, map(str, geo))) % 2**32)
    x = rng.normal(size=(3, C, H, Wd))
    W = rng.normal(size=(F, C) + k)
    b = rng.normal(size=F) if bias else None
    out, cache = conv2d_forward(x, W, b, s, p, chunk_bytes=chunk_bytes)
    np.testing.assert_allclose(out, naive_conv2d(x, W, b, s, p), rtol=0, atol=TOL)
    dout = rng.normal(size=out.shape)
    ref_dx, ref_dW, ref_db = naive_conv2d_backward(dout, x, W, s, p)
    for need_dx in (True, False):
        dx, dW, db = conv2d_backward(dout, cache, need_dx=need_dx)
        np.testing.assert_allclose(dW, ref_dW, rtol=0, atol=TOL)
        np.testing.assert_allclose(db, ref_db, rtol=0, atol=TOL)
        if need_dx:
            np.testing.assert_allclose(dx, ref_dx, rtol=0, atol=TOL)
        else:
            assert dx is None


# (H, W, kernel, stride)
POOL_GEOMETRIES = [
    (6, 6, 2, 2), (7, 5, 2, 2), (7, 7, 3, 2), (5, 6, 3, 1), (6, 7, (2, 3), (1, 2)),
    (8, 7, 2, 3), (4, 4, 1, 1), (9, 6, 3, 3), (6, 7, 2, 2), (5, 5, 5, 1), (6, 4, (3, 1), (3, 1)),
]


@pytest.mark.parametrize("geo", POOL_GEOMETRIES, ids=lambda g: "-".join(map(str, g)))
@pytest.mark.parametrize("values", ["continuous", "ties", "all-negative"])
def test_pools_match_the_naive_loops(geo, values):
    H, Wd, k, s = geo
    k, s = (v if isinstance(v, tuple) else (v, v) for v in (k, s))
    rng = np.random.default_rng(H * 100 + Wd)
    shape = (2, 3, H, Wd)
    x = {"continuous": lambda: rng.normal(size=shape),
         "ties": lambda: rng.integers(0, 3, size=shape).astype(float),
         "all-negative": lambda: -rng.integers(1, 3, size=shape).astype(float)}[values]()
    for kind, fwd, bwd in (("max", max_pool2d_forward, max_pool2d_backward),
                           ("avg", avg_pool2d_forward, avg_pool2d_backward)):
        out, cache = fwd(x, k, s)
        ref, first = naive_pool2d(x, k, s, kind)
        np.testing.assert_allclose(out, ref, rtol=0, atol=TOL)
        dout = rng.normal(size=out.shape)
        np.testing.assert_allclose(bwd(dout, cache), naive_pool2d_backward(dout, shape, first, kind),
                                   rtol=0, atol=TOL)


def test_the_naive_references_themselves():
    """Hand-computed cases, so that the references do not merely agree with the kernels."""
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    W = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])          # x[r, q] − x[r + 1, q + 1] = −5
    out = naive_conv2d(x, W, np.array([0.5]), (1, 1), (0, 0))
    np.testing.assert_array_equal(out, np.full((1, 1, 3, 3), -4.5))
    dx, dW, db = naive_conv2d_backward(np.ones((1, 1, 3, 3)), x, W, (1, 1), (0, 0))
    assert db[0] == 9 and dW[0, 0, 0, 0] == x[0, 0, :3, :3].sum() and dx[0, 0, 0, 0] == 1
    assert dx[0, 0, 3, 3] == -1 and dx[0, 0, 1, 1] == 0    # +1 from one window, −1 from another
    xp = np.array([[[[1.0, 3.0], [3.0, 0.0]]]])
    out, first = naive_pool2d(xp, (2, 2), (2, 2), "max")
    assert out[0, 0, 0, 0] == 3 and first[0, 0, 0, 0] == (0, 1)   # the first of the tied 3s
    assert naive_pool2d(xp, (2, 2), (2, 2), "avg")[0][0, 0, 0, 0] == 7 / 4
