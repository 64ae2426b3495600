"""Methods that combine a regularizer with dropout, early stopping as a method option (its
trials stop on validation, and a resumed trial stops where an uninterrupted one does), and
the ``baseline`` field."""
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from proxnet.layers import Dropout
from proxnet.studies.config import ConfigError, validate
from proxnet.studies.report import summarize
from proxnet.studies.results import strength_name
from proxnet.studies.runner import run_study
from proxnet.studies.trial import build_model, load_data

DIGITS_VAL = {"name": "digits", "options": {"val_size": 300}}


def base(methods, dataset=None, **top) -> dict:
    cfg = {"name": "m", "seeds": 2, "dataset": dataset or DIGITS_VAL, "model": {"hidden": [16]},
           "training": {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "epochs": 30, "batch_size": 64},
           "methods": methods}
    cfg.update(top)
    return cfg


def refused(cfg, field, *needles):
    with pytest.raises(ConfigError) as exc:
        validate(cfg)
    msg = str(exc.value)
    assert f"  {field}" in msg, msg
    for n in needles:
        assert n in msg, msg


def query(study_dir, sql, args=()):
    conn = sqlite3.connect(Path(study_dir) / "study.db")
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


# ---------------------------------------------------------------- combined methods

@pytest.mark.parametrize("kind, strengths, mode", [("l2", [1e-3, 1e-2], "penalty"),
                                                   ("max_norm", [2.0, 3.0], "prox")])
def test_a_regularizer_with_one_fixed_dropout_rate(kind, strengths, mode):
    study = validate(base([{"name": "none"}, {"name": "combo", "regularizer": kind, "mode": mode,
                                               "strengths": strengths, "dropout": [0.5]}]))
    combo = [t for t in study.trials() if t.method == "combo" and t.seed == 0]
    assert [t.strength for t in combo] == strengths
    for t in combo:
        cfg = t.config
        assert cfg["dropout"] == 0.5 and cfg["regularizer"]["lam"] == t.strength
        assert strength_name(cfg, t.strength) == ("c" if kind == "max_norm" else "λ")
        model = build_model(cfg, load_data(cfg["dataset"], "float32"), 0)
        assert [d.rate for d in model.layers if isinstance(d, Dropout)] == [0.5]
        weighted = [layer for layer in model.layers if "W" in layer.params]
        regs = [layer.regularizers.get("W") for layer in weighted]
        assert all(getattr(r, "max_value" if kind == "max_norm" else "lam", None) == t.strength for r in regs)


def test_combined_method_refusals():
    refused(base([{"name": "c", "regularizer": "l2", "strengths": [1e-3], "dropout": [0.1, 0.5]}]),
            "methods.0.dropout", "one rate held fixed")
    # the combined point differs from the plain regularizer: both may be in one study
    study = validate(base([{"name": "l2", "regularizer": "l2", "strengths": [1e-3]},
                           {"name": "l2+d", "regularizer": "l2", "strengths": [1e-3], "dropout": [0.5]}]))
    assert len({t.key for t in study.trials()}) == 4


# ---------------------------------------------------------------- baseline

def test_baseline_names_the_method_the_report_compares_with(tmp_path):
    cfg = base([{"name": "none"}, {"name": "drop", "dropout": [0.2]}], baseline="drop")
    cfg["training"]["epochs"] = 2
    study = validate(cfg)
    assert study.baseline == "drop"
    run_study(study, tmp_path / "b", jobs=1, progress=False)
    rows = summarize(tmp_path / "b")
    assert {r["method"]: r["is_baseline"] for r in rows} == {"none": False, "drop": True}
    # the baseline is the report's choice: it does not change the study's identity
    assert validate(dict(cfg, baseline="none")).identity() == study.identity()


def test_baseline_must_name_a_method_of_one_grid_point():
    refused(base([{"name": "none"}], baseline="nobody"), "baseline", "no method 'nobody'", "'none'")
    refused(base([{"name": "none"}, {"name": "l2", "regularizer": "l2", "strengths": [1e-3, 1e-2]}],
                 baseline="l2"), "baseline", "2 grid points")


# ---------------------------------------------------------------- early stopping

ES = [{"name": "none"}, {"name": "es", "early_stopping": {"patience": 1, "metric": "val_accuracy"}}]


def stopping_epoch(values, patience, min_delta=0.0):
    """The rule, written out: the first epoch (1-based) after which the metric has gone
    more than ``patience`` epochs without beating its best by more than min_delta."""
    best, wait = -np.inf, 0
    for epoch, v in enumerate(values, 1):
        wait = 0 if v > best + min_delta else wait + 1
        best = max(best, v)
        if wait > patience:
            return epoch
    return None


def epochs_of(study_dir, method):
    out = {}
    for key, seed in query(study_dir, "SELECT key, seed FROM trial WHERE method = ?", (method,)):
        out[seed] = [v for (v,) in query(study_dir, "SELECT value FROM epoch_metric WHERE trial_key = ? "
                                                    "AND name = 'val_accuracy' ORDER BY epoch", (key,))]
    return out


def test_early_stopping_trials_stop_on_validation_and_store_epochs_to_the_stop(tmp_path):
    study = validate(base(ES))
    assert study.trials()[-1].config["early_stopping"] == {"patience": 1, "metric": "val_accuracy",
                                                           "min_delta": 0.0}
    assert "early_stopping" not in study.trials()[0].config      # stable keys for the others
    run = run_study(study, tmp_path / "es", jobs=1, progress=False)
    assert run.counts == {"done": 4}
    for seed, vals in epochs_of(tmp_path / "es", "es").items():
        stop = stopping_epoch(vals, 1)
        assert stop == len(vals) < 30, (seed, vals)
    assert all(len(v) == 30 for v in epochs_of(tmp_path / "es", "none").values())
    finals = [json.loads(f) for (f,) in query(tmp_path / "es", "SELECT final_json FROM trial WHERE method = 'es'")]
    assert all(f["epochs_run"] < 30 for f in finals)


def test_early_stopping_needs_a_validation_split_and_a_metric_of_the_task():
    refused(base(ES, dataset={"name": "digits"}), "methods.1.early_stopping", "no", "val_size")
    refused(base([{"name": "es", "early_stopping": {"patience": -1}}]), "methods.0.early_stopping.patience")
    refused(base([{"name": "es", "early_stopping": {"patience": 2, "metric": "test_accuracy"}}]),
            "methods.0.early_stopping.metric")
    refused(base([{"name": "es", "early_stopping": {"patience": 2, "monitor": "val_loss"}}]),
            "methods.0.early_stopping.monitor")
    from proxnet.studies.runner import preflight
    study = validate(base([{"name": "es", "early_stopping": {"patience": 2, "metric": "val_mse"}}]))
    with pytest.raises(ConfigError, match="early_stopping.metric"):
        preflight(study.trials())


def snapshot(study_dir):
    return {"epochs": query(study_dir, "SELECT trial_key, epoch, name, value FROM epoch_metric "
                                       "WHERE name != 'time' ORDER BY 1, 2, 3"),
            "final": query(study_dir, "SELECT key, status, final_json FROM trial ORDER BY key"),
            "artifacts": query(study_dir, "SELECT trial_key, name, npy FROM artifact ORDER BY 1, 2")}


def test_an_interrupted_early_stopping_trial_resumes_and_stops_where_it_would_have(tmp_path):
    """Interrupted (KeyboardInterrupt after a checkpoint) at every epoch of the early-stopping
    trials, one at a time — before the best epoch, while the patience runs, and at the very
    epoch that stops it (a checkpoint written before the trial could finish) — each resumed
    study ends identical to the uninterrupted one."""
    import proxnet.studies.trial as trial_mod

    cfg = base([ES[1]], seeds=1)
    study = validate(cfg)
    run_study(study, tmp_path / "ref", jobs=1, progress=False, checkpoint_every=0)
    ref = snapshot(tmp_path / "ref")
    n = len(epochs_of(tmp_path / "ref", "es")[0])
    assert 2 < n < 30
    original = trial_mod._Live.epoch_end
    for stop_at in range(1, n + 1):
        calls = {"n": 0}

        def interrupting(self, model, series, k, planned, grads):
            original(self, model, series, k, planned, grads)
            calls["n"] += 1
            if calls["n"] == stop_at:
                raise KeyboardInterrupt

        out = tmp_path / f"cut{stop_at}"
        trial_mod._Live.epoch_end = interrupting
        try:
            assert run_study(study, out, jobs=1, progress=False, checkpoint_every=0).interrupted
        finally:
            trial_mod._Live.epoch_end = original
        run = run_study(study, out, jobs=1, progress=False, checkpoint_every=0)
        assert run.complete and run.resumed == 1
        assert snapshot(out) == ref, f"resumed after epoch {stop_at} of {n}"
        assert [json.loads(s) for (s,) in query(out, "SELECT starts_json FROM trial")] == [[0, stop_at]]


@pytest.mark.slow
def test_a_killed_early_stopping_study_resumes_to_the_uninterrupted_result(tmp_path):
    """SIGKILL to the whole study (its worker processes included) in the middle of its
    early-stopping trials; the resumed study stops each trial at the same epoch and ends
    identical to an uninterrupted run."""
    import os
    import signal
    import subprocess

    from .test_resume import epochs_stored, study_cmd, wait_for
    config = tmp_path / "es.toml"
    config.write_text('name = "es"\nseeds = 2\n[dataset]\nname = "digits"\noptions = { val_size = 300 }\n'
                      '[model]\nhidden = [128, 128]\n[training]\noptimizer = "sgd"\nlr = 0.05\n'
                      'momentum = 0.9\nepochs = 200\nbatch_size = 16\n[[methods]]\nname = "es"\n'
                      'early_stopping = { patience = 6 }\n')
    ref = subprocess.run(study_cmd(config, tmp_path / "ref"), capture_output=True, text=True, timeout=600)
    assert ref.returncode == 0, ref.stderr
    stops = [len(v) for v in epochs_of(tmp_path / "ref", "es").values()]
    assert all(7 < n < 200 for n in stops), stops
    out = tmp_path / "killed"
    proc = subprocess.Popen(study_cmd(config, out, "--checkpoint-every", "0"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert wait_for(lambda: epochs_stored(out) >= sum(stops) // 2, proc), proc.stderr.read()
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert query(out, "SELECT COUNT(*) FROM trial WHERE status = 'done'")[0][0] < 2
    res = subprocess.run(study_cmd(config, out, "--checkpoint-every", "0"), capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0 and "resumed from checkpoints" in res.stderr, res.stderr
    assert snapshot(out) == snapshot(tmp_path / "ref")
