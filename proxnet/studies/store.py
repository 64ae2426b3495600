"""The study store: one SQLite database, ``<study_dir>/study.db``, in the schema of
``docs/store-schema.md``.

Only the process that runs the study writes (workers return their results to it), and
each trial's results go in ONE transaction (epochs, final metrics, artifacts and
``status = 'done'`` together), so a kill at any moment leaves finished trials complete and
unfinished ones without a single epoch row. Resuming re-runs trials left ``pending`` or
``running`` (and, on request, ``failed`` / ``timeout``); finished ones are never re-run.
"""
from __future__ import annotations

import csv
import io
import json
import math
import sqlite3
import time
from pathlib import Path

import numpy as np

from .config import StudyConfig, TrialSpec

__all__ = ["Store", "StoreError", "SCHEMA", "STORE_NAME"]

STORE_NAME = "study.db"

SCHEMA = """
CREATE TABLE IF NOT EXISTS study (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  name TEXT NOT NULL,
  config_json TEXT NOT NULL,
  created REAL NOT NULL,
  proxnet_version TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS trial (
  key TEXT PRIMARY KEY,
  config_hash TEXT NOT NULL,
  method TEXT NOT NULL,
  strength REAL,
  seed INTEGER NOT NULL,
  config_json TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending','running','done','failed','timeout')),
  error TEXT,
  versions_json TEXT,
  started REAL, finished REAL, duration REAL,
  final_json TEXT
);
CREATE TABLE IF NOT EXISTS epoch_metric (
  trial_key TEXT NOT NULL REFERENCES trial(key) ON DELETE CASCADE,
  epoch INTEGER NOT NULL,
  name TEXT NOT NULL,
  value REAL,
  PRIMARY KEY (trial_key, epoch, name)
);
CREATE TABLE IF NOT EXISTS artifact (
  trial_key TEXT NOT NULL REFERENCES trial(key) ON DELETE CASCADE,
  name TEXT NOT NULL,
  npy BLOB NOT NULL,
  PRIMARY KEY (trial_key, name)
);
"""


class StoreError(RuntimeError):
    """The folder holds a store of a different study, or not a store at all."""


def _json(obj) -> str:
    return json.dumps(obj, sort_keys=True, allow_nan=True)


def _npy(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(a), allow_pickle=False)
    return buf.getvalue()


def _value(v):
    v = float(v)
    return v if math.isfinite(v) else None


class Store:
    """Open (creating if needed) the store of the study folder ``study_dir``."""

    def __init__(self, study_dir):
        self.dir = Path(study_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / STORE_NAME
        try:
            self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a proxnet study store ({exc})") from None

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _tx(self):
        return _Transaction(self.conn)

    # ------------------------------------------------------------------ study
    def init_study(self, config: StudyConfig) -> None:
        """Record the study, or check that the folder holds the same one.

        Seeds and the trial timeout may change between runs (more seeds extend a study);
        anything else (data, model, training, methods) must match, or the results of
        different experiments would be mixed in one report."""
        import proxnet
        row = self.conn.execute("SELECT config_json FROM study WHERE id = 1").fetchone()
        data = config.model_dump(mode="json")
        if row is None:
            with self._tx():
                self.conn.execute("INSERT INTO study VALUES (1, ?, ?, ?, ?)",
                                  (config.name, _json(data), time.time(), proxnet.__version__))
            return
        stored = StudyConfig.model_validate(json.loads(row[0]))
        if stored.identity() != config.identity():
            diff = [k for k in config.identity() if config.identity()[k] != stored.identity().get(k)]
            raise StoreError(
                f"{self.dir} holds results of a different study (its {', '.join(diff)} differ); "
                f"use another --out folder, or delete {self.path} to start over")
        seeds = sorted(set(stored.seeds) | set(config.seeds))
        data["seeds"] = seeds
        with self._tx():
            self.conn.execute("UPDATE study SET config_json = ? WHERE id = 1", (_json(data),))

    def study_config(self) -> StudyConfig | None:
        row = self.conn.execute("SELECT config_json FROM study WHERE id = 1").fetchone()
        return None if row is None else StudyConfig.model_validate(json.loads(row[0]))

    # ------------------------------------------------------------------ trials
    def add_trials(self, trials: list[TrialSpec]) -> int:
        """Insert the trials not yet in the store as 'pending'; returns how many were new."""
        with self._tx():
            before = self.conn.total_changes
            self.conn.executemany(
                "INSERT OR IGNORE INTO trial (key, config_hash, method, strength, seed, config_json, status) "
                "VALUES (?, ?, ?, ?, ?, ?, 'pending')",
                [(t.key, t.config_hash, t.method, t.strength, t.seed, _json(t.config)) for t in trials])
            return self.conn.total_changes - before

    def statuses(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT key, status FROM trial"))

    def to_run(self, keys, *, retry_failed: bool = False) -> list[str]:
        """Keys among ``keys`` still to run: pending, running (left by a crash or a kill),
        and with ``retry_failed`` failed and timeout. Their partial rows (there should be
        none) are removed and they are reset to pending."""
        redo = {"pending", "running"} | ({"failed", "timeout"} if retry_failed else set())
        st = self.statuses()
        todo = [k for k in keys if st.get(k) in redo]
        with self._tx():
            for k in todo:
                self._clear(k)
                self.conn.execute("UPDATE trial SET status = 'pending', error = NULL, started = NULL, "
                                  "finished = NULL, duration = NULL, final_json = NULL WHERE key = ?", (k,))
        return todo

    def _clear(self, key):
        self.conn.execute("DELETE FROM epoch_metric WHERE trial_key = ?", (key,))
        self.conn.execute("DELETE FROM artifact WHERE trial_key = ?", (key,))

    def mark_running(self, keys) -> None:
        with self._tx():
            self.conn.executemany("UPDATE trial SET status = 'running', started = ? WHERE key = ?",
                                  [(time.time(), k) for k in keys])

    def reset_running(self) -> int:
        """Running trials back to pending (after an interrupt); returns how many."""
        with self._tx():
            cur = self.conn.execute("UPDATE trial SET status = 'pending', started = NULL WHERE status = 'running'")
            return cur.rowcount

    def record(self, result: dict) -> None:
        """Store a trial's result from :func:`proxnet.studies.trial.execute` atomically."""
        key = result["key"]
        with self._tx():
            self._clear(key)
            if result["status"] == "done":
                rows = [(key, e + 1, name, _value(v)) for name, values in result["epochs"].items()
                        for e, v in enumerate(values)]
                self.conn.executemany("INSERT INTO epoch_metric VALUES (?, ?, ?, ?)", rows)
                self.conn.executemany("INSERT INTO artifact VALUES (?, ?, ?)",
                                      [(key, n, _npy(a)) for n, a in result["artifacts"].items()])
            cur = self.conn.execute(
                "UPDATE trial SET status = ?, error = ?, versions_json = ?, started = ?, finished = ?, "
                "duration = ?, final_json = ? WHERE key = ?",
                (result["status"], result.get("error"), _json(result.get("versions", {})),
                 result.get("started"), result.get("finished"), result.get("duration"),
                 _json(result["final"]) if result["status"] == "done" else None, key))
            if cur.rowcount != 1:
                raise StoreError(f"trial {key!r} is not in the store")

    def counts(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT status, COUNT(*) FROM trial GROUP BY status"))

    # ------------------------------------------------------------------ export
    def export_csv(self, out=None) -> tuple[Path, Path]:
        """Write ``trials.csv`` (one row per trial: key, method, strength, seed, status,
        duration, then every final metric) and ``epochs.csv`` (long format: trial_key,
        method, strength, seed, epoch, name, value) into ``out`` (default the study folder)."""
        out = self.dir if out is None else Path(out)
        out.mkdir(parents=True, exist_ok=True)
        trials = self.conn.execute("SELECT key, method, strength, seed, status, duration, final_json, error "
                                   "FROM trial ORDER BY rowid").fetchall()
        finals = [json.loads(r[6]) if r[6] else {} for r in trials]
        metric_names = sorted(set().union(*finals)) if finals else []
        tpath = out / "trials.csv"
        with open(tpath, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["key", "method", "strength", "seed", "status", "duration"] + metric_names + ["error"])
            for r, fin in zip(trials, finals):
                err = (r[7] or "").strip().splitlines()
                w.writerow(list(r[:6]) + [fin.get(m, "") for m in metric_names] + [err[-1] if err else ""])
        epath = out / "epochs.csv"
        with open(epath, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["trial_key", "method", "strength", "seed", "epoch", "name", "value"])
            for row in self.conn.execute(
                    "SELECT e.trial_key, t.method, t.strength, t.seed, e.epoch, e.name, e.value "
                    "FROM epoch_metric e JOIN trial t ON t.key = e.trial_key "
                    "ORDER BY t.rowid, e.name, e.epoch"):
                w.writerow(row)
        return tpath, epath


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception (KeyboardInterrupt too)."""

    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")
        return False


# ---- read side (report) ----
# What the report reads, in SQL, beside the schema it reads. Every function takes a
# connection from connect_readonly (or any sqlite3 connection to a store) and returns plain
# Python / NumPy data; none writes.

TRIAL_COLUMNS = ("key", "method", "strength", "seed", "status", "error", "final_json",
                 "config_json", "duration", "epochs_stored")
"""The fields of each row of :func:`read_trials`, in order."""


def connect_readonly(study_dir) -> sqlite3.Connection:
    """Open ``<study_dir>/study.db`` read-only (a report can be written while a study runs).
    FileNotFoundError, naming the path, if there is no store."""
    path = Path(study_dir) / STORE_NAME
    if not path.is_file():
        raise FileNotFoundError(f"study_dir: no study store {path} (expected a folder "
                                f"holding {STORE_NAME})")
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        conn.execute("SELECT 1 FROM trial LIMIT 1").fetchall()
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(f"{path}: not a proxnet study store ({exc})") from None
    return conn


def read_study(conn) -> tuple | None:
    """``(name, config_json, created, proxnet_version)`` of the study, or None."""
    return conn.execute("SELECT name, config_json, created, proxnet_version FROM study "
                        "WHERE id = 1").fetchone()


def read_trials(conn) -> list[tuple]:
    """Every trial in insertion order, as tuples of :data:`TRIAL_COLUMNS`; ``epochs_stored``
    is the highest epoch with a stored row (0 when none: e.g. a trial still pending)."""
    return conn.execute(
        "SELECT t.key, t.method, t.strength, t.seed, t.status, t.error, t.final_json, "
        "t.config_json, t.duration, COALESCE(e.last, 0) FROM trial t LEFT JOIN "
        "(SELECT trial_key, MAX(epoch) AS last FROM epoch_metric GROUP BY trial_key) e "
        "ON e.trial_key = t.key ORDER BY t.rowid").fetchall()


def _in(items) -> str:
    return ",".join("?" * len(items))


def read_epoch_metrics(conn, keys, names) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """``{trial_key: {name: (epochs, values)}}`` for the given trials and per-epoch metric
    names, sorted by epoch; a NULL value (a non-finite number when stored) reads as NaN."""
    keys, names = list(dict.fromkeys(keys)), list(dict.fromkeys(names))
    out: dict = {}
    for start in range(0, len(keys), 500):          # SQLite's limit on bound parameters
        chunk = keys[start:start + 500]
        if not chunk or not names:
            break
        rows = conn.execute(
            f"SELECT trial_key, name, epoch, value FROM epoch_metric WHERE trial_key IN "
            f"({_in(chunk)}) AND name IN ({_in(names)}) ORDER BY trial_key, name, epoch",
            [*chunk, *names])
        for key, name, epoch, value in rows:
            e, v = out.setdefault(key, {}).setdefault(name, ([], []))
            e.append(epoch)
            v.append(math.nan if value is None else value)
    return {k: {n: (np.asarray(e, dtype=float), np.asarray(v, dtype=float))
                for n, (e, v) in d.items()} for k, d in out.items()}


def read_artifacts(conn, keys, names) -> dict[str, dict[str, np.ndarray]]:
    """``{trial_key: {name: array}}`` of the given trials' artifacts (``np.load`` with
    ``allow_pickle=False``; an unreadable blob is left out)."""
    keys, names = list(dict.fromkeys(keys)), list(dict.fromkeys(names))
    out: dict = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        if not chunk or not names:
            break
        rows = conn.execute(f"SELECT trial_key, name, npy FROM artifact WHERE trial_key IN "
                            f"({_in(chunk)}) AND name IN ({_in(names)})", [*chunk, *names])
        for key, name, blob in rows:
            try:
                out.setdefault(key, {})[name] = np.load(io.BytesIO(blob), allow_pickle=False)
            except (ValueError, OSError, EOFError):
                continue
    return out
