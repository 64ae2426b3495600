"""Pure update rules with explicit state (PyTorch conventions, checked against it).

Each rule is a pair of functions::

    state = init(w)                        # dict of arrays (+ int step count "t")
    w_new, state_new = step(w, g, state, hp)

``step`` never modifies ``w``, ``g`` or the arrays of ``state``: it returns new arrays
(few temporaries, the rest done in place on them). The dtype of ``w`` is kept
(float32 in, float32 out): hyperparameters in ``hp`` are Python floats, which never
upcast an array under NumPy's promotion rules. ``hp`` holds ``lr`` and the rule's own
hyperparameters; missing ones take the defaults of :data:`RULES`.

=========  =====================================================================
rule       update (g the gradient, all operations elementwise)
=========  =====================================================================
sgd        w ← w − lr·g  (with ``momentum`` > 0: as momentum / nesterov)
momentum   v ← μ·v + g;  w ← w − lr·v
nesterov   v ← μ·v + g;  w ← w − lr·(g + μ·v)
rmsprop    s ← α·s + (1−α)·g²;  w ← w − lr·g/(√s + ε)  (momentum: b ← μ·b + g/(√s+ε); w ← w − lr·b)
adam       m ← β₁·m + (1−β₁)·g;  v ← β₂·v + (1−β₂)·g²;
           w ← w − (lr/(1−β₁ᵗ))·m / (√v/√(1−β₂ᵗ) + ε)
adamw      w ← w·(1 − lr·wd), then the adam update
=========  =====================================================================
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..registry import Registry

__all__ = [
    "Rule", "RULES", "OPTIMIZERS",
    "sgd_init", "sgd_step", "momentum_init", "momentum_step", "nesterov_step",
    "rmsprop_init", "rmsprop_step", "adam_init", "adam_step", "adamw_step",
]


# ----------------------------------------------------------------------------- rules

def sgd_init(w: np.ndarray) -> dict:
    """Plain SGD keeps no state: ``{}`` (a momentum buffer is added on demand)."""
    return {}


def sgd_step(w, g, state, hp):
    """SGD, as ``torch.optim.SGD`` (dampening 0).

    w ← w − lr·g. With ``hp["momentum"]`` = μ > 0 it is the heavy-ball rule
    (:func:`momentum_step`), or :func:`nesterov_step` when ``hp["nesterov"]``; the
    buffer ``v`` then starts at zero (v₁ = g).

    Parameters
    ----------
    w, g : ndarray, any shape (the same)
        Parameter and its gradient.
    state : dict
        ``{}`` or ``{"v": ndarray like w}``.
    hp : dict
        ``lr``; optional ``momentum`` (0.0), ``nesterov`` (False).
    """
    if hp.get("momentum", 0.0) > 0:
        return (nesterov_step if hp.get("nesterov", False) else momentum_step)(w, g, state, hp)
    w_new = g * -hp["lr"]
    w_new += w
    return w_new, {}


def momentum_init(w: np.ndarray) -> dict:
    """``{"v": zeros like w}``: the velocity buffer."""
    return {"v": np.zeros_like(w)}


def _velocity(g, state, mu):
    """v ← μ·v + g (a new array; v₀ = 0 when absent)."""
    v_old = state.get("v")
    if v_old is None:
        return g.copy()
    v = v_old * mu
    v += g
    return v


def momentum_step(w, g, state, hp):
    """Heavy-ball momentum, PyTorch convention (``SGD(momentum=μ)``, dampening 0).

    v ← μ·v + g;  w ← w − lr·v.  ``hp``: ``lr``, ``momentum`` μ (0.9). State ``{"v"}``.
    """
    v = _velocity(g, state, hp.get("momentum", 0.9))
    w_new = v * -hp["lr"]
    w_new += w
    return w_new, {"v": v}


def nesterov_step(w, g, state, hp):
    """Nesterov momentum, PyTorch convention (``SGD(momentum=μ, nesterov=True)``).

    v ← μ·v + g;  w ← w − lr·(g + μ·v).  ``hp``: ``lr``, ``momentum`` μ (0.9). State ``{"v"}``.
    """
    mu = hp.get("momentum", 0.9)
    v = _velocity(g, state, mu)
    w_new = v * mu
    w_new += g
    w_new *= -hp["lr"]
    w_new += w
    return w_new, {"v": v}


def rmsprop_init(w: np.ndarray) -> dict:
    """``{"s": zeros like w}``: the running mean of g² (a momentum buffer ``b`` is added on demand)."""
    return {"s": np.zeros_like(w)}


def rmsprop_step(w, g, state, hp):
    """RMSprop, as ``torch.optim.RMSprop`` (not centered).

    s ← α·s + (1−α)·g²;  w ← w − lr·g/(√s + ε).
    With momentum μ > 0:  b ← μ·b + g/(√s + ε);  w ← w − lr·b  (b₀ = 0).

    ``hp``: ``lr``, ``alpha`` α (0.99), ``eps`` ε (1e-8), ``momentum`` μ (0.0).
    State ``{"s"}`` (+ ``"b"`` with momentum).
    """
    lr, alpha = hp["lr"], hp.get("alpha", 0.99)
    mu = hp.get("momentum", 0.0)
    s = state["s"] * alpha
    tmp = g * g
    tmp *= 1.0 - alpha
    s += tmp
    np.sqrt(s, out=tmp)
    tmp += hp.get("eps", 1e-8)
    np.divide(g, tmp, out=tmp)                       # tmp = g / (√s + ε)
    if mu > 0:
        b_old = state.get("b")
        if b_old is None:
            b = tmp
        else:
            b = b_old * mu
            b += tmp
        w_new = b * -lr
        w_new += w
        return w_new, {"s": s, "b": b}
    tmp *= -lr
    tmp += w
    return tmp, {"s": s}


def adam_init(w: np.ndarray) -> dict:
    """``{"m": zeros, "v": zeros, "t": 0}``: first and second moments and the step count."""
    return {"m": np.zeros_like(w), "v": np.zeros_like(w), "t": 0}


def _adam_update(g, state, hp):
    """Return (u, state_new) with u the additive Adam update (w_new = w + u)."""
    b1, b2 = hp.get("betas", (0.9, 0.999))
    t = int(state["t"]) + 1
    m_old = state["m"]
    m = np.subtract(g, m_old)                        # m ← m + (1−β₁)(g − m), torch's lerp
    m *= 1.0 - b1
    m += m_old
    v = state["v"] * b2
    u = g * g
    u *= 1.0 - b2
    v += u
    np.sqrt(v, out=u)
    u /= math.sqrt(1.0 - b2 ** t)
    u += hp.get("eps", 1e-8)                         # u = √v/√(1−β₂ᵗ) + ε
    np.divide(m, u, out=u)
    u *= -(hp["lr"] / (1.0 - b1 ** t))
    return u, {"m": m, "v": v, "t": t}


def adam_step(w, g, state, hp):
    """Adam, exactly as ``torch.optim.Adam`` (no amsgrad).

    t ← t + 1;  m ← β₁·m + (1−β₁)·g;  v ← β₂·v + (1−β₂)·g²;
    w ← w − (lr/(1−β₁ᵗ))·m / (√v/√(1−β₂ᵗ) + ε).

    ``hp``: ``lr``, ``betas`` (β₁, β₂) = (0.9, 0.999), ``eps`` ε (1e-8).
    State ``{"m", "v", "t"}``.
    """
    u, new = _adam_update(g, state, hp)
    u += w
    return u, new


def adamw_step(w, g, state, hp):
    """AdamW (decoupled weight decay, Loshchilov & Hutter), as ``torch.optim.AdamW``.

    w ← w·(1 − lr·wd), then the :func:`adam_step` update (which does not see wd).

    ``hp``: those of Adam and ``wd`` (0.01). State ``{"m", "v", "t"}``.
    """
    u, new = _adam_update(g, state, hp)
    w_new = w * (1.0 - hp["lr"] * hp.get("wd", 0.01))
    w_new += u
    return w_new, new


# ---------------------------------------------------------------- hyperparameter checks

def _finite(v, name):
    if isinstance(v, bool):
        raise ValueError(f"{name}: expected a number, got {v!r}")
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number, got {v!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"{name}: expected a finite number, got {v!r}")
    return x


def check_positive(v, name):
    """Return ``float(v)`` if finite and > 0, else raise ``ValueError``."""
    x = _finite(v, name)
    if x <= 0:
        raise ValueError(f"{name}: expected a number > 0, got {v!r}")
    return x


def check_nonnegative(v, name):
    """Return ``float(v)`` if finite and >= 0, else raise ``ValueError``."""
    x = _finite(v, name)
    if x < 0:
        raise ValueError(f"{name}: expected a number >= 0, got {v!r}")
    return x


def _unit(v, name):
    x = _finite(v, name)
    if not 0.0 <= x < 1.0:
        raise ValueError(f"{name}: expected a number in [0, 1), got {v!r}")
    return x


def _bool(v, name):
    if not isinstance(v, (bool, np.bool_)):
        raise ValueError(f"{name}: expected True or False, got {v!r}")
    return bool(v)


def _betas(v, name):
    if isinstance(v, (str, bytes)) or not hasattr(v, "__len__") or len(v) != 2:
        raise ValueError(f"{name}: expected a pair (beta1, beta2) in [0, 1), got {v!r}")
    return (_unit(v[0], f"{name}[0]"), _unit(v[1], f"{name}[1]"))


_CHECKS = {"momentum": _unit, "nesterov": _bool, "alpha": _unit, "eps": check_positive,
           "betas": _betas, "wd": check_nonnegative}


# ---------------------------------------------------------------------- registry

@dataclass(frozen=True, eq=False)
class Rule:
    """A named update rule: ``init``, ``step``, default hyperparameters.

    Attributes
    ----------
    name : str
    init : callable ``init(w) -> state``
    step : callable ``step(w, g, state, hp) -> (w_new, state_new)``
    defaults : dict
        The rule's hyperparameters other than ``lr``, with their defaults.
    lr : float
        Default learning rate (0.01 for the SGD family, 0.001 for RMSprop and Adam, as Keras).
    decay_key : str or None
        The hyperparameter holding the rule's own weight decay (``"wd"`` for adamw).
    """

    name: str
    init: Callable
    step: Callable
    defaults: dict
    lr: float
    decay_key: str | None = None

    def hyperparams(self, lr=None, **kwargs) -> dict:
        """Return the full, checked ``hp`` dict: ``lr`` and every default, overridden by
        ``kwargs``. Unknown names raise ``ValueError`` listing the valid ones."""
        unknown = sorted(set(kwargs) - set(self.defaults))
        if unknown:
            valid = ", ".join(["lr", *self.defaults]) if self.defaults else "lr"
            raise ValueError(
                f"optimizer {self.name!r}: unknown hyperparameter(s) {', '.join(map(repr, unknown))}; "
                f"valid: {valid}")
        hp = {"lr": check_positive(self.lr if lr is None else lr, "lr")}
        for k, default in self.defaults.items():
            hp[k] = _CHECKS[k](kwargs.get(k, default), k)
        if hp.get("nesterov") and hp["momentum"] == 0:
            raise ValueError(f"optimizer {self.name!r}: nesterov=True needs momentum > 0")
        return hp

    def __repr__(self):
        return f"Rule({self.name!r}, lr={self.lr}, defaults={self.defaults})"


RULES = Registry("optimizer")
OPTIMIZERS = RULES  # the design's name for the same registry

for _rule in (
    Rule("sgd", sgd_init, sgd_step, {"momentum": 0.0, "nesterov": False}, 0.01),
    Rule("momentum", momentum_init, momentum_step, {"momentum": 0.9}, 0.01),
    Rule("nesterov", momentum_init, nesterov_step, {"momentum": 0.9}, 0.01),
    Rule("rmsprop", rmsprop_init, rmsprop_step, {"alpha": 0.99, "eps": 1e-8, "momentum": 0.0}, 0.001),
    Rule("adam", adam_init, adam_step, {"betas": (0.9, 0.999), "eps": 1e-8}, 0.001),
    Rule("adamw", adam_init, adamw_step, {"betas": (0.9, 0.999), "eps": 1e-8, "wd": 0.01}, 0.001,
         decay_key="wd"),
):
    RULES.register(_rule.name, _rule)
del _rule
