"""proxnet.studies.stats: every number recomputed with scipy directly, Holm against a
hand-written step-down and textbook examples, calibration by simulation (false-positive
rate under no effect, power under a known effect), degenerate cases, MDE and n_needed."""
import doctest
import math
import re
import time

import numpy as np
import pytest
from scipy import optimize, stats

from proxnet.studies import stats as S

from ..conftest import REPO

TOL = dict(rel=1e-12, abs=1e-12)
BASE = ("none", None)


# ---------------------------------------------------------------- independent references

def ref_holm(p):
    """Holm adjusted p by the textbook loop: sort, multiply by m − k, running max, cap 1."""
    p = list(p)
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out, running = [0.0] * m, 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (m - k) * p[i]))
        out[i] = running
    return out


def holm_rejects(p, alpha):
    """Holm's step-down decisions: reject while p_(k) ≤ α / (m − k), stop at the first miss."""
    m = len(p)
    rejected = set()
    for k, i in enumerate(sorted(range(m), key=lambda i: p[i])):
        if p[i] <= alpha / (m - k):
            rejected.add(i)
        else:
            break
    return rejected


def ref_power(dz, n, alpha):
    c = stats.t.ppf(1 - alpha / 2, n - 1)
    nc = dz * math.sqrt(n)
    upper = stats.nct.sf(c, n - 1, nc)
    lower = stats.nct.cdf(-c, n - 1, nc)
    return upper + (0.0 if math.isnan(lower) else lower)   # nct.cdf is NaN where ~1e-17


def ref_mde_dz(n, alpha, power=0.8):
    return optimize.brentq(lambda d: ref_power(d, n, alpha) - power, 1e-9, 1e4, xtol=1e-15)


def ref_n_needed(dz, alpha, power=0.8, limit=5000):
    return next(n for n in range(2, limit) if ref_power(abs(dz), n, alpha) >= power)


def check_against_scipy(r, x, y, *, family_size=1, seed=0, confidence=0.95):
    """Every field of a non-degenerate PairedResult recomputed from x, y with scipy."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    d = x - y
    n = d.size
    assert r.n == n
    assert r.diff_mean == pytest.approx(d.mean(), **TOL)
    sd = d.std(ddof=1)
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
    assert r.diff_ci_low == pytest.approx(d.mean() - half, **TOL)
    assert r.diff_ci_high == pytest.approx(d.mean() + half, **TOL)
    tt = stats.ttest_rel(x, y)
    ci = tt.confidence_interval(confidence)
    assert (r.diff_ci_low, r.diff_ci_high) == (pytest.approx(ci.low, **TOL),
                                               pytest.approx(ci.high, **TOL))
    assert r.p_ttest == pytest.approx(tt.pvalue, **TOL)
    assert r.p_value == r.p_ttest and r.test == "paired t"
    assert r.p_wilcoxon == pytest.approx(stats.wilcoxon(d).pvalue, **TOL)
    boot = stats.bootstrap((d,), np.mean, confidence_level=confidence,
                           rng=np.random.default_rng(seed)).confidence_interval
    assert r.boot_ci_low == pytest.approx(boot.low, **TOL)
    assert r.boot_ci_high == pytest.approx(boot.high, **TOL)
    assert r.effect_dz == pytest.approx(d.mean() / sd, **TOL)
    level = 0.05 / family_size
    assert r.mde_alpha == level
    assert r.mde == pytest.approx(ref_mde_dz(n, level) * sd, **TOL)
    assert r.n_needed == ref_n_needed(r.effect_dz, level)


# ---------------------------------------------------------------- one comparison

@pytest.mark.parametrize("n", [2, 3, 5, 8, 20])
def test_paired_matches_scipy(n):
    rng = np.random.default_rng(n)
    y = rng.normal(0.8, 0.02, size=n)
    x = y + rng.normal(0.01, 0.01, size=n)
    check_against_scipy(S.paired(x, y), x, y)
    check_against_scipy(S.paired(x, y, family_size=4, seed=7), x, y, family_size=4, seed=7)


def test_paired_with_ties_and_zeros_matches_scipy():
    """Exactly representable ties and zeros: Wilcoxon enumerates all sign flips (n ≤ 13),
    as scipy's method='auto' does."""
    x = np.array([3.0, 5, 4, 4, 7, 2, 6, 5])
    y = np.array([1.0, 5, 2, 3, 4, 1, 4, 3])
    r = S.paired(x, y)
    assert r.wilcoxon_method == "exact (all sign flips)"
    check_against_scipy(r, x, y)


def test_wilcoxon_normal_approximation_beyond_13_with_ties_is_said():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 5, size=20).astype(float)
    x = y + rng.integers(-1, 4, size=20)
    r = S.paired(x, y)
    assert r.wilcoxon_method == "normal approximation"
    assert r.p_wilcoxon == pytest.approx(stats.wilcoxon(x - y).pvalue, **TOL)
    assert any("normal approximation" in note for note in r.notes)


def test_near_ties_from_rounding_count_as_ties():
    """Accuracies k/100: 0.8 − 0.7 and 0.9 − 0.8 differ in the last bits; Wilcoxon must rank
    the computed differences as ties, as the exact counts are."""
    ky = np.array([90, 80, 70, 60, 95, 50, 85])
    kx = ky + np.array([-10, 10, 10, 10, 3, -5, 2])
    x, y = kx / 100, ky / 100
    d = x - y
    assert np.unique(np.abs(d)).size > np.unique(np.abs(kx - ky)).size   # the rounding is there
    r = S.paired(x, y)
    assert r.p_wilcoxon == pytest.approx(stats.wilcoxon(kx - ky).pvalue, **TOL)
    assert r.p_wilcoxon != pytest.approx(stats.wilcoxon(d).pvalue, **TOL)
    assert r.p_ttest == pytest.approx(stats.ttest_rel(x, y).pvalue, **TOL)


# ---------------------------------------------------------------- Holm

def test_holm_textbook_examples():
    # R: p.adjust(c(0.01, 0.02, 0.03, 0.04, 0.05), "holm")
    assert S.holm([0.01, 0.02, 0.03, 0.04, 0.05]).tolist() == pytest.approx(
        [0.05, 0.08, 0.09, 0.09, 0.09], **TOL)
    # Holm (1979)-style example, unsorted input: 4·0.005, 3·0.01, 2·0.03, max(2·0.03, 0.04)
    assert S.holm([0.01, 0.04, 0.03, 0.005]).tolist() == pytest.approx(
        [0.03, 0.06, 0.06, 0.02], **TOL)
    assert S.holm([0.5, 0.6, 0.7]).tolist() == [1.0, 1.0, 1.0]     # capped at 1
    assert S.holm([0.2]).tolist() == [0.2]                          # m = 1: unchanged
    assert S.holm([]).tolist() == []


def test_holm_against_step_down_and_properties():
    rng = np.random.default_rng(0)
    for trial in range(300):
        m = int(rng.integers(1, 12))
        p = rng.uniform(0, 1, m) ** rng.uniform(0.5, 6)
        if trial % 3 == 0:
            p[rng.integers(0, m)] = p[0]                              # ties
        adj = S.holm(p)
        assert adj.tolist() == pytest.approx(ref_holm(p), **TOL)
        assert np.all(adj >= p - 1e-15) and np.all(adj <= 1)
        order = np.argsort(p, kind="stable")
        assert np.all(np.diff(adj[order]) >= 0)                       # monotone in p
        steps = np.sort(p) * (m - np.arange(m))          # Holm's thresholds, scaled back
        levels = [0.01, 0.05, 0.1, *(steps * (1 - 1e-9)), *(steps * (1 + 1e-9))]
        for alpha in [a for a in levels if a < 1]:
            assert {i for i in range(m) if adj[i] <= alpha} == holm_rejects(p, alpha)


def test_holm_leaves_nan_out_of_the_family():
    adj = S.holm([0.01, np.nan, 0.02])
    assert np.isnan(adj[1])
    assert adj[[0, 2]].tolist() == pytest.approx(ref_holm([0.01, 0.02]), **TOL)


@pytest.mark.parametrize("bad", [[1.2], [-0.1], [[0.1, 0.2]]])
def test_holm_refuses_bad_p(bad):
    with pytest.raises(ValueError, match="pvalues"):
        S.holm(bad)


# ---------------------------------------------------------------- a study's comparisons

def make_study(rng, groups, seeds, effects=None, sd=0.01):
    """{group: {seed: value}} with a shared seed effect (so that pairing matters)."""
    u = rng.normal(0.85, 0.02, size=len(seeds))
    effects = effects or {}
    return {g: {s: u[i] + effects.get(g, 0.0) + rng.normal(0, sd) for i, s in enumerate(seeds)}
            for g in groups}


def test_compare_recomputes_with_scipy_and_holm():
    rng = np.random.default_rng(11)
    groups = [BASE, ("l2", 0.01), ("l2", 0.1), ("dropout", 0.3), ("l1", 0.001)]
    values = make_study(rng, groups, range(8), {("l2", 0.1): -0.03, ("dropout", 0.3): 0.02})
    values[("l1", 0.001)][3] = float("nan")          # dropped with its seed
    del values[("dropout", 0.3)][7]                  # a seed not done
    del values[BASE][0]                              # a seed the baseline lacks
    comps = S.compare(values, BASE, higher_is_better=True, seed=3)
    assert [c.group for c in comps] == groups[1:]    # order of values, baseline left out
    ref_p = []
    for c in comps:
        seeds = sorted(s for s in set(values[c.group]) & set(values[BASE])
                       if math.isfinite(values[c.group][s]))
        assert c.seeds == tuple(seeds)
        x = [values[c.group][s] for s in seeds]
        y = [values[BASE][s] for s in seeds]
        check_against_scipy(c.result, x, y, family_size=4, seed=3)
        ref_p.append(stats.ttest_rel(x, y).pvalue)
    for c, p_holm in zip(comps, ref_holm(ref_p)):
        assert c.p_holm == pytest.approx(p_holm, **TOL)
        expected = (S.NO_DIFFERENCE if p_holm > 0.05 else
                    S.BETTER if c.result.diff_mean > 0 else S.WORSE)
        assert c.verdict == expected
    verdicts = {c.group: c.verdict for c in comps}
    assert verdicts[("l2", 0.1)] == S.WORSE and verdicts[("dropout", 0.3)] == S.BETTER
    assert any("seed 0 not done in the baseline" in n for n in comps[0].notes)
    assert any("seed 7 not done in this group" in n for n in comps[2].notes)
    assert any("seed 3 dropped: non-finite value in this group" in n for n in comps[3].notes)


def test_comparison_rows_have_exactly_the_csv_columns():
    issue = ("metric,method,strength,baseline_method,baseline_strength,n,diff_mean,"
             "diff_ci_low,diff_ci_high,boot_ci_low,boot_ci_high,p_ttest,p_wilcoxon,p_holm,"
             "effect_dz,mde,verdict")
    assert ",".join(S.COLUMNS) == issue
    rng = np.random.default_rng(2)
    values = make_study(rng, [BASE, ("l2", 0.01), ("l1", 0.001)], range(5))
    comps = S.compare(values, BASE, higher_is_better=True)
    rows = S.comparison_rows(comps, "selected_test_accuracy")
    for row, c in zip(rows, comps):
        assert tuple(row) == S.COLUMNS
        r = c.result
        assert row == {"metric": "selected_test_accuracy", "method": c.group[0],
                       "strength": c.group[1], "baseline_method": "none",
                       "baseline_strength": None, "n": r.n, "diff_mean": r.diff_mean,
                       "diff_ci_low": r.diff_ci_low, "diff_ci_high": r.diff_ci_high,
                       "boot_ci_low": r.boot_ci_low, "boot_ci_high": r.boot_ci_high,
                       "p_ttest": r.p_ttest, "p_wilcoxon": r.p_wilcoxon, "p_holm": c.p_holm,
                       "effect_dz": r.effect_dz, "mde": r.mde, "verdict": c.verdict}
    with pytest.raises(ValueError, match=r"\(method, strength\)"):
        S.comparison_rows(S.compare({"a": {0: 1.0, 1: 2.0}, "b": {0: 1.5, 1: 2.0}}, "a",
                                    higher_is_better=True), "m")


def test_direction_lower_is_better():
    rng = np.random.default_rng(5)
    values = make_study(rng, [BASE, ("l2", 0.01)], range(6), {("l2", 0.01): -0.05})
    (low,) = S.compare(values, BASE, higher_is_better=False)
    (high,) = S.compare(values, BASE, higher_is_better=True)
    assert low.result.diff_mean < 0 and low.p_holm < 0.05
    assert low.verdict == S.BETTER and high.verdict == S.WORSE
    assert low.result == high.result and low.p_holm == high.p_holm


def test_secondary_same_numbers_no_verdict():
    rng = np.random.default_rng(6)
    values = make_study(rng, [BASE, ("l2", 0.01), ("l2", 0.1)], range(5), {("l2", 0.1): 0.1})
    primary = S.compare(values, BASE, higher_is_better=True)
    secondary = S.compare(values, BASE, secondary=True)
    for a, b in zip(primary, secondary):
        assert b.verdict is None and a.verdict in S.VERDICTS
        assert a.result == b.result and a.p_holm == b.p_holm
    assert S.comparison_rows(secondary, "gap")[0]["verdict"] is None


def test_best_and_the_groups_not_different_from_it():
    rng = np.random.default_rng(8)
    groups = [BASE, ("l2", 0.01), ("l2", 0.1), ("dropout", 0.1)]
    effects = {("l2", 0.01): 0.03, ("dropout", 0.1): 0.0301, ("l2", 0.1): -0.05}
    values = make_study(rng, groups, range(6), effects, sd=0.003)
    b = S.best(values, higher_is_better=True)
    means = {g: np.mean(list(v.values())) for g, v in values.items()}
    assert b.group == max(means, key=means.get) and b.mean == means[b.group] and b.n == 6
    reference = S.compare(values, b.group, higher_is_better=True)
    assert list(b.comparisons) == reference
    assert b.tied == tuple(c.group for c in reference if c.verdict == S.NO_DIFFERENCE)
    assert set(b.tied) == {("l2", 0.01), ("dropout", 0.1)} - {b.group}
    assert {c.group: c.verdict for c in b.comparisons}[("l2", 0.1)] == S.WORSE
    worst = S.best(values, higher_is_better=False)
    assert worst.group == ("l2", 0.1) and worst.tied == ()
    assert S.best({BASE: {0: None}}, higher_is_better=True) is None


# ---------------------------------------------------------------- calibration by simulation

def simulate(rng, n_sims, n_groups, n_seeds, effect):
    """Paired results: a seed effect shared by all groups, unit noise per (group, seed);
    the paired differences have sd √2, and group 1 is shifted by effect·√2."""
    u = rng.normal(size=(n_sims, 1, n_seeds))
    v = u + rng.normal(size=(n_sims, n_groups, n_seeds))
    v[:, 1] += effect * math.sqrt(2)
    return v


def module_verdicts(v):
    out = []
    for study in v:
        values = {g: dict(enumerate(study[g])) for g in range(study.shape[0])}
        comps = S.compare(values, 0, higher_is_better=True, n_resamples=0)
        out.append([c.verdict for c in comps])
    return np.array(out)


def vectorized_verdicts(v, alpha=0.05):
    """The same verdicts, independently: ttest_rel over the batch, hand-written Holm."""
    p = stats.ttest_rel(v[:, 1:], v[:, :1], axis=2).pvalue
    diff = (v[:, 1:] - v[:, :1]).mean(axis=2)
    adj = np.array([ref_holm(row) for row in p])
    return np.where(adj <= alpha, np.where(diff > 0, S.BETTER, S.WORSE), S.NO_DIFFERENCE)


@pytest.mark.slow
def test_calibration_false_positives_and_power(capsys):
    """No effect: the family-wise rate of any better/worse verdict among the 4 comparisons
    of 5 groups × 5 seeds lies in [0.02, 0.06]. One group 3 sds (of the paired differences)
    better: called better in ≥ 85% (the noncentral-t power at Holm's first threshold α/4
    is ≈ 0.93). 2,000 simulated studies without effect, 1,000 with (the power estimate's
    sd is then ≈ 0.008), fixed seed. The module's verdicts must also equal an independent
    vectorized recomputation, study by study."""
    rng = np.random.default_rng(20240516)
    start = time.perf_counter()
    null = simulate(rng, 2000, 5, 5, effect=0.0)
    verdicts = module_verdicts(null)
    assert np.array_equal(verdicts, vectorized_verdicts(null))
    fwer = np.mean(np.any(verdicts != S.NO_DIFFERENCE, axis=1))
    shifted = simulate(rng, 1000, 5, 5, effect=3.0)
    verdicts = module_verdicts(shifted)
    assert np.array_equal(verdicts, vectorized_verdicts(shifted))
    power = np.mean(verdicts[:, 0] == S.BETTER)
    exact = ref_power(3.0, 5, 0.05 / 4)
    assert exact == pytest.approx(S.ttest_power(3.0, 5, 0.05 / 4), **TOL)
    with capsys.disabled():
        print(f"\n[stats calibration] FWER under no effect {fwer:.4f}; power at 3 sd "
              f"{power:.4f} (noncentral t at α/4: {exact:.4f}); "
              f"{time.perf_counter() - start:.1f} s")
    assert 0.02 <= fwer <= 0.06
    assert power >= 0.85
    assert abs(power - exact) < 0.03
    section = docs_section()                       # the figures the docs quote are these
    for figure in (f"{fwer:.2%}", f"{power:.1%}", f"{exact:.1%}"):
        assert figure in section, figure


# ---------------------------------------------------------------- degenerate cases


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("n", [0, 1])
def test_fewer_than_two_pairs_no_test(n):
    r = S.paired([0.9] * n, [0.8] * n)
    assert r.n == n and r.test is None and r.n_needed is None
    for f in ("p_ttest", "p_wilcoxon", "p_value", "diff_ci_low", "boot_ci_low", "effect_dz",
              "mde", "diff_sd"):
        assert math.isnan(getattr(r, f)), f
    assert (n == 0) == math.isnan(r.diff_mean)
    assert any(note.startswith("n < 2: no test") for note in r.notes)
    values = {BASE: {0: 0.8, 1: 0.7}, ("l2", 0.1): {0: 0.9} if n else {}}
    (c,) = S.compare(values, BASE, higher_is_better=True)
    assert math.isnan(c.p_holm) and c.verdict == S.NO_DIFFERENCE


@pytest.mark.filterwarnings("error")
def test_untested_comparisons_stay_out_of_the_family():
    """A group with one common seed has no test: Holm's m and the mde's level α/m count
    only the two tested comparisons."""
    rng = np.random.default_rng(9)
    groups = [BASE, ("l2", 0.01), ("l2", 0.1), ("l1", 0.001)]
    values = make_study(rng, groups, range(5), {("l2", 0.1): 0.02})
    values[("l1", 0.001)] = {4: 0.9, 7: 0.8}
    comps = S.compare(values, BASE, higher_is_better=True)
    tested = [c for c in comps if c.group != ("l1", 0.001)]
    assert math.isnan(comps[2].p_holm) and comps[2].result.n == 1
    assert [c.p_holm for c in tested] == pytest.approx(
        ref_holm([c.result.p_ttest for c in tested]), **TOL)
    for c in tested:
        x = [values[c.group][s] for s in range(5)]
        check_against_scipy(c.result, x, [values[BASE][s] for s in range(5)], family_size=2)


@pytest.mark.filterwarnings("error")
def test_identical_results():
    x = [0.91, 0.88, 0.9, 0.87, 0.92]
    r = S.paired(x, list(x))
    assert (r.diff_mean, r.p_ttest, r.p_wilcoxon, r.p_value) == (0.0, 1.0, 1.0, 1.0)
    assert (r.diff_ci_low, r.diff_ci_high, r.boot_ci_low, r.boot_ci_high) == (0, 0, 0, 0)
    assert math.isnan(r.effect_dz) and math.isnan(r.mde) and r.n_needed is None
    assert any("identical results" in note for note in r.notes)
    values = {BASE: dict(enumerate(x)), ("same", None): dict(enumerate(x)),
              ("l2", 0.1): {s: v - 0.1 for s, v in enumerate(x)}}
    same = S.compare(values, BASE, higher_is_better=True)[0]
    assert same.p_holm == 1.0 and same.verdict == S.NO_DIFFERENCE


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("n", [5, 6, 8, 20])
def test_constant_nonzero_difference_uses_wilcoxon(n):
    """Every seed moved by the same amount: the t-test is undefined (zero variance); the
    verdict uses Wilcoxon's p, which with n ≤ 13 equal differences is exact: the sign
    test's 2/2ⁿ (beyond, the normal approximation, said in a note)."""
    y = np.linspace(0.80, 0.85, n)
    x = y + 0.01                                     # equal up to rounding
    r = S.paired(x, y)
    assert math.isnan(r.p_ttest) and r.test == "wilcoxon" and r.p_value == r.p_wilcoxon
    assert r.p_wilcoxon == pytest.approx(stats.wilcoxon(np.full(n, 0.01)).pvalue, **TOL)
    if n <= 13:
        assert r.p_wilcoxon == pytest.approx(2.0 ** (1 - n), **TOL)
    assert any("normal approximation" in note for note in r.notes) == (n > 13)
    assert r.diff_mean == pytest.approx(0.01, rel=1e-9)
    assert r.boot_ci_low == pytest.approx(0.01, rel=1e-9) == r.boot_ci_high
    assert math.isnan(r.effect_dz) and math.isnan(r.mde)
    assert any("t-test is undefined" in note for note in r.notes)
    (c,) = S.compare({BASE: dict(enumerate(y)), ("l2", 0.1): dict(enumerate(x))}, BASE,
                     higher_is_better=True)
    assert c.verdict == (S.BETTER if n >= 6 else S.NO_DIFFERENCE)
    (c,) = S.compare({BASE: dict(enumerate(y)), ("l2", 0.1): dict(enumerate(x))}, BASE,
                     higher_is_better=False)
    assert c.verdict == (S.WORSE if n >= 6 else S.NO_DIFFERENCE)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("n", [2, 3, 4, 5, 6])
def test_wilcoxon_cannot_reach_alpha_is_said(n):
    rng = np.random.default_rng(n)
    y = rng.normal(size=n)
    x = y + rng.normal(1, 0.5, size=n)
    r = S.paired(x, y)
    said = [note for note in r.notes if note.startswith("Wilcoxon:")]
    assert bool(said) == (n <= 5)
    if said:
        assert f"2/2^{n} = {2.0 ** (1 - n):.4g}" in said[0]
    check_against_scipy(r, x, y)


@pytest.mark.filterwarnings("error")
def test_nan_and_missing_seeds():
    r = S.paired([0.9, None, 0.8, 0.85, float("inf")], [0.8, 0.7, float("nan"), 0.8, 0.9])
    assert r.n == 2
    assert any("3 pair(s) dropped" in note for note in r.notes)
    check_against_scipy(r, [0.9, 0.85], [0.8, 0.8])
    seeds, x, y, notes = S.pair_by_seed({0: 1.0, 1: None, 2: 3.0, 5: 4.0},
                                        {0: 0.5, 1: 1.0, 2: float("nan"), 3: 2.0, 4: 1.0})
    assert seeds == (0,) and x.tolist() == [1.0] and y.tolist() == [0.5]
    assert notes == ("seed 5 not done in the baseline: left out",
                     "seeds 3, 4 not done in this group: left out",
                     "seed 1 dropped: non-finite value in this group",
                     "seed 2 dropped: non-finite value in the baseline")


# ---------------------------------------------------------------- MDE and n_needed

@pytest.mark.parametrize("n,alpha", [(2, 0.05), (3, 0.0125), (5, 0.05), (5, 0.0125),
                                     (10, 0.01), (40, 0.05)])
def test_power_is_080_at_the_mde(n, alpha):
    dz = S.mde_dz(n, alpha)
    assert ref_power(dz, n, alpha) == pytest.approx(0.8, abs=1e-10)
    assert dz == pytest.approx(ref_mde_dz(n, alpha), rel=1e-10)


def test_mde_power_by_monte_carlo():
    """Independent of the noncentral t: simulate paired t-tests at a true mean difference
    equal to the mde (sd 1) and count rejections."""
    n, alpha = 5, 0.0125
    rng = np.random.default_rng(1)
    d = rng.normal(S.mde_dz(n, alpha), 1.0, size=(200_000, n))
    rate = np.mean(stats.ttest_1samp(d, 0.0, axis=1).pvalue <= alpha)
    assert rate == pytest.approx(0.8, abs=0.005)        # sd of the estimate ≈ 0.0009


def test_mde_in_units_of_the_differences():
    rng = np.random.default_rng(4)
    y = rng.normal(size=6)
    x = y + rng.normal(0.1, 0.3, size=6)
    r = S.paired(x, y, family_size=3)
    assert r.mde == pytest.approx(S.mde_dz(6, 0.05 / 3) * np.std(x - y, ddof=1), **TOL)


@pytest.mark.parametrize("dz", [0.1, 0.37, -0.8, 1.5, 3.0, 20.0])
@pytest.mark.parametrize("alpha", [0.05, 0.0125])
def test_n_needed_is_the_smallest_n_with_power_080(dz, alpha):
    n = S.seeds_needed(dz, alpha)
    assert ref_power(abs(dz), n, alpha) >= 0.8
    assert n == 2 or ref_power(abs(dz), n - 1, alpha) < 0.8
    assert n == ref_n_needed(dz, alpha)


def test_n_needed_undefined_or_too_large():
    assert S.seeds_needed(0.0, 0.05) is None
    assert S.seeds_needed(float("nan"), 0.05) is None
    assert S.seeds_needed(1e-3, 0.05) is None                     # needs ~7.8 million seeds
    assert S.seeds_needed(0.05, 0.05, max_n=1000) is None
    n = S.seeds_needed(0.05, 0.05)
    assert ref_power(0.05, n, 0.05) >= 0.8 > ref_power(0.05, n - 1, 0.05)
    r = S.paired([1.0, 2.0, 3.0, 4.0], [2.0, 1.0, 4.0, 3.0])     # mean difference 0
    assert r.effect_dz == 0 and r.n_needed is None
    assert any("no number of seeds" in note for note in r.notes)


# ---------------------------------------------------------------- hostile input

@pytest.mark.parametrize("kwargs,match", [
    ({"alpha": 0}, "alpha"), ({"alpha": 1.5}, "alpha"), ({"alpha": True}, "alpha"),
    ({"confidence": 1}, "confidence"), ({"power": -1}, "power"),
    ({"n_resamples": -1}, "n_resamples"), ({"n_resamples": 2.5}, "n_resamples"),
    ({"seed": -3}, "seed"), ({"family_size": 0}, "family_size"),
])
def test_paired_refuses_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        S.paired([1.0, 2.0], [1.0, 3.0], **kwargs)


@pytest.mark.parametrize("x,y,match", [
    ([1.0, 2.0], [1.0], "same length"), ("12", "12", "x must"), ([[1.0], [2.0]], [1, 2], "x"),
    ([1.0, "a"], [1.0, 2.0], "x must"), ({0: 1.0}, [1.0], "x must"),
])
def test_paired_refuses_bad_data(x, y, match):
    with pytest.raises(ValueError, match=match):
        S.paired(x, y)


def test_bootstrap_size_is_bounded():
    big = np.arange(S.MAX_BOOTSTRAP_PAIRS + 1, dtype=float)
    with pytest.raises(ValueError, match="n_resamples=0"):
        S.paired(big, big[::-1])
    r = S.paired(big, big[::-1], n_resamples=0)
    assert math.isnan(r.boot_ci_low) and r.n == big.size and r.p_ttest == pytest.approx(1.0)


def test_compare_refuses_bad_input():
    values = {BASE: {0: 1.0, 1: 2.0}, ("l2", 0.1): {0: 1.5, 1: 2.5}}
    with pytest.raises(ValueError, match="baseline"):
        S.compare(values, ("l1", 0.1), higher_is_better=True)
    with pytest.raises(ValueError, match="higher_is_better"):
        S.compare(values, BASE)
    with pytest.raises(ValueError, match="higher_is_better"):
        S.best(values, higher_is_better="yes")
    with pytest.raises(ValueError, match="values must be a mapping"):
        S.compare([1, 2], BASE, higher_is_better=True)
    with pytest.raises(ValueError, match="group values must be a mapping"):
        S.compare({BASE: {0: 1.0}, "x": [1.0]}, BASE, higher_is_better=True)
    with pytest.raises(ValueError, match="seed 0"):
        S.compare({BASE: {0: 1.0}, "x": {0: "1.0"}}, BASE, higher_is_better=True)
    with pytest.raises(ValueError, match="comparable"):
        S.compare({BASE: {0: 1.0, "a": 2.0}, "x": {0: 1.0, "a": 2.0}}, BASE,
                  higher_is_better=True)


# ---------------------------------------------------------------- the docs stay true

def docs_section():
    text = (REPO / "docs" / "studies.md").read_text()
    return re.search(r"^## How comparisons are computed\n(.*?)(?=^## |\Z)", text,
                     flags=re.S | re.M).group(1)


def test_docs_section_example_runs_as_written():
    (block,) = re.findall(r"```pycon\n(.*?)```", docs_section(), flags=re.S)
    test = doctest.DocTestParser().get_doctest(block, {}, "studies.md", "studies.md", 0)
    result = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS).run(test)
    assert result.attempted >= 4 and result.failed == 0
