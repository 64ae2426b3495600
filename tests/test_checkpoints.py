"""Checkpoints resume exactly: save mid-training, load, train on == train uninterrupted, bit
for bit, for every optimizer with a schedule, dropout and shuffling on; successive fit calls
continue one random stream; ModelCheckpoint files resume; format-1 files load their weights."""
from pathlib import Path

import numpy as np
import pytest

import proxnet
from proxnet import ModelCheckpoint, Sequential
from proxnet.callbacks import Callback
from proxnet.layers import Dense, Dropout, ReLU, Tanh
from proxnet.regularizers import L1, L2

FIXTURES = Path(__file__).parent / "fixtures"

OPTIMIZERS = [
    {"kind": "sgd", "lr": 0.05},
    {"kind": "sgd", "lr": 0.05, "momentum": 0.9},
    {"kind": "nesterov", "lr": 0.05, "momentum": 0.9},
    {"kind": "rmsprop", "lr": 0.01, "momentum": 0.5},
    {"kind": "adam", "lr": 0.01},
    {"kind": "adamw", "lr": 0.01, "wd": 0.05},
]
SCHEDULES = [{"kind": "cosine", "t_max": 4}, {"kind": "step", "step_size": 2, "gamma": 0.5},
             {"kind": "exponential", "decay": 0.9}]


def _data(n=60):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 6))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
    return X, y


def _model(optimizer, schedule, dtype="float32"):
    return Sequential([Dense(6, 16, weight_regularizer=L1(1e-3, mode="prox")), ReLU(), Dropout(0.3),
                       Dense(16, 8), Tanh(), Dropout(0.2), Dense(8, 3)],
                      optimizer={**optimizer, "schedule": schedule}, weight_regularizer=L2(1e-3),
                      seed=1, dtype=dtype)


def _weights(model):
    return [v.tobytes() for _, v in model.named_parameters()]


@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=lambda o: o["kind"] + ("+m" if o.get("momentum") else ""))
@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: s["kind"])
def test_save_load_and_train_on_equals_uninterrupted(tmp_path, optimizer, schedule):
    X, y = _data()
    ref = _model(optimizer, schedule)
    ref.fit(X, y, epochs=5, batch_size=16, seed=3, verbose=False)

    first = _model(optimizer, schedule)
    first.fit(X, y, epochs=2, batch_size=16, seed=3, verbose=False)
    proxnet.save(first, tmp_path / "ckpt.npz")
    resumed = proxnet.load(tmp_path / "ckpt.npz")
    assert resumed.epochs_done == 2
    assert resumed.optimizer.step_count == first.optimizer.step_count
    h = resumed.fit(X, y, epochs=3, batch_size=16, verbose=False)
    assert h["epoch"] == [2, 3, 4]
    assert _weights(resumed) == _weights(ref)
    assert resumed.optimizer.lr == ref.optimizer.lr
    # the in-memory continuation is the same too
    first.fit(X, y, epochs=3, batch_size=16, verbose=False)
    assert _weights(first) == _weights(ref)


def test_two_fits_equal_one_and_seed_restarts_the_stream():
    X, y = _data()
    a = _model(OPTIMIZERS[4], SCHEDULES[0])
    a.fit(X, y, epochs=4, batch_size=16, seed=0, verbose=False)
    b = _model(OPTIMIZERS[4], SCHEDULES[0])
    b.fit(X, y, epochs=2, batch_size=16, seed=0, verbose=False)
    b.fit(X, y, epochs=2, batch_size=16, verbose=False)
    assert _weights(a) == _weights(b)
    c = _model(OPTIMIZERS[4], SCHEDULES[0])
    c.fit(X, y, epochs=2, batch_size=16, seed=0, verbose=False)
    c.fit(X, y, epochs=2, batch_size=16, seed=0, verbose=False)     # restarts: replays epoch 1's order
    assert _weights(c) != _weights(a)


def test_float64_and_a_checkpoint_before_any_fit(tmp_path):
    X, y = _data()
    fresh = _model(OPTIMIZERS[1], SCHEDULES[1], dtype="float64")
    proxnet.save(fresh, tmp_path / "fresh")                          # .npz is added
    loaded = proxnet.load(tmp_path / "fresh.npz")
    assert loaded.epochs_done == 0 and loaded.trainer.shuffle_rng is None
    assert loaded.dtype == np.float64
    for m in (fresh, loaded):
        m.fit(X, y, epochs=2, batch_size=20, seed=5, verbose=False)
    assert _weights(fresh) == _weights(loaded)


def test_model_checkpoint_files_resume_exactly(tmp_path):
    X, y = _data()
    ref = _model(OPTIMIZERS[4], SCHEDULES[0])
    ref.fit(X, y, epochs=4, batch_size=16, seed=2, verbose=False)
    run = _model(OPTIMIZERS[4], SCHEDULES[0])
    ckpt = ModelCheckpoint(tmp_path / "ckpt-{epoch:02d}.npz", every_epochs=2)
    run.fit(X, y, epochs=4, batch_size=16, seed=2, verbose=False, callbacks=[ckpt])
    assert [p.name for p in ckpt.saved] == ["ckpt-02.npz", "ckpt-04.npz"]
    resumed = proxnet.load(tmp_path / "ckpt-02.npz")
    resumed.fit(X, y, epochs=2, batch_size=16, verbose=False)
    assert _weights(resumed) == _weights(ref) == _weights(proxnet.load(tmp_path / "ckpt-04.npz"))


def test_model_checkpoint_best_only_and_bad_filepath(tmp_path):
    X, y = _data()
    model = _model(OPTIMIZERS[0], SCHEDULES[2])
    best = ModelCheckpoint(tmp_path / "best.npz", save_best_only=True, monitor="loss")
    model.fit(X, y, epochs=6, batch_size=16, seed=0, verbose=False, callbacks=[best])
    losses = model.history["loss"]
    improvements = sum(1 for i, v in enumerate(losses) if v < min(losses[:i], default=np.inf))
    assert len(best.saved) == improvements >= 1
    with pytest.raises(ValueError, match="filepath: cannot fill"):
        model.fit(X, y, epochs=1, verbose=False, callbacks=[ModelCheckpoint(tmp_path / "{nope}.npz")])
    with pytest.raises(ValueError, match="every_epochs"):
        ModelCheckpoint(tmp_path / "x.npz", every_epochs=0)


def test_format_1_files_load_weights_with_a_warning():
    with pytest.warns(proxnet.io.TrainingStateWarning, match="weights only"):
        model = proxnet.load(FIXTURES / "model-format-1.npz")
    expected = np.load(FIXTURES / "model-format-1-expected.npy")
    got = np.concatenate([v.ravel() for _, v in model.named_parameters()])
    assert np.array_equal(got, expected)
    assert model.epochs_done == 0 and model.optimizer.step_count == 0
    assert model.optimizer.rule.name == "adam"
    X, y = _data(40)
    model.fit(X[:, :5], y, epochs=1, batch_size=10, seed=0, verbose=False)   # trains on


def test_sklearn_warm_start_and_pickle_still_work(tmp_path):
    pickle = pytest.importorskip("pickle")
    from proxnet.sklearn import MLPClassifier
    X, y = _data()
    clf = MLPClassifier((8,), max_epochs=3, n_iter_no_change=100, random_state=0, warm_start=True)
    with pytest.warns(Warning):
        clf.fit(X, y)
    clone = pickle.loads(pickle.dumps(clf))
    with pytest.warns(Warning):
        clf.fit(X, y)
        clone.fit(X, y)
    assert [c.tobytes() for c in clf.coefs_] == [c.tobytes() for c in clone.coefs_]


class _Count(Callback):
    def __init__(self):
        super().__init__()
        self.calls = {}

    def _hit(self, name):
        self.calls[name] = self.calls.get(name, 0) + 1

    def on_train_begin(self, logs=None):
        self._hit("train_begin")

    def on_train_end(self, logs=None):
        self._hit("train_end")

    def on_epoch_begin(self, epoch, logs=None):
        self._hit("epoch_begin")

    def on_epoch_end(self, epoch, logs=None):
        assert self.model is not None and "loss" in logs
        self._hit("epoch_end")

    def on_batch_begin(self, batch, logs=None):
        self._hit("batch_begin")

    def on_batch_end(self, batch, logs=None):
        assert np.isfinite(logs["loss"]) and logs["size"] > 0
        self._hit("batch_end")


def test_keras_style_callback_gets_every_hook_the_right_number_of_times():
    X, y = _data(50)
    model = _model(OPTIMIZERS[0], SCHEDULES[0])
    cb = _Count()
    model.fit(X, y, epochs=3, batch_size=16, seed=0, verbose=False, callbacks=[cb])
    assert cb.calls == {"train_begin": 1, "train_end": 1, "epoch_begin": 3, "epoch_end": 3,
                        "batch_begin": 12, "batch_end": 12}          # ceil(50 / 16) = 4 steps
    assert cb.params == {"epochs": 3, "steps": 4, "batch_size": 16, "samples": 50}
