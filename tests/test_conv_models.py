"""Convolutional models end to end: regularizers on kernels (per-filter groups), save/load,
compact(), dtype casting, sparsity and training."""
import numpy as np
import pytest

import proxnet
from proxnet import Sequential
from proxnet.architectures import lenet5
from proxnet.compact import compact
from proxnet.data import load_dataset
from proxnet.gradcheck import KINK_TOLERANCE, check_model
from proxnet.layers import AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D, ReLU, Tanh
from proxnet.metrics import sparsity_report
from proxnet.regularizers import L1, L2, ElasticNet, GroupLasso, MaxNorm


def _filter_norms(W):
    return np.sqrt((W.reshape(W.shape[0], -1) ** 2).sum(axis=1))


def _kernel(rng, norms):
    """(F, 2, 3, 3) filters with the given L2 norms."""
    W = rng.normal(size=(len(norms), 2, 3, 3))
    return W * (np.asarray(norms) / _filter_norms(W))[:, None, None, None]


# -- regularizers on kernels ------------------------------------------------------------------------
def test_group_lasso_prox_zeroes_whole_filters(rng):
    conv = Conv2D(2, 5, 3, weight_regularizer=GroupLasso(0.5, mode="prox"), dtype="float64")
    reg = conv.regularizers["W"]
    W = _kernel(rng, [0.1, 2.0, 0.05, 0.3, 1.0])
    t = 0.5 * 0.4                                              # scaling (lr) 0.4 · λ 0.5
    Y = reg.prox(W, 0.4)
    norms, new = _filter_norms(W), _filter_norms(Y)
    assert np.array_equal(np.flatnonzero(new == 0), [0, 2])   # norm ≤ t: the whole filter is 0.0
    assert np.all(Y[[0, 2]] == 0.0)
    keep = norms > t
    np.testing.assert_allclose(Y[keep], W[keep] * (1 - t / norms[keep])[:, None, None, None], rtol=1e-13)
    # optimality of the kept groups: y − w + t·y/‖y‖ = 0
    resid = Y[keep] - W[keep] + t * Y[keep] / new[keep][:, None, None, None]
    assert np.abs(resid).max() < 1e-13
    assert reg.penalty(W) == pytest.approx(0.5 * norms.sum())


def test_group_lasso_outgoing_groups_input_channels(rng):
    conv = Conv2D(3, 4, 3, weight_regularizer=GroupLasso(1.0, groups="outgoing", mode="prox"), dtype="float64")
    W = rng.normal(size=(4, 3, 3, 3))
    W[:, 1] *= 0.01                                           # input channel 1 is weak
    Y = conv.regularizers["W"].prox(W, 0.5)
    assert np.all(Y[:, 1] == 0.0) and np.all(Y[:, [0, 2]] != 0.0)


def test_model_wide_group_regularizers_bind_per_filter(rng):
    model = Sequential([Conv2D(2, 5, 3), ReLU(), Flatten(), Dense(5 * 4 * 4, 3)],
                       weight_regularizer=GroupLasso(0.5, mode="prox"), dtype="float64")
    reg = model.regularizers()["0.W"]
    Y = reg.prox(_kernel(rng, [0.1, 2.0, 0.05, 0.3, 1.0]), 0.4)
    assert np.array_equal(np.flatnonzero(_filter_norms(Y) == 0), [0, 2])


def test_max_norm_per_filter(rng):
    conv = Conv2D(2, 4, 3, weight_regularizer=MaxNorm(1.0), dtype="float64")
    W = _kernel(rng, [0.5, 3.0, 1.0, 7.0])
    Y = conv.regularizers["W"].prox(W, 0.1)
    np.testing.assert_allclose(_filter_norms(Y), [0.5, 1.0, 1.0, 1.0], rtol=1e-13)
    np.testing.assert_array_equal(Y[[0, 2]], W[[0, 2]])                 # feasible filters untouched
    np.testing.assert_allclose(Y[[1, 3]], W[[1, 3]] / np.array([3.0, 7.0])[:, None, None, None])


def test_elementwise_regularizers_on_kernels(rng):
    W = rng.normal(size=(3, 2, 3, 3))
    Y = L1(0.5, mode="prox").prox(W, 0.4)
    np.testing.assert_array_equal(Y, np.sign(W) * np.maximum(np.abs(W) - 0.2, 0))
    assert np.count_nonzero(Y == 0) == np.count_nonzero(np.abs(W) <= 0.2) > 0
    np.testing.assert_allclose(L2(0.1).grad(W), 0.1 * W)
    conv = Conv2D(2, 3, 3, weight_regularizer=L1(1e-2), bias_regularizer=L2(1e-1), seed=0)
    model = Sequential([conv, Flatten(), Dense(3 * 9, 2)], seed=0)
    assert set(model.regularizers()) == {"0.W", "0.b"}


def test_penalties_on_kernels_gradcheck(rng):
    model = Sequential([Conv2D(2, 3, 3, padding=1, weight_regularizer=ElasticNet(1e-2, 1e-2),
                               bias_regularizer=L2(0.1)), Tanh(), AvgPool2D(2),
                        Conv2D(3, 4, (2, 1), weight_regularizer=GroupLasso(0.05, groups="outgoing")), Tanh(),
                        Flatten(), Dense(4 * 2 * 2, 3)],
                       weight_regularizer=GroupLasso(0.05), seed=0, dtype="float64")
    for layer in model.layers:
        if "b" in layer.params:
            layer.params["b"][...] = rng.normal(scale=0.1, size=layer.params["b"].shape)
    errs = check_model(model, rng.normal(size=(3, 2, 6, 4)), np.array([0, 2, 1]))
    assert set(errs) == {"0.W", "0.b", "3.W", "3.b", "6.W", "6.b"}
    assert max(errs.values()) < KINK_TOLERANCE, errs


def test_group_lasso_prox_kills_filters_while_training():
    data = load_dataset("digits", flatten=False)                  # 8×8 images
    assert data.X_train.shape[1:] == (1, 8, 8)

    def net(reg):
        return Sequential([Conv2D(1, 12, 3, padding=1, weight_regularizer=reg), ReLU(), MaxPool2D(2),
                           Flatten(), Dense(12 * 16, 10)],
                          optimizer={"kind": "sgd", "lr": 0.1}, seed=0)

    plain, lasso = net(None), net(GroupLasso(0.15, mode="prox"))
    for m in (plain, lasso):
        m.fit(data.X_train, data.y_train, epochs=5, batch_size=32, seed=0, verbose=False)
    dead = sparsity_report(lasso)["dead/0"]
    assert sparsity_report(plain)["dead/0"] == 0
    assert 3 <= dead <= 9                                         # some filters exactly 0.0, not all
    W = lasso.layers[0].params["W"]
    assert np.count_nonzero(_filter_norms(W) == 0) == dead
    assert lasso.evaluate(data.X_test, data.y_test)["accuracy"] > 0.8
    assert plain.evaluate(data.X_test, data.y_test)["accuracy"] > 0.85


# -- save / load, compact, dtype -------------------------------------------------------------------------
def test_lenet5_save_load_round_trip(tmp_path, rng):
    model = lenet5(variant="classic", pooling="avg", activation="tanh", seed=0,
                   optimizer={"kind": "adam", "lr": 1e-3}, weight_regularizer=L2(1e-4))
    model.layers[0].set_regularizer("W", GroupLasso(1e-3, mode="prox"))
    model.layers[3].set_regularizer("b", L1(1e-3))
    X, y = rng.random((16, 1, 28, 28)), rng.integers(0, 10, 16)
    model.fit(X, y, epochs=1, batch_size=8, seed=0, verbose=False)
    proxnet.save(model, tmp_path / "lenet")
    loaded = proxnet.load(tmp_path / "lenet.npz")
    assert repr(loaded) == repr(model)
    for (n1, v1), (n2, v2) in zip(model.named_parameters(), loaded.named_parameters()):
        assert n1 == n2 and v1.dtype == v2.dtype == np.float32
        np.testing.assert_array_equal(v1, v2)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.regularizers() == model.regularizers()
    # the loaded group lasso still groups per filter
    W = _kernel(rng, [0.1, 2.0, 0.05, 0.3, 1.0, 0.01]).astype(np.float32)[:, :1]
    a = loaded.regularizers()["0.W"].prox(W, 100.0)
    b = model.regularizers()["0.W"].prox(W, 100.0)
    np.testing.assert_array_equal(a, b)
    loaded.fit(X, y, epochs=1, batch_size=8, verbose=False)        # and trains on


def test_custom_conv_options_round_trip(tmp_path, rng):
    model = Sequential([Conv2D(3, 4, (3, 2), stride=(2, 1), padding=(1, 0), bias=False, init="xavier"),
                        ReLU(), MaxPool2D((2, 1), stride=(1, 2)), AvgPool2D(2), Flatten(), Dense(16, 2)],
                       seed=0, dtype="float64")
    shape = (3, 9, 8)
    for layer in model.layers[:4]:
        shape = layer.output_shape(shape)
    assert shape == (4, 2, 2)
    proxnet.save(model, tmp_path / "m.npz")
    loaded = proxnet.load(tmp_path / "m.npz")
    assert [layer.get_config() for layer in loaded.layers] == [layer.get_config() for layer in model.layers]
    X = rng.normal(size=(5, 3, 9, 8))
    np.testing.assert_array_equal(loaded.forward(X), model.forward(X))


def test_compact_on_a_conv_model(rng):
    model = lenet5(variant="classic", seed=0, dtype="float64")
    for layer in model.layers:
        if "b" in layer.params:
            layer.params["b"][...] = rng.normal(scale=0.1, size=layer.params["b"].shape)
    model.layers[7].params["W"][:, [3, 50, 99]] = 0.0           # dead units of dense 120
    model.layers[9].params["W"][:, [0, 1]] = 0.0                # dead units of dense 84
    model.layers[11].params["W"][[5], :] = 0.0                  # unit 5 of dense 84 unused
    model.layers[0].params["W"][2] = 0.0                        # a dead filter: left alone
    X = rng.random((20, 1, 28, 28))
    small = compact(model)
    assert small.compaction_ == {7: 3, 9: 3}
    assert small.layers[7].params["W"].shape == (400, 117) and small.layers[9].params["W"].shape == (117, 81)
    for i in (0, 3):
        np.testing.assert_array_equal(small.layers[i].params["W"], model.layers[i].params["W"])
    np.testing.assert_allclose(small.forward(X), model.forward(X), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(small.predict(X), model.predict(X))
    assert compact(lenet5(variant="compact", seed=0)).compaction_ == {}
    small.fit(X, rng.integers(0, 10, 20), epochs=1, batch_size=10, verbose=False)


def test_compact_folds_dead_units_without_bias():
    """Regression: dead units of a Dense without bias output the constant a(0) (0.5 for a
    sigmoid), which compact() dropped instead of folding into the next layer's bias."""
    from proxnet.layers import Sigmoid
    model = Sequential([Dense(4, 5, bias=False), Sigmoid(), Dense(5, 3)], seed=0, dtype="float64")
    model.layers[0].params["W"][:, 1] = 0.0
    X = np.random.default_rng(0).normal(size=(6, 4))
    small = compact(model)
    assert small.compaction_ == {0: 1}
    np.testing.assert_allclose(small.forward(X), model.forward(X), rtol=1e-12, atol=1e-12)


def test_sequential_casts_conv_layers(rng):
    layers = [Conv2D(1, 2, 3, seed=0), MaxPool2D(2), Flatten(), Dense(2 * 3 * 3, 2, seed=0)]
    w32 = layers[0].params["W"].copy()
    model = Sequential(layers, dtype="float64")
    assert all(p.dtype == np.float64 for _, p in model.named_parameters())
    np.testing.assert_array_equal(model.layers[0].params["W"], w32.astype(np.float64))
    out = model.forward(rng.normal(size=(3, 1, 8, 8)).astype(np.float32), training=True)
    assert out.dtype == np.float64
    _, grads = model.loss_and_grads(rng.normal(size=(3, 1, 8, 8)), np.array([0, 1, 1]))
    assert grads["0.W"].dtype == np.float64 and grads["0.W"].shape == (2, 1, 3, 3)


def test_sparsity_report_counts_dead_filters():
    model = lenet5(variant="compact", seed=0)
    model.layers[3].params["W"][[1, 4, 9]] = 0.0
    rep = sparsity_report(model)
    assert rep["dead/3"] == 3 and rep["dead/0"] == 0
    assert rep["zeros/3.W"] == pytest.approx(3 / 16)
