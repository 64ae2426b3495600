"""Sequential: whole-model gradient checks, training, determinism, divergence, validation."""
import re

import numpy as np
import pytest

import proxnet
from proxnet import EarlyStopping, Sequential, TrainingDivergedError
from proxnet.gradcheck import KINK_TOLERANCE, check_model
from proxnet.layers import Dense, Dropout, ReLU, Sigmoid, Tanh
from proxnet.regularizers import L1, L2, GroupLasso


def _blobs(rng, n=120, d=5, k=3):
    centers = rng.normal(size=(k, d)) * 3
    y = rng.integers(0, k, n)
    return (centers[y] + rng.normal(size=(n, d))).astype(np.float32), y


def _mlp(seed=0, **kw):
    return Sequential([Dense(5, 16), ReLU(), Dense(16, 16), ReLU(), Dense(16, 3)], seed=seed, **kw)


def test_whole_network_gradcheck_two_hidden_l1_l2_dropout(rng):
    """Two hidden layers, L1 + L2 (weights and a bias) and dropout with a fixed mask seed."""
    model = Sequential([Dense(6, 8, weight_regularizer=L1(1e-2), bias_regularizer=L2(1e-2)), Tanh(),
                        Dropout(0.3), Dense(8, 7), Sigmoid(), Dropout(0.2), Dense(7, 4)],
                       weight_regularizer=L2(3e-2), seed=2, dtype="float64")
    X = rng.normal(size=(10, 6))
    y = rng.integers(0, 4, 10)
    errs = check_model(model, X, y, seed=5)
    assert set(errs) == {"0.W", "0.b", "3.W", "3.b", "6.W", "6.b"}
    assert max(errs.values()) < KINK_TOLERANCE, errs
    assert max(v for k, v in errs.items() if k != "0.W") < 1e-6, errs


def test_regularizer_resolution():
    model = Sequential([Dense(3, 4, weight_regularizer=L1(0.1)), ReLU(), Dense(4, 2, bias_regularizer=L2(0.2))],
                       weight_regularizer=L2(0.01))
    regs = model.regularizers()
    assert regs == {"0.W": L1(0.1), "2.W": L2(0.01), "2.b": L2(0.2)}  # default: weights only
    gl = Sequential([Dense(3, 4), ReLU(), Dense(4, 2)], weight_regularizer=GroupLasso(0.1)).regularizers()
    assert gl["0.W"].keep_axis == 1


def test_loss_and_grads_adds_penalties(rng):
    model = _mlp(weight_regularizer=L2(0.5), dtype="float64")
    X, y = _blobs(rng, 20)
    total, grads = model.loss_and_grads(X, y)
    plain = Sequential([layer for layer in model.layers], dtype="float64")
    data, g0 = plain.loss_and_grads(X, y)
    W = dict(model.named_parameters())
    assert total == pytest.approx(data + 0.25 * sum(np.vdot(W[k], W[k]) for k in ("0.W", "2.W", "4.W")))
    np.testing.assert_allclose(grads["0.W"], g0["0.W"] + 0.5 * W["0.W"], atol=1e-12)
    np.testing.assert_array_equal(grads["0.b"], g0["0.b"])


def test_fit_learns_and_history(rng):
    X, y = _blobs(rng)
    model = _mlp(optimizer={"kind": "sgd", "lr": 0.1}, weight_regularizer=L2(1e-3))
    hist = model.fit(X, y, epochs=15, batch_size=16, validation_data=(X[:40], y[:40]), seed=0,
                     verbose=False)
    assert len(hist) == 15
    for key in ("epoch", "loss", "data_loss", "reg_loss", "train_accuracy", "val_accuracy",
                "val_loss", "time", "lr", "zeros/total", "effective_params"):
        assert key in hist, key
    assert hist["loss"][-1] == pytest.approx(hist["data_loss"][-1] + hist["reg_loss"][-1])
    assert hist["data_loss"][-1] < hist["data_loss"][0]
    assert hist["train_accuracy"][-1] > 0.9
    assert set(hist.grad_norms) == {"0.W", "2.W", "4.W"}
    assert len(hist.grad_norms["0.W"]) == 15 * 8  # one per step
    ev = model.evaluate(X, y)
    assert ev["accuracy"] == pytest.approx(hist["train_accuracy"][-1])
    assert model.predict(X).shape == (120,)
    np.testing.assert_allclose(model.predict_proba(X).sum(1), 1, rtol=1e-5)


def test_full_batch_is_one_step_per_epoch(rng):
    X, y = _blobs(rng, 50)
    hist = _mlp().fit(X, y, epochs=3, batch_size=None, seed=0, verbose=False)
    assert len(hist.grad_norms["0.W"]) == 3


def test_same_seed_identical_history_bit_for_bit(rng):
    X, y = _blobs(rng)
    runs = []
    for _ in range(2):
        model = Sequential([Dense(5, 16), ReLU(), Dropout(0.3), Dense(16, 3)], seed=3,
                           optimizer={"kind": "adam", "lr": 0.01}, weight_regularizer=L1(1e-3, mode="prox"))
        h = model.fit(X, y, epochs=4, batch_size=10, seed=11, validation_data=(X, y), verbose=False)
        d = h.to_dict()
        d["history"].pop("time")
        runs.append((d, [v.tobytes() for _, v in model.named_parameters()]))
    assert runs[0] == runs[1]
    other = Sequential([Dense(5, 16), ReLU(), Dropout(0.3), Dense(16, 3)], seed=3,
                       optimizer={"kind": "adam", "lr": 0.01}).fit(X, y, epochs=1, batch_size=10, seed=12, verbose=False)
    assert other["data_loss"][0] != runs[0][0]["history"]["data_loss"][0]


def test_divergence_names_epoch_and_step_and_keeps_last_good_weights(rng):
    X, y = _blobs(rng)
    X = X * 1e3
    model = Sequential([Dense(5, 32), ReLU(), Dense(32, 3)], seed=0, optimizer={"kind": "sgd", "lr": 1e3},
                       dtype="float32")
    snapshots = []

    class Spy(proxnet.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append(logs)

    with pytest.raises(TrainingDivergedError, match=r"epoch \d+, step \d+") as info:
        with np.errstate(all="ignore"):
            model.fit(X, y, epochs=50, batch_size=8, seed=0, verbose=False, callbacks=[Spy()])
    assert info.value.step >= 0
    for _, v in model.named_parameters():
        assert np.isfinite(v).all()
    with np.errstate(all="ignore"):
        out = model.forward(X[:8])
    assert np.isfinite(model.loss_fn(out, y[:8])[0]) or info.value.step == 0


def test_input_validation(rng):
    model = _mlp()
    X, y = _blobs(rng, 20)
    with pytest.raises(ValueError, match=r"Dense input: expected shape \(N, 5\)"):
        model.fit(X[:, :4], y, verbose=False)
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="X: contains 1 NaN"):
        model.fit(bad, y, verbose=False)
    with pytest.raises(ValueError, match=r"y: labels must be in \[0, 2\]"):
        model.fit(X, y + 5, verbose=False)
    with pytest.raises(ValueError, match="y: expected 20 targets"):
        model.fit(X, y[:10], verbose=False)
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(X, y, batch_size=0, verbose=False)
    with pytest.raises(ValueError, match="unknown optimizer"):
        Sequential([Dense(2, 2)], optimizer="adagrad-ish")
    with pytest.raises(ValueError, match="layers"):
        Sequential([])
    with pytest.raises(ValueError, match=r"layers\[0\]"):
        Sequential(["dense"])


def test_evaluate_checked_gives_evaluate_and_fit_checks_its_validation_data_once(rng, monkeypatch):
    X, y = _blobs(rng)
    model = _mlp()
    model.fit(X[:80], y[:80], epochs=2, batch_size=16, verbose=False)
    Xv, yv = X[80:].astype(np.float64), y[80:]           # cast to the model's float32 by check_X
    checked = model.check_X(Xv)
    assert model.evaluate_checked(checked, model.check_y(yv, checked)) == model.evaluate(Xv, yv)
    names = []
    check_X = Sequential.check_X
    monkeypatch.setattr(Sequential, "check_X", lambda self, X, name="X": names.append(name) or check_X(self, X, name))
    for epochs in (1, 4):
        names.clear()
        history = model.fit(X[:80], y[:80], epochs=epochs, batch_size=16, validation_data=(Xv, yv), verbose=False)
        assert names == ["X", "validation_data[0]"]          # in the plan, not once per epoch
        assert len(history["val_accuracy"]) == epochs
    assert history["val_loss"][-1] == model.evaluate(Xv, yv)["loss"]


def test_early_stopping_restores_best_weights(rng):
    X, y = _blobs(rng)
    Xv, yv = _blobs(np.random.default_rng(99), 60)
    seen = {}

    class Record(proxnet.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen[epoch] = ({k: v.copy() for k, v in self.model.named_parameters()}, logs["val_loss"])

    es = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    model = _mlp(optimizer={"kind": "sgd", "lr": 0.5})
    model.fit(X, y, epochs=60, batch_size=8, validation_data=(Xv, yv), seed=0, verbose=False,
              callbacks=[Record(), es])
    assert es.stopped_epoch_ is not None and es.stopped_epoch_ < 59
    best_epoch = min(seen, key=lambda e: seen[e][1])
    assert es.best_epoch_ == best_epoch
    for name, value in model.named_parameters():
        np.testing.assert_array_equal(value, seen[best_epoch][0][name])
    assert model.evaluate(Xv, yv)["loss"] == pytest.approx(seen[best_epoch][1], rel=1e-5)


def test_regression_mse(rng):
    X = rng.uniform(-1, 1, size=(64, 1))
    y = X ** 2
    model = Sequential([Dense(1, 16), Tanh(), Dense(16, 1)], loss="mse", seed=0,
                       optimizer={"kind": "adam", "lr": 0.02})
    h = model.fit(X, y, epochs=150, batch_size=None, seed=0, verbose=False)
    assert "train_mse" in h and h["train_mse"][-1] < 0.01
    assert model.predict(X).shape == (64, 1)


def test_mse_classifier_accuracy(rng):
    X, y = _blobs(rng)
    model = _mlp(loss="mse", optimizer={"kind": "sgd", "lr": 0.03})
    h = model.fit(X, y, epochs=10, batch_size=16, seed=0, verbose=False)
    assert "train_accuracy" in h and h["train_accuracy"][-1] > 0.8


def test_binary_logits(rng):
    X = rng.normal(size=(100, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.float64)
    model = Sequential([Dense(2, 16), Tanh(), Dense(16, 1)], loss="bce_logits", seed=0,
                       optimizer={"kind": "adam", "lr": 0.05})
    h = model.fit(X, y, epochs=100, batch_size=None, seed=0, verbose=False)
    assert h["train_accuracy"][-1] > 0.9
    assert set(np.unique(model.predict(X))) <= {0, 1}


def test_float64_model(rng):
    model = _mlp(dtype="float64")
    X, y = _blobs(rng, 10)
    assert all(v.dtype == np.float64 for _, v in model.named_parameters())
    assert model.forward(model.check_X(X)).dtype == np.float64
    with pytest.raises(ValueError, match="dtype"):
        _mlp(dtype="int32")


def test_warm_start_continues_optimizer_state(rng):
    X, y = _blobs(rng)
    a = _mlp(optimizer={"kind": "adam", "lr": 0.01})
    a.fit(X, y, epochs=4, batch_size=30, shuffle=False, seed=0, verbose=False)
    b = _mlp(optimizer={"kind": "adam", "lr": 0.01})
    b.fit(X, y, epochs=2, batch_size=30, shuffle=False, seed=0, verbose=False)
    b.fit(X, y, epochs=2, batch_size=30, shuffle=False, seed=0, verbose=False)
    for (_, va), (_, vb) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_allclose(va, vb, rtol=1e-6, atol=1e-7)


def test_progress_bar_can_be_turned_on_and_off(rng, capsys):
    X, y = _blobs(rng, 40)
    _mlp().fit(X, y, epochs=3, batch_size=10, seed=0, verbose=True)
    err = capsys.readouterr().err
    assert "fit" in err and "3/3" in err
    _mlp().fit(X, y, epochs=3, batch_size=10, seed=0, verbose=False)
    assert capsys.readouterr().err == ""


def test_a_blow_up_on_the_very_last_step_is_caught_and_the_last_good_weights_kept(rng):
    X, y = _blobs(rng)
    model = Sequential([Dense(5, 16), ReLU(), Dense(16, 3)], seed=0, optimizer={"kind": "sgd", "lr": 1e30})
    before = {k: v.copy() for k, v in model.named_parameters()}
    expected = model.predict(X)
    with np.errstate(all="ignore"):
        with pytest.raises(TrainingDivergedError, match="parameters or the outputs are NaN or inf") as info:
            model.fit(X, y, epochs=1, batch_size=None, seed=0, verbose=False)   # one full-batch step
    assert (info.value.epoch, info.value.step) == (0, 0)
    for name, value in model.named_parameters():
        np.testing.assert_array_equal(value, before[name])
    np.testing.assert_array_equal(model.predict(X), expected)
    assert np.isfinite(model.evaluate(X, y)["loss"])


@pytest.mark.parametrize("name, value, message", [
    ("epochs", "2", "epochs: expected an integer >= 0, got '2' (str)"),
    ("epochs", 1.7, "epochs: expected an integer >= 0, got 1.7 (float)"),
    ("epochs", 2.0, "epochs: expected an integer >= 0, got 2.0 (float)"),
    ("epochs", True, "epochs: expected an integer >= 0, got True (bool)"),
    ("epochs", float("nan"), "epochs: expected an integer >= 0, got nan (float)"),
    ("epochs", -1, "epochs: expected an integer >= 0, got -1"),
    ("batch_size", 8.0, "batch_size: expected an integer >= 1, got 8.0 (float)"),
    ("batch_size", np.True_, "batch_size: expected an integer >= 1"),
    ("batch_size", 0, "batch_size: expected an integer >= 1, got 0"),
])
def test_counts_are_integers_and_errors_name_the_argument(rng, name, value, message):
    X, y = _blobs(rng, 20)
    with pytest.raises(ValueError, match=re.escape(message)):
        _mlp().fit(X, y, verbose=False, **{name: value})
    _mlp().fit(X, y, epochs=np.int64(1), batch_size=np.int32(8), verbose=False)   # NumPy ints are fine


def test_complex_and_non_numeric_inputs_are_refused(rng):
    X, y = _blobs(rng, 20)
    model = _mlp()
    with pytest.raises(ValueError, match=r"X: expected real numbers, got complex values"):
        model.fit(X + 1j, y, verbose=False)
    with pytest.raises(ValueError, match=r"validation_data\[0\]: expected real numbers"):
        model.fit(X, y, validation_data=(X * 1j, y), verbose=False)
    with pytest.raises(ValueError, match="X: expected a numeric array"):
        model.predict(X.astype(str))
    reg = Sequential([Dense(5, 1)], loss="mse", seed=0)
    with pytest.raises(ValueError, match="y: expected real numbers, got complex"):
        reg.fit(X, y.astype(complex)[:, None], verbose=False)


def test_weighted_layers_are_seeded_by_their_index_among_weighted_layers():
    from proxnet.architectures import mlp
    plain = mlp([6, 8, 8, 3], seed=4)
    dropped = mlp([6, 8, 8, 3], dropout=0.3, seed=4)
    other_activation = mlp([6, 8, 8, 3], activation="tanh", seed=4)
    dense = [[layer.params["W"] for layer in m.layers if layer.params] for m in (plain, dropped, other_activation)]
    assert len(dense[0]) == 3 and len(plain.layers) < len(dropped.layers)
    for a, b, c in zip(*dense):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    assert not np.array_equal(dense[0][0], mlp([6, 8, 8, 3], seed=5).layers[0].params["W"])
