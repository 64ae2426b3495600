"""Studies: config validation, the grid, the store (resume, no duplicates, no half-written
epochs), executors (local processes, a real Dask cluster), timeouts, failures, the CLI, and
every built-in recipe in a shortened form."""
import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from proxnet.cli import main
from proxnet.studies.config import (ConfigError, list_recipes, load_config,
                                    load_recipe, validate)
from proxnet.studies.report import summarize
from proxnet.studies.runner import run_study
from proxnet.studies.store import Store, StoreError

MODERN = ["curve-fit", "digits-quick", "lenet5-1k", "mnist-1k-overfit", "mnist-sigmoid-vs-relu", "spiral"]
FAITHFUL = ["cs231n-sigmoid-vs-relu", "curve-fit-fixed", "keras-lenet5-1k", "nnfs-spiral", "torch-mnist-1k"]
"""The classic experiments as published; run shortened in tests/studies/test_config_recipes.py."""
RECIPES = sorted(MODERN + FAITHFUL)


def small(**over) -> dict:
    """A tiny digits study: 3 grid points × 2 seeds, a fraction of a second per trial."""
    cfg = {"name": "tiny", "seeds": 2,
           "dataset": {"name": "digits"},
           "model": {"hidden": [16]},
           "training": {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "epochs": 3, "batch_size": 64},
           "methods": [{"name": "none"},
                       {"name": "prox-l1", "regularizer": "l1", "mode": "prox", "strengths": [1e-3]},
                       {"name": "dropout", "dropout": [0.2]}]}
    cfg.update(over)
    return cfg


def db(study_dir):
    return sqlite3.connect(Path(study_dir) / "study.db")


# ---------------------------------------------------------------- config

def test_grid_expansion_and_stable_keys():
    cfg = validate(small())
    trials = cfg.trials()
    assert [(t.method, t.strength, t.seed) for t in trials] == [
        ("none", None, 0), ("none", None, 1), ("prox-l1", 1e-3, 0), ("prox-l1", 1e-3, 1),
        ("dropout", 0.2, 0), ("dropout", 0.2, 1)]
    assert len({t.key for t in trials}) == 6
    # the key depends on the config, not on the order of the methods or the study name
    again = validate(small(name="other", methods=small()["methods"][::-1]))
    assert {t.key for t in again.trials()} == {t.key for t in trials}
    # a change of the training changes every key
    changed = validate(small(training={**small()["training"], "lr": 0.2}))
    assert not {t.key for t in changed.trials()} & {t.key for t in trials}


@pytest.mark.parametrize("patch, needle", [
    ({"modle": {}}, "modle: unknown field"),
    ({"model": {"hidden": [16], "activaton": "relu"}}, "model.activaton: unknown field"),
    ({"model": {"activation": "swish"}}, "model.activation: expected 'relu'"),
    ({"training": {"lr": -1}}, "training.lr"),
    ({"training": {"optimizer": "adagrad"}}, "training.optimizer: expected 'sgd'"),
    ({"dataset": {"name": "imagenet"}}, "unknown dataset 'imagenet'"),
    ({"methods": [{"name": "l1", "strengths": [1e-3]}]}, "methods.0.strengths: given but no regularizer"),
    ({"methods": [{"name": "l1", "regularizer": "l1"}]}, "needs strengths"),
    ({"methods": [{"name": "l0", "regularizer": "l0", "strengths": [1.0]}]}, "only as mode = 'prox'"),
    ({"methods": [{"name": "x", "regularizer": "lasso", "strengths": [1.0]}]}, "methods.0.regularizer"),
    ({"methods": [{"name": "a"}, {"name": "a"}]}, "names must be distinct"),
    ({"seeds": 0}, "seeds: a seed count must be in [1, 1000]"),
])
def test_bad_config_names_the_field(patch, needle):
    with pytest.raises(ConfigError) as exc:
        validate(small(**patch), "my.toml")
    assert "my.toml" in str(exc.value) and needle in str(exc.value), str(exc.value)


def test_toml_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="unknown recipe 'nope'.*digits-quick"):
        load_recipe("nope")


def test_a_folder_named_like_a_recipe_does_not_shadow_it(tmp_path, monkeypatch):
    from proxnet.studies.config import resolve
    monkeypatch.chdir(tmp_path)
    (tmp_path / "digits-quick").mkdir()     # e.g. an earlier study folder
    assert resolve("digits-quick").name == "digits-quick"
    (tmp_path / "mine.toml").write_text('name = "x"\n')
    with pytest.raises(ConfigError, match="mine.toml: invalid study config"):
        resolve("mine.toml")


def test_recipes_are_listed_and_valid():
    assert sorted(list_recipes()) == RECIPES
    for name, line in list_recipes().items():
        assert line and "\n" not in line
        cfg = load_recipe(name)
        assert cfg.name == name and cfg.trials()


# ---------------------------------------------------------------- running and storing

def test_run_store_report_and_recomputation(tmp_path):
    cfg = validate(small())
    run = run_study(cfg, tmp_path / "s", jobs=1, progress=False)
    assert (run.total, run.ran, run.skipped, run.counts) == (6, 6, 0, {"done": 6})
    conn = db(tmp_path / "s")
    # one row per (trial, epoch, metric); final metrics agree with the last epoch
    n = conn.execute("SELECT COUNT(*) FROM epoch_metric").fetchone()[0]
    distinct = conn.execute("SELECT COUNT(*) FROM (SELECT DISTINCT trial_key, epoch, name FROM epoch_metric)").fetchone()[0]
    assert n == distinct
    for key, final in conn.execute("SELECT key, final_json FROM trial"):
        final = json.loads(final)
        last = dict(conn.execute("SELECT name, value FROM epoch_metric WHERE trial_key = ? AND epoch = 3", (key,)))
        assert final["final_test_accuracy"] == pytest.approx(last["test_accuracy"], abs=0)
        assert final["gap"] == pytest.approx(last["train_accuracy"] - last["test_accuracy"])
        epochs = [r[0] for r in conn.execute("SELECT DISTINCT epoch FROM epoch_metric WHERE trial_key = ? "
                                              "ORDER BY epoch", (key,))]
        assert epochs == [1, 2, 3]
    # the summary equals a recomputation from the raw rows
    rows = {(r["method"], r["strength"]): r for r in summarize(tmp_path / "s")}
    for (method, strength), r in rows.items():
        vals = [json.loads(f)["final_test_accuracy"] for (f,) in conn.execute(
            "SELECT final_json FROM trial WHERE method = ? AND status = 'done'", (method,))]
        assert r["n"] == 2
        assert r["final_test_accuracy_mean"] == pytest.approx(np.mean(vals), rel=1e-12)
        assert r["final_test_accuracy_std"] == pytest.approx(np.std(vals, ddof=1), rel=1e-9, abs=1e-15)
    assert rows[("prox-l1", 1e-3)]["zeros_total_mean"] > 0
    assert rows[("none", None)]["zeros_total_mean"] == 0
    # artifacts for the report
    names = {r[0] for r in conn.execute("SELECT DISTINCT name FROM artifact")}
    assert {"first_layer_weights", "grad_norm_W1"} <= names
    conn.close()
    # running again does nothing
    again = run_study(cfg, tmp_path / "s", jobs=1, progress=False)
    assert (again.ran, again.skipped) == (0, 6)


def test_a_trial_checks_its_test_and_validation_sets_once_not_every_epoch(tmp_path, monkeypatch):
    from proxnet import Sequential
    names = []
    check_X = Sequential.check_X
    monkeypatch.setattr(Sequential, "check_X", lambda self, X, name="X": names.append(name) or check_X(self, X, name))
    for epochs in (2, 5):
        names.clear()
        cfg = validate(small(seeds=1, dataset={"name": "digits", "options": {"val_size": 0.2}},
                             methods=[{"name": "none"}],
                             training={"optimizer": "sgd", "lr": 0.1, "epochs": epochs, "batch_size": 64}))
        run = run_study(cfg, tmp_path / f"s{epochs}", jobs=1, progress=False)
        assert run.counts == {"done": 1}
        assert names.count("X_test") == names.count("X_val") == 1, names
        with db(tmp_path / f"s{epochs}") as conn:
            assert conn.execute("SELECT COUNT(DISTINCT epoch) FROM epoch_metric WHERE name = 'val_accuracy'"
                                ).fetchone()[0] == epochs


def test_parallel_runs_reproduce_serial_runs_exactly(tmp_path):
    cfg = validate(small())
    run_study(cfg, tmp_path / "serial", jobs=1, progress=False)
    run_study(cfg, tmp_path / "par", jobs=2, progress=False)

    def finals(d):
        with db(d) as conn:
            return {k: json.loads(f) for k, f in conn.execute("SELECT key, final_json FROM trial")}
    a, b = finals(tmp_path / "serial"), finals(tmp_path / "par")
    assert a.keys() == b.keys()
    for k in a:
        assert a[k] == b[k], k


def test_more_seeds_extend_a_study_and_a_different_study_is_refused(tmp_path):
    run_study(validate(small(seeds=1)), tmp_path / "s", jobs=1, progress=False)
    run = run_study(validate(small(seeds=2)), tmp_path / "s", jobs=1, progress=False)
    assert (run.ran, run.skipped) == (3, 3)
    with Store(tmp_path / "s") as st:
        assert st.study_config().seeds == [0, 1]
    other = validate(small(training={**small()["training"], "epochs": 4}))
    with pytest.raises(StoreError, match="different study.*training"):
        run_study(other, tmp_path / "s", jobs=1, progress=False)


def test_failed_trial_is_stored_with_traceback_and_others_go_on(tmp_path):
    # an L2 strength this large makes SGD diverge (factor 1 - lr*λ per step): a real failure
    methods = small()["methods"] + [{"name": "broken", "regularizer": "l2", "strengths": [1e6]}]
    run = run_study(validate(small(methods=methods)), tmp_path / "s", jobs=2, progress=False)
    assert run.counts == {"done": 6, "failed": 2}
    with db(tmp_path / "s") as conn:
        rows = conn.execute("SELECT method, error FROM trial WHERE status = 'failed'").fetchall()
        assert {m for m, _ in rows} == {"broken"}
        assert all(e.startswith("Traceback") and "TrainingDivergedError" in e for _, e in rows)
        assert conn.execute("SELECT COUNT(*) FROM epoch_metric e JOIN trial t ON t.key = e.trial_key "
                            "WHERE t.status = 'failed'").fetchone()[0] == 0
    # failed trials are kept on resume, re-run on request
    assert run_study(validate(small(methods=methods)), tmp_path / "s", jobs=1, progress=False).ran == 0
    assert run_study(validate(small(methods=methods)), tmp_path / "s", jobs=1, progress=False,
                     retry_failed=True).ran == 2
    row = [r for r in summarize(tmp_path / "s") if r["method"] == "broken"][0]
    assert (row["n"], row["failed"]) == (0, 2)


@pytest.mark.parametrize("jobs", [1, 2])
def test_timeout(tmp_path, jobs):
    """The limit is checked at batch boundaries inside the trial's own callback (no signal
    fires inside library code, so no worker is left half-imported: measured on main, a
    SIGALRM inside scipy's import made every later trial of that worker fail with a
    NameError). Every trial reports TrialTimeout."""
    cfg = validate(small(training={**small()["training"], "epochs": 400}, seeds=2,
                         methods=[{"name": "none"}, {"name": "l2", "regularizer": "l2", "strengths": [1e-3]}]))
    t0 = time.monotonic()
    run = run_study(cfg, tmp_path / "s", jobs=jobs, timeout=0.3, progress=False)
    assert run.counts == {"timeout": 4}
    assert time.monotonic() - t0 < 60
    with db(tmp_path / "s") as conn:
        errs = [e for (e,) in conn.execute("SELECT message FROM trial")]
    assert all(e.startswith("TrialTimeout: trial exceeded its time limit") for e in errs), errs


def test_dask_executor_on_a_real_local_cluster(tmp_path):
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    cfg = validate(small())
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        run = run_study(cfg, tmp_path / "dask", executor="dask", address=cluster.scheduler_address,
                        progress=False)
    assert run.counts == {"done": 6}
    run_study(cfg, tmp_path / "local", jobs=1, progress=False)
    with db(tmp_path / "dask") as a, db(tmp_path / "local") as b:
        fa = dict(a.execute("SELECT key, final_json FROM trial"))
        fb = dict(b.execute("SELECT key, final_json FROM trial"))
    assert fa == fb


# ---------------------------------------------------------------- kill and resume

def _write_config(tmp_path, epochs=40) -> Path:
    path = tmp_path / "study.toml"
    path.write_text(textwrap.dedent(f"""
        name = "killme"
        seeds = 3
        [dataset]
        name = "digits"
        [model]
        hidden = [32]
        [training]
        optimizer = "sgd"
        lr = 0.05
        epochs = {epochs}
        batch_size = 32
        [[methods]]
        name = "none"
        [[methods]]
        name = "l2"
        regularizer = "l2"
        strengths = [1e-3, 1e-2]
        """))
    return path


def _wait_done(study_dir, n, proc, limit=120):
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        assert proc.poll() is None, "the study finished before it could be interrupted"
        if (Path(study_dir) / "study.db").exists():
            try:
                with db(study_dir) as conn:
                    done = conn.execute("SELECT COUNT(*) FROM trial WHERE status = 'done'").fetchone()[0]
                if done >= n:
                    return done
            except sqlite3.OperationalError:
                pass
        time.sleep(0.05)
    raise AssertionError("no trial finished in time")


def _check_consistent(study_dir, epochs):
    """Done trials hold every epoch; unfinished ones (running trials write as they go) a
    prefix of whole epochs; no duplicates (the primary key) and no half-written epoch."""
    with db(study_dir) as conn:
        status = dict(conn.execute("SELECT key, status FROM trial"))
        per = {}
        for key, epoch, n in conn.execute("SELECT trial_key, epoch, COUNT(*) FROM epoch_metric "
                                          "GROUP BY trial_key, epoch ORDER BY 1, 2"):
            per.setdefault(key, []).append((epoch, n))
    for key, st in status.items():
        rows = per.get(key, [])
        assert [e for e, _ in rows] == list(range(1, len(rows) + 1)), key
        assert len({n for _, n in rows}) <= 1, f"trial {key} has a half-written epoch"
        if st == "done":
            assert len(rows) == epochs, key
    return status


@pytest.mark.parametrize("how", ["SIGINT"])      # SIGKILL: see test_resume.py
def test_killed_study_resumes_only_missing_trials(tmp_path, how):
    config = _write_config(tmp_path, epochs=15)
    out = tmp_path / "study"
    cmd = [sys.executable, "-m", "proxnet", "study", str(config), "--out", str(out), "--jobs", "1",
           "--no-progress", "--no-report"]
    # SIGINT must reach Python even where the test runner was started in the background
    # (which ignores SIGINT, and an ignored signal stays ignored across exec)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        _wait_done(out, 2, proc)
        proc.send_signal(getattr(signal, how))
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    if how == "SIGINT":
        assert proc.returncode == 130, err
        assert "run the same command again to resume" in err
    else:
        assert proc.returncode == -signal.SIGKILL
    status = _check_consistent(out, 15)
    done_before = {k for k, s in status.items() if s == "done"}
    assert 2 <= len(done_before) < 9
    if how == "SIGINT":
        assert "running" not in status.values()
    with db(out) as conn:
        finished_before = dict(conn.execute("SELECT key, finished FROM trial WHERE status = 'done'"))

    run = run_study(load_config(config), out, jobs=1, progress=False)
    assert run.ran == 9 - len(done_before) and run.skipped == len(done_before)
    status = _check_consistent(out, 15)
    assert len(status) == 9 and set(status.values()) == {"done"}
    with db(out) as conn:
        finished_after = dict(conn.execute("SELECT key, finished FROM trial"))
        assert conn.execute("SELECT COUNT(*) FROM trial").fetchone()[0] == 9
    assert {k: finished_after[k] for k in done_before} == finished_before  # not re-run


# ---------------------------------------------------------------- CLI

def test_cli_recipes_lists_every_recipe():
    res = CliRunner().invoke(main, ["recipes"])
    assert res.exit_code == 0
    assert [line.split()[0] for line in res.output.strip().splitlines()] == RECIPES


def test_cli_study_report_and_export(tmp_path):
    config = _write_config(tmp_path, epochs=2)
    out = tmp_path / "s"
    res = CliRunner().invoke(main, ["study", str(config), "--out", str(out), "--seeds", "2", "--jobs", "1"])
    assert res.exit_code == 0, res.output
    assert "ran 6 trials" in res.output and "final test acc" in res.output
    assert (out / "report" / "index.html").is_file()
    for name in ("summary.csv", "trials.csv", "epochs.csv"):
        assert (out / "report" / name).is_file()
    res = CliRunner().invoke(main, ["study", str(config), "--out", str(out), "--seeds", "2", "--jobs", "1"])
    assert "ran 0 trials, skipped 6" in res.output
    res = CliRunner().invoke(main, ["export", str(out), "--out", str(tmp_path / "csv")])
    assert res.exit_code == 0
    lines = (tmp_path / "csv" / "trials.csv").read_text().splitlines()
    assert len(lines) == 7 and "final_test_accuracy" in lines[0]
    res = CliRunner().invoke(main, ["study", "no-such-recipe"])
    assert res.exit_code != 0 and "unknown recipe" in res.output
    res = CliRunner().invoke(main, ["study", str(config), "--out", str(out), "--epochs", "3"])
    assert res.exit_code != 0 and "different study" in res.output


# ---------------------------------------------------------------- recipes, shortened

SHORT = {"curve-fit": 30, "digits-quick": 2, "lenet5-1k": 1, "mnist-1k-overfit": 1,
         "mnist-sigmoid-vs-relu": 1, "spiral": 20}


@pytest.mark.parametrize("name", MODERN)
def test_every_recipe_runs_shortened(tmp_path, name, request):
    from proxnet.studies.report import write_report
    if name.startswith(("mnist", "lenet")):
        request.getfixturevalue("mnist_dir")
    cfg = load_recipe(name).with_overrides(seeds=1, epochs=SHORT[name])
    run = run_study(cfg, tmp_path / name, jobs=2, progress=False)
    assert run.counts == {"done": len(cfg.trials())}, run.counts
    page = write_report(tmp_path / name).read_text()
    assert "<img" in page
    if name == "spiral":
        assert "Decision boundaries" in page
    if name == "curve-fit":
        assert "Fitted curves" in page
        rows = summarize(tmp_path / name)
        assert {r["method"].split("/")[0] for r in rows} == {"linear-6", "quadratic"}
    if name == "mnist-sigmoid-vs-relu":
        with db(tmp_path / name) as conn:
            assert conn.execute("SELECT COUNT(*) FROM epoch_metric WHERE name = 'val_accuracy'").fetchone()[0] == 2


def test_docs_config_example_validates_and_lists_every_recipe():
    import re

    from proxnet.studies.config import tomllib
    doc = (Path(__file__).resolve().parents[2] / "docs" / "studies.md").read_text(encoding="utf-8")
    block = re.search(r"```toml\n(.*?)```", doc, re.S).group(1)
    cfg = validate(tomllib.loads(block), "docs/studies.md")
    assert [m.name for m in cfg.methods] == ["none", "l1", "dropout", "mse"]
    assert len(cfg.trials()) == 5 * (1 + 2 + 2 + 1)
    for name in RECIPES:
        assert f"`{name}`" in doc
