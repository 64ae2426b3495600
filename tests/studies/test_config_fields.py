"""Every config field the classic experiments need reaches the built model (each test
builds the Sequential of a validated trial config and inspects it), and every option an
architecture or optimizer has no use for is refused with an error naming it."""
import re
from types import SimpleNamespace

import numpy as np
import pytest

from proxnet.layers import AvgPool2D, Conv2D, Dense, Dropout, MaxPool2D, Softmax, Tanh
from proxnet.studies.config import ConfigError, validate
from proxnet.studies.trial import build_model


def base(model=None, training=None, methods=None, dataset=None, **top) -> dict:
    cfg = {"name": "t", "seeds": 1, "dataset": dataset or {"name": "digits"},
           "model": {"hidden": [8]} if model is None else model,
           "training": {"lr": 0.1, "epochs": 1, "batch_size": 64, **(training or {})},
           "methods": methods or [{"name": "none"}]}
    cfg.update(top)
    return cfg


def images(size=28, n_classes=10):
    """A stand-in for a loaded image dataset (what build_model reads of a Splits)."""
    y = np.arange(4) % n_classes
    return SimpleNamespace(name="fake", task="classification", n_classes=n_classes,
                           input_shape=(1, size, size), y_train=y, X_val=np.zeros((4, 1, size, size)))


def vectors(dim=64, n_classes=10):
    y = np.arange(4) % n_classes
    return SimpleNamespace(name="fake", task="classification", n_classes=n_classes,
                           input_shape=(dim,), y_train=y, X_val=np.zeros((4, dim)))


def built(cfg: dict, data=None, method=0, seed=0):
    """The Sequential of the first trial of method ``method``."""
    study = validate(cfg)
    names = [m.name for m in study.methods]
    trial = next(t for t in study.trials() if t.method == names[method])
    return build_model(trial.config, data or vectors(), seed)


def weighted(model):
    return [layer for layer in model.layers if "W" in layer.params]


def refused(cfg: dict, field: str, *needles) -> str:
    with pytest.raises(ConfigError) as exc:
        validate(cfg)
    msg = str(exc.value)
    assert re.search(rf"^\s+{re.escape(field)}\b", msg, re.M), msg
    for needle in needles:
        assert needle in msg, msg
    return msg


LENET = {"architecture": "lenet5", "variant": "compact"}


# ---------------------------------------------------------------- initializers

@pytest.mark.parametrize("model, data", [({"hidden": [256]}, vectors(784)),
                                         (LENET, images(28))])
def test_normal_init_table_reaches_every_weight_of_every_architecture(model, data):
    m = built(base(model={**model, "init": {"kind": "normal", "std": 0.1}}), data)
    for layer in weighted(m):
        w = layer.params["W"]
        # the sample std of n normal draws is within 5 / sqrt(2n) relative of 0.1
        assert abs(w.std() / 0.1 - 1) < 5 / np.sqrt(2 * w.size), (layer, w.std())
        assert abs(w.mean()) < 5 * 0.1 / np.sqrt(w.size)
        assert not layer.params["b"].any()            # bias_init default: zeros


def test_uniform_table_and_bias_init_table_reach_the_model():
    m = built(base(model={"hidden": [200], "init": {"kind": "uniform", "low": -0.3, "high": 0.1},
                          "bias_init": {"kind": "normal", "std": 0.5}}), vectors(300))
    w = weighted(m)[0].params["W"]
    assert w.min() >= -0.3 and w.max() <= 0.1 and w.min() < -0.29 and w.max() > 0.09
    b = weighted(m)[0].params["b"]
    assert 0.35 < b.std() < 0.65 and len(np.unique(b)) == b.size


def test_glorot_uniform_bounds_on_lenet5():
    m = built(base(model={**LENET, "init": "glorot_uniform", "padding": "valid"}), images(28))
    for layer in weighted(m):
        w = layer.params["W"]
        fan_in = int(np.prod(w.shape[1:])) if w.ndim == 4 else w.shape[0]
        fan_out = w.shape[0] * int(np.prod(w.shape[2:])) if w.ndim == 4 else w.shape[1]
        bound = np.sqrt(6 / (fan_in + fan_out))
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound, (w.shape, bound)


def test_torch_init_for_weights_and_biases():
    m = built(base(model={"hidden": [128, 128], "init": "torch", "bias_init": "torch"}), vectors(784))
    for layer in weighted(m):
        bound = 1 / np.sqrt(layer.params["W"].shape[0])
        for k in ("W", "b"):
            p = layer.params[k]
            assert np.abs(p).max() <= bound and np.abs(p).max() > 0.8 * bound, (k, p.shape)


def test_default_init_is_he_with_zero_biases_and_keys_stay_stable():
    cfg = validate(base(model={"hidden": [8]})).trials()[0].config
    assert cfg["model"]["init"] == "he" and "bias_init" not in cfg["model"]
    lenet = validate(base(model=dict(LENET), dataset={"name": "digits", "options": {"flatten": False}}))
    assert "init" not in lenet.trials()[0].config["model"] and "padding" not in lenet.trials()[0].config["model"]


@pytest.mark.parametrize("init, needle", [
    ({"kind": "normal", "std": -1.0}, "std"),
    ({"kind": "normal", "std": "0.1"}, "std"),
    ({"kind": "uniform", "low": 1.0, "high": 0.0}, "low"),
    ({"kind": "bogus"}, "bogus"),
    ({"kind": "normal", "std": 1e300}, "std"),
    ("nope", "nope"),
    (3, "init"),
])
def test_bad_initializers_are_refused_naming_the_field(init, needle):
    refused(base(model={"hidden": [8], "init": init}), "model.init", needle)
    refused(base(model={"hidden": [8], "bias_init": init}), "model.bias_init", needle)


# ---------------------------------------------------------------- lenet5 options

@pytest.mark.parametrize("padding, features, conv_pads", [
    ("valid", 256, [(0, 0), (0, 0)]),
    (0, 256, [(0, 0), (0, 0)]),
    ("same", 784, [(2, 2), (2, 2)]),
    ([2, 0], 400, [(2, 2), (0, 0)]),
    (None, 400, [(2, 2), (0, 0)]),              # lenet5's default on 28x28: 2 on conv1
])
def test_lenet5_padding_reaches_the_convolutions_and_the_flattened_size(padding, features, conv_pads):
    model = dict(LENET) if padding is None else {**LENET, "padding": padding}
    m = built(base(model=model), images(28))
    convs = [layer for layer in m.layers if isinstance(layer, Conv2D)]
    assert [c.padding for c in convs] == conv_pads
    dense = [layer for layer in m.layers if isinstance(layer, Dense)]
    assert dense[0].params["W"].shape == (features, 84)


def test_lenet5_activation_pooling_variant_and_dropout_reach_the_model():
    m = built(base(model={"architecture": "lenet5", "variant": "classic", "activation": "tanh",
                          "pooling": "avg", "padding": "valid"},
                   methods=[{"name": "d", "dropout": [0.3]}]), images(32))
    kinds = [type(layer) for layer in m.layers]
    assert kinds.count(Tanh) == 4 and kinds.count(AvgPool2D) == 2 and MaxPool2D not in kinds
    assert [w.params["W"].shape for w in weighted(m)][2:] == [(400, 120), (120, 84), (84, 10)]
    assert [layer.rate for layer in m.layers if isinstance(layer, Dropout)] == [0.3, 0.3]


def test_lenet5_padding_too_large_for_the_images_is_refused_before_running():
    from proxnet.studies.runner import preflight
    study = validate(base(model={**LENET, "padding": "valid"},
                          dataset={"name": "digits", "options": {"flatten": False}}))
    with pytest.raises(ConfigError, match="padding"):
        preflight(study.trials())


@pytest.mark.parametrize("model, field", [
    ({**LENET, "hidden": [10]}, "model.hidden"),
    ({**LENET, "output_activation": "softmax"}, "model.output_activation"),
    ({"hidden": [8], "padding": "valid"}, "model.padding"),
    ({"hidden": [8], "pooling": "max"}, "model.pooling"),
    ({"hidden": [8], "variant": "compact"}, "model.variant"),
    ({**LENET, "padding": 5}, "model.padding"),
    ({**LENET, "padding": "full"}, "model.padding"),
    ({**LENET, "padding": [0, 0, 0]}, "model.padding"),
])
def test_options_of_the_other_architecture_or_out_of_range_are_refused(model, field):
    refused(base(model=model), field)


# ---------------------------------------------------------------- softmax outputs

def test_softmax_output_with_mse_is_mse_on_probabilities():
    m = built(base(model={"hidden": [8], "output_activation": "softmax", "loss": "mse"}))
    assert isinstance(m.layers[-1], Softmax)
    x = np.random.default_rng(0).normal(size=(5, 64)).astype(np.float32)
    p = m.forward(x, training=False)
    assert np.allclose(p.sum(axis=1), 1, atol=1e-5) and (p > 0).all()
    y = np.arange(5) % 10
    loss, _ = m.loss_fn(p, y)
    assert np.isclose(loss, np.mean((p - np.eye(10)[y]) ** 2), rtol=1e-5)


def test_method_output_activation_replaces_the_models_for_that_method_only():
    cfg = base(model={"hidden": [8]}, methods=[{"name": "ce"}, {"name": "mse", "loss": "mse",
                                                                "output_activation": "softmax"}])
    assert not isinstance(built(cfg, method=0).layers[-1], Softmax)
    assert isinstance(built(cfg, method=1).layers[-1], Softmax)


def test_softmax_before_cross_entropy_is_refused():
    refused(base(model={"hidden": [8], "output_activation": "softmax"}), "model.loss", "softmax twice")
    refused(base(methods=[{"name": "x", "output_activation": "softmax"}]), "model.loss", "softmax")
    refused(base(model={"hidden": [8], "output_activation": "softmax", "loss": "mse"},
                 methods=[{"name": "x", "loss": "ce"}]), "methods.0.loss", "softmax")
    refused(base(model=dict(LENET), methods=[{"name": "x", "loss": "mse", "output_activation": "softmax"}]),
            "methods.0.output_activation", "lenet5")


# ---------------------------------------------------------------- optimizer hyperparameters

@pytest.mark.parametrize("training, expected", [
    ({"optimizer": "rmsprop", "alpha": 0.9, "eps": 1e-7}, {"rule": "rmsprop", "alpha": 0.9, "eps": 1e-7}),
    ({"optimizer": "rmsprop", "momentum": 0.5}, {"rule": "rmsprop", "momentum": 0.5}),
    ({"optimizer": "adam", "betas": [0.8, 0.99], "eps": 1e-6}, {"rule": "adam", "betas": (0.8, 0.99), "eps": 1e-6}),
    ({"optimizer": "adamw", "betas": [0.85, 0.995], "wd": 0.05}, {"rule": "adamw", "betas": (0.85, 0.995), "wd": 0.05}),
    ({"optimizer": "sgd", "momentum": 0.9, "nesterov": True}, {"rule": "sgd", "momentum": 0.9, "nesterov": True}),
    ({"optimizer": "sgd", "weight_decay": 1e-3}, {"rule": "sgd", "weight_decay": 1e-3}),
    ({"optimizer": "adam", "weight_decay": 1e-3}, {"rule": "adam", "weight_decay": 1e-3}),
    ({"optimizer": "momentum", "momentum": 0.5}, {"rule": "momentum", "momentum": 0.5}),
])
def test_optimizer_hyperparameters_reach_the_models_optimizer(training, expected):
    opt = built(base(training=training)).optimizer.get_config()
    for key, value in expected.items():
        got = tuple(opt[key]) if isinstance(value, tuple) else opt[key]
        assert got == value, (key, opt)


def test_optimizer_hyperparameters_change_the_update():
    """alpha and eps are not only stored: two RMSprop steps differ when they differ."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 64)).astype(np.float32), np.arange(16) % 10
    out = []
    for extra in ({}, {"alpha": 0.5}, {"eps": 0.5}):
        m = built(base(training={"optimizer": "rmsprop", "lr": 0.01, **extra}))
        m.fit(x, y, epochs=2, batch_size=16, seed=0, verbose=False)
        out.append(weighted(m)[0].params["W"].copy())
    assert not np.allclose(out[0], out[1]) and not np.allclose(out[0], out[2])


@pytest.mark.parametrize("training, needles", [
    ({"optimizer": "adam", "alpha": 0.9}, ("alpha", "rmsprop")),
    ({"optimizer": "sgd", "eps": 1e-7}, ("eps", "'sgd'")),
    ({"optimizer": "rmsprop", "betas": [0.9, 0.99]}, ("betas", "adam")),
    ({"optimizer": "adam", "wd": 0.1}, ("wd", "adamw")),
    ({"optimizer": "adamw", "weight_decay": 0.1}, ("weight_decay", "wd")),
    ({"optimizer": "adam", "momentum": 0.9}, ("momentum",)),
    ({"optimizer": "rmsprop", "nesterov": True}, ("nesterov",)),
    ({"optimizer": "rmsprop", "rho": 0.9}, ("rho", "'alpha'")),
    ({"optimizer": "adam", "beta_1": 0.9}, ("beta_1", "'betas'")),
    ({"optimizer": "rmsprop", "epsilon": 1e-7}, ("epsilon", "'eps'")),
])
def test_hyperparameters_an_optimizer_lacks_are_refused_naming_them(training, needles):
    refused(base(training=training), "training", *needles)


@pytest.mark.parametrize("training, field", [
    ({"optimizer": "rmsprop", "alpha": 1.0}, "training.alpha"),
    ({"optimizer": "rmsprop", "eps": 0.0}, "training.eps"),
    ({"optimizer": "adam", "betas": [0.9]}, "training.betas"),
    ({"optimizer": "adam", "betas": [0.9, 1.0]}, "training.betas.1"),
    ({"optimizer": "adamw", "wd": -1.0}, "training.wd"),
    ({"optimizer": "sgd", "weight_decay": float("nan")}, "training.weight_decay"),
])
def test_hyperparameter_values_are_checked(training, field):
    refused(base(training=training), field)


def test_new_training_fields_are_written_only_when_given():
    plain = validate(base()).trials()[0].config["training"]
    assert not {"alpha", "eps", "betas", "wd", "weight_decay"} & set(plain)
    given = validate(base(training={"optimizer": "rmsprop", "alpha": 0.9})).trials()[0].config["training"]
    assert given["alpha"] == 0.9 and "eps" not in given


# ---------------------------------------------------------------- data options pass through

def test_raw_pixels_pass_through_to_the_trial_data():
    from proxnet.studies.trial import load_data
    study = validate(base(dataset={"name": "digits", "options": {"scale": False}}))
    cfg = study.trials()[0].config
    data = load_data(cfg["dataset"], cfg["model"]["dtype"])
    assert cfg["dataset"]["options"] == {"scale": False} and data.X_train.max() == 16.0
