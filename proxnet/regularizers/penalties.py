"""Regularizer objects: one per formula, each with ``penalty``, ``grad`` and ``prox``.

Scaling (the same everywhere in proxnet, added to the batch-mean data loss, never
divided by the number of samples):

===============  =========================  ===================================
regularizer      g(w)                       gradient / prox
===============  =========================  ===================================
L2(λ)            ½·λ·‖w‖²                   λ·w (= PyTorch SGD ``weight_decay=λ``) / w/(1+sλ)
L1(λ)            λ·‖w‖₁                     λ·sign(w) (0 at 0) / soft threshold at sλ
ElasticNet(a,b)  a·‖w‖₁ + ½·b·‖w‖²          sum of the above / soft threshold then shrink
L0(λ)            λ·‖w‖₀                     prox only: hard threshold at √(2sλ)
GroupLasso(λ)    λ·Σ_j ‖w_j‖₂               λ·w_j/‖w_j‖ / group soft threshold at sλ
MaxNorm(c)       0 if ‖w_j‖₂ ≤ c else ∞     prox only: projection onto the ball
===============  =========================  ===================================

``mode`` says how the model uses a regularizer, explicitly:

- ``"penalty"``: g(w) is added to the loss and ∇g(w) to the gradient;
- ``"prox"``: after each optimizer step, ``w ← prox(w, scaling=learning_rate)``. For plain
  SGD this is exact proximal gradient descent and produces true zeros; for momentum,
  Adam and friends it is the usual heuristic (the prox ignores the preconditioner).
"""
from __future__ import annotations

import numpy as np

from ..registry import Configured, Registry
from . import prox as P

MODES = ("penalty", "prox")
REGULARIZERS = Registry("regularizer")


class Regularizer(Configured):
    """Base class. Subclasses define ``penalty``, ``grad`` and ``prox``.

    Parameters
    ----------
    mode : {"penalty", "prox"}
        How the model applies it (see the module docstring).
    """

    name = "regularizer"
    modes: tuple[str, ...] = MODES
    structured = False  # True when groups depend on the layer's unit axes

    def __init__(self, mode: str = "penalty"):
        if mode not in self.modes:
            raise ValueError(
                f"mode: {type(self).__name__} supports {', '.join(map(repr, self.modes))}, got {mode!r}")
        self.mode = mode

    def penalty(self, w: np.ndarray) -> float:
        """g(w), a Python float."""
        raise NotImplementedError

    def grad(self, w: np.ndarray) -> np.ndarray:
        """∇g(w) (a subgradient at kinks), same shape and dtype as ``w``."""
        raise NotImplementedError

    def prox(self, w: np.ndarray, scaling: float) -> np.ndarray:
        """argmin_y ½‖w − y‖² + scaling·g(y); a new array."""
        raise NotImplementedError

    def bind(self, out_axis: int, in_axis: int) -> "Regularizer":
        """Return the regularizer for a parameter whose units lie along ``out_axis``
        (and inputs along ``in_axis``). Elementwise regularizers return ``self``."""
        return self

    def get_config(self) -> dict:
        return {"mode": self.mode}



def _check_strength(value, name):
    v = float(value)
    if not np.isfinite(v) or v < 0:
        raise ValueError(f"{name}: expected a finite number >= 0, got {value!r}")
    return v


class _OneStrength(Regularizer):
    """A regularizer with one strength λ (``lam``) acting on every entry."""

    def __init__(self, lam: float, mode: str = "penalty"):
        super().__init__(mode)
        self.lam = _check_strength(lam, "lam")

    def get_config(self):
        return {"lam": self.lam, "mode": self.mode}


@REGULARIZERS.register("l2")
class L2(_OneStrength):
    """L2 (ridge, weight decay): g(w) = ½·λ·‖w‖², ∇g = λ·w, prox = w / (1 + sλ).

    ``L2(λ)`` in penalty mode under plain SGD equals PyTorch ``SGD(weight_decay=λ)``.
    """

    name = "l2"

    def penalty(self, w):
        return 0.5 * self.lam * float(np.vdot(w, w))

    def grad(self, w):
        return self.lam * w

    def prox(self, w, scaling):
        return P.l2_shrink(w, scaling * self.lam)


@REGULARIZERS.register("l1")
class L1(_OneStrength):
    """L1 (lasso): g(w) = λ·‖w‖₁, ∇g = λ·sign(w) (0 at w = 0), prox = soft threshold at sλ."""

    name = "l1"

    def penalty(self, w):
        return self.lam * float(np.abs(w).sum())

    def grad(self, w):
        return self.lam * np.sign(w)

    def prox(self, w, scaling):
        return P.soft_threshold(w, scaling * self.lam)


@REGULARIZERS.register("elastic_net")
class ElasticNet(Regularizer):
    """Elastic net: g(w) = l1·‖w‖₁ + ½·l2·‖w‖² (the sum of ``L1(l1)`` and ``L2(l2)``).

    prox = soft threshold at s·l1, then divide by (1 + s·l2).
    """

    name = "elastic_net"

    def __init__(self, l1: float, l2: float, mode: str = "penalty"):
        super().__init__(mode)
        self.l1 = _check_strength(l1, "l1")
        self.l2 = _check_strength(l2, "l2")

    def penalty(self, w):
        return self.l1 * float(np.abs(w).sum()) + 0.5 * self.l2 * float(np.vdot(w, w))

    def grad(self, w):
        return self.l1 * np.sign(w) + self.l2 * w

    def prox(self, w, scaling):
        return P.elastic_net_prox(w, scaling * self.l1, scaling * self.l2)

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2, "mode": self.mode}


@REGULARIZERS.register("l0")
class L0(_OneStrength):
    """L0: g(w) = λ·‖w‖₀ (number of non-zeros). Prox only: hard threshold at √(2sλ).

    ``penalty`` reports λ·(count of non-zeros) for logging; it has no useful gradient.
    """

    name = "l0"
    modes = ("prox",)

    def __init__(self, lam: float, mode: str = "prox"):
        super().__init__(lam, mode)

    def penalty(self, w):
        return self.lam * float(np.count_nonzero(w))

    def grad(self, w):
        raise ValueError("L0 has no gradient; use mode='prox' (hard thresholding)")

    def prox(self, w, scaling):
        return P.hard_threshold(w, scaling * self.lam)


_GROUPS = ("incoming", "outgoing")


class _Grouped(Regularizer):
    """Shared machinery of regularizers acting on groups of a parameter (one per unit)."""

    structured = True

    def __init__(self, groups: str, mode: str, keep_axis: int | None):
        super().__init__(mode)
        if groups not in _GROUPS:
            raise ValueError(f"groups: expected one of {_GROUPS}, got {groups!r}")
        self.groups = groups
        self.keep_axis = keep_axis

    def bind(self, out_axis, in_axis):
        keep = out_axis if self.groups == "incoming" else in_axis
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.keep_axis = keep
        return new

    def _axis(self, w):
        # Unbound (used directly on an array): 1-D arrays group per entry, otherwise the
        # last axis holds the units as for a dense weight (D, M).
        if self.keep_axis is not None:
            return self.keep_axis if w.ndim > 1 else 0
        return w.ndim - 1 if self.groups == "incoming" else 0


@REGULARIZERS.register("group_lasso")
class GroupLasso(_Grouped):
    """Group lasso: g(w) = λ·Σ_j ‖w_j‖₂ over the groups w_j of each unit.

    ``groups="incoming"`` groups the weights into each unit (the columns W[:, j] of a
    dense weight, each filter of a conv kernel): zeroing a group removes that unit.
    ``groups="outgoing"`` groups the weights out of each input unit (rows W[i, :]).

    ∇g = λ·w_j/‖w_j‖ (0 for a zero group); prox = group soft threshold at sλ.
    """

    name = "group_lasso"

    def __init__(self, lam: float, groups: str = "incoming", mode: str = "penalty",
                 keep_axis: int | None = None):
        super().__init__(groups, mode, keep_axis)
        self.lam = _check_strength(lam, "lam")

    def penalty(self, w):
        return self.lam * float(P._group_norms(w, self._axis(w)).sum())

    def grad(self, w):
        norms = P._group_norms(w, self._axis(w))
        safe = np.where(norms > 0, norms, 1.0)
        return self.lam * w / safe.astype(w.dtype, copy=False)

    def prox(self, w, scaling):
        return P.group_soft_threshold(w, scaling * self.lam, self._axis(w))

    def get_config(self):
        return {"lam": self.lam, "groups": self.groups, "mode": self.mode}


@REGULARIZERS.register("max_norm")
class MaxNorm(_Grouped):
    """Max-norm constraint: each unit's incoming weight vector has ‖w_j‖₂ ≤ ``max_value``.

    g is the indicator of that set, so ``penalty`` is 0 (for a feasible w) and the prox is
    the projection w_j·min(1, c/‖w_j‖), independent of the learning rate. Prox mode only.
    """

    name = "max_norm"
    modes = ("prox",)

    def __init__(self, max_value: float = 3.0, groups: str = "incoming", mode: str = "prox",
                 keep_axis: int | None = None):
        super().__init__(groups, mode, keep_axis)
        self.max_value = _check_strength(max_value, "max_value")

    def penalty(self, w):
        return 0.0

    def grad(self, w):
        raise ValueError("MaxNorm is a constraint with no gradient; it works in mode='prox'")

    def prox(self, w, scaling):
        return P.max_norm_project(w, self.max_value, self._axis(w))

    def get_config(self):
        return {"max_value": self.max_value, "groups": self.groups, "mode": self.mode}


REGULARIZERS.register("elasticnet", ElasticNet)


def get_regularizer(spec) -> Regularizer | None:
    """Build a regularizer from plain data.

    ``spec`` is ``None``, a :class:`Regularizer`, or a dict such as
    ``{"kind": "l1", "lam": 1e-3, "mode": "prox"}``. A bare name is refused: a
    strength is always required.
    """
    if spec is None or isinstance(spec, Regularizer):
        return spec
    if isinstance(spec, dict):
        return REGULARIZERS.build(spec)
    raise ValueError(
        f"regularizer: expected None, a Regularizer or a dict like {{'kind': 'l2', 'lam': 1e-4}}, got {spec!r}")


def from_strength(kind: str, strength: float, *, mode: str = "penalty", l1_ratio: float = 0.5,
                  groups: str = "incoming") -> Regularizer:
    """The regularizer of ``kind`` at one strength, the axis a grid or an estimator varies:
    λ for ``l1``, ``l2``, ``l0``, ``group_lasso``; λ split as ``l1 = λ·l1_ratio``,
    ``l2 = λ·(1 − l1_ratio)`` for ``elastic_net``; the radius c for ``max_norm``.

    >>> from_strength("elastic_net", 0.1, l1_ratio=0.25)
    ElasticNet(l1=0.025, l2=0.07500000000000001, mode='penalty')
    """
    cls = REGULARIZERS.get_item(kind)
    if cls is ElasticNet:
        if isinstance(l1_ratio, bool) or not isinstance(l1_ratio, (int, float)) or not 0 <= l1_ratio <= 1:
            raise ValueError(f"l1_ratio: expected a number in [0, 1], got {l1_ratio!r}")
        return ElasticNet(strength * l1_ratio, strength * (1.0 - l1_ratio), mode=mode)
    if cls is MaxNorm:
        return MaxNorm(strength, groups=groups, mode=mode)
    if cls is GroupLasso:
        return GroupLasso(strength, groups=groups, mode=mode)
    return cls(strength, mode=mode)
