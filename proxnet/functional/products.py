"""The large matrix products of dense layers, on two cores, with the same bits as on one.

Inside a shard session (:func:`proxnet.parallel.shard_session`: ``fit``, ``evaluate``,
``predict``) BLAS runs on one thread, because OpenBLAS's products differ in their last bits
between 1 and 2 threads. A batch of a multilayer perceptron is one shard, so its products
used one core whatever the machine had.

With the compiled kernels (``proxnet[fast]``), when the session has two or more threads and
no shards run side by side, a product of at least :data:`SPLIT_MACS` multiply-adds is cut in
two blocks of rows, ``a[:h] @ b`` and ``a[h:] @ b``, each one call of NumPy's own
``cblas_?gemm``; the second is offered to the *spare thread*, a compiled loop that waits for
work without the GIL, and the caller runs it itself if that thread has not started it by the
time the first is done.

A row of a product depends on one row of ``a`` and on ``b`` only, but whether BLAS computes
it with the same operations in a block as in the whole product depends on its kernels
(OpenBLAS's Haswell ``sgemm`` does when ``h`` is a multiple of 12, and not for a cut at 64 of
128 rows). So a cut is taken only where it is *exact*: the first time a shape and layout
comes, :func:`exact_cut` computes a product of random values of that shape and layout whole
(``a @ b``) and cut at each of the most even :func:`candidates`, and keeps the first cut whose
bits equal the whole product's, or none. A cut product therefore has the bits of ``a @ b``,
and every other product — on one thread, outside a session, with the NumPy kernels, under
:data:`SPLIT_MACS`, of a shape with no exact cut, or where NumPy's BLAS exports no
64-bit-integer CBLAS (``scipy_cblas_sgemm64_`` or ``cblas_sgemm64_``: a NumPy built on MKL
or Accelerate, say) — *is* ``a @ b``. Results never depend on the number of threads, and one
thread pays nothing for the second.

Importing Numba and loading its first kernel takes about a second. A process that has
loaded the compiled kernels already (a convolutional model, the benchmarks) cuts at once; one
that has not (a multilayer perceptron alone) runs its large products whole until
:data:`HOT_MACS` multiply-adds of them have run on two threads, then loads them: a short fit
never waits, a long one waits once.
"""
from __future__ import annotations

import ctypes
import os
import threading

import numpy as np

from .. import parallel
from . import accel

__all__ = ["SPLIT_MACS", "CANDIDATES", "HOT_MACS", "matmul", "exact_cut", "candidates", "blas_found",
           "ready"]

SPLIT_MACS = 2**21
"""Products with at least this many multiply-adds (m·n·k) are cut in two blocks of rows
(where the cut is exact); smaller ones cost more to hand over than they save."""

CANDIDATES = 8
"""Cuts tried per shape and layout, the most even first (:func:`candidates`)."""

SPINS = 2**14
"""Empty checks (each a ``sched_yield``, about a microsecond) before the spare thread naps;
it also naps as soon as the outermost shard session ends, and spins again when the next one
begins or it wins a block. A product whose second block it does not start in time runs both
blocks here."""

NAP_US = 250
"""Microseconds of each nap: the spare thread then checks for work, without the GIL."""

NAPS = 4000
"""Naps in a row (about a second) before the spare thread sleeps on a condition; a session
that begins then wakes it, and it needs the GIL once to wake up."""

_NO_TRANS, _TRANS = 111, 112
_SYMBOLS = (("scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_"), ("cblas_sgemm64_", "cblas_dgemm64_"))

_blas = None            # {dtype: address of cblas_?gemm}, {} when none was found
_spare = None           # the spare thread, made on first use
_making = threading.Lock()
_cuts: dict = {}        # (dtype, m, k, n, layout of a, layout of b) -> exact cut h, or 0


def _find_blas() -> dict:
    """The addresses of NumPy's ``cblas_sgemm`` / ``cblas_dgemm`` (64-bit integers) by dtype,
    or {} (see the module docstring). NumPy's own library is tried first."""
    from threadpoolctl import ThreadpoolController

    numpy_dir = os.path.realpath(os.path.dirname(os.path.dirname(np.__file__)))
    libs = [c.filepath for c in ThreadpoolController().select(user_api="blas").lib_controllers]
    libs.sort(key=lambda path: not os.path.realpath(path).startswith(numpy_dir))
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for single, double in _SYMBOLS:
            if hasattr(lib, single) and hasattr(lib, double):
                return {np.dtype(np.float32): ctypes.cast(getattr(lib, single), ctypes.c_void_p).value,
                        np.dtype(np.float64): ctypes.cast(getattr(lib, double), ctypes.c_void_p).value}
    return {}


def blas_found() -> bool:
    """True when NumPy's BLAS can be called directly (large products can be cut)."""
    global _blas
    if _blas is None:
        _blas = _find_blas()
    return bool(_blas)


def _layout(a) -> tuple[int, int] | None:
    """(CBLAS transpose flag, leading dimension) of a 2-D float view, or None."""
    s0, s1 = a.strides
    item = a.itemsize
    if s1 == item and s0 % item == 0 and s0 // item >= a.shape[1]:
        return _NO_TRANS, s0 // item
    if s0 == item and s1 % item == 0 and s1 // item >= a.shape[0]:
        return _TRANS, s1 // item
    return None


def _like(rng, rows: int, cols: int, layout, dtype) -> np.ndarray:
    """A (rows, cols) array of random values in [-1, 1) with the given (flag, leading
    dimension) layout."""
    flag, ld = layout
    shape = (rows, ld) if flag == _NO_TRANS else (cols, ld)
    values = rng.random(shape, dtype=dtype)
    values -= dtype(0.5)
    return values[:, :cols] if flag == _NO_TRANS else values[:, :rows].T


def candidates(m: int) -> list[int]:
    """The first rows of the second block to try for ``m`` rows: multiples of 4 from the most
    even cut outwards, at most :data:`CANDIDATES`, none leaving a block under a quarter."""
    cuts = range(-(-(m // 4) // 4) * 4, m - m // 4 + 1, 4)
    return sorted((h for h in cuts if h > 0), key=lambda h: (abs(2 * h - m), h))[:CANDIDATES]


def exact_cut(module, dtype, m: int, k: int, n: int, la, lb) -> int:
    """The first rows ``h`` of a cut of (m, k) @ (k, n) products with these layouts whose two
    blocks give the bits of the whole ``a @ b``, or 0; decided once per process and key, on
    random values (a kernel that computes a row differently in a block differs in its last
    bits almost surely), with BLAS on one thread (the caller's shard session)."""
    key = (np.dtype(dtype).char, m, k, n, la, lb)
    h = _cuts.get(key)
    if h is None and not blas_found():
        h = 0
    if h is None:
        rng = np.random.default_rng([m, k, n])
        dtype = np.dtype(dtype).type
        a, b = _like(rng, m, k, la, dtype), _like(rng, k, n, lb, dtype)
        whole = a @ b
        h = 0
        for cut in candidates(m):
            out = np.empty((m, n), dtype)
            _cut(module, a, b, out, cut)
            if np.array_equal(out.view(np.uint8), whole.view(np.uint8)):
                h = cut
                break
        _cuts[key] = h
    return h


def matmul(a, b):
    """``a @ b`` of two 2-D arrays, with the same bits; with a spare core, a large float
    product is cut in two exact blocks of rows, the second run on the spare thread (see the
    module docstring)."""
    if (not parallel.spare_core() or type(a) is not np.ndarray or type(b) is not np.ndarray
            or a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0] or a.dtype != b.dtype
            or a.dtype not in (np.float32, np.float64)):
        return a @ b
    m, k, n = a.shape[0], a.shape[1], b.shape[1]
    if m * n * k < SPLIT_MACS or np.may_share_memory(a, b):
        return a @ b       # (NumPy computes a product of an array with itself by other means)
    la, lb = _layout(a), _layout(b)
    module = _kernels(m * n * k) if la is not None and lb is not None else None
    h = 0 if module is None else exact_cut(module, a.dtype, m, k, n, la, lb)
    spare = _claim(module) if h else None
    if spare is None:
        return a @ b
    out = np.empty((m, n), a.dtype)
    try:
        asleep = _cut(module, a, b, out, h, spare)
    finally:
        spare.lock.release()
    if asleep:
        spare.rouse()
    return out


def _cut(module, a, b, out, h: int, spare=None) -> bool:
    """out = a @ b as the blocks a[:h] @ b and a[h:] @ b (:func:`._compiled.cut_product`),
    the second offered to ``spare`` (held by the caller) or, without one, run here. Returns
    True when the spare thread was found asleep."""
    dtype = np.dtype(a.dtype)
    if spare is None:
        return module.cut_product(a, b, out, h, _blas[dtype], dtype == np.float64,
                                  np.empty((2, 16), np.int64), np.zeros(8, np.int64),
                                  np.zeros(16, np.int64), False, 0)
    return module.cut_product(a, b, out, h, _blas[dtype], dtype == np.float64,
                              np.empty((2, 16), np.int64), spare.ctrl, spare.slot, True,
                              spare.yield_address)


# -- when the compiled kernels are loaded for the cut ------------------------------------------
HOT_MACS = 2**37
"""Multiply-adds of large products that run whole on two or more threads, in a process that
has not loaded the compiled kernels, before the cut loads them (importing Numba and loading
its first kernel from the disk cache takes about a second). A short fit never pays that; a
long one pays it once and gains for the rest of the process. Results are the same either way."""

_whole_macs = 0         # the large products' multiply-adds run whole so far, in such a process
_unavailable = False    # the compiled kernels could not be loaded: never try again
_preparing = threading.Lock()


def _kernels(macs: int):
    """The compiled-kernel module with the cut and the spare thread ready, or None (run the
    product whole): the NumPy kernels are chosen, NumPy's CBLAS was not found, Numba does not
    load, or the process has not loaded it and its large products are not yet hot
    (:data:`HOT_MACS`); ``macs`` is this product's count."""
    global _whole_macs
    if accel.BACKEND == "numpy" or _unavailable or not blas_found():
        return None
    module = accel.loaded()
    if module is not None and _spare is not None and _spare.module is module:
        return accel.compiled()        # (None if the choice is now "numpy")
    if module is None:
        _whole_macs += macs
        if _whole_macs < HOT_MACS:
            return None
    return _prepare()


def ready() -> bool:
    """Load the compiled kernels for the cut now (if they load), as a long fit would; returns
    whether large products can be cut. The benchmarks call it before timing (the load is a
    first-use cost, reported apart) and so do the tests; training decides by itself."""
    return not _unavailable and blas_found() and _prepare() is not None


def _prepare():
    """The compiled-kernel module once it, the cut's machine code (both dtypes) and the spare
    thread are loaded, or None (and never again) when Numba does not load."""
    global _unavailable
    with _preparing:
        try:
            module = accel.compiled()
        except (RuntimeError, ValueError):
            module = None
        if module is None:
            _unavailable = accel.BACKEND != "numpy"      # ("numpy" may be undone later)
            return None
        if _spare is None or _spare.module is not module:
            for dtype in (np.float32, np.float64):
                _cut(module, np.ones((8, 4), dtype), np.ones((4, 4), dtype),
                     np.empty((8, 4), dtype), 4)
            _spare_for(module)
        return module


# -- the spare thread ------------------------------------------------------------------------
class _Spare:
    """One thread that runs offered blocks in a compiled loop without the GIL, and sleeps
    after :data:`SPINS` empty checks or when a session ends; one caller at a time holds it
    (:func:`_claim`)."""

    def __init__(self, module):
        self.module = module
        self.ctrl = np.zeros(8, np.int64)       # see proxnet.functional._compiled
        self.slot = np.zeros(16, np.int64)      # the block offered
        self.lock = threading.Lock()            # held by the caller using the thread
        self.wake = threading.Condition()
        libc = ctypes.CDLL(None)
        self.yield_address = ctypes.cast(libc.sched_yield, ctypes.c_void_p).value
        self.nap_address = ctypes.cast(libc.usleep, ctypes.c_void_p).value
        self.sleeps = 0                          # times it went to sleep (for the tests)
        self.thread = threading.Thread(target=self._run, name="proxnet-products", daemon=True)
        self.thread.start()

    @property
    def ran(self) -> int:
        """Blocks this thread has run (for the tests and the benchmarks)."""
        return int(self.ctrl[self.module.RAN])

    def _run(self):
        m = self.module
        while m.serve(self.ctrl, self.slot, self.yield_address, self.nap_address, SPINS, NAP_US,
                      NAPS) == 0:
            with self.wake:
                if not m.going_to_sleep(self.ctrl):
                    self.sleeps += 1
                    self.wake.wait()
                self.ctrl[m.SLEEPING] = self.ctrl[m.WAKE] = 0

    def asleep(self) -> bool:
        return bool(self.ctrl[self.module.SLEEPING])

    def rouse(self):
        """Send the thread back to spinning, ready for work (from napping within a nap; from
        sleeping once it has the GIL)."""
        self.ctrl[self.module.REST] = 0
        self.ctrl[self.module.WAKE] = 1
        with self.wake:
            self.wake.notify()

    def rest(self):
        """Let the thread nap now (a session ended: nothing will be offered for a while)."""
        self.ctrl[self.module.REST] = 1


def _spare_for(module) -> _Spare:
    """The spare thread running ``module``'s loop, made on first use."""
    global _spare
    if _spare is None or _spare.module is not module:
        with _making:
            if _spare is None or _spare.module is not module:
                _spare = _Spare(module)
                parallel.at_session_start(_rouse)
                parallel.at_session_end(_rest)
    return _spare


def _claim(module) -> _Spare | None:
    """The spare thread, held for the caller, or None (run the whole product here): the
    thread busy with another caller."""
    spare = _spare_for(module)
    return spare if spare.lock.acquire(blocking=False) else None


def _rouse():
    if _spare is not None and parallel.spare_core():
        _spare.rouse()


def _rest():
    if _spare is not None:
        _spare.rest()


def _forget():
    # A forked child has none of its parent's threads: it makes its own on first use.
    global _spare, _making, _preparing
    _spare, _making, _preparing = None, threading.Lock(), threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget)
