"""The study store: one SQLite database, ``<study_dir>/study.db``, in the schema of
``docs/store-schema.md`` (schema version :data:`SCHEMA_VERSION`, recorded as
``PRAGMA user_version``; ``PRAGMA application_id`` marks the file as a proxnet store).

Writers. The study's process (the one holding the folder's lock) creates the store, adds
the trials and records failures. Each running trial writes its own progress from its worker
(:class:`TrialWriter`, its own connection; WAL journal, busy timeout): the epochs it has
trained, a few at a time, each batch in one transaction together with ``epochs_done``, and at
the end the whole trial (every epoch, final metrics, artifacts, ``status = 'done'``) in ONE
transaction. So the store never holds half an epoch, and a finished trial is complete. A
trial left ``running`` by a crash is resumed from its checkpoint (see
:mod:`proxnet.studies.checkpoints`): its epochs after the checkpoint are deleted and re-run.

Readers (:func:`open_readonly`): the report and the CSV export open the store read-only,
also while a study runs and in a read-only folder. A file that is not a proxnet store, a
store of a newer schema, a truncated or corrupt file, or an unknown status value raises
:class:`StoreError` with one clear line. Disk-full and read-only conditions while writing
raise :class:`StoreWriteError` (nothing committed is lost: each transaction is atomic).
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np

from .._version import __version__
from .config import StudyConfig, TrialSpec

__all__ = ["Store", "StoreError", "StoreWriteError", "TrialWriter", "SCHEMA", "STORE_NAME",
           "SCHEMA_VERSION", "APPLICATION_ID", "STATUSES", "open_readonly", "export_csv",
           "atomic_write", "connect_readonly", "read_study", "read_trials", "read_epoch_metrics",
           "read_artifacts", "read_progress", "TRIAL_COLUMNS", "epoch_rows", "EPOCH_COLUMNS"]

STORE_NAME = "study.db"
SCHEMA_VERSION = 2
"""1: proxnet 0.1 (no version recorded); 2: per-epoch progress, resume, failure messages."""
APPLICATION_ID = int.from_bytes(b"pxnt", "big")
STATUSES = ("pending", "running", "done", "failed", "timeout")
TABLES = ("study", "trial", "epoch_metric", "artifact")
BUSY_MS = 60_000

SCHEMA = f"""
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
  final_json TEXT,
  message TEXT,
  epochs_done INTEGER NOT NULL DEFAULT 0,
  epochs_planned INTEGER,
  checkpoint_epoch INTEGER,
  starts_json TEXT,
  worker TEXT
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
PRAGMA application_id = {APPLICATION_ID};
PRAGMA user_version = {SCHEMA_VERSION};
"""

# schema 1 -> 2: columns added to trial (all nullable or defaulted)
_MIGRATE_1_2 = [
    "ALTER TABLE trial ADD COLUMN message TEXT",
    "ALTER TABLE trial ADD COLUMN epochs_done INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE trial ADD COLUMN epochs_planned INTEGER",
    "ALTER TABLE trial ADD COLUMN checkpoint_epoch INTEGER",
    "ALTER TABLE trial ADD COLUMN starts_json TEXT",
    "ALTER TABLE trial ADD COLUMN worker TEXT",
]


class StoreError(RuntimeError):
    """The folder holds a store of a different study, or not a (readable) store at all."""


class StoreWriteError(StoreError):
    """The store could not be written (disk full, read-only folder, locked too long);
    everything committed before is intact."""


def _json(obj) -> str:
    return json.dumps(obj, sort_keys=True, allow_nan=True)


def _npy(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(a), allow_pickle=False)
    return buf.getvalue()


def _value(v):
    v = float(v)
    return v if math.isfinite(v) else None


def _why(exc: BaseException) -> str:
    text = str(exc)
    if "full" in text:
        return "the disk is full"
    if "disk I/O error" in text:
        return "a disk I/O error (disk full, a file size limit, or a failing disk)"
    if "readonly" in text or "read-only" in text or "attempt to write" in text:
        return "the folder or file is read-only"
    if "locked" in text or "busy" in text:
        return "the database stayed locked by another process"
    return text


@contextlib.contextmanager
def writing(path):
    """Turn SQLite write failures into one :class:`StoreWriteError` line."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise StoreWriteError(f"{path}: cannot write the study store: {_why(exc)} "
                              f"(results stored so far are intact)") from None
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: the study store is damaged ({exc})") from None


def _tables(conn) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _schema_state(conn, path) -> int:
    """The store's schema version (0: an empty database); StoreError for a foreign or
    newer database."""
    app = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = _tables(conn)
    if app == APPLICATION_ID:
        if version > SCHEMA_VERSION:
            raise StoreError(f"{path}: written by a newer proxnet (store schema {version}; this "
                             f"proxnet reads schema {SCHEMA_VERSION} and older); upgrade proxnet "
                             f"or use another folder")
        if not set(TABLES) <= tables:
            raise StoreError(f"{path}: a damaged proxnet study store (tables missing: "
                             f"{', '.join(sorted(set(TABLES) - tables))})")
        return version
    if app == 0 and version == 0 and not tables:
        return 0
    if app == 0 and version == 0 and set(TABLES) <= tables:
        return 1        # proxnet 0.1 recorded no version
    raise StoreError(f"{path}: an SQLite database, but not a proxnet study store "
                     f"(application_id {app}, user_version {version}, tables: "
                     f"{', '.join(sorted(tables)) or 'none'}); use another folder")


def _check_statuses(conn, path) -> None:
    bad = [r[0] for r in conn.execute(
        f"SELECT DISTINCT status FROM trial WHERE status NOT IN ({','.join('?' * len(STATUSES))})",
        STATUSES)]
    if bad:
        raise StoreError(f"{path}: unknown trial status {', '.join(map(repr, bad))} (expected one of "
                         f"{', '.join(STATUSES)}); written by another proxnet version?")


def _connect(path, *, timeout=BUSY_MS / 1000) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
    return conn


class Store:
    """Open (creating if needed) the store of the study folder ``study_dir`` for writing.

    Refuses (StoreError) a foreign or newer database; a proxnet 0.1 store (schema 1) is
    upgraded in place (columns added)."""

    def __init__(self, study_dir):
        self.dir = Path(study_dir)
        self.path = self.dir / STORE_NAME
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreWriteError(f"{self.dir}: cannot create the study folder ({exc.strerror})") from None
        self.conn = None
        try:
            self.conn = _connect(self.path)
            version = _schema_state(self.conn, self.path)
            with writing(self.path):
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.execute("PRAGMA synchronous=NORMAL")
                self.conn.execute("PRAGMA foreign_keys=ON")
                if version == 1:
                    with self._tx():
                        for stmt in _MIGRATE_1_2:
                            self.conn.execute(stmt)
                        self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                        self.conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                elif version == 0:
                    self.conn.executescript(SCHEMA)
            _check_statuses(self.conn, self.path)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise StoreError(f"{self.path}: not a readable proxnet study store ({exc})") from None
        except BaseException:
            self.close()
            raise

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _tx(self):
        return _Transaction(self.conn, self.path)

    # ------------------------------------------------------------------ study
    def init_study(self, config: StudyConfig) -> None:
        """Record the study, or check that the folder holds the same one.

        Seeds, the trial timeout and the checkpoint interval may change between runs (more
        seeds extend a study); anything else (data, model, training, methods) must match,
        or the results of different experiments would be mixed in one report."""
        row = self.conn.execute("SELECT config_json FROM study WHERE id = 1").fetchone()
        data = config.model_dump(mode="json")
        if row is None:
            with self._tx():
                self.conn.execute("INSERT INTO study VALUES (1, ?, ?, ?, ?)",
                                  (config.name, _json(data), time.time(), __version__))
            return
        stored = self._stored_config(row[0])
        if stored.identity() != config.identity():
            diff = [k for k in config.identity() if config.identity()[k] != stored.identity().get(k)]
            raise StoreError(
                f"{self.dir} holds results of a different study (different {', '.join(diff)}); "
                f"use another --out folder, or delete {self.path} to start over")
        seeds = sorted(set(stored.seeds) | set(config.seeds))
        data["seeds"] = seeds
        with self._tx():
            self.conn.execute("UPDATE study SET config_json = ? WHERE id = 1", (_json(data),))

    def _stored_config(self, text) -> StudyConfig:
        try:
            return StudyConfig.model_validate(json.loads(text))
        except ValueError as exc:
            first = str(exc).strip().splitlines()
            raise StoreError(f"{self.dir} holds a study whose config this proxnet cannot read "
                             f"(an older or newer version?): {first[0] if first else exc}; use "
                             f"another --out folder") from None

    def study_config(self) -> StudyConfig | None:
        row = self.conn.execute("SELECT config_json FROM study WHERE id = 1").fetchone()
        return None if row is None else self._stored_config(row[0])

    def created(self) -> float | None:
        row = self.conn.execute("SELECT created FROM study WHERE id = 1").fetchone()
        return None if row is None else row[0]

    # ------------------------------------------------------------------ trials
    def add_trials(self, trials: list[TrialSpec]) -> int:
        """Insert the trials not yet in the store as 'pending'; returns how many were new.

        A key already in the store under another label (method, strength, seed) is an
        error, never silently merged."""
        known = {r[0]: r[1:] for r in self.conn.execute("SELECT key, method, strength, seed FROM trial")}
        for t in trials:
            if t.key in known and known[t.key] != (t.method, t.strength, t.seed):
                m, s, seed = known[t.key]
                raise StoreError(f"{self.path}: trial {t.key} is stored as method {m!r} strength "
                                 f"{s!r} seed {seed}, not as {t.method!r} {t.strength!r} {t.seed}")
        new = [t for t in trials if t.key not in known]
        with self._tx():
            self.conn.executemany(
                "INSERT INTO trial (key, config_hash, method, strength, seed, config_json, status, "
                "epochs_planned) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
                [(t.key, t.config_hash, t.method, t.strength, t.seed, _json(t.config),
                  t.config["training"]["epochs"]) for t in new])
        return len(new)

    def statuses(self) -> dict[str, str]:
        _check_statuses(self.conn, self.path)
        return dict(self.conn.execute("SELECT key, status FROM trial"))

    def to_run(self, keys, *, retry_failed: bool = False) -> list[str]:
        """Keys among ``keys`` still to run: pending and running (left by a crash or a kill;
        they resume from their checkpoint), and with ``retry_failed`` failed and timeout
        (reset to pending without their rows: they start over)."""
        st = self.statuses()
        todo = self.would_run(keys, retry_failed=retry_failed, statuses=st)
        again = [k for k in todo if st[k] in ("failed", "timeout")]
        with self._tx():
            for k in again:
                self._clear(k)
                self.conn.execute("UPDATE trial SET status = 'pending', error = NULL, message = NULL, "
                                  "started = NULL, finished = NULL, duration = NULL, final_json = NULL, "
                                  "epochs_done = 0, checkpoint_epoch = NULL WHERE key = ?", (k,))
        return todo

    def would_run(self, keys, *, retry_failed: bool = False, statuses=None) -> list[str]:
        """The keys :meth:`to_run` returns, without changing the store; a key the store does
        not hold yet counts as pending."""
        redo = {"pending", "running"} | ({"failed", "timeout"} if retry_failed else set())
        st = self.statuses() if statuses is None else statuses
        return [k for k in keys if st.get(k, "pending") in redo]

    def _clear(self, key):
        self.conn.execute("DELETE FROM epoch_metric WHERE trial_key = ?", (key,))
        self.conn.execute("DELETE FROM artifact WHERE trial_key = ?", (key,))

    def reset_running(self) -> int:
        """Running trials back to pending (after an interrupt: their epochs and checkpoints
        stay, the next run resumes them); returns how many."""
        with self._tx():
            cur = self.conn.execute("UPDATE trial SET status = 'pending', worker = NULL "
                                    "WHERE status = 'running'")
            return cur.rowcount

    def record(self, result: dict) -> None:
        """Store a trial's outcome from :func:`proxnet.studies.trial.execute` atomically.

        ``done``: every epoch, the final metrics and the artifacts replace whatever the trial
        had. ``failed`` / ``timeout``: final; the trial's rows are removed. ``pending`` (an
        environment failure, e.g. a missing dataset or a worker that died): the error is
        kept, the rows and the checkpoint stay, and the next run retries it."""
        key, status = result["key"], result["status"]
        if status not in STATUSES or status == "running":
            raise ValueError(f"status: expected done, failed, timeout or pending, got {status!r}")
        with self._tx():
            current = self.status(key)
            if current is None:
                raise StoreError(f"trial {key!r} is not in the store")
            if current == "done":
                return          # finished and stored by its worker before this outcome arrived
            if status == "done":
                record_done(self.conn, result)
                return
            if status in ("failed", "timeout"):
                self._clear(key)
            self.conn.execute(
                "UPDATE trial SET status = ?, error = ?, message = ?, versions_json = ?, started = ?, "
                "finished = ?, duration = ?, final_json = NULL, worker = NULL, "
                "checkpoint_epoch = CASE WHEN ? = 'pending' THEN checkpoint_epoch END, "
                "epochs_done = CASE WHEN ? = 'pending' THEN epochs_done ELSE 0 END "
                "WHERE key = ? AND status != 'done'",
                (status, result.get("error"), result.get("message"), _json(result.get("versions", {})),
                 result.get("started"), result.get("finished"), result.get("duration"),
                 status, status, key))

    def status(self, key) -> str | None:
        row = self.conn.execute("SELECT status FROM trial WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def counts(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT status, COUNT(*) FROM trial GROUP BY status"))

    def problems(self) -> list[dict]:
        """Trials that failed, timed out or hit an environment failure (pending with an
        error): ``{"key", "method", "strength", "seed", "status", "message", "error"}``."""
        rows = self.conn.execute(
            "SELECT key, method, strength, seed, status, message, error FROM trial "
            "WHERE status IN ('failed', 'timeout') OR (status = 'pending' AND error IS NOT NULL) "
            "ORDER BY rowid")
        names = ("key", "method", "strength", "seed", "status", "message", "error")
        return [dict(zip(names, r)) for r in rows]

    # ------------------------------------------------------------------ export
    def export_csv(self, out=None) -> tuple[Path, Path]:
        """See :func:`export_csv`."""
        return export_csv(self.conn, self.dir if out is None else out)


def record_done(conn, result: dict) -> None:
    """Inside a transaction: the whole finished trial replaces its rows, status 'done'."""
    key = result["key"]
    conn.execute("DELETE FROM epoch_metric WHERE trial_key = ?", (key,))
    conn.execute("DELETE FROM artifact WHERE trial_key = ?", (key,))
    epochs = result["epochs"]
    rows = [(key, e + 1, name, _value(v)) for name, values in epochs.items()
            for e, v in enumerate(values)]
    conn.executemany("INSERT INTO epoch_metric VALUES (?, ?, ?, ?)", rows)
    conn.executemany("INSERT INTO artifact VALUES (?, ?, ?)",
                     [(key, n, _npy(a)) for n, a in result["artifacts"].items()])
    n_epochs = max((len(v) for v in epochs.values()), default=0)
    cur = conn.execute(
        "UPDATE trial SET status = 'done', error = NULL, message = NULL, versions_json = ?, "
        "started = ?, finished = ?, duration = ?, final_json = ?, epochs_done = ?, "
        "checkpoint_epoch = NULL, worker = NULL WHERE key = ?",
        (_json(result.get("versions", {})), result.get("started"), result.get("finished"),
         result.get("duration"), _json(result["final"]), n_epochs, key))
    if cur.rowcount != 1:
        raise StoreError(f"trial {key!r} is not in the store")


class TrialWriter:
    """The store as one running trial writes it (from its worker process): its start (or
    resume), its epochs a batch at a time, its checkpoints, and its end. Each call is one
    transaction."""

    def __init__(self, path):
        self.path = Path(path)
        try:
            self.conn = _connect(self.path)
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open the study store ({exc})") from None

    def close(self):
        self.conn.close()

    def created(self) -> float | None:
        """The study's creation time (identifies the study a worker was sent by)."""
        row = self.conn.execute("SELECT created FROM study WHERE id = 1").fetchone()
        return None if row is None else row[0]

    def start(self, key: str, epoch: int, series: dict, worker: str) -> None:
        """The trial starts (``epoch`` = 0) or resumes after ``epoch`` epochs: rows after
        ``epoch`` are deleted, the first ``epoch`` are made equal to ``series`` (the
        checkpoint's), the trial is marked running."""
        with _Transaction(self.conn, self.path):
            row = self.conn.execute("SELECT status, starts_json FROM trial WHERE key = ?", (key,)).fetchone()
            if row is None or row[0] not in ("pending", "running"):
                raise StoreError(f"trial {key!r} is {row[0] if row else 'not in the store'}; "
                                 f"nothing to run")
            self.conn.execute("DELETE FROM epoch_metric WHERE trial_key = ? AND epoch > ?", (key, epoch))
            self.conn.execute("DELETE FROM artifact WHERE trial_key = ?", (key,))
            self._insert(key, series, 0, epoch, replace=True)
            starts = (json.loads(row[1]) if row[1] else []) + [epoch]
            self.conn.execute(
                "UPDATE trial SET status = 'running', started = ?, epochs_done = ?, "
                "checkpoint_epoch = ?, starts_json = ?, worker = ?, error = NULL, message = NULL "
                "WHERE key = ?", (time.time(), epoch, epoch or None, json.dumps(starts), worker, key))

    def _insert(self, key, series, first, last, replace=False):
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        rows = [(key, e + 1, name, _value(values[e])) for name, values in series.items()
                for e in range(first, min(last, len(values)))]
        self.conn.executemany(f"{verb} INTO epoch_metric VALUES (?, ?, ?, ?)", rows)

    def epochs(self, key: str, series: dict, first: int, last: int) -> None:
        """Epochs ``first + 1 .. last`` of ``series`` (index ``first .. last - 1``), in one
        transaction with ``epochs_done = last``."""
        with _Transaction(self.conn, self.path):
            self._insert(key, series, first, last, replace=True)
            self.conn.execute("UPDATE trial SET epochs_done = ? WHERE key = ?", (last, key))

    def checkpointed(self, key: str, epoch: int) -> None:
        with _Transaction(self.conn, self.path):
            self.conn.execute("UPDATE trial SET checkpoint_epoch = ? WHERE key = ?", (epoch, key))

    def done(self, result: dict) -> None:
        with _Transaction(self.conn, self.path):
            record_done(self.conn, result)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception (KeyboardInterrupt too);
    SQLite write failures become :class:`StoreWriteError`."""

    def __init__(self, conn, path="study store"):
        self.conn, self.path = conn, path

    def __enter__(self):
        with writing(self.path):
            self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            try:
                with writing(self.path):
                    self.conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
                raise
            return False
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.OperationalError):
            raise StoreWriteError(f"{self.path}: cannot write the study store: {_why(exc)} "
                                  f"(results stored so far are intact)") from None
        return False


# ---------------------------------------------------------------------- reading

def open_readonly(study_dir) -> sqlite3.Connection:
    """Open ``<study_dir>/study.db`` read-only (also while a study writes it, and in a
    read-only folder), after checking it is a proxnet store this version can read."""
    path = Path(study_dir) / STORE_NAME
    if not path.is_file():
        raise StoreError(f"{study_dir}: no study store {path} (expected a folder holding {STORE_NAME})")
    uri = path.resolve().as_uri()
    conn = None
    try:
        conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=BUSY_MS / 1000)
        try:
            _schema_state(conn, path)
        except sqlite3.OperationalError:
            if os.access(path.parent, os.W_OK):
                raise
            # a read-only folder: no WAL index can be made; nobody can be writing either
            conn.close()
            conn = sqlite3.connect(f"{uri}?immutable=1", uri=True)
            _schema_state(conn, path)
        conn.text_factory = lambda b: b.decode("utf-8", "replace")   # damaged text stays readable
        _check_statuses(conn, path)
        conn.execute("SELECT key, method, strength, seed, status FROM trial LIMIT 1").fetchall()
    except sqlite3.DatabaseError as exc:
        if conn is not None:
            conn.close()
        raise StoreError(f"{path}: not a readable proxnet study store ({exc})") from None
    except BaseException:
        if conn is not None:
            conn.close()
        raise
    return conn


@contextlib.contextmanager
def atomic_write(path, mode: str = "w", **kwargs):
    """Open a temporary file next to ``path`` for writing; on success it is flushed to disk
    and renamed to ``path``, on failure removed (``path`` keeps its old content)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def export_csv(conn, out) -> tuple[Path, Path]:
    """See :func:`_export_csv`; a damaged store raises StoreError."""
    try:
        return _export_csv(conn, out)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"the study store is damaged ({exc})") from None


def _export_csv(conn, out) -> tuple[Path, Path]:
    """Write ``trials.csv`` (one row per trial: key, method, strength, seed, status,
    duration, epochs_done, then every final metric, then the error's last line) and
    ``epochs.csv`` (long format: trial_key, method, strength, seed, epoch, name, value) into
    ``out``, each through a temporary file renamed into place."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cols = {r[1] for r in conn.execute("PRAGMA table_info(trial)")}
    done_col = "epochs_done" if "epochs_done" in cols else "NULL"
    trials = conn.execute(f"SELECT key, method, strength, seed, status, duration, {done_col}, "
                          f"final_json, error FROM trial ORDER BY rowid").fetchall()
    finals = [_final(r[7]) for r in trials]
    metric_names = sorted(set().union(*finals)) if finals else []
    tpath = out / "trials.csv"
    with atomic_write(tpath, newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["key", "method", "strength", "seed", "status", "duration", "epochs_done"]
                   + metric_names + ["error"])
        for r, fin in zip(trials, finals):
            err = (r[8] or "").strip().splitlines()
            w.writerow(list(r[:7]) + [fin.get(m, "") for m in metric_names] + [err[-1] if err else ""])
    epath = out / "epochs.csv"
    with atomic_write(epath, newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(EPOCH_COLUMNS)
        for row in epoch_rows(conn):
            w.writerow(row)
    return tpath, epath


EPOCH_COLUMNS = ("trial_key", "method", "strength", "seed", "epoch", "name", "value")
"""The fields of each row of :func:`epoch_rows` (and the columns of ``epochs.csv``)."""


def epoch_rows(conn):
    """Every stored per-epoch metric in long format, tuples of :data:`EPOCH_COLUMNS`, by
    trial (insertion order), name and epoch; a cursor (rows are read as they are used)."""
    return conn.execute(
        "SELECT e.trial_key, t.method, t.strength, t.seed, e.epoch, e.name, e.value "
        "FROM epoch_metric e JOIN trial t ON t.key = e.trial_key "
        "ORDER BY t.rowid, e.name, e.epoch")


def _final(text) -> dict:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# ---- read side (report) ----
# What the report reads, in SQL, beside the schema it reads. Every function takes a
# connection from connect_readonly (or any sqlite3 connection to a store) and returns plain
# Python / NumPy data; none writes.

TRIAL_COLUMNS = ("key", "method", "strength", "seed", "status", "error", "final_json",
                 "config_json", "duration", "epochs_stored")
"""The fields of each row of :func:`read_trials`, in order."""


def connect_readonly(study_dir) -> sqlite3.Connection:
    """Open ``<study_dir>/study.db`` read-only (a report can be written while a study runs;
    see :func:`open_readonly`). FileNotFoundError, naming the path, if there is no store;
    StoreError for a file that is not a store this proxnet can read."""
    path = Path(study_dir) / STORE_NAME
    if not path.is_file():
        raise FileNotFoundError(f"study_dir: no study store {path} (expected a folder "
                                f"holding {STORE_NAME})")
    return open_readonly(study_dir)


def _reading(fn):
    """A damaged store found while reading (malformed pages, undecodable rows) raises
    StoreError with one line, not sqlite3's exception."""
    import functools

    @functools.wraps(fn)
    def wrapper(conn, *args, **kwargs):
        try:
            return fn(conn, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"the study store is damaged ({exc})") from None
    return wrapper


@_reading
def read_study(conn) -> tuple | None:
    """``(name, config_json, created, proxnet_version)`` of the study, or None."""
    return conn.execute("SELECT name, config_json, created, proxnet_version FROM study "
                        "WHERE id = 1").fetchone()


@_reading
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


@_reading
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


@_reading
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


@_reading
def read_progress(conn, keys) -> tuple[int, int, dict]:
    """``(epochs done, epochs planned, {status: count})`` over the trials ``keys``; finished
    trials (done, failed, timeout) count all their planned epochs."""
    keys = list(dict.fromkeys(keys))
    done = planned = 0
    counts: dict = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        for status, d, p in conn.execute(f"SELECT status, epochs_done, epochs_planned FROM trial "
                                         f"WHERE key IN ({_in(chunk)})", chunk):
            p = p or 0
            planned += p
            done += p if status in ("done", "failed", "timeout") else min(d or 0, p)
            counts[status] = counts.get(status, 0) + 1
    return done, planned, counts
