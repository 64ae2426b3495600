"""Dense, activations, dropout and flatten: gradient checks and the PyTorch oracle."""
import numpy as np
import pytest

from proxnet.gradcheck import check_layer
from proxnet.layers import (ACTIVATIONS, Dense, Dropout, Flatten, Identity, LeakyReLU, ReLU,
                            Sigmoid, Tanh)
from proxnet.layers.initializers import initialize

from ..conftest import away_from_zero

ACTS = [ReLU, LeakyReLU, Sigmoid, Tanh, Identity]


def test_dense_gradcheck(rng):
    errs = check_layer(Dense(7, 5, seed=0), rng.normal(size=(4, 7)))
    assert set(errs) == {"x", "W", "b"}
    assert max(errs.values()) < 1e-6, errs


@pytest.mark.parametrize("cls", ACTS)
def test_activation_gradcheck(cls, rng):
    errs = check_layer(cls(), away_from_zero(rng, (6, 5)))
    assert errs["x"] < 1e-6


def test_dropout_gradcheck_with_fixed_mask(rng):
    errs = check_layer(Dropout(0.5), rng.normal(size=(8, 6)), seed=3)
    assert errs["x"] < 1e-6


def test_flatten_roundtrip_and_grad(rng):
    x = rng.normal(size=(2, 3, 4, 5))
    f = Flatten()
    assert f.forward(x).shape == (2, 60)
    assert f.backward(np.ones((2, 60))).shape == x.shape
    assert check_layer(Flatten(), x)["x"] < 1e-6


def test_dropout_is_inverted_and_seeded():
    x = np.ones((2000, 50))
    a = Dropout(0.3, seed=7).forward(x, training=True)
    b = Dropout(0.3, seed=7).forward(x, training=True)
    assert np.array_equal(a, b)
    assert abs((a == 0).mean() - 0.3) < 0.01          # rate = probability of dropping
    assert np.allclose(a[a != 0], 1 / 0.7)            # kept entries scaled up
    assert abs(a.mean() - 1) < 0.01                   # expectation preserved
    assert Dropout(0.3).forward(x, training=False) is x


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_dropout_rejects_bad_rate(rate):
    with pytest.raises(ValueError, match="rate"):
        Dropout(rate)


def test_dense_shape_errors():
    d = Dense(3, 2)
    with pytest.raises(ValueError, match=r"expected shape \(N, 3\)"):
        d.forward(np.ones((4, 5)))
    with pytest.raises(ValueError, match="in_features"):
        Dense(0, 2)


def test_initializers_statistics():
    rng = np.random.default_rng(0)
    W = initialize("he", (1000, 500), 1000, 500, rng, np.float64)
    assert abs(W.std() - np.sqrt(2 / 1000)) < 1e-3
    W = initialize("xavier", (1000, 500), 1000, 500, rng, np.float64)
    assert abs(W.std() - np.sqrt(2 / 1500)) < 1e-3
    W = initialize({"kind": "normal", "std": 0.01}, (300, 300), 300, 300, rng, np.float32)
    assert W.dtype == np.float32 and abs(W.std() - 0.01) < 5e-4
    W = initialize({"kind": "uniform", "limit": 0.2}, (300, 300), 300, 300, rng, np.float64)
    assert W.min() >= -0.2 and W.max() <= 0.2 and abs(W.std() - 0.2 / np.sqrt(3)) < 2e-3
    assert not Dense(4, 3).params["b"].any()  # biases zero by default
    with pytest.raises(ValueError, match="unknown initializer 'nope'; valid names: .*he"):
        initialize("nope", (2, 2), 2, 2, rng, np.float32)


def test_unknown_activation_lists_names():
    with pytest.raises(ValueError, match="unknown activation 'swish'; valid names:.*relu"):
        ACTIVATIONS.get_item("swish")


def test_same_seed_same_weights():
    assert np.array_equal(Dense(5, 4, seed=1).params["W"], Dense(5, 4, seed=1).params["W"])
    assert not np.array_equal(Dense(5, 4, seed=1).params["W"], Dense(5, 4, seed=2).params["W"])


# -- PyTorch oracle (float64, 1e-10) -----------------------------------------------------

def _torch_grads(torch, fn, x, dout, *params):
    xt = torch.tensor(x, requires_grad=True)
    pts = [torch.tensor(p, requires_grad=True) for p in params]
    out = fn(xt, *pts)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), xt.grad.numpy(), [p.grad.numpy() for p in pts]


def test_dense_matches_torch(torch, rng):
    layer = Dense(6, 4, seed=0)
    layer.astype(np.float64)
    x, dout = rng.normal(size=(5, 6)), rng.normal(size=(5, 4))
    out = layer.forward(x, training=True)
    dx = layer.backward(dout)
    W, b = layer.params["W"], layer.params["b"]
    t_out, t_dx, (t_dW, t_db) = _torch_grads(
        torch, lambda xt, Wt, bt: torch.nn.functional.linear(xt, Wt.T, bt), x, dout, W, b)
    np.testing.assert_allclose(out, t_out, rtol=0, atol=1e-10)
    np.testing.assert_allclose(dx, t_dx, rtol=0, atol=1e-10)
    np.testing.assert_allclose(layer.grads["W"], t_dW, rtol=0, atol=1e-10)
    np.testing.assert_allclose(layer.grads["b"], t_db, rtol=0, atol=1e-10)


@pytest.mark.parametrize("cls,name", [(ReLU, "relu"), (Sigmoid, "sigmoid"), (Tanh, "tanh"),
                                      (LeakyReLU, "leaky_relu"), (Identity, "identity")])
def test_activations_match_torch(torch, rng, cls, name):
    F = torch.nn.functional
    fns = {"relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
           "leaky_relu": lambda t: F.leaky_relu(t, 0.01), "identity": lambda t: t * 1.0}
    x = rng.normal(size=(6, 5)) * 3
    x[0, 0] = 0.0  # the kink: both use gradient 0 for ReLU at 0
    dout = rng.normal(size=x.shape)
    layer = cls()
    out = layer.forward(x, training=True)
    dx = layer.backward(dout)
    t_out, t_dx, _ = _torch_grads(torch, fns[name], x, dout)
    np.testing.assert_allclose(out, t_out, rtol=0, atol=1e-10)
    np.testing.assert_allclose(dx, t_dx, rtol=0, atol=1e-10)


def test_sigmoid_no_overflow_warning():
    with np.errstate(all="raise"):
        out = Sigmoid().forward(np.array([[-1000.0, 0.0, 1000.0]]))
    np.testing.assert_allclose(out, [[0.0, 0.5, 1.0]])


def test_float32_stays_float32(rng):
    x = rng.normal(size=(4, 3)).astype(np.float32)
    for layer in (Dense(3, 2), ReLU(), Sigmoid(), Tanh(), LeakyReLU(), Dropout(0.2, seed=0)):
        out = layer.forward(x if not isinstance(layer, Dense) else x, training=True)
        assert out.dtype == np.float32, layer
        assert layer.backward(np.ones_like(out)).dtype == np.float32, layer
        x2 = out if out.shape[1] == 3 else x
        x = x2 if isinstance(layer, Dense) is False else x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_fast_path_equals_maximum_with_zero(dtype):
    from proxnet.functional import activations as A
    x = np.array([[-1.5, -0.0, 0.0, np.nan, 2.0, -np.inf, np.inf]], dtype)
    for shape in [(1, 7), (7, 1)]:
        xs = x.reshape(shape)
        with np.errstate(invalid="ignore"):
            out, cache = A.relu_forward(xs)
            ref = np.maximum(xs, 0)
        np.testing.assert_array_equal(out, ref)
        assert out.dtype == dtype and out.shape == shape
        assert np.array_equal(np.signbit(out), np.signbit(ref), equal_nan=True)
    big = np.random.default_rng(0).normal(size=(3, 70000)).astype(dtype)   # grows the buffer
    np.testing.assert_array_equal(A.relu_forward(big)[0], np.maximum(big, 0))
    np.testing.assert_array_equal(A.relu_forward(big[:, ::3])[0], np.maximum(big[:, ::3], 0))
