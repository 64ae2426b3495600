"""Verdicts of real (small, fast) studies: a method that truly harms is called worse, a
method with no effect at all gets "no detectable difference" without any error from its
zero variance; on digits with a validation split, 5 seeds."""
import math
import warnings

import numpy as np
import pytest

from proxnet.studies.config import validate
from proxnet.studies.report import analyze_dir, format_table, summarize, write_report
from proxnet.studies.runner import run_study


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    cfg = validate({
        "name": "harm-and-no-op", "seeds": 5,
        "dataset": {"name": "digits", "options": {"val_size": 300}},
        "model": {"hidden": [16]},
        "training": {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "epochs": 4,
                     "batch_size": 64},
        "methods": [{"name": "none"},
                    # ½·λ·‖W‖² with λ = 1: the weights shrink to nothing, the net underfits
                    {"name": "l2-huge", "regularizer": "l2", "strengths": [1.0]},
                    # a soft-threshold by lr·λ = 1e-31 changes no float32 weight
                    {"name": "prox-l1-tiny", "regularizer": "l1", "mode": "prox",
                     "strengths": [1e-30]}]})
    d = tmp_path_factory.mktemp("verdicts") / "s"
    run = run_study(cfg, d, jobs=1, progress=False)
    assert run.counts == {"done": 15}
    return d


def test_a_harmful_method_is_worse_and_a_no_op_shows_no_difference(study):
    with warnings.catch_warnings():
        warnings.simplefilter("error")         # zero variance must not even warn
        a = analyze_dir(study)
    comps = {c.group[0]: c for c in a.experiments[0].comparisons["selected_test_accuracy"]}
    harm, noop = comps["l2-huge"], comps["prox-l1-tiny"]
    assert harm.verdict == "worse" and harm.p_holm < 0.05 and harm.result.n == 5
    assert harm.result.diff_ci_high < 0
    assert noop.verdict == "no detectable difference"
    assert noop.result.diff_mean == 0.0 and noop.result.p_ttest == 1.0
    assert any("identical results" in n for n in noop.notes)
    # the headline is selected on validation: some trial stops before the last epoch or not,
    # but every selected epoch is one of the 4
    for t in a.study.done:
        assert 1 <= t.selection.epoch <= 4 and math.isfinite(t.selection.test)


def test_the_report_and_the_table_say_so(study):
    page = write_report(study).read_text(encoding="utf-8")
    assert "<span class='worse'>worse</span>" in page
    assert "identical results" in page
    text = format_table(summarize(study))
    rows = {ln.split()[0].lstrip("*"): ln for ln in text.splitlines()[3:6]}
    assert rows["l2-huge"].endswith("worse")
    assert rows["prox-l1-tiny"].endswith("no detectable difference")
    assert "+0.00 [+0.00, +0.00]" in rows["prox-l1-tiny"]
    assert max(map(len, text.splitlines())) <= 100


def test_the_no_op_trains_exactly_like_the_baseline(study):
    """The premise of the no-op: its weights stay bit-identical to the baseline's."""
    a = analyze_dir(study)
    by = {}
    for t in a.study.done:
        by.setdefault(t.seed, {})[t.method] = t
    arts = a.study.artifacts([t.key for ts in by.values() for t in ts.values()],
                             ["first_layer_weights"])
    for seed, ts in by.items():
        w0 = arts[ts["none"].key]["first_layer_weights"]
        assert np.array_equal(w0, arts[ts["prox-l1-tiny"].key]["first_layer_weights"]), seed
        assert not np.array_equal(w0, arts[ts["l2-huge"].key]["first_layer_weights"])
