"""compact(model): fewer parameters, same predictions."""
import numpy as np
import pytest

from proxnet import Sequential
from proxnet.compact import compact
from proxnet.layers import Dense, Dropout, ReLU, Sigmoid
from proxnet.regularizers import GroupLasso


def _model(act=ReLU, seed=0):
    return Sequential([Dense(6, 10), act(), Dropout(0.1), Dense(10, 8), act(), Dense(8, 3)], seed=seed,
                      dtype="float64")


@pytest.mark.parametrize("act", [ReLU, Sigmoid])
def test_compact_removes_dead_and_unused_units(act, rng):
    m = _model(act)
    W0, b0 = m.layers[0].params["W"], m.layers[0].params["b"]
    W0[:, [1, 4, 7]] = 0.0                      # dead units in layer 0 (biases non-zero)
    b0[:] = rng.normal(size=b0.shape)
    m.layers[3].params["W"][[2, 5], :] = 0.0    # units of layer 0 whose outputs are unused
    m.layers[5].params["W"][[0], :] = 0.0       # unit 0 of layer 3 unused
    X = rng.normal(size=(50, 6))
    c = compact(m)
    assert c.compaction_ == {0: 5, 3: 1}
    assert c.layers[0].params["W"].shape == (6, 5) and c.layers[3].params["W"].shape == (5, 7)
    assert c.n_params() < m.n_params()
    np.testing.assert_array_equal(c.predict(X), m.predict(X))
    np.testing.assert_allclose(c.forward(X), m.forward(X), rtol=1e-12, atol=1e-12)
    assert m.layers[0].params["W"].shape == (6, 10)  # the input model is untouched


def test_compact_after_group_lasso_prox_training(rng):
    X = rng.normal(size=(200, 6))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
    m = Sequential([Dense(6, 32), ReLU(), Dense(32, 3)], seed=1, weight_regularizer=GroupLasso(0.05, mode="prox"),
                   optimizer={"kind": "sgd", "lr": 0.1})
    m.fit(X, y, epochs=30, batch_size=20, seed=0, verbose=False)
    c = compact(m)
    assert c.compaction_.get(0, 0) > 0
    assert c.n_params() < m.n_params()
    np.testing.assert_array_equal(c.predict(X), m.predict(X))
    c.fit(X, y, epochs=1, batch_size=20, seed=0, verbose=False)  # still trainable


def test_compact_nothing_to_remove(rng):
    m = _model()
    c = compact(m)
    assert c.compaction_ == {} and c.n_params() == m.n_params()
