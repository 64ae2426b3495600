"""Run a study: lock its folder, check the store, preflight the data and models, expand the
grid × seeds, skip what the store already holds, run the rest on an executor, store each
outcome as it arrives.

Order of a run (each step fails before the next one writes anything):

1. the folder's lock (:mod:`proxnet.studies.lock`): another running study -> StudyLocked;
2. the store (:mod:`proxnet.studies.store`): a foreign, newer or damaged database, or a
   store of a different study -> StoreError;
3. preflight in this process: every dataset of the study is loaded once and every distinct
   model built once (without training), so a missing dataset (:class:`PreflightError`) or
   an impossible model (:class:`~proxnet.studies.config.ConfigError`) fails at once, with
   its full message, before any trial is stored;
4. the trials are added, and those to run are dispatched (see
   :mod:`proxnet.studies.executors`). Running trials write their epochs and checkpoints to
   the folder themselves (when the workers can reach it: this machine; see ``live``);
   trials interrupted earlier resume from their checkpoints.

Ctrl-C stops the study: finished trials stay in the store, interrupted ones go back to
``pending`` with their checkpoints, and the next run resumes them.
"""
from __future__ import annotations

import importlib.util
import socket
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data import DatasetNotFoundError
from . import checkpoints, executors
from .config import ConfigError, StudyConfig, TrialSpec
from .lock import StudyLock
from .progress import StudyProgress, choose_mode
from .store import Store, StoreWriteError
from .trial import build_model, clear_data_cache, load_data
from .watchdog import identity

__all__ = ["run_study", "StudyRun", "EXECUTORS", "PreflightError", "preflight"]

EXECUTORS = ("local", "dask")
MAX_PARAMS = 200_000_000
"""Largest model (parameters) a study may build: 800 MB of float32 weights, before the
optimizer's slots."""


class PreflightError(RuntimeError):
    """The study cannot start in this environment (e.g. its dataset is missing); the
    message is the underlying error's, in full."""


@dataclass
class StudyRun:
    """What a call of :func:`run_study` did."""
    study_dir: Path
    total: int                       # trials in the grid × seeds
    skipped: int                     # already done (or failed, without retry) before this call
    ran: int = 0
    counts: dict = field(default_factory=dict)   # status -> count in the store afterwards
    interrupted: bool = False
    problems: list = field(default_factory=list)  # the config's trials not done, with their errors
    resumed: int = 0                 # trials that continued from a checkpoint
    done: int = 0                    # the config's trials stored as done afterwards

    @property
    def complete(self) -> bool:
        """Every trial of the config is done."""
        return not self.interrupted and self.done == self.total


# ---------------------------------------------------------------------- preflight

def _mlp_params(cfg: dict, data) -> int:
    sizes = [int(np.prod(data.input_shape)), *cfg["model"]["hidden"],
             int(data.n_classes or 0) if data.task == "classification"
             else (int(data.y_train.shape[1]) if data.y_train.ndim == 2 else 1)]
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))


def _point(t: TrialSpec) -> str:
    return f"method {t.method!r}" + ("" if t.strength is None else f" (strength {t.strength!r})")


def preflight(trials: list[TrialSpec]) -> None:
    """Load each distinct dataset and build each distinct model of ``trials`` once.

    Raises :class:`PreflightError` when a dataset cannot be found or read (the environment),
    :class:`ConfigError` when a dataset option or a model is impossible."""
    seen = set()
    for t in trials:
        if t.config_hash in seen:
            continue
        seen.add(t.config_hash)
        ds, dtype = t.config["dataset"], t.config["model"]["dtype"]
        try:
            data = load_data(ds, dtype)
        except (DatasetNotFoundError, OSError, ImportError, MemoryError) as exc:
            raise PreflightError(f"dataset {ds['name']!r} cannot be loaded:\n"
                                 f"{type(exc).__name__}: {exc}") from None
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"dataset.options: dataset {ds['name']!r} with options "
                              f"{ds.get('options', {})!r} cannot be loaded: {exc}") from None
        if t.config["model"]["architecture"] == "mlp":
            n = _mlp_params(t.config, data)
            if n > MAX_PARAMS:
                raise ConfigError(f"model.hidden: the model would have {n:,} parameters on dataset "
                                  f"{ds['name']!r}, more than {MAX_PARAMS:,}")
        try:
            model = build_model(t.config, data, seed=0)
            model.predict(data.X_train[:2])
        except MemoryError as exc:
            raise PreflightError(f"{_point(t)}: not enough memory to build the model ({exc})") from None
        except (ValueError, TypeError, IndexError) as exc:
            raise ConfigError(f"{_point(t)}: the model cannot be built: {exc}") from None


# ---------------------------------------------------------------------- running

def _check_args(executor, jobs, checkpoint_every):
    if executor not in EXECUTORS:
        raise ValueError(f"executor: expected one of {', '.join(EXECUTORS)}, got {executor!r}")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"jobs: expected a positive int, got {jobs!r}")
    if checkpoint_every is not None and not 0 <= checkpoint_every <= 1e7:
        raise ValueError(f"checkpoint_every: expected seconds in [0, 1e7], got {checkpoint_every!r}")
    if executor == "dask":
        if importlib.util.find_spec("distributed") is None:
            raise ValueError("executor 'dask' needs dask.distributed: pip install 'proxnet[dask]'")


def _pool(n: int, jobs: int | None, timeout) -> tuple[int, int, bool]:
    """(workers, BLAS threads per trial, whether the local executor uses worker processes)
    for ``n`` trials to run."""
    jobs = max(1, min(jobs or executors.cores(), n))
    return jobs, max(1, executors.cores() // jobs), not (jobs == 1 and not timeout)


def _prestart(n: int, jobs: int | None, timeout) -> None:
    """Start the local executor's worker processes for ``n`` trials now (an interpreter and
    proxnet's imports each, about a second): the preflight runs meanwhile, and
    :func:`~proxnet.studies.executors.local_pool` takes them up. A study that then does not
    run keeps them idle for the next one, as after a run."""
    workers, threads, pooled = _pool(n, jobs, timeout)
    if n and pooled:
        executors.prestart(workers, threads, identity())


def _executor(todo, payloads, *, executor, jobs, address, timeout, parent):
    jobs, threads, pooled = _pool(len(todo), jobs, timeout)
    if executor == "dask":
        return executors.dask(payloads, jobs, address, parent, threads)
    if not pooled:
        return executors.in_process(payloads, threads)
    clear_data_cache()          # the workers load their own copy
    return executors.local_pool(payloads, jobs, threads, parent)


def run_study(config: StudyConfig, study_dir, *, jobs: int | None = None, executor: str = "local",
              address: str | None = None, timeout: float | None = None, retry_failed: bool = False,
              progress: bool | None = None, checkpoint_every: float | None = None,
              live: bool = True, on_first_result=None) -> StudyRun:
    """Run the trials of ``config`` that ``study_dir``'s store does not hold yet.

    Parameters
    ----------
    config : StudyConfig
    study_dir : path of the study folder (``study.db``, ``study.lock`` and ``checkpoints/``)
    jobs : parallel workers (default: all cores, at most the number of trials)
    executor : "local" or "dask"
    address : Dask scheduler address (``executor="dask"``); None starts a local cluster
    timeout : seconds per trial (overrides ``config.timeout``)
    retry_failed : also re-run trials stored as failed or timeout
    progress : a bar of epochs done / planned with an ETA and the trials' counts, read from
        the store twice a second (None: in a notebook or on a terminal, else one line at the
        end, logged on "proxnet.studies"; see :mod:`proxnet.studies.progress`)
    checkpoint_every : seconds between checkpoints of a running trial (overrides
        ``config.checkpoint_every``; 0 = after every epoch)
    live : workers write their progress and checkpoints to the folder as they go (False:
        each trial's results are stored when it ends, as for workers that cannot reach the
        folder, and interrupted trials start over)
    on_first_result : called once, with no argument, after the first trial's result is
        stored: the workers are running and this process is waiting for them

    Raises StudyLocked (folder in use), StoreError (not this study's store), ConfigError
    (preflight found an impossible model), PreflightError (a dataset is missing),
    StoreWriteError (disk full, read-only folder).
    """
    _check_args(executor, jobs, checkpoint_every)
    timeout = timeout if timeout is not None else config.timeout
    every = checkpoint_every if checkpoint_every is not None else config.checkpoint_every
    study_dir = Path(study_dir)
    trials = config.trials()
    with StudyLock(study_dir), Store(study_dir) as store:
        stored = store.study_config()
        if stored is not None and stored.identity() != config.identity():
            store.init_study(config)            # raises the "different study" error
        if executor == "local":      # their start overlaps the preflight
            _prestart(len(store.would_run([t.key for t in trials], retry_failed=retry_failed)),
                      jobs, timeout)
        preflight(trials)
        store.init_study(config)
        store.add_trials(trials)
        _clean_checkpoints(store, study_dir)
        todo_keys = set(store.to_run([t.key for t in trials], retry_failed=retry_failed))
        todo = [t for t in trials if t.key in todo_keys]
        run = StudyRun(study_dir, total=len(trials), skipped=len(trials) - len(todo))
        if todo:
            _dispatch(store, run, todo, config, executor=executor, jobs=jobs, address=address,
                      timeout=timeout, every=every, live=live, progress=progress,
                      on_first_result=on_first_result)
        run.counts = store.counts()
        keys = {t.key for t in trials}
        run.done = sum(st == "done" for k, st in store.statuses().items() if k in keys)
        run.problems = [p for p in store.problems() if p["key"] in keys]
    return run


def _clean_checkpoints(store, study_dir):
    """Checkpoints of trials that are not to be resumed (finished, failed) are removed."""
    status = store.statuses()
    for key, st in status.items():
        if st not in ("pending", "running"):
            if checkpoints.stem(key) in checkpoints.existing(study_dir):
                checkpoints.remove(study_dir, key)


def _dispatch(store, run, todo, config, *, executor, jobs, address, timeout, every, live, progress,
              on_first_result=None):
    study_dir = run.study_dir
    spec = {"dir": str(study_dir.resolve()), "host": socket.gethostname(),
            "created": store.created()} if live else None
    parent = identity()
    for t in todo:
        if not live:
            checkpoints.remove(study_dir, t.key)
    payloads = [t.payload(timeout, store=spec, checkpoint_every=every, parent=parent) for t in todo]
    resumable = checkpoints.existing(study_dir) if live else set()
    run.resumed = sum(checkpoints.stem(t.key) in resumable for t in todo)
    bar = StudyProgress(study_dir, [t.key for t in todo], config.name, choose_mode(progress))
    results = _executor(todo, payloads, executor=executor, jobs=jobs, address=address,
                        timeout=timeout, parent=parent)
    labels = {t.key: t for t in todo}
    try:
        for res in results:
            store.record(res)
            if res.get("store_error"):      # e.g. the disk is full: no trial can be stored
                raise StoreWriteError(res["store_error"])
            if on_first_result is not None:
                on_first_result, hook = None, on_first_result
                hook()
            if res["status"] in ("failed", "timeout"):
                checkpoints.remove(study_dir, res["key"])
            run.ran += 1
            if res["status"] != "done":     # the messages themselves come once, at the end
                t = labels[res["key"]]
                kind = (res.get("message") or "").split(":", 1)[0][:60] or "error"
                bar.write(f"trial {t.method}{'' if t.strength is None else f' {t.strength:g}'} seed "
                          f"{t.seed}: {res['status'] if res['status'] != 'pending' else 'not run'} ({kind})")
    except KeyboardInterrupt:
        run.interrupted = True
    finally:
        if hasattr(results, "close"):
            results.close()
        bar.close()
        store.reset_running()
