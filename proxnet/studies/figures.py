"""Which figures a study's report shows, from its data (:mod:`.results`) and statistics
(:mod:`.analysis`); the drawing itself is :mod:`.plots`.

:func:`build_figures` returns ``[{"id", "title", "caption", "figure", "lead"}]``: the
``lead`` figures come before the summary table (the forest plot of the paired differences,
the curves of all groups on one axes, the gap likewise), the others after it (sparsity vs
the headline, first-layer weights, gradient magnitudes, decision boundaries, fitted
curves). A figure whose data do not exist is left out. Only done trials are drawn, but for
the curves of running trials (their epochs so far, dotted, labelled "running").
"""
from __future__ import annotations

import math

import numpy as np

from ..diagnostics import image_side
from . import plots
from .analysis import Analysis
from .formats import p_phrase
from .results import CLASSIFICATION, Study

_ARTIFACTS = ("first_layer_weights", "decision_grid", "decision_extent", "curve_x",
              "curve_y", "train_X", "train_y")


def _lowest_seed(trials):
    return min(trials, key=lambda t: t.seed)


def _by_group(study: Study) -> dict:
    out: dict = {}
    for g in study.groups():
        ts = [t for t in study.done if t.group == g]
        if ts:
            out[g] = ts
    return out


def forest_figure(a: Analysis) -> dict | None:
    """The paired differences of the headline vs the baseline, one panel per experiment."""
    head = a.headline
    factor = 100.0 if head.percent else 1.0
    panels = []
    for ex in a.experiments:
        rows = []
        for c in ex.comparisons.get(head.name, []):
            r = c.result
            note = p_phrase(c.p_holm) if r.test is not None else f"n={r.n}: no test"
            rows.append({"label": a.study.label(c.group), "diff": r.diff_mean * factor,
                         "low": r.diff_ci_low * factor, "high": r.diff_ci_high * factor,
                         "verdict": c.verdict, "note": note})
        if rows:
            panels.append({"title": f"vs {a.study.label(ex.baseline)}", "rows": rows})
    if not panels:
        return None
    unit = "points" if head.percent else "difference"
    return {"id": "forest", "title": "Paired differences vs the baseline", "lead": True,
            "figure": plots.forest(panels, xlabel=f"{head.label}: group − baseline ({unit})"),
            "caption": f"Mean paired difference of the headline ({head.description}) from the "
                       "baseline over the seeds done in both, with its 95% Student-t interval; "
                       "green: better, red: worse (Holm-adjusted paired t-test, α = 0.05), "
                       "grey: no detectable difference. At the right: the Holm-adjusted p."}


def curve_data(study: Study, *, running: bool = False) -> tuple[list[dict], list[dict]]:
    """``(curves, gaps)`` for :func:`proxnet.studies.plots.draw_overlaid`: per group of done
    trials, the test curve (band over seeds) with the train curve dashed, and the gap; with
    ``running``, also one curve per running trial's stored epochs (``"running": True``)."""
    by_group = _by_group(study)
    train, _, test = study.metric_names
    curves, gaps = [], []
    for g, ts in by_group.items():
        ep = [study.epochs.get(t.key, {}) for t in ts]
        te = [e[test] for e in ep if test in e]
        tr = [e[train] for e in ep if train in e]
        gp = [e["gap"] for e in ep if "gap" in e]
        label = f"{study.label(g)} (n={len(ts)})"
        if te:
            curves.append({"label": label, "band": plots.band(te),
                           "dashed": plots.band(tr) if tr else None})
        if gp:
            gaps.append({"label": label, "band": plots.band(gp)})
    for t in (study.trials if running else []):
        e = study.epochs.get(t.key, {}) if t.status == "running" else {}
        label = f"{study.label(t.group)} seed {t.seed}"
        if test in e:
            curves.append({"label": label, "band": plots.band([e[test]]), "running": True})
        if "gap" in e:
            gaps.append({"label": label, "band": plots.band([e["gap"]]), "running": True})
    return curves, gaps


def curve_figures(study: Study, *, running: bool = False) -> list[dict]:
    """Test (solid, band = ± std over seeds) and train (dashed) curves of every group on
    one axes; then the generalization gap likewise (see :func:`curve_data`)."""
    curves, gaps = curve_data(study, running=running)
    cls = study.kind == CLASSIFICATION
    what = "accuracy" if cls else "MSE"
    out = []
    live = (" Running trials (dotted, light, labelled \"running\") show the epochs stored so "
            "far." if any(c.get("running") for c in curves) else "")
    if curves:
        out.append({"id": "curves", "title": f"Test {what} per epoch, all groups", "lead": True,
                    "figure": plots.overlaid(curves, ylabel=what, log=not cls),
                    "caption": f"Test {what} (solid: mean over seeds, band: ± std) and train "
                               f"{what} (dashed, mean) of every method and strength." + live})
    if gaps:
        gw = "train − test accuracy" if cls else "test − train MSE"
        out.append({"id": "gap", "title": "Generalization gap per epoch", "lead": True,
                    "figure": plots.overlaid(gaps, ylabel=f"gap ({gw})", zero_line=True),
                    "caption": f"Generalization gap ({gw}) per epoch: mean over seeds, "
                               "band ± std." + live})
    return out


def sparsity_figure(a: Analysis) -> dict | None:
    study, head = a.study, a.headline
    zeros = next(m for m in a.compared if m.name.endswith("zeros_total"))
    pts = [(t.method, zeros.value(t), head.value(t)) for t in study.done]
    pts = [p for p in pts if math.isfinite(p[1]) and math.isfinite(p[2])]
    if not pts:
        return None
    return {"id": "sparsity", "title": f"Sparsity vs {head.label}", "lead": False,
            "figure": plots.sparsity_scatter(pts, methods=list(dict.fromkeys(p[0] for p in pts)),
                                             ylabel=head.label,
                                             log=study.kind != CLASSIFICATION),
            "caption": f"One point per done trial: {zeros.description} against the headline "
                       f"({head.description}), coloured by method."}


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in s.lower())


def weight_figures(study: Study, by_group, arts) -> list[dict]:
    out = []
    for method in dict.fromkeys(g[0] for g in by_group):
        rows = []
        for g, ts in by_group.items():
            t = _lowest_seed(ts)
            W = arts.get(t.key, {}).get("first_layer_weights")
            if g[0] == method and W is not None and W.ndim == 2 and image_side(W.shape[0]):
                rows.append((study.label(g), t.seed, W))
        if rows:
            side = image_side(rows[0][2].shape[0])
            units = min(plots.MAX_UNITS, rows[0][2].shape[1])
            out.append({"id": f"weights-{_slug(method)}", "lead": False,
                        "title": f"First-layer weights: {method}",
                        "figure": plots.weight_grid(rows, side=side),
                        "caption": f"Incoming weights of the first {units} hidden units of the "
                                   f"first layer ({method}, lowest seed of each strength), each "
                                   f"a {side}×{side} image scaled to its own largest |w|: red > "
                                   "0, blue < 0, white = 0; all-zero (dead) units are marked."})
    return out


def grad_figure(study: Study, by_group) -> dict | None:
    keys = [t.key for ts in by_group.values() for t in ts]
    grads = study.artifacts(keys, ["grad_norm_W1"])
    items = []
    for g, ts in by_group.items():
        series = [np.asarray(grads[t.key]["grad_norm_W1"], dtype=float).ravel()
                  for t in ts if "grad_norm_W1" in grads.get(t.key, {})]
        series = [(np.arange(1, s.size + 1, dtype=float), s) for s in series if s.size]
        if series:
            b = plots.band(series, bands=False)
            items.append({"method": g[0], "strength": g[1], "steps": b.x, "norms": b.mean})
    if not items:
        return None
    return {"id": "grad-norms", "title": "Gradient magnitude", "lead": False,
            "figure": plots.grad_norms(items, max_points=2000),
            "caption": "Norm of the first layer's weight gradient per optimizer step, mean over "
                       "seeds (log scale; long runs are averaged in blocks of steps)."}


def picture_figures(study: Study, by_group, arts) -> list[dict]:
    """Decision boundaries (2-D inputs) and fitted curves (1-D inputs), lowest seed."""
    panels, fits = [], []
    for g, ts in by_group.items():
        t = _lowest_seed(ts)
        a = arts.get(t.key, {})
        if "decision_grid" in a and "decision_extent" in a:
            panels.append({"label": study.label(g), "method": g[0], "seed": t.seed,
                           "grid": a["decision_grid"], "extent": a["decision_extent"],
                           "X": a.get("train_X"), "y": a.get("train_y")})
        if "curve_x" in a and "curve_y" in a:
            fits.append({"method": g[0], "strength": g[1], "seed": t.seed, "x": a["curve_x"],
                         "y": a["curve_y"], "X": a.get("train_X"), "Y": a.get("train_y")})
    out = []
    if panels:
        out.append({"id": "decision-boundaries", "title": "Decision boundaries", "lead": False,
                    "figure": plots.decision_boundaries(panels),
                    "caption": "Predicted class over the input plane (shaded) with the training "
                               "points, one panel per method and strength (lowest seed)."})
    if fits:
        out.append({"id": "fitted-curves", "title": "Fitted curves", "lead": False,
                    "figure": plots.fitted_curves(fits),
                    "caption": "The fitted function (lowest seed of each strength) over the "
                               "input range, one panel per method, with the training points."})
    return out


def build_figures(a: Analysis) -> list[dict]:
    """The report's figures, lead figures first (see the module doc); matplotlib Figures,
    not yet rendered."""
    study = a.study
    by_group = _by_group(study)
    if not by_group:
        return curve_figures(study, running=True)     # running trials only, if any
    arts = study.artifacts([_lowest_seed(ts).key for ts in by_group.values()], _ARTIFACTS)
    figs = [forest_figure(a), *curve_figures(study, running=True), sparsity_figure(a),
            *weight_figures(study, by_group, arts), grad_figure(study, by_group),
            *picture_figures(study, by_group, arts)]
    return [f for f in figs if f is not None]
