"""Prox mode gives exact zeros, penalty mode does not; sparsity metrics; mixing modes."""
import numpy as np
import pytest

from proxnet import Sequential
from proxnet.data import load_dataset
from proxnet.layers import Dense, ReLU
from proxnet.metrics import dead_units, nonzeros, sparsity_report, zero_fraction
from proxnet.regularizers import L0, L1, L2, GroupLasso, MaxNorm


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


def _fit(digits, first=None, default=None, opt=None, epochs=15):
    model = Sequential([Dense(64, 48, weight_regularizer=first), ReLU(), Dense(48, 10)],
                       optimizer=opt or {"kind": "sgd", "lr": 0.1}, weight_regularizer=default, seed=0)
    h = model.fit(digits.X_train, digits.y_train, epochs=epochs, batch_size=32, seed=0, verbose=False,
                  validation_data=(digits.X_test, digits.y_test))
    return model, h


def test_prox_l1_gives_exact_zeros_penalty_does_not(digits):
    prox, hp = _fit(digits, first=L1(3e-3, mode="prox"))
    pen, hq = _fit(digits, first=L1(3e-3))
    assert hp["zeros/0.W"][-1] > 0.3
    assert hq["zeros/0.W"][-1] < 0.01 * 2  # only the never-updated pixels can sit at 0
    assert hp["val_accuracy"][-1] > 0.9
    W = prox.layers[0].params["W"]
    assert zero_fraction(W) == pytest.approx(hp["zeros/0.W"][-1])


@pytest.mark.parametrize("opt", ["sgd", "momentum", "adam", "rmsprop", "adamw", "nesterov"])
def test_prox_works_with_every_optimizer(digits, opt):
    spec = {"kind": opt, "lr": 0.05 if opt in ("sgd", "momentum", "nesterov") else 1e-3}
    lam = 3e-3 if opt in ("sgd", "momentum", "nesterov") else 0.3
    _, h = _fit(digits, first=L1(lam, mode="prox"), opt=spec, epochs=5)
    assert h["zeros/0.W"][-1] > 0.05, opt


def test_l0_and_group_prox_and_max_norm(digits):
    _, h = _fit(digits, first=L0(1e-3))  # hard threshold at √(2·lr·λ) ≈ 0.014
    assert h["zeros/0.W"][-1] > 0.1
    m, h = _fit(digits, first=GroupLasso(0.3, mode="prox"))
    assert h["dead/0"][-1] > 0
    assert h["dead/0"][-1] == int(dead_units(m.layers[0].params["W"], 1).sum())
    m, _ = _fit(digits, default=MaxNorm(0.5))
    for i in (0, 2):
        assert np.linalg.norm(m.layers[i].params["W"], axis=0).max() <= 0.5 + 1e-6


def test_modes_mix_across_parameters(digits):
    model = Sequential([Dense(64, 32, weight_regularizer=L1(1e-3, mode="prox"), bias_regularizer=L2(1e-3)),
                        ReLU(), Dense(32, 10)], weight_regularizer=L2(1e-4), seed=0)
    regs = model.regularizers()
    assert regs["0.W"].mode == "prox" and regs["0.b"].mode == "penalty" and regs["2.W"].mode == "penalty"
    model.fit(digits.X_train, digits.y_train, epochs=2, batch_size=64, seed=0, verbose=False)


def test_prox_step_is_soft_threshold_after_sgd_step():
    """One step of prox-SGD equals soft_threshold(w − lr·g, lr·λ) exactly."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(8, 5)), rng.integers(0, 3, 8)
    model = Sequential([Dense(5, 3, weight_regularizer=L1(0.5, mode="prox"))], seed=0, dtype="float64",
                       optimizer={"kind": "sgd", "lr": 0.1})
    W0 = model.layers[0].params["W"].copy()
    _, grads = model.loss_and_grads(X, y)  # prox-mode: no penalty gradient
    model.fit(X, y, epochs=1, batch_size=None, shuffle=False, seed=0, verbose=False)
    step = W0 - 0.1 * grads["0.W"]
    expected = np.sign(step) * np.maximum(np.abs(step) - 0.05, 0)
    np.testing.assert_allclose(model.layers[0].params["W"], expected, atol=1e-15)


def test_sparsity_report_counts():
    model = Sequential([Dense(4, 3), ReLU(), Dense(3, 2)], seed=0)
    W = model.layers[0].params["W"]
    W[:, 1] = 0
    W[0, 0] = 0
    model.layers[0].params["b"][:] = 1.0
    model.layers[2].params["b"][:] = 1.0
    rep = sparsity_report(model)
    assert rep["zeros/0.W"] == pytest.approx(5 / 12)
    assert rep["dead/0"] == 1 and rep["dead/total"] == 1
    assert rep["zeros/total"] == pytest.approx(5 / 18)
    # non-zero weights + non-zero biases, without the dead unit's bias
    assert rep["effective_params"] == (12 - 5) + 6 + 2 + 2


def _dead_reference(W, out_axis):
    """Unit by unit: all incoming weights exactly zero."""
    moved = np.moveaxis(W, out_axis, 0).reshape(W.shape[out_axis], -1)
    return np.array([all(v == 0 for v in row) for row in moved], bool)


@pytest.mark.parametrize("shape, out_axis", [((12, 5), 1), ((6, 3, 2, 2), 0), ((7, 1), 1), ((0, 3), 1)])
def test_zero_counts_and_dead_units_match_a_unit_by_unit_reference(rng, shape, out_axis):
    fan_in = int(np.prod(shape)) // shape[out_axis]
    for case in range(40):
        W = rng.normal(size=shape).astype(np.float32)
        flat = W.reshape(-1)
        flat[rng.random(flat.size) < rng.random()] = 0.0                     # scattered zeros
        if W.size and case % 3 == 0:
            np.moveaxis(W, out_axis, 0)[rng.integers(shape[out_axis])] = -0.0  # a dead unit
        if W.size and case % 5 == 0:
            flat[rng.integers(flat.size)] = np.nan                            # not zero
        assert nonzeros(W) == np.count_nonzero(W)                            # NumPy's own count
        assert zero_fraction(W) == (1.0 - np.count_nonzero(W) / W.size if W.size else 0.0)
        expected = _dead_reference(W, out_axis)
        assert np.array_equal(dead_units(W, out_axis), expected)
        assert np.array_equal(dead_units(W, out_axis, int(np.count_nonzero(W))), expected)
    if fan_in:   # just under the shortcut's bound (one zero short of a whole unit) and at it
        W = np.ones(shape, np.float32)
        unit = np.moveaxis(W, out_axis, 0)[0].reshape(-1)
        unit[:-1] = 0
        assert not dead_units(W, out_axis).any()
        np.moveaxis(W, out_axis, 0)[0] = 0
        assert dead_units(W, out_axis).tolist() == [True] + [False] * (shape[out_axis] - 1)
