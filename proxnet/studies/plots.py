"""The report's figures, drawn with matplotlib's Agg canvas.

Every function takes plain arrays and labels (no store access) and returns a
:class:`matplotlib.figure.Figure` attached to an Agg canvas. The panels of the model
pictures (first-layer weights, gradient magnitudes, decision boundaries, fitted curves) are
drawn by the public drawers of :mod:`proxnet.plotting`, the same that draw them for models
trained outside studies; this module lays them out, one panel per method and strength. Figures are built with the
object-oriented API (no ``pyplot``): nothing global is switched, no window opens, no figure
is kept alive by a figure manager, so the report works on a headless machine and inside a
notebook alike. :func:`to_data_uri` renders a figure as a base64 PNG ``data:`` URI.
"""
from __future__ import annotations

import base64
import io
import math
import warnings
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .. import plotting

MAX_UNITS = plotting.MAX_UNITS          # first-layer units shown per strength
PANEL_W, PANEL_H = 3.2, 2.4
MAX_WIDTH = 15.0


@dataclass
class Band:
    """A curve across seeds: x, the mean and std (ddof=1; 0 where fewer than 2 seeds) at each
    x, and how many seeds have a value there."""
    x: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    count: np.ndarray


def band(series, *, bands: bool = True) -> Band:
    """Mean ± std across seeds of curves given as ``(x, y)`` pairs, aligned on x (a seed that
    stopped early counts only where it has values)."""
    series = [(np.asarray(x, dtype=float), np.asarray(y, dtype=float)) for x, y in series]
    xs = np.unique(np.concatenate([x for x, _ in series]))
    M = np.full((len(series), xs.size), np.nan)
    for i, (x, y) in enumerate(series):
        M[i, np.searchsorted(xs, x)] = y
    count = np.sum(np.isfinite(M), axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(M, axis=0)
        std = np.nanstd(M, axis=0, ddof=1) if bands and len(series) > 1 else np.zeros(xs.size)
    std = np.where(count >= 2, std, 0.0)
    return Band(xs, mean, std, count)


def _figure(nrows, ncols, *, panel=(PANEL_W, PANEL_H), sharey=False, left=0.75, right=0.15,
            top=0.4, bottom=0.5, wgap=0.55, hgap=0.7):
    """A grid of panels laid out by fixed margins in inches (no layout engine: it would cost a
    second full draw per figure)."""
    pw, ph = panel
    width = left + ncols * pw + (ncols - 1) * wgap + right
    if width > MAX_WIDTH:                      # shrink panels, keep margins
        pw = (MAX_WIDTH - left - right - (ncols - 1) * wgap) / ncols
        width = MAX_WIDTH
    height = top + nrows * ph + (nrows - 1) * hgap + bottom
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height,
                        top=1 - top / height, wspace=wgap / pw, hspace=hgap / ph)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=sharey)
    return fig, axes


def _methods(items):
    return list(dict.fromkeys(it["method"] for it in items))


def _strength_name(method):
    return "rate" if "dropout" in method.lower() else "λ"


def _strength_text(method, strength):
    return "no strength" if strength is None else f"{_strength_name(method)}={strength:g}"


def _colors(n):
    """n colours from viridis (dark = weak, light = strong), or C0 for one line."""
    from matplotlib import colormaps
    if n == 1:
        return ["C0"]
    cmap = colormaps["viridis"]
    return [cmap(0.9 * i / (n - 1)) for i in range(n)]


def _draw_band(ax, b: Band, color, label=None, linestyle="-", bands=True, max_points=None,
               alpha=1.0, linewidth=1.4):
    x, m, s = plotting.thin(b.x, b.mean, b.std, max_points=max_points)
    ax.plot(x, m, color=color, linestyle=linestyle, label=label, linewidth=linewidth, alpha=alpha)
    if bands and np.any(s > 0):
        ax.fill_between(x, m - s, m + s, color=color, alpha=0.2, linewidth=0)


def _hide_unused(axes, used):
    for ax in axes.flat[used:]:
        ax.set_visible(False)


def _per_method(items, panel):
    """One panel per method, three to a row: ``(fig, [(ax, method, its items)])``, the
    panels left over hidden."""
    methods = _methods(items)
    ncols = min(3, len(methods))
    fig, axes = _figure(math.ceil(len(methods) / ncols), ncols, panel=panel)
    _hide_unused(axes, len(methods))
    return fig, [(ax, m, [it for it in items if it["method"] == m]) for ax, m in zip(axes.flat, methods)]


def _log_if_positive(ax, *arrays):
    vals = np.concatenate([np.ravel(a) for a in arrays]) if arrays else np.array([])
    vals = vals[np.isfinite(vals)]
    if vals.size and np.all(vals > 0):
        ax.set_yscale("log")


VERDICT_COLORS = {"better": "#1b7837", "worse": "#b2182b"}
NEUTRAL = "0.35"


def _group_colors(n):
    """n distinguishable colours: tab10, then tab20 for more groups."""
    from matplotlib import colormaps
    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def forest(panels, *, xlabel) -> Figure:
    """Paired differences with their CIs, one row per group, one panel per experiment.

    panels: ``[{"title", "rows": [{"label", "diff", "low", "high", "verdict", "note"}]}]``;
    a row's colour follows its verdict (better green, worse red, otherwise grey); ``note``
    (e.g. "p=0.004") is written at the right; rows without a difference show the note only."""
    heights = [max(1, len(p["rows"])) for p in panels]
    fig = Figure(figsize=(9.5, 0.6 + sum(0.32 * h + 0.55 for h in heights)))
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(len(panels), 1, height_ratios=heights, left=0.3, right=0.82,
                            top=1 - 0.25 / fig.get_figheight(), bottom=0.5 / fig.get_figheight(),
                            hspace=0.9 / max(1.0, sum(heights) / len(heights)))
    for i, p in enumerate(panels):
        ax = fig.add_subplot(grid[i, 0])
        rows = p["rows"]
        ys = np.arange(len(rows))[::-1]
        for y, r in zip(ys, rows):
            color = VERDICT_COLORS.get(r.get("verdict"), NEUTRAL)
            if np.isfinite(r["low"]) and np.isfinite(r["high"]):
                ax.plot([r["low"], r["high"]], [y, y], color=color, linewidth=2.2,
                        solid_capstyle="butt")
            if np.isfinite(r["diff"]):
                ax.plot([r["diff"]], [y], "o", color=color, markersize=6)
            ax.annotate(r.get("note", ""), xy=(1.01, y), xycoords=("axes fraction", "data"),
                        va="center", fontsize=8, color=color)
        ax.axvline(0, color="0.2", linewidth=0.8)
        ax.set_yticks(ys)
        ax.set_yticklabels([r["label"] for r in rows], fontsize=8)
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.set_title(p["title"], fontsize=9, loc="left")
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="x", alpha=0.3)
        if i == len(panels) - 1:
            ax.set_xlabel(xlabel, fontsize=9)
    return fig


def overlaid(curves, *, ylabel, xlabel="epoch", log=False, zero_line=False) -> Figure:
    """All groups on one axes (:func:`draw_overlaid`), legend at the right.

    curves: ``[{"label", "band": Band, "dashed": Band | None}]``."""
    fig = Figure(figsize=(11.0, 4.4))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.07, 0.12, 0.66, 0.83))
    draw_overlaid(ax, curves, ylabel=ylabel, xlabel=xlabel, log=log, zero_line=zero_line)
    return fig


def draw_overlaid(ax, curves, *, ylabel, xlabel="epoch", log=False, zero_line=False):
    """On ``ax``: a solid line with a ± std band per group, and an optional dashed companion
    line in the same colour (e.g. train beside test), legend at the right of the axes; a
    curve with ``"running": True`` (a trial still training) is drawn thin and light, dotted,
    and labelled "running". Returns ``ax``.

    curves: ``[{"label", "band": Band, "dashed": Band | None, "running": bool}]``."""
    for c, color in zip(curves, _group_colors(len(curves))):
        if c.get("running"):
            _draw_band(ax, c["band"], color, f"{c['label']} (running)", ":", bands=False,
                       alpha=0.6, linewidth=1.0)
            continue
        _draw_band(ax, c["band"], color, c["label"])
        if c.get("dashed") is not None:
            _draw_band(ax, c["dashed"], color, None, "--", bands=False)
    if log:
        _log_if_positive(ax, *[c["band"].mean for c in curves])
    if zero_line:
        ax.axhline(0, color="0.5", linewidth=0.6)
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.3)
    if curves:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
                  ncol=1 if len(curves) <= 18 else 2)
    return ax


def grad_norms(items, *, max_points=2000) -> Figure:
    """Gradient magnitude per step, one panel per method, one line per strength (drawn by
    :func:`proxnet.plotting.draw_grad_norms`).

    items: ``[{"method", "strength", "steps", "norms"}]``."""
    fig, panels = _per_method(items, (4.2, 2.8))
    for ax, m, mine in panels:
        plotting.draw_grad_norms(ax, [(_strength_text(m, it["strength"]), it["steps"], it["norms"])
                                      for it in mine], colors=_colors(len(mine)),
                                 max_points=max_points)
        ax.set_title(m, fontsize=10)
        ax.set_ylabel("‖∂L/∂W1‖", fontsize=8)
    return fig


def sparsity_scatter(points, *, methods, ylabel="final test accuracy", log=False) -> Figure:
    """Trials as points: x = final fraction of zero weights, y = final test metric.

    points: ``[(method, zeros_total, y)]``; methods: their order (colours C0, C1, ...)."""
    fig, axes = _figure(1, 1, panel=(5.6, 3.6), left=0.8, bottom=0.6, top=0.2)
    ax = axes[0, 0]
    markers = "osD^v<>pP*Xh"
    for i, m in enumerate(methods):
        pts = np.array([(x, y) for mm, x, y in points if mm == m], dtype=float).reshape(-1, 2)
        if len(pts):
            ax.scatter(pts[:, 0], pts[:, 1], s=28, alpha=0.75, color=f"C{i % 10}",
                       marker=markers[(i // 10) % len(markers)], label=m, edgecolors="none")
    if log:
        _log_if_positive(ax, np.array([p[2] for p in points]))
    ax.set_xlabel("zeros_total (fraction of weights exactly 0)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return fig


def weight_grid(rows, *, side: int, max_units: int = MAX_UNITS) -> Figure:
    """First-layer weights as images (:func:`proxnet.plotting.draw_weight_grid`): one row of
    tiles per entry, up to ``max_units`` units, as one mosaic image (one axes, which is fast).

    rows: ``[(label, seed, W)]`` with W of shape (D, M), D = side²."""
    ncols = min(max_units, max(W.shape[1] for _, _, W in rows))
    cell = 0.62
    left, width = 1.7, cell * ncols
    fig = Figure(figsize=(left + width + 0.1, cell * len(rows) + 0.1))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((left / (left + width + 0.1), 0.05 / (cell * len(rows) + 0.1),
                       width / (left + width + 0.1), cell * len(rows) / (cell * len(rows) + 0.1)))
    plotting.draw_weight_grid(ax, [(f"{label}\nseed {seed}", W) for label, seed, W in rows],
                              shape=(side, side), max_units=max_units)
    return fig


def decision_boundaries(panels) -> Figure:
    """Predicted class over a grid, with training points; rows = methods, columns = strengths
    (each panel drawn by :func:`proxnet.plotting.draw_decision_boundary`, colours shared).

    panels: ``[{"label", "method", "seed", "grid" (G, G) int, "extent" [xmin, xmax, ymin, ymax],
    "X" (N, 2) or None, "y" (N,) or None}]``. ``grid[i, j]`` is the prediction at
    ``y = ys[i]``, ``x = xs[j]`` (``np.meshgrid`` order)."""
    methods = _methods(panels)
    rows = [[p for p in panels if p["method"] == m] for m in methods]
    ncols = max(len(r) for r in rows)
    k = 1 + int(max(max(np.max(p["grid"]) for p in panels),
                    max((np.max(p["y"]) for p in panels if p["y"] is not None and len(p["y"])), default=0)))
    fig, axes = _figure(len(rows), ncols, panel=(2.8, 2.8))
    for i, row in enumerate(rows):
        for j, p in enumerate(row):
            plotting.draw_decision_boundary(axes[i, j], p["grid"], p["extent"], p["X"], p["y"],
                                            n_classes=k, title=f"{p['label']} (seed {p['seed']})")
        for ax in axes[i, len(row):]:
            ax.set_visible(False)
    return fig


def fitted_curves(fits) -> Figure:
    """One panel per method: training points and the fitted curve of each strength (drawn by
    :func:`proxnet.plotting.draw_fitted_curves`).

    fits: ``[{"method", "strength", "seed", "x" (P,), "y" (P,), "X" (N,) or (N, 1) or None,
    "Y" (N,) or None}]``."""
    fig, panels = _per_method(fits, (4.2, 3.0))
    for ax, m, mine in panels:
        points = next((f for f in mine if f["X"] is not None and f["Y"] is not None
                       and np.size(f["X"]) == np.size(f["Y"])), None)
        plotting.draw_fitted_curves(
            ax, [(_strength_text(m, f["strength"]), f["x"], f["y"]) for f in mine],
            None if points is None else points["X"], None if points is None else points["Y"],
            colors=_colors(len(mine)))
        ax.set_title(m, fontsize=10)
    return fig


def to_data_uri(fig: Figure, *, dpi: int = 96) -> str:
    """Render a figure as ``data:image/png;base64,...``."""
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
