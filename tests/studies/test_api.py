"""The Python study API (`from proxnet.studies import run, load`): what it returns equals what
the report computes, its displays lead with the verdict, and the CLI is a layer over it
(verbosity wired to logging, the final progress line off a terminal)."""
import csv
import logging
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from proxnet.cli import main
from proxnet.studies import Study, load, run
from proxnet.studies.config import ConfigError
from proxnet.studies.report import summarize, write_report
from proxnet.studies.store import Store

pytest.importorskip("matplotlib", reason="matplotlib (the lab extra) not installed")


def small(**over) -> dict:
    cfg = {"name": "api", "seeds": 2, "dataset": {"name": "digits"}, "model": {"hidden": [8]},
           "training": {"optimizer": "sgd", "lr": 0.1, "epochs": 2, "batch_size": 64},
           "methods": [{"name": "none"}, {"name": "l2", "regularizer": "l2", "strengths": [1e-3]}]}
    cfg.update(over)
    return cfg


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    out = tmp_path_factory.mktemp("api") / "s"
    return run(small(), out, jobs=1, progress=False)


def _csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_run_returns_a_study_whose_tables_are_the_reports(done, tmp_path):
    assert isinstance(done, Study) and done.last_run.complete and done.last_run.ran == 4
    assert done.name == "api" and "4 trials: 4 done" in repr(done)
    summary = done.summary()
    want = summarize(done.path)
    assert list(summary["label"]) == [r["label"] for r in want]
    head = want[0]["headline"]
    np.testing.assert_allclose(summary[f"{head}_mean"], [r[f"{head}_mean"] for r in want])
    page = write_report(done.path, out=tmp_path / "r")
    comps, rows = done.comparisons(), _csv(page.parent / "comparisons.csv")
    assert list(comps.columns) == list(rows[0]) and len(comps) == len(rows) == 3
    np.testing.assert_allclose(comps["diff_mean"], [float(r["diff_mean"]) for r in rows])
    gap = comps["metric"][1]
    assert gap.endswith("gap") and list(done.comparisons(metric=gap)["metric"]) == [gap]
    with pytest.raises(ValueError, match="metric: expected one of"):
        done.comparisons(metric="accuracy")
    trials = done.trials()
    assert len(trials) == 4 and set(trials["status"]) == {"done"}
    assert list(trials["selected_epoch"]) == [int(r["selected_epoch"]) for r in _csv(page.parent / "trials.csv")]
    epochs = done.epochs()
    exported = _csv(done.export(tmp_path / "e")[1])
    assert len(epochs) == len(exported) and list(epochs.columns) == list(exported[0])
    assert set(epochs["epoch"]) == {1, 2}
    assert done.verdicts()[0]["verdict"] == comps["verdict"][0]


def test_tables_are_lists_of_dicts_without_pandas(done, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)      # import pandas raises ImportError
    for rows in (done.summary(), done.comparisons(), done.trials(), done.epochs()):
        assert isinstance(rows, list) and rows and isinstance(rows[0], dict)


def test_html_display_leads_with_the_verdict(done):
    page = done._repr_html_()
    assert page.startswith("<div class='proxnet-study'>")
    assert page.index("id='verdict'") < page.index("id='summary'")
    assert page.count("class='verdict'") == 1 and "data-verdict=" in page
    assert "body {" not in page and ".proxnet-study h2" in page      # styles scoped to itself


def test_report_and_load(done, tmp_path):
    path = load(done.path).report(out=tmp_path / "rep")
    assert path == tmp_path / "rep" / "index.html" and "Verdict" in path.read_text()
    with pytest.raises(FileNotFoundError, match="no study store"):
        load(tmp_path)


def test_plot_curves_draws_done_groups_and_running_trials_distinctly(done, tmp_path):
    from matplotlib.figure import Figure
    ax = done.plot_curves(ax=Figure().add_subplot())
    labels = [ln.get_label() for ln in ax.get_lines() if not ln.get_label().startswith("_")]
    assert labels == ["none (n=2)", "l2 λ=0.001 (n=2)"]
    assert len(ax.get_lines()) == 4                                # test solid + train dashed
    means = done.epochs().query("method == 'none' and name == 'test_accuracy'").groupby("epoch")["value"].mean()
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), means.to_numpy())
    gap = done.plot_curves(ax=Figure().add_subplot(), metric="gap")
    assert "gap" in gap.get_ylabel()
    with pytest.raises(ValueError, match="metric"):
        done.plot_curves(metric="loss")
    # a trial still running: its stored epochs, dotted and labelled "running"
    import shutil
    live = tmp_path / "live"
    shutil.copytree(done.path, live)
    with Store(live) as store:
        key = store.conn.execute("SELECT key FROM trial WHERE method = 'l2' AND seed = 1").fetchone()[0]
        store.conn.execute("UPDATE trial SET status = 'running' WHERE key = ?", (key,))
        store.conn.execute("DELETE FROM epoch_metric WHERE trial_key = ? AND epoch = 2", (key,))
    ax = load(live).plot_curves(ax=Figure().add_subplot())
    running = [ln for ln in ax.get_lines() if "running" in ln.get_label()]
    assert len(running) == 1 and running[0].get_linestyle() == ":"
    assert running[0].get_label() == "l2 λ=0.001 seed 1 (running)" and running[0].get_xdata().size == 1
    assert not [ln for ln in load(live).plot_curves(ax=Figure().add_subplot(), running=False).get_lines()
                if "running" in ln.get_label()]


def test_run_validates_its_arguments(tmp_path):
    with pytest.raises(ConfigError, match="expected a recipe name"):
        run(42, tmp_path / "x")
    with pytest.raises(ConfigError, match="training.lr"):
        run(small(training={"lr": -1}), tmp_path / "x")
    with pytest.raises(ValueError, match="jobs"):
        run(small(), tmp_path / "x", jobs=0)
    with pytest.raises(ConfigError, match="unknown recipe"):
        run("no-such-recipe", tmp_path / "x")


def test_run_resumes_and_writes_the_report_when_asked(done, tmp_path):
    again = run(small(), done.path, jobs=1, progress=False, report=True)
    assert (again.last_run.ran, again.last_run.skipped) == (0, 4)
    for name in ("index.html", "summary.csv", "comparisons.csv", "trials.csv", "epochs.csv"):
        assert (done.path / "report" / name).is_file(), name


# ---------------------------------------------------------------- the CLI over the API

def test_cli_report_prints_the_studys_table(done):
    res = CliRunner().invoke(main, ["report", str(done.path)])
    assert res.exit_code == 0, res.output
    assert res.output.startswith(done.table())


def test_cli_verbosity_is_wired_to_logging(done, monkeypatch):
    from proxnet.studies import config

    def listing():
        logging.getLogger("proxnet.data").info("downloading http://127.0.0.1/x")
        logging.getLogger("proxnet.data").debug("a debug detail")
        return {"r": "a recipe"}
    monkeypatch.setattr(config, "list_recipes", listing)
    out = CliRunner().invoke(main, ["recipes"]).output
    assert "downloading http://127.0.0.1/x" in out and "debug detail" not in out
    assert "downloading" not in CliRunner().invoke(main, ["recipes", "-q"]).output
    verbose = CliRunner().invoke(main, ["recipes", "-v"]).output
    assert "proxnet.data: a debug detail" in verbose
    for command in ("gradcheck", "report", "study", "recipes", "export"):
        help_text = CliRunner().invoke(main, [command, "--help"]).output
        assert "--quiet" in help_text and "--verbose" in help_text, command


def test_cli_study_off_a_terminal_ends_with_one_progress_line(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('name = "line"\nseeds = 1\n[dataset]\nname = "digits"\n[model]\nhidden = [8]\n'
                   '[training]\nepochs = 3\n[[methods]]\nname = "none"\n')
    res = CliRunner().invoke(main, ["study", str(cfg), "--out", str(tmp_path / "s"), "-j", "1", "--no-report"])
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.output.splitlines() if ln.startswith("line: ")]
    assert len(lines) == 1 and lines[0].startswith("line: 3/3 epochs, 1 done, ")
    assert "\r" not in res.output and "ran 1 trials" in res.output
    quiet = CliRunner().invoke(main, ["study", str(cfg), "--out", str(tmp_path / "q"), "-j", "1",
                                      "--no-report", "-q"])
    assert quiet.exit_code == 0 and quiet.output == "", quiet.output


def test_watch_rewrites_while_the_study_runs_then_writes_the_final_page(done, tmp_path):
    import shutil
    from proxnet.studies.lock import StudyLock, held
    live = tmp_path / "live"
    shutil.copytree(done.path, live)
    assert not held(live) and not held(tmp_path / "nowhere")
    lock = StudyLock(live).acquire()          # as a running `proxnet study` holds it
    assert held(live)
    pages = []

    def wrote(path, running):
        text = path.read_text()
        pages.append((running, '<meta http-equiv="refresh" content="1">' in text, "id='live'" in text))
        if len(pages) == 2:
            lock.release()                    # the study ends
    path = load(live).watch(interval=0.5, on_write=wrote)
    assert pages == [(True, True, True), (True, True, True), (False, False, False)]
    assert path == live / "report" / "index.html"
    with pytest.raises(ValueError, match="interval"):
        load(live).watch(interval=0)


def test_running_a_study_does_not_load_the_report_stack():
    """Workers and `run` import proxnet.studies; scipy and matplotlib load only for answers."""
    code = ("import sys; import proxnet.studies, proxnet.studies.trial, proxnet.studies.runner; "
            "print(' '.join(m for m in ('scipy', 'matplotlib', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == []


def test_a_study_with_a_report_imports_its_stack_once_the_first_trial_is_in(tmp_path, monkeypatch):
    """The report's imports (SciPy, matplotlib) overlap the training instead of following it."""
    import proxnet.studies.api as api
    calls = []

    def spy():
        trials = load(tmp_path / "s").trials()
        rows = trials.to_dict("records") if hasattr(trials, "to_dict") else trials
        calls.append(sum(t["status"] == "done" for t in rows))
    monkeypatch.setattr(api, "preload_report", spy)
    run(small(), tmp_path / "s", jobs=1, progress=False, report=True)
    assert calls == [1]                   # once, after the first of four trials was stored
    run(small(name="api-2"), tmp_path / "t", jobs=1, progress=False)
    assert calls == [1]                   # no report, no preload


def test_preload_report_imports_the_report_modules_in_a_daemon_thread():
    code = ("import sys; from proxnet.studies.api import REPORT_MODULES, preload_report; "
            "t = preload_report(); t.join(120); "
            "print(t.daemon, t.is_alive(), all(m in sys.modules for m in REPORT_MODULES), "
            "'scipy.stats' in sys.modules, 'matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False", "True", "True", "True"]


def test_a_failing_preload_raises_nothing_in_its_thread(monkeypatch):
    import threading

    import proxnet.studies.api as api
    raised = []
    monkeypatch.setattr(threading, "excepthook", lambda args: raised.append(args.exc_value))
    monkeypatch.setattr(api, "REPORT_MODULES", ("proxnet.studies.no_such_module",))
    thread = api.preload_report()
    thread.join(30)
    assert not thread.is_alive() and raised == []
