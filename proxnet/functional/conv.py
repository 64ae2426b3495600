"""2-D convolution kernel (cross-correlation, as in PyTorch), NCHW, by im2col + matmul.

Shapes
------
x    (N, C, H, W)        input
W    (F, C, kh, kw)      filters
b    (F,)                biases (or None)
out  (N, F, OH, OW)      OH = (H + 2·ph − kh) // sh + 1, OW likewise

out[n, f, r, q] = b[f] + Σ_{c,i,j} W[f, c, i, j] · xpad[n, c, sh·r + i, sw·q + j]

How it is computed
------------------
The padded input lives in a flat buffer ``xpad`` (N·C·Hp·Wp values plus a short zero tail).
For every kernel offset (i, j) the values the filters meet are one *strided view* of that
buffer, so the im2col matrix ``cols`` of shape (C·kh·kw, n·T) for n samples is filled by a
single copy of a 6-D strided view (C, kh, kw, n, OH, Tw), and the forward pass is
one matrix product ``W (F, C·kh·kw) @ cols``.

*Wide rows.* With a horizontal stride of 1 each output row is computed for all Tw = Wp
positions of the padded row instead of the OW valid ones. The extra Wp − OW columns are
garbage and are cropped away, but in exchange (with a vertical stride of 1 too) each (c, n)
slice of ``cols`` is ONE contiguous run of the input buffer. NumPy pays a fixed cost per
innermost run it moves, so long runs matter more than the few extra columns. Other
horizontal strides use exact columns (Tw = OW).

*Chunks of samples.* ``cols`` is C·kh·kw times larger than the input. Instead of one
matrix for the whole batch, the batch is cut into chunks of samples whose forward ``cols``
(with row groups, the smaller grouped one) stays under ``chunk_bytes`` (default
:data:`CHUNK_BYTES`, about the size of a core's cache), and one chunk is formed, multiplied
and dropped at a time, so the buffers stay in cache and memory stays small. The forward
pass keeps only the padded input; the backward pass forms each chunk's ``cols`` again (a
cheap copy of cached data) instead of storing it.

*Row groups.* A thin filter bank (LeNet-5's first layer has 6 filters) makes a matrix
product with only F rows, which BLAS runs far below its speed for wider ones. With fewer
than :data:`GROUP_ROWS_BELOW` filters on an input of at most
:data:`GROUP_ROWS_MAX_CHANNELS` channels, the forward pass computes m output rows (m = 4 or 2,
see :func:`_rows_per_group`) per row of the product instead: it is the convolution with
F·m filters of height sh·(m − 1) + kh, the filter (f, r) being W[f] shifted down by sh·r
rows (zeros elsewhere), and vertical stride m·sh. Its im2col matrix is smaller (for 5×5
kernels and m = 4, 8 kernel rows per 4 output rows instead of 20) and the product has
F·m rows, at the price of up to twice the multiply-adds. The crop copy interleaves the
rows back. A layer that needs no dx computes dW the same way and folds it back onto W.

Backward, per chunk, with the chunk's dout laid out as (F, n·T) (garbage columns zero):

- ``db = dout.sum over (N, OH, OW)``;
- dW and dx, in one of two ways:

  * *wide mode with dx*: a horizontal kernel offset j is only a shift by j along the flat
    n·T axis (what wraps around falls in the zero garbage columns). So the kw offsets of
    each kernel row are summed by the matmul itself: ``rows (C·kh, n·T) = W' (C·kh, F·kw)
    @ D (F·kw, n·T)`` with ``D[f, j, p] = dout[f, p − j]`` (a copy of a strided view of the
    chunk's dout), then only kh strided block adds of (C, n, OH, Tw) touch the padded
    image. The same D gives dW against only the kh row offsets (i, 0) of the input:
    ``dW' (F·kw, C·kh) = D @ cols_rows.T``, so the full C·kh·kw ``cols`` is never formed;
  * *otherwise*: ``dW += dout @ cols.T`` (the first layer, which needs no dx, ends here,
    with row groups when the forward pass uses them);
    for dx ``dcols = W.T @ dout`` (one matmul), then col2im by kernel offsets, one strided
    in-place add of a whole (C, n, OH, OW) block per offset.

  Within one block no two entries hit the same pixel: never ``np.add.at``, never a loop
  over pixels.

Memory
------
Two kinds of buffers are reused instead of allocated on every call:

- the padded input, which the backward pass needs, lives in an optional ``workspace``
  dict (the layer keeps one for training, so its zero border is written once). The cache
  of a call stays valid only until the next forward that shares the same workspace;
- scratch that lives for one call only (im2col chunks, the chunk's output and upstream
  gradient, ...) is kept *per thread* and shared by every convolution that thread runs,
  grown to the largest chunk seen. Shards of a batch and the layers of a network then
  reuse the same few cache-warm buffers instead of each owning a set.

Results never depend on either. Returned arrays (``out``, ``dx``, ``dW``, ``db``) are
always new.

Compiled kernels
----------------
With the optional Numba kernels (:mod:`proxnet.functional.accel`), two copies of each
chunk run as one compiled pass each: the forward crop adds the bias (and, with
``relu=True``, takes max(·, 0)) while it copies; the backward copy of dout into the
product's layout sums db (and, given ``relu_output``, applies the ReLU's mask) as it goes.
The matrix products are NumPy's either way.

*Exact columns.* Where an output row has at least :data:`EXACT_MIN_RUN` valid columns, the
compiled path forms the im2col matrix of a wide-mode forward pass (and of the dW of a layer
that needs no dx) with the OW valid columns only, one compiled copy, instead of NumPy's copy
of the wide rows, so the products skip the garbage columns. The backward pass that computes
dx keeps the wide layout its shifts need. Otherwise the strided im2col copies are NumPy's.

The measured effect of each of these choices (chunks, row groups, per-thread scratch,
compiled copies) is in docs/convolution.md, with the CPU, date and versions it was
measured on.
"""
from __future__ import annotations

import math
import threading

import numpy as np

from . import accel

CHUNK_BYTES = 3 * 2**19
"""Default size limit (1.5 MiB) of one chunk's im2col matrix (at least one sample)."""

GROUP_ROWS_BELOW = 8
"""Filter banks with fewer filters than this, on inputs of at most
:data:`GROUP_ROWS_MAX_CHANNELS` channels, compute output rows in groups (see *Row groups*
in the module docstring)."""

EXACT_MIN_RUN = 16
"""With compiled kernels, wide mode's im2col copies only the valid columns (no garbage, see
*Exact columns* in the module docstring) when an output row has at least this many. Measured
on LeNet-5 (docs/convolution.md): its first layer's rows of 28 are copied faster by the
compiled loop than NumPy copies the wide rows of 32, and the products lose the 4 garbage
columns; its second layer's rows of 10 (of 14) are copied so much slower that the step
loses. 16 lies between the two and was not measured itself."""

GROUP_ROWS_MAX_CHANNELS = 3
"""Row groups only for inputs with this many channels or fewer (gray or RGB images: a
network's first layer). With more input channels the taller grouped filters' extra
multiply-adds cost more than the wider product saves (measured for 8 and 16 channels)."""


def _rows_per_group(F: int, C: int, OH: int, kh: int, sh: int) -> int:
    """Output rows that one row of the forward product computes: for a thin filter bank
    (F < :data:`GROUP_ROWS_BELOW`) on few input channels (C ≤
    :data:`GROUP_ROWS_MAX_CHANNELS`), the largest of 4 and 2 that divides OH and adds at
    most kh kernel rows (sh·(m − 1) ≤ kh: at most twice the multiply-adds); else 1."""
    if F < GROUP_ROWS_BELOW and C <= GROUP_ROWS_MAX_CHANNELS:
        for m in (4, 2):
            if OH % m == 0 and sh * (m - 1) <= kh:
                return m
    return 1


def _pair(v, name):
    """An int or a pair of ints -> a tuple of two Python ints."""
    if type(v) is tuple and len(v) == 2 and type(v[0]) is int and type(v[1]) is int:
        return v                     # already one (what layers pass): the common case
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return int(v), int(v)
    if isinstance(v, (tuple, list)) and len(v) == 2 and all(
            isinstance(e, (int, np.integer)) and not isinstance(e, bool) for e in v):
        return int(v[0]), int(v[1])
    raise ValueError(f"{name}: expected an int or a pair of ints, got {v!r}")


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output length along one axis: floor((size + 2·padding − kernel) / stride) + 1."""
    return (size + 2 * padding - kernel) // stride + 1


_thread = threading.local()    # .scratch: {(name, dtype): flat buffer} of this thread


def _scratch(name, shape, dtype):
    """Uninitialized scratch of ``shape`` for use within one call: a prefix of this thread's
    flat buffer ``name`` (grown when too small), so chunks, layers and shards of different
    sizes share one buffer. Two live scratch arrays of a call need different names."""
    size = math.prod(shape)
    pool = getattr(_thread, "scratch", None)
    if pool is None:
        pool = _thread.scratch = {}
    key = (name, np.dtype(dtype))
    buf = pool.get(key)
    if buf is None or buf.size < size:
        buf = pool[key] = np.empty(size, dtype)
    return buf[:size].reshape(shape)


def _geometry(xshape, wshape, stride, padding, chunk_bytes, itemsize):
    N, C, H, W_ = xshape
    F, _, kh, kw = wshape
    sh, sw = stride
    ph, pw = padding
    Hp, Wp = H + 2 * ph, W_ + 2 * pw
    OH, OW = (Hp - kh) // sh + 1, (Wp - kw) // sw + 1
    wide = sw == 1
    Tw = Wp if wide else OW          # columns computed per output row (wide: garbage included)
    m = _rows_per_group(F, C, OH, kh, sh)
    per_sample = C * (sh * (m - 1) + kh) * kw * (OH // m) * Tw * itemsize   # forward's cols
    n_chunks = -(-N * per_sample // max(1, chunk_bytes))
    chunk = -(-N // max(1, min(N, n_chunks)))   # balanced chunks, at least one sample each
    return dict(N=N, C=C, H=H, W=W_, F=F, kh=kh, kw=kw, sh=sh, sw=sw, ph=ph, pw=pw,
                Hp=Hp, Wp=Wp, OH=OH, OW=OW, Tw=Tw, T=OH * Tw, wide=wide, tail=kw, chunk=chunk,
                rows=m)


def _group_kh(g, m):
    """Kernel height of the row-group convolution with m rows per group: sh·(m − 1) + kh."""
    return g["sh"] * (m - 1) + g["kh"]


def _offset_view(flat, g, n0, n1, writeable=False, rows=1):
    """Strided view of samples n0:n1 of the flat padded buffer, shape (C, kh, kw, n, OH, Tw),
    element [c, i, j, n, r, q] = xpad[n0 + n, c, sh·r + i, sw·q + j] (garbage beyond OW in
    wide mode: those read at most kw − 1 values past the chunk, into the next sample or the
    buffer's zero tail).

    Different offsets (i, j) overlap in memory; one offset's (C, n, OH, Tw) block does not.

    With ``rows`` = m > 1 (see *Row groups*), the view is that of the equivalent
    convolution with kernel height sh·(m − 1) + kh and vertical stride m·sh: shape
    (C, sh·(m − 1) + kh, kw, n, OH / m, Tw).
    """
    s = flat.itemsize
    HWp, Wp = g["Hp"] * g["Wp"], g["Wp"]
    shape = (g["C"], _group_kh(g, rows), g["kw"], n1 - n0, g["OH"] // rows, g["Tw"])
    strides = (HWp * s, Wp * s, s, g["C"] * HWp * s, rows * g["sh"] * Wp * s, g["sw"] * s)
    return _strided(flat, n0 * g["C"] * HWp, shape, strides, writeable)


def _strided(flat, start, shape, strides, writeable):
    """View of the contiguous array ``flat`` from element ``start`` with byte ``strides``,
    like ``numpy.lib.stride_tricks.as_strided`` (which costs ~10 µs a call, this ~2 µs)."""
    view = np.ndarray(shape, flat.dtype, buffer=flat, offset=start * flat.itemsize, strides=strides)
    view.flags.writeable = writeable
    return view


def _chunks(g):
    N, step = g["N"], g["chunk"]
    return [(n0, min(N, n0 + step)) for n0 in range(0, N, step)]


def _im2col(flat, g, n0, n1, rows_only=False, rows=1, exact_by=None):
    """``cols`` (C·kh·kw, n·T) of samples n0:n1, one copy of the strided view; with
    ``rows_only`` only the rows of the offsets (i, 0), shape (C·kh, n·T); with ``rows`` = m
    those of the row groups (C·(sh·(m − 1) + kh)·kw, n·T / m). With ``exact_by`` (the
    compiled-kernel module, where :func:`_exact` holds) the valid columns only, n·OH·OW / m,
    by one compiled copy (see *Exact columns*)."""
    if exact_by is not None:
        N, C, Hp, Wp = g["N"], g["C"], g["Hp"], g["Wp"]
        khg, G = _group_kh(g, rows), g["OH"] // rows
        cols = _scratch("cols", (C * khg * g["kw"], n1 - n0, G, g["OW"]), flat.dtype)
        exact_by.im2col_exact(flat[:N * C * Hp * Wp].reshape(N, C, Hp, Wp), n0, khg,
                              rows * g["sh"], cols)
        return cols.reshape(cols.shape[0], -1)
    view = _offset_view(flat, g, n0, n1, rows=rows)
    if rows_only:
        view = view[:, :, 0]
    cols = _scratch("cols", view.shape, flat.dtype)
    np.copyto(cols, view)
    return cols.reshape(-1, (n1 - n0) * g["T"] // rows)


def _exact(g, fast) -> bool:
    """Whether the compiled im2col of valid columns only applies (see *Exact columns*)."""
    return fast is not None and g["wide"] and g["Tw"] != g["OW"] and g["OW"] >= EXACT_MIN_RUN


def _group_view(a, g):
    """The (F, m, C, kh, kw) view of a row-group filter array ``a`` (F, m, C, khg, kw) whose
    element [f, r, c, i, j] is a[f, r, c, sh·r + i, j]: where W[f, c, i, j] sits in the
    filter of row r of a group (one stride moves r and the row together)."""
    F, C, kh, kw, sh, m = g["F"], g["C"], g["kh"], g["kw"], g["sh"], g["rows"]
    sF, sr, sC, si, sj = a.reshape(F, m, C, _group_kh(g, m), kw).strides   # a is contiguous
    return _strided(a, 0, (F, m, C, kh, kw), (sF, sr + sh * si, sC, si, sj), True)


def _grouped_weights(Wm, g):
    """Filters of the row-group convolution: (F·m, C·(sh·(m − 1) + kh)·kw) with
    Wg[f, r, c, sh·r + i, j] = W[f, c, i, j] and zeros elsewhere (m = rows per group)."""
    F, C, kh, kw, m = g["F"], g["C"], g["kh"], g["kw"], g["rows"]
    Wg = np.zeros((F * m, C * _group_kh(g, m) * kw), Wm.dtype)
    _group_view(Wg, g)[...] = Wm.reshape(F, 1, C, kh, kw)
    return Wg


def _fold_grouped(dWg, g):
    """Gradient of W (F, C·kh·kw) from that of the row-group filters (the adjoint of
    :func:`_grouped_weights`)."""
    return _group_view(dWg, g).sum(axis=1).reshape(g["F"], -1)


def conv2d_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray | None, stride=1, padding=0, *,
                   workspace: dict | None = None, chunk_bytes: int | None = None,
                   relu: bool = False):
    """Forward pass of a 2-D convolution.

    Parameters
    ----------
    x : (N, C, H, W) inputs
    W : (F, C, kh, kw) filters
    b : (F,) biases or None
    stride, padding : int or (int, int)
        Step between windows and zeros added on each side, (vertical, horizontal).
    workspace : dict or None
        Keeps the padded-input buffer between calls (see Memory in the module docstring).
    chunk_bytes : int or None
        Size limit of one chunk's im2col matrix; None: :data:`CHUNK_BYTES`.
    relu : bool
        Return max(out, 0) instead, applied chunk by chunk while the chunk is in cache (see
        :func:`proxnet.functional.fused.conv2d_relu_forward`).

    Returns
    -------
    out : (N, F, OH, OW), a new C-contiguous array of the dtype of ``x`` and ``W``
    cache : for :func:`conv2d_backward`
    """
    if x.ndim != 4 or W.ndim != 4 or x.shape[1] != W.shape[1]:
        raise ValueError(f"conv2d: expected x (N, C, H, W) and W (F, C, kh, kw) with the same C, "
                         f"got {x.shape} and {W.shape}")
    stride, padding = _pair(stride, "stride"), _pair(padding, "padding")
    if min(stride) < 1 or min(padding) < 0 or min(
            conv_output_size(n, k, s, p) for n, k, s, p in zip(x.shape[2:], W.shape[2:], stride, padding)) < 1:
        raise ValueError(f"conv2d: no output for input {x.shape}, kernel {W.shape[2:]}, "
                         f"stride {stride}, padding {padding}")
    dtype = np.result_type(x.dtype, W.dtype)
    g = _geometry(x.shape, W.shape, stride, padding,
                  CHUNK_BYTES if chunk_bytes is None else int(chunk_bytes), dtype.itemsize)
    if workspace is None:
        workspace = {}   # the padded input still goes to the backward pass through the cache
    N, C, H, W_, F = g["N"], g["C"], g["H"], g["W"], g["F"]
    ph, pw, Hp, Wp, OH, OW, Tw = g["ph"], g["pw"], g["Hp"], g["Wp"], g["OH"], g["OW"], g["Tw"]

    # Padded input in a flat buffer with a zero tail (wide views read up to kw−1 past the end).
    # The border and the tail are zeroed when the buffer is made; a reused buffer has the same
    # geometry (its tag), so only its interior is rewritten.
    size = N * C * Hp * Wp
    tag = (N, C, H, W_, ph, pw, dtype)
    if workspace.get("xpad_tag") != tag:
        workspace["xpad"], workspace["xpad_tag"] = np.zeros(size + g["tail"], dtype), tag
    flat = workspace["xpad"]
    flat[:size].reshape(N, C, Hp, Wp)[:, :, ph:ph + H, pw:pw + W_] = x

    Wm = W.reshape(F, -1).astype(dtype, copy=False)
    m = g["rows"]                    # output rows per group (see Row groups)
    Wf = _grouped_weights(Wm, g) if m > 1 else Wm
    bias = None if b is None else b.astype(dtype, copy=False).reshape(F, 1)
    fast = accel.compiled()
    out = np.empty((N, F, OH, OW), dtype)
    exact_by = fast if _exact(g, fast) else None
    Tc = Tw if exact_by is None else OW       # columns of the product per output row
    for n0, n1 in _chunks(g):
        n = n1 - n0
        out_c = _scratch("out_c", (F * m, n * OH * Tc // m), dtype)
        np.matmul(Wf, _im2col(flat, g, n0, n1, rows=m, exact_by=exact_by), out=out_c)
        by_group = out_c.reshape(F, m, n, OH // m, Tc)
        if fast is not None:      # bias, crop (and ReLU) in one compiled pass
            fast.crop(by_group, bias, out[n0:n1], relu)
            continue
        # Bias on the contiguous rows, then crop the garbage columns and go back to NCHW
        # (row r of group t is output row m·t + r) with one copy (a copy pays less per
        # short run than an arithmetic ufunc).
        if bias is not None:      # rows (f, r) of one filter are contiguous: one bias each
            by_filter = out_c.reshape(F, -1)
            by_filter += bias
        np.copyto(out[n0:n1].reshape(n, F, OH // m, m, OW), by_group[..., :OW].transpose(2, 0, 3, 1, 4))
        if relu:
            np.maximum(out[n0:n1], 0, out=out[n0:n1])
    return out, (flat, Wm, g)


def conv2d_backward(dout: np.ndarray, cache, need_dx: bool = True, relu_output=None):
    """Backward pass of a 2-D convolution.

    Parameters
    ----------
    dout : (N, F, OH, OW) upstream gradient
    cache : from :func:`conv2d_forward`
    need_dx : bool
        Skip dx (return None) when the input needs no gradient (the first layer).
    relu_output : (N, F, OH, OW) or None
        The output of a forward pass with ``relu=True``: dout is first multiplied by
        [relu_output > 0] (the ReLU's backward pass, fused into the first copy of dout
        with compiled kernels).

    Returns
    -------
    dx : (N, C, H, W) or None, dW : (F, C, kh, kw), db : (F,)
    """
    flat, Wm, g = cache
    N, C, H, W_, F = g["N"], g["C"], g["H"], g["W"], g["F"]
    kh, kw, OH, OW, Tw, Hp, Wp = g["kh"], g["kw"], g["OH"], g["OW"], g["Tw"], g["Hp"], g["Wp"]
    dtype = flat.dtype

    shift = need_dx and g["wide"]
    m = 1 if need_dx else g["rows"]    # without dx, dW by row groups like the forward pass
    # dW, in shift mode its (F, kw, C, kh) transpose, with row groups that of their filters
    dW = np.zeros((F * kw, C * kh) if shift else (F * m, C * _group_kh(g, m) * kw), dtype)
    db = np.zeros(F, dtype)
    dflat = np.zeros(N * C * Hp * Wp + g["tail"], dtype) if need_dx else None
    fast = accel.compiled()
    if fast is not None and not fast.supports(dout, flat, *(() if relu_output is None else (relu_output,))):
        fast = None
    if relu_output is not None and fast is None:
        dout = dout * (relu_output > 0)
    if shift:   # W'[c·kh + i, f·kw + j] = W[f, c, i, j]
        Wrows = Wm.reshape(F, C, kh, kw).transpose(1, 2, 0, 3).reshape(C * kh, F * kw)
    exact_by = fast if not shift and _exact(g, fast) else None
    Tc = Tw if exact_by is None else OW       # columns of the products per output row
    for n0, n1 in _chunks(g):
        n = n1 - n0
        nT = n * OH * Tc
        # Upstream gradient of the chunk as (F, n·T), garbage columns (wide mode) zero, after
        # kw − 1 zeros (the shifted copy below reads up to kw − 1 values before the start).
        dbuf = _scratch("dout_c", (kw - 1 + F * nT,), dtype)
        dbuf[:kw - 1] = 0
        dwide = dbuf[kw - 1:].reshape(F, m, n, OH // m, Tc)
        if fast is not None:      # the copy below and db in one compiled pass
            fast.widen(dout[n0:n1], dwide, db, None if relu_output is None else relu_output[n0:n1])
        else:
            np.copyto(dwide[..., :OW], dout[n0:n1].reshape(n, F, OH // m, m, OW).transpose(1, 3, 0, 2, 4))
            if Tw != OW:
                dwide[..., OW:] = 0
            db += dwide.reshape(F, nT).sum(axis=1)
        d2d = dwide.reshape(F * m, nT // m)
        if shift:
            shifted = _shifted(dbuf, g, nT)
            dW += shifted @ _im2col(flat, g, n0, n1, rows_only=True).T
            _rows_to_image(shifted, Wrows, dflat, g, n0, n1)
            continue
        dW += d2d @ _im2col(flat, g, n0, n1, rows=m, exact_by=exact_by).T
        if need_dx:
            dcols = _scratch("dcols", (C * kh * kw, nT), dtype)
            np.matmul(Wm.T, d2d, out=dcols)
            _col2im(dcols, dflat, g, n0, n1)
    if shift:
        dW = np.ascontiguousarray(dW.reshape(F, kw, C, kh).transpose(0, 2, 3, 1))
    elif m > 1:
        dW = _fold_grouped(dW, g)
    dW = dW.reshape(F, C, kh, kw)
    if not need_dx:
        return None, dW, db
    dxpad = dflat[:N * C * Hp * Wp].reshape(N, C, Hp, Wp)
    ph, pw = g["ph"], g["pw"]
    if ph == 0 and pw == 0:
        return dxpad, dW, db
    return np.ascontiguousarray(dxpad[:, :, ph:ph + H, pw:pw + W_]), dW, db


def _col2im(dcols, dflat, g, n0, n1):
    """Add ``dcols`` (C·kh·kw, n·T) of samples n0:n1 into the zeroed padded buffer ``dflat``.

    Within one offset's (C, n, OH, Tw) block no two entries share a pixel, so each block is
    one in-place strided add; chunks cover disjoint samples.
    """
    C, kh, kw, OH, Tw = g["C"], g["kh"], g["kw"], g["OH"], g["Tw"]
    dcols6 = dcols.reshape(C, kh, kw, n1 - n0, OH, Tw)
    blocks = _offset_view(dflat, g, n0, n1, writeable=True)
    for i in range(kh):
        for j in range(kw):
            blk = blocks[:, i, j]
            blk += dcols6[:, i, j]


def _shifted(dbuf, g, nT):
    """Wide mode: ``D (F·kw, n·T)`` with ``D[f·kw + j, p] = d[f, p − j]``, d the chunk's
    upstream gradient (F, n·T) stored in ``dbuf`` after kw − 1 zeros: a copy of one strided
    view (p < j reads the previous row's zero garbage columns or the zero head)."""
    F, kw, s = g["F"], g["kw"], dbuf.itemsize
    shifted = _scratch("dshift", (F, kw, nT), dbuf.dtype)
    np.copyto(shifted, _strided(dbuf, kw - 1, (F, kw, nT), (nT * s, -s, s), False))
    return shifted.reshape(F * kw, nT)


def _rows_to_image(shifted, Wrows, dflat, g, n0, n1):
    """Wide mode: add the input gradient of samples n0:n1 into the zeroed buffer ``dflat``.

    A horizontal offset j moves an output column q to input column q + j, i.e. it shifts
    each flat row of the upstream gradient d by j, and what crosses a row end lands in the
    zero garbage columns. So

        rows[c, i, p] = Σ_{f, j} W[f, c, i, j] · d[f, p − j]

    is ONE matmul ``Wrows (C·kh, F·kw) @ shifted`` (see :func:`_shifted`), and
    ``rows[:, i]`` is what kernel row i gives the image: kh strided block adds of
    (C, n, OH, Tw), each a shift by i rows. Compared with ``dcols = W.T @ d`` followed by a
    reduction over the kw shifts, the matmul does that reduction and its output is kw times
    smaller.
    """
    C, kh, OH, Tw = g["C"], g["kh"], g["OH"], g["Tw"]
    n = n1 - n0
    nT = shifted.shape[1]
    rows = _scratch("rows", (C, kh, nT), shifted.dtype)
    np.matmul(Wrows, shifted, out=rows.reshape(C * kh, nT))
    blocks = _offset_view(dflat, g, n0, n1, writeable=True)
    np.copyto(blocks[:, 0, 0], rows[:, 0].reshape(C, n, OH, Tw))  # still zero there: copy
    for i in range(1, kh):
        blk = blocks[:, i, 0]
        blk += rows[:, i].reshape(C, n, OH, Tw)
