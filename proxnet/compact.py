"""``compact(model)``: remove dead units from dense layers, keeping predictions.

A hidden unit j of a Dense layer can go when

- all its incoming weights are exactly zero (a *dead* unit): its output is the constant
  a(b_j), whose effect c_j·W_next[j, :] is folded into the next Dense layer's bias; or
- all its outgoing weights (row j of the next Dense weight) are exactly zero: its output
  is never used.

Only units between two Dense layers separated by element-wise layers (activations,
dropout) are touched, so the compacted model computes the same function at inference
(up to float rounding in the folded biases).
"""
from __future__ import annotations

import copy

import numpy as np

from .layers import Dense, Dropout
from .layers.activations import _Elementwise
from .optim import get_optimizer


def _next_dense(layers, i):
    """Index of the next Dense layer after ``i`` if only element-wise layers lie between."""
    for k in range(i + 1, len(layers)):
        if isinstance(layers[k], Dense):
            return k
        if not isinstance(layers[k], (_Elementwise, Dropout)):
            return None
    return None


def _between(layers, i, k, values):
    """Apply the element-wise layers strictly between ``i`` and ``k`` at inference."""
    out = values
    for layer in layers[i + 1:k]:
        out = layer.forward(out, training=False)
    return out


def compact(model):
    """Return a smaller copy of ``model`` without dead (or unused) dense units.

    Parameters
    ----------
    model : Sequential

    Returns
    -------
    Sequential
        A new model (the input is not modified) whose ``predict`` gives the same labels
        and whose outputs agree to float rounding. Its ``compaction_`` attribute lists,
        per layer index, how many units were removed.
    """
    new = copy.deepcopy(model)
    layers = new.layers
    removed = {}
    for i, layer in enumerate(layers):
        if not isinstance(layer, Dense):
            continue
        k = _next_dense(layers, i)
        if k is None:
            continue
        nxt = layers[k]
        W, b = layer.params["W"], layer.params.get("b")
        dead = ~np.any(W != 0, axis=0)
        unused = ~np.any(nxt.params["W"] != 0, axis=1)
        drop = dead | unused
        if not drop.any() or drop.all():
            continue
        fold = dead & ~unused
        if fold.any():
            # A dead unit outputs the constant a(b_j) (a(0) without a bias: 0.5 for a sigmoid).
            const = np.zeros((1, W.shape[1]), dtype=W.dtype)
            if b is not None:
                const[0] = b
            const = _between(layers, i, k, const)[0]
            shift = const[fold] @ nxt.params["W"][fold]
            if np.any(shift != 0):
                if "b" not in nxt.params:
                    raise ValueError(f"layer {k}: cannot fold dead units of layer {i} into a Dense without bias")
                nxt.params["b"] = nxt.params["b"] + shift
        keep = ~drop
        layer.params["W"] = np.ascontiguousarray(W[:, keep])
        if b is not None:
            layer.params["b"] = np.ascontiguousarray(b[keep])
        layer.out_features = int(keep.sum())
        nxt.params["W"] = np.ascontiguousarray(nxt.params["W"][keep])
        nxt.in_features = layer.out_features
        layer.zero_grads()
        nxt.zero_grads()
        removed[i] = int(drop.sum())
    new.optimizer = get_optimizer(model.optimizer.get_config())  # fresh state: shapes changed
    new.compaction_ = removed
    return new
