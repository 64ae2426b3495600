"""The study report: headlines selected on validation (recomputed from the raw epoch rows),
comparisons.csv recomputed from trials.csv with scipy directly (to 1e-12), the page's and
the terminal's numbers equal to the CSVs, running / failed / n = 1 groups stated, and the
page self-contained and ordered verdict first.

The synthetic stores are created from the ``sql`` block of docs/store-schema.md, so the
schema the report is tested against is the documented one.
"""
import base64
import csv
import io
import json
import math
import re
import sqlite3
import struct
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from scipy import optimize, stats

from proxnet.studies.report import (analyze_dir, format_table, load_study, mean_ci, summarize,
                                    write_report)
from proxnet.studies.stats import COLUMNS

REPO = Path(__file__).resolve().parents[2]
SCHEMA_DOC = REPO / "docs" / "store-schema.md"


def schema_ddl() -> str:
    """The CREATE TABLE statements of docs/store-schema.md (its ```sql block)."""
    m = re.search(r"```sql\n(.*?)```", SCHEMA_DOC.read_text(encoding="utf-8"), re.S)
    assert m, "docs/store-schema.md has no ```sql block"
    return m.group(1)


def _npy(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(a), allow_pickle=False)
    return buf.getvalue()


TRACEBACK = ('Traceback (most recent call last):\n  File "runner.py", line 10, in run\n    fit()\n'
             'FloatingPointError: loss diverged (nan) at epoch 3\n')
FIVE = (0, 1, 2, 3, 4)
L1 = {"kind": "l1", "mode": "penalty"}
# (method, strength, seeds, regularizer or None, dropout, shift of the test metric)
# "twin" repeats "none" exactly (zero variance of the differences); l0 has one seed
GRID = [("none", None, FIVE, None, 0.0, 0.0), ("l1", 1e-3, FIVE, L1, 0.0, -0.04),
        ("prox-l1", 1e-2, FIVE, {"kind": "l1", "mode": "prox"}, 0.0, 0.0),
        ("dropout", 0.5, FIVE, None, 0.5, 0.01), ("maxnorm", 3.0, FIVE,
                                                  {"kind": "max_norm", "mode": "prox"}, 0.0, 0.0),
        ("twin", None, FIVE, None, 0.0, 0.0), ("l0", 0.01, (0,), {"kind": "l0", "mode": "prox"},
                                               0.0, 0.0)]
# (method, strength, seed, status, error); the running one has partial epochs stored
EXTRA = [("prox-l1", 1e-2, 5, "failed", TRACEBACK),
         ("l1", 1e-3, 5, "timeout", "TimeoutError: trial exceeded 600 s"),
         ("none", None, 5, "running", None), ("none", None, 6, "pending", None),
         ("group-lasso", 0.1, 0, "failed", "ValueError: bad groups")]
DESCRIPTION = "Synthetic study.\nSecond line of the first paragraph.\n\nMore text."


def trial_config(kind, strength, reg, dropout):
    ds = {"name": {"regression": "quadratic"}.get(kind, "digits"), "options": {"val_size": 100}}
    r = None if reg is None else {**reg, "lam": strength, "layers": "all", "include_biases": False}
    return {"dataset": ds, "model": {"hidden": [20], "loss": "ce"}, "training": {"epochs": 6},
            "regularizer": r, "dropout": dropout}


def _series(kind, n_ep, rng, shift, zeros):
    e = np.arange(1, n_ep + 1)
    if kind == "regression":
        tr = 1.0 / e + 0.01 * rng.random(n_ep)
        te = tr + 0.2 + 0.05 * rng.random(n_ep) - shift
        va = np.round(tr + 0.2 + 0.05 * rng.random(n_ep), 2)       # rounded: ties
        return {"train_mse": tr, "test_mse": te, "val_mse": va, "gap": te - tr}
    tr = 1 - 0.5 / e - 0.02 * rng.random(n_ep)
    te = tr - 0.05 - 0.03 * rng.random(n_ep) + shift
    va = np.round(tr - 0.05 - 0.03 * rng.random(n_ep), 2)
    out = {"train_accuracy": tr, "test_accuracy": te, "val_accuracy": va, "gap": tr - te}
    out["zeros/total"] = np.full(n_ep, zeros) + 0.01 * rng.random(n_ep) * (zeros > 0)
    return out


def _final(kind, s):
    if kind == "regression":
        return {"final_test_mse": float(s["test_mse"][-1]), "final_train_mse": float(s["train_mse"][-1]),
                "test_sse": float(s["test_mse"][-1] * 100), "gap": float(s["gap"][-1]),
                "zeros_total": 0.0}
    return {"final_test_accuracy": float(s["test_accuracy"][-1]),
            "best_test_accuracy": float(s["test_accuracy"].max()),
            "best_epoch": int(np.argmax(s["test_accuracy"])) + 1,
            "final_train_accuracy": float(s["train_accuracy"][-1]), "gap": float(s["gap"][-1]),
            "zeros_total": float(s["zeros/total"][-1])}


def _artifacts(kind, rng, n_ep, zeros, strength):
    D = {"digits": 64, "spiral": 2, "regression": 1}[kind]
    W = rng.normal(size=(D, 20)).astype(np.float32)
    if zeros:
        W[:, : int(20 * zeros)] = 0.0
    arts = {"grad_norm_W1": np.exp(-np.linspace(0, 3, 40 * n_ep)) + 0.01 * rng.random(40 * n_ep),
            "first_layer_weights": W}
    if kind == "spiral":
        xs = np.linspace(-1, 1, 30)
        gx, gy = np.meshgrid(xs, xs)
        arts["decision_grid"] = (np.arctan2(gy, gx) > (strength or 0)).astype(np.int64) + (gx > 0.5)
        arts["decision_extent"] = np.array([-1.0, 1.0, -1.0, 1.0])
        arts["train_X"] = rng.uniform(-1, 1, size=(60, 2))
        arts["train_y"] = rng.integers(0, 3, size=60)
    if kind == "regression":
        arts["curve_x"] = np.linspace(0, 1, 50)
        arts["curve_y"] = np.sin(6 * arts["curve_x"]) * (1 - (strength or 0))
        arts["train_X"] = rng.uniform(0, 1, size=(10, 1))
        arts["train_y"] = np.sin(6 * arts["train_X"][:, 0])
    return arts


def _insert(conn, key, method, strength, seed, config, status, final=None, error=None):
    conn.execute("INSERT INTO trial (key, config_hash, method, strength, seed, config_json, status, "
                 "error, versions_json, started, finished, duration, final_json) "
                 "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                 (key, key[:16], method, strength, seed, json.dumps(config), status, error, "{}",
                  1.7e9, 1.7e9 + 3, 3.0, None if final is None else json.dumps(final)))


def _epochs(conn, key, series):
    conn.executemany("INSERT INTO epoch_metric VALUES (?,?,?,?)",
                     [(key, ep + 1, name, float(v)) for name, vals in series.items()
                      for ep, v in enumerate(vals)])


def make_study(study_dir, kind="digits", *, epochs=6, done=True, validation=True):
    """A study.db with synthetic trials. kind: 'digits' (64-D inputs, first-layer weights),
    'spiral' (2-D, decision grids) or 'regression' (1-D, fitted curves)."""
    study_dir = Path(study_dir)
    study_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(study_dir / "study.db")
    conn.executescript(schema_ddl())
    config = {"name": f"synthetic-{kind}", "description": DESCRIPTION, "seeds": list(FIVE)}
    conn.execute("INSERT INTO study VALUES (1, ?, ?, ?, ?)",
                 (config["name"], json.dumps(config), 1.7e9, "0.1.0"))
    rng = np.random.default_rng(7)
    twins = {}
    for gi, (method, strength, seeds, reg, dropout, shift) in enumerate(GRID):
        cfg = trial_config(kind, strength, reg, dropout)
        for seed in seeds:
            key = f"{gi:016x}:{seed}"
            n_ep = epochs - 2 if (seed == 2 and method == "l1") else epochs   # one early stop
            zeros = 0.3 if (reg or {}).get("mode") == "prox" else 0.0
            s = twins[seed] if method == "twin" else _series(kind, n_ep, rng, shift, zeros)
            if method == "none":
                twins[seed] = s
            if not validation:
                s = {k: v for k, v in s.items() if not k.startswith("val_")}
            _insert(conn, key, method, strength, seed, {**cfg, "seed": seed},
                    "done" if done else "pending", _final(kind, s) if done else None)
            if done:
                _epochs(conn, key, s)
                conn.executemany("INSERT INTO artifact VALUES (?,?,?)",
                                 [(key, n, _npy(a)) for n, a in
                                  _artifacts(kind, rng, n_ep, zeros, strength).items()])
    for j, (method, strength, seed, status, error) in enumerate(EXTRA):
        gi = next((i for i, g in enumerate(GRID) if g[:2] == (method, strength)), 100 + j)
        g = GRID[gi] if gi < len(GRID) else (method, strength, (), {"kind": "group_lasso",
                                                                     "mode": "prox"}, 0.0, 0.0)
        key = f"{gi:016x}:{seed}"
        _insert(conn, key, method, strength, seed, trial_config(kind, strength, g[3], g[4]),
                status, error=error)
        if status == "running":        # partial epochs, absurd values: must never count
            _epochs(conn, key, {"test_accuracy": [1.0, 1.0], "val_accuracy": [1.0, 1.0],
                                "test_mse": [0.0, 0.0], "val_mse": [0.0, 0.0]})
    conn.commit()
    conn.close()
    return study_dir


def rename_method(study_dir, old, new):
    """Relabel the stored trials of method ``old`` as ``new`` (a long name, say)."""
    conn = sqlite3.connect(study_dir / "study.db")
    conn.execute("UPDATE trial SET method = ? WHERE method = ?", (new, old))
    conn.commit()
    conn.close()


# ---------------------------------------------------------------- independent recomputations

def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _strength(text):
    return None if text == "" else float(text)


def _f(text):
    return math.nan if text == "" else float(text)


def expected_selection(study_dir, kind="digits"):
    """{key: (selected epoch, test metric there)} straight from SQL: best validation,
    ties to the earliest epoch."""
    what, order = ("accuracy", "DESC") if kind != "regression" else ("mse", "ASC")
    conn = sqlite3.connect(Path(study_dir) / "study.db")
    out = {}
    for (key,) in conn.execute("SELECT key FROM trial WHERE status = 'done'"):
        epoch = conn.execute(f"SELECT epoch FROM epoch_metric WHERE trial_key = ? AND name = ? "
                             f"ORDER BY value {order}, epoch ASC LIMIT 1",
                             (key, f"val_{what}")).fetchone()[0]
        test = conn.execute("SELECT value FROM epoch_metric WHERE trial_key = ? AND name = ? "
                            "AND epoch = ?", (key, f"test_{what}", epoch)).fetchone()[0]
        out[key] = (epoch, test)
    conn.close()
    return out


def power(delta, n, alpha):
    c = stats.t.ppf(1 - alpha / 2, n - 1)
    nc = delta * math.sqrt(n)
    return stats.nct.sf(c, n - 1, nc) + stats.nct.sf(c, n - 1, -nc)


def ref_mde(n, alpha, sd):
    d = optimize.brentq(lambda x: power(x, n, alpha) - 0.8, 0.0, 64.0, xtol=1e-15)
    return d * sd


def holm_by_hand(ps):
    order = sorted(range(len(ps)), key=lambda i: ps[i])
    m, out, running = len(ps), [0.0] * len(ps), 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (m - k) * ps[i]))
        out[i] = running
    return out


def close(got, want, tol=1e-12):
    if isinstance(want, float) and math.isnan(want):
        return got == ""
    return math.isclose(float(got), want, rel_tol=tol, abs_tol=tol)


def recompute_comparisons(report_dir):
    """Every comparisons.csv row recomputed from trials.csv with scipy directly, checked;
    returns the rows."""
    trials = [r for r in read_csv(report_dir / "trials.csv") if r["status"] == "done"]
    comps = read_csv(report_dir / "comparisons.csv")
    assert comps and list(comps[0]) == list(COLUMNS)
    families = {}
    for r in comps:
        families.setdefault((r["metric"], r["baseline_method"], r["baseline_strength"]), []).append(r)
    for (metric, bm, bs), rows in families.items():
        higher = None if metric.endswith(("gap", "zeros_total")) else not metric.endswith("mse")

        def values(method, strength):
            return {int(t["seed"]): float(t[metric]) for t in trials
                    if t["method"] == method and t["strength"] == strength and t[metric] != ""}
        base = values(bm, bs)
        tested = []
        for r in rows:
            mine = values(r["method"], r["strength"])
            seeds = sorted(set(mine) & set(base))
            x = np.array([mine[s] for s in seeds])
            y = np.array([base[s] for s in seeds])
            d = x - y
            n = len(seeds)
            assert int(r["n"]) == n
            if n < 2:
                assert r["p_ttest"] == r["p_holm"] == r["diff_ci_low"] == ""
                assert close(r["diff_mean"], float(d.mean()) if n else math.nan)
                continue
            sd = d.std(ddof=1)
            assert close(r["diff_mean"], d.mean())
            if sd == 0 and not d.any():      # identical results
                assert (float(r["p_ttest"]), float(r["p_wilcoxon"])) == (1.0, 1.0)
                assert r["effect_dz"] == r["mde"] == "" and float(r["diff_ci_low"]) == 0.0
                tested.append((r, 1.0))
                continue
            half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
            assert close(r["diff_ci_low"], d.mean() - half)
            assert close(r["diff_ci_high"], d.mean() + half)
            assert close(r["p_ttest"], stats.ttest_rel(x, y).pvalue)
            assert close(r["p_wilcoxon"], stats.wilcoxon(d).pvalue)
            boot = stats.bootstrap((d,), np.mean, confidence_level=0.95, n_resamples=9999,
                                   rng=np.random.default_rng(0)).confidence_interval
            assert close(r["boot_ci_low"], boot.low) and close(r["boot_ci_high"], boot.high)
            assert close(r["effect_dz"], d.mean() / sd)
            tested.append((r, stats.ttest_rel(x, y).pvalue, sd, n))
        m = len(tested)
        for (r, *rest), p in zip(tested, holm_by_hand([t[1] for t in tested])):
            assert close(r["p_holm"], p)
            if len(rest) == 3:
                assert close(r["mde"], ref_mde(rest[2], 0.05 / m, rest[1]), 1e-10)
            if higher is None:
                assert r["verdict"] == ""
            else:
                better = (float(r["diff_mean"]) > 0) == higher
                want = ("better" if better else "worse") if p <= 0.05 else "no detectable difference"
                assert r["verdict"] == want
    return comps


class _Page(HTMLParser):
    """Summary cells and verdict lines with their data-* attributes, refs, scripts, order."""
    def __init__(self):
        super().__init__()
        self.rows, self.refs, self.scripts, self.imgs, self.verdicts, self.best = [], [], 0, [], [], []
        self.order, self._row, self._cell, self._li, self.text = [], None, None, None, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
        for k in ("src", "href"):
            if k in a:
                self.refs.append((tag, k, a[k]))
        if tag == "img":
            self.imgs.append(a)
        if a.get("id"):
            self.order.append(a["id"])
        if tag == "tr" and "data-method" in a:
            self._row = {"method": a["data-method"], "strength": a["data-strength"], "cells": {}}
            self.rows.append(self._row)
        if tag == "td" and self._row is not None and "data-metric" in a:
            self._cell = dict(a, text="")
            self._row["cells"][a["data-metric"]] = self._cell
        if tag == "li" and a.get("class") == "verdict":
            self._li = dict(a, text="")
            self.verdicts.append(self._li)
        if tag == "p" and a.get("class") == "best":
            self.best.append(a)

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None
        if tag == "tr":
            self._row = None
        if tag == "li":
            self._li = None

    def handle_data(self, data):
        self.text.append(data)
        for target in (self._cell, self._li):
            if target is not None:
                target["text"] += data


def parse(index) -> _Page:
    p = _Page()
    p.feed(index.read_text(encoding="utf-8"))
    return p


@pytest.fixture(scope="module")
def digits_report(tmp_path_factory):
    d = make_study(tmp_path_factory.mktemp("digits") / "study", "digits")
    return d, write_report(d)


@pytest.fixture(scope="module")
def regression_report(tmp_path_factory):
    d = make_study(tmp_path_factory.mktemp("reg") / "study", "regression")
    return d, write_report(d)


# ---------------------------------------------------------------- selection on validation

@pytest.mark.parametrize("which, kind", [("digits_report", "digits"),
                                         ("regression_report", "regression")])
def test_headline_is_test_metric_at_best_validation_epoch(request, which, kind):
    study_dir, index = request.getfixturevalue(which)
    what = "mse" if kind == "regression" else "accuracy"
    want = expected_selection(study_dir, kind)
    rows = {r["key"]: r for r in read_csv(index.parent / "trials.csv")}
    assert len(want) == 31
    ties = 0
    for key, (epoch, test) in want.items():
        r = rows[key]
        assert r["selected_on"] == "validation"
        assert int(r["selected_epoch"]) == epoch
        assert float(r[f"selected_test_{what}"]) == test
        ties += epoch > 1 and kind == "digits"
    # running / failed / pending trials have no headline
    for r in rows.values():
        if r["status"] != "done":
            assert r["selected_epoch"] == "" and r[f"selected_test_{what}"] == ""
    assert rows[f"{2:016x}:5"]["error"].startswith("FloatingPointError")
    if kind == "digits":
        # a test-selected maximum only under an unmistakable name, never "best test"
        for r in rows.values():
            if r["status"] == "done":
                assert float(r["test_accuracy_max_over_epochs"]) >= float(r["final_test_accuracy"])
        header = list(next(iter(rows.values())))
        assert "best_test_accuracy" not in header and "best_epoch" not in header
        page = index.read_text(encoding="utf-8").lower()
        assert "best test" not in page and "max_over_epochs" not in page
        assert "best test" not in format_table(summarize(study_dir)).lower()


def test_ties_in_validation_go_to_the_earliest_epoch():
    from proxnet.studies.results import select_epoch
    assert select_epoch([1, 2, 3, 4], [0.5, 0.7, 0.7, 0.6], higher_is_better=True) == 2
    assert select_epoch([1, 2, 3], [0.3, 0.1, 0.1], higher_is_better=False) == 2
    assert select_epoch([1, 2, 3], [math.nan, 0.2, math.nan], higher_is_better=True) == 2
    assert select_epoch([1, 2], [math.nan, math.nan], higher_is_better=True) is None


def test_without_validation_the_headline_is_the_final_epoch(tmp_path):
    d = make_study(tmp_path / "s", validation=False)
    index = write_report(d)
    rows = [r for r in read_csv(index.parent / "trials.csv") if r["status"] == "done"]
    for r in rows:
        assert r["selected_on"] == "final epoch"
        assert r["selected_epoch"] == r["epochs_stored"]
        assert "selected_test_accuracy" not in r
    comps = recompute_comparisons(index.parent)
    assert {c["metric"] for c in comps} == {"final_test_accuracy", "gap", "zeros_total"}
    page = index.read_text(encoding="utf-8")
    assert "No validation split:" in page
    assert "no validation split" in format_table(summarize(d))


# ---------------------------------------------------------------- comparisons.csv

@pytest.mark.parametrize("which", ["digits_report", "regression_report"])
def test_comparisons_csv_recomputed_from_trials_csv(request, which):
    _, index = request.getfixturevalue(which)
    comps = recompute_comparisons(index.parent)
    head = "selected_test_mse" if which == "regression_report" else "selected_test_accuracy"
    metrics = [c["metric"] for c in comps]
    assert list(dict.fromkeys(metrics)) == [head, "selected_gap", "selected_zeros_total"]
    by = {(c["metric"], c["method"]): c for c in comps}
    # degenerate cases, stated and not crashing: identical results, n = 1
    twin = by[(head, "twin")]
    assert (twin["diff_mean"], twin["p_ttest"], twin["verdict"]) == ("0.0", "1.0",
                                                                     "no detectable difference")
    assert by[(head, "l0")]["n"] == "1" and by[(head, "l0")]["p_holm"] == ""
    assert all(c["baseline_method"] == "none" and c["baseline_strength"] == "" for c in comps)
    # the synthetic harm: l1's test metric is 4 points lower at every epoch
    if which == "digits_report":
        assert by[(head, "l1")]["verdict"] == "worse"


def test_summary_statistics_equal_recomputation_from_trials_csv(digits_report):
    study_dir, index = digits_report
    trials = [r for r in read_csv(index.parent / "trials.csv") if r["status"] == "done"]
    summary = {(r["method"], _strength(r["strength"])): r
               for r in read_csv(index.parent / "summary.csv")}
    page = {(r["method"], _strength(r["strength"])): r["cells"] for r in parse(index).rows}
    rows = {(r["method"], r["strength"]): r for r in summarize(study_dir)}
    for metric in ("selected_test_accuracy", "final_test_accuracy", "selected_gap"):
        groups = {}
        for t in trials:
            groups.setdefault((t["method"], _strength(t["strength"])), []).append(float(t[metric]))
        for g, vals in groups.items():
            v = np.array(vals)
            n, mean = v.size, v.mean()
            sd = v.std(ddof=1) if n > 1 else math.nan
            half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n) if n > 1 else math.nan
            for got in (rows[g], summary[g]):
                assert int(got[f"{metric}_n"]) == n
                for stat, want in (("mean", mean), ("std", sd), ("ci_low", mean - half),
                                   ("ci_high", mean + half)):
                    w = got[f"{metric}_{stat}"]
                    assert (math.isnan(want) and w in ("", None) or isinstance(w, float)
                            and math.isnan(w)) or close(w, want), (g, metric, stat)
            cell = page[g][metric]
            assert int(cell["data-n"]) == n and close(cell["data-mean"], mean)
            shown = f"{100 * mean:.2f}" + ("" if n < 2 else f" ± {100 * sd:.2f}")
            assert cell["text"] == shown.replace("-", "−")
    # the running trial (absurd partial epochs) and the failed ones are counted, not measured
    none = rows[("none", None)]
    assert (none["n"], none["running"], none["pending"]) == (5, 1, 1)
    assert rows[("prox-l1", 1e-2)]["failed"] == 1 and rows[("l1", 1e-3)]["timeout"] == 1
    assert rows[("group-lasso", 0.1)]["n"] == 0 and math.isnan(
        rows[("group-lasso", 0.1)]["selected_test_accuracy_mean"])


def test_strength_meaning_comes_from_the_trial_config(digits_report):
    study_dir, _ = digits_report
    rows = {r["method"]: r for r in summarize(study_dir)}
    assert [rows[m]["strength_name"] for m in ("none", "l1", "dropout", "maxnorm")] == \
        [None, "λ", "rate", "c"]
    assert rows["maxnorm"]["label"] == "maxnorm c=3"
    assert rows["dropout"]["label"] == "dropout rate=0.5"


def test_baseline_can_be_chosen(digits_report, tmp_path):
    study_dir, _ = digits_report
    a = analyze_dir(study_dir, baseline="dropout")
    assert a.experiments[0].baseline == ("dropout", 0.5)
    assert {c.baseline for c in a.experiments[0].comparisons["selected_test_accuracy"]} == \
        {("dropout", 0.5)}
    with pytest.raises(ValueError, match="baseline: no method 'nope'; expected one of none, l1"):
        analyze_dir(study_dir, baseline="nope")
    assert analyze_dir(study_dir, baseline=("l1", 1e-3)).experiments[0].baseline == ("l1", 1e-3)
    # a `baseline` field of the stored study config is the default
    d = make_study(tmp_path / "s")
    conn = sqlite3.connect(d / "study.db")
    cfg = json.loads(conn.execute("SELECT config_json FROM study").fetchone()[0])
    conn.execute("UPDATE study SET config_json = ?", (json.dumps({**cfg, "baseline": "maxnorm"}),))
    conn.commit()
    conn.close()
    assert analyze_dir(d).experiments[0].baseline == ("maxnorm", 3.0)
    assert analyze_dir(d, baseline="none").experiments[0].baseline == ("none", None)
    comps = read_csv(write_report(d).parent / "comparisons.csv")
    assert {(c["baseline_method"], c["baseline_strength"]) for c in comps} == {("maxnorm", "3.0")}


def test_experiments_on_different_data_have_their_own_baselines(tmp_path):
    """[[datasets]] studies: groups are compared within their data only."""
    d = make_study(tmp_path / "s")
    conn = sqlite3.connect(d / "study.db")
    for key, method, cfg in conn.execute("SELECT key, method, config_json FROM trial").fetchall():
        if method in ("l1", "twin"):
            cfg = json.loads(cfg)
            cfg["dataset"] = {"name": "digits", "options": {"val_size": 50}}
            conn.execute("UPDATE trial SET method = ?, config_json = ? WHERE key = ?",
                         ({"l1": "other/none"}.get(method, "other/twin"), json.dumps(cfg), key))
    conn.commit()
    conn.close()
    a = analyze_dir(d)
    assert [ex.baseline for ex in a.experiments] == [("none", None), ("other/none", 1e-3)]
    assert [c.group for c in a.experiments[1].comparisons[a.headline.name]] == [("other/twin", None)]
    assert [ex.baseline for ex in analyze_dir(d, baseline="none").experiments] == \
        [("none", None), ("other/none", 1e-3)]
    with pytest.raises(ValueError, match="baseline: no method 'twin'"):
        analyze_dir(d, baseline="twin")
    # the terminal: one table per experiment, methods without the dataset label
    lines = format_table(summarize(d)).splitlines()
    assert lines[0] == "experiment: vs none" and "other: vs other/none λ=0.001" in lines
    assert any(ln.startswith("*twin ") for ln in lines) and max(map(len, lines)) <= 100
    assert "Holm-adjusted within each dataset (3, 1 comparisons)" in " ".join(lines)
    recompute_comparisons(write_report(d).parent)


# ---------------------------------------------------------------- the page

def test_page_leads_with_the_verdict_and_is_self_contained(digits_report):
    _, index = digits_report
    p = parse(index)
    page = index.read_text(encoding="utf-8")
    assert p.scripts == 0
    for tag, attr, value in p.refs:
        if attr == "src" or tag == "link":
            assert value.startswith("data:"), (tag, value[:60])
        else:
            assert value.startswith("#") or value in ("summary.csv", "comparisons.csv",
                                                      "trials.csv"), value
    assert not re.search(r"url\(\s*['\"]?(?!data:)", page)
    order = [i for i in p.order if i in ("verdict", "forest", "curves", "gap", "summary",
                                         "sparsity", "grad-norms", "failed", "config")]
    assert order == ["verdict", "forest", "curves", "gap", "summary", "sparsity", "grad-norms",
                     "failed", "config"]
    ids = re.findall(r"<figure id='([^']+)'", page)
    assert {"weights-prox-l1", "weights-none"} <= set(ids)
    assert ids.index("weights-none") < ids.index("grad-norms")
    assert "decision-boundaries" not in ids and "fitted-curves" not in ids
    assert len(p.imgs) == len(ids)
    for img in p.imgs:
        data = base64.b64decode(img["src"].split(",", 1)[1])
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        w, h = struct.unpack(">II", data[16:24])
        assert w > 100 and h > 50 and img["alt"]
    # title, the one-line description as text, the rest of it in the collapsed configuration
    assert "<h1>Study: synthetic-digits</h1>" in page
    assert "<p class=\"lead\">Synthetic study.</p>" in page
    assert "\\n" not in page
    assert page.index("Second line of the first paragraph.") > page.index("<h2 id='config'>")
    assert re.search(r"<h2 id='config'>Configuration</h2><details>", page)


def test_verdict_lines_carry_the_numbers_of_comparisons_csv(digits_report):
    _, index = digits_report
    comps = {(c["method"], _strength(c["strength"])): c
             for c in read_csv(index.parent / "comparisons.csv")
             if c["metric"] == "selected_test_accuracy"}
    p = parse(index)
    assert len(p.verdicts) == len(comps)
    for li in p.verdicts:
        c = comps[(li["data-method"], _strength(li["data-strength"]))]
        for attr, col in (("data-diff-mean", "diff_mean"), ("data-diff-ci-low", "diff_ci_low"),
                          ("data-diff-ci-high", "diff_ci_high"), ("data-p-holm", "p_holm"),
                          ("data-p-ttest", "p_ttest"), ("data-n", "n"),
                          ("data-verdict", "verdict")):
            assert li[attr] == c[col], (li["data-method"], attr)
        text = " ".join(li["text"].split())
        if c["p_holm"]:
            d, lo, hi = (100 * float(c[k]) for k in ("diff_mean", "diff_ci_low", "diff_ci_high"))
            ph = float(c["p_holm"])
            want = (f"{d:+.2f} points [{lo:+.2f}, {hi:+.2f}] vs none, "
                    + ("p < 0.001" if ph < 0.001 else f"p = {ph:.3f}") + " (Holm")
            assert want.replace("-", "−") in text, text
            assert c["verdict"] in text
            if c["verdict"] == "no detectable difference" and c["mde"]:
                assert f"at least {100 * float(c['mde']):.2f} points" in text
        else:
            assert "no test" in text and f"n={c['n']}" in text
    l1 = next(li for li in p.verdicts if li["data-method"] == "l1")
    assert "<span class='worse'>worse</span>" in index.read_text(encoding="utf-8")
    assert l1["data-verdict"] == "worse"
    best = p.best[0]
    study = load_study(index.parent.parent)
    means = {}
    for t in study.done:
        means.setdefault(t.group, []).append(t.selection.test)
    top = max((g for g in means if len(means[g]) >= 2), key=lambda g: np.mean(means[g]))
    assert (best["data-method"], _strength(best["data-strength"])) == top
    assert close(best["data-mean"], float(np.mean(means[top])))


def test_regression_and_2d_figures(regression_report, tmp_path):
    _, index = regression_report
    page = index.read_text(encoding="utf-8")
    ids = re.findall(r"<figure id='([^']+)'", page)
    assert "fitted-curves" in ids and "decision-boundaries" not in ids
    assert not any(i.startswith("weights-") for i in ids)          # D = 1 is no image
    assert "test MSE @val" in page
    spiral = make_study(tmp_path / "spiral", "spiral", epochs=3)
    ids = re.findall(r"<figure id='([^']+)'", write_report(spiral).read_text(encoding="utf-8"))
    assert "decision-boundaries" in ids and "fitted-curves" not in ids
    assert ids.index("grad-norms") < ids.index("decision-boundaries")


def test_report_without_done_trials(tmp_path):
    d = make_study(tmp_path / "s", done=False)
    index = write_report(d, out=tmp_path / "elsewhere")
    assert index == tmp_path / "elsewhere" / "index.html"
    page = index.read_text(encoding="utf-8")
    # the only picture: the running trial's partial curve, labelled as such; no number from it
    assert re.findall(r"<figure id='([^']+)'", page) == ["curves"]
    from html import unescape
    assert 'Running trials (dotted, light, labelled "running")' in unescape(page)
    rows = summarize(d)
    assert all(r["n"] == 0 for r in rows)
    text = format_table(rows)
    assert "no finished trial" in text and "± –" not in text


def test_missing_store_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="study.db"):
        summarize(tmp_path)


# ---------------------------------------------------------------- the terminal

def test_terminal_table_fits_100_columns_and_states_degenerate_cases(digits_report):
    study_dir, index = digits_report
    rows = summarize(study_dir)
    text = format_table(rows)
    lines = text.splitlines()
    assert max(map(len, lines)) <= 100, max(lines, key=len)
    assert lines[1].split()[:3] == ["method", "strength", "n"] and set(lines[2]) == {"-", " "}
    assert "test acc @val" in lines[0] and "% mean ± sd" in lines[1] and "verdict" in lines[1]
    comps = {c["method"]: c for c in read_csv(index.parent / "comparisons.csv")
             if c["metric"] == "selected_test_accuracy"}
    body = {ln.split()[0].lstrip("*"): ln for ln in lines[3:] if ln and not ln.startswith(" ")}
    for method, c in comps.items():
        ln = body[method]
        r = next(r for r in rows if r["method"] == method)
        if c["p_holm"]:
            d, lo, hi = (100 * float(c[k]) for k in ("diff_mean", "diff_ci_low", "diff_ci_high"))
            assert f"{d:+.2f} [{lo:+.2f}, {hi:+.2f}]".replace("-", "−") in ln
            p = float(c["p_holm"])
            assert ("< 0.001" if p < 0.001 else f"{p:.3f}") in ln
            assert ln.endswith(c["verdict"])
            m, s = 100 * r["selected_test_accuracy_mean"], 100 * r["selected_test_accuracy_std"]
            assert f"{m:.2f} ± {s:.2f}" in ln
    assert "± –" not in text and "± -" not in text
    assert body["l0"].endswith("no test (n=1)") and " ± " not in body["l0"]
    assert body["none"].endswith("baseline")
    assert "n=1: one done seed" in text
    assert "still running, not counted: none (1)" in text
    assert "failed: prox-l1 λ=0.01 seed 5: FloatingPointError: loss diverged" in text
    assert "timeout: l1 λ=0.001 seed 5: TimeoutError" in text
    assert "* best:" in text and "comparisons.csv" in text


def test_terminal_table_with_long_names_still_fits(tmp_path):
    d = make_study(tmp_path / "s")
    rename_method(d, "maxnorm", "a-very-long-method-name-for-a-regularizer")
    text = format_table(summarize(d))
    assert max(map(len, text.splitlines())) <= 100
    assert "a-very-long-m" in text and "…" in text


def test_terminal_table_in_ascii(digits_report):
    text = format_table(summarize(digits_report[0]), ascii=True)
    text.encode("ascii")
    assert "+/-" in text and max(map(len, text.splitlines())) <= 100


def test_cli_report_prints_into_a_pipe(tmp_path):
    """stdout not a terminal, and one that cannot encode ±: the table still prints."""
    import os
    d = make_study(tmp_path / "study", "digits", epochs=3)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    for enc in ("utf-8", "ascii"):
        res = subprocess.run([sys.executable, "-m", "proxnet.cli", "report", str(d)],
                             capture_output=True, text=True, env=dict(env, PYTHONIOENCODING=enc),
                             timeout=300)
        assert res.returncode == 0, res.stderr
        assert "test acc @val" in res.stdout and "prox-l1" in res.stdout
        assert all(len(ln) <= 100 for ln in res.stdout.splitlines()[:20])
        assert ("±" in res.stdout) == (enc == "utf-8")
    for name in ("index.html", "summary.csv", "comparisons.csv", "trials.csv"):
        assert (d / "report" / name).is_file()
    res = subprocess.run([sys.executable, "-m", "proxnet.cli", "report", str(tmp_path)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode != 0 and "study.db" in res.stderr
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "study.db").write_bytes(b"not a database" * 100)
    res = subprocess.run([sys.executable, "-m", "proxnet.cli", "report", str(tmp_path / "junk")],
                         capture_output=True, text=True, env=env, timeout=120)
    # a folder without a readable store is a usage error (exit 2), as for proxnet study
    assert res.returncode == 2 and "not a readable proxnet study store" in res.stderr
    assert "Traceback" not in res.stderr


def test_mean_ci_known_values():
    r = mean_ci([1.0, 2.0, 3.0])
    assert r["n"] == 3 and r["mean"] == 2.0 and r["std"] == 1.0
    assert r["ci_high"] - 2.0 == pytest.approx(4.30265272974946 / math.sqrt(3), rel=1e-10)
    one = mean_ci([0.5])
    assert one["n"] == 1 and one["mean"] == 0.5 and math.isnan(one["ci_low"]) and math.isnan(one["std"])
    assert mean_ci([None, float("nan")])["n"] == 0


def test_store_module_schema_matches_doc():
    """The schema the store writes has the documented tables and columns (so the report,
    tested against the doc, reads what the runner writes)."""
    from proxnet.studies import store
    ddl = [v for v in vars(store).values() if isinstance(v, str) and "CREATE TABLE" in v and "trial" in v]
    assert ddl, "proxnet.studies.store exposes no CREATE TABLE text"

    def columns(script):
        conn = sqlite3.connect(":memory:")
        conn.executescript(script)
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: [(c[1], c[2].upper()) for c in conn.execute(f"PRAGMA table_info({t})")] for t in tables}

    doc, code = columns(schema_ddl()), columns(ddl[0])
    for table, cols in doc.items():
        assert table in code, table
        assert set(cols) <= set(code[table]), (table, set(cols) - set(code[table]))
