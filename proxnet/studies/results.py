"""The read model of a study: :class:`Study` and :class:`Trial` objects built from its
store (through the read-side SQL of :mod:`proxnet.studies.store`), with each finished
trial's **headline** selected on validation.

Selection (``docs/studies.md``, "The protocol"): for a trial with a validation series
(``val_accuracy`` / ``val_mse`` per epoch), the selected epoch is the one with the best
validation metric (highest accuracy, lowest MSE; ties → the earliest; NaN epochs never
win), and the trial's headline is the **test** metric at that epoch. The test set never
chooses anything. When a study's finished trials do not all have a validation series, no
trial is selected on validation: the headline of every trial is its final epoch's test
metric (``Study.selected_on`` says which). The generalization gap and the fraction of zero
weights are taken at the same epoch as the headline.

Only trials with ``status = 'done'`` get a headline; trials still ``running`` (with partial
epochs in the store), ``pending``, ``failed`` or ``timeout`` are listed, never measured.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import store as _store

CLASSIFICATION, REGRESSION = "classification", "regression"
REGRESSION_DATASETS = ("linear-6", "quadratic", "fixed-6")
"""Datasets that are regression problems whatever their options (``file`` says it in
``options.task``)."""

VALIDATION, FINAL = "validation", "final epoch"


@dataclass(frozen=True)
class Selection:
    """A done trial's headline: the epoch chosen (1-based) and the metrics there."""
    epoch: int | None
    test: float            # test accuracy (or MSE) at ``epoch``; NaN when undefined
    val: float             # validation metric at ``epoch`` (NaN without validation)
    gap: float             # generalization gap at ``epoch``
    zeros: float           # fraction of exactly-zero weights at ``epoch``
    test_max: float        # the maximum over epochs of the test accuracy (CSV only)


@dataclass
class Trial:
    """One row of the ``trial`` table, JSON decoded."""
    key: str
    method: str
    strength: float | None
    seed: int
    status: str
    error: str | None
    final: dict
    config: dict
    duration: float | None
    epochs_stored: int = 0
    selection: Selection | None = None

    @property
    def group(self) -> tuple[str, float | None]:
        return (self.method, self.strength)

    @property
    def strength_name(self) -> str | None:
        return strength_name(self.config, self.strength)

    @property
    def experiment(self) -> str | None:
        """The trial's data (dataset name and options, canonical JSON; None when its config
        names none): trials are only compared within one experiment."""
        ds = self.config.get("dataset")
        return json.dumps(ds, sort_keys=True) if ds else None


def strength_name(config: dict, strength) -> str | None:
    """What a strength means, from the trial's stored config: 'λ' for a regularizer's
    weight, 'c' for max-norm's bound, 'rate' for a dropout rate; None for no strength."""
    if strength is None:
        return None
    reg = config.get("regularizer") or {}
    if reg and reg.get("lam") == strength:
        return "c" if reg.get("kind") == "max_norm" else "λ"
    if config.get("dropout") == strength:
        return "rate"
    return "λ" if reg else ("rate" if config.get("dropout") else "strength")


def group_label(method: str, strength, name: str | None) -> str:
    """'l2 λ=0.01', 'dropout rate=0.3', or the method alone when it has no strength."""
    if strength is None:
        return method
    return f"{method} {name or 'strength'}={strength:g}"


@dataclass
class Study:
    """A study as the report sees it."""
    path: Path
    name: str
    config: dict
    created: float | None
    proxnet_version: str
    trials: list[Trial] = field(default_factory=list)
    kind: str = CLASSIFICATION
    selected_on: str = FINAL
    notes: list[str] = field(default_factory=list)
    epochs: dict = field(default_factory=dict)     # {key: {name: (epochs, values)}}, done and running

    @property
    def done(self) -> list[Trial]:
        return [t for t in self.trials if t.status == "done"]

    @property
    def description(self) -> str:
        return str(self.config.get("description") or "")

    def groups(self) -> list[tuple[str, float | None]]:
        """(method, strength): methods in order of first appearance, strengths ascending
        (None first)."""
        order: dict[str, set] = {}
        for t in self.trials:
            order.setdefault(t.method, set()).add(t.strength)
        return [(m, s) for m, ss in order.items()
                for s in sorted(ss, key=lambda v: -math.inf if v is None else v)]

    def label(self, group) -> str:
        t = next((t for t in self.trials if t.group == tuple(group)), None)
        return group_label(group[0], group[1], t.strength_name if t else None)

    def experiments(self) -> list[list[tuple[str, float | None]]]:
        """The groups partitioned by experiment (same data), each in :meth:`groups` order."""
        where: dict = {}
        unknown = []
        for g in self.groups():
            exp = next((t.experiment for t in self.trials if t.group == g and t.experiment),
                       None)
            if exp is None:
                unknown.append(g)
            else:
                where.setdefault(exp, []).append(g)
        parts = list(where.values()) or [[]]
        parts[0] += unknown          # groups whose configs name no data: the first experiment
        order = {g: i for i, g in enumerate(self.groups())}
        return [sorted(p, key=order.get) for p in parts if p]

    @property
    def metric_names(self) -> tuple[str, str, str]:
        """(train, validation, test) per-epoch names for the study's kind."""
        what = "accuracy" if self.kind == CLASSIFICATION else "mse"
        return f"train_{what}", f"val_{what}", f"test_{what}"

    def artifacts(self, keys, names) -> dict:
        """``{key: {name: array}}`` of the given trials."""
        conn = _store.connect_readonly(self.path)
        try:
            return _store.read_artifacts(conn, keys, names)
        finally:
            conn.close()


def _json(text, default):
    if not text:
        return default
    try:
        value = json.loads(text)
    except ValueError:
        return default
    return value if isinstance(value, type(default)) else default


def _kind(trials: list[Trial]) -> str:
    keys = set().union(*(t.final.keys() for t in trials if t.status == "done"))
    if "final_test_accuracy" in keys:
        return CLASSIFICATION
    if "final_test_mse" in keys:
        return REGRESSION
    for t in trials:
        ds = t.config.get("dataset") or {}
        if ds.get("name") in REGRESSION_DATASETS or (ds.get("options") or {}).get("task") == REGRESSION:
            return REGRESSION
    return CLASSIFICATION


def select_epoch(epochs, values, *, higher_is_better: bool) -> int | None:
    """The epoch (from ``epochs``) of the best finite value, the earliest on a tie; None
    when no value is finite."""
    e, v = np.asarray(epochs, dtype=float), np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    if not ok.any():
        return None
    best = np.max(v[ok]) if higher_is_better else np.min(v[ok])
    return int(np.min(e[ok & (v == best)]))


def _at(series, epoch) -> float:
    if series is None or epoch is None:
        return math.nan
    e, v = series
    hit = np.flatnonzero(e == epoch)
    return float(v[hit[0]]) if hit.size else math.nan


def _select(study: Study, t: Trial) -> Selection:
    train, val, test = study.metric_names
    s = study.epochs.get(t.key, {})
    higher = study.kind == CLASSIFICATION
    if study.selected_on == VALIDATION:
        epoch = select_epoch(*s[val], higher_is_better=higher) if val in s else None
    else:
        epoch = int(s[test][0][-1]) if test in s and s[test][0].size else None
    gap = _at(s.get("gap"), epoch)
    if math.isnan(gap) and train in s and test in s:
        gap = (_at(s[train], epoch) - _at(s[test], epoch)) * (1 if higher else -1)
    test_max = float(np.nanmax(s[test][1])) if higher and test in s and \
        np.isfinite(s[test][1]).any() else math.nan
    zeros, value = _at(s.get("zeros/total"), epoch), _at(s.get(test), epoch)
    if study.selected_on == FINAL:      # stores without these series: the final metrics
        value = value if math.isfinite(value) else _number(t.final.get(f"final_{test}"))
        gap = gap if math.isfinite(gap) else _number(t.final.get("gap"))
        zeros = zeros if math.isfinite(zeros) else _number(t.final.get("zeros_total"))
    return Selection(epoch=epoch, test=value, val=_at(s.get(val), epoch),
                     gap=gap, zeros=zeros, test_max=test_max)


def _number(x) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return math.nan
    return float(x)


def load_study(study_dir) -> Study:
    """Read a study's store and select each done trial's headline (see the module doc)."""
    conn = _store.connect_readonly(study_dir)
    try:
        row = _store.read_study(conn)
        name, config, created, version = row if row is not None else (
            Path(study_dir).name, "{}", None, "?")
        study = Study(Path(study_dir), name, _json(config, {}), created, str(version))
        for r in _store.read_trials(conn):
            rec = dict(zip(_store.TRIAL_COLUMNS, r))
            study.trials.append(Trial(
                key=rec["key"], method=rec["method"], strength=rec["strength"],
                seed=rec["seed"], status=rec["status"], error=rec["error"],
                final=_json(rec["final_json"], {}), config=_json(rec["config_json"], {}),
                duration=rec["duration"], epochs_stored=int(rec["epochs_stored"] or 0)))
        study.kind = _kind(study.trials)
        train, val, test = study.metric_names
        done = study.done
        live = [t.key for t in study.trials if t.status == "running"]   # partial curves
        study.epochs = _store.read_epoch_metrics(conn, [t.key for t in done] + live,
                                                 [train, val, test, "gap", "zeros/total"])
    finally:
        conn.close()
    with_val = [t for t in done if val in study.epochs.get(t.key, {})]
    if done and len(with_val) == len(done):
        study.selected_on = VALIDATION
    elif with_val:
        study.notes.append(f"{len(done) - len(with_val)} of {len(done)} finished trials have "
                           f"no {val} series: no trial is selected on validation, the headline "
                           "of every trial is its final epoch")
    for t in done:
        t.selection = _select(study, t)
    return study
