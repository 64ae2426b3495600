"""The study report: its numbers equal a recomputation straight from the store (plain SQL +
NumPy), its page is self-contained, and it draws the figures whose data exist.

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
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from proxnet.studies.report import summarize, write_report, format_table, mean_ci

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

# (method, strength, seeds); l0 has one seed (CI undefined); group-lasso only fails
GRID = [("none", None, (0, 1, 2)), ("l1", 1e-3, (0, 1, 2)), ("l1", 1e-2, (0, 1, 2)),
        ("prox-l1", 1e-3, (0, 1, 2)), ("prox-l1", 1e-2, (0, 1, 2)), ("dropout", 0.5, (0, 1, 2)),
        ("l0", 0.01, (0,))]
EXTRA = [("prox-l1", 1e-2, 3, "failed", TRACEBACK), ("l1", 1e-2, 3, "timeout", "TimeoutError: trial "
         "exceeded 600 s"), ("none", None, 3, "running", None), ("group-lasso", 0.1, 0, "failed",
         "ValueError: bad groups")]


def make_study(study_dir, kind="digits", *, epochs=6, done=True):
    """A study.db with synthetic trials. kind: 'digits' (64-D inputs, first-layer weights),
    'spiral' (2-D, decision grids) or 'regression' (1-D, fitted curves)."""
    study_dir = Path(study_dir)
    study_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(study_dir / "study.db")
    conn.executescript(schema_ddl())
    config = {"name": f"synthetic-{kind}", "dataset": {"name": kind, "n_train": 100},
              "model": {"hidden": [20]}, "training": {"epochs": epochs, "lr": 0.1},
              "seeds": [0, 1, 2]}
    conn.execute("INSERT INTO study VALUES (1, ?, ?, ?, ?)",
                 (config["name"], json.dumps(config), 1.7e9, "0.1.0"))
    rng = np.random.default_rng(7)
    for gi, (method, strength, seeds) in enumerate(GRID):
        for seed in seeds:
            key = f"{gi:016x}:{seed}"
            n_ep = epochs - 2 if (seed == 2 and method == "l1") else epochs   # one early stop
            e = np.arange(1, n_ep + 1)
            zeros = min(0.9, (strength or 0) * 40) * (method.startswith("prox") or method == "l0")
            if kind == "regression":
                tr = 1.0 / e + 0.01 * rng.random(n_ep)
                te = tr + 0.2 + 0.05 * rng.random(n_ep)
                series = {"train_mse": tr, "test_mse": te, "gap": te - tr}
                final = {"final_test_mse": float(te[-1]), "final_train_mse": float(tr[-1]),
                         "test_sse": float(te[-1] * 100), "gap": float(te[-1] - tr[-1])}
            else:
                tr = 1 - 0.5 / e - 0.02 * rng.random(n_ep)
                te = tr - 0.05 - 0.03 * rng.random(n_ep)
                series = {"train_accuracy": tr, "test_accuracy": te, "gap": tr - te}
                final = {"final_test_accuracy": float(te[-1]), "best_test_accuracy": float(te.max()),
                         "final_train_accuracy": float(tr[-1]), "gap": float(tr[-1] - te[-1])}
            zt = np.full(n_ep, zeros) + 0.01 * rng.random(n_ep) * (zeros > 0)
            series["zeros/total"] = zt
            final.update(zeros_total=float(zt[-1]), zeros_first=float(zt[-1]), dead_units=0,
                         effective_params=100, n_params=200, epochs_run=int(n_ep))
            conn.execute("INSERT INTO trial (key, config_hash, method, strength, seed, config_json, "
                         "status, versions_json, started, finished, duration, final_json) "
                         "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                         (key, key[:16], method, strength, seed, json.dumps({**config, "seed": seed}),
                          "done" if done else "pending", "{}", 1.7e9, 1.7e9 + 3, 3.0,
                          json.dumps(final) if done else None))
            if not done:
                continue
            conn.executemany("INSERT INTO epoch_metric VALUES (?,?,?,?)",
                             [(key, int(ep), name, float(v)) for name, vals in series.items()
                              for ep, v in zip(e, vals)])
            arts = {"grad_norm_W1": np.exp(-np.linspace(0, 3, 40 * n_ep)) + 0.01 * rng.random(40 * n_ep)}
            D = {"digits": 64, "spiral": 2, "regression": 1}[kind]
            W = rng.normal(size=(D, 20)).astype(np.float32)
            if zeros:
                W[:, : int(20 * zeros)] = 0.0      # dead units for the prox methods
                W[np.abs(W) < 0.5] = 0.0
            arts["first_layer_weights"] = W
            if kind == "spiral":
                xs = np.linspace(-1, 1, 30)
                gx, gy = np.meshgrid(xs, xs)
                arts["decision_grid"] = (np.arctan2(gy, gx) > strength_or0(strength)).astype(np.int64) + \
                    (gx > 0.5).astype(np.int64)
                arts["decision_extent"] = np.array([-1.0, 1.0, -1.0, 1.0])
                arts["train_X"] = rng.uniform(-1, 1, size=(60, 2))
                arts["train_y"] = rng.integers(0, 3, size=60)
            if kind == "regression":
                arts["curve_x"] = np.linspace(0, 1, 50)
                arts["curve_y"] = np.sin(6 * arts["curve_x"]) * (1 - (strength or 0))
                arts["train_X"] = rng.uniform(0, 1, size=(10, 1))
                arts["train_y"] = np.sin(6 * arts["train_X"][:, 0])
            conn.executemany("INSERT INTO artifact VALUES (?,?,?)",
                             [(key, name, _npy(a)) for name, a in arts.items()])
    for j, (method, strength, seed, status, error) in enumerate(EXTRA):
        gi = next((i for i, g in enumerate(GRID) if g[:2] == (method, strength)), 100 + j)
        conn.execute("INSERT INTO trial (key, config_hash, method, strength, seed, config_json, "
                     "status, error) VALUES (?,?,?,?,?,?,?,?)",
                     (f"{gi:016x}:{seed}", f"{gi:016x}", method, strength, seed, "{}", status, error))
    conn.commit()
    conn.close()
    return study_dir


def strength_or0(s):
    return 0.0 if s is None else s


# ---------------------------------------------------------------- an independent recomputation

def recompute(study_dir, metric):
    """{(method, strength): (n, mean, std, lo, hi)} from plain SQL + NumPy + scipy.stats.t."""
    conn = sqlite3.connect(Path(study_dir) / "study.db")
    rows = conn.execute("SELECT method, strength, json_extract(final_json, ?) FROM trial "
                        "WHERE status = 'done'", (f"$.{metric}",)).fetchall()
    conn.close()
    groups = {}
    for method, strength, v in rows:
        groups.setdefault((method, strength), []).append(v)
    out = {}
    for g, vals in groups.items():
        v = np.array(vals, dtype=float)
        n = len(v)
        mean = v.mean()
        if n < 2:
            out[g] = (n, mean, math.nan, math.nan, math.nan)
            continue
        sd = v.std(ddof=1)
        h = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
        out[g] = (n, mean, sd, mean - h, mean + h)
    return out


def _key(method, strength_text):
    return (method, None if strength_text in ("", None) else float(strength_text))


def _close(a, b):
    if math.isnan(b):
        return a is None or a == "" or (isinstance(a, float) and math.isnan(a))
    return math.isclose(float(a), b, rel_tol=1e-12, abs_tol=1e-15)


class _Cells(HTMLParser):
    """Collects the summary table's cells with their data-* attributes, every src/href,
    and whether there is any script."""
    def __init__(self):
        super().__init__()
        self.rows, self.refs, self.scripts, self.imgs = [], [], 0, []
        self._row, self._cell = None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
        for k in ("src", "href"):
            if k in a:
                self.refs.append((tag, k, a[k]))
        if tag == "img":
            self.imgs.append(a)
        if tag == "tr" and "data-method" in a:
            self._row = {"method": a["data-method"], "strength": a["data-strength"], "cells": {}}
            self.rows.append(self._row)
        if tag == "td" and self._row is not None and "data-metric" in a:
            self._cell = a
            self._cell["text"] = ""
            self._row["cells"][a["data-metric"]] = a

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None
        if tag == "tr":
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data


@pytest.fixture(scope="module")
def digits_report(tmp_path_factory):
    d = make_study(tmp_path_factory.mktemp("digits") / "study", "digits")
    return d, write_report(d)


@pytest.fixture(scope="module")
def regression_report(tmp_path_factory):
    d = make_study(tmp_path_factory.mktemp("reg") / "study", "regression")
    return d, write_report(d)


CLS = ("final_test_accuracy", "best_test_accuracy", "gap", "zeros_total")
REG = ("final_test_mse", "test_sse", "gap", "zeros_total")


@pytest.mark.parametrize("which, metrics", [("digits_report", CLS), ("regression_report", REG)])
def test_report_figures_equal_recomputation_from_store(request, which, metrics):
    study_dir, index = request.getfixturevalue(which)
    # summary.csv
    with open(index.parent / "summary.csv", newline="") as f:
        csv_rows = {_key(r["method"], r["strength"]): r for r in csv.DictReader(f)}
    # the HTML table
    p = _Cells()
    p.feed(index.read_text(encoding="utf-8"))
    html_rows = {_key(r["method"], r["strength"]): r["cells"] for r in p.rows}
    # summarize()
    rows = {(r["method"], r["strength"]): r for r in summarize(study_dir)}
    for m in metrics:
        expected = recompute(study_dir, m)
        assert expected, m
        for g, (n, mean, sd, lo, hi) in expected.items():
            for got in (rows[g], csv_rows[g]):
                assert int(got[f"{m}_n"]) == n
                for stat, want in zip(("mean", "std", "ci_low", "ci_high"), (mean, sd, lo, hi)):
                    assert _close(got[f"{m}_{stat}"], want), (g, m, stat, got[f"{m}_{stat}"], want)
            cell = html_rows[g][m]
            assert int(cell["data-n"]) == n
            for stat, want in (("mean", mean), ("std", sd), ("ci-low", lo), ("ci-high", hi)):
                assert _close(cell[f"data-{stat}"], want), (g, m, stat)
            spec = ".4g" if m in ("final_test_mse", "test_sse") else ".4f"
            shown = f"{mean:{spec}} ± " + ("–" if n < 2 else f"{sd:{spec}}")
            assert cell["text"] == shown
    # every done group has a row, and nothing else has a number
    done_groups = set(recompute(study_dir, metrics[0]))
    assert done_groups <= set(rows)
    for g, r in rows.items():
        if g not in done_groups:
            assert r["n"] == 0 and math.isnan(r[f"{metrics[0]}_mean"])


def test_mean_ci_known_values():
    r = mean_ci([1.0, 2.0, 3.0])
    assert r["n"] == 3 and r["mean"] == 2.0 and r["std"] == 1.0
    assert r["ci_high"] - 2.0 == pytest.approx(4.30265272974946 / math.sqrt(3), rel=1e-10)
    one = mean_ci([0.5])
    assert one["n"] == 1 and one["mean"] == 0.5 and math.isnan(one["ci_low"]) and math.isnan(one["std"])
    assert mean_ci([None, float("nan")])["n"] == 0


def test_failed_and_timeout_counted_separately(digits_report):
    study_dir, index = digits_report
    rows = {(r["method"], r["strength"]): r for r in summarize(study_dir)}
    assert rows[("prox-l1", 1e-2)]["failed"] == 1 and rows[("prox-l1", 1e-2)]["n"] == 3
    assert rows[("l1", 1e-2)]["timeout"] == 1 and rows[("l1", 1e-2)]["n"] == 3
    assert rows[("none", None)]["unfinished"] == 1 and rows[("none", None)]["n"] == 3
    assert rows[("group-lasso", 0.1)]["n"] == 0 and rows[("group-lasso", 0.1)]["failed"] == 1
    page = index.read_text(encoding="utf-8")
    assert "FloatingPointError: loss diverged (nan) at epoch 3" in page
    assert "TimeoutError: trial exceeded 600 s" in page
    assert "ValueError: bad groups" in page
    # group order: methods as first stored, strengths ascending, None first
    assert list(rows)[:3] == [("none", None), ("l1", 1e-3), ("l1", 1e-2)]


def test_terminal_table(digits_report):
    study_dir, _ = digits_report
    rows = summarize(study_dir)
    text = format_table(rows)
    lines = text.splitlines()
    assert lines[0].split()[:5] == ["method", "strength", "n", "failed", "timeout"]
    assert "final test acc" in lines[0] and "zeros (frac.)" in lines[0]
    l0 = next(ln for ln in lines if ln.startswith("l0 "))
    r = next(r for r in rows if r["method"] == "l0")
    assert f"{r['final_test_accuracy_mean']:.4f} ± – –" in l0          # n = 1: CI undefined
    pl = next(r for r in rows if r["method"] == "prox-l1" and r["strength"] == 1e-2)
    want = (f"{pl['gap_mean']:.4f} ± {pl['gap_std']:.4f} "
            f"[{pl['gap_ci_low']:.4f}, {pl['gap_ci_high']:.4f}]")
    assert any(want in ln for ln in lines)


def _png_size(data: bytes):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_page_is_self_contained_with_figures(digits_report):
    _, index = digits_report
    p = _Cells()
    page = index.read_text(encoding="utf-8")
    p.feed(page)
    assert p.scripts == 0
    for tag, attr, value in p.refs:
        if attr == "src" or tag == "link":
            assert value.startswith("data:"), (tag, value[:60])
        else:
            assert value.startswith("#") or value == "summary.csv", value
    assert not re.search(r"url\(\s*['\"]?(?!data:)", page)
    ids = re.findall(r"<figure id='([^']+)'", page)
    assert ids[:3] == ["learning-curves", "gap", "sparsity"]
    assert {"weights-prox-l1", "weights-none", "grad-norms"} <= set(ids)
    assert "decision-boundaries" not in ids and "fitted-curves" not in ids
    assert len(p.imgs) == len(ids)
    for img in p.imgs:
        w, h = _png_size(base64.b64decode(img["src"].split(",", 1)[1]))
        assert w > 100 and h > 50
        assert img["alt"]
    assert "<h1>Study: synthetic-digits</h1>" in page


def test_regression_and_2d_figures(regression_report, tmp_path):
    _, index = regression_report
    page = index.read_text(encoding="utf-8")
    ids = re.findall(r"<figure id='([^']+)'", page)
    assert "fitted-curves" in ids and "decision-boundaries" not in ids
    assert not any(i.startswith("weights-") for i in ids)          # D = 1 is no image
    assert "final test MSE" in page
    spiral = make_study(tmp_path / "spiral", "spiral", epochs=3)
    ids = re.findall(r"<figure id='([^']+)'", write_report(spiral).read_text(encoding="utf-8"))
    assert "decision-boundaries" in ids and "fitted-curves" not in ids


def test_report_without_done_trials(tmp_path):
    d = make_study(tmp_path / "s", done=False)
    index = write_report(d, out=tmp_path / "elsewhere")
    assert index == tmp_path / "elsewhere" / "index.html"
    page = index.read_text(encoding="utf-8")
    assert "No figures" in page and "<img" not in page
    rows = summarize(d)
    assert all(r["n"] == 0 for r in rows)
    assert "–" in format_table(rows)


def test_missing_store_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="study.db"):
        summarize(tmp_path)


def test_cli_report(tmp_path):
    from click.testing import CliRunner
    from proxnet.cli import main

    d = make_study(tmp_path / "study", "digits", epochs=3)
    res = CliRunner().invoke(main, ["report", str(d)])
    assert res.exit_code == 0, res.output
    assert "final test acc" in res.output and "prox-l1" in res.output
    assert (d / "report" / "index.html").is_file() and (d / "report" / "summary.csv").is_file()
    res = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert res.exit_code != 0 and "study.db" in res.output


def test_store_module_schema_matches_doc(tmp_path):
    """Once proxnet.studies.store exists, the schema it writes has the documented tables and
    columns (so the report, tested against the doc, reads what the runner writes)."""
    store = pytest.importorskip("proxnet.studies.store", reason="proxnet.studies.store not written yet")
    ddl = [v for v in vars(store).values() if isinstance(v, str) and "CREATE TABLE" in v and "trial" in v]
    if not ddl:
        pytest.skip("proxnet.studies.store exposes no CREATE TABLE text")

    def columns(script):
        conn = sqlite3.connect(":memory:")
        conn.executescript(script)
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: [(c[1], c[2].upper()) for c in conn.execute(f"PRAGMA table_info({t})")] for t in tables}

    doc, code = columns(schema_ddl()), columns(ddl[0])
    for table, cols in doc.items():
        assert table in code, table
        assert set(cols) <= set(code[table]), (table, set(cols) - set(code[table]))
