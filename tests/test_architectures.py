"""The lenet5() and mlp() builders: structure, errors, whole-model gradients, PyTorch oracle."""
import numpy as np
import pytest

from proxnet import Sequential
from proxnet.architectures import lenet5, mlp
from proxnet.gradcheck import KINK_TOLERANCE, TOLERANCE, check_model
from proxnet.layers import (AvgPool2D, Conv2D, Dense, Dropout, Flatten, LeakyReLU, MaxPool2D,
                            ReLU, Sigmoid, Tanh)

VARIANTS = ["classic", "compact"]
POOLINGS = ["max", "avg"]


def _kinds(model):
    return [type(layer).__name__ for layer in model.layers]


# -- lenet5: structure -------------------------------------------------------------------------------
@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_lenet5_structure_and_output_shape(variant, pooling, rng):
    model = lenet5(variant=variant, pooling=pooling, seed=0)
    pool = "MaxPool2D" if pooling == "max" else "AvgPool2D"
    head = ["Dense", "ReLU", "Dense", "ReLU", "Dense"] if variant == "classic" else ["Dense", "ReLU", "Dense"]
    assert _kinds(model) == ["Conv2D", "ReLU", pool, "Conv2D", "ReLU", pool, "Flatten"] + head
    c1, c2 = model.layers[0], model.layers[3]
    assert (c1.in_channels, c1.out_channels, c1.kernel_size, c1.padding) == (1, 6, (5, 5), (2, 2))
    assert (c2.in_channels, c2.out_channels, c2.kernel_size, c2.padding) == (6, 16, (5, 5), (0, 0))
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    widths = [(d.in_features, d.out_features) for d in dense]
    assert widths == ([(400, 120), (120, 84), (84, 10)] if variant == "classic" else [(400, 84), (84, 10)])
    assert model.n_params() == (61706 if variant == "classic" else 37106)
    assert model.output_shape((1, 28, 28)) == (10,)
    assert model.forward(rng.random((3, 1, 28, 28))).shape == (3, 10)
    assert model.loss_fn.name == "softmax_cross_entropy" and model.dtype == np.float32


def test_lenet5_arguments():
    m = lenet5(variant="compact", activation="tanh", pooling="avg", in_channels=3, input_size=32,
               n_classes=7, dtype="float64", seed=0)
    assert isinstance(m.layers[1], Tanh) and isinstance(m.layers[2], AvgPool2D)
    assert m.layers[0].in_channels == 3 and m.layers[0].padding == (0, 0)  # 32 → 28: no padding
    assert m.output_shape((3, 32, 32)) == (7,) and m.layers[7].in_features == 400
    assert all(p.dtype == np.float64 for _, p in m.named_parameters())
    assert isinstance(lenet5(activation="leaky_relu").layers[1], LeakyReLU)
    assert isinstance(lenet5(activation="sigmoid").layers[4], Sigmoid)
    # padding 0 on 28×28 images: 28 → 24 → 12 → 8 → 4, 256 features
    assert lenet5(variant="compact", padding=0).layers[7].in_features == 256
    opt = lenet5(optimizer={"kind": "adam", "lr": 1e-3}, weight_regularizer={"kind": "l2", "lam": 1e-4})
    assert opt.optimizer.get_config()["rule"] == "adam"
    assert set(opt.regularizers()) == {"0.W", "3.W", "7.W", "9.W", "11.W"}


def test_lenet5_seed_fixes_the_weights():
    a, b, c = lenet5(seed=3), lenet5(seed=3), lenet5(seed=4)
    for (na, pa), (_, pb), (_, pc) in zip(a.named_parameters(), b.named_parameters(), c.named_parameters()):
        np.testing.assert_array_equal(pa, pb)
        if na.endswith("W"):
            assert not np.array_equal(pa, pc)


@pytest.mark.parametrize("kwargs, match", [
    ({"variant": "modern"}, "variant: expected one of 'classic', 'compact'"),
    ({"pooling": "l2"}, "pooling: expected one of 'max', 'avg'"),
    ({"activation": "swish"}, "unknown activation 'swish'"),
    ({"input_size": 12}, "input_size: 12×12 images"),
    ({"input_size": 0}, "input_size"),
    ({"in_channels": 0}, "in_channels"),
    ({"n_classes": 2.0}, "n_classes"),
    ({"padding": -1}, "padding"),
])
def test_lenet5_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        lenet5(**kwargs)


def test_lenet5_refuses_flat_images_with_a_hint(rng):
    model = lenet5(variant="compact", seed=0)
    with pytest.raises(ValueError, match="flatten=False"):
        model.fit(rng.random((4, 784)), np.arange(4), epochs=1, verbose=False)


# -- lenet5: gradients --------------------------------------------------------------------------------
@pytest.mark.parametrize("variant, activation, pooling, tol", [
    ("classic", "tanh", "avg", TOLERANCE),      # smooth everywhere
    ("compact", "relu", "max", KINK_TOLERANCE),  # kinks, kept out of reach by the random data
])
def test_lenet5_whole_model_gradcheck(variant, activation, pooling, tol, rng):
    model = lenet5(variant=variant, activation=activation, pooling=pooling, seed=1, dtype="float64",
                   weight_regularizer={"kind": "l2", "lam": 1e-3})
    for layer in model.layers:
        if "b" in layer.params:
            layer.params["b"][...] = rng.normal(scale=0.1, size=layer.params["b"].shape)
    X, y = rng.random((2, 1, 28, 28)), np.array([3, 7])
    errs = check_model(model, X, y, max_entries=25)
    assert len(errs) == (10 if variant == "classic" else 8)
    assert max(errs.values()) < tol, errs


def to_torch(torch, model):
    """A float64 torch.nn.Sequential with the layers and weights of a proxnet model."""
    mods = []
    acts = {ReLU: torch.nn.ReLU, Tanh: torch.nn.Tanh, Sigmoid: torch.nn.Sigmoid}
    for layer in model.layers:
        if isinstance(layer, Conv2D):
            m = torch.nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size,
                                stride=layer.stride, padding=layer.padding, bias=layer.bias).double()
            with torch.no_grad():
                m.weight.copy_(torch.from_numpy(layer.params["W"]))
                m.bias.copy_(torch.from_numpy(layer.params["b"]))
        elif isinstance(layer, Dense):
            m = torch.nn.Linear(layer.in_features, layer.out_features).double()
            with torch.no_grad():
                m.weight.copy_(torch.from_numpy(layer.params["W"].T))
                m.bias.copy_(torch.from_numpy(layer.params["b"]))
        elif isinstance(layer, MaxPool2D):
            m = torch.nn.MaxPool2d(layer.kernel_size, layer.stride)
        elif isinstance(layer, AvgPool2D):
            m = torch.nn.AvgPool2d(layer.kernel_size, layer.stride)
        elif isinstance(layer, Flatten):
            m = torch.nn.Flatten()
        else:
            m = acts[type(layer)]()
        mods.append(m)
    return torch.nn.Sequential(*mods)


def _torch_grads(tmodel, model):
    """proxnet-named gradients of a torch copy (Linear weights transposed back)."""
    out, mods = {}, list(tmodel)
    for i, layer in enumerate(model.layers):
        if "W" in layer.params:
            g = mods[i].weight.grad.numpy()
            out[f"{i}.W"] = g.T if isinstance(layer, Dense) else g
            out[f"{i}.b"] = mods[i].bias.grad.numpy()
    return out


@pytest.mark.parametrize("variant, activation, pooling", [
    ("classic", "relu", "max"), ("compact", "tanh", "avg"), ("compact", "sigmoid", "max")])
def test_lenet5_matches_torch(torch, variant, activation, pooling, rng):
    model = lenet5(variant=variant, activation=activation, pooling=pooling, seed=0, dtype="float64",
                   optimizer={"kind": "adam", "lr": 1e-3})
    for layer in model.layers:
        if "b" in layer.params:
            layer.params["b"][...] = rng.normal(scale=0.1, size=layer.params["b"].shape)
    tmodel = to_torch(torch, model)
    # pixel-like inputs: many exact ties (zeros) in the max-pool windows of the first layer
    X = np.where(rng.random((6, 1, 28, 28)) < 0.5, 0.0, rng.random((6, 1, 28, 28)))
    y = rng.integers(0, 10, 6)

    out = model.forward(X, training=True)
    loss, dout = model.loss_fn(out, y)
    dX = model.backward(dout)
    Xt = torch.tensor(X, requires_grad=True)
    tout = tmodel(Xt)
    tloss = torch.nn.functional.cross_entropy(tout, torch.from_numpy(y))
    tloss.backward()
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=0, atol=1e-10)
    assert abs(loss - tloss.item()) < 1e-10
    np.testing.assert_allclose(dX, Xt.grad.numpy(), rtol=0, atol=1e-10)
    tgrads = _torch_grads(tmodel, model)
    for name, g in model.named_gradients():
        np.testing.assert_allclose(g, tgrads[name], rtol=0, atol=1e-10, err_msg=name)

    # four Adam steps through Sequential.fit (two epochs of two batches, no shuffling)
    model.fit(X, y, epochs=2, batch_size=3, shuffle=False, verbose=False, eval_train=False)
    topt = torch.optim.Adam(tmodel.parameters(), lr=1e-3)
    for _ in range(2):
        for s in (0, 3):
            topt.zero_grad()
            torch.nn.functional.cross_entropy(tmodel(torch.from_numpy(X[s:s + 3])),
                                              torch.from_numpy(y[s:s + 3])).backward()
            topt.step()
    mods = list(tmodel)
    for i, layer in enumerate(model.layers):
        if "W" in layer.params:
            w = mods[i].weight.detach().numpy()
            np.testing.assert_allclose(layer.params["W"], w.T if isinstance(layer, Dense) else w,
                                       rtol=0, atol=1e-10)
            np.testing.assert_allclose(layer.params["b"], mods[i].bias.detach().numpy(), rtol=0, atol=1e-10)


# -- mlp ------------------------------------------------------------------------------------------------
def test_mlp_builder(rng):
    m = mlp([20, 16, 8, 3], activation="tanh", dropout=0.2, seed=0)
    assert _kinds(m) == ["Dense", "Tanh", "Dropout", "Dense", "Tanh", "Dropout", "Dense"]
    assert m.output_shape((20,)) == (3,) and m.dtype == np.float32
    assert [d.rate for d in m.layers if isinstance(d, Dropout)] == [0.2, 0.2]
    assert _kinds(mlp([5, 2])) == ["Dense"]
    a, b = mlp([4, 6, 2], seed=1, dtype="float64"), mlp([4, 6, 2], seed=1, dtype="float64")
    np.testing.assert_array_equal(a.layers[0].params["W"], b.layers[0].params["W"])
    m = mlp((4, 6, 1), loss="mse", optimizer={"kind": "adam"}, weight_regularizer={"kind": "l1", "lam": 1e-3})
    assert m.loss_fn.name == "mse" and set(m.regularizers()) == {"0.W", "2.W"}
    assert isinstance(m, Sequential)
    err = check_model(mlp([4, 5, 3], activation="sigmoid", seed=0, dtype="float64"),
                      rng.normal(size=(6, 4)), np.arange(6) % 3)
    assert max(err.values()) < TOLERANCE


@pytest.mark.parametrize("kwargs, match", [
    ({"sizes": [10]}, "sizes"), ({"sizes": 10}, "sizes"), ({"sizes": [10, 0, 2]}, r"sizes\[1\]"),
    ({"sizes": [4, 2], "dropout": 1.0}, "dropout"), ({"sizes": [4, 2], "activation": "nope"}, "activation"),
])
def test_mlp_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mlp(**kwargs)
