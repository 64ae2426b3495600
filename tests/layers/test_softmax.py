"""The Softmax layer: stable forward, exact backward (the full Jacobian-vector product),
the PyTorch oracle, and MSE on softmax probabilities through the MLP builder."""
import numpy as np
import pytest

from proxnet.architectures import mlp
from proxnet.gradcheck import TOLERANCE, check_all, check_layer, check_model
from proxnet.layers import ACTIVATIONS, LAYERS, Softmax


def test_registered_as_layer_and_activation():
    assert LAYERS.get_item("Softmax") is Softmax and ACTIVATIONS.get_item("softmax") is Softmax
    assert Softmax.shardable and Softmax().get_config() == {} and not Softmax().params
    row = [r for r in check_all() if r["name"] == "softmax"]
    assert len(row) == 1 and row[0]["passed"], row


@pytest.mark.parametrize("shape", [(5, 4), (3, 1), (2, 3, 6)])
def test_gradcheck(shape, rng):
    errs = check_layer(Softmax(), rng.normal(size=shape))
    assert errs["x"] < TOLERANCE, errs


def test_backward_is_the_full_jacobian_product(rng):
    x, dout = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    layer = Softmax()
    s = layer.forward(x, training=True)
    dx = layer.backward(dout)
    for n in range(4):  # J = diag(s) − s sᵀ, symmetric
        J = np.diag(s[n]) - np.outer(s[n], s[n])
        np.testing.assert_allclose(dx[n], J.T @ dout[n], rtol=0, atol=1e-15)
    # the diagonal alone (s(1 − s)·dout) is not it
    assert np.abs(dx - s * (1 - s) * dout).max() > 1e-3


def test_forward_is_stable_and_sums_to_one(rng):
    x = np.array([[1000.0, 0.0, -1000.0], [-1e300, -1e300, -1e300], [0.0, 0.0, 0.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):   # exp(−2000) may underflow to 0
        s = Softmax().forward(x)
    np.testing.assert_allclose(s, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-15)
    x = rng.normal(size=(50, 7)).astype(np.float32) * 30
    s = Softmax().forward(x)
    assert s.dtype == np.float32 and (s >= 0).all()
    np.testing.assert_allclose(s.sum(axis=1), 1, rtol=1e-6)
    layer = Softmax()
    layer.forward(x, training=True)
    assert layer.backward(np.ones_like(x)).dtype == np.float32
    assert Softmax().forward(np.array([[1, 2, 3]])).dtype == np.float64   # int inputs: float64


def test_shards_give_the_batch(rng):
    """Samples are independent: forward and backward on halves equal the whole batch."""
    x, dout = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    whole = Softmax()
    out, dx = whole.forward(x, training=True), whole.backward(dout)
    parts = [Softmax().replica() for _ in range(2)]
    outs = [p.forward(x[i * 3:(i + 1) * 3], training=True) for i, p in enumerate(parts)]
    dxs = [p.backward(dout[i * 3:(i + 1) * 3]) for i, p in enumerate(parts)]
    np.testing.assert_array_equal(np.concatenate(outs), out)
    np.testing.assert_array_equal(np.concatenate(dxs), dx)


def test_errors():
    with pytest.raises(RuntimeError, match="before forward"):
        Softmax().backward(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"Softmax input: expected shape \(N, K\) with K >= 1, got \(3,\)"):
        Softmax().forward(np.ones(3))
    with pytest.raises(ValueError, match="Softmax input"):
        Softmax().forward(np.ones((3, 0)))
    layer = Softmax()
    layer.forward(np.ones((2, 3)), training=True)
    with pytest.raises(ValueError, match=r"Softmax backward: expected dout of shape \(2, 3\), got \(2, 4\)"):
        layer.backward(np.ones((2, 4)))


def test_matches_torch(torch, rng):
    x = rng.normal(size=(8, 6)) * 5
    x[0] = [700.0, 1.0, -3.0, 699.0, 0.0, 2.0]   # large logits: the max shift matters
    dout = rng.normal(size=x.shape)
    layer = Softmax()
    out = layer.forward(x, training=True)
    dx = layer.backward(dout)
    xt = torch.tensor(x, requires_grad=True)
    tout = torch.softmax(xt, dim=-1)
    tout.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=0, atol=1e-15)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=1e-14)


# -- MSE on softmax probabilities ---------------------------------------------------------------------
def test_mlp_softmax_output_with_mse_gradcheck(rng):
    model = mlp([5, 6, 4], activation="tanh", output_activation="softmax", loss="mse",
                weight_regularizer={"kind": "l2", "lam": 1e-2}, seed=0, dtype="float64")
    assert type(model.layers[-1]) is Softmax
    for layer in model.layers:
        if "b" in layer.params:
            layer.params["b"][...] = rng.normal(scale=0.1, size=layer.params["b"].shape)
    errs = check_model(model, rng.normal(size=(7, 5)), np.arange(7) % 4)
    assert len(errs) == 4 and max(errs.values()) < TOLERANCE, errs


def test_mlp_softmax_output_with_mse_trains(rng):
    centers = np.eye(3, 4) * 4     # three separable clusters
    y = np.arange(90) % 3
    X = centers[y] + rng.normal(size=(90, 4))
    model = mlp([4, 16, 3], output_activation="softmax", loss="mse", seed=0,
                optimizer={"kind": "sgd", "lr": 0.5})
    before = model.evaluate(X, y)
    hist = model.fit(X, y, epochs=10, batch_size=10, seed=0, verbose=False)
    after = model.evaluate(X, y)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    assert after["loss"] < 0.1 * before["loss"] and after["accuracy"] > 0.95, (before, after)
    np.testing.assert_allclose(model.forward(X[:5]).sum(axis=1), 1, rtol=1e-6)


def test_mlp_matches_torch_mse_on_softmax(torch, rng):
    """One forward/backward of 4-5-3 tanh → softmax → MSE against torch autograd."""
    model = mlp([4, 5, 3], activation="tanh", output_activation="softmax", loss="mse", seed=1,
                dtype="float64")
    X, y = rng.normal(size=(6, 4)), np.arange(6) % 3
    loss, grads = model.loss_and_grads(X, y)
    W0, b0 = (torch.tensor(model.layers[0].params[k], requires_grad=True) for k in ("W", "b"))
    W1, b1 = (torch.tensor(model.layers[2].params[k], requires_grad=True) for k in ("W", "b"))
    p = torch.softmax(torch.tanh(torch.tensor(X) @ W0 + b0) @ W1 + b1, dim=1)
    tloss = torch.nn.functional.mse_loss(p, torch.nn.functional.one_hot(torch.tensor(y), 3).double())
    tloss.backward()
    assert abs(loss - tloss.item()) < 1e-12
    for name, t in (("0.W", W0), ("0.b", b0), ("2.W", W1), ("2.b", b1)):
        np.testing.assert_allclose(grads[name], t.grad.numpy(), rtol=0, atol=1e-12, err_msg=name)


def test_log_softmax_is_the_log_of_softmax_and_stays_finite():
    from proxnet.functional.activations import log_softmax, softmax
    x = np.random.default_rng(3).normal(size=(5, 4)) * 10
    np.testing.assert_allclose(log_softmax(x), np.log(softmax(x)), rtol=1e-12, atol=1e-12)
    far = np.array([[0.0, -1e4, 1e4]])          # softmax underflows to 0 for two entries
    assert softmax(far)[0, 0] == 0.0
    assert np.isfinite(log_softmax(far)).all() and log_softmax(far)[0, 0] == -1e4
    assert softmax(np.array([[1, 2, 3]])).dtype == np.float64     # integers are promoted
