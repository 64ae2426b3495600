"""Generators: determinism, shapes, the problems' defining properties. (Docstring examples: tests/test_doctests.py.)"""

import numpy as np
import pytest

import proxnet.data.generators as gen

GENERATORS = {
    "spiral": lambda seed: gen.make_spiral(50, 3, seed=seed),
    "circles": lambda seed: gen.make_circles(200, noise=0.2, seed=seed),
    "xor": lambda seed: gen.make_xor(200, noise=0.2, seed=seed),
    "blobs": lambda seed: gen.make_blobs(200, noise=0.2, seed=seed),
    "linear": lambda seed: gen.make_linear(seed=seed),
    "quadratic": lambda seed: gen.make_quadratic(seed=seed),
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_deterministic_for_a_seed(name):
    make = GENERATORS[name]
    X1, y1 = make(7)
    X2, y2 = make(7)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    X3, y3 = make(8)
    assert not (np.array_equal(X1, X3) and np.array_equal(y1, y3))
    X4, _ = make(np.random.default_rng(7))
    assert X4.shape == X1.shape


def test_spiral_geometry():
    X, y = gen.make_spiral(100, 4, noise=0.0, dtype="float64")
    assert X.shape == (400, 2) and y.shape == (400,) and X.dtype == np.float64
    np.testing.assert_array_equal(np.bincount(y), [100] * 4)
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(r, np.tile(np.linspace(0, 1, 100), 4), atol=1e-12)
    t = np.linspace(4, 8, 100)[-1]  # last point of class 1
    np.testing.assert_allclose(X[199], [np.sin(t), np.cos(t)], atol=1e-12)


def test_playground_sets():
    X, y = gen.make_circles(301, noise=0.0, seed=0)
    assert X.shape == (301, 2) and y.dtype == np.int64
    r = np.hypot(*X.T)
    np.testing.assert_array_equal(y, (r < 2.5).astype(int))
    assert np.sum(y) == 151 and r.max() <= 5
    X, y = gen.make_xor(400, noise=0.0, seed=0)
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] >= 0).astype(int))
    assert np.abs(X).min() >= 0.3 and np.abs(X).max() <= 5.3
    X, y = gen.make_blobs(4000, noise=0.5, seed=0, dtype="float64")
    np.testing.assert_allclose(X[y == 1].mean(0), [2, 2], atol=0.15)
    np.testing.assert_allclose(X[y == 0].var(0), [4, 4], rtol=0.1)
    noisy = gen.make_circles(500, noise=0.3, seed=0)[1]
    assert 0 < np.sum(noisy != gen.make_circles(500, noise=0.0, seed=0)[1])


def test_curves():
    X, y = gen.make_linear(seed=0)
    assert X.shape == (6, 1) and y.shape == (6, 1) and y.dtype == np.float32
    np.testing.assert_allclose(X.ravel(), np.linspace(0, 1, 6), atol=1e-7)
    assert np.all(np.abs(y - (X + 0.5)) <= 0.2 + 1e-6)
    X, y = gen.make_quadratic(seed=0, dtype="float64")
    assert X.shape == (100, 1) and np.all(np.abs(y - X ** 2) <= 0.1)
    X, y = gen.make_quadratic(x_range=(1.0, 2.0), seed=0)
    assert X[0, 0] == 1.0 and X[-1, 0] == 2.0


@pytest.mark.parametrize("call, match", [
    (lambda: gen.make_spiral(0), "n_per_class"),
    (lambda: gen.make_circles(100, noise=-1), "noise"),
    (lambda: gen.make_xor(2.5), "n_samples"),
    (lambda: gen.make_curve(np.sin, 5, (1, 0)), "x_range"),
    (lambda: gen.make_blobs(10, seed=-1), "seed"),
])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
