"""Threads for training: how many proxnet uses, and running shards of a batch on them.

proxnet's kernels are NumPy calls, and NumPy releases the GIL inside its loops and matrix
products, so plain Python threads run them on several cores at once. A training step uses
them through *shards*: :class:`~proxnet.Sequential` cuts a batch into a few pieces whose
activations fit in a core's cache, runs forward, loss and backward of every piece on its own
replica of the layers, and sums the pieces' gradients in a fixed order (see
``Sequential.fit``). This module only runs such independent pieces of work.

How many threads
----------------
As many as the BLAS library (OpenBLAS, MKL, ...) is allowed to use, which is the knob users
of NumPy already know: ``threadpoolctl.threadpool_limits(n)``, or ``OMP_NUM_THREADS`` /
``OPENBLAS_NUM_THREADS`` set before Python starts. By default that is every core. While
shards run on several threads, each thread's matrix products run single-threaded, so the
cores are not oversubscribed; the limit is restored afterwards. A thread that runs alone
while others are idle (:func:`spare_core`) hands half of a large dense product to a spare
thread (:mod:`proxnet.functional.products`), with the same bits.

The number of threads never changes a result: which shards a batch is cut into depends on
the batch and the model only, and their gradients are summed in shard order whichever
thread computed them.
"""
from __future__ import annotations

import contextlib
import contextvars
import os
import threading
from concurrent.futures import ThreadPoolExecutor

_lock = threading.Lock()
_blas = None        # threadpoolctl controller of the BLAS libraries NumPy loaded
_executor = None    # worker threads, made on first use
_executor_size = 0


def _blas_controller():
    global _blas
    if _blas is None:
        import numpy  # noqa: F401  (BLAS is found among the loaded libraries)
        from threadpoolctl import ThreadpoolController
        _blas = ThreadpoolController().select(user_api="blas")
    return _blas


_session = contextvars.ContextVar("proxnet_shard_threads", default=None)
_side_by_side = contextvars.ContextVar("proxnet_shards_side_by_side", default=False)
_at_start: list = []    # called when an outermost session begins
_at_end: list = []      # called when an outermost session ends


def at_session_start(fn) -> None:
    """Call ``fn()`` whenever an outermost :func:`shard_session` begins (once per ``fn``)."""
    if fn not in _at_start:
        _at_start.append(fn)


def at_session_end(fn) -> None:
    """Call ``fn()`` whenever an outermost :func:`shard_session` ends (once per ``fn``)."""
    if fn not in _at_end:
        _at_end.append(fn)


def spare_core() -> bool:
    """True inside a :func:`shard_session` of two or more threads when no shards are running
    side by side here: a second core is idle while this thread works (the dense products use
    it, :mod:`proxnet.functional.products`)."""
    n = _session.get()
    return n is not None and n >= 2 and not _side_by_side.get()


def num_threads() -> int:
    """Threads a training step may use: the BLAS thread limit (1 if NumPy's BLAS cannot be
    queried), as it was when the enclosing :func:`shard_session` began."""
    inside = _session.get()
    if inside is not None:
        return inside
    counts = [c.num_threads for c in _blas_controller().lib_controllers]
    counts = [c for c in counts if isinstance(c, int) and c > 0]
    return max(counts) if counts else 1


@contextlib.contextmanager
def shard_session():
    """Run shards with single-threaded BLAS and yield the number of threads they may use.

    Inside, every matrix product runs on one thread whether or not the batch was cut, so a
    result never depends on how many threads BLAS would have used (OpenBLAS's products
    differ in their last bits between 1 and 2 threads); the parallelism is the shards'. The
    thread count is read once, on entry (nested sessions reuse it)."""
    outer = _session.get()
    if outer is not None:
        yield outer
        return
    n = num_threads()
    token = _session.set(n)
    try:
        for fn in _at_start:
            fn()
        with _blas_controller().limit(limits=1):
            yield n
    finally:
        _session.reset(token)
        for fn in _at_end:
            fn()


def _workers(n: int) -> ThreadPoolExecutor:
    global _executor, _executor_size
    with _lock:
        if _executor is None or _executor_size < n:
            if _executor is not None:
                _executor.shutdown(wait=False)
            _executor, _executor_size = ThreadPoolExecutor(n, thread_name_prefix="proxnet"), n
        return _executor


def _forget_workers():
    # A forked child has none of its parent's threads: it makes its own on first use.
    global _executor, _executor_size, _lock
    _executor, _executor_size, _lock = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_workers)


def run_shards(fn, n: int, threads: int | None = None) -> list:
    """``[fn(0), fn(1), ..., fn(n − 1)]``, computed on up to ``threads`` threads.

    Parameters
    ----------
    fn : callable(int) -> object
        Work on one shard. Calls must be independent of each other (they may run at the
        same time, in any order). They see the caller's context variables (``np.errstate``).
    n : int
        Number of shards.
    threads : int or None
        None: :func:`num_threads`. With 1 thread (or 1 shard) everything runs here, in order.

    Returns
    -------
    The results in shard order. If a shard raises, the other threads finish their shards
    first, then one exception is raised (the calling thread's, if it failed).
    """
    threads = min(n, num_threads() if threads is None else int(threads))
    if threads <= 1:
        return [fn(i) for i in range(n)]

    def group(j):   # shards j, j + threads, ... on one thread
        token = _side_by_side.set(True)
        try:
            return [(i, fn(i)) for i in range(j, n, threads)]
        finally:
            _side_by_side.reset(token)

    pool = _workers(threads - 1)
    with shard_session():
        # Each worker runs in a copy of the caller's context, so np.errstate and other
        # context-local settings of the caller hold in every shard.
        futures = [pool.submit(contextvars.copy_context().run, group, j) for j in range(1, threads)]
        outcomes = []
        try:
            outcomes.append(group(0))      # the calling thread takes the first group
        except BaseException as exc:       # noqa: BLE001 (re-raised below, in shard order)
            outcomes.append(exc)
        for f in futures:
            try:
                outcomes.append(f.result())
            except BaseException as exc:   # noqa: BLE001
                outcomes.append(exc)
    failed = [(j, o) for j, o in enumerate(outcomes) if isinstance(o, BaseException)]
    if failed:
        raise failed[0][1]
    results = [None] * n
    for pairs in outcomes:
        for i, r in pairs:
            results[i] = r
    return results
