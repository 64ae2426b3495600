"""2-D max and average pooling kernels, NCHW, no padding, floor mode (as PyTorch).

Shapes
------
x    (N, C, H, W)
out  (N, C, OH, OW)   OH = (H − kh) // sh + 1, OW = (W − kw) // sw + 1
                      (rows and columns that no window reaches are ignored)

Both poolings are *separable*: a 2-D window reduces its rows first, then the row results
along the column axis. Each 1-D stage is a loop over the k offsets of the window (never over
pixels), and each offset is one strided view of the whole batch.

When the stride equals the kernel and the size is a multiple of it (LeNet's 2×2 / 2), the
windows tile the axis, and max pooling first *copies* each offset's view to a contiguous
array: NumPy copies strided data quickly but runs comparisons and arithmetic on it element
by element, several times slower than on contiguous data. The maxima, the backward pass's
comparisons and its products then run on contiguous arrays, and each offset's share of the
gradient is copied back into its strided slot of dx. Other cases run the same loops on the
strided views directly.

With the optional compiled kernels (:mod:`proxnet.functional.accel`), max pooling is one
loop over the windows that keeps the position of each window's first maximum (one byte per
output), and its backward pass is one scatter of dout to those positions. The measured
figures are in docs/convolution.md. Average pooling is one loop over the windows each way,
in the NumPy kernel's order of operations.

Max-pool gradients go to the *first* maximum of each window in row-major order (ties
included), exactly like PyTorch: the separable argmax picks the first row whose maximum is
the window maximum, then the first column of that row reaching it.
"""
from __future__ import annotations

import numpy as np

from . import accel
from .conv import _pair


def pool_output_size(size: int, kernel: int, stride: int) -> int:
    """floor((size − kernel) / stride) + 1."""
    return (size - kernel) // stride + 1


def _window(x, kernel_size, stride):
    """Checked ((kh, kw), (sh, sw)) for pooling ``x`` (N, C, H, W)."""
    kh, kw = _pair(kernel_size, "kernel_size")
    sh, sw = _pair(kernel_size if stride is None else stride, "stride")
    if x.ndim != 4 or min(kh, kw, sh, sw) < 1 or x.shape[2] < kh or x.shape[3] < kw:
        raise ValueError(f"pool2d: no output for input {x.shape}, kernel {(kh, kw)}, stride {(sh, sw)}")
    return (kh, kw), (sh, sw)


def _slices(a, axis, k, s, o):
    """The k strided views a[..., j : j + s·(o−1) + 1 : s, ...] along ``axis``."""
    idx = [slice(None)] * a.ndim
    views = []
    for j in range(k):
        idx[axis] = slice(j, j + s * (o - 1) + 1, s)
        views.append(a[tuple(idx)])
    return views


def _tiles(size, k, s, o):
    """True when o windows of length k, stride s tile an axis of ``size`` entries exactly
    (stride = kernel, no leftover entries): dx needs no zeroing first."""
    return k == s and size == k * o


def _max_1d(a, axis, k, s):
    """Max over windows of length k, stride s along ``axis``.

    Returns (out, ref): ``out`` a new contiguous array, ``ref`` what the backward pass
    compares ``out`` with. When the windows tile the axis, each offset's strided view is
    first *copied* to a contiguous array and the maxima are taken there: NumPy moves
    strided data fast in a copy but runs arithmetic and comparisons on strided data
    element by element, several times slower than on contiguous data. ``ref`` is then
    the list of the first k − 1 copies; otherwise it is ``a`` itself.
    """
    o = pool_output_size(a.shape[axis], k, s)
    views = _slices(a, axis, k, s, o)
    if k > 1 and _tiles(a.shape[axis], k, s, o):
        staged = [np.array(v, order="C") for v in views]
        out = np.maximum(staged[0], staged[1])
        for v in staged[2:]:
            np.maximum(out, v, out=out)
        return out, staged[:-1]
    out = np.array(views[0], copy=True) if k == 1 else np.maximum(views[0], views[1])
    for v in views[2:]:
        np.maximum(out, v, out=out)
    return out, a


def _max_1d_backward(dout, ref, m, shape, axis, k, s):
    """Route dout (shape of m) to the first entry of each window equal to m.

    ``ref`` comes from :func:`_max_1d`; ``shape`` is the shape of its input. Offsets are
    visited in order; ``rest`` is the part of the gradient not yet given to an earlier
    offset (it becomes zero once a window's maximum is found), so the last offset simply
    takes what is left. Tiled windows work on the contiguous copies in ``ref`` and copy
    each offset's share into its strided slot of dx. Otherwise, without overlap (k ≤ s)
    every product is written straight into its strided slot of dx; with overlap the slots
    are accumulated.
    """
    o = m.shape[axis]
    if isinstance(ref, list):        # tiled: contiguous copies of the first k − 1 offsets
        dx = np.empty(shape, dout.dtype)
        dx_views = _slices(dx, axis, k, s, o)
        hit = np.empty(m.shape, bool)
        take = np.empty(m.shape, dout.dtype)
        rest = dout
        for j, staged in enumerate(ref):
            np.equal(staged, m, out=hit)
            np.multiply(rest, hit, out=take)
            np.copyto(dx_views[j], take)
            rest = np.subtract(rest, take, out=None if rest is dout else rest)
        np.copyto(dx_views[k - 1], rest)
        return dx
    a = ref
    overlap = k > s
    dx = np.empty(a.shape, dout.dtype) if _tiles(a.shape[axis], k, s, o) else np.zeros(a.shape, dout.dtype)
    if k == 1:
        _slices(dx, axis, 1, s, o)[0][...] = dout
        return dx
    in_views = _slices(a, axis, k, s, o)
    dx_views = _slices(dx, axis, k, s, o)
    rest = dout
    for j in range(k - 1):
        hit = in_views[j] == m
        if overlap:
            take = rest * hit
            dx_views[j] += take
        else:
            take = np.multiply(rest, hit, out=dx_views[j])
        if j == k - 2 and not overlap:
            np.subtract(rest, take, out=dx_views[k - 1])   # the last offset gets the rest
            return dx
        rest = np.subtract(rest, take, out=None if rest is dout else rest)
    dx_views[k - 1] += rest
    return dx


class CompiledPoolCache(tuple):
    """Cache of a max pooling run by the compiled kernels (see :mod:`.accel`): the position
    of each window's first maximum, the input shape, kernel and stride."""

    def __new__(cls, arg, xshape, kernel, stride):
        return super().__new__(cls, (arg, xshape, kernel, stride))

    def backward(self, dout):
        arg, xshape, (kh, kw), (sh, sw) = self
        return accel.loaded().max_pool2d_backward(dout, arg, xshape, kh, kw, sh, sw)


def max_pool2d_forward(x: np.ndarray, kernel_size, stride=None):
    """Forward pass of 2-D max pooling.

    Parameters
    ----------
    x : (N, C, H, W) inputs
    kernel_size : int or (int, int)
    stride : int, (int, int) or None (= kernel_size)

    Returns
    -------
    out : (N, C, OH, OW)
    cache : for :func:`max_pool2d_backward` (what each 1-D stage compares with, the row
        maxima (N, C, H, OW), out, shapes, kernel, stride); with compiled kernels
        (:mod:`.accel`) a :class:`CompiledPoolCache` instead
    """
    (kh, kw), (sh, sw) = _window(x, kernel_size, stride)
    fast = accel.compiled()
    if fast is not None and fast.supports(x):
        out, arg = fast.max_pool2d(x, kh, kw, sh, sw)
        return out, CompiledPoolCache(arg, x.shape, (kh, kw), (sh, sw))
    rows, ref_x = _max_1d(x, 3, kw, sw)       # (N, C, H, OW): max over each row of a window
    out, ref_rows = _max_1d(rows, 2, kh, sh)  # (N, C, OH, OW)
    return out, (ref_x, ref_rows, rows, out, x.shape, (kh, kw), (sh, sw))


def max_pool2d_backward(dout: np.ndarray, cache):
    """Backward pass of 2-D max pooling: dx (N, C, H, W), the gradient at each window's first
    maximum (row-major order), summed where windows overlap."""
    if isinstance(cache, CompiledPoolCache):
        return cache.backward(dout)
    ref_x, ref_rows, rows, out, xshape, (kh, kw), (sh, sw) = cache
    drows = _max_1d_backward(dout, ref_rows, out, rows.shape, 2, kh, sh)
    return _max_1d_backward(drows, ref_x, rows, xshape, 3, kw, sw)


def _avg_1d(a, axis, k, s):
    o = pool_output_size(a.shape[axis], k, s)
    views = _slices(a, axis, k, s, o)
    out = np.array(views[0], copy=True) if k == 1 else np.add(views[0], views[1])
    for v in views[2:]:
        np.add(out, v, out=out)
    if k > 1:
        out *= a.dtype.type(1.0 / k)
    return out


def _avg_1d_backward(dout, shape, axis, k, s):
    o = dout.shape[axis]
    full = _tiles(shape[axis], k, s, o)
    dx = np.empty(shape, dout.dtype) if full else np.zeros(shape, dout.dtype)
    g = dout * dout.dtype.type(1.0 / k) if k > 1 else dout
    for v in _slices(dx, axis, k, s, o):
        if full:
            v[...] = g
        else:
            v += g
    return dx


def avg_pool2d_forward(x: np.ndarray, kernel_size, stride=None):
    """Forward pass of 2-D average pooling (every window has kh·kw entries: no padding).

    Parameters and returns as :func:`max_pool2d_forward`; cache = (x shape, row-mean shape,
    kernel, stride).
    """
    (kh, kw), (sh, sw) = _window(x, kernel_size, stride)
    fast = accel.compiled()
    if fast is not None and fast.supports(x):
        out = fast.avg_pool2d(x, kh, kw, sh, sw)
        rshape = x.shape[:3] + (out.shape[3],)
        return out, (x.shape, rshape, (kh, kw), (sh, sw))
    rows = _avg_1d(x, 3, kw, sw)
    out = _avg_1d(rows, 2, kh, sh)
    return out, (x.shape, rows.shape, (kh, kw), (sh, sw))


def avg_pool2d_backward(dout: np.ndarray, cache):
    """Backward pass of 2-D average pooling: each output's gradient / (kh·kw) to its window."""
    xshape, rshape, (kh, kw), (sh, sw) = cache
    fast = accel.compiled()
    if fast is not None and fast.supports(dout):
        return fast.avg_pool2d_backward(dout, xshape, kh, kw, sh, sw)
    drows = _avg_1d_backward(dout, rshape, 2, kh, sh)
    return _avg_1d_backward(drows, xshape, 3, kw, sw)
