"""The study report: reads a study folder's store and writes ``<study_dir>/report/``:

- ``index.html``: one self-contained page that leads with the verdict (:mod:`.html`);
- ``comparisons.csv``: every paired comparison, columns :data:`stats.COLUMNS`;
- ``trials.csv``: one row per trial with its selected epoch and headline;
- ``summary.csv``: one row per group (mean, std, 95% CI of each metric, the headline
  comparison).

The jobs are split by module, each importing only those before it: :mod:`.store` (the
read-side SQL) → :mod:`.results` (Study / Trial, selection on validation) →
:mod:`.analysis` (summaries, :mod:`.stats` comparisons) → :mod:`.formats` →
:mod:`.figures` (with :mod:`.plots`), :mod:`.text`, :mod:`.html` → this module, which only
orchestrates and writes the files. The store is opened read-only: a report can be written
while a study runs (running trials are listed, never measured), and from a read-only study
folder with ``out`` elsewhere.

Public: :func:`write_report`, :func:`summarize`, :func:`format_table`, :func:`load_study`,
:func:`analyze_dir`, :func:`mean_ci`, :func:`write_summary_csv`.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

from . import html, stats
from .analysis import Analysis, analyze, last_line, mean_ci, summary_rows
from .results import CLASSIFICATION, load_study
from .store import atomic_write
from .text import format_table

__all__ = ["write_report", "summarize", "format_table", "load_study", "analyze_dir",
           "mean_ci", "write_summary_csv", "write_comparisons_csv", "write_trials_csv",
           "comparison_table", "trial_rows"]

_ROW_LISTS = ("errors",)


def analyze_dir(study_dir, *, baseline=None) -> Analysis:
    """Load the study in ``study_dir`` and compute its statistics (see :mod:`.analysis`)."""
    return analyze(load_study(study_dir), baseline=baseline)


def summarize(study_dir, *, baseline=None) -> list[dict]:
    """One row per (method, strength) (:func:`proxnet.studies.analysis.summary_rows`):
    counts, ``m_n/m_mean/m_std/m_ci_low/m_ci_high`` per metric over the done trials, and
    the headline comparison with the baseline. Pure: reads the store, writes nothing."""
    return summary_rows(analyze_dir(study_dir, baseline=baseline))


def _cell(x) -> str:
    if x is None:
        return ""
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, float):
        return repr(x) if math.isfinite(x) else ""
    return str(x)


def _write(path: Path, columns, rows) -> Path:
    with atomic_write(path, newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for r in rows:
            w.writerow([_cell(r.get(c)) for c in columns])
    return path


def write_summary_csv(rows: list[dict], path) -> Path:
    """The summary rows, floats in full precision (repr), empty for NaN / None."""
    columns = [c for c in rows[0] if c not in _ROW_LISTS] if rows else \
        ["method", "strength", "n", "failed", "timeout", "running", "pending"]
    return _write(Path(path), columns, rows)


def comparison_table(a: Analysis) -> list[dict]:
    """Every comparison of every compared metric (headline first), one dict per comparison
    with the keys of :data:`stats.COLUMNS`: the rows of comparisons.csv."""
    rows = []
    for m in a.compared:
        for ex in a.experiments:
            rows += stats.comparison_rows(ex.comparisons.get(m.name, []), m.name)
    return rows


def write_comparisons_csv(a: Analysis, path) -> Path:
    """Every comparison of every compared metric (:func:`comparison_table`)."""
    return _write(Path(path), stats.COLUMNS, comparison_table(a))


def trial_rows(a: Analysis) -> tuple[list[str], list[dict]]:
    """The columns and rows of trials.csv: identity and status, ``selected_on``,
    ``selected_epoch`` and the compared metrics (headline first, each at the headline's
    epoch), the final metrics of the store (a test-selected maximum renamed
    ``test_accuracy_max_over_epochs``), the last line of an error."""
    study = a.study
    finals = sorted(set().union(*(t.final for t in study.trials)) - {"best_test_accuracy",
                                                                      "best_epoch"})
    compared = [m.name for m in a.compared]
    finals = [k for k in finals if k not in compared]
    extra = ["test_accuracy_max_over_epochs"] if study.kind == CLASSIFICATION else []
    columns = (["key", "method", "strength", "strength_name", "seed", "status", "duration",
                "epochs_stored", "selected_on", "selected_epoch", *compared, *extra, *finals,
                "error"])
    rows = []
    for t in study.trials:
        row = {"key": t.key, "method": t.method, "strength": t.strength,
               "strength_name": t.strength_name, "seed": t.seed, "status": t.status,
               "duration": t.duration, "epochs_stored": t.epochs_stored,
               "error": last_line(t.error)}
        if t.selection is not None:
            row.update(selected_on=study.selected_on, selected_epoch=t.selection.epoch,
                       test_accuracy_max_over_epochs=t.selection.test_max)
            row.update({m.name: m.value(t) for m in a.compared})
            row.update({k: t.final.get(k) for k in finals})
        rows.append(row)
    return columns, rows


def write_trials_csv(a: Analysis, path) -> Path:
    columns, rows = trial_rows(a)
    return _write(Path(path), columns, rows)


def write_report(study_dir, *, out=None, baseline=None, refresh: float | None = None) -> Path:
    """Write ``index.html``, ``comparisons.csv``, ``trials.csv`` and ``summary.csv`` into
    ``out`` (default ``<study_dir>/report``), each to a temporary name renamed into place (a
    failure, e.g. a full disk, leaves the previous files whole); returns the path of
    ``index.html``.
    ``baseline``: see :func:`proxnet.studies.analysis.analyze`. ``refresh``: the page
    reloads itself after so many seconds (a running study's page, ``proxnet report --watch``)."""
    from . import figures as figs  # deferred: matplotlib, loaded only to draw
    from . import plots  # deferred (as above)

    a = analyze_dir(study_dir, baseline=baseline)
    rows = summary_rows(a)
    out = Path(study_dir) / "report" if out is None else Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_summary_csv(rows, out / "summary.csv")
    write_comparisons_csv(a, out / "comparisons.csv")
    write_trials_csv(a, out / "trials.csv")
    figures = figs.build_figures(a)
    for f in figures:
        f["src"] = plots.to_data_uri(f.pop("figure"))
    path = out / "index.html"
    page = html.render(a, rows, figures, refresh=refresh)
    with atomic_write(path, encoding="utf-8") as f:
        f.write(page)
    return path
