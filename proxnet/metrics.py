"""Metrics: accuracy, MSE, SSE, the metric of a model's outputs, sparsity (exact zeros), dead
units, effective parameter count."""
from __future__ import annotations

import numpy as np


def accuracy(y_true, y_pred) -> float:
    """Fraction of equal labels. y_true, y_pred: (N,) int labels."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_pred: expected shape {y_true.shape}, got {y_pred.shape}")
    return float(np.mean(y_true == y_pred)) if y_true.size else float("nan")


def _errors(y_true, y_pred) -> np.ndarray:
    """y_pred − y_true in float64, (N,) and (N, 1) treated alike."""
    a = np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1)
    b = np.asarray(y_pred, dtype=np.float64).reshape(len(y_pred), -1)
    if a.shape != b.shape:
        raise ValueError(f"y_pred: expected shape {a.shape}, got {b.shape}")
    return b - a


def mean_squared_error(y_true, y_pred) -> float:
    """mean[(y_pred − y_true)²] over all entries; (N,) and (N, 1) are treated alike."""
    return float(np.mean(_errors(y_true, y_pred) ** 2))


def sum_squared_error(y_true, y_pred) -> float:
    """Σ (y_pred − y_true)² (the curve-fitting experiments' test error)."""
    return float(np.sum(_errors(y_true, y_pred) ** 2))


def output_metrics(loss, outputs, targets) -> dict:
    """``{"accuracy": ...}`` for class targets, else ``{"mse": ...}``, from a model's raw
    outputs; labels are decoded by ``loss`` (:meth:`proxnet.losses.Loss.labels` /
    :meth:`~proxnet.losses.Loss.decide`)."""
    if loss.classifies(targets):
        return {"accuracy": accuracy(loss.labels(targets), loss.decide(outputs))}
    return {"mse": mean_squared_error(targets, outputs)}


def nonzeros(w: np.ndarray) -> int:
    """Entries of ``w`` that are not exactly 0.0 (−0.0 is zero; NaN is not).

    ``np.count_nonzero(w != 0)``: the same count as ``np.count_nonzero(w)``, about 3.7 times
    faster on float weights (NumPy's vectorized comparison, then a count of bytes: 16 µs
    against 59 µs for a 784 × 128 float32 matrix, AMD EPYC)."""
    return int(np.count_nonzero(w != 0))


def zero_fraction(w: np.ndarray) -> float:
    """Fraction of entries that are exactly 0.0 (not merely small)."""
    return float(1.0 - nonzeros(w) / w.size) if w.size else 0.0


def dead_units(W: np.ndarray, out_axis: int, nonzero: int | None = None) -> np.ndarray:
    """Boolean mask of units whose incoming weights are all exactly zero.

    W : weight array; ``out_axis`` is the axis of output units (Dense (D, M): 1;
    Conv2D (F, C, kh, kw): 0). Returns shape (W.shape[out_axis],). ``nonzero``: the
    :func:`nonzeros` of W when already counted. With fewer zeros than one unit has incoming
    weights, no unit can be dead, and the mask is not computed.
    """
    units = W.shape[out_axis]
    zeros = W.size - (nonzeros(W) if nonzero is None else nonzero)
    if units == 0 or zeros < W.size // units:
        return np.zeros(units, bool)
    axes = tuple(a for a in range(W.ndim) if a != out_axis)
    return ~np.any(W != 0, axis=axes)


def sparsity_report(model) -> dict:
    """Sparsity of every weight of a model, computed from exact zeros.

    Returns a flat dict: ``"zeros/<layer>.<param>"`` (fraction of exact zeros per
    weight), ``"zeros/total"`` (over all weights), ``"dead/<layer>"`` (count of units
    with all incoming weights zero), ``"dead/total"``, and ``"effective_params"`` (the
    number of non-zero parameters, biases included, after dropping dead units' biases).
    """
    rep: dict = {}
    zeros = total = eff = dead_total = 0
    for i, layer in enumerate(model.layers):
        dead = None
        for key in layer.weight_names:
            W = layer.params[key]
            nz = nonzeros(W)
            rep[f"zeros/{i}.{key}"] = 1.0 - nz / W.size
            zeros += W.size - nz
            total += W.size
            eff += nz
            out_axis = layer.unit_axes.get(key, (W.ndim - 1, 0))[0]
            dead = dead_units(W, out_axis, nz)
            rep[f"dead/{i}"] = n_dead = int(dead.sum())
            dead_total += n_dead
        for key, v in layer.params.items():
            if key in layer.weight_names:
                continue
            live = v if dead is None or v.shape != dead.shape else v[~dead]
            eff += nonzeros(live)
    rep["zeros/total"] = zeros / total if total else 0.0
    rep["dead/total"] = dead_total
    rep["effective_params"] = eff
    return rep
