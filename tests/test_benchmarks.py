"""The per-step A/B script runs, parses its settings strictly and puts overridden values back."""
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
