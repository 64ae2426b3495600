"""The study report: reads a study's store (``<study_dir>/study.db``) and writes
``<study_dir>/report/index.html`` (one self-contained page) and ``summary.csv``.

The store is read with :mod:`sqlite3` directly, following ``docs/store-schema.md``, in
read-only mode: a report can be written while a study is still running (unfinished trials
are counted, not summarized).

Statistics (see ``docs/studies.md``, "The report"): per method and strength, over the trials with
``status = 'done'`` only, each metric of ``final_json`` gives

- ``n``: the number of done trials with a finite value,
- ``mean`` and ``std`` (sample standard deviation, ``ddof=1``),
- a 95% confidence interval of the mean by Student's t:
  ``mean ± t_{0.975, n−1} · std / √n`` (``scipy.stats.t``); undefined (NaN, shown "–") for n < 2.

Public functions: :func:`summarize`, :func:`mean_ci`, :func:`format_table`,
:func:`write_summary_csv`, :func:`write_report`, :func:`load_study`.
"""
from __future__ import annotations

import csv
import io
import json
import math
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .store import STORE_NAME, StoreError, atomic_write, open_readonly

CLASSIFICATION_METRICS = ("final_test_accuracy", "best_test_accuracy", "gap", "zeros_total")
REGRESSION_METRICS = ("final_test_mse", "test_sse", "gap", "zeros_total")

METRIC_LABELS = {
    "final_test_accuracy": "final test acc",
    "best_test_accuracy": "best test acc",
    "final_test_mse": "final test MSE",
    "test_sse": "test SSE",
    "gap": "gen. gap",
    "zeros_total": "zeros (frac.)",
}
METRIC_DESCRIPTIONS = {
    "final_test_accuracy": "test accuracy after the last epoch",
    "best_test_accuracy": "highest test accuracy over the epochs",
    "final_test_mse": "test mean squared error after the last epoch",
    "test_sse": "sum of squared errors on the test set",
    "gap": "generalization gap (classification: train − test accuracy; regression: test − train MSE)",
    "zeros_total": "fraction of weights that are exactly zero",
}
STATS = ("n", "mean", "std", "ci_low", "ci_high")


# ---------------------------------------------------------------- reading the store

@dataclass
class Trial:
    """One row of the ``trial`` table, with its JSON columns decoded."""
    key: str
    method: str
    strength: float | None
    seed: int
    status: str
    error: str | None
    final: dict
    config: dict
    duration: float | None

    @property
    def group(self) -> tuple[str, float | None]:
        return (self.method, self.strength)


@dataclass
class Study:
    """A study as the report sees it: metadata, config, trials (in the store's order)."""
    path: Path
    name: str
    config: dict
    created: float | None
    proxnet_version: str
    trials: list[Trial] = field(default_factory=list)

    @property
    def done(self) -> list[Trial]:
        return [t for t in self.trials if t.status == "done"]

    def groups(self) -> list[tuple[str, float | None]]:
        """(method, strength) pairs: methods in order of first appearance in the store,
        strengths ascending (None first)."""
        methods: list[str] = []
        for t in self.trials:
            if t.method not in methods:
                methods.append(t.method)
        out = []
        for m in methods:
            strengths = {t.strength for t in self.trials if t.method == m}
            out += [(m, s) for s in sorted(strengths, key=_strength_key)]
        return out

    @property
    def kind(self) -> str:
        """'classification' or 'regression', from the keys of the done trials' final metrics."""
        keys = set().union(*(t.final.keys() for t in self.done)) if self.done else set()
        if "final_test_accuracy" not in keys and "final_test_mse" in keys:
            return "regression"
        if not keys:
            task = str(self.config.get("task", self.config.get("loss", ""))).lower()
            if "regress" in task or task == "mse":
                return "regression"
        return "classification"

    @property
    def metrics(self) -> tuple[str, ...]:
        return REGRESSION_METRICS if self.kind == "regression" else CLASSIFICATION_METRICS


def _strength_key(s):
    return (-math.inf if s is None else s)


def store_path(study_dir) -> Path:
    path = Path(study_dir) / STORE_NAME
    if not path.is_file():
        raise FileNotFoundError(f"study_dir: no study store {path} (expected a folder holding {STORE_NAME})")
    return path


def connect(study_dir) -> sqlite3.Connection:
    """Open ``<study_dir>/study.db`` read-only (see :func:`proxnet.studies.store.open_readonly`:
    StoreError for a file that is not a readable proxnet store)."""
    store_path(study_dir)
    return open_readonly(study_dir)


def _json(text, default):
    if text is None or text == "":
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


def load_study(study_dir) -> Study:
    """Read the ``study`` and ``trial`` tables (StoreError for a damaged store)."""
    try:
        return _load_study(study_dir)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{Path(study_dir) / STORE_NAME}: not a readable proxnet study store "
                         f"({exc})") from None


def _load_study(study_dir) -> Study:
    with _closing(connect(study_dir)) as conn:
        row = conn.execute("SELECT name, config_json, created, proxnet_version FROM study").fetchone()
        name, config, created, version = (row if row is not None
                                          else (Path(study_dir).name, "{}", None, "?"))
        study = Study(Path(study_dir), name, _json(config, {}), created, version)
        for r in conn.execute("SELECT key, method, strength, seed, status, error, final_json, "
                              "config_json, duration FROM trial ORDER BY rowid"):
            study.trials.append(Trial(key=r[0], method=r[1], strength=r[2], seed=r[3], status=r[4],
                                      error=r[5], final=_json(r[6], {}) or {},
                                      config=_json(r[7], {}), duration=r[8]))
    return study


class _closing:
    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        return self.conn

    def __exit__(self, *exc):
        self.conn.close()


def load_epochs(conn, keys, names) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """``{trial_key: {name: (epochs, values)}}`` for the given trials and metric names,
    sorted by epoch."""
    keys, names = list(keys), list(names)
    out: dict[str, dict[str, tuple[list, list]]] = {}
    if not keys or not names:
        return {}
    q = (f"SELECT trial_key, name, epoch, value FROM epoch_metric WHERE name IN "
         f"({','.join('?' * len(names))}) ORDER BY trial_key, name, epoch")
    wanted = set(keys)
    for key, name, epoch, value in conn.execute(q, names):
        if key in wanted:
            e, v = out.setdefault(key, {}).setdefault(name, ([], []))
            e.append(epoch)
            v.append(np.nan if value is None else value)
    return {k: {n: (np.asarray(e, dtype=float), np.asarray(v, dtype=float)) for n, (e, v) in d.items()}
            for k, d in out.items()}


def load_artifacts(conn, keys, names) -> dict[str, dict[str, np.ndarray]]:
    """``{trial_key: {name: array}}`` (``np.load`` with ``allow_pickle=False``)."""
    keys, names = list(keys), list(names)
    out: dict[str, dict[str, np.ndarray]] = {}
    if not keys or not names:
        return out
    q = f"SELECT trial_key, name, npy FROM artifact WHERE name IN ({','.join('?' * len(names))})"
    wanted = set(keys)
    for key, name, blob in conn.execute(q, names):
        if key in wanted:
            try:
                out.setdefault(key, {})[name] = np.load(io.BytesIO(blob), allow_pickle=False)
            except (ValueError, EOFError, OSError, TypeError):
                pass    # a damaged artifact is left out of the figures, not fatal
    return out


# ---------------------------------------------------------------- statistics

def mean_ci(values, confidence: float = 0.95) -> dict:
    """n, mean, std (ddof=1) and the Student-t confidence interval of the mean.

    Non-finite values (None, NaN, inf) are left out. n = 0 gives NaN everywhere;
    n = 1 gives the mean with NaN std and NaN interval (undefined)."""
    from scipy.stats import t as student_t

    v = np.asarray([x for x in values if x is not None], dtype=float)
    v = v[np.isfinite(v)]
    n = int(v.size)
    nan = float("nan")
    if n == 0:
        return {"n": 0, "mean": nan, "std": nan, "ci_low": nan, "ci_high": nan}
    mean = float(np.mean(v))
    if n == 1:
        return {"n": 1, "mean": mean, "std": nan, "ci_low": nan, "ci_high": nan}
    std = float(np.std(v, ddof=1))
    half = float(student_t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
    return {"n": n, "mean": mean, "std": std, "ci_low": mean - half, "ci_high": mean + half}


def summarize_study(study: Study) -> list[dict]:
    """The summary rows of an already loaded study (see :func:`summarize`)."""
    rows = []
    for method, strength in study.groups():
        trials = [t for t in study.trials if t.group == (method, strength)]
        done = [t for t in trials if t.status == "done"]
        row = {"method": method, "strength": strength, "n": len(done),
               "failed": sum(t.status == "failed" for t in trials),
               "timeout": sum(t.status == "timeout" for t in trials),
               "unfinished": sum(t.status in ("pending", "running") for t in trials)}
        for m in study.metrics:
            stats = mean_ci([t.final.get(m) for t in done])
            for s in STATS:
                row[f"{m}_{s}"] = stats[s]
        rows.append(row)
    return rows


def summarize(study_dir) -> list[dict]:
    """One row per (method, strength), over the trials with status 'done'.

    Each row holds ``method``, ``strength`` (None for no strength), ``n`` (done trials),
    ``failed``, ``timeout``, ``unfinished`` (pending or running), and for each metric ``m``
    (classification: final_test_accuracy, best_test_accuracy, gap, zeros_total;
    regression: final_test_mse, test_sse, gap, zeros_total) the keys ``m_n``, ``m_mean``,
    ``m_std`` (ddof=1), ``m_ci_low``, ``m_ci_high`` (95% Student-t interval; NaN when
    undefined). Pure: reads the store, writes nothing."""
    return summarize_study(load_study(study_dir))


def row_metrics(rows) -> list[str]:
    """The metric names present in summary rows, in column order."""
    if not rows:
        return []
    return [k[:-len("_mean")] for k in rows[0] if k.endswith("_mean")]


# ---------------------------------------------------------------- formatting

def metric_format(metric: str) -> str:
    return ".4g" if metric in ("final_test_mse", "test_sse") else ".4f"


def fmt(x, spec: str = ".4f") -> str:
    """A number, or '–' when it is missing or undefined."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return format(x, spec)


def strength_label(method: str, strength) -> str:
    if strength is None:
        return "–"
    return format(strength, "g")


def group_label(method: str, strength) -> str:
    if strength is None:
        return method
    name = "rate" if "dropout" in method.lower() else "λ"
    return f"{method} {name}={strength:g}"


def format_stat(row: dict, metric: str) -> str:
    """'mean ± std [ci_low, ci_high]' with '–' for what is undefined."""
    spec = metric_format(metric)
    mean, std = row[f"{metric}_mean"], row[f"{metric}_std"]
    if row[f"{metric}_n"] == 0:
        return "–"
    lo, hi = row[f"{metric}_ci_low"], row[f"{metric}_ci_high"]
    ci = "–" if not math.isfinite(lo) else f"[{fmt(lo, spec)}, {fmt(hi, spec)}]"
    return f"{fmt(mean, spec)} ± {fmt(std, spec)} {ci}"


def format_table(rows: list[dict]) -> str:
    """The summary as a plain-text table for the terminal."""
    metrics = row_metrics(rows)
    header = ["method", "strength", "n", "failed", "timeout"] + [METRIC_LABELS.get(m, m) for m in metrics]
    body = [[r["method"], strength_label(r["method"], r["strength"]), str(r["n"]), str(r["failed"]),
             str(r["timeout"])] + [format_stat(r, m) for m in metrics] for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(header)]
    right = {2, 3, 4}

    def line(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = [line(header), "  ".join("-" * w for w in widths)] + [line(b) for b in body]
    out.append("")
    out.append("mean ± std [95% CI, Student t] over seeds, done trials only; – : undefined (n < 2)")
    unfinished = sum(r.get("unfinished", 0) for r in rows)
    if unfinished:
        out.append(f"{unfinished} trial(s) not finished yet (running or pending) are not in the table")
    return "\n".join(out)


def write_summary_csv(rows: list[dict], path) -> Path:
    """Write the summary rows; floats in full precision (repr), empty for NaN / None."""
    path = Path(path)
    columns = list(rows[0]) if rows else ["method", "strength", "n", "failed", "timeout", "unfinished"]

    def cell(x):
        if x is None:
            return ""
        if isinstance(x, float):
            return repr(x) if math.isfinite(x) else ""
        return str(x)

    with atomic_write(path, newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for r in rows:
            w.writerow([cell(r[c]) for c in columns])
    return path


# ---------------------------------------------------------------- figures

_CURVE_NAMES = {
    "classification": ("train_accuracy", "test_accuracy"),
    "regression": ("train_mse", "test_mse"),
}
_ARTIFACTS = ("first_layer_weights", "grad_norm_W1", "decision_grid", "decision_extent",
              "curve_x", "curve_y", "train_X", "train_y")


def _first_done(trials):
    """The done trial with the lowest seed (the one drawn where a picture shows one seed)."""
    return min(trials, key=lambda t: t.seed) if trials else None


def build_figures(study: Study) -> list[dict]:
    """The report's figures whose data exist: ``[{"id", "title", "caption", "figure"}]``
    (matplotlib Figures, not yet rendered)."""
    from . import plots

    done = study.done
    if not done:
        return []
    kind = study.kind
    groups = [g for g in study.groups() if any(t.group == g for t in done)]
    by_group = {g: [t for t in done if t.group == g] for g in groups}
    keys = [t.key for t in done]
    train_name, test_name = _CURVE_NAMES[kind]
    with _closing(connect(study.path)) as conn:
        epochs = load_epochs(conn, keys, [train_name, test_name, "gap"])
        # artifacts: all seeds for grad norms; the lowest seed for pictures
        first_keys = [_first_done(ts).key for ts in by_group.values()]
        arts = load_artifacts(conn, first_keys, [a for a in _ARTIFACTS if a != "grad_norm_W1"])
        grads = load_artifacts(conn, keys, ["grad_norm_W1"])

    figs = []
    label = "accuracy" if kind == "classification" else "MSE"

    # learning curves
    curves = []
    for g, ts in by_group.items():
        tr = [epochs[t.key][train_name] for t in ts if train_name in epochs.get(t.key, {})]
        te = [epochs[t.key][test_name] for t in ts if test_name in epochs.get(t.key, {})]
        if tr or te:
            curves.append({"method": g[0], "strength": g[1], "label": group_label(*g),
                           "train": plots.band(tr) if tr else None,
                           "test": plots.band(te) if te else None, "n": len(ts)})
    if curves:
        figs.append({"id": "learning-curves", "title": "Learning curves",
                     "figure": plots.learning_curves(curves, ylabel=label, log=(kind == "regression")),
                     "caption": f"Train (dashed) and test (solid) {label} per epoch for each method and "
                                f"strength: mean over seeds, band = mean ± std across seeds "
                                f"(n = number of done seeds)."})

    # generalization gap
    gaps = []
    for g, ts in by_group.items():
        series = []
        for t in ts:
            e = epochs.get(t.key, {})
            if "gap" in e:
                series.append(e["gap"])
            elif train_name in e and test_name in e:
                series.append(_gap_from(e[train_name], e[test_name], kind))
        if series:
            gaps.append({"method": g[0], "strength": g[1], "band": plots.band(series)})
    if gaps:
        what = "train − test accuracy" if kind == "classification" else "test − train MSE"
        figs.append({"id": "gap", "title": "Generalization gap",
                     "figure": plots.per_method_lines(gaps, ylabel=f"gap ({what})", xlabel="epoch"),
                     "caption": f"Generalization gap ({what}) per epoch, one panel per method, "
                                f"one line per strength: mean over seeds, band = mean ± std."})

    # sparsity vs accuracy / error
    ykey = "final_test_accuracy" if kind == "classification" else "final_test_mse"
    pts = [(t.method, t.final.get("zeros_total"), t.final.get(ykey)) for t in done]
    pts = [p for p in pts if _finite(p[1]) and _finite(p[2])]
    if pts:
        methods = [g[0] for g in groups]
        figs.append({"id": "sparsity", "title": f"Sparsity vs test {label}",
                     "figure": plots.sparsity_scatter(pts, methods=list(dict.fromkeys(methods)),
                                                      ylabel=f"final test {label}",
                                                      log=(kind == "regression")),
                     "caption": f"Each point is one done trial: final fraction of exactly-zero weights "
                                f"(zeros_total) against final test {label}, coloured by method."})

    # first-layer weights, one figure per method
    for method in dict.fromkeys(g[0] for g in groups):
        rows = []
        for g, ts in by_group.items():
            t = _first_done(ts)
            W = arts.get(t.key, {}).get("first_layer_weights")
            if g[0] == method and W is not None and W.ndim == 2 and _side(W.shape[0]):
                rows.append((group_label(*g), t.seed, W))
        if rows:
            side = _side(rows[0][2].shape[0])
            figs.append({"id": f"weights-{_slug(method)}", "title": f"First-layer weights: {method}",
                         "figure": plots.weight_grid(rows, side=side),
                         "caption": f"Incoming weights of the first {min(plots.MAX_UNITS, rows[0][2].shape[1])} "
                                    f"hidden units of the first layer ({method}, lowest seed of each "
                                    f"strength), each shown as a {side}×{side} image scaled to its own "
                                    f"largest |w|: red > 0, blue < 0, white = 0. Units whose weights are "
                                    f"all exactly zero (dead) are marked."})

    # decision boundaries (2-D data)
    panels = []
    for g, ts in by_group.items():
        t = _first_done(ts)
        a = arts.get(t.key, {})
        if "decision_grid" in a and "decision_extent" in a:
            panels.append({"label": group_label(*g), "method": g[0], "seed": t.seed,
                           "grid": a["decision_grid"], "extent": a["decision_extent"],
                           "X": a.get("train_X"), "y": a.get("train_y")})
    if panels:
        figs.append({"id": "decision-boundaries", "title": "Decision boundaries",
                     "figure": plots.decision_boundaries(panels),
                     "caption": "Predicted class over the input plane (shaded) with the training points, "
                                "one panel per method and strength (lowest seed)."})

    # fitted curves (1-D data)
    fits = []
    for g, ts in by_group.items():
        t = _first_done(ts)
        a = arts.get(t.key, {})
        if "curve_x" in a and "curve_y" in a:
            fits.append({"method": g[0], "strength": g[1], "seed": t.seed, "x": a["curve_x"],
                         "y": a["curve_y"], "X": a.get("train_X"), "Y": a.get("train_y")})
    if fits:
        figs.append({"id": "fitted-curves", "title": "Fitted curves",
                     "figure": plots.fitted_curves(fits),
                     "caption": "The fitted function (lowest seed of each strength) over the input range, "
                                "one panel per method, with the training points."})

    # gradient magnitude history
    gn = []
    for g, ts in by_group.items():
        series = [grads[t.key]["grad_norm_W1"] for t in ts if "grad_norm_W1" in grads.get(t.key, {})]
        series = [np.asarray(s, dtype=float).ravel() for s in series]
        series = [(np.arange(1, s.size + 1, dtype=float), s) for s in series if s.size]
        if series:
            gn.append({"method": g[0], "strength": g[1], "band": plots.band(series, bands=False)})
    if gn:
        figs.append({"id": "grad-norms", "title": "Gradient magnitude",
                     "figure": plots.per_method_lines(gn, ylabel="‖∂L/∂W1‖", xlabel="step", log=True,
                                                      bands=False, max_points=2000),
                     "caption": "Norm of the first layer's weight gradient per optimizer step, mean over "
                                "seeds (log scale; long runs are averaged in blocks of steps)."})
    return figs


def _gap_from(train, test, kind):
    (e1, v1), (e2, v2) = train, test
    common, i1, i2 = np.intersect1d(e1, e2, return_indices=True)
    d = v1[i1] - v2[i2] if kind == "classification" else v2[i2] - v1[i1]
    return common, d


def _finite(x):
    return isinstance(x, (int, float)) and math.isfinite(x)


def _side(d: int) -> int:
    s = int(round(math.sqrt(d)))
    return s if s * s == d and s > 1 else 0


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in s.lower())


# ---------------------------------------------------------------- the report

def write_report(study_dir, *, out=None) -> Path:
    """Write ``index.html`` (self-contained: figures embedded as base64 PNG, no scripts, no
    external resources) and ``summary.csv`` into ``out`` (default ``<study_dir>/report``),
    each to a temporary name renamed into place (a failure, e.g. a full disk, leaves the
    previous files whole). Returns the path of ``index.html``."""
    from . import html, plots

    study = load_study(study_dir)
    rows = summarize_study(study)
    out = Path(study_dir) / "report" if out is None else Path(out)
    out.mkdir(parents=True, exist_ok=True)       # fail early on a read-only folder
    try:
        figures = build_figures(study)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{Path(study_dir) / STORE_NAME}: not a readable proxnet study store "
                         f"({exc})") from None
    for f in figures:
        f["src"] = plots.to_data_uri(f.pop("figure"))
    page = html.render(study, rows, figures)
    write_summary_csv(rows, out / "summary.csv")
    path = out / "index.html"
    with atomic_write(path, encoding="utf-8") as f:
        f.write(page)
    return path
