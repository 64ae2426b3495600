"""Numerical gradient checks by centred differences, shipped with the library.

Every check runs in float64. ``rel_error`` is the largest element-wise relative error

    max_i |a_i − b_i| / max(|a_i| + |b_i|, floor),   floor = 1e-6 · max(max|a|, max|b|, 1e-300)

so entries that are tiny compared with the largest gradient are judged on the array's
scale instead of their own (a numerical 1e-11 next to an analytic 0 is not an error).

>>> import numpy as np
>>> from proxnet.layers import Dense
>>> errs = check_layer(Dense(3, 2, seed=0), np.random.default_rng(0).normal(size=(4, 3)))
>>> max(errs.values()) < 1e-7
True
"""
from __future__ import annotations

import copy

import numpy as np

from .backend import spawn
from .layers import ACTIVATIONS, LAYERS, Conv2D, Dense, Dropout, Flatten, MaxPool2D, Sigmoid, Tanh
from .losses import LOSSES, get_loss
from .model import Sequential
from .regularizers import L0, L1, L2, REGULARIZERS, GroupLasso, MaxNorm

DEFAULT_H = 1e-6
TOLERANCE = 1e-6
KINK_TOLERANCE = 1e-5


def rel_error(a, b) -> float:
    """Maximum element-wise relative error between arrays ``a`` and ``b`` (see module doc)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ, {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    scale = max(np.abs(a).max(), np.abs(b).max())
    if scale == 0:
        return 0.0
    denom = np.maximum(np.abs(a) + np.abs(b), 1e-6 * scale)
    return float((np.abs(a - b) / denom).max())


def numerical_gradient(f, x: np.ndarray, h: float = DEFAULT_H, indices=None) -> np.ndarray:
    """∂f/∂x by centred differences, (f(x + h·e_i) − f(x − h·e_i)) / 2h for every entry.

    ``f()`` takes no argument and reads ``x``, which is perturbed in place and restored.
    ``indices`` (flat indices into ``x``) restricts the computation to those entries; the
    other entries of the result are 0.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    if indices is None:
        indices = range(x.size)
    for flat in indices:
        i = np.unravel_index(int(flat), x.shape)
        old = x[i]
        x[i] = old + h
        fp = f()
        x[i] = old - h
        fm = f()
        x[i] = old
        grad[i] = (fp - fm) / (2 * h)
    return grad


def numerical_gradient_array(f, x: np.ndarray, dout: np.ndarray, h: float = DEFAULT_H) -> np.ndarray:
    """Gradient of Σ f(x)·dout w.r.t. ``x`` (f returns an array), by centred differences."""
    return numerical_gradient(lambda: float(np.sum(f() * dout)), x, h)


def _float64_layer(layer):
    layer = copy.deepcopy(layer)
    layer.astype(np.float64)
    return layer


def check_layer(layer, x, *, training: bool = True, seed: int = 0, h: float = DEFAULT_H) -> dict:
    """Check ``backward`` of ``layer`` against numerical gradients at input ``x``.

    The layer is copied and cast to float64; stochastic layers get the same generator
    state before every forward, so dropout masks are fixed. A random upstream gradient
    makes every output count. Returns ``{"x": err, "W": err, ...}``.
    """
    layer = _float64_layer(layer)
    x = np.array(x, dtype=np.float64)

    def run():
        layer.set_rng(np.random.default_rng(seed))
        return layer.forward(x, training=training)

    out = run()
    dout = np.random.default_rng(seed + 1).normal(size=out.shape)
    layer.input_grad = True
    dx = layer.backward(dout)
    errors = {"x": rel_error(dx, numerical_gradient_array(run, x, dout, h))}
    for key, p in layer.params.items():
        analytic = layer.grads[key].copy()
        errors[key] = rel_error(analytic, numerical_gradient_array(run, p, dout, h))
    return errors


def check_loss(loss_fn, outputs, targets, *, h: float = DEFAULT_H) -> float:
    """Check the fused gradient of a loss at ``outputs`` (float64) for ``targets``."""
    loss_fn = get_loss(loss_fn)
    z = np.array(outputs, dtype=np.float64)
    _, dz = loss_fn(z, targets)
    return rel_error(dz, numerical_gradient(lambda: loss_fn(z, targets)[0], z, h))


def check_regularizer(reg, w, *, h: float = DEFAULT_H) -> float:
    """Check ``reg.grad`` against the numerical gradient of ``reg.penalty`` at ``w``
    (keep ``w`` away from kinks: zeros for L1, zero groups for group lasso)."""
    w = np.array(w, dtype=np.float64)
    return rel_error(reg.grad(w), numerical_gradient(lambda: reg.penalty(w), w, h))


def check_prox_only(name: str, w, scaling: float = 0.5) -> float:
    """Optimality error of the prox of a regularizer that has no gradient.

    ``"l0"``: per entry, ½(w − y)² + s·λ·[y ≠ 0] must equal min(½w², s·λ) (the prox is a
    global minimizer). ``"max_norm"``: y must be feasible (‖y_j‖ ≤ c), feasible groups of w
    unchanged, and infeasible ones scaled onto the sphere. Returns the largest violation.
    """
    w = np.array(w, dtype=np.float64)
    if name == "l0":
        lam = 0.3
        y = L0(lam).prox(w, scaling)
        obj = 0.5 * (w - y) ** 2 + scaling * lam * (y != 0)
        return float(np.abs(obj - np.minimum(0.5 * w ** 2, scaling * lam)).max())
    if name == "max_norm":
        c = 1.5
        y = MaxNorm(c).prox(w, scaling)
        nw, ny = np.linalg.norm(w, axis=0), np.linalg.norm(y, axis=0)
        feasible = nw <= c
        return float(max(np.abs(y[:, feasible] - w[:, feasible]).max(initial=0.0),
                         np.abs(ny[~feasible] - c).max(initial=0.0),
                         np.abs(y[:, ~feasible] * nw[~feasible] / c - w[:, ~feasible]).max(initial=0.0)))
    raise ValueError(f"check_prox_only: no check for {name!r}")


def check_model(model, X, y, *, seed: int = 0, h: float = DEFAULT_H,
                max_entries: int | None = None) -> dict:
    """Check ``model.loss_and_grads`` (data + penalties) for every parameter by name.

    The model is copied and cast to float64; dropout masks are fixed by re-seeding
    every layer before each evaluation. ``max_entries`` checks at most that many entries
    per parameter, drawn at random (from ``seed``): two forward passes per entry make a
    full check of a convolutional network slow. Returns ``{"0.W": err, ...}``.
    """
    model = copy.deepcopy(model)
    model.dtype = np.dtype(np.float64)
    for layer in model.layers:
        layer.astype(np.float64)
    X = np.asarray(X, dtype=np.float64)

    def reseed():
        for layer, rng in zip(model.layers, spawn(np.random.default_rng(seed), len(model.layers))):
            layer.set_rng(rng)

    Xc, yc = model.check_X(X), model.check_y(y, X)

    def total_loss():  # the loss of loss_and_grads without its backward pass
        reseed()
        return model.loss_fn(model.forward(Xc, training=True), yc)[0] + model.regularization_loss()

    reseed()
    _, grads = model.loss_and_grads(X, y)
    pick = np.random.default_rng(seed)
    errors = {}
    for name, p in model.named_parameters():
        if max_entries is None or p.size <= max_entries:
            errors[name] = rel_error(grads[name], numerical_gradient(total_loss, p, h))
            continue
        idx = np.sort(pick.choice(p.size, size=max_entries, replace=False))
        numeric = numerical_gradient(total_loss, p, h, indices=idx).ravel()[idx]
        errors[name] = rel_error(grads[name].ravel()[idx], numeric)
    return errors


def _away_from_zero(rng, shape, margin=0.1):
    """Random values with |v| ≥ margin (keeps kinks of L1 / ReLU out of reach of h)."""
    v = rng.normal(size=shape)
    return np.where(v >= 0, v + margin, v - margin)


def check_all(seed: int = 0) -> list[dict]:
    """Check everything in the registries: every layer, activation, loss and regularizer,
    a two-hidden-layer network with L1 + L2 and dropout, and a small convolutional network
    with per-filter group lasso.

    Returns rows ``{"kind", "name", "max_rel_error", "tolerance", "passed"}``.
    """
    rng = np.random.default_rng(seed)
    rows = []

    def add(kind, name, err, tol=TOLERANCE):
        rows.append({"kind": kind, "name": name, "max_rel_error": err, "tolerance": tol,
                     "passed": bool(err < tol)})

    x2 = _away_from_zero(rng, (5, 6), 0.05)
    seen = set()
    for name, cls in sorted(ACTIVATIONS.items()):
        if cls in seen:
            continue
        seen.add(cls)
        add("activation", name, max(check_layer(cls(), x2, seed=seed).values()))
    examples = _layer_examples(rng)
    for name, cls in sorted(LAYERS.items()):
        if cls in seen:
            continue
        seen.add(cls)
        if cls.__name__ not in examples:   # a registered layer nobody checks is a failure
            add("layer", f"{cls.__name__} (no example in gradcheck._layer_examples)", float("nan"))
            continue
        layer, x, tol = examples[cls.__name__]
        add("layer", cls.__name__, max(check_layer(layer, x, seed=seed).values()), tol)
    seen_losses = set()
    for name, cls in sorted(LOSSES.items()):
        if cls in seen_losses:
            continue
        seen_losses.add(cls)
        z, t = _loss_example(cls.name, rng)
        add("loss", cls.name, check_loss(cls(), z, t))
    seen_regs = set()
    for name, cls in sorted(REGULARIZERS.items()):
        if cls in seen_regs:
            continue
        seen_regs.add(cls)
        reg = _regularizer_example(cls.name)
        if reg is None:
            add("prox", cls.name, check_prox_only(cls.name, _away_from_zero(rng, (6, 4))))
            continue
        add("regularizer", cls.name, check_regularizer(reg, _away_from_zero(rng, (6, 4))), KINK_TOLERANCE)
    model = Sequential([Dense(6, 7, weight_regularizer=L1(1e-2), bias_regularizer=L2(1e-2)),
                        Tanh(), Dropout(0.3), Dense(7, 5), Sigmoid(), Dense(5, 3)],
                       weight_regularizer=L2(1e-2), seed=seed, dtype="float64")
    add("model", "mlp 6-7-5-3, L1 + L2, dropout", max(check_model(model, x2, np.arange(5) % 3, seed=seed).values()),
        KINK_TOLERANCE)
    convnet = Sequential([Conv2D(2, 3, 3, padding=1, weight_regularizer=GroupLasso(1e-2)), Tanh(),
                          MaxPool2D(2), Flatten(), Dense(12, 3)],
                         weight_regularizer=L2(1e-2), seed=seed, dtype="float64")
    x4 = rng.normal(size=(3, 2, 4, 4))
    add("model", "convnet 2@4x4-3@3x3-pool-3, group lasso + L2",
        max(check_model(convnet, x4, np.arange(3) % 3, seed=seed).values()), KINK_TOLERANCE)
    return rows


def _layer_examples(rng) -> dict:
    """One small float64 example per layer class: (layer, input, tolerance)."""
    ex = {}
    x2 = _away_from_zero(rng, (4, 6), 0.05)
    x4 = _away_from_zero(rng, (2, 3, 7, 6), 0.05)
    for name, cls in LAYERS.items():
        cname = cls.__name__
        if cname == "Dense":
            ex[cname] = (cls(6, 5, seed=0), x2, TOLERANCE)
        elif cname == "Dropout":
            ex[cname] = (cls(0.4), x2, TOLERANCE)
        elif cname == "Flatten":
            ex[cname] = (cls(), x4, TOLERANCE)
        elif cname == "Conv2D":
            ex[cname] = (cls(3, 4, 3, stride=2, padding=1, seed=0), x4, TOLERANCE)
        elif cname in ("MaxPool2D", "AvgPool2D"):
            distinct = rng.permutation(x4.size).reshape(x4.shape) / x4.size + 0.01
            ex[cname] = (cls(2), distinct, TOLERANCE)
    return ex


def _loss_example(name, rng):
    N, K = 5, 4
    z = rng.normal(size=(N, K))
    if name == "softmax_cross_entropy":
        return z, rng.integers(0, K, N)
    if name == "binary_cross_entropy":
        return 1 / (1 + np.exp(-z)), rng.uniform(0, 1, (N, K))
    if name == "binary_cross_entropy_with_logits":
        return z, rng.uniform(0, 1, (N, K))
    return z, rng.normal(size=(N, K))


def _regularizer_example(name):
    cls = REGULARIZERS.get_item(name)
    if "penalty" not in cls.modes:
        return None
    if name == "elastic_net":
        return cls(0.3, 0.7)
    return cls(0.5)


def format_table(rows) -> str:
    """A plain-text table of :func:`check_all` rows."""
    head = f"{'kind':<12} {'name':<48} {'max rel error':>14} {'tol':>8}  result"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['kind']:<12} {r['name']:<48} {r['max_rel_error']:>14.3e} "
                     f"{r['tolerance']:>8.0e}  {'ok' if r['passed'] else 'FAIL'}")
    return "\n".join(lines)
