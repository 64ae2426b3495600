"""Paired comparisons of a study's groups: differences by seed, their intervals, tests,
Holm's correction and verdicts. Pure functions on plain data (NumPy arrays, mappings);
no store, no files, no plots. ``docs/studies.md``, "How comparisons are computed", says the
same in words for researchers.

A *group* is any hashable (the report uses ``(method, strength)``); a group's results are a
mapping ``{seed: value}``. Two groups are compared **paired by seed**: over the seeds done in
both, with the differences ``d = x − y`` (group minus baseline). For one comparison
(:func:`paired`, on two seed-aligned arrays):

- ``diff_mean`` = mean(d); ``diff_ci_low/high`` = mean ± t_{(1+c)/2, n−1} · sd / √n, the
  Student-t interval (sd with ddof = 1, c = ``confidence``);
- ``boot_ci_low/high``: ``scipy.stats.bootstrap`` of mean(d) (BCa, ``n_resamples``, a fresh
  ``numpy.random.default_rng(seed)`` per comparison, so each row can be recomputed alone).
  Resampling the differences is resampling the seeds with both members of each pair;
- ``p_ttest``: ``scipy.stats.ttest_rel(x, y)``, two-sided; ``p_wilcoxon``:
  ``scipy.stats.wilcoxon(d)``, two-sided, zeros dropped (Wilcoxon's rule), exact without
  ties or zeros for n ≤ 50, exact by enumerating all 2ⁿ sign flips with ties or zeros for
  n ≤ 13, the normal approximation otherwise (this is scipy ≥ 1.15's ``method="auto"``,
  chosen here explicitly so that ``wilcoxon_method`` can say which one ran);
- ``effect_dz`` = mean(d) / sd(d), Cohen's d_z;
- ``mde``: the smallest true mean difference that the two-sided paired t-test at level
  ``alpha / family_size`` detects with probability ``power`` (0.8) for the observed sd and n,
  from the noncentral t: power(δ) = P(|T| > t_{1−α'/2, n−1}), T ~ t'(n−1, δ√n), and
  mde = δ* · sd. In :func:`compare` the level is α/m for m tested comparisons: the
  threshold Holm's first step uses, so the mde holds whatever the other comparisons do;
- ``n_needed``: the smallest n ≥ 2 at which an effect of the observed size |d_z| has that
  power at that level (None when no such n ≤ ``MAX_SEEDS_NEEDED``, or undefined).

:func:`compare` pairs every non-baseline group with the baseline, applies Holm's step-down
correction (:func:`holm`) over all comparisons of the call, and gives a verdict: "better" or
"worse" when ``p_holm ≤ alpha`` (the direction from the sign of diff_mean and
``higher_is_better``), otherwise "no detectable difference". ``secondary=True`` gives the same
numbers and verdict None (generalization gap, sparsity). :func:`best` finds the best group and
the groups not significantly different from it (each compared with the best, Holm within that
family). :func:`comparison_rows` turns comparisons into rows of :data:`COLUMNS`.

Degenerate cases are stated in ``notes`` (plain-English strings), never raised:

- n < 2 (after pairing): no test; p values, intervals, d_z and mde are NaN; the comparison
  is left out of Holm's family; the verdict is "no detectable difference".
- All differences 0 (identical results, up to rounding: every |d| ≤ 64·ε·max|value|):
  p_ttest = p_wilcoxon = 1, verdict "no detectable difference"; d_z, mde NaN.
- All differences the same non-zero constant (zero variance, up to the same rounding): the
  t statistic is ±∞ and the t-test undefined (p_ttest NaN); the verdict uses the Wilcoxon p
  instead (a test of signs and ranks, valid without a variance: with n equal differences it
  is the sign test, p = 2/2ⁿ). d_z, mde NaN; the bootstrap interval is [min d, max d].
- Wilcoxon unable to reach ``alpha`` (its smallest two-sided p is 2/2^k for k non-zero
  differences: k ≤ 5 at α = 0.05): said, since its p then carries no verdict.
- Non-finite values (None, NaN, ±inf) are dropped with their seed; seeds done in only one of
  the two groups are left out; both are counted in the notes.

Near-ties: for the Wilcoxon ranks, differences within the rounding tolerance above count as
tied (so that 0.9 − 0.8 and 0.8 − 0.7 tie, as they should) and those within it of 0 count as
zeros. The t-test and intervals use the differences as computed.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Hashable, Mapping, Sequence

import numpy as np
from scipy import optimize, stats

COLUMNS = ("metric", "method", "strength", "baseline_method", "baseline_strength", "n",
           "diff_mean", "diff_ci_low", "diff_ci_high", "boot_ci_low", "boot_ci_high",
           "p_ttest", "p_wilcoxon", "p_holm", "effect_dz", "mde", "verdict")
"""The columns of ``report/comparisons.csv``, in order (see :func:`comparison_rows`)."""

BETTER, WORSE, NO_DIFFERENCE = "better", "worse", "no detectable difference"
VERDICTS = (BETTER, WORSE, NO_DIFFERENCE)

MAX_SEEDS_NEEDED = 100_000
"""``n_needed`` is None when more seeds than this would be needed."""

_ROUNDING = 64            # tolerance for "equal" differences, in units of ε · max|value|
_PERMUTATION_MAX_N = 13   # 2^13 sign flips: exact Wilcoxon with ties or zeros up to this n
_EXACT_MAX_N = 50         # exact Wilcoxon (no ties, no zeros) up to this n
_MAX_RESAMPLES = 10**6
_BOOT_CELLS = 10**7       # bootstrap memory bound: resamples × n values per batch
MAX_BOOTSTRAP_PAIRS = 10_000
"""More pairs than this are refused unless ``n_resamples = 0`` (BCa's jackknife is O(n²))."""

NAN = float("nan")


@dataclass(frozen=True)
class PairedResult:
    """One paired comparison (x − y over n seed-aligned pairs). NaN = undefined."""
    n: int
    diff_mean: float
    diff_sd: float
    diff_ci_low: float
    diff_ci_high: float
    boot_ci_low: float
    boot_ci_high: float
    p_ttest: float
    p_wilcoxon: float
    wilcoxon_method: str   # "exact", "exact (all sign flips)", "normal approximation", "none"
    p_value: float         # the p that enters Holm: p_ttest, or p_wilcoxon when t is undefined
    test: str | None       # "paired t", "wilcoxon" or None (no test)
    effect_dz: float
    mde: float
    mde_alpha: float       # the two-sided level of mde and n_needed (alpha / family_size)
    n_needed: int | None
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Comparison:
    """A group against the baseline, within a family corrected by Holm."""
    group: Hashable
    baseline: Hashable
    seeds: tuple           # the common seeds compared, sorted
    result: PairedResult
    p_holm: float
    verdict: str | None    # one of VERDICTS; None for secondary metrics
    notes: tuple[str, ...]  # pairing notes, then result.notes


@dataclass(frozen=True)
class Best:
    """The best group (by mean over its own finite values) and who is not shown worse."""
    group: Hashable
    mean: float
    n: int
    tied: tuple                        # groups not shown different from it (best excluded)
    comparisons: tuple[Comparison, ...]  # every other group vs the best (Holm over these)


# ---------------------------------------------------------------- power of the paired t-test

def ttest_power(effect_dz: float, n: int, alpha: float) -> float:
    """Power of the two-sided one-sample (paired) t-test at level ``alpha`` with n pairs
    when the true standardized mean difference is ``effect_dz``:
    P(|T| > t_{1−α/2, n−1}) with T ~ noncentral t(n−1, effect_dz·√n)."""
    return float(_powers(effect_dz, [n], alpha)[0])


def _powers(effect_dz, ns, alpha) -> np.ndarray:
    """ttest_power for several n in one scipy call. The lower tail P(T < −c; nc) is computed
    as P(T > c; −nc): scipy's ``nct.cdf`` returns NaN far in that tail (e.g. c = 5, df = 4,
    nc = 9), its ``sf`` does not."""
    ns = np.asarray(ns, dtype=float)
    crit = np.array([_t_crit(int(n) - 1, alpha) for n in ns])
    nc = effect_dz * np.sqrt(ns)
    both = stats.nct.sf(np.r_[crit, crit], np.r_[ns, ns] - 1, np.r_[nc, -nc])
    return both[:ns.size] + both[ns.size:]


@lru_cache(maxsize=4096)
def _t_crit(df: int, alpha: float) -> float:
    """t_{1−α/2, df}: the two-sided critical value (also the CI's quantile, α = 1 − c)."""
    return float(stats.t.ppf(1 - alpha / 2, df))


@lru_cache(maxsize=256)
def _normal_quantiles(alpha: float, power: float) -> tuple[float, float]:
    return float(stats.norm.ppf(1 - alpha / 2)), float(stats.norm.ppf(power))


@lru_cache(maxsize=1024)
def mde_dz(n: int, alpha: float, power: float = 0.8) -> float:
    """The standardized effect (in sds of the differences) that the two-sided paired t-test
    with n pairs at level ``alpha`` detects with probability ``power``. NaN for n < 2."""
    if n < 2:
        return NAN
    hi = 1.0
    while ttest_power(hi, n, alpha) < power:
        hi *= 2
    return float(optimize.brentq(lambda d: ttest_power(d, n, alpha) - power, 0.0, hi,
                                 xtol=1e-14, rtol=4 * np.finfo(float).eps))


def seeds_needed(effect_dz: float, alpha: float, power: float = 0.8, *,
                 max_n: int = MAX_SEEDS_NEEDED) -> int | None:
    """The smallest n ≥ 2 at which the two-sided paired t-test at level ``alpha`` has at
    least ``power`` for a true effect ``effect_dz`` (sign ignored); None if 0, not finite or
    more than ``max_n`` seeds would be needed. (Power grows with n: one scipy call checks
    the n around Guenther's approximation; a bisection covers the rare miss.)"""
    d = abs(float(effect_dz))
    if not math.isfinite(d) or d == 0:
        return None
    z, z_power = _normal_quantiles(alpha, power)
    guess = ((z + z_power) / d) ** 2 + z * z / 2
    start = int(min(max(2, math.ceil(guess)), max_n))
    window = np.arange(max(2, start - 3), min(max_n, start + 3) + 1)
    passed = _powers(d, window, alpha) >= power
    if passed.any() and (window[0] == 2 or not passed[0]):
        return int(window[np.argmax(passed)])
    if passed.any():            # the answer is in (1, window[0]]; n = 1 has no test
        lo, hi = 1, int(window[0])
    elif ttest_power(d, max_n, alpha) < power:
        return None
    else:                       # the answer is in (window[-1], max_n]
        lo, hi = int(window[-1]), max_n
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ttest_power(d, mid, alpha) >= power else (mid, hi)
    return hi


# ---------------------------------------------------------------- Holm

def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values: with the m defined p's sorted,
    p_(1) ≤ … ≤ p_(m), the adjusted p_(k) is max_{j ≤ k} min(1, (m − j + 1) · p_(j)).
    Rejecting where the adjusted p ≤ α is Holm's procedure at family-wise level α.
    NaN entries (untested comparisons) stay NaN and do not count in m."""
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"pvalues must be a 1-D sequence, got shape {p.shape}")
    defined = ~np.isnan(p)
    q = p[defined]
    if np.any((q < 0) | (q > 1)):
        raise ValueError(f"pvalues must lie in [0, 1] (or be NaN), got {p.tolist()}")
    m = q.size
    order = np.argsort(q, kind="stable")
    steps = np.maximum.accumulate((m - np.arange(m)) * q[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(steps, 1.0)
    out = np.full(p.shape, NAN)
    out[defined] = adjusted
    return out


# ---------------------------------------------------------------- one paired comparison

def _check_level(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not 0 < float(value) < 1:
        raise ValueError(f"{name} must be a number in (0, 1), got {value!r}")


def _check_options(alpha, power, confidence, n_resamples, seed):
    for name, value in (("alpha", alpha), ("power", power), ("confidence", confidence)):
        _check_level(name, value)
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) \
            or not 0 <= n_resamples <= _MAX_RESAMPLES:
        raise ValueError(f"n_resamples must be an int in [0, {_MAX_RESAMPLES}] "
                         f"(0: no bootstrap interval), got {n_resamples!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")


def _as_vector(name, values) -> np.ndarray:
    if isinstance(values, (str, bytes)) or isinstance(values, Mapping):
        raise ValueError(f"{name} must be a 1-D sequence of numbers, got {type(values).__name__}")
    try:
        v = np.asarray([NAN if e is None else e for e in values], dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a 1-D sequence of numbers (None/NaN for missing), "
                         f"got {values!r:.200}") from None
    if v.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of numbers, got shape {v.shape}")
    return v


def _snap(d: np.ndarray, tol: float) -> np.ndarray:
    """d with |d| values within ``tol`` of each other merged (to the smallest of their run)
    and those within ``tol`` of 0 set to 0: the ranks Wilcoxon should see."""
    a = np.abs(d)
    order = np.argsort(a, kind="stable")
    s = a[order]
    new_run = np.diff(s, prepend=-np.inf) > tol
    rep = s[new_run][np.cumsum(new_run) - 1]
    rep[rep <= tol] = 0.0
    out = np.empty_like(d)
    out[order] = rep
    return np.sign(d) * out


def _wilcoxon_method(d: np.ndarray) -> tuple[object, str]:
    """scipy's method for the (snapped) differences d, and its name for the result."""
    nonzero = d[d != 0]
    ties_or_zeros = nonzero.size < d.size or np.unique(np.abs(nonzero)).size < nonzero.size
    if not ties_or_zeros and d.size <= _EXACT_MAX_N:
        return "exact", "exact"
    if ties_or_zeros and d.size <= _PERMUTATION_MAX_N:
        return stats.PermutationMethod(), "exact (all sign flips)"
    return "asymptotic", "normal approximation"


def _by_key(keys, fn, *columns) -> list:
    """fn(*stacked) once per distinct key over the rows with that key (scipy's per-call cost
    is paid once per batch, not per comparison); the per-row results in the input order."""
    out = [None] * len(keys)
    for key in dict.fromkeys(keys):
        rows = [i for i, k in enumerate(keys) if k == key]
        values = fn(key, *(np.stack([c[i] for i in rows]) for c in columns))
        for i, v in zip(rows, np.atleast_1d(values)):
            out[i] = float(v)
    return out


def _bootstrap(d, confidence, n_resamples, seed) -> tuple[float, float]:
    if n_resamples == 0:
        return NAN, NAN
    batch = None if n_resamples * d.size <= _BOOT_CELLS else max(1, _BOOT_CELLS // d.size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # a degenerate resample gives NaN, stated in a note
        ci = stats.bootstrap((d,), np.mean, confidence_level=confidence,
                             n_resamples=n_resamples, batch=batch,
                             rng=np.random.default_rng(seed)).confidence_interval
    return float(ci.low), float(ci.high)


def _fmt(x: float) -> str:
    return format(x, ".4g")


def _wilcoxon_notes(d_snapped, label, alpha) -> list[str]:
    notes = []
    k = int(np.count_nonzero(d_snapped))
    if k and 2.0 ** (1 - k) > alpha:
        notes.append(f"Wilcoxon: with {k} non-zero differences its smallest possible two-sided "
                     f"p is 2/2^{k} = {_fmt(2.0 ** (1 - k))} > α = {alpha:g}: it cannot reach "
                     "significance")
    if label == "normal approximation" and d_snapped.size <= _EXACT_MAX_N:
        notes.append(f"Wilcoxon p from the normal approximation (ties or zeros among more than "
                     f"{_PERMUTATION_MAX_N} differences)")
    return notes


def _degenerate(d, snapped, tol, alpha) -> tuple[dict, list[str]] | None:
    """The tests for n < 2 or zero variance of the differences; None for the general case."""
    n = d.size
    undefined = {"effect_dz": NAN, "mde": NAN, "n_needed": None}
    if n < 2:
        return ({"p_ttest": NAN, "p_wilcoxon": NAN, "wilcoxon_method": "none", "p_value": NAN,
                 "test": None, "boot": (NAN, NAN), **undefined}, [f"n < 2: no test (n = {n})"])
    if np.max(np.abs(d)) <= tol:
        return ({"p_ttest": 1.0, "p_wilcoxon": 1.0, "wilcoxon_method": "none", "p_value": 1.0,
                 "test": "paired t", "boot": (float(d.min()), float(d.max())), **undefined},
                [f"identical results: all {n} paired differences are 0: p = 1, and d_z and "
                 "mde are undefined (zero variance)"])
    if np.ptp(d) <= tol:
        method, label = _wilcoxon_method(snapped)
        p_w = float(stats.wilcoxon(snapped, method=method).pvalue)
        return ({"p_ttest": NAN, "p_wilcoxon": p_w, "wilcoxon_method": label, "p_value": p_w,
                 "test": "wilcoxon", "boot": (float(d.min()), float(d.max())), **undefined},
                [f"all {n} paired differences equal {_fmt(float(np.mean(d)))} (zero variance): "
                 f"the t-test is undefined, so the verdict uses the Wilcoxon p = {_fmt(p_w)}; "
                 "d_z and mde are undefined"] + _wilcoxon_notes(snapped, label, alpha))
    return None


def _general(x, y, snapped, p_t, p_w, label, opts) -> tuple[dict, list[str]]:
    """The rest of a comparison whose n ≥ 2 differences vary, given its two p values."""
    d = x - y
    level, power = opts["alpha"] / opts["family_size"], opts["power"]
    sd = float(np.std(d, ddof=1))
    dz = float(np.mean(d)) / sd
    n_needed = seeds_needed(dz, level, power)
    boot = _bootstrap(d, opts["confidence"], opts["n_resamples"], opts["seed"])
    tests = {"p_ttest": p_t, "p_wilcoxon": p_w, "wilcoxon_method": label, "p_value": p_t,
             "test": "paired t", "boot": boot, "effect_dz": dz,
             "mde": mde_dz(d.size, level, power) * sd, "n_needed": n_needed}
    notes = _wilcoxon_notes(snapped, label, opts["alpha"])
    if opts["n_resamples"] and not all(map(math.isfinite, boot)):
        notes.append("bootstrap interval undefined (degenerate resamples)")
    if dz == 0:
        notes.append("observed mean difference 0: no number of seeds would detect it")
    elif n_needed is None:
        notes.append(f"an effect of the observed size (d_z = {_fmt(dz)}) would need more than "
                     f"{MAX_SEEDS_NEEDED} seeds for {power:.0%} power at α = {_fmt(level)}")
    return tests, notes


def _paired_all(pairs, opts) -> list[PairedResult]:
    """PairedResults of seed-aligned finite pairs [(x, y, notes)]; the t-tests of equal n,
    and the Wilcoxon tests of equal n and method, run as one scipy call each."""
    tols = [_ROUNDING * np.finfo(float).eps * float(np.max(np.abs(np.r_[x, y]), initial=0.0))
            for x, y, _ in pairs]
    snapped = [_snap(x - y, tol) for (x, y, _), tol in zip(pairs, tols)]
    special = [_degenerate(x - y, s, tol, opts["alpha"])
               for (x, y, _), s, tol in zip(pairs, snapped, tols)]
    rows = [i for i, sp in enumerate(special) if sp is None]
    xs, ys, ds = ([pairs[i][0] for i in rows], [pairs[i][1] for i in rows],
                  [snapped[i] for i in rows])
    p_t = _by_key([x.size for x in xs],
                  lambda n, X, Y: stats.ttest_rel(X, Y, axis=1).pvalue, xs, ys)
    methods = [_wilcoxon_method(d) for d in ds]
    scipy_method = {label: method for method, label in methods}
    p_w = _by_key([(d.size, label) for d, (_, label) in zip(ds, methods)],
                  lambda key, D: stats.wilcoxon(D, method=scipy_method[key[1]], axis=1).pvalue,
                  ds)
    for k, i in enumerate(rows):
        special[i] = _general(xs[k], ys[k], ds[k], p_t[k], p_w[k], methods[k][1], opts)
    return [_result(x, y, notes, special[i], opts) for i, (x, y, notes) in enumerate(pairs)]


def _result(x, y, notes, tests_notes, opts) -> PairedResult:
    tests, more = tests_notes
    d, n = x - y, x.size
    mean = float(np.mean(d)) if n else NAN
    sd = float(np.std(d, ddof=1)) if n >= 2 else NAN
    half = _t_crit(n - 1, 1 - opts["confidence"]) * sd / math.sqrt(n) if n >= 2 else NAN
    return PairedResult(
        n=int(n), diff_mean=mean, diff_sd=sd, diff_ci_low=mean - half, diff_ci_high=mean + half,
        boot_ci_low=tests["boot"][0], boot_ci_high=tests["boot"][1],
        p_ttest=tests["p_ttest"], p_wilcoxon=tests["p_wilcoxon"],
        wilcoxon_method=tests["wilcoxon_method"], p_value=tests["p_value"], test=tests["test"],
        effect_dz=tests["effect_dz"], mde=tests["mde"],
        mde_alpha=opts["alpha"] / opts["family_size"], n_needed=tests["n_needed"],
        notes=tuple(notes) + tuple(more))


def _aligned(x, y) -> tuple[np.ndarray, np.ndarray, list[str]]:
    xv, yv = _as_vector("x", x), _as_vector("y", y)
    if xv.size != yv.size:
        raise ValueError(f"x and y must have the same length (seed-aligned), "
                         f"got {xv.size} and {yv.size}")
    keep = np.isfinite(xv) & np.isfinite(yv)
    notes = [] if keep.all() else [f"{int((~keep).sum())} pair(s) dropped: a non-finite "
                                   "value (None, NaN or inf)"]
    return xv[keep], yv[keep], notes


def _options(alpha, family_size, power, confidence, n_resamples, seed) -> dict:
    _check_options(alpha, power, confidence, n_resamples, seed)
    if isinstance(family_size, bool) or not isinstance(family_size, (int, np.integer)) \
            or family_size < 1:
        raise ValueError(f"family_size must be an int ≥ 1, got {family_size!r}")
    return {"alpha": float(alpha), "family_size": int(family_size), "power": float(power),
            "confidence": float(confidence), "n_resamples": int(n_resamples), "seed": int(seed)}


def _check_bootstrap_size(n, n_resamples):
    if n_resamples and n > MAX_BOOTSTRAP_PAIRS:
        raise ValueError(f"{n} pairs: the bootstrap takes at most {MAX_BOOTSTRAP_PAIRS} "
                         "(its time grows as n²); pass n_resamples=0 to skip it")


def paired(x, y, *, alpha: float = 0.05, family_size: int = 1, power: float = 0.8,
           confidence: float = 0.95, n_resamples: int = 9999, seed: int = 0) -> PairedResult:
    """Compare x with y, two seed-aligned 1-D sequences (x[i] and y[i] from the same seed):
    the differences d = x − y, their mean, Student-t and bootstrap intervals, paired t and
    Wilcoxon p, d_z, and mde / n_needed at level ``alpha / family_size`` with ``power``.
    Pairs with a non-finite value are dropped (counted in the notes). ``alpha`` is also the
    level the Wilcoxon note refers to. ``n_resamples = 0`` skips the bootstrap (NaN)."""
    opts = _options(alpha, family_size, power, confidence, n_resamples, seed)
    xv, yv, notes = _aligned(x, y)
    _check_bootstrap_size(xv.size, n_resamples)
    return _paired_all([(xv, yv, notes)], opts)[0]


# ---------------------------------------------------------------- groups of a study

def _value(v, where) -> float:
    if v is None:
        return NAN
    if isinstance(v, (str, bytes, bool)) or not isinstance(v, (int, float, np.number)):
        raise ValueError(f"{where} must be a number or None, got {v!r:.100}")
    return float(v)


def _seed_list(seeds) -> str:
    seeds = list(seeds)
    shown = ", ".join(map(str, seeds[:10])) + (f", … ({len(seeds)} in all)" if len(seeds) > 10
                                              else "")
    return ("seed " if len(seeds) == 1 else "seeds ") + shown


def _sorted_seeds(seeds) -> list:
    try:
        return sorted(seeds)
    except TypeError:
        raise ValueError(f"seeds must be comparable with each other (e.g. ints), got "
                         f"{list(seeds)!r:.200}") from None


def pair_by_seed(group_values: Mapping, baseline_values: Mapping
                 ) -> tuple[tuple, np.ndarray, np.ndarray, tuple[str, ...]]:
    """The seeds with a finite value in both mappings ``{seed: value}`` (sorted), the two
    aligned arrays and notes on what was left out: seeds missing on one side, and seeds
    dropped for a non-finite value (None, NaN, ±inf)."""
    for name, m in (("group values", group_values), ("baseline values", baseline_values)):
        if not isinstance(m, Mapping):
            raise ValueError(f"{name} must be a mapping {{seed: value}}, "
                             f"got {type(m).__name__}")
    common = _sorted_seeds(set(group_values) & set(baseline_values))
    x = np.array([_value(group_values[s], f"the value of seed {s!r}") for s in common])
    y = np.array([_value(baseline_values[s], f"the baseline value of seed {s!r}")
                  for s in common])
    notes = []
    for mine, other, where in ((group_values, baseline_values, "the baseline"),
                               (baseline_values, group_values, "this group")):
        missing = _sorted_seeds(set(mine) - set(other))
        if missing:
            notes.append(f"{_seed_list(missing)} not done in {where}: left out")
    keep = np.isfinite(x) & np.isfinite(y)
    for arr, where in ((x, "this group"), (y, "the baseline")):
        bad = [s for s, v in zip(common, arr) if not math.isfinite(v)]
        if bad:
            notes.append(f"{_seed_list(bad)} dropped: non-finite value in {where}")
    seeds = tuple(s for s, k in zip(common, keep) if k)
    return seeds, x[keep], y[keep], tuple(notes)


def _verdict(diff, p_holm, alpha, higher_is_better, secondary) -> str | None:
    if secondary:
        return None
    if not p_holm <= alpha:      # also NaN: no test
        return NO_DIFFERENCE
    return BETTER if (diff > 0) == higher_is_better else WORSE


def compare(values: Mapping[Hashable, Mapping], baseline: Hashable, *,
            higher_is_better: bool | None = None, secondary: bool = False,
            alpha: float = 0.05, power: float = 0.8, confidence: float = 0.95,
            n_resamples: int = 9999, seed: int = 0) -> list[Comparison]:
    """Each group of ``values`` ({group: {seed: value}}) other than ``baseline``, paired
    with the baseline on their common seeds, in the order of ``values``. Holm's correction
    runs over the comparisons of this call that have a test (m of them); mde and n_needed
    are at level alpha / m. Verdicts (at ``alpha`` after Holm) need ``higher_is_better``;
    ``secondary=True`` gives verdict None and ignores the direction."""
    if not isinstance(values, Mapping):
        raise ValueError(f"values must be a mapping {{group: {{seed: value}}}}, "
                         f"got {type(values).__name__}")
    if baseline not in values:
        raise ValueError(f"baseline {baseline!r} is not one of the groups "
                         f"{list(values)!r:.300}")
    if not isinstance(secondary, bool):
        raise ValueError(f"secondary must be True or False, got {secondary!r}")
    if not secondary and not isinstance(higher_is_better, bool):
        raise ValueError("higher_is_better must be True or False (or pass secondary=True), "
                         f"got {higher_is_better!r}")
    pairs = {g: pair_by_seed(v, values[baseline]) for g, v in values.items() if g != baseline}
    m = max(1, sum(len(p[0]) >= 2 for p in pairs.values()))
    opts = _options(alpha, m, power, confidence, n_resamples, seed)
    for seeds, *_ in pairs.values():
        _check_bootstrap_size(len(seeds), n_resamples)
    results = _paired_all([(x, y, ()) for _, x, y, _ in pairs.values()], opts)
    adjusted = holm([r.p_value for r in results])
    return [Comparison(group=g, baseline=baseline, seeds=seeds, result=r, p_holm=float(p_holm),
                       verdict=_verdict(r.diff_mean, p_holm, alpha, higher_is_better, secondary),
                       notes=notes + r.notes)
            for (g, (seeds, _, _, notes)), r, p_holm in zip(pairs.items(), results, adjusted)]


def best(values: Mapping[Hashable, Mapping], *, higher_is_better: bool,
         alpha: float = 0.05, power: float = 0.8, confidence: float = 0.95,
         n_resamples: int = 9999, seed: int = 0) -> Best | None:
    """The group with the best mean over its own finite values (the first in order on a
    tie), and the groups not significantly different from it: each other group compared
    with it (paired, Holm over these comparisons, as :func:`compare` with the best as the
    baseline) whose verdict is "no detectable difference". None if no group has a value.
    The options are those of :func:`compare`."""
    if not isinstance(higher_is_better, bool):
        raise ValueError(f"higher_is_better must be True or False, got {higher_is_better!r}")
    if not isinstance(values, Mapping):
        raise ValueError(f"values must be a mapping {{group: {{seed: value}}}}, "
                         f"got {type(values).__name__}")
    means = {}
    for g, v in values.items():
        if not isinstance(v, Mapping):
            raise ValueError(f"values[{g!r}] must be a mapping {{seed: value}}, "
                             f"got {type(v).__name__}")
        finite = [x for s, e in v.items() if math.isfinite(x := _value(e, f"seed {s!r}"))]
        if finite:
            means[g] = (float(np.mean(finite)), len(finite))
    if not means:
        return None
    sign = 1.0 if higher_is_better else -1.0
    top = max(means, key=lambda g: sign * means[g][0])   # max keeps the first on a tie
    comps = compare(values, top, higher_is_better=higher_is_better, alpha=alpha, power=power,
                    confidence=confidence, n_resamples=n_resamples, seed=seed)
    tied = tuple(c.group for c in comps if c.verdict == NO_DIFFERENCE)
    return Best(group=top, mean=means[top][0], n=means[top][1], tied=tied,
                comparisons=tuple(comps))


def comparison_rows(comparisons: Sequence[Comparison], metric: str) -> list[dict]:
    """One dict per comparison with exactly the keys of :data:`COLUMNS`, in order. Groups
    must be ``(method, strength)`` pairs. Undefined numbers are NaN and a secondary metric's
    verdict is None: the CSV writer decides how to show them (e.g. an empty cell)."""
    rows = []
    for c in comparisons:
        for name, g in (("group", c.group), ("baseline", c.baseline)):
            if not (isinstance(g, tuple) and len(g) == 2):
                raise ValueError(f"comparison {name} must be a (method, strength) pair, "
                                 f"got {g!r}")
        r = c.result
        rows.append(dict(zip(COLUMNS, (
            metric, c.group[0], c.group[1], c.baseline[0], c.baseline[1], r.n,
            r.diff_mean, r.diff_ci_low, r.diff_ci_high, r.boot_ci_low, r.boot_ci_high,
            r.p_ttest, r.p_wilcoxon, c.p_holm, r.effect_dz, r.mde, c.verdict))))
    return rows
