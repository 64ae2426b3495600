"""The benchmark scripts run: the per-step A/B parses its settings strictly and puts overridden
values back; the whole-study benchmark times its three ways on one grid."""
import argparse
import runpy

import pytest

import proxnet.functional.conv as conv

from .conftest import REPO


@pytest.fixture(scope="module")
def ab_step():
    return runpy.run_path(str(REPO / "benchmarks" / "ab_step.py"), run_name="ab_step")


def test_ab_step_runs_and_restores_overrides(ab_step, mnist_dir, capsys):
    before = conv.GROUP_ROWS_BELOW
    ab_step["main"](["--setting", "groups=", "--setting",
                     "single-rows=proxnet.functional.conv:GROUP_ROWS_BELOW=0,proxnet.training.shards:SHARD_BYTES=1000000",
                     "--steps", "3", "--warmup", "1", "--n", "128", "--threads", "1"])
    out = capsys.readouterr().out
    assert "groups" in out and "single-rows" in out and "median per-step" in out
    assert conv.GROUP_ROWS_BELOW == before


def test_ab_step_times_steps_in_one_shard_session_as_fit_does(ab_step, mnist_dir, monkeypatch, capsys):
    # fit runs every step in one session (single-threaded BLAS, the thread count read once);
    # steps timed outside one are the wrong steps (BLAS threads, a limit set per step).
    import proxnet.parallel as parallel
    names = ab_step["main"].__globals__
    real, sessions = names["train_step"], []
    monkeypatch.setitem(names, "train_step", lambda *a: sessions.append(parallel._session.get()) or real(*a))
    ab_step["main"](["--setting", "a=", "--setting", "b=", "--steps", "2", "--warmup", "0",
                     "--n", "128", "--threads", "2"])
    capsys.readouterr()
    assert sessions == [2] * 4


def test_override_applies_inside_and_restores_after(ab_step):
    before = conv.GROUP_ROWS_BELOW
    override = ab_step["Override"]([("proxnet.functional.conv", "GROUP_ROWS_BELOW", 0)])
    with override:
        assert conv.GROUP_ROWS_BELOW == 0
    assert conv.GROUP_ROWS_BELOW == before
    with pytest.raises(SystemExit, match="does not exist"):
        ab_step["Override"]([("proxnet.functional.conv", "NO_SUCH_KNOB", 0)])


def test_ab_step_setting_parser(ab_step):
    parse = ab_step["parse_setting"]
    assert parse("base=") == ("base", [])
    assert parse("x=a.b:C=0,a.b:D.e=(1, 2)") == ("x", [("a.b", "C", 0), ("a.b", "D.e", (1, 2))])
    for bad in ("=a:b=1", "x=a.b=1", "x=a:b", "x=a:b=not a literal"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse(bad)


@pytest.fixture(scope="module")
def bench_study():
    return runpy.run_path(str(REPO / "benchmarks" / "bench_study.py"), run_name="bench_study")


def test_bench_study_grid_is_the_one_the_torch_way_trains(bench_study, tmp_path):
    from proxnet.studies.config import load_config
    (tmp_path / "bench.toml").write_text(bench_study["study_toml"](2, 3))
    cfg = load_config(tmp_path / "bench.toml")
    trials = cfg.trials()
    assert len(trials) == 4 and {t.method for t in trials} == {"none", "l2"}
    assert cfg.training.epochs == 3 and cfg.training.batch_size == 128 and cfg.training.lr == 0.01
    assert [d.options for d in cfg.datasets] == [bench_study["OPTIONS"]]
    assert {t.strength for t in trials if t.method == "l2"} == {bench_study["L2"]}


@pytest.mark.slow
def test_bench_study_times_three_ways(bench_study, mnist_dir, capsys):
    pytest.importorskip("torch", reason="PyTorch is the benchmark peer")
    bench_study["main"](["--seeds", "1", "--epochs", "1", "--jobs", "1"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith(("proxnet study", "torch,"))]
    assert len(rows) == 3, out
    walls = [float(line.split()[-2]) for line in rows]
    assert all(w > 0 for w in walls) and float(rows[0].split()[-1]) == 1.0



def test_bench_study_repeats_take_turns_and_report_medians(bench_study, mnist_dir, capsys, monkeypatch):
    pytest.importorskip("torch", reason="bench_study imports PyTorch to describe the machine")
    g = bench_study["main"].__globals__            # the functions main calls (runpy's module)
    calls = []
    walls = iter([10.0, 30.0, 20.0, 14.0, 33.0, 21.0, 12.0, 31.0, 25.0])

    def fake_proxnet(seeds, epochs, jobs):
        calls.append("proxnet")
        return next(walls)

    def fake_torch(seeds, epochs, processes, threads):
        calls.append(f"torch {processes}x{threads}")
        return next(walls)

    monkeypatch.setitem(g, "run_proxnet", fake_proxnet)
    monkeypatch.setitem(g, "run_torch", fake_torch)
    g["main"](["--seeds", "1", "--epochs", "1", "--repeats", "3"])
    out = capsys.readouterr().out
    assert calls[:3] * 3 == calls and calls[0] == "proxnet", calls     # A B C A B C A B C
    rows = {line.split("  ")[0]: line for line in out.splitlines() if line.startswith(("proxnet study", "torch,"))}
    proxnet_row = next(v for k, v in rows.items() if k.startswith("proxnet"))
    one_process = next(v for k, v in rows.items() if "one process" in k)
    assert proxnet_row.split()[3:5] == ["12.0", "1.00"] and proxnet_row.endswith("10.0, 14.0, 12.0"), out
    assert one_process.split()[5:7] == ["31.0", f"{12.0 / 31.0:.2f}"], out
    assert "median of 3 runs" in out
    with pytest.raises(SystemExit):
        g["main"](["--repeats", "0"])


def test_the_blas_line_names_numpys_library_first_even_after_scipy_loads_its_own():
    import os
    import sys

    import numpy as np
    import scipy.linalg  # noqa: F401  (SciPy loads its own OpenBLAS)
    from threadpoolctl import threadpool_info

    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import machine
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    numpy_dir = os.path.dirname(os.path.realpath(np.__file__))
    libs = [i for i in threadpool_info() if i["user_api"] == "blas"]
    mine = [i for i in libs if os.path.realpath(i["filepath"]).startswith(numpy_dir)]
    if not mine:
        pytest.skip("NumPy's BLAS is not a library threadpoolctl lists here")
    line = machine.blas()
    assert line.startswith(f"{mine[0]['internal_api']} {mine[0]['version']} ")
    assert line.split(";")[0].endswith("(NumPy's)")
    assert line.count("; also ") == len(libs) - 1
