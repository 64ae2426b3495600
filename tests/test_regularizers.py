"""Regularizers: penalty gradients, prox operators (scalar reference, optimality, exact zeros)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from proxnet.gradcheck import check_regularizer
from proxnet.regularizers import (REGULARIZERS, L0, L1, L2, ElasticNet, GroupLasso, MaxNorm,
                                  get_regularizer, prox)

from .conftest import away_from_zero

# -- penalty values and gradients ---------------------------------------------------------


def test_scaling_conventions():
    w = np.array([[1.0, -2.0], [0.0, 3.0]])
    assert L2(0.1).penalty(w) == pytest.approx(0.5 * 0.1 * 14)
    np.testing.assert_allclose(L2(0.1).grad(w), 0.1 * w)
    assert L1(0.1).penalty(w) == pytest.approx(0.1 * 6)
    np.testing.assert_array_equal(L1(0.1).grad(w), 0.1 * np.array([[1, -1], [0, 1]]))  # 0 at 0
    assert ElasticNet(0.1, 0.2).penalty(w) == pytest.approx(0.6 + 0.5 * 0.2 * 14)
    assert L0(0.5).penalty(w) == pytest.approx(1.5)
    assert GroupLasso(0.5).penalty(w) == pytest.approx(0.5 * (1 + np.sqrt(13)))  # columns


@pytest.mark.parametrize("reg", [L2(0.3), L1(0.3), ElasticNet(0.2, 0.5), GroupLasso(0.4),
                                 GroupLasso(0.4, groups="outgoing")])
def test_penalty_gradcheck(reg, rng):
    assert check_regularizer(reg, away_from_zero(rng, (5, 4), 0.1)) < 1e-6


def test_group_lasso_binds_to_conv_filters(rng):
    reg = GroupLasso(0.1).bind(out_axis=0, in_axis=1)
    w = rng.normal(size=(4, 3, 2, 2))
    expected = 0.1 * sum(np.linalg.norm(w[f]) for f in range(4))
    assert reg.penalty(w) == pytest.approx(expected)
    assert check_regularizer(reg, w) < 1e-6


def test_prox_only_regularizers_refuse_penalty_mode():
    with pytest.raises(ValueError, match="mode"):
        L0(0.1, mode="penalty")
    with pytest.raises(ValueError, match="mode"):
        MaxNorm(3.0, mode="penalty")
    with pytest.raises(ValueError, match="mode"):
        L1(0.1, mode="both")
    with pytest.raises(ValueError, match="lam"):
        L1(-1.0)


def test_get_regularizer_from_plain_data():
    assert get_regularizer({"kind": "l1", "lam": 0.01, "mode": "prox"}) == L1(0.01, mode="prox")
    assert get_regularizer(None) is None
    with pytest.raises(ValueError, match="unknown regularizer 'l3'; valid names:.*l1"):
        get_regularizer({"kind": "l3", "lam": 1})
    with pytest.raises(ValueError, match="regularizer 'l1': unknown argument.*'strength'; valid: lam, mode"):
        get_regularizer({"kind": "l1", "strength": 1})
    with pytest.raises(ValueError, match="regularizer 'l1': bad arguments"):
        get_regularizer({"kind": "l1"})
    with pytest.raises(ValueError, match="kind"):
        get_regularizer({"lam": 1})


# -- prox operators: scalar references ----------------------------------------------------

def _scalar_soft(w, t):
    return w - t if w > t else (w + t if w < -t else 0.0)


def _scalar_hard(w, t):
    return w if w * w / 2 > t else 0.0


def _brute_prox(g, w, s):
    """argmin_y ½(w − y)² + s·g(y) by a fine grid (scalar reference for smooth checks)."""
    ys = np.linspace(w - 3, w + 3, 600001)
    return ys[np.argmin(0.5 * (w - ys) ** 2 + s * g(ys))]


@pytest.mark.parametrize("w", [-2.0, -0.3, -0.1, 0.0, 0.05, 0.1, 0.7, 3.0])
def test_prox_scalar_references(w):
    s, lam = 0.5, 0.4  # threshold t = 0.2
    arr = np.array([w])
    assert L1(lam).prox(arr, s)[0] == pytest.approx(_scalar_soft(w, s * lam), abs=1e-15)
    assert L2(lam).prox(arr, s)[0] == pytest.approx(w / (1 + s * lam))
    assert L0(lam).prox(arr, s)[0] == _scalar_hard(w, s * lam)
    en = ElasticNet(lam, 0.6).prox(arr, s)[0]
    assert en == pytest.approx(_brute_prox(lambda y: lam * np.abs(y) + 0.3 * y * y, w, s), abs=2e-5)
    assert L1(lam).prox(arr, s)[0] == pytest.approx(_brute_prox(lambda y: lam * np.abs(y), w, s), abs=2e-5)


def test_prox_exact_zeros():
    w = np.array([-0.5, -0.2, -0.1999, 0.0, 0.15, 0.2, 0.21])
    out = L1(0.4).prox(w, 0.5)
    np.testing.assert_array_equal(out == 0, np.abs(w) <= 0.2)
    out = L0(0.02).prox(w, 1.0)  # threshold √(2·0.02) = 0.2
    np.testing.assert_array_equal(out == 0, np.abs(w) <= 0.2)
    np.testing.assert_array_equal(out[np.abs(w) > 0.2], w[np.abs(w) > 0.2])  # untouched


def test_group_prox_zeroes_whole_units_and_guards_zero_norm():
    W = np.array([[0.1, 3.0, 0.0], [0.1, 4.0, 0.0]])  # column norms 0.141, 5, 0
    with np.errstate(all="raise"):
        out = GroupLasso(1.0).prox(W, 0.5)
    np.testing.assert_array_equal(out[:, 0], 0.0)
    np.testing.assert_array_equal(out[:, 2], 0.0)
    np.testing.assert_allclose(out[:, 1], W[:, 1] * (1 - 0.5 / 5))
    out = MaxNorm(2.0).prox(W, 123.0)
    np.testing.assert_allclose(np.linalg.norm(out[:, 1]), 2.0)
    np.testing.assert_array_equal(out[:, 0], W[:, 0])


# -- optimality conditions: 0 ∈ y − w + s·∂g(y) ---------------------------------------------

def _l1_optimal(y, w, t, tol):
    r = w - y  # must lie in t·∂|y|
    nz = y != 0
    return np.all(np.abs(r[nz] - t * np.sign(y[nz])) <= tol) and np.all(np.abs(r[~nz]) <= t + tol)


floats = hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=6),
                    elements=st.floats(-10, 10, allow_nan=False))


@settings(max_examples=60, deadline=None)
@given(w=floats, s=st.floats(0.001, 2.0), lam=st.floats(0.0, 3.0))
def test_l1_prox_optimality(w, s, lam):
    y = L1(lam).prox(w, s)
    assert y.shape == w.shape and y.dtype == w.dtype
    assert _l1_optimal(y, w, s * lam, 1e-9)


@settings(max_examples=60, deadline=None)
@given(w=floats, s=st.floats(0.001, 2.0), lam=st.floats(0.0, 3.0))
def test_l2_and_elastic_net_prox_optimality(w, s, lam):
    y = L2(lam).prox(w, s)
    np.testing.assert_allclose(y - w + s * lam * y, 0, atol=1e-9)
    y = ElasticNet(lam, 0.5).prox(w, s)
    # 0 ∈ y − w + s·l2·y + s·l1·∂|y|  ⇔  (w − s·l2·y) − y ∈ s·l1·∂|y|
    assert _l1_optimal(y, w - s * 0.5 * y, s * lam, 1e-9)


@settings(max_examples=60, deadline=None)
@given(w=floats, s=st.floats(0.001, 2.0), lam=st.floats(0.0, 3.0))
def test_l0_prox_is_global_minimizer_per_entry(w, s, lam):
    y = L0(lam).prox(w, s)
    obj = 0.5 * (w - y) ** 2 + s * lam * (y != 0)
    alt = np.minimum(0.5 * w ** 2, s * lam)  # best of zeroing and keeping
    np.testing.assert_allclose(obj, alt, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(w=hnp.arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 5)),
                    elements=st.floats(-5, 5, allow_nan=False)),
       s=st.floats(0.001, 2.0), lam=st.floats(0.0, 3.0))
def test_group_prox_optimality(w, s, lam):
    y = GroupLasso(lam).prox(w, s)
    t = s * lam
    for j in range(w.shape[1]):
        yj, wj = y[:, j], w[:, j]
        n = np.linalg.norm(yj)
        if n > 0:   # w_j − y_j = t·y_j/‖y_j‖
            np.testing.assert_allclose(wj - yj, t * yj / n, atol=1e-9)
        else:       # ‖w_j‖ ≤ t
            assert np.linalg.norm(wj) <= t + 1e-9


@settings(max_examples=30, deadline=None)
@given(w=floats, s=st.floats(0.001, 2.0))
def test_prox_keeps_float32(w, s):
    w32 = w.astype(np.float32)
    for reg in (L1(0.3), L2(0.3), ElasticNet(0.1, 0.2), L0(0.1), GroupLasso(0.2), MaxNorm(1.0)):
        assert reg.prox(w32, s).dtype == np.float32, reg


def test_prox_does_not_modify_input(rng):
    w = rng.normal(size=(4, 3))
    before = w.copy()
    for reg in (L1(0.3), L2(0.3), ElasticNet(0.1, 0.2), L0(0.1), GroupLasso(0.2), MaxNorm(1.0)):
        reg.prox(w, 0.5)
    np.testing.assert_array_equal(w, before)


def test_pure_prox_functions_exported():
    assert set(["soft_threshold", "hard_threshold", "l2_shrink", "elastic_net_prox",
                "group_soft_threshold", "max_norm_project"]) <= set(dir(prox))
    assert "l1" in REGULARIZERS and "group_lasso" in REGULARIZERS
