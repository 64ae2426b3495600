"""The Python face of the lab: run a study and read its answer, in a notebook or a script.

::

    from proxnet.studies import run, load
    study = run("digits-quick", epochs=5, seeds=3)
    study                    # in Jupyter: the verdict table first, then the summary
    study.comparisons()      # every paired comparison (DataFrame with pandas)
    study.plot_curves()      # test curves of every group (matplotlib axes)
    study.report()           # the HTML report and its CSV files; returns index.html's path
    load("runs/digits-quick-5ep").summary()

:func:`run` validates the study (a recipe name, a TOML file, a dict or a
:class:`~proxnet.studies.config.StudyConfig`), runs what its folder's store does not hold yet
(:func:`proxnet.studies.runner.run_study`: lock, preflight, workers, resuming) and returns a
:class:`Study`; :func:`load` opens a study folder. A :class:`Study` reads its store when
asked (read-only, so it works while the study runs) and caches the statistics until the
store changes. The ``proxnet`` command is a thin layer over these functions.
"""
from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from pathlib import Path

from . import executors
from .config import ConfigError, StudyConfig, resolve, validate
from .lock import held
from .runner import run_study
from .store import EPOCH_COLUMNS, connect_readonly, epoch_rows, export_csv, open_readonly, read_study
from .text import format_table

__all__ = ["run", "load", "Study", "resolve_config", "default_dir"]

log = logging.getLogger("proxnet.studies")


def resolve_config(study, *, seeds=None, epochs=None, timeout=None, checkpoint_every=None):
    """A validated :class:`~proxnet.studies.config.StudyConfig` from a recipe name, the
    path of a TOML config, a dict or a StudyConfig, with the overrides applied."""
    if isinstance(study, StudyConfig):
        cfg = study
    elif isinstance(study, dict):
        cfg = validate(study, "config")
    elif isinstance(study, (str, os.PathLike)):
        cfg = resolve(os.fspath(study))
    else:
        raise ConfigError(f"study: expected a recipe name, a TOML path, a dict or a StudyConfig, "
                          f"got {type(study).__name__}")
    if any(v is not None for v in (seeds, epochs, timeout, checkpoint_every)):
        cfg = cfg.with_overrides(seeds=seeds, epochs=epochs, timeout=timeout,
                                 checkpoint_every=checkpoint_every)
    return cfg


def default_dir(cfg, epochs: int | None = None) -> Path:
    """``runs/<study name>``, or ``runs/<study name>-<N>ep`` for a study shortened to N
    epochs (a different study: its own folder)."""
    return Path("runs") / (cfg.name + (f"-{epochs}ep" if epochs else ""))


def run(study, out=None, *, seeds: int | None = None, epochs: int | None = None,
        jobs: int | None = None, executor: str = "local", address: str | None = None,
        timeout: float | None = None, checkpoint_every: float | None = None,
        retry_failed: bool = False, progress: bool | None = None, report: bool = False,
        live: bool = True, keep_workers: bool = True) -> Study:
    """Run a study and return it as a :class:`Study`.

    ``study``: a recipe name (``proxnet recipes``), a TOML file, a dict or a StudyConfig.
    ``out``: the study folder (default :func:`default_dir`). ``seeds`` (run 0 … N−1),
    ``epochs``, ``timeout`` (seconds per trial), ``checkpoint_every`` override the config;
    ``jobs``, ``executor`` ("local" or "dask"), ``address``, ``retry_failed`` and ``live``
    are :func:`~proxnet.studies.runner.run_study`'s. ``progress``: a bar of epochs done /
    planned (None: in a notebook or on a terminal; elsewhere one line at the end, logged on
    ``"proxnet.studies"``). ``report``: also write ``out/report/`` (the HTML page and its CSV
    files, ``epochs.csv`` too). ``keep_workers``: keep the idle worker processes for the next
    study run by this process (a notebook); False tells them to exit once the trials are
    done, so that they exit while the report is written (the CLI).

    Running the same call again resumes: trials in the store are skipped. What this call did
    is ``study.last_run`` (a :class:`~proxnet.studies.runner.StudyRun`; Ctrl-C ends the run
    with ``last_run.interrupted``). Raises ConfigError (an invalid study, a bad argument),
    ValueError (a bad ``jobs`` or ``executor``), StudyLocked, StoreError, PreflightError,
    StoreWriteError: see ``run_study``."""
    cfg = resolve_config(study, seeds=seeds, epochs=epochs, timeout=timeout,
                         checkpoint_every=checkpoint_every)
    out = Path(out) if out is not None else default_dir(cfg, epochs)
    n = len(cfg.trials())
    log.info("study %s: %d trials (%d grid points x %d seeds, %d epochs) -> %s", cfg.name, n,
             n // len(cfg.seeds), len(cfg.seeds), cfg.training.epochs, out)
    last = run_study(cfg, out, jobs=jobs, executor=executor, address=address,
                     retry_failed=retry_failed, progress=progress, live=live,
                     on_first_result=preload_report if report else None)
    if not keep_workers:
        executors.release_idle()
    counts = ", ".join(f"{v} {k}" for k, v in sorted(last.counts.items()))
    resumed = f" ({last.resumed} resumed from checkpoints)" if last.resumed else ""
    log.info("ran %d trials%s, skipped %d already in the store; store: %s", last.ran, resumed,
             last.skipped, counts)
    result = Study(out, last_run=last)
    if report and not last.interrupted:
        result.report(csv=True)
    return result


REPORT_MODULES = ("proxnet.studies.report", "proxnet.studies.figures", "proxnet.studies.plots")
"""What writing the report imports (SciPy's statistics and matplotlib: about 2.6 s on a
2-core AMD EPYC, more than the report's own work)."""


def preload_report() -> threading.Thread:
    """Import :data:`REPORT_MODULES` in a daemon thread while the trials run, so that the
    report written when they end does not wait for the imports (``run(report=True)`` calls
    this once the first trial's result is in, when this process only waits for its workers).
    An import that fails here is left for the report to raise, with its message. Returns the
    thread.

    Measured (AMD EPYC, 2 cores, the ``bench_study.py`` grid in one process): the report at
    the end took 1.43 s instead of 3.23, and the whole run 20.4 s instead of 21.3. The
    imports still take CPU time from the workers while they train."""
    def work():
        for name in REPORT_MODULES:
            try:
                importlib.import_module(name)
            except Exception:       # noqa: BLE001 (the report raises it again, in full)
                return

    thread = threading.Thread(target=work, name="proxnet-report-imports", daemon=True)
    thread.start()
    return thread


def load(study_dir) -> Study:
    """The study in ``study_dir`` (a folder holding ``study.db``); FileNotFoundError when
    there is none, StoreError for a file that is not a proxnet store."""
    connect_readonly(study_dir).close()       # fail now, naming the path, not at first use
    return Study(study_dir)


def _table(rows, columns=None):
    """A pandas DataFrame of ``rows`` when pandas is installed, else the list of dicts."""
    try:
        import pandas as pd  # deferred: pandas is optional
    except ImportError:
        return rows
    return pd.DataFrame(rows, columns=list(columns) if columns is not None else None)


class Study:
    """A study folder, read from its store when asked (read-only: a running study can be
    watched). Tables are pandas DataFrames when pandas is installed, lists of dicts
    otherwise; ``baseline`` (a method name or ``(method, strength)``) compares against
    another group than the first method."""

    def __init__(self, study_dir, *, last_run=None):
        self.path = Path(study_dir)
        self.last_run = last_run
        self._cache: dict = {}

    # ---------------------------------------------------------------- reading

    def _stamp(self):
        """Changes whenever the store does (the database and its write-ahead log)."""
        out = []
        for name in ("study.db", "study.db-wal"):
            try:
                st = (self.path / name).stat()
                out.append((st.st_mtime_ns, st.st_size))
            except FileNotFoundError:
                out.append(None)
        return tuple(out)

    def analysis(self, baseline=None):
        """The :class:`~proxnet.studies.analysis.Analysis` of the study as stored now (what
        the report shows), cached until the store changes."""
        from .report import analyze_dir  # deferred: scipy
        key = (repr(baseline), self._stamp())
        if key not in self._cache:
            self._cache = {key: analyze_dir(self.path, baseline=baseline)}
        return self._cache[key]

    @property
    def name(self) -> str:
        """The study's name, as stored."""
        conn = connect_readonly(self.path)
        try:
            row = read_study(conn)
        finally:
            conn.close()
        return row[0] if row else self.path.name

    def summary(self, baseline=None):
        """One row per (method, strength): trial counts, mean / std / 95% CI of each metric
        over the done seeds, the headline comparison with the baseline (summary.csv)."""
        from .analysis import summary_rows  # deferred: scipy
        rows = summary_rows(self.analysis(baseline))
        return _table([{k: v for k, v in r.items() if k != "errors"} for r in rows])

    def comparisons(self, baseline=None, metric: str | None = None):
        """Every paired comparison against the baseline (comparisons.csv): the headline's
        first (with verdicts), then the gap and the fraction of zeros; ``metric`` keeps one."""
        from . import stats  # deferred: scipy
        from .report import comparison_table  # deferred: scipy
        a = self.analysis(baseline)
        names = [m.name for m in a.compared]
        if metric is not None and metric not in names:
            raise ValueError(f"metric: expected one of {', '.join(names)}, got {metric!r}")
        rows = [r for r in comparison_table(a) if metric is None or r["metric"] == metric]
        return _table(rows, stats.COLUMNS)

    def verdicts(self, baseline=None) -> list[dict]:
        """The headline's comparisons as plain dicts (method, strength, diff_mean, its CI,
        p_holm, verdict): the verdict table."""
        a = self.analysis(baseline)
        from .report import comparison_table  # deferred: scipy
        return [r for r in comparison_table(a) if r["metric"] == a.headline.name]

    def trials(self):
        """One row per trial (trials.csv): identity, status, the selected epoch, the
        compared metrics at it, the final metrics, the last line of an error."""
        from .report import trial_rows  # deferred: scipy
        columns, rows = trial_rows(self.analysis())
        return _table(rows, columns)

    def epochs(self):
        """Every stored per-epoch metric in long format (epochs.csv): trial_key, method,
        strength, seed, epoch, name, value; running trials' epochs included."""
        conn = connect_readonly(self.path)
        try:
            rows = [dict(zip(EPOCH_COLUMNS, r)) for r in epoch_rows(conn)]
        finally:
            conn.close()
        return _table(rows, EPOCH_COLUMNS)

    # ---------------------------------------------------------------- showing

    def plot_curves(self, ax=None, *, metric: str = "test", running: bool = True):
        """Per-epoch curves of every group on matplotlib axes (new ``pyplot`` axes when
        ``ax`` is None) and return them: ``metric="test"`` the test accuracy / MSE (mean over
        seeds ± std, the train curve dashed), ``"gap"`` the generalization gap; running
        trials' partial curves dotted and labelled "running" (``running=False``: done only).
        The report's curve figures, drawn by the same function."""
        from . import figures, plots  # deferred: matplotlib
        if metric not in ("test", "gap"):
            raise ValueError(f"metric: expected 'test' or 'gap', got {metric!r}")
        study = self.analysis().study
        curves, gaps = figures.curve_data(study, running=running)
        if ax is None:
            import matplotlib.pyplot as plt  # deferred: a figure manager only for new axes
            _, ax = plt.subplots(figsize=(8.0, 4.0), layout="constrained")
        cls = study.kind == "classification"
        what = "accuracy" if cls else "MSE"
        if metric == "test":
            plots.draw_overlaid(ax, curves, ylabel=f"test {what}", log=not cls)
        else:
            gw = "train − test accuracy" if cls else "test − train MSE"
            plots.draw_overlaid(ax, gaps, ylabel=f"gap ({gw})", zero_line=True)
        ax.set_title(f"{study.name}: {'test ' + what if metric == 'test' else 'gap'} per epoch",
                     fontsize=10)
        return ax

    def export(self, out=None) -> tuple[Path, Path]:
        """Write the store's trials.csv (one row per trial, every final metric) and
        epochs.csv (every per-epoch metric, long format) into ``out`` (default: the study
        folder), as ``proxnet export`` does; returns their paths."""
        conn = open_readonly(self.path)
        try:
            return export_csv(conn, self.path if out is None else Path(out))
        finally:
            conn.close()

    def report(self, out=None, *, baseline=None, csv: bool = False,
               refresh: float | None = None) -> Path:
        """Write the HTML report with comparisons.csv, trials.csv and summary.csv into
        ``out`` (default ``<study>/report``), with ``csv`` after the store's own CSV files
        (:meth:`export`; its trials.csv is then replaced by the report's, which adds the
        selected epoch; epochs.csv stays), as ``proxnet study`` does; returns index.html's
        path. ``refresh``: the page reloads itself after so many seconds (see :meth:`watch`)."""
        from .report import write_report  # deferred: scipy, matplotlib
        if csv:
            self.export(self.path / "report" if out is None else out)
        return write_report(self.path, out=out, baseline=baseline, refresh=refresh)

    def watch(self, out=None, *, interval: float = 5.0, baseline=None, on_write=None) -> Path:
        """Rewrite the report every ``interval`` seconds while the study runs (its folder's
        lock is held), each page reloading itself after ``interval`` seconds and drawing the
        running trials' partial curves; when the study has ended, write the final page
        (without the reload) and return its path. Before the store exists, wait for it.
        ``on_write(path, running)`` is called after each page. Ctrl-C stops watching."""

        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or \
                not 0.2 <= interval <= 3600:
            raise ValueError(f"interval: expected seconds in [0.2, 3600], got {interval!r}")
        waited = False
        while not (self.path / "study.db").is_file():
            if not waited:
                log.info("waiting for the study to start in %s", self.path)
                waited = True
            time.sleep(interval)
        while True:
            running = held(self.path)
            path = self.report(out, baseline=baseline, refresh=interval if running else None)
            if on_write is not None:
                on_write(path, running)
            if not running:
                return path
            time.sleep(interval)

    def table(self, baseline=None) -> str:
        """The verdict table as text (what ``proxnet study`` and ``proxnet report`` print)."""
        from .analysis import summary_rows  # deferred: scipy
        return format_table(summary_rows(self.analysis(baseline)))

    def _repr_html_(self) -> str:
        from . import html  # deferred: scipy
        from .analysis import summary_rows  # deferred: scipy
        a = self.analysis()
        return html.fragment(a, summary_rows(a))

    def __repr__(self) -> str:
        try:
            study = self.analysis().study
        except Exception as e:  # noqa: BLE001 - a repr never raises
            return f"Study({str(self.path)!r}: unreadable, {e})"
        counts: dict = {}
        for t in study.trials:
            counts[t.status] = counts.get(t.status, 0) + 1
        status = ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "no trials"
        return f"Study({study.name!r}, {len(study.trials)} trials: {status}; {str(self.path)!r})"
