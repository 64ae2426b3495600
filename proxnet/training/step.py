"""The training step: one place, read top to bottom.

Given the parameters, the gradients of the batch's mean data loss and the regularizer in
force for each parameter, one step does, in this order:

1. **penalty gradient** — ``g ← g + ∇r(w)`` for every regularizer in ``"penalty"`` mode;
2. **optimizer update** — ``w ← optimizer.step(w, g)`` (clipping, weight decay and the
   update rule, see :class:`proxnet.optim.Optimizer`);
3. **proximal step** — ``w ← prox_r(w, scaling=lr)`` for every regularizer in ``"prox"``
   mode, with ``lr`` the optimizer's current learning rate.

The functions take and return dicts keyed by parameter name (``"0.W"``) and never modify
the arrays they are given.
"""
from __future__ import annotations

__all__ = ["penalty_gradients", "training_step", "regularization_loss"]


def penalty_gradients(params: dict, grads: dict, regularizers: dict) -> dict:
    """``grads`` with ∇r(w) added for the penalty-mode regularizers (new arrays there)."""
    out = dict(grads)
    for name, reg in regularizers.items():
        if reg.mode == "penalty":
            out[name] = grads[name] + reg.grad(params[name])
    return out


def training_step(params: dict, grads: dict, optimizer, regularizers: dict) -> dict:
    """One step: penalty gradient → optimizer update → prox at the current learning rate.

    Parameters
    ----------
    params, grads : dict[str, ndarray]
        Every trainable parameter and the gradient of the data loss, by name.
    optimizer : proxnet.optim.Optimizer
        Its state (moments, step count) advances by one step.
    regularizers : dict[str, Regularizer]
        The regularizer of each regularized parameter (``model.regularizers()``).

    Returns
    -------
    dict[str, ndarray]: the new parameters.
    """
    grads = penalty_gradients(params, grads, regularizers)
    new = optimizer.step(params, grads)
    lr = optimizer.lr
    for name, reg in regularizers.items():
        if reg.mode == "prox":
            new[name] = reg.prox(new[name], lr)
    return new


def regularization_loss(params: dict, regularizers: dict) -> float:
    """Σ r(w) over every regularized parameter, whatever its mode."""
    return float(sum(reg.penalty(params[name]) for name, reg in regularizers.items()))
