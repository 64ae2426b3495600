"""Long trials survive crashes: a study killed (SIGKILL to its whole process group) several
times at random epochs, with real worker processes (the local loky-started pool and a Dask
LocalCluster), resumes each interrupted trial from its last checkpoint, re-runs only the
epochs after it, and ends bit-identical (every metric but ``time``, every final metric and
artifact) to an uninterrupted run. Also: workers die with their study, and the folder lock.
"""
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from proxnet.studies.config import load_config
from proxnet.studies.runner import run_study

CONFIG = """
name = "resume"
seeds = 2
[dataset]
name = "digits"
[model]
hidden = [64]
[training]
optimizer = "sgd"
lr = 0.05
momentum = 0.9
epochs = {epochs}
batch_size = 32
[[methods]]
name = "none"
[[methods]]
name = "dropout"
dropout = [0.3]
[[methods]]
name = "l2"
regularizer = "l2"
strengths = [1e-3]
"""


def write_config(tmp_path, epochs=20) -> Path:
    path = tmp_path / "resume.toml"
    path.write_text(textwrap.dedent(CONFIG.format(epochs=epochs)))
    return path


def db(study_dir):
    return sqlite3.connect(Path(study_dir) / "study.db", timeout=30)


def study_cmd(config, out, *extra):
    return [sys.executable, "-m", "proxnet", "study", str(config), "--out", str(out), "--jobs", "2",
            "--no-progress", "--no-report", *extra]


def query(study_dir, sql, args=()):
    for _ in range(50):
        try:
            with db(study_dir) as conn:
                return conn.execute(sql, args).fetchall()
        except sqlite3.OperationalError:
            time.sleep(0.1)
    raise AssertionError("store stayed locked")


def wait_for(pred, proc, limit=180, what="progress"):
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if proc is not None and proc.poll() is not None:
            return False
        if pred():
            return True
        time.sleep(0.05)
    raise AssertionError(f"no {what} within {limit} s")


def epochs_stored(study_dir) -> int:
    if not (Path(study_dir) / "study.db").exists():
        return 0
    try:
        return query(study_dir, "SELECT COALESCE(SUM(epochs_done), 0) FROM trial")[0][0]
    except sqlite3.DatabaseError:
        return 0


def sidecars(study_dir) -> dict:
    """{trial key: checkpoint epoch} from the checkpoint JSON files."""
    out = {}
    for p in (Path(study_dir) / "checkpoints").glob("*.json"):
        meta = json.loads(p.read_text())
        out[meta["key"]] = meta["epoch"]
    return out


def check_consistent(study_dir, epochs):
    """No duplicates, no partial epochs: every stored epoch has the same set of names, done
    trials have every epoch, unfinished ones a prefix 1..k."""
    rows = query(study_dir, "SELECT trial_key, epoch, COUNT(*) FROM epoch_metric GROUP BY trial_key, epoch")
    names = dict(query(study_dir, "SELECT trial_key, COUNT(DISTINCT name) FROM epoch_metric GROUP BY trial_key"))
    status = dict(query(study_dir, "SELECT key, status FROM trial"))
    per = {}
    for key, epoch, n in rows:
        assert n == names[key] > 10, f"trial {key} epoch {epoch} holds {n} of {names[key]} metrics"
        per.setdefault(key, []).append(epoch)
    for key, st in status.items():
        got = sorted(per.get(key, []))
        assert got == list(range(1, len(got) + 1)), (key, got)
        if st == "done":
            assert len(got) == epochs
    return status


def snapshot(study_dir):
    """Everything but the time metric, for bit-for-bit comparisons."""
    return {
        "epochs": query(study_dir, "SELECT trial_key, epoch, name, value FROM epoch_metric "
                                   "WHERE name != 'time' ORDER BY 1, 2, 3"),
        "final": query(study_dir, "SELECT key, method, strength, seed, status, final_json FROM trial ORDER BY key"),
        "artifacts": query(study_dir, "SELECT trial_key, name, npy FROM artifact ORDER BY 1, 2"),
    }


def kill_and_resume(tmp_path, extra, kills=3, epochs=20, seed=0):
    config = write_config(tmp_path, epochs)
    out = tmp_path / "killed"
    rng = random.Random(seed)
    expected_starts: dict = {}      # key -> {checkpoint epoch: time values of epochs 1..E}
    for k in range(kills):
        proc = subprocess.Popen(study_cmd(config, out, "--checkpoint-every", "0", *extra),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        try:
            before = epochs_stored(out)
            left = 6 * epochs - before          # kill within the first half of what is left
            target = before + rng.randint(min(3, left // 2), max(3, left // 2))
            alive = wait_for(lambda: epochs_stored(out) >= target, proc)
            assert alive, f"the study ended before kill {k + 1}: {proc.stderr.read()}"
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        check_consistent(out, epochs)
        for key, e in sidecars(out).items():
            times = [v for (v,) in query(out, "SELECT value FROM epoch_metric WHERE trial_key = ? AND "
                                              "name = 'time' AND epoch <= ? ORDER BY epoch", (key, e))]
            assert len(times) == e, "a checkpoint names epochs the store does not hold"
            expected_starts.setdefault(key, {})[e] = times
    res = subprocess.run(study_cmd(config, out, "--checkpoint-every", "0", *extra), capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert "resumed from checkpoints" in res.stderr
    status = check_consistent(out, epochs)
    assert set(status.values()) == {"done"} and len(status) == 6
    assert not list((out / "checkpoints").glob("*")), "checkpoints are removed when trials are done"
    starts = {k: json.loads(s) for k, s in query(out, "SELECT key, starts_json FROM trial")}
    resumed = 0
    for key, points in expected_starts.items():
        for e, times in points.items():
            assert e in starts[key], (key, e, starts[key])
            now = [v for (v,) in query(out, "SELECT value FROM epoch_metric WHERE trial_key = ? AND "
                                            "name = 'time' AND epoch <= ? ORDER BY epoch", (key, e))]
            assert now == times, f"{key}: epochs up to its checkpoint {e} were re-run"
            resumed += e > 0
    assert resumed >= 1, "no trial was killed after a checkpoint"
    return out, config


def _reference(tmp_path_factory, jobs):
    """The uninterrupted study with parent-side writes (live=False): another code path than
    the killed runs. Same workers count, so the same BLAS threads per trial (cores // jobs)
    as the runs it is compared with."""
    tmp = tmp_path_factory.mktemp(f"ref{jobs}")
    out = tmp / "ref"
    run = run_study(load_config(write_config(tmp)), out, jobs=jobs, progress=False, live=False)
    assert run.counts == {"done": 6}
    return snapshot(out)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return _reference(tmp_path_factory, 2)


@pytest.fixture(scope="module")
def reference_in_process(tmp_path_factory):
    return _reference(tmp_path_factory, 1)


@pytest.mark.slow
def test_loky_pool_killed_three_times_resumes_bit_identically(tmp_path, reference):
    out, _ = kill_and_resume(tmp_path, [], kills=3, seed=1)
    assert snapshot(out) == reference


@pytest.mark.slow
def test_dask_local_cluster_killed_twice_resumes_bit_identically(tmp_path, reference):
    pytest.importorskip("distributed", reason="dask.distributed is not installed")
    out, _ = kill_and_resume(tmp_path, ["--executor", "dask"], kills=2, seed=2)
    assert snapshot(out) == reference


def test_resume_in_process_from_each_epoch_is_exact(tmp_path, reference_in_process):
    """In this process: a study whose trials are interrupted (KeyboardInterrupt from a
    callback after a checkpoint) resumes exactly."""
    import proxnet.studies.trial as trial_mod

    config = load_config(write_config(tmp_path))
    out = tmp_path / "inproc"
    calls = {"n": 0}
    original = trial_mod._Live.epoch_end

    def interrupting(self, model, series, n, planned, grads):
        original(self, model, series, n, planned, grads)
        calls["n"] += 1
        if calls["n"] in (7, 30, 31, 65):
            raise KeyboardInterrupt

    trial_mod._Live.epoch_end = interrupting
    try:
        for _ in range(4):
            run = run_study(config, out, jobs=1, progress=False, checkpoint_every=0)
            assert run.interrupted
    finally:
        trial_mod._Live.epoch_end = original
    run = run_study(config, out, jobs=1, progress=False, checkpoint_every=0)
    assert run.complete and run.resumed >= 1
    assert snapshot(out) == reference_in_process
    starts = [json.loads(s) for (s,) in query(out, "SELECT starts_json FROM trial")]
    # 20 epochs per trial, run in order: call 7 stops trial 1 after epoch 7; trial 2 runs
    # calls 21.., so call 30 stops it after epoch 10 and call 31 (resumed) after 11; trial 4
    # runs calls 61.., stopped by call 65 after epoch 5
    assert sorted(s for st in starts for s in st if s) == [5, 7, 10, 11]


# ---------------------------------------------------------------- workers die with their study

def _pids(study_dir):
    rows = query(study_dir, "SELECT worker FROM trial WHERE status = 'running' AND worker IS NOT NULL")
    return {int(w.rsplit(":", 1)[1]) for (w,) in rows}


def _ppid(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _gone(pids):
    out = True
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            out &= state in ("Z", "X")
        except FileNotFoundError:
            pass
    return out


def start_long_study(tmp_path, name, executor):
    """``(config, out, extra CLI args, the running process)`` of a 400-epoch study started
    in its own process group on ``executor``."""
    if executor == "dask":
        pytest.importorskip("distributed", reason="dask.distributed is not installed")
    config = write_config(tmp_path, epochs=400)
    out = tmp_path / name
    extra = ["--executor", "dask"] if executor == "dask" else []
    proc = subprocess.Popen(study_cmd(config, out, *extra), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    return config, out, extra, proc


@pytest.mark.parametrize("executor", ["local", "dask"])
def test_workers_die_with_their_study(tmp_path, executor):
    _, out, _, proc = start_long_study(tmp_path, "orphans", executor)
    try:
        wait_for(lambda: epochs_stored(out) > 0 and len(_pids(out)) == 2, proc, what="two running trials")
        workers = _pids(out)
        family = workers | {_ppid(p) for p in workers} - {proc.pid, None, 1}
        assert workers and proc.pid not in workers
        proc.send_signal(signal.SIGKILL)       # the main process only, not its group
        proc.wait(10)
        t0 = time.monotonic()
        while not _gone(family) and time.monotonic() - t0 < 10:
            time.sleep(0.1)
        assert _gone(family), f"workers {family} outlived their study by 10 s"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# ---------------------------------------------------------------- one study per folder

@pytest.mark.parametrize("executor", ["local", "dask"])
def test_a_second_study_on_the_same_folder_exits_3_naming_the_first(tmp_path, executor):
    config, out, extra, first = start_long_study(tmp_path, "locked", executor)
    try:
        wait_for(lambda: epochs_stored(out) > 0, first, what="a running trial")
        t0 = time.monotonic()
        second = subprocess.run(study_cmd(config, out, *extra), capture_output=True, text=True, timeout=120)
        assert second.returncode == 3, second.stderr
        assert time.monotonic() - t0 < 30
        assert f"process {first.pid}" in second.stderr and "in use by another running study" in second.stderr
        # readers work while the study runs (and its trials write)
        from click.testing import CliRunner
        from proxnet.cli import main
        rep = CliRunner().invoke(main, ["report", str(out), "--out", str(tmp_path / "rep")])
        assert rep.exit_code == 0, rep.output
        assert (tmp_path / "rep" / "index.html").is_file()
        exp = CliRunner().invoke(main, ["export", str(out), "--out", str(tmp_path / "csv")])
        assert exp.exit_code == 0, exp.output
        before = epochs_stored(out)
        wait_for(lambda: epochs_stored(out) > before, first, what="epochs written as the trial runs")
        assert first.poll() is None, "the first study was disturbed"
        assert query(out, "SELECT COUNT(*) FROM trial WHERE status = 'running'")[0][0] >= 1
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(30)
    # the OS released the lock of the killed study: the folder can be resumed at once
    from proxnet.studies.lock import StudyLock
    with StudyLock(out):
        pass
