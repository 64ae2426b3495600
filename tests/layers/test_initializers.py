"""Initializers as data: specs, the validator, weights and biases, draw order, configs, and
PyTorch's default initialization as an oracle."""
import numpy as np
import pytest

from proxnet.architectures import lenet5, mlp
from proxnet.backend import spawn
from proxnet.layers import INITIALIZERS, LAYERS, Conv2D, Dense, check_init
from proxnet.layers.initializers import init_parameters, initialize


# -- bit-identity with the formulas used before initializers became data ---------------------------
def _old_weight(name, shape, fan_in, fan_out, rng, dtype):
    """The weight formulas of proxnet before bias initializers existed, written out again."""
    normal = {"he": np.sqrt(2.0 / fan_in), "kaiming": np.sqrt(2.0 / fan_in), "lecun": np.sqrt(1.0 / fan_in),
              "xavier": np.sqrt(2.0 / (fan_in + fan_out)), "glorot": np.sqrt(2.0 / (fan_in + fan_out)),
              "normal": 0.01}
    uniform = {"he_uniform": np.sqrt(6.0 / fan_in), "xavier_uniform": np.sqrt(6.0 / (fan_in + fan_out)),
               "glorot_uniform": np.sqrt(6.0 / (fan_in + fan_out)), "uniform": 0.05}
    if name in normal:
        return (rng.standard_normal(shape) * normal[name]).astype(dtype)
    if name in uniform:
        return rng.uniform(-uniform[name], uniform[name], size=shape).astype(dtype)
    assert name == "zeros"
    return np.zeros(shape, dtype=dtype)


OLD_NAMES = ["he", "kaiming", "lecun", "xavier", "glorot", "normal", "he_uniform", "xavier_uniform",
             "glorot_uniform", "uniform", "zeros"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", OLD_NAMES)
def test_existing_initializers_give_the_same_bits(name, dtype):
    d = Dense(13, 7, init=name, seed=5, dtype=dtype)
    np.testing.assert_array_equal(d.params["W"], _old_weight(name, (13, 7), 13, 7, np.random.default_rng(5), dtype))
    assert d.params["W"].dtype == dtype
    np.testing.assert_array_equal(d.params["b"], np.zeros(7, dtype))
    c = Conv2D(3, 4, (3, 2), init=name, seed=6, dtype=dtype)
    np.testing.assert_array_equal(c.params["W"], _old_weight(name, (4, 3, 3, 2), 18, 24, np.random.default_rng(6), dtype))
    np.testing.assert_array_equal(c.params["b"], np.zeros(4, dtype))


def test_existing_tables_give_the_same_bits():
    d = Dense(9, 4, init={"kind": "normal", "std": 0.1}, seed=2)
    np.testing.assert_array_equal(d.params["W"], (np.random.default_rng(2).standard_normal((9, 4)) * 0.1)
                                  .astype(np.float32))
    d = Dense(9, 4, init={"kind": "uniform", "limit": 0.3}, seed=2)
    np.testing.assert_array_equal(d.params["W"], np.random.default_rng(2).uniform(-0.3, 0.3, (9, 4))
                                  .astype(np.float32))


def test_built_models_give_the_same_bits():
    """mlp and lenet5 built with a seed: the j-th layer with parameters drawn from the j-th
    spawned generator (the pairing rule of Sequential) with the old formulas (He weights,
    zero biases)."""
    for model, dtype in ((mlp([20, 16, 8, 3], dropout=0.3, seed=0), np.float32),
                         (lenet5(variant="classic", seed=3, dtype="float64"), np.float64),
                         (lenet5(variant="compact", seed=1), np.float32)):
        weighted = [layer for layer in model.layers if layer.params]
        for layer, rng in zip(weighted, spawn(np.random.default_rng(model.seed), len(weighted))):
            if isinstance(layer, Dense):
                shape, fi, fo = (layer.in_features, layer.out_features), layer.in_features, layer.out_features
            elif isinstance(layer, Conv2D):
                F, C, kh, kw = layer.params["W"].shape
                shape, fi, fo = (F, C, kh, kw), C * kh * kw, F * kh * kw
            else:
                assert not layer.params
                continue
            np.testing.assert_array_equal(layer.params["W"], _old_weight("he", shape, fi, fo, rng, dtype))
            assert not layer.params["b"].any()


# -- the specs --------------------------------------------------------------------------------------
def _draw(spec, shape=(400, 500), fan_in=400, fan_out=500, seed=0):
    return initialize(spec, shape, fan_in, fan_out, np.random.default_rng(seed), np.float64)


def test_normal_uniform_constant_tables():
    w = _draw({"kind": "normal", "std": 0.1})
    assert abs(w.mean()) < 4 * 0.1 / np.sqrt(w.size) and abs(w.std() - 0.1) < 4 * 0.1 / np.sqrt(2 * w.size)
    w = _draw({"kind": "normal", "std": 0.5, "mean": 2.0})
    assert abs(w.mean() - 2.0) < 4 * 0.5 / np.sqrt(w.size) and abs(w.std() - 0.5) < 4 * 0.5 / np.sqrt(2 * w.size)
    w = _draw({"kind": "uniform", "low": -0.1, "high": 0.3})
    assert -0.1 <= w.min() and w.max() < 0.3 and w.min() < -0.099 and w.max() > 0.299
    assert abs(w.mean() - 0.1) < 4 * (0.4 / np.sqrt(12)) / np.sqrt(w.size)
    assert abs(w.std() - 0.4 / np.sqrt(12)) < 1e-3
    np.testing.assert_array_equal(_draw({"kind": "constant", "value": -0.25}, (3, 2)), np.full((3, 2), -0.25))
    np.testing.assert_array_equal(_draw("zeros", (3, 2)), np.zeros((3, 2)))
    # the name of a parametric kind is its table with the defaults
    np.testing.assert_array_equal(_draw("normal"), _draw({"kind": "normal", "std": 0.01}))
    np.testing.assert_array_equal(_draw("uniform"), _draw({"kind": "uniform", "limit": 0.05}))
    np.testing.assert_array_equal(_draw({"kind": "HE"}), _draw("he"))
    np.testing.assert_array_equal(_draw("Glorot_Uniform"), _draw("xavier_uniform"))


def test_torch_initializer_bounds():
    for fan_in in (1, 3, 784, 10_000):
        w = _draw("torch", (50_000,), fan_in, 7)
        bound = 1 / np.sqrt(fan_in)
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.999 * bound
        assert abs(w.std() - bound / np.sqrt(3)) < 0.01 * bound
    w32 = initialize("torch", (100_000,), 3, 7, np.random.default_rng(0), np.float32)
    assert w32.dtype == np.float32 and np.abs(w32).max() <= np.float32(1 / np.sqrt(3))


def test_check_init_returns_plain_data():
    assert check_init("He") == "he"
    assert check_init({"kind": "Normal", "std": 1}) == {"kind": "normal", "std": 1.0}
    assert type(check_init({"kind": "normal", "std": np.float32(0.5)})["std"]) is float
    assert check_init({"kind": "uniform", "low": -1, "high": 2}) == {"kind": "uniform", "low": -1.0, "high": 2.0}
    assert check_init({"kind": "constant", "value": 0}, "bias_init") == {"kind": "constant", "value": 0.0}
    assert check_init({"kind": "torch"}) == {"kind": "torch"}
    assert set(INITIALIZERS) >= {"he", "torch", "glorot_uniform", "xavier_uniform", "zeros", "normal"}


@pytest.mark.parametrize("spec, match", [
    ("nope", r"^init: unknown initializer 'nope'; valid names: .*glorot_uniform.*torch.*zeros"),
    (3, r"^init: expected an initializer name \(str\) or a table with a 'kind' key, got 3 \(int\)"),
    (None, r"^init: expected an initializer name"),
    (["he"], r"^init: expected an initializer name"),
    ({"std": 0.1}, r"^init: a table needs a 'kind' key \(one of constant, .*normal.*uniform"),
    ({"kind": 1}, r"^init\.kind: expected a name \(str\), got 1 \(int\)"),
    ({"kind": "gauss"}, r"^init\.kind: unknown initializer 'gauss'; valid kinds: constant, .*torch"),
    ({"kind": "normal", "sd": 0.1}, r"^init: unexpected key\(s\) 'sd' for kind 'normal'; allowed keys: kind, std, mean"),
    ({"kind": "he", "std": 0.1}, r"^init: unexpected key\(s\) 'std' for kind 'he'; allowed keys: kind$"),
    ({"kind": "normal", "std": "0.1"}, r"^init\.std: expected a finite number, got '0\.1' \(str\)"),
    ({"kind": "normal", "std": True}, r"^init\.std: expected a finite number, got True \(bool\)"),
    ({"kind": "normal", "std": np.bool_(True)}, r"^init\.std: expected a finite number"),
    ({"kind": "normal", "std": float("nan")}, r"^init\.std: expected a finite number, got nan"),
    ({"kind": "normal", "std": 10 ** 400}, r"^init\.std: expected a finite number"),
    ({"kind": "normal", "std": 0}, r"^init\.std: expected a number > 0, got 0\.0"),
    ({"kind": "normal", "std": -1.0}, r"^init\.std: expected a number > 0"),
    ({"kind": "normal", "std": 0.1, "mean": float("inf")}, r"^init\.mean: expected a finite number"),
    ({"kind": "uniform", "low": 0.2, "high": 0.1}, r"^init: kind 'uniform' needs low < high, got low=0\.2, high=0\.1"),
    ({"kind": "uniform", "low": 0.1, "high": 0.1}, r"^init: kind 'uniform' needs low < high"),
    ({"kind": "uniform", "low": -0.1}, r"^init: kind 'uniform' needs both 'low' and 'high'"),
    ({"kind": "uniform", "limit": 0.1, "high": 0.2}, r"^init: kind 'uniform' takes either 'limit' or 'low' and 'high'"),
    ({"kind": "uniform", "limit": 0}, r"^init\.limit: expected a number > 0"),
    ({"kind": "uniform", "limit": [0.1]}, r"^init\.limit: expected a finite number, got \[0\.1\] \(list\)"),
    ({"kind": "constant"}, r"^init: kind 'constant' needs the key 'value'"),
    ("constant", r"^init: kind 'constant' needs the key 'value'"),
    ({"kind": "constant", "value": None}, r"^init\.value: expected a finite number, got None"),
])
def test_check_init_refuses_with_the_key_named(spec, match):
    with pytest.raises(ValueError, match=match):
        check_init(spec)
    with pytest.raises(ValueError, match=match.replace("^init", "^bias_init")):
        check_init(spec, "bias_init")


def test_layers_refuse_bad_specs_at_construction():
    with pytest.raises(ValueError, match=r"^init\.std: expected a number > 0"):
        Dense(3, 2, init={"kind": "normal", "std": -1})
    with pytest.raises(ValueError, match=r"^bias_init: unknown initializer 'one'"):
        Conv2D(1, 2, 3, bias_init="one")
    with pytest.raises(ValueError, match=r"^bias_init: the layer has bias=False"):
        Dense(3, 2, bias=False, bias_init="torch")
    with pytest.raises(ValueError, match=r"^bias_init: the layer has bias=False"):
        Conv2D(1, 2, 3, bias=False, bias_init={"kind": "constant", "value": 0.1})
    assert "b" not in Dense(3, 2, bias=False, bias_init={"kind": "zeros"}).params


# -- biases ----------------------------------------------------------------------------------------
def test_bias_is_drawn_after_the_weights_from_the_same_generator():
    d = Dense(6, 5, init="he", bias_init={"kind": "normal", "std": 0.3, "mean": 1.0}, seed=4, dtype="float64")
    rng = np.random.default_rng(4)
    np.testing.assert_array_equal(d.params["W"], rng.standard_normal((6, 5)) * np.sqrt(2 / 6))
    np.testing.assert_array_equal(d.params["b"], rng.standard_normal(5) * 0.3 + 1.0)
    # the weights do not depend on the bias initializer
    np.testing.assert_array_equal(d.params["W"], Dense(6, 5, seed=4, dtype="float64").params["W"])
    c = Conv2D(2, 3, 3, init="torch", bias_init="torch", seed=8, dtype="float64")
    rng = np.random.default_rng(8)
    bound = 1 / np.sqrt(2 * 3 * 3)
    np.testing.assert_array_equal(c.params["W"], rng.uniform(-bound, bound, (3, 2, 3, 3)))
    np.testing.assert_array_equal(c.params["b"], rng.uniform(-bound, bound, 3))
    W, b = init_parameters("he", None, (2, 2), (2,), 2, 2, np.random.default_rng(0), np.float32)
    assert b is None and W.shape == (2, 2)


def test_bias_init_uses_the_layer_fans():
    d = Dense(100, 20_000, bias_init="he", seed=0, dtype="float64")
    assert abs(d.params["b"].std() - np.sqrt(2 / 100)) < 4 * np.sqrt(2 / 100) / np.sqrt(2 * 20_000)
    c = Conv2D(4, 5000, 3, bias_init="torch", seed=0, dtype="float64")
    assert np.abs(c.params["b"]).max() <= 1 / np.sqrt(36) and np.abs(c.params["b"]).max() > 0.99 / 6


def test_model_seed_redraws_weights_and_biases():
    from proxnet import Sequential
    a = Sequential([Dense(4, 3, bias_init="torch"), Dense(3, 2, bias_init={"kind": "constant", "value": 0.5})], seed=7)
    b = Sequential([Dense(4, 3, bias_init="torch"), Dense(3, 2, bias_init={"kind": "constant", "value": 0.5})], seed=7)
    for (_, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(pa, pb)
    assert np.abs(a.layers[0].params["b"]).max() <= 0.5 and a.layers[0].params["b"].any()
    np.testing.assert_array_equal(a.layers[1].params["b"], np.full(2, 0.5, np.float32))


# -- configs ----------------------------------------------------------------------------------------
def test_configs_round_trip_the_specs():
    layers = [Dense(5, 3, init={"kind": "uniform", "low": -0.2, "high": 0.1}, bias_init="torch"),
              Dense(5, 3, bias=False, init="torch"),
              Conv2D(2, 3, 3, init={"kind": "normal", "std": 0.1}, bias_init={"kind": "constant", "value": 0.1})]
    assert layers[0].get_config()["init"] == {"kind": "uniform", "low": -0.2, "high": 0.1}
    assert layers[0].get_config()["bias_init"] == "torch"
    assert "bias_init" not in layers[1].get_config()
    assert layers[2].get_config()["bias_init"] == {"kind": "constant", "value": 0.1}
    for layer in layers:
        cfg = layer.get_config()
        twin = LAYERS.get_item(type(layer).__name__)(**cfg, seed=3)
        assert twin.get_config() == cfg
        again = LAYERS.get_item(type(layer).__name__)(**cfg, seed=3)
        for k in twin.params:
            np.testing.assert_array_equal(twin.params[k], again.params[k])
    assert "bias_init='torch'" in repr(layers[0])


def test_save_and_load_keep_the_specs(tmp_path):
    from proxnet import Sequential
    from proxnet.io import load as load_model, save as save_model
    model = Sequential([Conv2D(1, 2, 3, init={"kind": "normal", "std": 0.1}, bias_init="torch"),
                        Dense(2, 2, init={"kind": "uniform", "low": 0, "high": 1},
                              bias_init={"kind": "constant", "value": -1})], seed=0)
    save_model(model, tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    assert [layer.get_config() for layer in loaded.layers] == [layer.get_config() for layer in model.layers]
    for (_, a), (_, b) in zip(model.named_parameters(), loaded.named_parameters()):
        np.testing.assert_array_equal(a, b)


# -- PyTorch's default initialization as the oracle ------------------------------------------------
def _torch_bound(torch, weight):
    """The weight bound of torch's reset_parameters, from torch's own fan and gain functions."""
    import math
    fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(weight)
    gain = torch.nn.init.calculate_gain("leaky_relu", math.sqrt(5))
    return math.sqrt(3.0) * gain / math.sqrt(fan_in), 1 / math.sqrt(fan_in)


@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_torch_initializer_matches_pytorch_defaults(torch, kind):
    stats = pytest.importorskip("scipy.stats", reason="scipy (lab extra) not installed: no KS test")
    torch.manual_seed(0)
    if kind == "linear":
        tmod = torch.nn.Linear(300, 2000).double()
        ours = Dense(300, 2000, init="torch", bias_init="torch", seed=0, dtype="float64")
        fan_in, tw = 300, tmod.weight.detach().numpy().T
    else:
        tmod = torch.nn.Conv2d(6, 4000, 5).double()
        ours = Conv2D(6, 4000, 5, init="torch", bias_init="torch", seed=0, dtype="float64")
        fan_in, tw = 150, tmod.weight.detach().numpy()
    tb = tmod.bias.detach().numpy()
    w_bound, b_bound = _torch_bound(torch, tmod.weight)
    assert abs(w_bound - 1 / np.sqrt(fan_in)) < 1e-15 and b_bound == 1 / np.sqrt(fan_in)
    W, b = ours.params["W"], ours.params["b"]
    assert W.shape == tw.shape and b.shape == tb.shape
    assert np.abs(W).max() <= w_bound and np.abs(tw).max() <= w_bound
    assert np.abs(b).max() <= b_bound and np.abs(tb).max() <= b_bound
    # the same distribution: two-sample KS against torch's draws, and against U(±bound)
    for mine, theirs, bound in ((W.ravel(), tw.ravel(), w_bound), (b, tb, b_bound)):
        assert stats.ks_2samp(mine, theirs).pvalue > 1e-3
        assert stats.kstest(mine, stats.uniform(-bound, 2 * bound).cdf).pvalue > 1e-3
    # and a wrong bound is detected: torch's draws are not U(±2·bound)
    assert stats.kstest(tw.ravel(), stats.uniform(-2 * w_bound, 4 * w_bound).cdf).pvalue < 1e-6
