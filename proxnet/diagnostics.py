"""What the diagnostic pictures of a model show, computed from the model (NumPy only): the
first layer's weights, the per-step gradient norms of a training history, the predicted class
over the plane of 2-D inputs, and the fitted function over the range of 1-D inputs.

One home for each computation: a study's trials store exactly these arrays as artifacts
(:mod:`proxnet.studies.trial`), and :mod:`proxnet.plotting` draws them, for a study's report
and for any model trained outside a study.
"""
from __future__ import annotations

import numpy as np

from .layers import Dense

__all__ = ["first_weighted_layer", "first_layer_weights", "grad_norm_series", "decision_grid",
           "fitted_curve", "image_side", "GRID_RESOLUTION", "CURVE_POINTS"]

GRID_RESOLUTION = 200
"""Points per axis of a decision grid."""
CURVE_POINTS = 200
"""Points of a fitted curve."""


def first_weighted_layer(model) -> int | None:
    """The index of the first layer with a weight ``W`` (None when there is none)."""
    return next((i for i, layer in enumerate(model.layers) if "W" in layer.params), None)


def first_layer_weights(model) -> np.ndarray | None:
    """The incoming weights of the first weighted layer, one column per unit, as float32:
    a Dense layer's ``W`` (D, M); a convolution's filters on a single input channel as
    (kh·kw, filters). None for a model whose first weighted layer is neither."""
    i = first_weighted_layer(model)
    if i is None:
        return None
    layer, W = model.layers[i], model.layers[i].params["W"]
    if isinstance(layer, Dense):
        return W.astype(np.float32)
    if W.ndim == 4 and W.shape[1] == 1:
        return W.reshape(W.shape[0], -1).T.astype(np.float32)
    return None


def image_side(n_inputs: int) -> int:
    """The side of a square image of ``n_inputs`` pixels (0 when it is not a square > 1)."""
    s = int(round(float(np.sqrt(n_inputs))))
    return s if s * s == n_inputs and s > 1 else 0


def grad_norm_series(history, name: str | None = None) -> tuple[str, np.ndarray]:
    """``(name, norms)``: the L2 norm of the data-loss gradient of one weight per optimizer
    step, from a :class:`~proxnet.training.callbacks.History` (``history.grad_norms``);
    ``name`` defaults to the first recorded weight (the first layer's, e.g. ``"0.W"``)."""
    norms = getattr(history, "grad_norms", None)
    if not isinstance(norms, dict):
        raise TypeError(f"history: expected a History (the value of fit), got {type(history).__name__}")
    if not norms:
        raise ValueError("history: no gradient norms recorded (train the model with fit first)")
    if name is None:
        name = next(iter(norms))
    if name not in norms:
        raise ValueError(f"name: no gradient norms of {name!r}; recorded: {', '.join(norms)}")
    return name, np.asarray(norms[name], dtype=float).ravel()


def _inputs(X, what: str, n_features: int) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim == 1 and n_features == 1:
        X = X.reshape(-1, 1)
    X = X.reshape(X.shape[0], -1) if X.ndim > 1 else X
    if X.ndim != 2 or X.shape[1] != n_features or X.shape[0] == 0:
        raise ValueError(f"{what}: expected {n_features}-D inputs of shape (N, {n_features}), "
                         f"got an array of shape {np.shape(X)}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{what}: inputs must be finite")
    return X


def _classes(pred) -> np.ndarray:
    pred = np.asarray(pred)
    if pred.ndim == 2:      # a regression loss (mse) on classes: the class of the largest output
        pred = pred.argmax(axis=1) if pred.shape[1] > 1 else (pred[:, 0] > 0.5)
    return pred


def decision_grid(model, X, *, resolution: int = GRID_RESOLUTION,
                  pad: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """The class the model predicts over the plane of 2-D inputs ``X`` (N, 2): ``(grid,
    extent)``, ``grid`` (resolution, resolution) int16 with ``grid[i, j]`` the class at
    ``y = ys[i]``, ``x = xs[j]`` (``np.meshgrid`` order), over the inputs' range widened by
    ``pad`` of it on each side; ``extent`` = ``[xmin, xmax, ymin, ymax]``. Models with a
    regression loss on classes predict the class of their largest output."""
    X = _inputs(X, "X", 2)
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or \
            not 2 <= resolution <= 2000:
        raise ValueError(f"resolution: expected an int in [2, 2000], got {resolution!r}")
    lo, hi = X.min(axis=0), X.max(axis=0)
    margin = pad * (hi - lo)
    lo, hi = lo - margin, hi + margin
    g = int(resolution)
    xs, ys = np.linspace(lo[0], hi[0], g), np.linspace(lo[1], hi[1], g)
    dtype = X.dtype if np.issubdtype(X.dtype, np.floating) else model.dtype
    points = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2).astype(dtype)
    grid = _classes(model.predict(points)).reshape(g, g).astype(np.int16)
    return grid, np.array([lo[0], hi[0], lo[1], hi[1]], dtype=np.float64)


def fitted_curve(model, X, *, points: int = CURVE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """The function a model with one input fits: ``(x, y)``, ``points`` inputs evenly spaced
    over the range of ``X`` (any shape holding 1-D inputs, e.g. the training and test inputs
    concatenated) and the model's first output there, both float64."""
    X = np.asarray(X)
    flat = X.reshape(-1)
    if flat.size == 0 or not np.all(np.isfinite(flat)):
        raise ValueError(f"X: expected finite 1-D inputs, got an array of shape {X.shape}")
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or not 2 <= points <= 100_000:
        raise ValueError(f"points: expected an int in [2, 100000], got {points!r}")
    dtype = X.dtype if np.issubdtype(X.dtype, np.floating) else model.dtype
    xs = np.linspace(float(flat.min()), float(flat.max()), int(points)).reshape(-1, 1).astype(dtype)
    y = np.asarray(model.predict(xs))
    y = y[:, 0] if y.ndim == 2 else y
    return xs[:, 0].astype(np.float64), y.astype(np.float64)
