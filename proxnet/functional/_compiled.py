"""Compiled (Numba) versions of kernels that NumPy runs as several passes over memory.

Imported only through :mod:`proxnet.functional.accel`, and only where Numba is installed
(``pip install proxnet[fast]``). Each function here computes exactly what its NumPy
counterpart computes (the tests compare them); the NumPy kernels stay the readable
reference. The loops run one sample, channel and output at a time in a fixed order, so the
results never depend on the number of threads, and they release the GIL (``nogil``), so
shards of a batch run them on several threads at once. ``cache=True`` keeps the machine code
on disk: it is compiled once per installation (see :func:`warm_up`).

Max pooling keeps, for every window, the position of its first maximum in row-major order
(the one PyTorch and the NumPy kernel give the gradient to) as one small integer, instead
of the NumPy kernel's staged copies: the backward pass is then one scatter.
"""
from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

_JIT = dict(cache=True, nogil=True)


@numba.njit(**_JIT)
def _max_pool_fwd(x, kh, kw, sh, sw, out, arg):
    """out[n, c, r, q] = max of the window, arg[...] = i·kw + j of its first maximum (a NaN
    wins and stays, as with np.maximum)."""
    N, C = x.shape[0], x.shape[1]
    OH, OW = out.shape[2], out.shape[3]
    for n in range(N):
        for c in range(C):
            for r in range(OH):
                for q in range(OW):
                    r0, q0 = r * sh, q * sw
                    best = x[n, c, r0, q0]
                    at = 0
                    for i in range(kh):
                        for j in range(kw):
                            v = x[n, c, r0 + i, q0 + j]
                            if v > best or (v != v and best == best):
                                best = v
                                at = i * kw + j
                    out[n, c, r, q] = best
                    arg[n, c, r, q] = at


@numba.njit(**_JIT)
def _max_pool_fwd_2x2(x, out, arg):
    """The 2×2 / 2 case of :func:`_max_pool_fwd` on x (M, 2, W), out and arg (M, W / 2),
    without branches (random data makes a branch per comparison mispredict half the time):
    the first maximum of each row, then of the two rows (the second wins only if larger)."""
    M, OW = out.shape
    for m in range(M):
        r0, r1 = x[m, 0], x[m, 1]
        o, g = out[m], arg[m]
        for q in range(OW):
            a, b, d, e = r0[2 * q], r0[2 * q + 1], r1[2 * q], r1[2 * q + 1]
            top = max(a, b)
            bottom = max(d, e)
            at_top = np.uint8(b > a)
            at_bottom = np.uint8(2) + np.uint8(e > d)
            lower = bottom > top
            nan = (a != a) | (b != b) | (d != d) | (e != e)
            o[q] = (a + b + d + e) if nan else max(top, bottom)
            g[q] = at_bottom if lower else at_top


@numba.njit(**_JIT)
def _max_pool_bwd(dout, arg, kh, kw, sh, sw, dx):
    """dx (zeroed) += each window's gradient at its first maximum (overlapping windows add
    up, in row-major window order); arg = kh·kw means no entry gets it."""
    N, C = dout.shape[0], dout.shape[1]
    OH, OW = dout.shape[2], dout.shape[3]
    for n in range(N):
        for c in range(C):
            for r in range(OH):
                for q in range(OW):
                    at = arg[n, c, r, q]
                    if at < kh * kw:
                        dx[n, c, r * sh + at // kw, q * sw + at % kw] += dout[n, c, r, q]


@numba.njit(**_JIT)
def _max_pool_bwd_2x2(dout, arg, dx):
    """The 2×2 / 2 tiling case of :func:`_max_pool_bwd` on dout and arg (M, OW), dx
    (M, 2, 2·OW): each pair of rows of dx is zeroed, then each window's gradient is stored
    at its maximum: one store per window, not four selects."""
    M, OW = dout.shape
    z = dx.dtype.type(0)
    for m in range(M):
        rows = dx[m]
        for i in range(2):
            row = rows[i]
            for q in range(2 * OW):
                row[q] = z
        d, g = dout[m], arg[m]
        for q in range(OW):
            at = g[q]
            if at < 4:
                rows[at >> 1, 2 * q + (at & 1)] = d[q]


@numba.njit(**_JIT)
def _avg_pool_fwd(x, kh, kw, sh, sw, out):
    """out = mean of each window, in the NumPy kernel's order: each window row's sum times
    1/kw, their sum times 1/kh."""
    N, C = x.shape[0], x.shape[1]
    OH, OW = out.shape[2], out.shape[3]
    z = out.dtype.type(0)
    ikh, ikw = out.dtype.type(1.0 / kh), out.dtype.type(1.0 / kw)
    for n in range(N):
        for c in range(C):
            for r in range(OH):
                for q in range(OW):
                    total = z
                    for i in range(kh):
                        row = z
                        for j in range(kw):
                            row += x[n, c, r * sh + i, q * sw + j]
                        total += row * ikw if kw > 1 else row
                    out[n, c, r, q] = total * ikh if kh > 1 else total


@numba.njit(**_JIT)
def _avg_pool_fwd_2x2(x, out):
    """The 2×2 / 2 tiling case of :func:`_avg_pool_fwd` on x (M, 2, W), out (M, W / 2)."""
    M, OW = out.shape
    h = out.dtype.type(0.5)
    for m in range(M):
        r0, r1, o = x[m, 0], x[m, 1], out[m]
        for q in range(OW):
            o[q] = ((r0[2 * q] + r0[2 * q + 1]) * h + (r1[2 * q] + r1[2 * q + 1]) * h) * h


@numba.njit(**_JIT)
def _avg_pool_bwd_2x2(dout, dx):
    """The 2×2 / 2 tiling case of :func:`_avg_pool_bwd` on dout (M, OW), dx (M, 2, 2·OW)."""
    M, OW = dout.shape
    h = dx.dtype.type(0.5)
    for m in range(M):
        r0, r1, d = dx[m, 0], dx[m, 1], dout[m]
        for q in range(OW):
            g = d[q] * h * h
            r0[2 * q] = g
            r0[2 * q + 1] = g
            r1[2 * q] = g
            r1[2 * q + 1] = g


@numba.njit(**_JIT)
def _avg_pool_bwd(dout, kh, kw, sh, sw, tiled, dx):
    """dx (zeroed unless ``tiled``: windows cover it exactly once) gets dout · (1/kh) · (1/kw)
    at every entry of each window, summed where windows overlap."""
    N, C = dout.shape[0], dout.shape[1]
    OH, OW = dout.shape[2], dout.shape[3]
    ikh, ikw = dx.dtype.type(1.0 / kh), dx.dtype.type(1.0 / kw)
    for n in range(N):
        for c in range(C):
            for r in range(OH):
                for q in range(OW):
                    g = dout[n, c, r, q]
                    if kh > 1:
                        g = g * ikh
                    if kw > 1:
                        g = g * ikw
                    for i in range(kh):
                        for j in range(kw):
                            if tiled:
                                dx[n, c, r * sh + i, q * sw + j] = g
                            else:
                                dx[n, c, r * sh + i, q * sw + j] += g


@numba.njit(**_JIT)
def _relu_mask(out, arg, none):
    """In place on flat arrays: out = max(out, 0) (NaN stays), arg = ``none`` where out ≤ 0."""
    for i in range(out.size):
        v = out[i]
        if not v > 0 and v == v:
            out[i] = 0.0
            arg[i] = none


@numba.njit(**_JIT)
def _relu_fwd(x, out):
    """out = max(x, 0) on flat arrays (NaN stays NaN, as with np.maximum)."""
    for i in range(x.size):
        v = x[i]
        out[i] = v if (v > 0 or v != v) else 0.0


@numba.njit(**_JIT)
def _relu_bwd(dout, out, dx):
    """dx = dout · [out > 0] on flat arrays (a product, as in NumPy: inf · 0 is NaN)."""
    one, z = dx.dtype.type(1), dx.dtype.type(0)
    for i in range(dout.size):
        dx[i] = dout[i] * (one if out[i] > 0 else z)


@numba.njit(**_JIT)
def _crop(oc, b, relu, out):
    """Convolution forward, the crop copy: out[k, f, m·t + r, q] = oc[f, r, k, t, q] + b[f]
    for q < OW (oc (F, m, n, OH / m, Tw) the chunk's product, wide columns beyond OW dropped;
    b empty: no bias); with ``relu``, max(·, 0) (NaN stays NaN)."""
    F, m, n, G, _ = oc.shape
    OW = out.shape[3]
    z = out.dtype.type(0)
    for k in range(n):
        for f in range(F):
            bf = b[f] if b.size else z
            for t in range(G):
                for r in range(m):
                    src, dst = oc[f, r, k, t], out[k, f, m * t + r]
                    for q in range(OW):
                        v = src[q] + bf
                        dst[q] = (z if v < z else v) if relu else v


@numba.njit(**_JIT)
def _widen(dout, mask, dwide, db):
    """Convolution backward, the chunk's upstream gradient in the product's layout:
    dwide[f, r, k, t, q] = dout[k, f, m·t + r, q] for q < OW, 0 beyond (the wide garbage
    columns); db[f] += Σ dout[:, f]. With ``mask`` (non-empty, dout's shape): dout · [mask > 0]
    instead of dout (the backward pass of a ReLU on the convolution's output). The sums run
    per column q over samples and rows, then over q, in float64."""
    F, m, n, G, Tw = dwide.shape
    OW = dout.shape[3]
    masked = mask.size > 0
    acc = np.zeros(OW, np.float64)
    one, z = dwide.dtype.type(1), dwide.dtype.type(0)
    for f in range(F):
        acc[:] = 0.0
        for r in range(m):
            for k in range(n):
                for t in range(G):
                    src, dst = dout[k, f, m * t + r], dwide[f, r, k, t]
                    keep = mask[k, f, m * t + r] if masked else src
                    for q in range(OW):
                        v = src[q] * (one if keep[q] > 0 else z) if masked else src[q]
                        dst[q] = v
                        acc[q] += v
                    for q in range(OW, Tw):
                        dst[q] = z
        total = 0.0
        for q in range(OW):
            total += acc[q]
        db[f] += total


@numba.njit(**_JIT)
def _im2col_exact(x4, n0, khg, rs, cols4):
    """Convolution im2col without garbage columns (horizontal stride 1):
    cols4[(c·khg + i)·kw + j, k, t, q] = x4[n0 + k, c, rs·t + i, q + j] for the chunk's
    samples k, output rows (or row groups) t and the OW valid columns q; x4 the padded input
    (N, C, Hp, Wp), cols4 (C·khg·kw, n, G, OW)."""
    C = x4.shape[1]
    R, n, G, OW = cols4.shape
    kw = R // (C * khg)
    for c in range(C):
        for i in range(khg):
            for j in range(kw):
                row = (c * khg + i) * kw + j
                for k in range(n):
                    for t in range(G):
                        src, dst = x4[n0 + k, c, rs * t + i], cols4[row, k, t]
                        for q in range(OW):
                            dst[q] = src[q + j]


# -- the spare thread of the dense products (:mod:`proxnet.functional.products`) ------------
# A block is an int64 task vector: [address of cblas_?gemm, 1 for double, then the CBLAS
# arguments trans_a, trans_b, m, n, k, A, lda, B, ldb, C, ldc] (row-major, alpha 1, beta 0,
# 64-bit integers: NumPy's ILP64 OpenBLAS). Addresses are run-time values, so the machine code
# caches on disk.
#
# ``ctrl`` is [ticket, done, stop, sleeping, rest, wake, seq, ran]. The caller offers the second
# block by writing it to ``slot`` and a release store of ticket = s (a new sequence number).
# Whoever turns the ticket from s to -s (the spare thread) or to 0 (the caller, once its own
# block is done) with a compare-and-swap runs the block: so a block is never waited for unless
# the spare thread has started it, and a thread that is asleep, descheduled or busy costs
# nothing but the caller's own time. The spare thread publishes a finished block by a release
# store of done = s. Sleeping and offering both end in a full fence before reading the other
# side's flag (Dekker's pattern), so an offer is never missed by a thread going to sleep.
# ``rest`` (set when a session ends, cleared by the next offer or session) sends the thread
# from spinning to napping at once; ``wake`` (set when a session begins) sends it from napping
# or sleeping back to spinning.
_I32, _I64 = ir.IntType(32), ir.IntType(64)
_VOIDP = ir.IntType(8).as_pointer()
TICKET, DONE, STOP, SLEEPING, REST, WAKE, SEQ, RAN = 0, 1, 2, 3, 4, 5, 6, 7
_NO_TRANS = 111


@intrinsic
def _gemm_call(typingctx, task):
    """Call the cblas_sgemm / cblas_dgemm whose address and arguments ``task`` holds."""
    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        values = [builder.load(builder.gep(ary.data, [ir.Constant(_I64, i)])) for i in range(13)]
        address, double, (ta, tb, m, n, k, a, lda, b, ldb, c, ldc) = values[0], values[1], values[2:]
        for_double = builder.icmp_signed("!=", double, ir.Constant(_I64, 0))
        with builder.if_else(for_double) as (then, otherwise):
            for branch, real in ((then, ir.DoubleType()), (otherwise, ir.FloatType())):
                with branch:
                    fnty = ir.FunctionType(ir.VoidType(), [_I32, _I32, _I32, _I64, _I64, _I64, real,
                                                           _VOIDP, _I64, _VOIDP, _I64, real, _VOIDP, _I64])
                    fn = builder.inttoptr(address, fnty.as_pointer())
                    builder.call(fn, [ir.Constant(_I32, 101), builder.trunc(ta, _I32),
                                      builder.trunc(tb, _I32), m, n, k, ir.Constant(real, 1.0),
                                      builder.inttoptr(a, _VOIDP), lda, builder.inttoptr(b, _VOIDP),
                                      ldb, ir.Constant(real, 0.0), builder.inttoptr(c, _VOIDP), ldc])
        return context.get_dummy_value()
    return types.void(task), codegen


@intrinsic
def _call_void(typingctx, address):
    """Call the C function ``int f(void)`` at ``address`` (sched_yield), ignoring its result."""
    def codegen(context, builder, signature, args):
        fn = builder.inttoptr(args[0], ir.FunctionType(_I32, []).as_pointer())
        builder.call(fn, [])
        return context.get_dummy_value()
    return types.void(types.int64), codegen


@intrinsic
def _call_int(typingctx, address, value):
    """Call the C function ``int f(unsigned int)`` at ``address`` (usleep), ignoring its
    result."""
    def codegen(context, builder, signature, args):
        fn = builder.inttoptr(args[0], ir.FunctionType(_I32, [_I32]).as_pointer())
        builder.call(fn, [builder.trunc(args[1], _I32)])
        return context.get_dummy_value()
    return types.void(types.int64, types.int64), codegen


@intrinsic
def _load_acquire(typingctx, arr, i):
    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        return builder.load_atomic(builder.gep(ary.data, [args[1]]), "acquire", 8)
    return types.int64(arr, i), codegen


@intrinsic
def _store_release(typingctx, arr, i, value):
    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        builder.store_atomic(args[2], builder.gep(ary.data, [args[1]]), "release", 8)
        return context.get_dummy_value()
    return types.void(arr, i, value), codegen


@intrinsic
def _swap(typingctx, arr, i, expected, new):
    """Compare-and-swap ``arr[i]`` from ``expected`` to ``new`` (sequentially consistent);
    True when it was swapped."""
    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        pair = builder.cmpxchg(builder.gep(ary.data, [args[1]]), args[2], args[3],
                               "seq_cst", "seq_cst")
        return builder.extract_value(pair, 1)
    return types.boolean(arr, i, expected, new), codegen


@intrinsic
def _fence(typingctx):
    def codegen(context, builder, signature, args):
        builder.fence("seq_cst")
        return context.get_dummy_value()
    return types.void(), codegen


@numba.njit(**_JIT)
def _layout(x):
    """(CBLAS transpose flag, leading dimension) of a 2-D view with one unit stride (checked
    by the caller, in the same order)."""
    item = x.itemsize
    if x.strides[1] == item and x.strides[0] % item == 0 and x.strides[0] // item >= x.shape[1]:
        return _NO_TRANS, x.strides[0] // item
    return _NO_TRANS + 1, x.strides[1] // item


@numba.njit(**_JIT)
def _fill(task, address, double, a, b, c):
    ta, lda = _layout(a)
    tb, ldb = _layout(b)
    task[0], task[1], task[2], task[3] = address, double, ta, tb
    task[4], task[5], task[6] = a.shape[0], b.shape[1], a.shape[1]
    task[7], task[8], task[9], task[10] = a.ctypes.data, lda, b.ctypes.data, ldb
    task[11], task[12] = c.ctypes.data, c.strides[0] // c.itemsize


@numba.njit(**_JIT)
def cut_product(a, b, out, h, address, double, tasks, ctrl, slot, offer, yield_address):
    """out = a @ b as two blocks of rows, ``a[:h] @ b`` and ``a[h:] @ b``. With ``offer`` the
    second block is offered to the spare thread (see the protocol above), else run here after
    the first. Returns True when the spare thread was found asleep (the caller wakes it)."""
    _fill(tasks[0], address, double, a[:h], b, out[:h])
    _fill(tasks[1], address, double, a[h:], b, out[h:])
    if not offer:
        _gemm_call(tasks[0])
        _gemm_call(tasks[1])
        return False
    for i in range(13):
        slot[i] = tasks[1, i]
    s = ctrl[SEQ] + 1
    ctrl[SEQ] = s
    _store_release(ctrl, REST, 0)
    _store_release(ctrl, TICKET, s)
    _fence()
    asleep = _load_acquire(ctrl, SLEEPING) != 0
    _gemm_call(tasks[0])
    if _swap(ctrl, TICKET, s, 0):              # not started there: run it here
        _gemm_call(tasks[1])
    else:
        while _load_acquire(ctrl, DONE) != s:
            _call_void(yield_address)
    return asleep


@numba.njit(**_JIT)
def serve(ctrl, slot, yield_address, nap_address, spins, nap_us, naps):
    """The spare thread's loop, without the GIL: run every block it wins. After a block or a
    wake-up it checks ``spins`` times, yielding the core in between, unless ``ctrl[REST]`` is
    set; then it naps ``nap_us`` µs between checks (a session that begins sets ``WAKE`` and
    ends the naps, an offer it does not see in time its caller runs). Returns 0 after ``naps``
    naps in a row (the thread then sleeps until woken), -1 once ``ctrl[STOP]`` is set."""
    idle = 0
    napped = 0
    while True:
        if _load_acquire(ctrl, STOP) != 0:
            return -1
        t = _load_acquire(ctrl, TICKET)
        if t > 0 and _swap(ctrl, TICKET, t, -t):
            _gemm_call(slot)
            ctrl[RAN] += 1
            _store_release(ctrl, DONE, t)
            idle = napped = 0
        elif idle < spins and _load_acquire(ctrl, REST) == 0:
            _call_void(yield_address)
            idle += 1
        elif napped < naps:
            _call_int(nap_address, nap_us)
            napped += 1
            if _load_acquire(ctrl, WAKE) != 0:
                _store_release(ctrl, WAKE, 0)
                idle = napped = 0
        else:
            return 0


@numba.njit(**_JIT)
def going_to_sleep(ctrl):
    """The spare thread announces it sleeps; returns True if a block was offered, a wake-up
    asked for or a stop set meanwhile (it must not sleep then)."""
    _store_release(ctrl, SLEEPING, 1)
    _fence()
    return (_load_acquire(ctrl, TICKET) > 0 or _load_acquire(ctrl, WAKE) != 0
            or _load_acquire(ctrl, STOP) != 0)


_EMPTY = {}


def _empty(dtype, ndim):
    """A cached empty array: the compiled kernels' "none" for an optional array argument."""
    key = (np.dtype(dtype), ndim)
    if key not in _EMPTY:
        _EMPTY[key] = np.empty((0,) * ndim, dtype)
    return _EMPTY[key]


def crop(by_group, bias, out, relu=False):
    """Convolution forward: ``out`` (n, F, OH, OW) from the chunk's product ``by_group``
    (F, m, n, OH / m, Tw) plus ``bias`` ((F, 1) or None), optionally ReLU'd."""
    b = _empty(out.dtype, 1) if bias is None else bias.reshape(-1)
    _crop(by_group, b, relu, out)


def im2col_exact(x4, n0, khg, rs, cols4):
    """Convolution forward: the chunk's im2col matrix ``cols4`` (C·khg·kw, n, G, OW) from the
    padded input ``x4`` (N, C, Hp, Wp), samples from ``n0``, kernel height ``khg`` (of the
    row groups), vertical step ``rs`` between output rows (or row groups); horizontal stride 1."""
    _im2col_exact(x4, n0, khg, rs, cols4)


def widen(dout, dwide, db, mask=None):
    """Convolution backward: the chunk's ``dout`` (n, F, OH, OW), times [mask > 0] when
    ``mask`` is given, into ``dwide`` (F, m, n, OH / m, Tw) with zero garbage columns;
    db (F,) += its sums."""
    dout = np.ascontiguousarray(dout, dwide.dtype)
    _widen(dout, _empty(dwide.dtype, 4) if mask is None else mask, dwide, db)


def _is_2x2(x, kh, kw, sh, sw):
    """LeNet's pooling: 2×2 windows, stride 2, tiling an image of even height and width."""
    return (kh, kw, sh, sw) == (2, 2, 2, 2) and x.shape[2] % 2 == 0 and x.shape[3] % 2 == 0


def max_pool2d(x, kh, kw, sh, sw, relu=False):
    """(out, arg) of max pooling of the C-contiguous float ``x`` (N, C, H, W): arg holds the
    first maximum's i·kw + j (uint8 up to 255 window entries, else int32). With ``relu``,
    out = max(pool(x), 0) = pool(max(x, 0)) and arg = kh·kw (no entry gets the gradient)
    where the maximum is not positive (see :mod:`proxnet.functional.fused`)."""
    N, C, H, W = x.shape
    OH, OW = (H - kh) // sh + 1, (W - kw) // sw + 1
    out = np.empty((N, C, OH, OW), x.dtype)
    arg = np.empty((N, C, OH, OW), np.uint8 if kh * kw < 256 else np.int32)
    if _is_2x2(x, kh, kw, sh, sw):
        _max_pool_fwd_2x2(x.reshape(-1, 2, W), out.reshape(-1, OW), arg.reshape(-1, OW))
    else:
        _max_pool_fwd(x, kh, kw, sh, sw, out, arg)
    if relu:
        _relu_mask(out.reshape(-1), arg.reshape(-1), kh * kw)
    return out, arg


def max_pool2d_backward(dout, arg, xshape, kh, kw, sh, sw):
    """dx (xshape) of max pooling from ``arg`` of :func:`max_pool2d`."""
    dout = np.ascontiguousarray(dout)
    N, C, H, W = xshape
    if (kh, kw, sh, sw) == (2, 2, 2, 2) and H % 2 == 0 and W % 2 == 0:
        dx = np.empty(xshape, dout.dtype)
        _max_pool_bwd_2x2(dout.reshape(-1, W // 2), arg.reshape(-1, W // 2), dx.reshape(-1, 2, W))
    else:
        dx = np.zeros(xshape, dout.dtype)
        _max_pool_bwd(dout, arg, kh, kw, sh, sw, dx)
    return dx


def avg_pool2d(x, kh, kw, sh, sw):
    """Average pooling of the C-contiguous float ``x`` (N, C, H, W)."""
    N, C, H, W = x.shape
    out = np.empty((N, C, (H - kh) // sh + 1, (W - kw) // sw + 1), x.dtype)
    if _is_2x2(x, kh, kw, sh, sw):
        _avg_pool_fwd_2x2(x.reshape(-1, 2, W), out.reshape(-1, W // 2))
    else:
        _avg_pool_fwd(x, kh, kw, sh, sw, out)
    return out


def avg_pool2d_backward(dout, xshape, kh, kw, sh, sw):
    """dx (xshape) of average pooling."""
    dout = np.ascontiguousarray(dout)
    OH, OW = dout.shape[2], dout.shape[3]
    tiled = kh == sh and kw == sw and xshape[2] == kh * OH and xshape[3] == kw * OW
    dx = np.empty(xshape, dout.dtype) if tiled else np.zeros(xshape, dout.dtype)
    if tiled and (kh, kw) == (2, 2):
        _avg_pool_bwd_2x2(dout.reshape(-1, OW), dx.reshape(-1, 2, 2 * OW))
    else:
        _avg_pool_bwd(dout, kh, kw, sh, sw, tiled, dx)
    return dx


def relu(x):
    """max(x, 0) of a C-contiguous float array."""
    out = np.empty_like(x)
    _relu_fwd(x.reshape(-1), out.reshape(-1))
    return out


def relu_backward(dout, out):
    """dout · [out > 0], both C-contiguous, same shape and dtype."""
    dx = np.empty_like(out)
    _relu_bwd(dout.reshape(-1), out.reshape(-1), dx.reshape(-1))
    return dx


def supports(*arrays) -> bool:
    """True when every array is a C-contiguous float32 or float64 ndarray of one dtype."""
    first = arrays[0]
    return (type(first) is np.ndarray and first.dtype in (np.float32, np.float64)
            and all(type(a) is np.ndarray and a.dtype == first.dtype and a.flags.c_contiguous
                    for a in arrays))


def warm_up() -> None:
    """Compile (or load from the disk cache) every kernel for float32 and float64."""
    for dtype in (np.float32, np.float64):
        x = np.arange(2 * 4 * 4, dtype=dtype).reshape(1, 2, 4, 4)
        for k, s in ((2, 2), (3, 1)):
            for fused in (False, True):
                out, arg = max_pool2d(x, k, k, s, s, relu=fused)
                max_pool2d_backward(np.ones_like(out), arg, x.shape, k, k, s, s)
            out = avg_pool2d(x, k, k, s, s)
            avg_pool2d_backward(out, x.shape, k, k, s, s)
        relu_backward(x, relu(x))
        oc = np.ones((2, 2, 1, 2, 5), dtype)
        out = np.empty((1, 2, 4, 4), dtype)
        for b in (np.ones(2, dtype), np.empty(0, dtype)):
            _crop(oc, b, False, out)
            _crop(oc, b, True, out)
        db = np.zeros(2, dtype)
        _widen(out, np.empty((0, 0, 0, 0), dtype), oc, db)
        _widen(out, out, oc, db)
        _im2col_exact(out, 0, 2, 1, np.empty((2 * 2 * 2, 1, 2, 3), dtype))
