"""Storage faults: the schema version (a newer or foreign database is refused, a proxnet 0.1
store upgraded), unknown status values, garbage / truncated / bit-flipped stores, a disk
that fills mid-study, report and export on a full disk, and a read-only study folder. Each
ends in one clear line and an exit code, never a traceback, and loses nothing."""
import os
import random
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from proxnet.cli import main
from proxnet.studies import store as store_mod
from proxnet.studies.config import validate
from proxnet.studies.runner import run_study
from proxnet.studies.store import SCHEMA_VERSION, Store, StoreError, open_readonly

REPO = Path(__file__).resolve().parents[2]


def tiny(**over):
    cfg = {"name": "faults", "seeds": 3, "dataset": {"name": "digits"}, "model": {"hidden": [8]},
           "training": {"lr": 0.1, "epochs": 6, "batch_size": 64},
           "methods": [{"name": "none"}, {"name": "l2", "regularizer": "l2", "strengths": [1e-3, 1e-2]}]}
    cfg.update(over)
    return validate(cfg)


@pytest.fixture(scope="module")
def done_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("done") / "s"
    run = run_study(tiny(), out, jobs=1, progress=False)
    assert run.complete
    return out


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def one_line(res, code):
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, res.stderr
    return lines[0]


def copy(src, dst):
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("report", "*.lock"))
    return dst


# ---------------------------------------------------------------- versions and foreign files

def test_store_records_its_schema_version(done_study):
    conn = open_readonly(done_study)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA application_id").fetchone()[0] == store_mod.APPLICATION_ID
    conn.close()


def test_newer_store_is_refused_by_study_report_and_export(done_study, tmp_path):
    s = copy(done_study, tmp_path / "s")
    with sqlite3.connect(s / "study.db") as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    for args in (["report", s], ["export", s], ["study", "digits-quick", "--out", s]):
        line = one_line(invoke(*args), 2)
        assert "written by a newer proxnet" in line, line
    with pytest.raises(StoreError, match="newer proxnet"):
        run_study(tiny(), s, jobs=1, progress=False)


def test_foreign_sqlite_file_is_refused_and_left_untouched(tmp_path):
    s = tmp_path / "s"
    s.mkdir()
    with sqlite3.connect(s / "study.db") as conn:
        conn.execute("CREATE TABLE photos (id INTEGER, path TEXT)")
        conn.execute("INSERT INTO photos VALUES (1, 'x.jpg')")
    before = (s / "study.db").read_bytes()
    for args in (["report", s], ["study", "digits-quick", "--out", s]):
        line = one_line(invoke(*args), 2)
        assert "not a proxnet study store" in line and "photos" in line, line
    assert (s / "study.db").read_bytes() == before


def test_unknown_status_is_an_error_not_a_skipped_trial(done_study, tmp_path):
    s = copy(done_study, tmp_path / "s")
    with sqlite3.connect(s / "study.db") as conn:   # as a future version without the CHECK might
        conn.execute("PRAGMA ignore_check_constraints = ON")
        conn.execute("UPDATE trial SET status = 'paused' WHERE rowid = 1")
    with pytest.raises(StoreError, match="unknown trial status 'paused'"):
        run_study(tiny(), s, jobs=1, progress=False)
    line = one_line(invoke("report", s, "--out", tmp_path / "r"), 2)
    assert "unknown trial status 'paused'" in line


def test_proxnet_0_1_store_is_upgraded_in_place(tmp_path):
    """A store without a version (schema 1) gains the new columns; its trials are kept."""
    s = tmp_path / "s"
    s.mkdir()
    old = store_mod.SCHEMA.split("message TEXT")[0].rstrip().rstrip(",") + "\n);\n" + \
        store_mod.SCHEMA.split("worker TEXT\n);")[1].split("PRAGMA")[0]
    with sqlite3.connect(s / "study.db") as conn:
        conn.executescript(old)
        conn.execute("INSERT INTO study VALUES (1, 'old', '{}', 0, '0.1.0')")
        conn.execute("INSERT INTO trial (key, config_hash, method, strength, seed, config_json, status) "
                     "VALUES ('k:0', 'k', 'none', NULL, 0, '{}', 'done')")
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    conn = open_readonly(s)              # readable as it is
    assert conn.execute("SELECT COUNT(*) FROM trial").fetchone()[0] == 1
    conn.close()
    with Store(s) as st:
        assert st.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert st.conn.execute("SELECT key, status, epochs_done FROM trial").fetchall() == [("k:0", "done", 0)]


def _flip(path, rng, n=1):
    data = bytearray(path.read_bytes())
    for _ in range(n):
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(data))


def test_garbage_truncated_and_bit_flipped_stores_never_give_a_traceback(done_study, tmp_path):
    rng = random.Random(3)
    src = tmp_path / "src"
    copy(done_study, src)
    with sqlite3.connect(src / "study.db") as conn:       # everything in the main file
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    cases = {"garbage": lambda p: p.write_bytes(os.urandom(50_000)),
             "empty-header": lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\x00" * 84),
             "truncated": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 3])}
    for i in range(25):
        cases[f"flip{i}"] = lambda p, n=1 + i % 4: _flip(p, rng, n)
    outcomes = {}
    for name, damage in cases.items():
        s = tmp_path / name
        shutil.copytree(src, s)
        for side in ("study.db-wal", "study.db-shm"):
            (s / side).unlink(missing_ok=True)
        damage(s / "study.db")
        res = invoke("export", s, "--out", tmp_path / f"{name}-csv")
        assert res.exit_code in (0, 2), (name, res.output)
        assert "Traceback" not in res.output
        if res.exit_code == 2:
            one_line(res, 2)
        outcomes[name] = res.exit_code
    for name in ("garbage", "truncated", "flip0", "flip1"):
        s = tmp_path / name
        res = invoke("report", s, "--out", tmp_path / f"{name}-rep")
        assert res.exit_code in (0, 2) and "Traceback" not in res.output, (name, res.output)
    assert outcomes["garbage"] == 2 and outcomes["truncated"] == 2


# ---------------------------------------------------------------- disk full

def test_disk_full_mid_study_is_one_line_and_loses_nothing(tmp_path, monkeypatch):
    """The store can grow by a few pages only (SQLite's max_page_count on every connection:
    its 'database or disk is full' error, as on a full disk). The study stops with one line;
    the trials finished before are intact, and the same command later completes the study
    with results equal to an uninterrupted run."""
    out = tmp_path / "full"
    cfg = tiny(training={"lr": 0.1, "epochs": 12, "batch_size": 64})
    real = store_mod._connect
    limit = {"pages": None}

    def capped(path, **kw):
        conn = real(path, **kw)
        if limit["pages"]:
            conn.execute(f"PRAGMA max_page_count = {limit['pages']}")
        return conn

    monkeypatch.setattr(store_mod, "_connect", capped)
    with Store(out) as st:
        st.init_study(cfg)
        st.add_trials(cfg.trials())
        pages = st.conn.execute("PRAGMA page_count").fetchone()[0]
    limit["pages"] = pages + 15        # room for a few trials' epochs, not for nine
    monkeypatch.setattr("proxnet.studies.api.resolve", lambda _name: cfg)   # the name the CLI resolves through
    res = invoke("study", "x", "--out", out, "--jobs", "1", "--no-report")
    line = one_line(res, 1)
    assert "cannot write the study store: the disk is full" in line and "intact" in line
    limit["pages"] = None
    with sqlite3.connect(out / "study.db") as conn:
        done_before = dict(conn.execute("SELECT key, final_json FROM trial WHERE status = 'done'"))
    assert 0 < len(done_before) < 9
    res = invoke("study", "x", "--out", out, "--jobs", "1", "--no-report")
    assert res.exit_code == 0, res.output
    ref = tmp_path / "ref"
    run_study(cfg, ref, jobs=1, progress=False)
    with sqlite3.connect(out / "study.db") as a, sqlite3.connect(ref / "study.db") as b:
        q = "SELECT trial_key, epoch, name, value FROM epoch_metric WHERE name != 'time' ORDER BY 1, 2, 3"
        assert a.execute(q).fetchall() == b.execute(q).fetchall()
        finals = dict(a.execute("SELECT key, final_json FROM trial"))
    assert {k: finals[k] for k in done_before} == done_before


def _limited(limit_bytes):
    def pre():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))
    return pre


def test_report_and_export_on_a_full_disk_leave_no_truncated_file(done_study, tmp_path):
    """A file-size limit (RLIMIT_FSIZE: writes fail with EFBIG, as on a full disk) stops the
    report and the export with one line; the files written before stay whole, no temporary
    file is left."""
    s = copy(done_study, tmp_path / "s")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    assert invoke("report", s).exit_code == 0
    assert invoke("export", s).exit_code == 0
    page = (s / "report" / "index.html").read_bytes()
    csvs = {n: (s / n).read_bytes() for n in ("trials.csv", "epochs.csv")}
    limit = 40_000           # room for SQLite's 32 KiB shared-memory file, not for the outputs
    assert len(page) > limit and len(csvs["epochs.csv"]) > limit
    for cmd in (["report", str(s)], ["export", str(s)]):
        res = subprocess.run([sys.executable, "-m", "proxnet", *cmd], env=env, capture_output=True,
                             text=True, timeout=300, preexec_fn=_limited(limit))
        assert res.returncode == 1, res.stderr
        assert "Traceback" not in res.stderr
        assert res.stderr.startswith("error: cannot write") and "File too large" in res.stderr, res.stderr
    assert (s / "report" / "index.html").read_bytes() == page
    assert {n: (s / n).read_bytes() for n in csvs} == csvs
    leftovers = [p.name for p in list(s.glob(".*.tmp")) + list((s / "report").glob(".*.tmp"))]
    assert not leftovers


# ---------------------------------------------------------------- read-only folder

# root ignores file permissions: run the commands without the capabilities that let it
NO_DAC = ["setpriv", "--inh-caps=-dac_override,-dac_read_search",
          "--bounding-set=-dac_override,-dac_read_search"]


def test_report_works_on_a_read_only_study_folder_with_out_elsewhere(done_study):
    """(As root, the commands run without CAP_DAC_OVERRIDE so that permissions apply.)"""
    root = Path(tempfile.mkdtemp(prefix="proxnet-ro-"))
    try:
        os.chmod(root, 0o755)
        s = copy(done_study, root / "s")
        with sqlite3.connect(s / "study.db") as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        writable = root / "out"
        writable.mkdir()
        os.chmod(writable, 0o777)
        for p in [s, *s.rglob("*")]:
            os.chmod(p, 0o555 if p.is_dir() else 0o444)
        if os.geteuid() == 0 and not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: file permissions cannot be enforced")
        prefix = NO_DAC if os.geteuid() == 0 else []
        env = dict(os.environ, PYTHONPATH=str(REPO), MPLCONFIGDIR=str(writable))
        run = lambda *a: subprocess.run([*prefix, sys.executable, "-m", "proxnet", *map(str, a)],  # noqa: E731
                                        env=env, capture_output=True, text=True, timeout=300)
        res = run("report", s, "--out", writable / "rep")
        assert res.returncode == 0, res.stderr
        assert (writable / "rep" / "index.html").stat().st_size > 20_000
        res = run("export", s, "--out", writable / "csv")
        assert res.returncode == 0, res.stderr
        res = run("report", s)                       # its default out is inside the folder
        assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
        assert res.stderr.startswith("error: cannot write") and "Permission denied" in res.stderr
        res = run("study", "digits-quick", "--out", s, "--seeds", "1", "--epochs", "1")
        assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
        assert "cannot create the study's lock file" in res.stderr
    finally:
        for p in [root, *root.rglob("*")]:
            os.chmod(p, 0o700)
        shutil.rmtree(root)


def test_documented_schema_is_the_one_the_store_creates(tmp_path):
    import re
    doc = (REPO / "docs" / "store-schema.md").read_text(encoding="utf-8")
    ddl = re.search(r"```sql\n(.*?)```", doc, re.S).group(1)
    a = sqlite3.connect(tmp_path / "doc.db")
    a.executescript(ddl)
    with Store(tmp_path / "s") as st:
        b = st.conn

        def shape(conn):
            tables = sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
            return ({t: conn.execute(f"PRAGMA table_info({t})").fetchall() for t in tables},
                    conn.execute("PRAGMA user_version").fetchone(), conn.execute("PRAGMA application_id").fetchone())
        assert shape(a) == shape(b)
    a.close()
