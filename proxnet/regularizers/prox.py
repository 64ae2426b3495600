"""Pure proximal operators.

Each function solves, for a given ``scaling`` s > 0 (the learning rate when applied
after an optimizer step),

    prox_{s·g}(w) = argmin_y  ½‖w − y‖² + s·g(y)

for one regularizer g. They return a new array and never modify ``w``. The argmin
of every operator is stated in its docstring; the tests check the optimality
condition 0 ∈ y − w + s·∂g(y) and the exact zeros it implies.
"""
from __future__ import annotations

import numpy as np


def soft_threshold(w: np.ndarray, t: float) -> np.ndarray:
    """Prox of the L1 norm, g(y) = λ‖y‖₁ with t = s·λ.

    argmin_y ½‖w − y‖² + t‖y‖₁  =  sign(w) · max(|w| − t, 0)

    Entries with |w| ≤ t become exact zeros.
    """
    out = np.abs(w) - t
    np.maximum(out, 0, out=out)
    out *= np.sign(w)
    return out


def l2_shrink(w: np.ndarray, t: float) -> np.ndarray:
    """Prox of the squared L2 norm, g(y) = ½λ‖y‖² with t = s·λ.

    argmin_y ½‖w − y‖² + ½t‖y‖²  =  w / (1 + t)

    Never produces zeros (other than where w is zero).
    """
    return w / (1.0 + t)


def elastic_net_prox(w: np.ndarray, t1: float, t2: float) -> np.ndarray:
    """Prox of g(y) = λ₁‖y‖₁ + ½λ₂‖y‖², with t1 = s·λ₁ and t2 = s·λ₂.

    argmin_y ½‖w − y‖² + t1‖y‖₁ + ½t2‖y‖²  =  soft_threshold(w, t1) / (1 + t2)
    """
    return soft_threshold(w, t1) / (1.0 + t2)


def hard_threshold(w: np.ndarray, t: float) -> np.ndarray:
    """Prox of the L0 "norm", g(y) = λ‖y‖₀ with t = s·λ.

    argmin_y ½‖w − y‖² + t‖y‖₀  =  w · [|w| > √(2t)]

    (Per entry: keeping w costs t, zeroing it costs ½w²; keep iff ½w² > t.
    At |w| = √(2t) both are minimizers; we return 0.)
    """
    return np.where(np.abs(w) > np.sqrt(2.0 * t), w, np.zeros((), dtype=w.dtype))


def _group_norms(w: np.ndarray, keep_axis: int) -> np.ndarray:
    """ℓ2 norm of each group: the slices ``w`` takes along ``keep_axis`` (keepdims)."""
    axes = tuple(a for a in range(w.ndim) if a != keep_axis % w.ndim)
    if not axes:
        return np.abs(w)
    return np.sqrt(np.sum(w * w, axis=axes, keepdims=True))


def group_soft_threshold(w: np.ndarray, t: float, keep_axis: int) -> np.ndarray:
    """Prox of group lasso, g(y) = λ Σ_j ‖y_j‖₂ with t = s·λ.

    The groups y_j are the slices of ``w`` at each index j of ``keep_axis`` (for a
    dense weight W of shape (D, M), ``keep_axis=1`` groups the incoming weights
    W[:, j] of unit j; for a conv kernel (F, C, kh, kw), ``keep_axis=0`` groups each
    filter).

    argmin_y ½‖w − y‖² + t Σ_j ‖y_j‖₂  =  w_j · max(1 − t / ‖w_j‖₂, 0)   for each j

    A group with ‖w_j‖₂ ≤ t becomes exactly zero; a zero-norm group stays zero
    (no division by zero).
    """
    norms = _group_norms(w, keep_axis)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):   # unused branch only
        scale = np.where(norms > t, 1.0 - t / np.where(norms > 0, norms, 1.0), 0.0)
    return w * scale.astype(w.dtype, copy=False)


def max_norm_project(w: np.ndarray, c: float, keep_axis: int) -> np.ndarray:
    """Projection onto {y : ‖y_j‖₂ ≤ c for every group j} (prox of its indicator).

    argmin_y ½‖w − y‖² + ι(‖y_j‖₂ ≤ c ∀j)  =  w_j · min(1, c / ‖w_j‖₂)

    Groups as in :func:`group_soft_threshold`. Independent of the scaling.
    """
    norms = _group_norms(w, keep_axis)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):   # unused branch only
        scale = np.where(norms > c, c / np.where(norms > 0, norms, 1.0), 1.0)
    return w * scale.astype(w.dtype, copy=False)
