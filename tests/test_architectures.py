"""The lenet5(), mlp() and mlp_layers() builders: structure, options, errors, whole-model
gradients, PyTorch oracle."""
import numpy as np
import pytest

from proxnet import Sequential
from proxnet.architectures import lenet5, mlp, mlp_layers
from proxnet.gradcheck import KINK_TOLERANCE, TOLERANCE, check_model
from proxnet.layers import (ACTIVATIONS, AvgPool2D, Conv2D, Dense, Dropout, Flatten, LeakyReLU,
                            MaxPool2D, ReLU, Sigmoid, Tanh)

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
    model = lenet5(variant=variant, activation=activation, pooling=pooling, seed=6, dtype="float64",
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


@pytest.mark.parametrize("variant, activation, pooling, padding", [
    ("classic", "relu", "max", None), ("compact", "tanh", "avg", None), ("compact", "sigmoid", "max", None),
    ("compact", "relu", "max", "valid"), ("classic", "tanh", "max", ["same", 1])])
def test_lenet5_matches_torch(torch, variant, activation, pooling, padding, rng):
    model = lenet5(variant=variant, activation=activation, pooling=pooling, padding=padding, seed=0,
                   dtype="float64", optimizer={"kind": "adam", "lr": 1e-3})
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


# -- the one MLP builder ----------------------------------------------------------------------------
def test_mlp_layers_structure():
    kinds = lambda layers: [type(layer).__name__ for layer in layers]  # noqa: E731
    assert kinds(mlp_layers([4, 3])) == ["Dense"]
    assert kinds(mlp_layers([4, 5, 3], output_activation="softmax")) == ["Dense", "ReLU", "Dense", "Softmax"]
    assert kinds(mlp_layers([4, 5, 6, 3], activation="tanh", dropout=0.5, flatten=True, output_activation="sigmoid")) \
        == ["Flatten", "Dense", "Tanh", "Dropout", "Dense", "Tanh", "Dropout", "Dense", "Sigmoid"]
    for none in (None, "identity", "linear", "Identity"):
        assert kinds(mlp_layers([4, 5, 3], output_activation=none)) == ["Dense", "ReLU", "Dense"]
    layers = mlp_layers([4, 5, 3], init="torch", bias_init={"kind": "constant", "value": 0.5}, dtype="float64")
    assert [d.get_config()["init"] for d in layers[::2]] == ["torch", "torch"]
    assert all(d.params["b"].dtype == np.float64 and (d.params["b"] == 0.5).all() for d in layers[::2])


def _trial_layers_before(sizes, activation, init, output_activation, rate, flatten):
    """The layer list that studies/trial.py assembled by hand (an mlp, then dropout spliced in)."""
    layers = [Flatten()] if flatten else []
    layers += mlp(sizes, activation=activation, init=init).layers
    if output_activation != "identity":
        layers.append(ACTIVATIONS.get_item(output_activation)())
    out = []
    for i, layer in enumerate(layers):
        out.append(layer)
        if i > 0 and isinstance(layers[i - 1], Dense) and i < len(layers) - 1 and type(layer) in ACTIVATIONS.values():
            out.append(Dropout(rate))
    return out if rate else layers


def _sklearn_layers_before(sizes, act_name, dropout):
    """The layer list that sklearn.py assembled by hand."""
    init = "he" if act_name in ("relu", "leaky_relu") else "xavier_uniform"
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Dense(a, b, init=init))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS.get_item(act_name)())
            if dropout > 0:
                layers.append(Dropout(dropout))
    return layers


def _same_model(a, b):
    assert _kinds(a) == _kinds(b)
    assert [d.rate for d in a.layers if isinstance(d, Dropout)] == [d.rate for d in b.layers if isinstance(d, Dropout)]
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert na == nb and pa.dtype == pb.dtype
        np.testing.assert_array_equal(pa, pb)


@pytest.mark.parametrize("hidden, activation, output_activation, rate, flatten", [
    ([16, 8], "relu", "identity", 0.0, False), ([16], "tanh", "sigmoid", 0.3, True), ([], "relu", "identity", 0.5, True),
    ([5, 5, 5], "sigmoid", "tanh", 0.1, False)])
def test_mlp_layers_rebuilds_the_trial_and_sklearn_models_bit_for_bit(hidden, activation, output_activation, rate, flatten):
    sizes = [12, *hidden, 3]
    for dtype in ("float32", "float64"):
        old = Sequential(_trial_layers_before(sizes, activation, "xavier", output_activation, rate, flatten),
                         seed=4, dtype=dtype)
        new = Sequential(mlp_layers(sizes, activation=activation, init="xavier", output_activation=output_activation,
                                    dropout=rate, flatten=flatten), seed=4, dtype=dtype)
        _same_model(old, new)
        init = "he" if activation in ("relu", "leaky_relu") else "xavier_uniform"
        old = Sequential(_sklearn_layers_before(sizes, activation, rate), seed=np.random.default_rng([7, 0]), dtype=dtype)
        new = Sequential(mlp_layers(sizes, activation=activation, dropout=rate, init=init),
                         seed=np.random.default_rng([7, 0]), dtype=dtype)
        _same_model(old, new)


def test_mlp_init_and_bias_init_reach_every_layer():
    m = mlp([500, 400, 300], init={"kind": "normal", "std": 0.1}, bias_init="torch", seed=0, dtype="float64")
    for d in (m.layers[0], m.layers[2]):
        W, b = d.params["W"], d.params["b"]
        assert abs(W.std() - 0.1) < 4 * 0.1 / np.sqrt(2 * W.size) and abs(W.mean()) < 4 * 0.1 / np.sqrt(W.size)
        bound = 1 / np.sqrt(d.in_features)
        assert np.abs(b).max() <= bound and np.abs(b).max() > 0.9 * bound
    m = mlp([30, 20, 10], init={"kind": "uniform", "low": 0.0, "high": 0.01}, seed=1)
    assert all(0 <= layer.params["W"].min() and layer.params["W"].max() < 0.01 for layer in m.layers[::2])


def test_mlp_output_activation_and_loss():
    assert type(mlp([4, 3], output_activation="softmax", loss="mse").layers[-1]).__name__ == "Softmax"
    assert isinstance(mlp([1, 10, 1], activation="sigmoid", output_activation="sigmoid", loss="mse").layers[-1], Sigmoid)
    with pytest.raises(ValueError, match="output_activation: 'softmax' before the loss 'softmax_cross_entropy' applies softmax twice"):
        mlp([4, 3], output_activation="softmax")
    with pytest.raises(ValueError, match="output_activation: 'softmax' before the loss"):
        mlp([4, 3], output_activation="Softmax", loss="ce")
    with pytest.raises(ValueError, match="output_activation: 'sigmoid' before the loss 'binary_cross_entropy_with_logits'"):
        mlp([4, 1], output_activation="sigmoid", loss="bce_logits")


@pytest.mark.parametrize("kwargs, match", [
    ({"output_activation": "swish"}, r"^output_activation: unknown activation 'swish'; valid names:.*softmax"),
    ({"output_activation": 3}, r"^output_activation: activation: expected a name \(str\), got int"),
    ({"activation": "swish"}, r"^activation: unknown activation 'swish'"),
    ({"dropout": "0.5"}, r"^dropout: expected a finite number, got '0\.5' \(str\)"),
    ({"dropout": True}, r"^dropout: expected a finite number"),
    ({"dropout": -0.1}, r"^dropout: expected a drop probability in \[0, 1\)"),
    ({"init": {"kind": "normal", "std": 0}}, r"^init\.std: expected a number > 0"),
    ({"bias_init": "nope"}, r"^bias_init: unknown initializer 'nope'"),
])
def test_mlp_layers_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mlp_layers([4, 5, 3], **kwargs)
    with pytest.raises(ValueError, match=match):
        mlp([4, 5, 3], loss="mse", **kwargs)


# -- lenet5 options ---------------------------------------------------------------------------------
def _features(p1, p2, size=28):
    """Flattened features of LeNet-5's feature maps for paddings (p1, p2)."""
    s = (size + 2 * p1 - 5 + 1) // 2
    s = (s + 2 * p2 - 5 + 1) // 2
    return 16 * s * s


@pytest.mark.parametrize("padding, expected", [
    (None, (2, 0)), ("valid", (0, 0)), ("same", (2, 2)), ("VALID", (0, 0)), (0, (0, 0)), (1, (1, 1)), (3, (3, 3)),
    ([2, "valid"], (2, 0)), (["same", "same"], (2, 2)), (("valid", 2), (0, 2)), ([None, 1], (2, 1)), ([0, None], (0, 0))])
def test_lenet5_padding_reaches_each_convolution(padding, expected, rng):
    model = lenet5(variant="compact", padding=padding, seed=0)
    c1, c2 = model.layers[0], model.layers[3]
    assert (c1.padding, c2.padding) == ((expected[0],) * 2, (expected[1],) * 2)
    assert model.layers[7].in_features == _features(*expected)
    assert model.forward(rng.random((2, 1, 28, 28))).shape == (2, 10)


def test_lenet5_default_padding_is_unchanged_bit_for_bit():
    for explicit in ([2, "valid"], [2, 0], [None, None]):
        _same_model(lenet5(seed=5), lenet5(padding=explicit, seed=5))
    _same_model(lenet5(input_size=32, seed=5), lenet5(input_size=32, padding="valid", seed=5))


def test_lenet5_keras_variant(rng):
    """conv 6@5×5 valid, max-pool 2, conv 16@5×5 valid, max-pool 2, flatten 256, dense 84 ReLU,
    dense 10; Glorot-uniform weights, zero biases."""
    model = lenet5(variant="compact", padding="valid", init="glorot_uniform", seed=0, dtype="float64")
    assert _kinds(model) == ["Conv2D", "ReLU", "MaxPool2D", "Conv2D", "ReLU", "MaxPool2D", "Flatten",
                             "Dense", "ReLU", "Dense"]
    shape, shapes = (1, 28, 28), []
    for layer in model.layers:
        shape = layer.output_shape(shape)
        shapes.append(shape)
    assert shapes == [(6, 24, 24), (6, 24, 24), (6, 12, 12), (16, 8, 8), (16, 8, 8), (16, 4, 4), (256,),
                      (84,), (84,), (10,)]
    for layer in model.layers:
        if "W" in layer.params:
            W = layer.params["W"]
            fan_in, fan_out = (W.shape[0], W.shape[1]) if W.ndim == 2 else \
                (W[0].size, W.shape[0] * W.shape[2] * W.shape[3])
            limit = np.sqrt(6 / (fan_in + fan_out))
            assert np.abs(W).max() <= limit and np.abs(W).max() > 0.8 * limit
            assert not layer.params["b"].any()
    assert model.n_params() == (6 * 25 + 6) + (16 * 6 * 25 + 16) + (256 * 84 + 84) + (84 * 10 + 10)
    assert model.forward(rng.random((3, 1, 28, 28))).shape == (3, 10)


def test_lenet5_init_bias_init_activation_pooling_dropout_reach_the_model():
    model = lenet5(variant="classic", init={"kind": "normal", "std": 0.1}, bias_init={"kind": "constant", "value": 0.1},
                   activation="tanh", pooling="avg", dropout=0.25, seed=0, dtype="float64")
    assert _kinds(model) == ["Conv2D", "Tanh", "AvgPool2D", "Conv2D", "Tanh", "AvgPool2D", "Flatten",
                             "Dense", "Tanh", "Dropout", "Dense", "Tanh", "Dropout", "Dense"]
    assert [d.rate for d in model.layers if isinstance(d, Dropout)] == [0.25, 0.25]
    weights = np.concatenate([layer.params["W"].ravel() for layer in model.layers if "W" in layer.params])
    assert abs(weights.std() - 0.1) < 4 * 0.1 / np.sqrt(2 * weights.size) and abs(weights.mean()) < 4 * 0.1 / np.sqrt(weights.size)
    big = model.layers[7].params["W"]   # 400×120 on its own
    assert abs(big.std() - 0.1) < 4 * 0.1 / np.sqrt(2 * big.size)
    assert all((layer.params["b"] == 0.1).all() for layer in model.layers if "b" in layer.params)
    torch_init = lenet5(variant="compact", init="torch", bias_init="torch", seed=0)
    for layer in torch_init.layers:
        if "W" in layer.params:
            fan_in = layer.params["W"][0].size if isinstance(layer, Conv2D) else layer.in_features
            assert max(np.abs(layer.params["W"]).max(), np.abs(layer.params["b"]).max()) <= np.float32(1 / np.sqrt(fan_in))
            assert layer.get_config()["init"] == "torch" and layer.get_config()["bias_init"] == "torch"


@pytest.mark.parametrize("kwargs, match", [
    ({"padding": "full"}, r"^padding: expected 'valid', 'same', an int in \[0, 4\] or None, got 'full'"),
    ({"padding": True}, r"^padding: expected 'valid', 'same', an int in \[0, 4\] or None, got True"),
    ({"padding": 5}, r"^padding: expected 'valid', 'same', an int in \[0, 4\] or None, got 5"),
    ({"padding": 10 ** 9}, r"^padding: expected 'valid', 'same', an int in \[0, 4\]"),
    ({"padding": 1.0}, r"^padding: expected 'valid', 'same'"),
    ({"padding": [1, 2, 3]}, r"^padding: expected one value for both convolutions or a pair \[conv1, conv2\]"),
    ({"padding": [1, -1]}, r"^padding\[1\]: expected 'valid', 'same', an int in \[0, 4\] or None, got -1"),
    ({"padding": "valid", "input_size": 12},
     r"^input_size: 12×12 images are too small for LeNet-5 with padding='valid' \(conv1 0, conv2 0\)"),
    ({"padding": ["same", "valid"], "input_size": 8}, r"^input_size: 8×8 images are too small for LeNet-5 with padding=\['same', 'valid'\]"),
    ({"init": {"kind": "uniform", "low": 1, "high": 0}}, r"^init: kind 'uniform' needs low < high"),
    ({"bias_init": {"kind": "normal", "std": "1"}}, r"^bias_init\.std: expected a finite number"),
    ({"dropout": 1.0}, r"^dropout: expected a drop probability"),
])
def test_lenet5_option_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        lenet5(**kwargs)


def test_lenet5_same_padding_torch_init_gradcheck(rng):
    model = lenet5(variant="compact", activation="tanh", pooling="avg", padding="same", init="torch",
                   bias_init="torch", seed=2, dtype="float64")
    errs = check_model(model, rng.random((2, 1, 28, 28)), np.array([1, 4]), max_entries=10)
    assert len(errs) == 8 and max(errs.values()) < TOLERANCE, errs
