"""Optimizer object and rules: purity, dtypes, errors, decoupled decay, state round trip."""
import io
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxnet.optim import RULES, Optimizer, get_optimizer

RULE_NAMES = sorted(RULES)


def _params(dtype, seed=0):
    rng = np.random.default_rng(seed)
    p = {"0.W": rng.standard_normal((5, 3)).astype(dtype), "0.b": rng.standard_normal(3).astype(dtype)}
    g = {k: rng.standard_normal(v.shape).astype(dtype) for k, v in p.items()}
    return p, g


def _copy(d):
    return {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in d.items()}


# ------------------------------------------------------------------------ purity, dtypes

@pytest.mark.parametrize("name", RULE_NAMES)
@pytest.mark.parametrize("hp", [{}, {"momentum": 0.5}])
def test_rule_step_is_pure_and_keeps_float32(name, hp):
    rule = RULES.get_item(name)
    hp = rule.hyperparams(0.01, **{k: v for k, v in hp.items() if k in rule.defaults})
    rng = np.random.default_rng(1)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    state = rule.init(w)
    for _ in range(2):  # non-trivial state (momentum buffers created on demand too)
        w, state = rule.step(w, rng.standard_normal(w.shape).astype(np.float32), state, hp)
    g = rng.standard_normal(w.shape).astype(np.float32)
    w0, g0, s0 = w.copy(), g.copy(), _copy(state)
    w_new, s_new = rule.step(w, g, state, hp)
    np.testing.assert_array_equal(w, w0)
    np.testing.assert_array_equal(g, g0)
    assert state.keys() == s0.keys()
    for k in state:
        np.testing.assert_array_equal(state[k], s0[k])
    assert w_new.dtype == np.float32 and w_new.shape == w.shape
    assert not np.shares_memory(w_new, w) and not np.shares_memory(w_new, g)
    for k, v in s_new.items():
        if isinstance(v, np.ndarray):
            assert v.dtype == np.float32, k
            assert not any(np.shares_memory(v, a) for a in (w, g, *[x for x in state.values()
                                                                    if isinstance(x, np.ndarray)]))


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(RULE_NAMES), dtype=st.sampled_from([np.float32, np.float64]),
       shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), clip=st.sampled_from([None, 0.1]),
       wd=st.sampled_from([0.0, 0.1]), seed=st.integers(0, 2**16))
def test_optimizer_step_pure_dtype_shape(name, dtype, shape, clip, wd, seed):
    rng = np.random.default_rng(seed)
    p = {"a": rng.standard_normal(shape).astype(dtype), "b": rng.standard_normal(3).astype(dtype)}
    g = {k: rng.standard_normal(v.shape).astype(dtype) for k, v in p.items()}
    kw = {} if name == "adamw" else {"weight_decay": wd, "decoupled_weight_decay": wd}
    opt = Optimizer(name, lr=0.01, clip_norm=clip, **kw)
    p0, g0 = _copy(p), _copy(g)
    for _ in range(2):
        new = opt.step(p, g)
    for k in p:
        np.testing.assert_array_equal(p[k], p0[k])
        np.testing.assert_array_equal(g[k], g0[k])
        assert new[k].dtype == dtype and new[k].shape == p[k].shape
        assert np.all(np.isfinite(new[k]))
    assert opt.step_count == 2


def test_float64_grads_do_not_upcast_float32_params():
    p, g = _params(np.float32)
    new = Optimizer("adam", schedule="cosine").step(p, {k: v.astype(np.float64) for k, v in g.items()})
    assert all(v.dtype == np.float32 for v in new.values())


# ---------------------------------------------------------------------- hand formulas

def test_decoupled_weight_decay_with_sgd_matches_formula():
    p, g = _params(np.float64)
    lr, d = 0.1, 0.3
    opt = Optimizer("sgd", lr=lr, decoupled_weight_decay=d, weight_decay_filter="*.W",
                    schedule={"kind": "step", "step_size": 1, "gamma": 0.5})
    opt.set_epoch(1)
    new = opt.step(p, g)
    lr1 = lr * 0.5
    np.testing.assert_allclose(new["0.W"], p["0.W"] * (1 - lr1 * d) - lr1 * g["0.W"], rtol=1e-14)
    np.testing.assert_allclose(new["0.b"], p["0.b"] - lr1 * g["0.b"], rtol=1e-14)  # not decayed


def test_decoupled_differs_from_coupled_under_momentum():
    p, g = _params(np.float64)
    a = Optimizer("momentum", lr=0.1, decoupled_weight_decay=0.5)
    b = Optimizer("momentum", lr=0.1, weight_decay=0.5)
    pa = pb = p
    for _ in range(3):
        pa, pb = a.step(pa, g), b.step(pb, g)
    assert not np.allclose(pa["0.W"], pb["0.W"])


def test_clip_norm_scales_global_norm():
    p, g = _params(np.float64)
    norm = np.sqrt(sum(np.sum(v ** 2) for v in g.values()))
    new = Optimizer("sgd", lr=1.0, clip_norm=norm / 4).step(p, g)
    step = np.sqrt(sum(np.sum((p[k] - new[k]) ** 2) for k in p))
    assert step == pytest.approx(norm / 4, rel=1e-5)


# ------------------------------------------------------------------- state round trip

@pytest.mark.parametrize("spec", [
    {"kind": "adam", "lr": 0.01, "schedule": {"kind": "exponential", "decay": 0.9}},
    {"kind": "rmsprop", "momentum": 0.5, "clip_norm": 1.0},
    {"kind": "nesterov", "lr": 0.05, "weight_decay": 0.01},
    {"kind": "sgd", "lr": 0.1},
    {"kind": "adamw", "wd": 0.1, "weight_decay_filter": ["*.W"]},
])
def test_state_dict_round_trip_equals_uninterrupted(spec):
    p, _ = _params(np.float32)
    rng = np.random.default_rng(5)
    grads = [{k: rng.standard_normal(v.shape).astype(np.float32) for k, v in p.items()} for _ in range(10)]

    def run(opt, params, gs, first_epoch):
        for i, g in enumerate(gs):
            opt.set_epoch(first_epoch + i // 2)
            params = opt.step(params, g)
        return params

    full = run(get_optimizer(spec), p, grads, 0)

    opt = get_optimizer(spec)
    mid = run(opt, p, grads[:6], 0)
    buf = io.BytesIO()
    np.savez(buf, **opt.state_dict())
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as f:
        saved = dict(f)
    config = json.loads(json.dumps(opt.get_config()))
    resumed = Optimizer(**config)
    resumed.load_state_dict(saved)
    assert resumed.step_count == 6 and resumed.epoch == 2 and resumed.lr == opt.lr
    end = run(resumed, mid, grads[6:], 3)
    for k in p:
        np.testing.assert_array_equal(end[k], full[k])


def test_config_and_repr():
    opt = get_optimizer({"kind": "sgd", "lr": 0.1, "momentum": 0.9,
                         "schedule": {"kind": "exponential", "decay": 0.95}})
    cfg = opt.get_config()
    assert cfg["rule"] == "sgd" and cfg["momentum"] == 0.9 and cfg["schedule"]["decay"] == 0.95
    assert get_optimizer(json.loads(json.dumps(cfg))).get_config() == cfg
    assert get_optimizer(opt.to_dict()).get_config() == cfg
    assert get_optimizer(opt) is opt
    assert "momentum=0.9" in repr(opt) and "ExponentialDecay" in repr(opt)
    assert get_optimizer("ADAM").lr == 0.001 and Optimizer().lr == 0.01
    assert Optimizer("adam", betas=[0.8, 0.9]).get_config()["betas"] == [0.8, 0.9]
    assert opt.set_epoch(2) == pytest.approx(0.1 * 0.95 ** 2)


def test_config_refuses_plain_callables():
    with pytest.raises(ValueError, match="weight_decay_filter"):
        Optimizer(weight_decay=0.1, weight_decay_filter=lambda n: True).get_config()
    with pytest.raises(ValueError, match="schedule"):
        Optimizer(schedule=lambda e: 1.0).get_config()


# ------------------------------------------------------------------------------ errors

def test_unknown_rule_lists_valid_names():
    with pytest.raises(ValueError, match="unknown optimizer 'adagrad'.*adam, adamw, momentum"):
        get_optimizer("adagrad")
    with pytest.raises(ValueError, match="unknown optimizer"):
        get_optimizer({"kind": "lbfgs"})


def test_unknown_hyperparameter_named_and_valid_listed():
    with pytest.raises(ValueError, match=r"'betas'.*valid: .*momentum, nesterov"):
        Optimizer("sgd", betas=(0.9, 0.99))
    with pytest.raises(ValueError, match=r"'weight_decay_'"):
        get_optimizer({"kind": "adam", "weight_decay_": 0.1})


@pytest.mark.parametrize("kwargs, word", [
    ({"lr": 0}, "lr"), ({"lr": -1.0}, "lr"), ({"lr": float("nan")}, "lr"), ({"lr": "big"}, "lr"),
    ({"rule": "momentum", "momentum": 1.0}, "momentum"), ({"rule": "sgd", "momentum": -0.1}, "momentum"),
    ({"rule": "sgd", "nesterov": True}, "nesterov"), ({"rule": "sgd", "nesterov": "yes"}, "nesterov"),
    ({"rule": "adam", "betas": (0.9,)}, "betas"), ({"rule": "adam", "betas": (1.0, 0.9)}, r"betas\[0\]"),
    ({"rule": "adam", "eps": 0.0}, "eps"), ({"rule": "rmsprop", "alpha": 1.5}, "alpha"),
    ({"rule": "adamw", "wd": -0.1}, "wd"), ({"clip_norm": 0.0}, "clip_norm"),
    ({"weight_decay": -1e-3}, "weight_decay"), ({"decoupled_weight_decay": np.inf}, "decoupled"),
    ({"rule": "adamw", "weight_decay": 0.01}, "wd="), ({"weight_decay_filter": 3}, "weight_decay_filter"),
    ({"schedule": "linear"}, "unknown schedule"), ({"schedule": {"kind": "step", "gama": 0.5}}, "'gama'.*gamma"),
    ({"schedule": {"kind": "exponential", "decay": 0}}, "decay"),
    ({"schedule": {"kind": "step", "step_size": 0}}, "step_size"),
    ({"schedule": {"kind": "cosine", "t_max": 10, "min_factor": 2}}, "min_factor"),
    ({"schedule": {"decay": 0.9}}, "kind"), ({"schedule": 0.9}, "schedule"),
])
def test_bad_arguments_raise_naming_them(kwargs, word):
    with pytest.raises(ValueError, match=word):
        Optimizer(**kwargs)


def test_bad_specs():
    with pytest.raises(ValueError, match="optimizer"):
        get_optimizer(0.1)
    with pytest.raises(ValueError, match="kind"):
        get_optimizer({"lr": 0.1})
    with pytest.raises(ValueError, match="not both"):
        get_optimizer({"kind": "sgd", "rule": "adam"})


def test_step_errors_name_the_parameter():
    p, g = _params(np.float64)
    opt = Optimizer("adam")
    with pytest.raises(ValueError, match="missing gradient.*'0.b'"):
        opt.step(p, {"0.W": g["0.W"]})
    with pytest.raises(ValueError, match=r"grads\['0.W'\].*\(5, 3\).*\(3, 5\)"):
        opt.step(p, {**g, "0.W": g["0.W"].T})
    with pytest.raises(ValueError, match="unknown parameter.*'2.W'"):
        opt.step(p, {**g, "2.W": g["0.W"]})
    with pytest.raises(ValueError, match="NaN or inf"):
        Optimizer(clip_norm=1.0).step(p, {**g, "0.b": np.full(3, np.nan)})
    assert opt.step_count == 0 and opt.state == {}  # failed steps change nothing


def test_set_epoch_and_load_state_errors():
    opt = Optimizer("sgd", schedule="cosine")
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="epoch"):
            opt.set_epoch(bad)
    with pytest.raises(ValueError, match="'adam'"):
        opt.load_state_dict(Optimizer("adam").state_dict())
    with pytest.raises(ValueError, match="unexpected key"):
        opt.load_state_dict({**opt.state_dict(), "velocity": np.zeros(2)})
    p, g = _params(np.float64)
    adam = Optimizer("adam")
    adam.load_state_dict({**adam.state_dict(), "state/0.W/m": np.zeros(4), "state/0.W/v": np.zeros(4),
                          "state/0.W/t": 1})
    with pytest.raises(ValueError, match=r"state\['0.W'\]"):
        adam.step(p, g)
