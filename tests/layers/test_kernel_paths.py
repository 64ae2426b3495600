"""The two kernel paths (NumPy, the reference, and compiled Numba, the optional extra) agree.

Every kernel that has a compiled version is run both ways on the same inputs: float64 must
agree to 1e-12, float32 within rounding. Also: the choice of path (environment variable,
:func:`proxnet.functional.accel.set_backend`, errors), whole training steps on both paths,
and the same results on 1 and 2 threads with the compiled kernels.
"""
import subprocess
import sys

import numpy as np
import pytest

from proxnet.functional import accel
from proxnet.functional.activations import relu_backward, relu_forward
from proxnet.functional.conv import conv2d_backward, conv2d_forward
from proxnet.functional.pool import (CompiledPoolCache, avg_pool2d_backward, avg_pool2d_forward,
                                     max_pool2d_backward, max_pool2d_forward)

NUMBA_REASON = "Numba not installed (pip install proxnet[fast]): the compiled path is not tested"
TOL = {np.float64: 1e-12, np.float32: 2e-6}   # of the largest magnitude of the reference


@pytest.fixture
def numba_path():
    """Runs the test with the compiled kernels, skipping (visibly) without Numba."""
    pytest.importorskip("numba", reason=NUMBA_REASON)
    if accel._load() is None:
        pytest.skip(f"Numba does not import here: {accel._import_error}")
    saved = accel.BACKEND
    yield
    accel.BACKEND = saved


def _both(fn):
    """fn() on the NumPy path, then on the compiled path."""
    results = []
    for name in ("numpy", "numba"):
        accel.set_backend(name)
        results.append(fn())
    return results


def _agree(ref, got, dtype):
    ref, got = np.asarray(ref), np.asarray(got)
    assert ref.shape == got.shape and ref.dtype == got.dtype
    scale = max(1.0, float(np.abs(ref).max())) if ref.size else 1.0
    np.testing.assert_allclose(got, ref, rtol=0, atol=TOL[dtype] * scale)


def _values(rng, shape, kind, dtype):
    if kind == "continuous":
        return rng.normal(size=shape).astype(dtype)
    if kind == "ties":
        return rng.integers(-2, 3, size=shape).astype(dtype)
    return -rng.integers(1, 3, size=shape).astype(dtype)       # all-negative windows


POOLS = [((3, 4, 8, 8), 2, 2), ((2, 3, 7, 9), 2, 2), ((2, 3, 9, 9), 3, 2), ((2, 2, 6, 7), (2, 3), (1, 2)),
         ((2, 2, 8, 7), 2, 3), ((2, 2, 5, 5), 1, 1), ((1, 2, 9, 6), 3, 3), ((2, 3, 6, 10), (2, 2), (2, 2))]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["continuous", "ties", "all-negative"])
@pytest.mark.parametrize("shape, k, s", POOLS)
def test_max_pool_paths_agree(numba_path, shape, k, s, kind, dtype, rng):
    x = _values(rng, shape, kind, dtype)
    (o1, c1), (o2, c2) = _both(lambda: max_pool2d_forward(x, k, s))
    assert isinstance(c2, CompiledPoolCache) and not isinstance(c1, CompiledPoolCache)
    np.testing.assert_array_equal(o1, o2)                     # a maximum is exact
    dout = rng.normal(size=o1.shape).astype(dtype)
    accel.set_backend("numpy")     # each cache goes back to the path that made it
    _agree(max_pool2d_backward(dout, c1), max_pool2d_backward(dout, c2), dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape, k, s", POOLS)
def test_avg_pool_paths_agree(numba_path, shape, k, s, dtype, rng):
    x = rng.normal(size=shape).astype(dtype)
    (o1, c1), (o2, c2) = _both(lambda: avg_pool2d_forward(x, k, s))
    _agree(o1, o2, dtype)
    dout = rng.normal(size=o1.shape).astype(dtype)
    d1, d2 = _both(lambda: avg_pool2d_backward(dout, c1))
    _agree(d1, d2, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_relu_paths_agree(numba_path, dtype, rng):
    x = _values(rng, (4, 3, 7, 5), "ties", dtype)     # many exact zeros
    (o1, c1), (o2, c2) = _both(lambda: relu_forward(x))
    np.testing.assert_array_equal(o1, o2)
    dout = rng.normal(size=x.shape).astype(dtype)
    d1, d2 = _both(lambda: relu_backward(dout, c1))
    np.testing.assert_array_equal(d1, d2)


def test_dense_relu_stays_on_numpy_and_does_not_import_numba():
    """A process that trains only MLPs on one thread never pays for importing Numba, even
    when it evaluates on batches whose activations are large (4,000 x 128 here). (On two
    threads the large products load it in the background: tests/layers/test_products.py.)"""
    code = ("import sys, numpy as np; from threadpoolctl import threadpool_limits; "
            "from proxnet.functional import accel; from proxnet.architectures import mlp; "
            "m = mlp([20, 128, 3], seed=0); X = np.random.default_rng(0).normal(size=(4000, 20)); "
            "limit = threadpool_limits(1); "
            "m.fit(X, np.arange(4000) % 3, epochs=1, batch_size=1000, verbose=False); m.predict(X); "
            "print(accel.loaded() is None, 'numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"]


def test_nan_propagates_on_both_paths(numba_path):
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    x[0, 0, 1, 2] = np.nan
    (o1, _), (o2, _) = _both(lambda: max_pool2d_forward(x, 2))
    assert np.isnan(o1[0, 0, 0, 1]) and np.isnan(o2[0, 0, 0, 1])
    np.testing.assert_array_equal(o1, o2)
    (r1, _), (r2, _) = _both(lambda: relu_forward(x))
    np.testing.assert_array_equal(r1, r2)


# (N, C, F, H, W, kernel, stride, padding)
CONVS = [(5, 1, 6, 12, 12, 5, 1, 2), (4, 6, 16, 9, 9, 5, 1, 0), (3, 2, 3, 7, 5, 3, 2, 1),
         (3, 2, 2, 8, 6, (3, 2), (2, 1), 1), (3, 3, 4, 6, 7, 3, 1, 1), (2, 2, 9, 5, 5, 1, 1, 0)]
# rows of at least conv.EXACT_MIN_RUN valid columns: the compiled im2col of exact columns
# (row groups of 4 as in LeNet's first layer, no groups, groups of 2 with vertical stride 2)
EXACT_CONVS = [(3, 1, 6, 20, 20, 5, 1, 2), (2, 3, 9, 18, 17, 3, 1, 1), (2, 2, 4, 17, 19, 3, (2, 1), 0)]
CONVS += EXACT_CONVS


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("geo", CONVS)
def test_conv_paths_agree(numba_path, geo, bias, dtype, rng):
    N, C, F, H, W, k, s, p = geo
    k2 = k if isinstance(k, tuple) else (k, k)
    x = rng.normal(size=(N, C, H, W)).astype(dtype)
    Wt = rng.normal(size=(F, C) + k2).astype(dtype)
    b = rng.normal(size=F).astype(dtype) if bias else None
    dout = None

    def run():
        nonlocal dout
        out, cache = conv2d_forward(x, Wt, b, s, p, chunk_bytes=2000)
        if dout is None:
            dout = rng.normal(size=out.shape).astype(dtype)
        return [out, *conv2d_backward(dout, cache, True), *conv2d_backward(dout, cache, False)[1:]]

    for ref, got in zip(*_both(run)):
        _agree(ref, got, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("geo", EXACT_CONVS + CONVS[:2])
def test_exact_columns_are_the_wide_ones_without_garbage(numba_path, geo, dtype, rng):
    from proxnet.functional import conv
    N, C, F, H, W, k, s, p = geo
    k2 = k if isinstance(k, tuple) else (k, k)
    x = rng.normal(size=(N, C, H, W)).astype(dtype)
    accel.set_backend("numba")
    flat, _, g = conv2d_forward(x, rng.normal(size=(F, C) + k2).astype(dtype), None, s, p,
                                chunk_bytes=2000)[1]
    fast = accel.compiled()
    assert conv._exact(g, fast) == (geo in EXACT_CONVS)         # long rows only
    m, OW = g["rows"], g["OW"]
    for n0, n1 in conv._chunks(g)[-2:]:
        wide = conv._im2col(flat, g, n0, n1, rows=m).copy()
        exact = conv._im2col(flat, g, n0, n1, rows=m, exact_by=fast)
        ref = wide.reshape(wide.shape[0], n1 - n0, g["OH"] // m, g["Tw"])[..., :OW]
        np.testing.assert_array_equal(exact, ref.reshape(exact.shape))


def test_training_steps_agree_and_do_not_depend_on_threads(numba_path, rng):
    from threadpoolctl import threadpool_limits

    from proxnet.architectures import lenet5
    X = rng.random(size=(64, 1, 28, 28))   # float64: batches of 32 exceed SHARD_BYTES
    y = rng.integers(0, 10, size=64)
    weights = {}
    for name, threads in (("numpy", 1), ("numba", 1), ("numba", 2)):
        accel.set_backend(name)
        model = lenet5(variant="compact", seed=0, dtype="float64")
        with threadpool_limits(threads):
            model.fit(X, y, epochs=2, batch_size=32, shuffle=False, verbose=False)   # shards of 16
        weights[name, threads] = [v for _, v in model.named_parameters()]
    for a, b in zip(weights["numpy", 1], weights["numba", 1]):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-12)
    for a, b in zip(weights["numba", 1], weights["numba", 2]):
        np.testing.assert_array_equal(a, b)


# -- choosing the path ------------------------------------------------------------------------------
def test_set_backend_rejects_unknown_names():
    saved = accel.BACKEND
    for bad in ("fast", "", 3, None):
        with pytest.raises(ValueError, match="expected one of auto, numpy, numba"):
            accel.set_backend(bad)
    assert accel.BACKEND == saved


def test_numpy_is_forced_by_name(monkeypatch):
    monkeypatch.setattr(accel, "BACKEND", "auto")
    assert accel.set_backend("numpy") == "numpy"
    assert accel.compiled() is None and accel.describe() == "kernels: numpy"
    out, cache = max_pool2d_forward(np.ones((1, 1, 2, 2)), 2)
    assert not isinstance(cache, CompiledPoolCache)


def test_asking_for_numba_without_it_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(accel, "BACKEND", "auto")
    monkeypatch.setattr(accel, "_module", None)
    monkeypatch.setattr(accel, "_import_error", ImportError("No module named 'numba'"))
    assert accel.backend() == "numpy"                        # auto falls back quietly
    assert "Numba not available" in accel.describe()
    with pytest.raises(RuntimeError, match="'numba' was asked for but Numba does not import"):
        accel.set_backend("numba")
    assert accel.BACKEND == "auto"                           # the choice is left unchanged
    assert accel.compile_all() == 0.0


def test_the_environment_variable_chooses_at_import():
    code = "from proxnet.functional import accel; print(accel.BACKEND, accel.backend())"
    for value, expected in (("numpy", "numpy numpy"), (" NumPy ", "numpy numpy")):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**__import__("os").environ, accel.ENV_VAR: value}).stdout
        assert out.strip() == expected
    bad = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**__import__("os").environ, accel.ENV_VAR: "gpu"})
    assert bad.returncode != 0 and "expected one of auto, numpy, numba, got 'gpu'" in bad.stderr


def test_compile_all_reports_seconds_and_describe_names_the_path(numba_path):
    accel.set_backend("numba")
    assert accel.compile_all() >= 0.0
    assert accel.describe().startswith("kernels: numba ")
