"""2-D convolution kernel (cross-correlation, as in PyTorch), NCHW, by im2col + one matmul.

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
buffer, so the im2col matrix ``cols`` of shape (C·kh·kw, N·T) is filled by a single copy of a
6-D ``as_strided`` view; the forward pass is then ONE matrix product ``W (F, C·kh·kw) @ cols``.

With a horizontal stride of 1 the columns are "wide": each output row is computed for all
Wp positions of the padded row (T = OH·Wp instead of OH·OW). The extra Wp − OW columns are
garbage and are cropped away, but in exchange (with a vertical stride of 1 too) each (c, n)
slice of ``cols`` is ONE contiguous run of the input buffer: the copy, the upstream-gradient
scatter and col2im all move long contiguous runs instead of rows of OW values, which is what
makes NumPy fast here (NumPy pays a fixed cost per innermost run, so run length matters more
than the extra Wp − OW columns). Other strides use exact columns (T = OH·OW).

Backward:

- ``dW = dout (F, N·T) @ cols.T`` (one matmul; the garbage columns of dout are zero);
- ``db = dout.sum over (N, OH, OW)``;
- ``dcols = W.T @ dout`` (one matmul), then col2im by kernel offsets: a strided in-place add
  of a whole (C, N, OH, Tw) block per offset (within one offset no two entries hit the same
  pixel), never ``np.add.at`` and never a loop over pixels. In wide mode a horizontal offset
  j is only a shift by j of each channel's flat row of ``dcols`` (what wraps around falls in
  the zero garbage columns), so the kw offsets of a kernel row are first summed by
  contiguous shifted adds and only kh block adds touch the image.

Scratch buffers (padded input, ``cols``, the matmul outputs) may be reused between calls
through an optional ``workspace`` dict (the layer keeps one for training): results never
depend on it, but the cache of a call stays valid only until the next forward that shares
the same workspace. Returned arrays (``out``, ``dx``, ``dW``, ``db``) are always new.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided


def _pair(v, name):
    """An int or a pair of ints -> a tuple of two Python ints."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return int(v), int(v)
    if isinstance(v, (tuple, list)) and len(v) == 2 and all(
            isinstance(e, (int, np.integer)) and not isinstance(e, bool) for e in v):
        return int(v[0]), int(v[1])
    raise ValueError(f"{name}: expected an int or a pair of ints, got {v!r}")


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output length along one axis: floor((size + 2·padding − kernel) / stride) + 1."""
    return (size + 2 * padding - kernel) // stride + 1


def _buffer(workspace, key, shape, dtype, tag=None):
    """A scratch array from ``workspace`` (reused when shape, dtype and ``tag`` match) or a
    new, uninitialized one; ``fresh`` tells which, so that callers can zero what needs it.

    Returns ``(array, fresh)``.
    """
    if workspace is not None:
        entry = workspace.get(key)
        if entry is not None:
            buf, old_tag = entry
            if buf.shape == shape and buf.dtype == dtype and old_tag == tag:
                return buf, False
    buf = np.empty(shape, dtype)
    if workspace is not None:
        workspace[key] = (buf, tag)
    return buf, True


def _geometry(xshape, wshape, stride, padding):
    N, C, H, W_ = xshape
    F, _, kh, kw = wshape
    sh, sw = stride
    ph, pw = padding
    Hp, Wp = H + 2 * ph, W_ + 2 * pw
    OH, OW = (Hp - kh) // sh + 1, (Wp - kw) // sw + 1
    wide = sw == 1
    Tw = Wp if wide else OW          # columns computed per output row (wide: garbage included)
    return dict(N=N, C=C, H=H, W=W_, F=F, kh=kh, kw=kw, sh=sh, sw=sw, ph=ph, pw=pw,
                Hp=Hp, Wp=Wp, OH=OH, OW=OW, Tw=Tw, T=OH * Tw, wide=wide, tail=kw)


def _offset_view(flat, g, writeable=False):
    """Strided view of the flat padded buffer, shape (C, kh, kw, N, OH, Tw), element
    [c, i, j, n, r, q] = xpad[n, c, sh·r + i, sw·q + j] (garbage beyond OW in wide mode).

    Different offsets (i, j) overlap in memory; one offset's (C, N, OH, Tw) block does not.
    """
    s = flat.itemsize
    HWp, Wp = g["Hp"] * g["Wp"], g["Wp"]
    shape = (g["C"], g["kh"], g["kw"], g["N"], g["OH"], g["Tw"])
    strides = (HWp * s, Wp * s, s, g["C"] * HWp * s, g["sh"] * Wp * s, g["sw"] * s)
    return as_strided(flat, shape=shape, strides=strides, writeable=writeable)


def conv2d_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray | None, stride=1, padding=0, *,
                   workspace: dict | None = None):
    """Forward pass of a 2-D convolution.

    Parameters
    ----------
    x : (N, C, H, W) inputs
    W : (F, C, kh, kw) filters
    b : (F,) biases or None
    stride, padding : int or (int, int)
        Step between windows and zeros added on each side, (vertical, horizontal).
    workspace : dict or None
        Scratch buffers reused between calls (see the module docstring).

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
    g = _geometry(x.shape, W.shape, stride, padding)
    N, C, H, W_, F = g["N"], g["C"], g["H"], g["W"], g["F"]
    ph, pw, Hp, Wp, OH, OW = g["ph"], g["pw"], g["Hp"], g["Wp"], g["OH"], g["OW"]
    dtype = np.result_type(x.dtype, W.dtype)
    K = C * g["kh"] * g["kw"]

    # Padded input in a flat buffer with a zero tail (wide views read up to kw−1 past the end).
    # The border and the tail are zeroed when the buffer is made; a reused buffer has the same
    # geometry (the tag), so only its interior is rewritten.
    size = N * C * Hp * Wp
    flat, fresh = _buffer(workspace, "xpad", (size + g["tail"],), dtype, tag=(N, C, H, W_, ph, pw))
    if fresh:
        flat.fill(0)
    xpad = flat[:size].reshape(N, C, Hp, Wp)
    xpad[:, :, ph:ph + H, pw:pw + W_] = x

    cols, _ = _buffer(workspace, "cols", (C, g["kh"], g["kw"], N, OH, g["Tw"]), dtype)
    np.copyto(cols, _offset_view(flat, g))
    cols2d = cols.reshape(K, N * g["T"])

    Wm = W.reshape(F, K)
    if Wm.dtype != dtype:
        Wm = Wm.astype(dtype)
    out_c, _ = _buffer(workspace, "out_c", (F, N * g["T"]), dtype)
    np.matmul(Wm, cols2d, out=out_c)

    # Crop the garbage columns, go back to NCHW and add the bias in one pass.
    view = out_c.reshape(F, N, OH, g["Tw"])[..., :OW].transpose(1, 0, 2, 3)
    out = np.empty((N, F, OH, OW), dtype)
    if b is not None:
        np.add(view, b.reshape(1, F, 1, 1), out=out)
    else:
        np.copyto(out, view)
    return out, (cols2d, Wm, g, workspace)


def conv2d_backward(dout: np.ndarray, cache, need_dx: bool = True):
    """Backward pass of a 2-D convolution.

    Parameters
    ----------
    dout : (N, F, OH, OW) upstream gradient
    cache : from :func:`conv2d_forward`
    need_dx : bool
        Skip dx (return None) when the input needs no gradient (the first layer).

    Returns
    -------
    dx : (N, C, H, W) or None, dW : (F, C, kh, kw), db : (F,)
    """
    cols2d, Wm, g, workspace = cache
    N, C, H, W_, F = g["N"], g["C"], g["H"], g["W"], g["F"]
    kh, kw, OH, OW, Tw, Hp, Wp = g["kh"], g["kw"], g["OH"], g["OW"], g["Tw"], g["Hp"], g["Wp"]
    dtype = cols2d.dtype

    # Upstream gradient as (F, N·T). Its garbage columns (wide mode) are zeroed when the
    # buffer is made and never written afterwards (a reused buffer has the same OW: the tag).
    dwide, fresh = _buffer(workspace, "dout_c", (F, N, OH, Tw), dtype, tag=OW)
    if fresh and Tw != OW:
        dwide[..., OW:] = 0
    np.copyto(dwide[..., :OW], dout.transpose(1, 0, 2, 3))
    d2d = dwide.reshape(F, N * g["T"])

    dW = (d2d @ cols2d.T).reshape(F, C, kh, kw)
    db = d2d.sum(axis=1)
    if not need_dx:
        return None, dW, db

    dcols, _ = _buffer(workspace, "dcols", (C * kh * kw, N * g["T"]), dtype)
    np.matmul(Wm.T, d2d, out=dcols)

    # col2im by offsets into a zeroed flat padded buffer. Within one offset's (C, N, OH, Tw)
    # block no two entries share a pixel, so each block is one in-place strided add.
    dflat = np.zeros(N * C * Hp * Wp + g["tail"], dtype)
    blocks = _offset_view(dflat, g, writeable=True)
    if g["wide"]:
        # Wide rows make a horizontal offset j a plain shift by j along each channel's flat
        # N·T row of dcols (what wraps around lands in garbage columns, which are zero).
        # So the kw offsets of kernel row i are summed with contiguous shifted adds first,
        # and only kh strided block adds touch the image: kh·C·N runs instead of kh·kw·C·N.
        NT = N * g["T"]
        d4 = dcols.reshape(C, kh, kw, NT)
        rowsum, _ = _buffer(workspace, "rowsum", (C, NT), dtype)
        for i in range(kh):
            np.copyto(rowsum, d4[:, i, 0])
            for j in range(1, kw):
                rowsum[:, j:] += d4[:, i, j, :NT - j]
            blk = blocks[:, i, 0]
            blk += rowsum.reshape(C, N, OH, Tw)
    else:
        dcols6 = dcols.reshape(C, kh, kw, N, OH, Tw)
        for i in range(kh):
            for j in range(kw):
                blk = blocks[:, i, j]
                blk += dcols6[:, i, j]
    dxpad = dflat[:N * C * Hp * Wp].reshape(N, C, Hp, Wp)
    ph, pw = g["ph"], g["pw"]
    if ph == 0 and pw == 0:
        dx = dxpad
    else:
        dx = np.ascontiguousarray(dxpad[:, :, ph:ph + H, pw:pw + W_])
    return dx, dW, db
