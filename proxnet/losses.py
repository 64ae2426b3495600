"""Fused, numerically stable losses: ``loss, doutputs = loss_fn(outputs, targets)``.

Every loss is the mean over the batch (over all elements for element-wise losses, as
PyTorch's ``reduction="mean"``) and returns the gradient of that mean with respect to
the network outputs, so the model never differentiates a softmax or sigmoid on its own.

==================================  ====================================================
name (aliases)                       formula, outputs (N, K)
==================================  ====================================================
softmax_cross_entropy (ce)           −mean_n log softmax(z_n)[y_n]; int labels or one-hot
binary_cross_entropy_with_logits     mean[max(z,0) − z·t + log(1 + e^{−|z|})], t in [0, 1]
  (bce_logits)
binary_cross_entropy (bce)           −mean[t·log p + (1−t)·log(1−p)] on sigmoid outputs p,
                                     with log clamped at −100 as PyTorch does
mse                                  mean[(o − t)²]; int class labels become one-hot
==================================  ====================================================
"""
from __future__ import annotations

import numpy as np

from .functional.activations import sigmoid, softmax
from .registry import Registry
from .validation import check_labels

LOSSES = Registry("loss")


def _one_hot(labels, n_classes, dtype):
    out = np.zeros((labels.shape[0], n_classes), dtype=dtype)
    out[np.arange(labels.shape[0]), labels] = 1
    return out


def _check_outputs(outputs):
    if outputs.ndim != 2:
        raise ValueError(f"outputs: expected shape (N, K), got {outputs.shape}")
    if not np.isfinite(outputs).all():
        raise FloatingPointError("outputs: the network produced NaN or inf values")


def _targets_like(outputs, targets, name="targets"):
    """Float targets of the outputs' shape; (N,) targets are accepted for (N, 1) outputs."""
    t = np.asarray(targets)
    if t.ndim == 1 and outputs.shape[1] == 1:
        t = t.reshape(-1, 1)
    if t.shape != outputs.shape:
        raise ValueError(f"{name}: expected shape {outputs.shape} to match the outputs, got {t.shape}")
    if t.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected numbers, got dtype {t.dtype}")
    t = t.astype(outputs.dtype, copy=False)
    if not np.isfinite(t).all():
        raise ValueError(f"{name}: contains NaN or inf values")
    return t


class Loss:
    """A fused loss. ``kind`` is "multiclass", "binary" or "regression" (what the outputs mean).

    Label decoding lives here too: :meth:`classifies` says whether targets are class labels,
    :meth:`labels` turns targets into integer labels and :meth:`decide` outputs into
    predicted labels, so that every metric decodes labels the same way."""

    name = "loss"
    kind = "regression"

    def __call__(self, outputs, targets):
        raise NotImplementedError

    def predict_proba(self, outputs):
        """Class probabilities from raw network outputs (classification losses)."""
        raise ValueError(f"{self.name}: outputs are not probabilities")

    def classifies(self, targets) -> bool:
        """True for a classification loss, or for integer class labels (N,) (MSE on labels)."""
        t = np.asarray(targets)
        return self.kind in ("multiclass", "binary") or (t.ndim == 1 and t.dtype.kind in "iub")

    def labels(self, targets) -> np.ndarray:
        """Integer class labels from int labels, one-hot rows, or binary 0/1 targets."""
        t = np.asarray(targets)
        if t.ndim == 2 and t.shape[1] > 1:
            return t.argmax(axis=1)
        if self.kind == "binary":
            return (t.reshape(-1) > 0.5).astype(np.intp)
        return t.reshape(-1)

    def decide(self, outputs) -> np.ndarray:
        """Predicted class labels (N,) from raw outputs (N, K): the arg-max, or a 0.5
        threshold on the probability of a single binary output."""
        if self.kind == "binary" and outputs.shape[1] == 1:
            return (self.predict_proba(outputs)[:, 0] > 0.5).astype(np.intp)
        return outputs.argmax(axis=1)

    def __repr__(self):
        return f"{type(self).__name__}()"


@LOSSES.register("softmax_cross_entropy")
class SoftmaxCrossEntropy(Loss):
    """Softmax + cross-entropy, fused with log-sum-exp.

    outputs (N, K) logits; targets (N,) int labels in [0, K) or (N, K) one-hot / soft
    labels. loss = −(1/N) Σ_n Σ_k t_nk log softmax(z_n)_k; d/dz = (softmax(z) − t)/N.
    """

    name = "softmax_cross_entropy"
    kind = "multiclass"

    def __call__(self, outputs, targets):
        _check_outputs(outputs)
        N, K = outputs.shape
        shifted = outputs - outputs.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        sums = exp.sum(axis=1, keepdims=True)
        log_sums = np.log(sums)
        t = np.asarray(targets)
        if t.ndim == 1:
            y = check_labels(t, "targets", K, N)
            loss = float(log_sums.sum() - shifted[np.arange(N), y].sum()) / N
            dz = exp
            dz /= sums
            dz[np.arange(N), y] -= 1
        else:
            t = _targets_like(outputs, t)
            loss = float(-(t * (shifted - log_sums)).sum()) / N
            dz = exp / sums * t.sum(axis=1, keepdims=True) - t
        dz /= N
        return loss, dz

    def predict_proba(self, outputs):
        return softmax(outputs)


@LOSSES.register("binary_cross_entropy_with_logits")
class BinaryCrossEntropyWithLogits(Loss):
    """Sigmoid + binary cross-entropy, fused and stable.

    outputs (N, K) logits z; targets t in [0, 1] of the same shape ((N,) accepted for K = 1).
    loss = mean[max(z, 0) − z·t + log(1 + e^{−|z|})]; d/dz = (σ(z) − t)/(N·K).
    """

    name = "binary_cross_entropy_with_logits"
    kind = "binary"

    def __call__(self, outputs, targets):
        _check_outputs(outputs)
        t = _targets_like(outputs, targets)
        z = outputs
        loss = float((np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))).mean())
        return loss, (sigmoid(z) - t) / z.size

    def predict_proba(self, outputs):
        return sigmoid(outputs)


@LOSSES.register("binary_cross_entropy")
class BinaryCrossEntropy(Loss):
    """Binary cross-entropy on probabilities (a sigmoid output layer).

    outputs (N, K) probabilities p in [0, 1]; targets t of the same shape.
    loss = −mean[t·log p + (1 − t)·log(1 − p)] with each log clamped at −100 (as PyTorch);
    d/dp = (p − t) / (p(1 − p)) / (N·K), using the clamped logs' derivative where clamped.
    Prefer ``binary_cross_entropy_with_logits`` for stability; this one exists to compare.
    """

    name = "binary_cross_entropy"
    kind = "binary"

    def __call__(self, outputs, targets):
        _check_outputs(outputs)
        p = outputs
        if p.min() < 0 or p.max() > 1:
            raise ValueError("outputs: binary_cross_entropy expects probabilities in [0, 1] "
                             "(use a Sigmoid output layer, or binary_cross_entropy_with_logits)")
        t = _targets_like(outputs, targets)
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(p), -100)
            log_q = np.maximum(np.log1p(-p), -100)
        loss = float(-(t * log_p + (1 - t) * log_q).mean())
        tiny = np.finfo(p.dtype).tiny
        dp = (-t / np.maximum(p, tiny) + (1 - t) / np.maximum(1 - p, tiny))
        dp[(p == 0) & (t == 0)] = 1.0  # d/dp of −log(1−p) at p = 0
        dp[(p == 1) & (t == 1)] = -1.0
        return loss, dp / p.size

    def predict_proba(self, outputs):
        return outputs


@LOSSES.register("mse")
class MeanSquaredError(Loss):
    """Mean squared error: mean[(o − t)²] over all N·K entries; d/do = 2(o − t)/(N·K).

    For classification, pass integer labels (N,) and they become one-hot targets, so that
    cross-entropy and MSE can be compared on the same classifier.
    """

    name = "mse"
    kind = "regression"

    def __call__(self, outputs, targets):
        _check_outputs(outputs)
        t = np.asarray(targets)
        if t.ndim == 1 and t.dtype.kind in "iub" and outputs.shape[1] > 1:
            y = check_labels(t, "targets", outputs.shape[1], outputs.shape[0])
            t = _one_hot(y, outputs.shape[1], outputs.dtype)
        else:
            t = _targets_like(outputs, t)
        diff = outputs - t
        loss = float(np.vdot(diff, diff)) / diff.size
        diff *= 2.0 / diff.size
        return loss, diff

    def predict_proba(self, outputs):
        return outputs


LOSSES["ce"] = LOSSES["cross_entropy"] = SoftmaxCrossEntropy
LOSSES["bce_logits"] = BinaryCrossEntropyWithLogits
LOSSES["bce"] = BinaryCrossEntropy
LOSSES["mean_squared_error"] = MeanSquaredError


def get_loss(spec) -> Loss:
    """A :class:`Loss` from an instance or a registry name (see :data:`LOSSES`)."""
    if isinstance(spec, Loss):
        return spec
    return LOSSES.get_item(spec)()
