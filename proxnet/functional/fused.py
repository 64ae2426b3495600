"""Fused kernels: two layers' forward and backward passes in one, for a model to use where it
has the pattern. Each pair computes exactly what the unfused composition computes (outputs
identical, gradients identical; ``tests/layers/test_fused.py`` checks it on random inputs
with ties and all-negative windows) with fewer passes over memory.

``relu_max_pool2d``: max pooling of a ReLU, ``pool(relu(x))``, computed as ``relu(pool(x))``
-------------------------------------------------------------------------------------
Max pooling commutes with ReLU, both being monotone: max_w max(x_w, 0) = max(max_w x_w, 0).
The gradients agree too. Where a window's maximum is positive, its first maximum in
row-major order is the same entry of x and of relu(x) (entries equal to a positive maximum
are positive) and the ReLU passes the gradient there. Where it is not positive, relu(x) is
0 over the window and the unfused pair gives its gradient to an entry with x ≤ 0, whose ReLU
gradient is 0: nothing reaches x. So

    out = max(pool(x), 0),   dx = pool_backward(dout · [out > 0])

and the ReLU runs on the pooled tensor, kh·kw times smaller. With compiled kernels
(:mod:`.accel`) the maximum, the ReLU and the argmax are one pass and the backward pass is
one scatter.

``conv2d_relu``: ReLU of a convolution
--------------------------------------
``out = max(conv(x), 0)`` applied to each chunk of samples while it is in cache (with
compiled kernels: inside the crop copy); the backward pass multiplies dout by [out > 0]
(with compiled kernels: inside the first copy of dout), then runs the convolution's.
"""
from __future__ import annotations

import numpy as np

from . import accel
from .activations import relu_backward
from .conv import conv2d_backward, conv2d_forward
from .pool import CompiledPoolCache, _window, max_pool2d_backward, max_pool2d_forward


def relu_max_pool2d_forward(x: np.ndarray, kernel_size, stride=None):
    """Forward pass of ``MaxPool2D(relu(x))``: out = max(max_pool2d(x), 0).

    Parameters and shapes as :func:`proxnet.functional.pool.max_pool2d_forward`.

    Returns
    -------
    out : (N, C, OH, OW), a new array
    cache : for :func:`relu_max_pool2d_backward`
    """
    (kh, kw), (sh, sw) = _window(x, kernel_size, stride)
    fast = accel.compiled()
    if fast is not None and fast.supports(x):
        out, arg = fast.max_pool2d(x, kh, kw, sh, sw, relu=True)   # arg marks out ≤ 0: no gradient
        return out, CompiledPoolCache(arg, x.shape, (kh, kw), (sh, sw))
    out, cache = max_pool2d_forward(x, (kh, kw), (sh, sw))
    np.maximum(out, 0, out=out)      # out is new: the ReLU in place, on the pooled tensor
    return out, (cache, out)


def relu_max_pool2d_backward(dout: np.ndarray, cache):
    """Backward pass of :func:`relu_max_pool2d_forward`: dx (N, C, H, W), each window's
    gradient at its first maximum where the window's maximum is positive, 0 elsewhere."""
    if isinstance(cache, CompiledPoolCache):
        return cache.backward(dout)
    pool_cache, out = cache
    return max_pool2d_backward(relu_backward(dout, out), pool_cache)


def conv2d_relu_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray | None, stride=1, padding=0, *,
                        workspace: dict | None = None, chunk_bytes: int | None = None):
    """Forward pass of ``ReLU(Conv2D(x))``: out = max(conv2d(x, W, b), 0).

    Parameters and shapes as :func:`proxnet.functional.conv.conv2d_forward`.

    Returns
    -------
    out : (N, F, OH, OW), a new array
    cache : for :func:`conv2d_relu_backward` (valid until the next forward that shares the
        workspace, as the convolution's)
    """
    out, cache = conv2d_forward(x, W, b, stride, padding, workspace=workspace,
                                chunk_bytes=chunk_bytes, relu=True)
    return out, (cache, out)


def conv2d_relu_backward(dout: np.ndarray, cache, need_dx: bool = True):
    """Backward pass of :func:`conv2d_relu_forward`: (dx or None, dW, db) of the convolution
    for the upstream gradient dout · [out > 0]."""
    conv_cache, out = cache
    return conv2d_backward(dout, conv_cache, need_dx, relu_output=out)
