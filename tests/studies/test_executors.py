"""Worker processes of the local executor started ahead of the preflight, taken up by the
pool, and told to exit early by a process that runs no more studies (the CLI)."""
import time

import pytest

from proxnet.studies import api, executors, runner
from proxnet.studies.config import validate
from proxnet.studies.store import Store
from proxnet.studies.watchdog import identity


def _config(seeds=2, epochs=1):
    return validate({"name": "ex", "seeds": seeds, "dataset": {"name": "digits"},
                     "model": {"hidden": [8]}, "training": {"epochs": epochs, "batch_size": 64},
                     "methods": [{"name": "none"}]})


@pytest.fixture
def no_idle():
    executors._stop_idle()
    yield
    executors._stop_idle()


def _pid(worker: str) -> int:
    return int(worker.rsplit(":", 1)[1])


def test_prestarted_workers_are_the_ones_the_pool_uses(no_idle):
    parent = identity()
    executors.prestart(2, 1, parent)
    executors.prestart(2, 1, parent)                 # the idle ones count: still two
    assert len(executors._IDLE) == min(2, executors.cores())
    pids = {w.proc.pid for _, _, w in executors._IDLE}
    payloads = [t.payload(None) for t in _config().trials()]
    results = list(executors.local_pool(payloads, jobs=2, threads=1, parent=parent))
    assert [r["status"] for r in results] == ["done", "done"]
    assert {_pid(r["worker"]) for r in results} <= pids


def test_released_workers_exit_without_being_waited_for(no_idle):
    executors.prestart(2, 1, identity())
    workers = [w for _, _, w in executors._IDLE]
    t0 = time.monotonic()
    assert executors.release_idle() == len(workers)
    assert time.monotonic() - t0 < 0.5 and executors._IDLE == []
    deadline = time.monotonic() + 30
    while any(w.proc.is_alive() for w in workers):
        assert time.monotonic() < deadline, "released workers did not exit"
        time.sleep(0.05)
    executors._stop_idle()
    assert executors._LEAVING == []


def test_the_pool_shape_is_decided_in_one_place(monkeypatch):
    monkeypatch.setattr(executors, "cores", lambda: 4)
    assert runner._pool(6, None, None) == (4, 1, True)          # a worker per core
    assert runner._pool(2, None, None) == (2, 2, True)          # the cores shared out
    assert runner._pool(6, 3, None) == (3, 1, True)
    assert runner._pool(1, None, None) == (1, 4, False)         # one trial: in this process
    assert runner._pool(1, None, 30.0) == (1, 4, True)          # unless it has a time limit
    assert runner._pool(0, None, None) == (1, 4, False)


def test_a_study_starts_its_workers_before_the_preflight(tmp_path, monkeypatch, no_idle):
    seen = []
    real = runner.preflight
    monkeypatch.setattr(runner, "preflight", lambda trials: (seen.append(len(executors._IDLE)),
                                                             real(trials)))
    run = runner.run_study(_config(), tmp_path / "s", jobs=2, progress=False)
    assert run.done == 2 and seen == [min(2, executors.cores())]
    seen.clear()
    runner.run_study(_config(), tmp_path / "s", jobs=2, progress=False)    # nothing to run
    assert seen == [len(executors._IDLE)]              # no new worker was started for it


def test_keep_workers_false_leaves_no_idle_worker(tmp_path, no_idle):
    api.run(_config(), tmp_path / "a", jobs=2, progress=False)
    assert len(executors._IDLE) == min(2, executors.cores())
    api.run(_config(), tmp_path / "b", jobs=2, progress=False, keep_workers=False)
    assert executors._IDLE == []


def test_would_run_counts_unknown_keys_as_pending_and_changes_nothing(tmp_path):
    cfg = _config(seeds=3)
    keys = [t.key for t in cfg.trials()]
    with Store(tmp_path) as store:
        assert store.would_run(keys) == keys                       # not in the store yet
        store.init_study(cfg)
        store.add_trials(cfg.trials())
        store.conn.execute("UPDATE trial SET status = 'failed' WHERE key = ?", (keys[0],))
        store.conn.execute("UPDATE trial SET status = 'done' WHERE key = ?", (keys[1],))
        store.conn.commit()
        assert store.would_run(keys) == [keys[2]]
        assert store.would_run(keys, retry_failed=True) == [keys[0], keys[2]]
        assert store.statuses()[keys[0]] == "failed"                # no side effect
        assert store.to_run(keys, retry_failed=True) == [keys[0], keys[2]]
        assert store.statuses()[keys[0]] == "pending"
