"""Optimizer rules, weight decay, clipping and schedules against PyTorch (float64, 1e-10)."""
import numpy as np
import pytest

from proxnet.optim import Optimizer

torch = pytest.importorskip("torch", reason="PyTorch oracle not installed (pip install torch==2.13.0)")

SHAPES = {"0.W": (4, 3), "0.b": (3,), "1.W": (3, 2), "1.b": (2,)}
TOL = dict(rtol=1e-10, atol=1e-10)


def _problem(seed, n_steps):
    rng = np.random.default_rng(seed)
    params = {k: rng.standard_normal(s) for k, s in SHAPES.items()}
    grads = [{k: rng.standard_normal(s) * rng.uniform(0.1, 3.0) for k, s in SHAPES.items()}
             for _ in range(n_steps)]
    return params, grads


def _compare(opt, make_torch, *, n_steps=20, seed=0, clip=None, steps_per_epoch=None, scheduler=None):
    """Feed the same gradients to ``opt`` and to the torch optimizer; compare every step."""
    params, grads = _problem(seed, n_steps)
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    topt = make_torch(tp)
    tsched = scheduler(topt) if scheduler else None
    for i, gs in enumerate(grads):
        if steps_per_epoch and i % steps_per_epoch == 0:
            opt.set_epoch(i // steps_per_epoch)
            assert opt.lr == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12)
        params = opt.step(params, gs)
        for k, p in tp.items():
            p.grad = torch.tensor(gs[k])
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(list(tp.values()), clip)
        topt.step()
        if tsched and (i + 1) % steps_per_epoch == 0:
            tsched.step()
        for k, p in tp.items():
            np.testing.assert_allclose(params[k], p.detach().numpy(), **TOL, err_msg=f"{k} step {i}")


def _all(tp):
    return list(tp.values())


O = torch.optim
CASES = {
    "sgd": (dict(rule="sgd", lr=0.1), lambda tp: O.SGD(_all(tp), lr=0.1)),
    "sgd_momentum": (dict(rule="sgd", lr=0.1, momentum=0.9),
                     lambda tp: O.SGD(_all(tp), lr=0.1, momentum=0.9)),
    "sgd_nesterov_flag": (dict(rule="sgd", lr=0.05, momentum=0.7, nesterov=True),
                          lambda tp: O.SGD(_all(tp), lr=0.05, momentum=0.7, nesterov=True)),
    "momentum": (dict(rule="momentum", lr=0.05, momentum=0.8),
                 lambda tp: O.SGD(_all(tp), lr=0.05, momentum=0.8)),
    "nesterov": (dict(rule="nesterov", lr=0.05),
                 lambda tp: O.SGD(_all(tp), lr=0.05, momentum=0.9, nesterov=True)),
    "sgd_wd": (dict(rule="sgd", lr=0.1, weight_decay=0.05),
               lambda tp: O.SGD(_all(tp), lr=0.1, weight_decay=0.05)),
    "momentum_wd": (dict(rule="momentum", lr=0.05, momentum=0.9, weight_decay=0.1),
                    lambda tp: O.SGD(_all(tp), lr=0.05, momentum=0.9, weight_decay=0.1)),
    "nesterov_wd": (dict(rule="nesterov", lr=0.05, momentum=0.9, weight_decay=0.1),
                    lambda tp: O.SGD(_all(tp), lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    "rmsprop": (dict(rule="rmsprop", lr=0.01), lambda tp: O.RMSprop(_all(tp), lr=0.01)),
    "rmsprop_momentum_wd": (
        dict(rule="rmsprop", lr=0.01, alpha=0.9, eps=1e-6, momentum=0.5, weight_decay=0.02),
        lambda tp: O.RMSprop(_all(tp), lr=0.01, alpha=0.9, eps=1e-6, momentum=0.5, weight_decay=0.02)),
    "adam": (dict(rule="adam", lr=0.01), lambda tp: O.Adam(_all(tp), lr=0.01)),
    "adam_wd": (dict(rule="adam", lr=0.02, betas=(0.8, 0.99), eps=1e-7, weight_decay=0.05),
                lambda tp: O.Adam(_all(tp), lr=0.02, betas=(0.8, 0.99), eps=1e-7, weight_decay=0.05)),
    "adamw_default": (dict(rule="adamw", lr=0.01), lambda tp: O.AdamW(_all(tp), lr=0.01)),
    "adamw": (dict(rule="adamw", lr=0.01, wd=0.1), lambda tp: O.AdamW(_all(tp), lr=0.01, weight_decay=0.1)),
    "adam_decoupled": (dict(rule="adam", lr=0.01, decoupled_weight_decay=0.1),
                       lambda tp: O.AdamW(_all(tp), lr=0.01, weight_decay=0.1)),
    "adamw_filter": (dict(rule="adamw", lr=0.01, wd=0.1, weight_decay_filter="*.W"),
                     lambda tp: O.AdamW([{"params": [tp["0.W"], tp["1.W"]]},
                                         {"params": [tp["0.b"], tp["1.b"]], "weight_decay": 0.0}],
                                        lr=0.01, weight_decay=0.1)),
    "sgd_wd_filter": (dict(rule="sgd", lr=0.1, momentum=0.9, weight_decay=0.1,
                           weight_decay_filter=lambda name: name.endswith(".W")),
                      lambda tp: O.SGD([{"params": [tp["0.W"], tp["1.W"]]},
                                        {"params": [tp["0.b"], tp["1.b"]], "weight_decay": 0.0}],
                                       lr=0.1, momentum=0.9, weight_decay=0.1)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_twenty_steps_match_torch(case):
    kwargs, make_torch = CASES[case]
    _compare(Optimizer(**kwargs), make_torch)


@pytest.mark.parametrize("clip", [0.5, 3.0, 1e3])  # active, sometimes active, never active
@pytest.mark.parametrize("rule", ["momentum", "adam"])
def test_clip_grad_norm_matches_torch(rule, clip):
    kwargs, make_torch = CASES[rule]
    _compare(Optimizer(**kwargs, clip_norm=clip), make_torch, clip=clip)


def test_clip_then_coupled_decay_matches_torch():
    _compare(Optimizer("sgd", lr=0.1, momentum=0.9, weight_decay=0.1, clip_norm=1.0),
             lambda tp: O.SGD(_all(tp), lr=0.1, momentum=0.9, weight_decay=0.1), clip=1.0)


def test_schedule_inside_training_matches_torch():
    _compare(Optimizer("adam", lr=0.01, schedule={"kind": "exponential", "decay": 0.8}),
             lambda tp: O.Adam(_all(tp), lr=0.01), n_steps=20, steps_per_epoch=4,
             scheduler=lambda o: O.lr_scheduler.ExponentialLR(o, gamma=0.8))


S = O.lr_scheduler


@pytest.mark.parametrize("spec, make_sched", [
    ({"kind": "exponential", "decay": 0.9}, lambda o: S.ExponentialLR(o, gamma=0.9)),
    ({"kind": "step", "step_size": 7, "gamma": 0.5}, lambda o: S.StepLR(o, step_size=7, gamma=0.5)),
    ({"kind": "cosine", "t_max": 10}, lambda o: S.CosineAnnealingLR(o, T_max=10)),
    ({"kind": "cosine", "t_max": 12, "min_factor": 0.01},
     lambda o: S.CosineAnnealingLR(o, T_max=12, eta_min=0.3 * 0.01)),
    ("constant", lambda o: S.ConstantLR(o, factor=1.0)),
])
def test_schedule_lr_sequence_matches_torch(spec, make_sched):
    lr0 = 0.3
    opt = Optimizer("sgd", lr=lr0, schedule=spec)
    topt = O.SGD([torch.zeros(1, requires_grad=True)], lr=lr0)
    sched = make_sched(topt)
    for epoch in range(30):
        ours = opt.set_epoch(epoch)
        np.testing.assert_allclose(ours, topt.param_groups[0]["lr"], **TOL, err_msg=f"epoch {epoch}")
        assert opt.lr == ours
        topt.step()
        sched.step()
