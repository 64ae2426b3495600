"""Fused kernels equal the unfused composition: outputs identical, gradients identical.

On both kernel paths (NumPy; compiled where Numba is installed), random inputs with
continuous values, many ties (small integers, zeros included) and all-negative windows.
"""
import numpy as np
import pytest

from proxnet.functional import accel
from proxnet.functional.activations import relu_backward, relu_forward
from proxnet.functional.conv import conv2d_backward, conv2d_forward
from proxnet.functional.fused import (conv2d_relu_backward, conv2d_relu_forward,
                                      relu_max_pool2d_backward, relu_max_pool2d_forward)
from proxnet.functional.pool import max_pool2d_backward, max_pool2d_forward

PATHS = ["numpy", pytest.param("numba", marks=pytest.mark.skipif(
    accel._load() is None, reason="Numba not installed (pip install proxnet[fast]): compiled path untested"))]


@pytest.fixture(params=PATHS)
def path(request, monkeypatch):
    monkeypatch.setattr(accel, "BACKEND", request.param)
    return request.param


def _values(rng, shape, kind, dtype):
    if kind == "continuous":
        return rng.normal(size=shape).astype(dtype)
    if kind == "ties":
        return rng.integers(-2, 3, size=shape).astype(dtype)        # zeros and ties everywhere
    return -rng.integers(0, 3, size=shape).astype(dtype)            # no positive entry at all


POOLS = [((3, 4, 8, 8), 2, None), ((2, 3, 7, 9), 2, None), ((2, 3, 9, 9), 3, 2), ((2, 2, 6, 7), (2, 3), (1, 2)),
         ((2, 2, 8, 7), 2, 3), ((2, 2, 5, 5), 1, None), ((1, 2, 9, 6), 3, None), ((2, 2, 6, 6), 3, 1)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["continuous", "ties", "all-negative"])
@pytest.mark.parametrize("shape, k, s", POOLS)
def test_relu_max_pool_equals_pool_of_relu(path, shape, k, s, kind, dtype, rng):
    x = _values(rng, shape, kind, dtype)
    r, r_cache = relu_forward(x)
    ref, p_cache = max_pool2d_forward(r, k, s)
    out, cache = relu_max_pool2d_forward(x, k, s)
    np.testing.assert_array_equal(out, ref)
    dout = rng.normal(size=out.shape).astype(dtype)
    ref_dx = relu_backward(max_pool2d_backward(dout, p_cache), r_cache)
    dx = relu_max_pool2d_backward(dout, cache)
    assert dx.shape == x.shape and dx.dtype == x.dtype
    if kind == "all-negative":
        assert not dx.any()
    np.testing.assert_array_equal(dx, ref_dx)


# (N, C, F, H, W, kernel, stride, padding)
CONVS = [(4, 1, 6, 12, 12, 5, 1, 2), (3, 6, 16, 9, 9, 5, 1, 0), (3, 2, 3, 7, 5, 3, 2, 1),
         (2, 2, 2, 8, 6, (3, 2), (2, 1), 1)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("need_dx", [True, False])
@pytest.mark.parametrize("geo", CONVS)
def test_conv_relu_equals_relu_of_conv(path, geo, need_dx, dtype, rng):
    N, C, F, H, W, k, s, p = geo
    k2 = k if isinstance(k, tuple) else (k, k)
    x = rng.integers(-2, 3, size=(N, C, H, W)).astype(dtype)       # integer sums: exact zeros
    Wt = rng.integers(-1, 2, size=(F, C) + k2).astype(dtype)
    b = rng.integers(-1, 2, size=F).astype(dtype)
    conv_out, conv_cache = conv2d_forward(x, Wt, b, s, p, chunk_bytes=1500)
    ref, r_cache = relu_forward(conv_out)
    assert (ref == 0).any() and (ref > 0).any()
    dout = rng.normal(size=ref.shape).astype(dtype)
    ref_grads = conv2d_backward(relu_backward(dout, r_cache), conv_cache, need_dx)
    out, cache = conv2d_relu_forward(x, Wt, b, s, p, workspace={}, chunk_bytes=1500)
    np.testing.assert_array_equal(out, ref)
    for got, want in zip(conv2d_relu_backward(dout, cache, need_dx), ref_grads):
        if want is None:
            assert got is None
        else:
            np.testing.assert_array_equal(got, want)
