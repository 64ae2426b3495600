"""What `proxnet study` tells its user, and with which exit code: 0 every trial done, 1 some
trial failed or timed out (each distinct error printed once, in full, with the command that
retries them) or the study could not run, 2 usage or config error, 3 folder in use. Each
case measured on main (bbae99a) as silently wrong is checked here with its clean outcome."""
import os
import socket
import sqlite3
import textwrap
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from proxnet.cli import main
from proxnet.studies import executors
from proxnet.studies.config import validate

TOML = """
name = "{name}"
seeds = 2
[dataset]
name = "digits"
[model]
hidden = [16]
[training]
optimizer = "sgd"
lr = 0.1
epochs = 2
batch_size = 64
{methods}
"""


def config(tmp_path, name="cli", methods='[[methods]]\nname = "none"\n', fname="c.toml") -> Path:
    p = tmp_path / fname
    p.write_text(textwrap.dedent(TOML.format(name=name, methods=methods)))
    return p


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_duplicate_methods_exit_2_before_anything_runs(tmp_path):
    p = config(tmp_path, methods='[[methods]]\nname = "a"\n[[methods]]\nname = "b"\n')
    res = invoke("study", p, "--out", tmp_path / "s")
    assert res.exit_code == 2, res.output
    assert "methods: method 'a' and method 'b' are the same trial config" in res.stderr
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("name", ["/srv/x", "../../../../y", ".."])
def test_a_study_name_that_is_a_path_exits_2_and_writes_nothing(tmp_path, monkeypatch, name):
    work = tmp_path / "a" / "b" / "c" / "d"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    p = config(tmp_path, name=name)
    before = {q for q in tmp_path.rglob("*")}
    res = invoke("study", p)
    assert res.exit_code == 2, res.output
    assert "name: the study name is used as a folder name" in res.stderr
    assert {q for q in tmp_path.rglob("*")} == before
    assert not Path("/srv/x").exists()


def test_missing_dataset_exits_1_with_its_full_message_before_any_trial(tmp_path, monkeypatch):
    """The recipe mnist-sigmoid-vs-relu without MNIST: the DatasetNotFoundError naming
    PROXNET_DATA is shown, nothing is stored, and once the data are there the study runs."""
    empty = tmp_path / "nodata"
    empty.mkdir()
    monkeypatch.setenv("PROXNET_DATA", str(empty))
    monkeypatch.setenv("PROXNET_CACHE", str(tmp_path / "cache"))
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):   # no network, at once
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    out = tmp_path / "m"
    res = invoke("study", "mnist-sigmoid-vs-relu", "--out", out, "--epochs", "1", "--seeds", "1")
    assert res.exit_code == 1, res.output
    assert "DatasetNotFoundError" in res.stderr and "PROXNET_DATA" in res.stderr
    assert str(empty) in res.stderr and "train-images-idx3-ubyte.gz" in res.stderr
    with sqlite3.connect(out / "study.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM trial").fetchone()[0] == 0


def _fail_first(monkeypatch, exc):
    """Make the first trial that runs raise ``exc`` (an environment failure)."""
    import proxnet.studies.trial as trial_mod
    original, calls = trial_mod._run, {"n": 0}

    def flaky(payload, deadline, live):
        calls["n"] += 1
        if calls["n"] == 1:
            raise exc
        return original(payload, deadline, live)

    monkeypatch.setattr(trial_mod, "_run", flaky)
    return calls


def test_environment_failures_are_shown_and_do_not_stick(tmp_path, monkeypatch):
    from proxnet.data import DatasetNotFoundError
    _fail_first(monkeypatch, DatasetNotFoundError("MNIST train files not found ... set PROXNET_DATA"))
    p = config(tmp_path)
    out = tmp_path / "s"
    res = invoke("study", p, "--out", out, "--jobs", "1", "--no-report")
    assert res.exit_code == 1, res.output
    assert res.stderr.count("DatasetNotFoundError: MNIST train files not found ... set PROXNET_DATA") == 1
    assert "retried by running the same command again" in res.stderr
    with sqlite3.connect(out / "study.db") as conn:
        assert dict(conn.execute("SELECT status, COUNT(*) FROM trial GROUP BY status")) == {"done": 1, "pending": 1}
    res = invoke("study", p, "--out", out, "--jobs", "1", "--no-report")    # no --retry-failed
    assert res.exit_code == 0, res.output
    assert "ran 1 trials, skipped 1" in res.stderr


def test_failed_trials_exit_1_print_each_error_once_and_the_retry_command(tmp_path):
    methods = ('[[methods]]\nname = "none"\n[[methods]]\nname = "diverge"\nregularizer = "l2"\n'
               'strengths = [1e6]\n')
    p = config(tmp_path, methods=methods)
    out = tmp_path / "s"
    res = invoke("study", p, "--out", out, "--jobs", "1", "--epochs", "2")
    assert res.exit_code == 1, res.output
    err = res.stderr
    assert err.count("TrainingDivergedError: training diverged") == 1          # 2 trials, one error
    assert "[1] failed (2 trial(s): diverge 1e+06 seed 0, diverge 1e+06 seed 1)" in err
    retry = f"proxnet study {p} --out {out} --epochs 2 --jobs 1 --retry-failed"
    assert retry in err
    # the rerun still says so (failures stick until retried) ...
    res = invoke("study", p, "--out", out, "--jobs", "1", "--epochs", "2")
    assert res.exit_code == 1 and "ran 0 trials" in res.stderr and retry in res.stderr
    # ... and the printed command retries them
    res = invoke(*retry.split()[1:])
    assert res.exit_code == 1 and "ran 2 trials, skipped 2" in res.stderr


def test_all_done_exits_0(tmp_path):
    res = invoke("study", config(tmp_path), "--out", tmp_path / "s", "--jobs", "1", "--no-report")
    assert res.exit_code == 0, res.output
    assert "ran 2 trials" in res.stderr


def test_usage_errors_exit_2(tmp_path):
    assert invoke("study", "no-such-recipe").exit_code == 2
    assert invoke("study", config(tmp_path), "--jobs", "0").exit_code == 2
    assert invoke("study", config(tmp_path), "--timeout", "inf").exit_code == 2
    p = config(tmp_path)
    invoke("study", p, "--out", tmp_path / "s", "--jobs", "1", "--no-report")
    res = invoke("study", p, "--out", tmp_path / "s", "--epochs", "3", "--jobs", "1")
    assert res.exit_code == 2 and "different study" in res.stderr


def test_preflight_refuses_impossible_models_with_exit_2(tmp_path):
    text = textwrap.dedent("""
        name = "lenet-flat"
        [dataset]
        name = "digits"
        [model]
        architecture = "lenet5"
        [training]
        epochs = 1
        [[methods]]
        name = "none"
        """)
    (tmp_path / "l.toml").write_text(text)
    res = invoke("study", tmp_path / "l.toml", "--out", tmp_path / "s")
    assert res.exit_code == 2, res.output
    assert "lenet5 needs NCHW images" in res.stderr
    # valid option values the data cannot satisfy (digits has 1,438 training images)
    (tmp_path / "o.toml").write_text(text.replace('architecture = "lenet5"', 'hidden = [8]').replace(
        'name = "digits"', 'name = "digits"\noptions = { subset = "first", n_train = 5000 }'))
    res = invoke("study", tmp_path / "o.toml", "--out", tmp_path / "s2")
    assert res.exit_code == 2 and "dataset.options: dataset 'digits'" in res.stderr, res.output
    assert "n_train" in res.stderr and "Traceback" not in res.output


# ---------------------------------------------------------------- time limits

class _HangingServer:
    """A TCP server that accepts connections and never answers (a download that hangs)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.conns.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


def test_a_worker_stuck_inside_library_code_is_killed_and_replaced(tmp_path, monkeypatch):
    """A trial that never reaches a batch boundary (here: a download that hangs) is stopped
    by the parent killing its worker after timeout + grace; a fresh worker runs the next
    trial."""
    monkeypatch.setattr(executors, "KILL_GRACE", (0.5, 0.0))
    server = _HangingServer()
    try:
        good = validate({"name": "t", "seeds": 2, "dataset": {"name": "digits"}, "model": {"hidden": [8]},
                         "training": {"epochs": 1}, "methods": [{"name": "none"}]}).trials()
        hang = dict(good[0].config, dataset={"name": "mnist", "options": {
            "data_dir": str(tmp_path / "none"), "cache_dir": str(tmp_path / "cache"),
            "mirrors": [f"http://127.0.0.1:{server.port}/"], "timeout": 600}})
        payloads = [dict(good[0].payload(1.0), key="hang:0", config=hang)] + [t.payload(60.0) for t in good]
        t0 = time.monotonic()
        results = list(executors.local_pool(payloads, jobs=1, threads=1))
    finally:
        server.close()
    assert time.monotonic() - t0 < 60
    by_key = {r["key"]: r for r in results}
    assert by_key["hang:0"]["status"] == "timeout"
    assert "its worker was killed and replaced" in by_key["hang:0"]["message"]
    done = [r for r in results if r["key"] != "hang:0"]
    assert [r["status"] for r in done] == ["done", "done"]
    assert len({r["worker"] for r in done}) == 1          # one fresh worker ran both


def test_a_worker_that_dies_makes_its_trial_pending_not_failed(tmp_path):
    def payload(epochs):
        return validate({"name": "t", "seeds": 1, "dataset": {"name": "digits"}, "model": {"hidden": [8]},
                         "training": {"epochs": epochs, "batch_size": 8},
                         "methods": [{"name": "none"}]}).trials()[0].payload(None)
    executors._stop_idle()        # the only worker of this process is the one running
    gen = executors.local_pool([payload(500), payload(1)], jobs=1, threads=1)

    def killer():
        time.sleep(1.0)
        for child in Path("/proc").glob("[0-9]*"):
            try:
                if int((child / "stat").read_text().rsplit(")", 1)[1].split()[1]) == os.getpid() and \
                        b"popen_loky" in (child / "cmdline").read_bytes():
                    os.kill(int(child.name), 9)
                    return
            except (OSError, ValueError, IndexError):
                pass

    threading.Thread(target=killer, daemon=True).start()
    results = list(gen)
    assert sorted(r["status"] for r in results) == ["done", "pending"]
    died = [r for r in results if r["status"] == "pending"][0]
    assert "WorkerDied" in died["message"] and "SIGKILL" in died["message"]


# ---------------------------------------------------------------- progress

def test_progress_counts_epochs_of_running_trials(tmp_path):
    from proxnet.studies.progress import StudyProgress
    from proxnet.studies.store import Store, open_readonly
    cfg = validate({"name": "t", "seeds": 3, "dataset": {"name": "digits"}, "model": {"hidden": [8]},
                    "training": {"epochs": 50}, "methods": [{"name": "none"}]})
    trials = cfg.trials()
    with Store(tmp_path) as store:
        store.init_study(cfg)
        store.add_trials(trials)
        store.conn.execute("UPDATE trial SET status = 'running', epochs_done = 20 WHERE key = ?", (trials[0].key,))
        store.conn.execute("UPDATE trial SET status = 'done', epochs_done = 50 WHERE key = ?", (trials[1].key,))
    bar = StudyProgress(tmp_path, [t.key for t in trials], "t", mode="line")
    conn = open_readonly(tmp_path)
    bar.update(conn)
    assert (bar.done, bar.planned) == (70, 150)
    assert bar.summary().startswith("t: 70/150 epochs, 1 running, 1 done, ")
    conn.close()
    bar.close()
