"""Where trials run: in this process, in a pool of worker processes on this machine, or on
a Dask cluster. Each executor is a generator of :func:`~proxnet.studies.trial.execute`
results (plain dicts), in the order trials finish.

``in_process``
    One trial after the other in the calling process (``jobs = 1`` without a time limit).
``local_pool``
    ``jobs`` worker processes started with loky's process context (joblib's), each running
    one trial at a time, fed by the parent over a pipe. The parent knows which trial each
    worker runs, so it can replace exactly the worker that died or overran its trial's time
    limit by more than :func:`grace` (it kills it with SIGKILL and starts a fresh one; the
    trial is stored as ``timeout``), and the other workers go on. Healthy workers are kept
    for the next study run by this process (a notebook, a test session), one per core. Workers ignore SIGINT
    (Ctrl-C is the study's to handle) and end on their own within a second when the study's
    process is gone (:mod:`proxnet.studies.watchdog`).
``dask``
    A Dask distributed cluster: the scheduler at ``address``, or a ``LocalCluster`` of
    ``jobs`` worker processes (one task at a time each, ``cores // jobs`` BLAS threads per
    trial as in the local pool, so that results equal the local executor's bit for bit; its
    workers and nannies get the same watchdog). Time limits are enforced inside the trial at batch boundaries; a worker lost
    by the cluster makes its trial pending again (retried by the next run).
"""
from __future__ import annotations

import atexit
import contextlib
import os
import signal
import time
from collections import deque
from multiprocessing.connection import wait as wait_ready

from .trial import execute, versions
from .watchdog import watch

__all__ = ["in_process", "local_pool", "dask", "grace", "cores", "prestart", "release_idle"]

KILL_GRACE = (5.0, 0.1)
"""A worker is killed once its trial has run ``timeout + 5 s + 10 % of timeout``."""
POLL = 0.2


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def grace(timeout: float) -> float:
    """Seconds past its time limit after which a trial's worker is killed."""
    return KILL_GRACE[0] + KILL_GRACE[1] * timeout


def _outcome(payload, status: str, message: str, t0: float) -> dict:
    """A result for a trial whose worker could not return one."""
    now = time.time()
    return {"key": payload["key"], "status": status, "error": message, "message": message,
            "epochs": {}, "final": {}, "artifacts": {}, "versions": versions(), "stored": False,
            "started": now - (time.monotonic() - t0), "finished": now,
            "duration": time.monotonic() - t0}


def in_process(payloads, threads: int):
    """Run each trial here, one after the other."""
    for p in payloads:
        yield execute(p, blas_threads=threads)


def _worker_main(conn, threads, parent):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watch(parent)
    while True:
        try:
            payload = conn.recv()
        except (EOFError, OSError):
            return
        if payload is None:
            return
        conn.send(execute(payload, threads))


class _Worker:
    """One worker process and the trial it runs."""

    def __init__(self, ctx, threads, parent):
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_worker_main, args=(child, threads, parent),
                                name="proxnet-trial-worker", daemon=True)
        self.proc.start()
        child.close()
        self.payload, self.t0 = None, None

    def send(self, payload) -> bool:
        try:
            self.conn.send(payload)
        except (OSError, ValueError):
            return False
        self.payload, self.t0 = payload, time.monotonic()
        return True

    def receive(self):
        """The result if one is waiting, else None."""
        try:
            if self.conn.poll():
                return self.conn.recv()
        except (EOFError, OSError):
            pass
        return None

    def overdue(self) -> bool:
        limit = self.payload.get("timeout")
        return bool(limit) and time.monotonic() - self.t0 > limit + grace(limit)

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.kill()
        self.proc.join(10)
        with contextlib.suppress(Exception):
            self.conn.close()

    def ask_to_stop(self) -> None:
        """Tell the worker to exit after its trial (it takes a moment: see :meth:`stop`)."""
        with contextlib.suppress(Exception):
            self.conn.send(None)

    def stop(self) -> None:
        self.ask_to_stop()
        self.proc.join(2)
        if self.proc.is_alive():
            self.kill()
        with contextlib.suppress(Exception):
            self.conn.close()


def _death(proc) -> str:
    code = proc.exitcode
    if code is not None and code < 0:
        try:
            how = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"killed by signal {-code}"
    else:
        how = f"exit code {code}"
    return (f"WorkerDied: the worker process running this trial ended ({how}), e.g. out of "
            f"memory or killed from outside; the trial will be retried by the next run")


_IDLE: list = []      # (threads, parent, worker): healthy workers kept for the next study


def _take(ctx, threads, parent) -> _Worker:
    """An idle worker started for the same settings (still alive), or a new one."""
    while _IDLE:
        t, p, w = _IDLE.pop()
        if (t, p) == (threads, parent) and w.proc.is_alive():
            return w
        w.stop()
    return _Worker(ctx, threads, parent)


def prestart(jobs: int, threads: int, parent) -> None:
    """Start worker processes for a pool of ``jobs`` (``threads`` BLAS threads per trial,
    watching ``parent``) ahead of :func:`local_pool`, which takes them up; the idle workers
    kept from an earlier study for the same settings count."""
    from joblib.externals.loky.backend.context import get_context
    have = sum((t, p) == (threads, parent) and w.proc.is_alive() for t, p, w in _IDLE)
    ctx = get_context("loky")
    for _ in range(max(0, min(jobs, cores()) - have)):
        _IDLE.append((threads, parent, _Worker(ctx, threads, parent)))


def _keep(workers, threads, parent) -> None:
    """Keep healthy idle workers for the next study in this process (as joblib's reusable
    executor does), at most one per core; they exit with this process."""
    for w in workers:
        if len(_IDLE) < cores() and w.proc.is_alive():
            _IDLE.append((threads, parent, w))
        else:
            w.stop()


_LEAVING: list = []    # workers told to exit, joined when this process exits


def release_idle() -> int:
    """Tell the idle workers kept for the next study to exit now, without waiting for them
    (for a process that runs no more studies: the CLI, while it writes the report); returns
    how many."""
    n = len(_IDLE)
    while _IDLE:
        w = _IDLE.pop()[2]
        w.ask_to_stop()
        _LEAVING.append(w)
    return n


@atexit.register
def _stop_idle():
    release_idle()              # all at once: they exit side by side
    while _LEAVING:
        _LEAVING.pop().stop()


def local_pool(payloads, jobs: int, threads: int, parent=None):
    """Run the trials on ``jobs`` worker processes; yields results as trials finish."""
    from joblib.externals.loky.backend.context import get_context
    ctx = get_context("loky")
    queue = deque(payloads)
    workers: list[_Worker] = []
    ok = False
    try:
        workers = [_take(ctx, threads, parent) for _ in range(min(jobs, len(queue)))]
        while queue or any(w.payload is not None for w in workers):
            for i, w in enumerate(workers):
                tries = 0
                while w.payload is None and queue:
                    if not w.send(queue[0]):
                        tries += 1
                        if tries > 3:
                            raise RuntimeError(f"local executor: worker processes die at start "
                                               f"(exit code {w.proc.exitcode})")
                        w.kill()
                        workers[i] = w = _Worker(ctx, threads, parent)
                        continue
                    queue.popleft()
            busy = [w for w in workers if w.payload is not None]
            wait_ready([w.conn for w in busy] + [w.proc.sentinel for w in busy], timeout=POLL)
            for i, w in enumerate(workers):
                if w.payload is None:
                    continue
                res = w.receive()
                if res is None and not w.proc.is_alive():
                    res = w.receive() or _outcome(w.payload, "pending", _death(w.proc), w.t0)
                    w.kill()
                    workers[i] = _Worker(ctx, threads, parent)
                elif res is None and w.overdue():
                    limit = w.payload["timeout"]
                    res = _outcome(w.payload, "timeout",
                                   f"TrialTimeout: the trial ran {time.monotonic() - w.t0:.1f} s, past its "
                                   f"time limit of {limit:g} s, without reaching a batch boundary; its "
                                   f"worker was killed and replaced", w.t0)
                    w.kill()
                    workers[i] = _Worker(ctx, threads, parent)
                if res is not None:
                    w.payload = None
                    yield res
        ok = True
    finally:
        if ok:
            _keep(workers, threads, parent)
        else:
            for w in workers:
                w.kill()


def dask(payloads, jobs: int, address: str | None, parent=None, threads: int = 1):
    """Run the trials on a Dask cluster (``address``: one BLAS thread per trial) or a new
    LocalCluster of ``jobs`` worker processes (``threads`` BLAS threads per trial, as the
    local pool); yields results as trials finish."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:  # pragma: no cover - depends on the environment
        raise RuntimeError("executor 'dask' needs dask.distributed: pip install 'dask[distributed]'") from None
    cluster = None
    if address:
        client = Client(address, timeout="20s")
    else:
        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
        if parent is not None:
            client.run(watch, parent, nanny=True)
            client.run(watch, parent)
    futures = {}
    try:
        t0 = time.monotonic()
        for p in payloads:
            futures[client.submit(execute, p, 1 if address else threads, key=f"trial-{p['key']}",
                                  pure=False)] = p
        for fut in as_completed(list(futures)):
            try:
                res = fut.result()
            except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: the cluster lost it
                res = _outcome(futures[fut], "pending",
                               f"{type(exc).__name__}: the Dask cluster lost this trial ({exc}); "
                               f"it will be retried by the next run", t0)
            yield res
    finally:
        with contextlib.suppress(Exception):
            client.cancel(list(futures))
        client.close()
        if cluster is not None:
            cluster.close()
