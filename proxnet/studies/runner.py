"""Run a study: expand the grid × seeds, skip what the store already holds, run the rest on
an executor, store each result as it arrives.

Executors
---------
``local`` (default)
    joblib's process pool (loky) over ``jobs`` workers (default: every core). Each worker
    limits its BLAS pool to ``cores // jobs`` threads (at least 1), so parallel trials do
    not oversubscribe the machine. ``jobs=1`` runs in this process.
``dask``
    A Dask distributed cluster: the scheduler at ``address`` (``tcp://host:port``), or a
    ``LocalCluster`` of ``jobs`` single-threaded worker processes when no address is given.

Each trial has a time limit (``timeout`` seconds, from the option or the config): a hard
SIGALRM limit in process-pool workers, and a per-epoch check everywhere. A failing trial is
stored as ``failed`` with its traceback and the others go on. Ctrl-C stops the study: the
finished trials stay in the store, the interrupted ones go back to ``pending`` and run on
the next start.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .config import StudyConfig
from .store import Store
from .trial import execute

__all__ = ["run_study", "StudyRun", "EXECUTORS"]

EXECUTORS = ("local", "dask")


@dataclass
class StudyRun:
    """What a call of :func:`run_study` did."""
    study_dir: Path
    total: int                       # trials in the grid × seeds
    skipped: int                     # already done (or failed, without retry) before this call
    ran: int = 0
    counts: dict = field(default_factory=dict)   # status -> count in the store afterwards
    interrupted: bool = False


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _local(payloads, jobs: int):
    """Yield results as they finish, from a joblib process pool (or in-process for 1 job)."""
    threads = max(1, _cores() // jobs)
    if jobs == 1:
        for p in payloads:
            yield execute(p, blas_threads=threads)
        return
    from joblib import Parallel, delayed
    parallel = Parallel(n_jobs=jobs, backend="loky", return_as="generator_unordered",
                        pre_dispatch="n_jobs")
    gen = parallel(delayed(execute)(p, threads) for p in payloads)
    try:
        yield from gen
    finally:
        gen.close()


def _dask(payloads, jobs: int, address: str | None):
    """Yield results as they finish, from a Dask distributed cluster."""
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
    try:
        futures = [client.submit(execute, p, 1, key=f"trial-{p['key']}", pure=False) for p in payloads]
        for fut in as_completed(futures):
            yield fut.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_study(config: StudyConfig, study_dir, *, jobs: int | None = None, executor: str = "local",
              address: str | None = None, timeout: float | None = None, retry_failed: bool = False,
              progress: bool | None = None) -> StudyRun:
    """Run the trials of ``config`` that ``study_dir``'s store does not hold yet.

    Parameters
    ----------
    config : StudyConfig
    study_dir : path of the study folder (``study.db`` is created there)
    jobs : parallel workers (default: all cores, at most the number of trials)
    executor : "local" or "dask"
    address : Dask scheduler address (``executor="dask"``); None starts a local cluster
    timeout : seconds per trial (overrides ``config.timeout``)
    retry_failed : also re-run trials stored as failed or timeout
    progress : tqdm bar over the trials (None: only on a terminal)
    """
    if executor not in EXECUTORS:
        raise ValueError(f"executor: expected one of {', '.join(EXECUTORS)}, got {executor!r}")
    if jobs is not None and jobs < 1:
        raise ValueError(f"jobs: expected a positive int, got {jobs}")
    timeout = timeout if timeout is not None else config.timeout
    trials = config.trials()
    with Store(study_dir) as store:
        store.init_study(config)
        store.add_trials(trials)
        todo_keys = set(store.to_run([t.key for t in trials], retry_failed=retry_failed))
        todo = [t for t in trials if t.key in todo_keys]
        run = StudyRun(Path(study_dir), total=len(trials), skipped=len(trials) - len(todo))
        if todo:
            jobs = min(jobs or _cores(), len(todo))
            payloads = [t.payload(timeout) for t in todo]
            results = _local(payloads, jobs) if executor == "local" else _dask(payloads, jobs, address)
            from tqdm.auto import tqdm
            show = sys.stderr.isatty() if progress is None else progress
            bar = tqdm(total=len(todo), desc=config.name, unit="trial", disable=not show,
                       file=sys.stderr)
            store.mark_running([t.key for t in todo])
            try:
                for res in results:
                    store.record(res)
                    run.ran += 1
                    bar.update(1)
                    if res["status"] != "done":
                        last = (res.get("error") or "").strip().splitlines()
                        bar.write(f"trial {res['key']} {res['status']}: {last[-1] if last else ''}")
            except KeyboardInterrupt:
                run.interrupted = True
            finally:
                if hasattr(results, "close"):
                    results.close()
                bar.close()
                store.reset_running()
        run.counts = store.counts()
    return run
