"""The statistics of a loaded study: per-group summaries (mean, std, Student-t CI over
seeds) and the paired comparisons of :mod:`proxnet.studies.stats` against the baseline.

A study may hold several *experiments* (``[[datasets]]``: the same methods on other data);
groups are only compared within their experiment, each with its own baseline (the first
method of the experiment unless ``baseline`` names another) and its own Holm family per
metric: one :func:`stats.compare` call per experiment and metric. Compared metrics: the
headline (with verdicts), then the generalization gap and the fraction of zero weights
(``secondary=True``: numbers without verdict words), each at the headline's epoch. The best
group of each experiment and the groups not shown different from it come from
:func:`stats.best` on the headline, among the groups with at least 2 done seeds (all
groups with a done seed when none has 2). Only trials with status ``done`` enter any number.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy.stats import t as student_t

from . import stats
from .results import CLASSIFICATION, VALIDATION, Study, Trial

BOOTSTRAP_SEED = 0
N_RESAMPLES = 9999
ALPHA = 0.05


@dataclass(frozen=True)
class Metric:
    """A per-trial number the report summarizes."""
    name: str                       # column of trials.csv, metric of comparisons.csv
    label: str                      # short, for table headers
    description: str
    value: Callable[[Trial], float]
    higher_is_better: bool | None   # None: no direction (secondary: no verdict)
    percent: bool = False           # a fraction (accuracy): shown ×100, differences in points


def _num(x) -> float:
    if x is None or isinstance(x, bool) or not isinstance(x, (int, float)):
        return math.nan
    return float(x)


def metrics_of(study: Study) -> tuple[Metric, tuple[Metric, ...], tuple[Metric, ...]]:
    """(headline, compared metrics (headline first), summary-table metrics) for the study."""
    cls = study.kind == CLASSIFICATION
    what, short = ("accuracy", "acc") if cls else ("mse", "MSE")
    val_what = "accuracy" if cls else "MSE"
    long = "test accuracy" if cls else "test mean squared error"
    if study.selected_on == VALIDATION:
        head = Metric(f"selected_test_{what}", f"test {short} @val",
                      f"{long} at the epoch of best validation {val_what} (ties: the earliest)",
                      lambda t: t.selection.test, cls, cls)
        pre, at = "selected_", "at the selected epoch"
    else:
        head = Metric(f"final_test_{what}", f"final test {short}",
                      f"{long} after the last epoch",
                      lambda t: t.selection.test, cls, cls)
        pre, at = "", "after the last epoch"
    gap_what = "train − test accuracy" if cls else "test − train MSE"
    gap = Metric(f"{pre}gap", "gen. gap", f"generalization gap ({gap_what}) {at}",
                 lambda t: t.selection.gap, None, cls)
    zeros = Metric(f"{pre}zeros_total", "zeros (frac.)",
                   f"fraction of weights exactly zero {at}", lambda t: t.selection.zeros, None,
                   True)
    table = [head]
    if study.selected_on == VALIDATION:
        table.append(Metric(f"final_test_{what}", f"final test {short}", f"{long} after the "
                            "last epoch", lambda t: _num(t.final.get(f"final_test_{what}")),
                            cls, cls))
    if not cls:
        table.append(Metric("test_sse", "test SSE", "sum of squared errors on the test set "
                            "after the last epoch", lambda t: _num(t.final.get("test_sse")), False))
    return head, (head, gap, zeros), tuple(table) + (gap, zeros)


def mean_ci(values, confidence: float = 0.95) -> dict:
    """n, mean, std (ddof = 1) and the Student-t interval of the mean over the finite
    values (None, NaN, inf left out); std and interval NaN for n = 1, everything for n = 0."""
    v = np.asarray([x for x in values if x is not None], dtype=float)
    v = v[np.isfinite(v)]
    n, nan = int(v.size), math.nan
    if n == 0:
        return {"n": 0, "mean": nan, "std": nan, "ci_low": nan, "ci_high": nan}
    mean = float(np.mean(v))
    if n == 1:
        return {"n": 1, "mean": mean, "std": nan, "ci_low": nan, "ci_high": nan}
    std = float(np.std(v, ddof=1))
    half = float(student_t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
    return {"n": n, "mean": mean, "std": std, "ci_low": mean - half, "ci_high": mean + half}


@dataclass
class GroupSummary:
    """One (method, strength) of the study: trial counts and the summary of each metric."""
    group: tuple
    label: str
    strength_name: str | None       # 'λ', 'c', 'rate' (from the trial config), None
    experiment: int
    counts: dict                    # status -> number of trials
    stats: dict                     # metric name -> mean_ci dict
    errors: list                    # (seed, status, last line of the error)

    @property
    def n(self) -> int:
        return self.counts.get("done", 0)


@dataclass
class Experiment:
    """Groups on the same data, compared with their baseline."""
    groups: list
    baseline: tuple
    comparisons: dict = field(default_factory=dict)   # metric name -> [stats.Comparison]
    best: stats.Best | None = None


@dataclass
class Analysis:
    study: Study
    headline: Metric
    compared: tuple
    table: tuple
    groups: list                    # [GroupSummary] in study order
    experiments: list               # [Experiment]

    def comparison(self, group, metric: str | None = None):
        """The comparison of ``group`` with its baseline on ``metric`` (default: the
        headline); None for a baseline or a group without a done trial."""
        name = metric or self.headline.name
        for ex in self.experiments:
            for c in ex.comparisons.get(name, []):
                if c.group == tuple(group):
                    return c
        return None

    def experiment_of(self, group) -> Experiment:
        return next(ex for ex in self.experiments if tuple(group) in ex.groups)

    def family_size(self, metric: str | None = None, experiment: int | None = None) -> int:
        """Comparisons with a test in the Holm families of ``metric`` (of one experiment,
        or of all)."""
        name = metric or self.headline.name
        exs = self.experiments if experiment is None else [self.experiments[experiment]]
        return sum(c.result.test is not None for ex in exs for c in ex.comparisons.get(name, []))


def last_line(text) -> str:
    """The last non-empty line of an error text (the exception of a traceback)."""
    lines = [ln.strip() for ln in (text or "").strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _resolve_baseline(baseline, groups: list, study: Study):
    if baseline is None:
        return groups[0]
    if isinstance(baseline, tuple):
        if baseline in groups:
            return baseline
        raise ValueError(f"baseline: no group {baseline!r}; expected one of {groups!r:.400}")
    if not isinstance(baseline, str):
        raise ValueError(f"baseline: expected a method name or a (method, strength) pair, "
                         f"got {baseline!r:.100}")
    mine = [g for g in groups if g[0] == baseline or g[0].endswith("/" + baseline)]
    if len(mine) == 1:
        return mine[0]
    if not mine:
        names = ", ".join(dict.fromkeys(g[0] for g in groups))
        raise ValueError(f"baseline: no method {baseline!r}; expected one of {names}")
    raise ValueError(f"baseline: method {baseline!r} has several strengths "
                     f"({', '.join(study.label(g) for g in mine)}); give a (method, strength) pair")


def group_values(study: Study, metric: Metric, groups) -> dict:
    """{group: {seed: value}} over the done trials of ``groups``."""
    out = {tuple(g): {} for g in groups}
    for t in study.done:
        if t.group in out:
            out[t.group][t.seed] = metric.value(t)
    return out


def _experiment(study, groups, baseline, compared, head) -> Experiment:
    ex = Experiment(groups=list(groups), baseline=_resolve_baseline(baseline, groups, study))
    done = {t.group for t in study.done}
    tested = [g for g in groups if g == ex.baseline or g in done]
    opts = dict(alpha=ALPHA, n_resamples=N_RESAMPLES, seed=BOOTSTRAP_SEED)
    for m in compared:
        values = group_values(study, m, tested)
        if m.higher_is_better is None:
            ex.comparisons[m.name] = stats.compare(values, ex.baseline, secondary=True, **opts)
        else:
            ex.comparisons[m.name] = stats.compare(values, ex.baseline,
                                                   higher_is_better=m.higher_is_better, **opts)
    seeds = {g: sum(t.group == g for t in study.done) for g in groups}
    candidates = [g for g in tested if seeds[g] >= 2] or [g for g in tested if seeds[g]]
    ex.best = stats.best(group_values(study, head, candidates),
                         higher_is_better=head.higher_is_better, **opts)
    return ex


def analyze(study: Study, *, baseline=None) -> Analysis:
    """Summaries and comparisons of a loaded study. ``baseline``: a method name (or a
    ``(method, strength)`` pair) to compare with, in each experiment; default the study
    config's ``baseline`` field when it has one, else the first method of each experiment."""
    if baseline is None:
        baseline = study.config.get("baseline") or None
    head, compared, table = metrics_of(study)
    experiments = [_experiment(study, gs, baseline, compared, head)
                   for gs in study.experiments()]
    summaries = []
    for g in study.groups():
        trials = [t for t in study.trials if t.group == g]
        counts: dict = {}
        for t in trials:
            counts[t.status] = counts.get(t.status, 0) + 1
        done = [t for t in trials if t.status == "done"]
        summaries.append(GroupSummary(
            group=g, label=study.label(g), strength_name=trials[0].strength_name,
            experiment=next(i for i, ex in enumerate(experiments) if g in ex.groups),
            counts=counts, stats={m.name: mean_ci([m.value(t) for t in done]) for m in table},
            errors=[(t.seed, t.status, last_line(t.error)) for t in trials
                    if t.status in ("failed", "timeout")]))
    return Analysis(study=study, headline=head, compared=compared, table=table,
                    groups=summaries, experiments=experiments)


STATS = ("n", "mean", "std", "ci_low", "ci_high")


def summary_rows(a: Analysis) -> list[dict]:
    """One plain dict per group, everything the terminal table and summary.csv show:
    ``experiment`` (index: groups on the same data), ``method``, ``strength``, ``strength_name``, ``label``, trial counts (``n`` done,
    ``failed``, ``timeout``, ``running``, ``pending``, ``unfinished`` = running + pending),
    ``m_n``, ``m_mean``, ``m_std``, ``m_ci_low``, ``m_ci_high`` for each table metric ``m``,
    then the headline comparison with the baseline (``baseline``: its label; ``is_baseline``;
    ``diff_mean``, ``diff_ci_low``, ``diff_ci_high``, ``p_holm``, ``verdict``, ``tested``),
    ``is_best`` / ``tied_with_best``, ``errors`` [(seed, status, message)], and the study's
    ``headline``, ``headline_label``, ``headline_description``, ``selected_on``,
    ``family_size`` (tested comparisons in the group's Holm family), ``percent`` (an accuracy: shown in points)."""
    nan = math.nan
    rows = []
    for s in a.groups:
        ex = a.experiments[s.experiment]
        c = a.comparison(s.group)
        r = ex.best
        row = {"experiment": s.experiment, "method": s.group[0], "strength": s.group[1],
               "strength_name": s.strength_name,
               "label": s.label, "n": s.n, "failed": s.counts.get("failed", 0),
               "timeout": s.counts.get("timeout", 0), "running": s.counts.get("running", 0),
               "pending": s.counts.get("pending", 0)}
        row["unfinished"] = row["running"] + row["pending"]
        for m in a.table:
            for k in STATS:
                row[f"{m.name}_{k}"] = s.stats[m.name][k]
        res = c.result if c is not None else None
        row.update(
            baseline=a.study.label(ex.baseline), is_baseline=s.group == ex.baseline,
            diff_mean=res.diff_mean if res else nan, diff_ci_low=res.diff_ci_low if res else nan,
            diff_ci_high=res.diff_ci_high if res else nan,
            p_holm=c.p_holm if c is not None else nan, verdict=c.verdict if c else None,
            tested=bool(res and res.test is not None), n_pairs=res.n if res else 0,
            is_best=bool(r and r.group == s.group), tied_with_best=bool(r and s.group in r.tied),
            errors=list(s.errors), headline=a.headline.name,
            headline_label=a.headline.label, headline_description=a.headline.description,
            selected_on=a.study.selected_on, family_size=a.family_size(None, s.experiment),
            percent=a.headline.percent)
        rows.append(row)
    return rows
