"""The ``Splits`` container, subset selection and train-only preprocessing.

Everything here is dataset-agnostic: loaders produce a training pool and a test pool, then
:func:`select_subsets` picks the train/validation/test samples and :func:`standardize`
applies training-set statistics to every split.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..backend import as_generator, spawn
from ..display import table_html

SUBSETS = ("full", "validation", "first", "stratified")
"""Valid ``subset`` names (``"standard"`` is accepted as an alias of ``"full"``)."""

_DEFAULT = object()  # sentinel: "argument not given"


@dataclass(repr=False)
class Splits:
    """Train / validation / test arrays of one dataset, ready for a model.

    Attributes
    ----------
    name : str
        Dataset name, e.g. ``"mnist"``.
    X_train : ndarray of shape (N_train, *input_shape), float32 (or float64)
    y_train : ndarray
        Classification: int64 labels of shape (N_train,). Regression: float of shape
        (N_train, 1).
    X_test, y_test : ndarray
        Same layout as the training arrays.
    X_val, y_val : ndarray or None
        Validation arrays, or None when the split has none.
    n_classes : int or None
        Number of classes; None for regression.
    input_shape : tuple of int
        Shape of one sample, e.g. ``(784,)`` or ``(1, 28, 28)``.
    task : str
        ``"classification"`` or ``"regression"``.
    classes : tuple or None
        Class names (index = label) where known.
    stats : dict
        Preprocessing statistics computed on the training set (``mean``, ``std``) when
        standardized; empty otherwise.
    meta : dict
        The options the dataset was built with (for provenance).

    Examples
    --------
    >>> import numpy as np
    >>> s = Splits("toy", np.zeros((4, 2), np.float32), np.array([0, 1, 0, 1]),
    ...            np.zeros((2, 2), np.float32), np.array([0, 1]), n_classes=2)
    >>> X_train, y_train = s.train
    >>> s
    Splits('toy', train=(4, 2), test=(2, 2), n_classes=2)
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    X_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    n_classes: int | None = None
    input_shape: tuple = ()
    task: str = "classification"
    classes: tuple | None = None
    stats: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        if not self.input_shape:
            self.input_shape = tuple(self.X_train.shape[1:])
        for split in ("train", "val", "test"):
            X, y = getattr(self, f"X_{split}"), getattr(self, f"y_{split}")
            if (X is None) != (y is None):
                raise ValueError(f"X_{split} and y_{split}: give both or neither")
            if X is None:
                continue
            if X.shape[0] != y.shape[0]:
                raise ValueError(f"y_{split}: expected {X.shape[0]} rows (one per sample of "
                                 f"X_{split}), got {y.shape[0]}")
            if tuple(X.shape[1:]) != tuple(self.input_shape):
                raise ValueError(f"X_{split}: expected sample shape {tuple(self.input_shape)}, "
                                 f"got {tuple(X.shape[1:])}")

    @property
    def train(self) -> tuple[np.ndarray, np.ndarray]:
        """``(X_train, y_train)``."""
        return self.X_train, self.y_train

    @property
    def val(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(X_val, y_val)``, or None when there is no validation split."""
        return None if self.X_val is None else (self.X_val, self.y_val)

    @property
    def test(self) -> tuple[np.ndarray, np.ndarray]:
        """``(X_test, y_test)``."""
        return self.X_test, self.y_test

    @property
    def n_features(self) -> int:
        """Number of input values per sample, ``prod(input_shape)``."""
        return int(np.prod(self.input_shape))

    def as_tuples(self):
        """Return ``((X_train, y_train), (X_val, y_val), (X_test, y_test))``.

        The validation pair is ``(None, None)`` when there is no validation split.
        """
        return (self.X_train, self.y_train), (self.X_val, self.y_val), (self.X_test, self.y_test)

    def _repr_html_(self) -> str:
        rows = []
        for split in ("train", "val", "test"):
            X, y = getattr(self, f"X_{split}"), getattr(self, f"y_{split}")
            if X is None:
                continue
            counts = (", ".join(str(int(c)) for c in np.bincount(y, minlength=self.n_classes))
                      if self.task == "classification" and y.ndim == 1 else "–")
            rows.append([split, f"{X.shape[0]:,}", str(tuple(X.shape[1:])), str(X.dtype), counts])
        what = (f"{self.n_classes} classes" if self.task == "classification" else "regression")
        return table_html(["split", "samples", "sample shape", "dtype", "per class"], rows,
                          title=f"Splits {self.name!r}: {what}",
                          caption=", ".join(f"{k}={v}" for k, v in self.meta.items() if k != "files"))

    def __repr__(self):
        parts = [f"Splits({self.name!r}", f"train={tuple(self.X_train.shape)}"]
        if self.X_val is not None:
            parts.append(f"val={tuple(self.X_val.shape)}")
        parts.append(f"test={tuple(self.X_test.shape)}")
        parts.append(f"n_classes={self.n_classes}" if self.task == "classification"
                     else f"task={self.task!r}")
        return ", ".join(parts) + ")"


Dataset = Splits
"""Alias of :class:`Splits`."""


def stratified_indices(y, n, rng) -> np.ndarray:
    """Return ``n`` sorted indices into ``y`` drawn at random with the class proportions of ``y``.

    Per-class counts are ``floor(n * p_k)`` plus one for the classes with the largest
    remainders (ties to the smaller label), so the result always has exactly ``n`` indices.

    Parameters
    ----------
    y : ndarray of shape (N,), int
    n : int
        0 <= n <= N.
    rng : int, None or np.random.Generator

    Returns
    -------
    ndarray of shape (n,), int64, increasing
    """
    y = np.asarray(y)
    if not 0 <= n <= y.shape[0]:
        raise ValueError(f"n: expected an integer in [0, {y.shape[0]}], got {n}")
    rng = as_generator(rng)
    labels, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    exact = n * counts / counts.sum()
    take = np.floor(exact).astype(np.int64)
    short = n - int(take.sum())
    if short:
        order = np.lexsort((np.arange(labels.size), -(exact - take)))
        take[order[:short]] += 1
    chosen = [rng.choice(np.flatnonzero(inverse == k), size=int(t), replace=False)
              for k, t in enumerate(take)]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def stratified_split(y, test_size, rng):
    """Split indices into stratified ``(train_idx, test_idx)``, both increasing.

    Parameters
    ----------
    y : ndarray of shape (N,), int
    test_size : float in (0, 1) or int
        Fraction (rounded to the nearest count) or number of test samples.
    rng : int, None or np.random.Generator
    """
    y = np.asarray(y)
    n = y.shape[0]
    n_test = test_count(test_size, n)
    test_idx = stratified_indices(y, n_test, rng)
    mask = np.ones(n, bool)
    mask[test_idx] = False
    return np.flatnonzero(mask), test_idx


def test_count(test_size, n: int) -> int:
    """The number of test samples ``test_size`` (fraction or count) takes from ``n``; both
    the test and the training part must keep at least one sample."""
    n_test = _count(test_size, n, "test_size")
    if not 1 <= n_test <= n - 1:
        raise ValueError(f"test_size: {test_size!r} of {n} samples leaves {n_test} test and "
                         f"{n - n_test} training samples; both must be at least 1")
    return n_test


def _count(size, n, name):
    """An int count from a fraction in [0, 1) or an int in [0, n]."""
    if isinstance(size, (float, np.floating)):
        if not 0 <= size < 1:
            raise ValueError(f"{name}: expected a fraction in [0, 1) or an integer count, "
                             f"got {size}")
        return int(round(float(size) * n))
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise ValueError(f"{name}: expected a fraction in [0, 1) or an integer count, "
                         f"got {size!r}")
    if not 0 <= size <= n:
        raise ValueError(f"{name}: expected a count in [0, {n}], got {size}")
    return int(size)


def select_subsets(X_pool, y_pool, X_test, y_test, *, subset="full", n_train=_DEFAULT,
                   n_test=_DEFAULT, val_size=_DEFAULT, seed=0):
    """Pick train / validation / test samples from a training pool and a test pool.

    Parameters
    ----------
    X_pool, y_pool : ndarray, (N_pool, ...) and (N_pool,)
        The whole training file.
    X_test, y_test : ndarray, (N_test, ...) and (N_test,)
        The whole test file.
    subset : {"full", "validation", "first", "stratified"}
        ``"full"`` (alias ``"standard"``): the standard split. ``"validation"``: the last
        ``val_size`` training samples (default: as many as the test set, so MNIST gives
        50,000 / 10,000 / 10,000) become the validation set, deterministically.
        ``"first"``: the first ``n_train`` (default 1,000) training and the first ``n_test``
        (default 2,000) test samples. ``"stratified"``: a seeded random sample of ``n_train``
        / ``n_test`` with the class proportions of each pool.
    n_train, n_test : int
        Sizes for ``"first"`` and ``"stratified"``; ``n_test=None`` keeps the full test set.
    val_size : int or float
        Count or fraction of the training pool held out (from its end) as validation. Default
        0, except for ``"validation"``. With ``"first"``/``"stratified"`` the training
        samples are chosen from what remains, so train and validation never overlap.
    seed : int or np.random.Generator
        Used by ``"stratified"`` only (train and test draws use derived generators).

    Returns
    -------
    (X_train, y_train, X_val, y_val, X_test, y_test)
        ``X_val``/``y_val`` are None when ``val_size`` is 0. Arrays may be views of the pools.
    """
    if subset == "standard":
        subset = "full"
    if subset not in SUBSETS:
        raise ValueError(f"unknown subset {subset!r}; valid names: {', '.join(SUBSETS)}, "
                         "standard")
    sized = subset in ("first", "stratified")
    if not sized:
        for arg, value in (("n_train", n_train), ("n_test", n_test)):
            if value is not _DEFAULT:
                raise ValueError(f"{arg}: only used with subset 'first' or 'stratified', "
                                 f"got subset {subset!r}")
    if val_size is _DEFAULT:
        val_size = y_test.shape[0] if subset == "validation" else 0
    n_val = _count(val_size, y_pool.shape[0], "val_size")
    if subset == "validation" and n_val == 0:
        raise ValueError("val_size: subset 'validation' needs val_size > 0")
    n_keep = y_pool.shape[0] - n_val
    X_val = y_val = None
    if n_val:
        X_val, y_val = X_pool[n_keep:], y_pool[n_keep:]
        X_pool, y_pool = X_pool[:n_keep], y_pool[:n_keep]
    if sized:
        n_train = 1000 if n_train is _DEFAULT else n_train
        n_test = 2000 if n_test is _DEFAULT else n_test
        if n_test is None:
            n_test = y_test.shape[0]
        n_train = _size(n_train, y_pool.shape[0], "n_train", "training samples"
                        + (f" left after the {n_val} validation samples" if n_val else ""))
        n_test = _size(n_test, y_test.shape[0], "n_test", "test samples")
        if subset == "first":
            X_pool, y_pool = X_pool[:n_train], y_pool[:n_train]
            X_test, y_test = X_test[:n_test], y_test[:n_test]
        else:
            r_train, r_test = spawn(as_generator(seed), 2)
            i = stratified_indices(y_pool, n_train, r_train)
            j = stratified_indices(y_test, n_test, r_test)
            X_pool, y_pool, X_test, y_test = X_pool[i], y_pool[i], X_test[j], y_test[j]
    return X_pool, y_pool, X_val, y_val, X_test, y_test


def _size(n, available, name, what):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{name}: expected a positive integer, got {n!r}")
    if n > available:
        raise ValueError(f"{name}: asked for {n} but only {available} {what} are available")
    return int(n)


STANDARDIZE = (False, True, "global", "feature")


def standardize(X_train, *others, mode="global", eps=1e-8):
    """Standardize arrays with statistics of ``X_train`` only.

    Parameters
    ----------
    X_train : ndarray of shape (N, ...), float
    *others : ndarray or None
        Validation / test arrays; transformed with the training statistics (None passes).
    mode : {"global", "feature"}
        ``"global"``: one mean and std over all training values (the MNIST convention,
        0.1307 / 0.3081). ``"feature"``: per feature (axis 0); a feature with std < ``eps``
        (e.g. a constant border pixel) gets std 1.

    Returns
    -------
    arrays : list of ndarray or None
        ``[X_train, *others]`` standardized, same shapes and dtypes as given (new arrays).
    stats : dict
        ``{"mode", "mean", "std"}`` (floats for global, arrays of the sample shape for feature).
    """
    if isinstance(mode, (bool, np.bool_)) and mode:
        mode = "global"
    if mode not in ("global", "feature"):
        raise ValueError(f"standardize: expected one of {STANDARDIZE}, got {mode!r}")
    if X_train.shape[0] == 0:
        raise ValueError("X_train: cannot standardize with an empty training set")
    mean, std = _mean_std(X_train, per_feature=(mode == "feature"))
    if mode == "global":
        mean, std = float(mean), float(std) if std > eps else 1.0
        m, s = mean, std
    else:
        std[std < eps] = 1.0
        m, s = mean.astype(X_train.dtype), std.astype(X_train.dtype)
    out = []
    for X in (X_train, *others):
        if X is None:
            out.append(None)
            continue
        Z = np.subtract(X, np.asarray(m, X.dtype), dtype=X.dtype)
        Z /= np.asarray(s, X.dtype)
        out.append(Z)
    return out, {"mode": mode, "mean": mean, "std": std}


def _mean_std(X, *, per_feature, chunk=8192):
    """float64 mean and (population) std, globally or per feature (axis 0), two passes over
    row chunks so that no float64 copy of the whole array is made."""
    n = X.shape[0]
    mean = X.mean(axis=0, dtype=np.float64)
    if not per_feature:
        mean = mean.mean()
    sq = np.zeros_like(mean)
    for start in range(0, n, chunk):
        d = X[start:start + chunk].astype(np.float64) - mean
        d *= d
        sq += d.sum(axis=0) if per_feature else d.sum()
    count = n if per_feature else X.size
    return mean, np.sqrt(sq / count)
