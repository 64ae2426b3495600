"""Diagnostic plots of a model and its training, on matplotlib axes (matplotlib is the lab
extra's): the first layer's weights as images, the gradient magnitude per step, decision
boundaries of 2-D data and the fitted curve of 1-D data.

Two levels, one home for each picture:

- ``plot_*(model or history, data, ax=None)``: compute what to draw from a model trained
  anywhere (:mod:`proxnet.diagnostics`) and draw it; new axes (``pyplot``, so a notebook
  shows them inline) when ``ax`` is None; each returns the axes;
- ``draw_*(ax, arrays...)``: draw given arrays on given axes. A study's report draws its
  figures with these same functions, from the arrays its trials stored
  (:mod:`proxnet.studies.plots`).

>>> from proxnet.architectures import mlp
>>> from proxnet.data import load_dataset
>>> from proxnet import plotting
>>> data = load_dataset("digits")
>>> model = mlp([64, 32, 10], seed=0)
>>> history = model.fit(*data.train, epochs=2, seed=0, verbose=False)
>>> ax = plotting.plot_weights(model)              # 32 units as 8x8 images
>>> ax = plotting.plot_grad_norms(history)         # ||dL/dW|| of the first layer per step
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from . import diagnostics

__all__ = ["plot_weights", "plot_grad_norms", "plot_decision_boundary", "plot_fitted_curve",
           "draw_weight_grid", "draw_grad_norms", "draw_decision_boundary", "draw_fitted_curves",
           "thin", "MAX_UNITS"]

MAX_UNITS = 16
"""Units per row of a weight grid."""


# ---------------------------------------------------------------------- helpers

def _axes(ax, figsize):
    if ax is None:
        import matplotlib.pyplot as plt  # deferred: a figure manager only when asked for new axes
        _, ax = plt.subplots(figsize=figsize)
        return ax
    if not all(hasattr(ax, a) for a in ("plot", "imshow", "set_title")):
        raise TypeError(f"ax: expected matplotlib Axes, got {type(ax).__name__}")
    return ax


def _model(model):
    if not hasattr(model, "layers") or not hasattr(model, "predict"):
        raise TypeError(f"model: expected a proxnet Sequential, got {type(model).__name__}")
    return model


def thin(x, *ys, max_points: int | None = None):
    """``x`` and each ``y`` averaged in blocks of consecutive points so that at most
    ``max_points`` remain (unchanged when they are fewer or ``max_points`` is None)."""
    x = np.asarray(x, dtype=float)
    ys = [np.asarray(y, dtype=float) for y in ys]
    if not max_points or x.size <= max_points:
        return (x, *ys)
    k = int(math.ceil(x.size / max_points))
    n = (x.size // k) * k
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return tuple(np.nanmean(a[:n].reshape(-1, k), axis=1) for a in (x, *ys))


def _class_colors(k):
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap
    base = colormaps["tab10"]
    return ListedColormap([base(i % 10) for i in range(k)])


def _positive(*arrays) -> bool:
    vals = np.concatenate([np.ravel(a) for a in arrays]) if arrays else np.array([])
    vals = vals[np.isfinite(vals)]
    return bool(vals.size) and bool(np.all(vals > 0))


# ---------------------------------------------------------------------- array level

def draw_weight_grid(ax, rows, *, shape, max_units: int = MAX_UNITS):
    """Incoming weights as images: one row of tiles per ``(label, W)`` in ``rows`` (W of
    shape (D, M), D = h·w for ``shape = (h, w)``), its first ``max_units`` units, each scaled
    to its own largest |w| (red > 0, blue < 0, white = 0); all-zero (dead) units are grey and
    marked "dead". Drawn as one mosaic image on ``ax``; returns ``ax``."""
    from matplotlib import colormaps
    from matplotlib.patches import Rectangle
    h, w = shape
    ncols = min(max_units, max(W.shape[1] for _, W in rows))
    gap = max(1, min(h, w) // 8)
    sy, sx = h + gap, w + gap
    mosaic = np.full((len(rows) * sy - gap, ncols * sx - gap), np.nan)
    dead = []
    for i, (_, W) in enumerate(rows):
        if W.shape[0] != h * w:
            raise ValueError(f"rows: weights with {W.shape[0]} inputs are not {h}x{w} images")
        for j in range(min(ncols, W.shape[1])):
            tile = np.asarray(W[:, j], dtype=float).reshape(h, w)
            a = float(np.max(np.abs(tile)))
            if a == 0.0:
                dead.append((i, j))
                continue
            mosaic[i * sy:i * sy + h, j * sx:j * sx + w] = tile / a
    cmap = colormaps["RdBu_r"].with_extremes(bad="white")
    ax.imshow(mosaic, cmap=cmap, vmin=-1, vmax=1, interpolation="nearest", aspect="equal")
    for i, j in dead:
        ax.add_patch(Rectangle((j * sx - 0.5, i * sy - 0.5), w, h, color="0.85", linewidth=0))
        ax.text(j * sx + w / 2 - 0.5, i * sy + h / 2 - 0.5, "dead", ha="center", va="center",
                fontsize=6, color="0.35")
    ax.set_xticks([])
    ax.set_yticks([i * sy + h / 2 - 0.5 for i in range(len(rows))])
    ax.set_yticklabels([label for label, _ in rows], fontsize=8)
    ax.tick_params(length=0)
    for sp in ax.spines.values():
        sp.set_visible(False)
    return ax


def draw_grad_norms(ax, series, *, colors=None, max_points: int | None = 2000, log: bool = True):
    """Gradient magnitude per optimizer step: one line per ``(label, steps, norms)`` in
    ``series`` (long runs averaged in blocks down to ``max_points``), log scale when every
    value is positive and ``log``; returns ``ax``."""
    colors = colors or [f"C{i % 10}" for i in range(len(series))]
    drawn = []
    for (label, steps, norms), color in zip(series, colors):
        x, y = thin(steps, norms, max_points=max_points)
        ax.plot(x, y, color=color, label=label, linewidth=1.4)
        drawn.append(y)
    if log and _positive(*drawn):
        ax.set_yscale("log")
    ax.set_xlabel("step", fontsize=8)
    ax.set_ylabel("‖∂L/∂W‖", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    if any(label for label, _, _ in series):
        ax.legend(fontsize=7)
    return ax


def draw_decision_boundary(ax, grid, extent, X=None, y=None, *, n_classes: int | None = None,
                           title: str | None = None):
    """The predicted class over the plane (``grid`` from :func:`proxnet.diagnostics.decision_grid`
    over ``extent`` = [xmin, xmax, ymin, ymax]) shaded, with the points ``X`` (N, 2) coloured
    by their class ``y``; ``n_classes`` fixes the colours across panels; returns ``ax``."""
    grid = np.asarray(grid)
    ys = None if y is None else np.asarray(y).ravel()
    k = n_classes or 1 + int(max(np.max(grid), np.max(ys) if ys is not None and ys.size else 0))
    cmap = _class_colors(k)
    ext = [float(v) for v in np.ravel(extent)[:4]]
    ax.imshow(grid, origin="lower", extent=ext, cmap=cmap, vmin=-0.5, vmax=k - 0.5, alpha=0.35,
              interpolation="nearest", aspect="auto")
    if X is not None and ys is not None:
        X = np.asarray(X)
        if X.ndim == 2 and X.shape[1] >= 2 and X.shape[0] == ys.size:
            ax.scatter(X[:, 0], X[:, 1], c=ys, cmap=cmap, vmin=-0.5, vmax=k - 0.5, s=8,
                       edgecolors="k", linewidths=0.3)
    ax.set_xlim(ext[0], ext[1])
    ax.set_ylim(ext[2], ext[3])
    if title:
        ax.set_title(title, fontsize=8)
    ax.tick_params(labelsize=6)
    return ax


def draw_fitted_curves(ax, curves, X=None, Y=None, *, colors=None):
    """Fitted functions of one input: a line per ``(label, x, y)`` in ``curves``, with the
    training points ``(X, Y)`` in black when given; returns ``ax``."""
    if X is not None and Y is not None:
        X, Y = np.asarray(X, dtype=float), np.asarray(Y, dtype=float)
        if X.size == Y.size:
            ax.scatter(X.ravel(), Y.ravel(), s=14, color="k", zorder=3, label="train")
    colors = colors or [f"C{i % 10}" for i in range(len(curves))]
    for (label, x, y), color in zip(curves, colors):
        x, y = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
        order = np.argsort(x)
        ax.plot(x[order], y[order], color=color, linewidth=1.4, label=label)
    ax.set_xlabel("x", fontsize=8)
    ax.set_ylabel("y", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return ax


# ---------------------------------------------------------------------- model level

def plot_weights(model, ax=None, *, max_units: int = 32, per_row: int = 8, image_shape=None):
    """The incoming weights of the first layer's units as images (Dense: each unit's D
    inputs as an h×w image, square by default; a convolution on one channel: its filters),
    ``per_row`` units per row, at most ``max_units``; returns the axes."""
    W = diagnostics.first_layer_weights(_model(model))
    if W is None:
        raise ValueError("model: its first weighted layer is neither Dense nor a convolution on "
                         "one input channel; no weight images to draw")
    for name, v in (("max_units", max_units), ("per_row", per_row)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name}: expected a positive int, got {v!r}")
    shape = _image_shape(W.shape[0], image_shape)
    n = min(max_units, W.shape[1])
    rows = [(f"units {a}–{min(a + per_row, n) - 1}", W[:, a:min(a + per_row, n)])
            for a in range(0, n, per_row)]
    ax = _axes(ax, (min(12.0, 0.9 * min(per_row, n) + 1.2), 0.9 * len(rows) + 0.4))
    draw_weight_grid(ax, rows, shape=shape, max_units=per_row)
    ax.set_title(f"first-layer weights (layer {diagnostics.first_weighted_layer(model)}, "
                 f"{n} of {W.shape[1]} units)", fontsize=9)
    return ax


def _image_shape(d: int, image_shape):
    if image_shape is None:
        side = diagnostics.image_side(d)
        if not side:
            raise ValueError(f"image_shape: the first layer's {d} inputs are not a square image; "
                             f"pass image_shape=(h, w) with h*w = {d}")
        return side, side
    ok = (isinstance(image_shape, (tuple, list)) and len(image_shape) == 2
          and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in image_shape))
    if not ok or image_shape[0] * image_shape[1] != d:
        raise ValueError(f"image_shape: expected (h, w) with h*w = {d}, got {image_shape!r}")
    return tuple(image_shape)


def plot_grad_norms(history, ax=None, *, names=None, max_points: int | None = 2000):
    """The L2 norm of the data-loss gradient per optimizer step (``history.grad_norms``,
    recorded by ``fit``) of the weights ``names`` (default: the first layer's), log scale;
    returns the axes."""
    names = [None] if names is None else ([names] if isinstance(names, str) else list(names))
    series = []
    for name in names:
        name, norms = diagnostics.grad_norm_series(history, name)
        series.append((name, np.arange(1, norms.size + 1, dtype=float), norms))
    ax = _axes(ax, (5.0, 3.2))
    return draw_grad_norms(ax, series, max_points=max_points)


def plot_decision_boundary(model, X, y=None, ax=None, *, resolution: int = diagnostics.GRID_RESOLUTION):
    """The class the model predicts over the plane of the 2-D inputs ``X`` (shaded), with
    the points coloured by their class ``y`` when given; returns the axes."""
    grid, extent = diagnostics.decision_grid(_model(model), X, resolution=resolution)
    ax = _axes(ax, (4.0, 4.0))
    return draw_decision_boundary(ax, grid, extent, np.asarray(X).reshape(len(X), -1), y)


def plot_fitted_curve(model, X, y=None, ax=None, *, points: int = diagnostics.CURVE_POINTS,
                      label: str = "model"):
    """The function the model fits over the range of the 1-D inputs ``X``, with the points
    ``(X, y)`` when ``y`` is given; returns the axes."""
    x, fx = diagnostics.fitted_curve(_model(model), X, points=points)
    ax = _axes(ax, (5.0, 3.2))
    return draw_fitted_curves(ax, [(label, x, fx)], X if y is not None else None, y)
