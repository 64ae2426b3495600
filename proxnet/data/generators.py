"""Synthetic problems: spirals, TensorFlow-Playground 2-D sets, and 1-D curve fitting.

Every generator is deterministic for a seed (an int or a ``np.random.Generator``); the same
seed gives the same arrays, bit for bit. Classification generators return
``X (N, 2) float, y (N,) int64``; regression generators return ``X (N, 1), y (N, 1)`` floats.
"""
from __future__ import annotations

import numpy as np

from ..backend import as_generator, resolve_dtype
from ..validation import check_positive

__all__ = ["make_spiral", "make_circles", "make_xor", "make_blobs", "make_curve",
           "make_linear", "make_quadratic", "make_fixed6", "SPIRAL_VARIANTS", "NOISE_KINDS"]

SPIRAL_VARIANTS = {"cs231n": 1.0, "nnfs": 2.5}
"""Spiral variant -> factor on the angle: CS231n draws ``(r sin t, r cos t)``, nnfs'
``spiral_data`` ``(r sin 2.5t, r cos 2.5t)``."""

NOISE_KINDS = ("uniform", "hundredths")
"""Noise of :func:`make_curve`: ``"uniform"`` in ``±noise``; ``"hundredths"``: ``k / 100``
with ``k`` a uniform integer in ``[-100 noise, 100 noise - 1]``."""

FIXED6_X = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
FIXED6_Y = (0.5, 0.7, 0.9, 0.9, 1.5, 1.5)
"""The six fixed points of the classic few-point curve-fitting exercise."""


def _count(n, name, minimum=1):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {n!r}")
    return int(n)


def make_spiral(n_per_class: int = 100, n_classes: int = 3, noise: float = 0.2, *,
                variant: str = "cs231n", seed=0, dtype="float32"):
    """The spiral problem of CS231n (or nnfs): ``n_classes`` interleaved arms in the unit disc.

    For class ``k`` and ``i = 0..N-1``: ``r = linspace(0, 1, N)``,
    ``t = linspace(4k, 4(k+1), N) + noise * randn(N)``, ``x = (r sin t, r cos t)``
    (CS231n) or ``x = (r sin 2.5t, r cos 2.5t)`` (nnfs' ``spiral_data``, which winds each arm
    2.5 times as far; its noise is 0.2 too).

    nnfs draws its noise from NumPy's global state (``np.random.randn``); here it comes from
    a seeded Generator, so the points differ from nnfs' draw by draw but have the same
    distribution.

    Parameters
    ----------
    n_per_class : int
        Points per class ``N``.
    n_classes : int
        Number of arms ``K``.
    noise : float
        Standard deviation of the Gaussian noise added to ``t`` (CS231n and nnfs use 0.2).
    variant : {"cs231n", "nnfs"}
        The angle factor, see :data:`SPIRAL_VARIANTS`.
    seed : int or np.random.Generator
    dtype : {"float32", "float64"}

    Returns
    -------
    X : ndarray of shape (N*K, 2), ``dtype``
    y : ndarray of shape (N*K,), int64, class ``k`` for rows ``k*N .. (k+1)*N - 1``

    Examples
    --------
    >>> X, y = make_spiral(100, 3, seed=0)
    >>> print(X.shape, X.dtype, y.shape, y.dtype)
    (300, 2) float32 (300,) int64
    >>> print(np.round(X[:3], 4))
    [[0.     0.    ]
     [0.0001 0.0101]
     [0.0042 0.0198]]
    >>> print(np.bincount(y))
    [100 100 100]
    """
    n = _count(n_per_class, "n_per_class")
    k = _count(n_classes, "n_classes")
    noise = check_positive(noise, "noise", allow_zero=True)
    if not isinstance(variant, str) or variant not in SPIRAL_VARIANTS:
        raise ValueError(f"variant: expected one of {', '.join(map(repr, SPIRAL_VARIANTS))}, "
                         f"got {variant!r}")
    rng = as_generator(seed)
    r = np.linspace(0.0, 1.0, n)
    t = np.linspace(4.0 * np.arange(k), 4.0 * np.arange(1, k + 1), n, axis=1)
    t = (t + rng.standard_normal((k, n)) * noise) * SPIRAL_VARIANTS[variant]
    X = np.stack([r * np.sin(t), r * np.cos(t)], axis=-1).reshape(k * n, 2)
    y = np.repeat(np.arange(k, dtype=np.int64), n)
    return X.astype(resolve_dtype(dtype)), y


def _two_classes(n_samples):
    n = _count(n_samples, "n_samples", minimum=2)
    return n - n // 2, n // 2


def make_circles(n_samples: int = 500, noise: float = 0.0, *, seed=0, dtype="float32"):
    """The TensorFlow Playground "circle" set: a disc of class 1 inside a ring of class 0.

    As in Playground's ``classifyCircleData`` (radius 5): class-1 points have radius uniform
    in [0, 2.5], class-0 points in [3.5, 5], angle uniform. The label is computed from the
    point plus uniform noise in ``±5 * noise`` per coordinate (inside radius 2.5 -> 1), while
    the stored point is the noise-free one, so noise flips labels near the boundary.

    Parameters
    ----------
    n_samples : int
        Total points; the first ``ceil(n/2)`` are drawn inside, the rest in the ring.
    noise : float
        Playground's noise level, 0 to 0.5 (its slider's 0-50 %).
    seed : int or np.random.Generator
    dtype : {"float32", "float64"}

    Returns
    -------
    X : ndarray of shape (n_samples, 2), ``dtype``, coordinates in [-5, 5]
    y : ndarray of shape (n_samples,), int64 in {0, 1}

    Examples
    --------
    >>> X, y = make_circles(500, noise=0.1, seed=0)
    >>> print(X.shape, X.dtype, y.shape, y.dtype)
    (500, 2) float32 (500,) int64
    >>> print(np.round(X[:2], 3), y[:5], np.bincount(y))
    [[ 1.077 -1.173]
     [ 0.6   -0.308]] [1 1 1 1 1] [269 231]
    """
    noise = check_positive(noise, "noise", allow_zero=True)
    n_in, n_out = _two_classes(n_samples)
    rng = as_generator(seed)
    radius = 5.0
    parts = []
    for n, lo, hi in ((n_in, 0.0, 0.5 * radius), (n_out, 0.7 * radius, radius)):
        r = rng.uniform(lo, hi, n)
        angle = rng.uniform(0.0, 2 * np.pi, n)
        parts.append(np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1))
    X = np.concatenate(parts)
    noisy = X + rng.uniform(-radius, radius, X.shape) * noise
    y = (np.hypot(noisy[:, 0], noisy[:, 1]) < 0.5 * radius).astype(np.int64)
    return X.astype(resolve_dtype(dtype)), y


def make_xor(n_samples: int = 500, noise: float = 0.0, *, seed=0, dtype="float32"):
    """The TensorFlow Playground "exclusive or" set: class 1 where ``x1 * x2 >= 0``.

    As in Playground's ``classifyXORData``: coordinates uniform in [-5, 5], pushed 0.3 away
    from the axes; the label is computed from the point plus uniform noise in ``±5 * noise``
    per coordinate, the stored point is the noise-free one.

    Parameters
    ----------
    n_samples : int
    noise : float
        Playground's noise level, 0 to 0.5.
    seed : int or np.random.Generator
    dtype : {"float32", "float64"}

    Returns
    -------
    X : ndarray of shape (n_samples, 2), ``dtype``, coordinates in [-5.3, 5.3]
    y : ndarray of shape (n_samples,), int64 in {0, 1}

    Examples
    --------
    >>> X, y = make_xor(500, seed=0)
    >>> print(X.shape, X.dtype, y.shape, y.dtype)
    (500, 2) float32 (500,) int64
    >>> print(np.round(X[:2], 3), y[:2])
    [[ 1.67  -2.602]
     [-4.89  -5.135]] [0 1]
    """
    noise = check_positive(noise, "noise", allow_zero=True)
    n = _count(n_samples, "n_samples")
    rng = as_generator(seed)
    X = rng.uniform(-5.0, 5.0, (n, 2))
    X += np.where(X > 0, 0.3, -0.3)
    noisy = X + rng.uniform(-5.0, 5.0, X.shape) * noise
    y = (noisy[:, 0] * noisy[:, 1] >= 0).astype(np.int64)
    return X.astype(resolve_dtype(dtype)), y


def make_blobs(n_samples: int = 500, noise: float = 0.0, *, seed=0, dtype="float32"):
    """The TensorFlow Playground "Gaussian" set: two Gaussian blobs, class 1 at (2, 2) and
    class 0 at (-2, -2).

    As in Playground's ``classifyTwoGaussData``, the variance of each coordinate grows
    linearly with the noise level: ``0.5 + 7 * noise`` (0.5 at noise 0, 4 at noise 0.5).

    Parameters
    ----------
    n_samples : int
        Total points; the first ``ceil(n/2)`` are class 1.
    noise : float
        Playground's noise level, 0 to 0.5.
    seed : int or np.random.Generator
    dtype : {"float32", "float64"}

    Returns
    -------
    X : ndarray of shape (n_samples, 2), ``dtype``
    y : ndarray of shape (n_samples,), int64 in {0, 1}

    Examples
    --------
    >>> X, y = make_blobs(500, seed=0)
    >>> print(X.shape, X.dtype, y.shape, y.dtype)
    (500, 2) float32 (500,) int64
    >>> print(np.round(X[:2], 3), y[:2], y[-1])
    [[2.089 1.907]
     [2.453 2.074]] [1 1] 0
    """
    noise = check_positive(noise, "noise", allow_zero=True)
    n_pos, n_neg = _two_classes(n_samples)
    rng = as_generator(seed)
    std = np.sqrt(0.5 + 7.0 * noise)
    centers = np.repeat(np.array([[2.0, 2.0], [-2.0, -2.0]]), [n_pos, n_neg], axis=0)
    X = centers + std * rng.standard_normal(centers.shape)
    y = np.repeat(np.array([1, 0], dtype=np.int64), [n_pos, n_neg])
    return X.astype(resolve_dtype(dtype)), y


def make_curve(f, n: int, x_range=(0.0, 1.0), noise: float = 0.0, *,
               noise_kind: str = "uniform", seed=0, dtype="float32"):
    """Samples of ``y = f(x) + u`` at ``n`` equally spaced ``x``, ``u`` uniform in ``±noise``.

    Parameters
    ----------
    f : callable
        Vectorized function of a float64 array.
    n : int
        Number of points, ``x = linspace(*x_range, n)`` (both ends included).
    x_range : (float, float)
    noise : float
        Half-width of the noise.
    noise_kind : {"uniform", "hundredths"}
        ``"uniform"``: ``u`` uniform in ``[-noise, noise)``. ``"hundredths"``: ``u = k/100``
        with ``k`` a uniform integer in ``[-100 noise, 100 noise - 1]``; ``noise`` must then
        be a multiple of 0.01 (the course's 0.1 gives ``k`` in -10..9; 0 gives no noise).
    seed : int or np.random.Generator
    dtype : {"float32", "float64"}

    Returns
    -------
    X : ndarray of shape (n, 1), ``dtype``
    y : ndarray of shape (n, 1), ``dtype``

    Examples
    --------
    >>> X, y = make_curve(np.sin, 4, (0.0, 3.0), noise=0.0)
    >>> print(X.ravel(), np.round(y.ravel(), 3))
    [0. 1. 2. 3.] [0.    0.841 0.909 0.141]
    """
    n = _count(n, "n")
    noise = check_positive(noise, "noise", allow_zero=True)
    lo, hi = (float(v) for v in x_range)
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"x_range: expected finite (low, high) with low < high, got {x_range!r}")
    rng = as_generator(seed)
    x = np.linspace(lo, hi, n)
    y = np.asarray(f(x), dtype=np.float64) + _noise(noise, noise_kind, n, rng)
    dt = resolve_dtype(dtype)
    return x.reshape(n, 1).astype(dt), y.reshape(n, 1).astype(dt)


def _noise(noise, kind, n, rng):
    if kind == "uniform":
        return rng.uniform(-noise, noise, n)
    if kind == "hundredths":
        m = round(100 * noise)
        if abs(100 * noise - m) > 1e-9:
            raise ValueError(f"noise: noise_kind 'hundredths' needs a multiple of 0.01, got "
                             f"{noise!r}")
        return rng.integers(-m, m, n) / 100.0 if m else np.zeros(n)
    raise ValueError(f"noise_kind: expected one of {', '.join(map(repr, NOISE_KINDS))}, got "
                     f"{kind!r}")


def make_linear(n: int = 6, noise: float = 0.2, *, x_range=(0.0, 1.0), seed=0,
                dtype="float32"):
    """``y = x + 0.5`` plus uniform noise in ``±noise`` at ``n`` equally spaced points.

    The default (6 points on [0, 1], noise ±0.2) is the classic tiny problem where a
    high-degree fit overfits.

    Returns
    -------
    X : ndarray of shape (n, 1), ``dtype``
    y : ndarray of shape (n, 1), ``dtype``

    Examples
    --------
    >>> X, y = make_linear(seed=0)
    >>> print(X.shape, y.shape, X.dtype)
    (6, 1) (6, 1) float32
    >>> print(X.ravel(), np.round(y.ravel(), 3))
    [0.  0.2 0.4 0.6 0.8 1. ] [0.555 0.608 0.716 0.907 1.425 1.665]
    """
    return make_curve(lambda x: x + 0.5, n, x_range, noise, seed=seed, dtype=dtype)


def make_quadratic(n: int = 100, noise: float = 0.1, *, x_range=(0.0, 1.0),
                   noise_kind: str = "uniform", seed=0, dtype="float32"):
    """``y = x**2`` plus noise (uniform in ``±noise``, or hundredths, see :func:`make_curve`)
    at ``n`` equally spaced points.

    Train on ``x_range=(0, 1)`` and test extrapolation on ``x_range=(1, 2)``. The course
    version is ``noise_kind="hundredths"`` with ``noise=0.1``: ``k/100``, ``k`` in -10..9.

    Returns
    -------
    X : ndarray of shape (n, 1), ``dtype``
    y : ndarray of shape (n, 1), ``dtype``

    Examples
    --------
    >>> X, y = make_quadratic(seed=0)
    >>> print(X.shape, y.shape, np.round(y[:3].ravel(), 3))
    (100, 1) (100, 1) [ 0.027 -0.046 -0.091]
    >>> X_test, y_test = make_quadratic(x_range=(1.0, 2.0), seed=1)
    >>> print(X_test[0, 0], X_test[-1, 0])
    1.0 2.0
    >>> _, y = make_quadratic(5, noise_kind="hundredths", dtype="float64", seed=0)
    >>> print(np.round(100 * (y.ravel() - np.linspace(0, 1, 5) ** 2)))
    [ 7.  2.  0. -5. -4.]
    """
    return make_curve(np.square, n, x_range, noise, noise_kind=noise_kind, seed=seed,
                      dtype=dtype)


def make_fixed6(dtype="float32"):
    """The six fixed points of the classic few-point fit: ``X = [0, .2, .4, .6, .8, 1]``,
    ``Y = [.5, .7, .9, .9, 1.5, 1.5]``.

    Returns
    -------
    X : ndarray of shape (6, 1), ``dtype``
    y : ndarray of shape (6, 1), ``dtype``

    Examples
    --------
    >>> X, y = make_fixed6()
    >>> print(X.ravel(), y.ravel())
    [0.  0.2 0.4 0.6 0.8 1. ] [0.5 0.7 0.9 0.9 1.5 1.5]
    """
    dt = resolve_dtype(dtype)
    return (np.array(FIXED6_X, dt).reshape(6, 1), np.array(FIXED6_Y, dt).reshape(6, 1))
