"""The dataset registry: one name -> one builder returning :class:`Splits`, every option
of every builder checked strictly.

``load_dataset(name, **options)`` is the entry point configs and studies use; every builder
in :data:`DATASETS` takes keyword options only and returns a :class:`Splits`.

Every option of every builder has a :class:`~proxnet.data.options.Spec` (strict types: no
bool for an int, no str for a number; finite floats; ranges and caps, e.g. at most
:data:`~proxnet.data.options.MAX_POINTS` generated points per split), and some builders
check how their options combine (``n_train`` only with a sized subset, ``test_fraction``
not with ``n_test_per_class``, ...). A wrong value raises
:class:`~proxnet.data.options.OptionError` (a ``ValueError``) naming the dataset, the option
and what is allowed.

:func:`check_options` runs all of those checks *without loading anything* (no file is
opened, nothing is generated or downloaded), so a study config can be validated whole before
it runs; only what needs the data (e.g. ``n_train`` larger than the file) is left to
:func:`load_dataset`. :func:`option_specs` lists each option's spec and default.

>>> check_options("spiral", {"n_per_class": 2000, "variant": "nnfs", "test_fraction": 0.5})
>>> check_options("spiral", {"n_per_class": True})
Traceback (most recent call last):
...
proxnet.data.options.OptionError: dataset 'spiral': n_per_class: expected an integer in [1, 10000000], got True (bool)
"""
from __future__ import annotations

import functools
import inspect

import numpy as np

from ..backend import as_generator, resolve_dtype, spawn
from ..registry import Registry
from . import generators as gen
from .digits import digits_raw
from .files import TASKS, load_file
from .limits import MAX_BYTES
from .mnist import IDX_DATASETS, load_idx_pair, locate_files, to_float
from .options import (BOOL, CHECKSUMS, DELIMITER, DTYPE, MAX_COUNT, MAX_POINTS, MIRRORS, NONE,
                      PATH, SEED, OptionError, Spec, check, choice, fraction, integer, number,
                      text)
from .splits import _DEFAULT, STANDARDIZE, SUBSETS, Splits, select_subsets, \
    standardize as _standardize, stratified_split, test_count

FETCH_OPTIONS = ("data_dir", "cache_dir", "download", "mirrors", "checksums", "timeout")
"""Options about where files live; accepted (checked, then ignored) by datasets that need no
files, so that one config can pass them to any."""

FETCH_SPECS = {
    "data_dir": NONE | PATH, "cache_dir": NONE | PATH, "download": BOOL,
    "mirrors": NONE | MIRRORS, "checksums": NONE | CHECKSUMS,
    "timeout": number(0, 86400, low_open=True),
}

DATASETS = Registry("dataset")
"""Name -> builder ``f(**options) -> Splits``; see :func:`load_dataset` for the options."""

_COMMON = {"seed": SEED, "standardize": choice(*STANDARDIZE), "dtype": DTYPE}
_SUBSET_SPECS = {
    "subset": choice(*SUBSETS, "standard"), "n_train": integer(1, MAX_COUNT),
    "n_test": NONE | integer(1, MAX_COUNT), "val_size": integer(0, MAX_COUNT) | fraction(),
    "flatten": BOOL,
}
_IMAGE_SPECS = dict(_SUBSET_SPECS, scale=BOOL, **_COMMON)
_TEST_SIZE = integer(1, MAX_COUNT) | fraction(0.0, low_open=True)
_NOISE = number(0, 100)


def register(name: str, specs: dict, conflicts=None):
    """Register a builder under ``name`` with one :class:`Spec` per keyword option and an
    optional ``conflicts(name, options)`` check of the options together (it sees defaults
    for what was not given). The registered function checks its options, then builds."""
    def deco(fn):
        params = set(inspect.signature(fn).parameters)
        if params != set(specs):
            raise TypeError(f"dataset {name!r}: options without a spec or specs without an "
                            f"option: {sorted(params ^ set(specs))}")

        @functools.wraps(fn)
        def checked(**options):
            check_options(name, options)
            return fn(**options)

        checked.option_specs, checked.conflicts = dict(specs), conflicts
        return DATASETS.register(name, checked)
    return deco


def option_specs(name: str) -> dict:
    """``{option: (Spec, default)}`` of dataset ``name``, the file-location options included.

    The default is the builder's, or ``inspect.Parameter.empty`` where it depends on other
    options (``n_train``, ``n_test`` and ``val_size`` depend on ``subset``). Each spec's
    ``.what`` says in words what is allowed.
    """
    builder = DATASETS.get_item(name)
    defaults = {k: p.default for k, p in inspect.signature(builder).parameters.items()}
    out = {k: (spec, inspect.Parameter.empty if defaults[k] is _DEFAULT else defaults[k])
           for k, spec in builder.option_specs.items()}
    fetch_defaults = dict(data_dir=None, cache_dir=None, download=True, mirrors=None,
                          checksums=None, timeout=30.0)
    for k, spec in FETCH_SPECS.items():
        out.setdefault(k, (spec, fetch_defaults[k]))
    return out


def check_options(name: str, options: dict) -> None:
    """Check dataset ``name`` and its ``options`` without loading anything.

    Names, types, ranges and caps of every option, and how they combine; exactly the checks
    :func:`load_dataset` runs before it loads. Cheap: nothing is read, generated or
    downloaded.

    Raises
    ------
    ValueError
        Unknown dataset (listing the valid names); :class:`OptionError` for an unknown
        option (listing the valid ones) or a value not allowed (naming the option and what
        is allowed).
    """
    builder = DATASETS.get_item(name)
    if not isinstance(options, dict):
        raise OptionError(name, None, f"options: expected a dict, got {type(options).__name__}")
    specs = builder.option_specs
    unknown = [str(k) for k in options if k not in specs and k not in FETCH_SPECS]
    if unknown:
        raise OptionError(name, None, f"unknown option(s) {', '.join(unknown)}; valid "
                                      f"options: {', '.join(sorted(specs))}")
    for key, value in options.items():
        check(name, key, value, specs.get(key) or FETCH_SPECS[key])
    if builder.conflicts is not None:
        params = inspect.signature(builder).parameters
        builder.conflicts(name, {**{k: p.default for k, p in params.items()}, **options})


def _seed_meta(seed):
    return seed if seed is None or isinstance(seed, (int, np.integer)) else repr(seed)


def _finish(name, X_tr, y_tr, X_va, y_va, X_te, y_te, *, standardize, task, n_classes=None,
            classes=None, meta=None):
    stats = {}
    if standardize:
        (X_tr, X_va, X_te), stats = _standardize(X_tr, X_va, X_te, mode=standardize)
    return Splits(name, X_tr, y_tr, X_te, y_te, X_va, y_va, n_classes=n_classes,
                  input_shape=tuple(X_tr.shape[1:]), task=task, classes=classes, stats=stats,
                  meta=dict(meta or {}, standardize=standardize))


def _subset_conflicts(name, o):
    if o["subset"] not in ("first", "stratified"):
        for arg in ("n_train", "n_test"):
            if o[arg] is not _DEFAULT:
                raise OptionError(name, arg, f"only used with subset 'first' or "
                                             f"'stratified', got subset {o['subset']!r}")
    if o["subset"] == "validation" and o["val_size"] in (0, 0.0) and not isinstance(
            o["val_size"], bool):
        raise OptionError(name, "val_size", "subset 'validation' needs val_size > 0")


def _images(name, pools, *, subset, n_train, n_test, val_size, seed, flatten, scale,
            standardize, dtype, max_value, classes, meta):
    (Xp, yp), (Xt, yt) = pools
    X_tr, y_tr, X_va, y_va, X_te, y_te = select_subsets(
        Xp, yp, Xt, yt, subset=subset, n_train=n_train, n_test=n_test, val_size=val_size,
        seed=seed)
    conv = dict(flatten=flatten, scale=scale, dtype=dtype, max_value=max_value)
    X_tr, X_te = to_float(X_tr, **conv), to_float(X_te, **conv)
    X_va = None if X_va is None else to_float(X_va, **conv)
    meta = dict(meta, subset=subset, seed=_seed_meta(seed), flatten=flatten, scale=scale,
                dtype=resolve_dtype(dtype).name)
    return _finish(name, X_tr, y_tr, X_va, y_va, X_te, y_te, standardize=standardize,
                   task="classification", n_classes=len(classes), classes=classes, meta=meta)


def _idx_splits(name, *, data_dir=None, subset="full", n_train=_DEFAULT, n_test=_DEFAULT,
                val_size=_DEFAULT, seed=0, flatten=True, scale=True, standardize=False,
                dtype="float32", download=True, cache_dir=None, mirrors=None, checksums=None,
                timeout=30.0):
    fetch = dict(download=download, cache_dir=cache_dir, mirrors=mirrors, checksums=checksums,
                 timeout=timeout)
    paths = [locate_files(name, split, data_dir, **fetch) for split in ("train", "test")]
    n_classes = len(IDX_DATASETS[name]["classes"])
    pools = [load_idx_pair(im, lb, n_classes=n_classes) for im, lb in paths]
    files = [str(p) for pair in paths for p in pair]
    return _images(name, pools, subset=subset, n_train=n_train, n_test=n_test,
                   val_size=val_size, seed=seed, flatten=flatten, scale=scale,
                   standardize=standardize, dtype=dtype, max_value=255.0,
                   classes=IDX_DATASETS[name]["classes"], meta={"files": files})


_IDX_SPECS = dict(_IMAGE_SPECS, **FETCH_SPECS)


@register("mnist", _IDX_SPECS, _subset_conflicts)
def mnist_splits(*, data_dir=None, subset="full", n_train=_DEFAULT, n_test=_DEFAULT,
                 val_size=_DEFAULT, seed=0, flatten=True, scale=True, standardize=False,
                 dtype="float32", download=True, cache_dir=None, mirrors=None, checksums=None,
                 timeout=30.0) -> Splits:
    """MNIST as :class:`Splits` (60,000 train / 10,000 test, 28x28). Options: see
    :func:`load_dataset`."""
    return _idx_splits("mnist", **_args(locals()))


@register("fashion-mnist", _IDX_SPECS, _subset_conflicts)
def fashion_mnist_splits(*, data_dir=None, subset="full", n_train=_DEFAULT, n_test=_DEFAULT,
                         val_size=_DEFAULT, seed=0, flatten=True, scale=True,
                         standardize=False, dtype="float32", download=True, cache_dir=None,
                         mirrors=None, checksums=None, timeout=30.0) -> Splits:
    """Fashion-MNIST as :class:`Splits` (same layout as MNIST). Options: see
    :func:`load_dataset`."""
    return _idx_splits("fashion-mnist", **_args(locals()))


def _args(local_vars):
    return {k: v for k, v in local_vars.items() if not k.startswith("_")}


@register("digits", dict(_IMAGE_SPECS, test_size=_TEST_SIZE), _subset_conflicts)
def digits_splits(*, test_size=0.2, subset="full", n_train=_DEFAULT, n_test=_DEFAULT,
                  val_size=_DEFAULT, seed=0, flatten=True, scale=True, standardize=False,
                  dtype="float32") -> Splits:
    """The 8x8 digits (vendored, see :mod:`proxnet.data.digits`) as :class:`Splits`: seeded
    stratified train/test split (default 1,438 / 359), then the chosen subset. Options: see
    :func:`load_dataset`."""
    images, labels = digits_raw()
    rng = as_generator(seed)
    tr, te = stratified_split(labels, test_size, rng)
    pools = [(images[tr], labels[tr]), (images[te], labels[te])]
    return _images("digits", pools, subset=subset, n_train=n_train, n_test=n_test,
                   val_size=val_size, seed=rng, flatten=flatten, scale=scale,
                   standardize=standardize, dtype=dtype, max_value=16.0,
                   classes=tuple(str(d) for d in range(10)),
                   meta={"test_size": test_size, "seed_split": _seed_meta(seed)})


def _generated(name, make, seed, n_val, standardize, task, meta, n_classes=None):
    """Train / test / validation from three generators derived from ``seed``."""
    r_train, r_test, r_val = spawn(as_generator(seed), 3)
    X_tr, y_tr = make("train", r_train)
    X_te, y_te = make("test", r_test)
    X_va = y_va = None
    if n_val:
        X_va, y_va = make("val", r_val)
    return _finish(name, X_tr, y_tr, X_va, y_va, X_te, y_te, standardize=standardize,
                   task=task, n_classes=n_classes,
                   meta=dict(meta, seed=_seed_meta(seed)))


def _spiral_conflicts(name, o):
    k = o["n_classes"]
    for arg in ("n_per_class", "n_test_per_class", "n_val"):
        if o[arg] is not None and o[arg] * k > MAX_POINTS:
            raise OptionError(name, arg, f"{o[arg]} points per class x {k} classes exceeds "
                                         f"the cap of {MAX_POINTS} points per split")
    if o["test_fraction"] is None:
        return
    if o["n_test_per_class"] is not None:
        raise OptionError(name, "test_fraction", "cannot be combined with n_test_per_class "
                          "(the test set is either a fraction of one shuffled draw or a "
                          "separate draw)")
    n = o["n_per_class"] * k
    n_test = round(o["test_fraction"] * n)
    if not 1 <= n_test <= n - 1:
        raise OptionError(name, "test_fraction", f"{o['test_fraction']} of {n} points leaves "
                          f"{n_test} test and {n - n_test} training points; both must be >= 1")


_SPIRAL_SPECS = dict(
    n_per_class=integer(1, MAX_POINTS), n_classes=integer(1, 1000), noise=_NOISE,
    variant=choice(*gen.SPIRAL_VARIANTS), n_test_per_class=NONE | integer(1, MAX_POINTS),
    test_fraction=NONE | number(0, 1, low_open=True, high_open=True),
    n_val=integer(0, MAX_POINTS), **_COMMON)


@register("spiral", _SPIRAL_SPECS, _spiral_conflicts)
def spiral_splits(*, n_per_class=100, n_classes=3, noise=0.2, variant="cs231n",
                  n_test_per_class=None, test_fraction=None, n_val=0, seed=0,
                  standardize=False, dtype="float32") -> Splits:
    """CS231n (or nnfs) spirals as :class:`Splits`.

    Default: train, test (and validation) drawn separately with seeds derived from
    ``seed``. With ``test_fraction``: one draw of ``n_per_class`` points per class,
    shuffled with a seeded permutation, the last ``round(test_fraction * N)`` points as the
    test set and the rest for training (nnfs' recipe: ``n_per_class=2000, variant="nnfs",
    test_fraction=0.5`` gives 3,000 / 3,000). Options: see :func:`load_dataset`.
    """
    meta = dict(n_per_class=n_per_class, n_classes=n_classes, noise=noise, variant=variant,
                test_fraction=test_fraction)

    def make(split, rng):
        n = {"train": n_per_class, "test": n_test_per_class or n_per_class,
             "val": n_val}[split]
        return gen.make_spiral(n, n_classes, noise, variant=variant, seed=rng, dtype=dtype)

    if test_fraction is None:
        return _generated("spiral", make, seed, n_val, standardize, "classification", meta,
                          n_classes=n_classes)
    r_pool, r_shuffle, r_val = spawn(as_generator(seed), 3)
    X, y = make("train", r_pool)
    perm = r_shuffle.permutation(y.shape[0])
    n_train = y.shape[0] - round(test_fraction * y.shape[0])
    tr, te = perm[:n_train], perm[n_train:]
    X_va, y_va = make("val", r_val) if n_val else (None, None)
    return _finish("spiral", X[tr], y[tr], X_va, y_va, X[te], y[te], standardize=standardize,
                   task="classification", n_classes=n_classes,
                   meta=dict(meta, seed=_seed_meta(seed)))


_VAL_PAIR = Spec(f"0 or an integer in [2, {MAX_POINTS}]",
                 lambda v: integer(0, 0)(v) or integer(2, MAX_POINTS)(v))
_PLAYGROUND_SPECS = dict(n_train=integer(2, MAX_POINTS),
                         n_test=NONE | integer(2, MAX_POINTS), n_val=_VAL_PAIR,
                         noise=number(0, 1), **_COMMON)


def _playground(name, fn):
    def builder(*, n_train=500, n_test=None, n_val=0, noise=0.0, seed=0, standardize=False,
                dtype="float32") -> Splits:
        sizes = {"train": n_train, "test": n_train if n_test is None else n_test,
                 "val": n_val}

        def make(split, rng):
            return fn(sizes[split], noise, seed=rng, dtype=dtype)

        return _generated(name, make, seed, n_val, standardize, "classification",
                          dict(n_train=n_train, noise=noise), n_classes=2)

    builder.__name__ = f"{name}_splits"
    builder.__doc__ = (f"TensorFlow Playground {name!r} set as :class:`Splits` (2 classes, "
                       f"X of shape (N, 2)). Options: see :func:`load_dataset`.")
    return register(name, _PLAYGROUND_SPECS)(builder)


circles_splits = _playground("circles", gen.make_circles)
xor_splits = _playground("xor", gen.make_xor)
blobs_splits = _playground("blobs", gen.make_blobs)

_CURVE_SPECS = dict(n_train=integer(1, MAX_POINTS), n_test=integer(1, MAX_POINTS),
                    n_val=integer(0, MAX_POINTS), noise=_NOISE, test_noise=BOOL, **_COMMON)


def _curve(name, make, sizes, noise, test_noise, seed, standardize, meta):
    """Regression splits; the test targets are noise-free unless ``test_noise``."""
    def draw(split, rng):
        return make(sizes[split], noise if (split != "test" or test_noise) else 0.0, split,
                    rng)

    return _generated(name, draw, seed, sizes["val"], standardize, "regression",
                      dict(meta, n_train=sizes["train"], n_test=sizes["test"], noise=noise,
                           test_noise=test_noise))


@register("linear-6", _CURVE_SPECS)
def linear6_splits(*, n_train=6, n_test=100, n_val=0, noise=0.2, test_noise=True, seed=0,
                   standardize=False, dtype="float32") -> Splits:
    """``y = x + 0.5`` with uniform noise ±``noise`` on [0, 1]: 6 training points, a denser
    test set (100 points; fresh noise, or none with ``test_noise=False``). Regression.
    Options: see :func:`load_dataset`."""
    def make(n, noise_, split, rng):
        return gen.make_linear(n, noise_, seed=rng, dtype=dtype)

    return _curve("linear-6", make, {"train": n_train, "test": n_test, "val": n_val}, noise,
                  test_noise, seed, standardize, {})


def _quadratic_conflicts(name, o):
    if o["noise_kind"] == "hundredths":
        if abs(100 * o["noise"] - round(100 * o["noise"])) > 1e-9:
            raise OptionError(name, "noise", f"noise_kind 'hundredths' needs a multiple of "
                                             f"0.01, got {o['noise']!r}")


@register("quadratic", dict(_CURVE_SPECS, noise_kind=choice(*gen.NOISE_KINDS)),
          _quadratic_conflicts)
def quadratic_splits(*, n_train=100, n_test=100, n_val=0, noise=0.1, noise_kind="uniform",
                     test_noise=True, seed=0, standardize=False, dtype="float32") -> Splits:
    """``y = x**2`` plus noise: train (and validation) on [0, 1], test on [1, 2]
    (extrapolation). ``noise_kind="uniform"``: uniform in ±``noise``; ``"hundredths"``:
    ``k/100`` with ``k`` a uniform integer in ``[-100 noise, 100 noise - 1]`` (the course's
    noise, -10..9 for the default 0.1). Test targets get fresh noise of the same kind, or
    none with ``test_noise=False``. Regression. Options: see :func:`load_dataset`."""
    ranges = {"train": (0.0, 1.0), "test": (1.0, 2.0), "val": (0.0, 1.0)}

    def make(n, noise_, split, rng):
        return gen.make_quadratic(n, noise_, x_range=ranges[split], noise_kind=noise_kind,
                                  seed=rng, dtype=dtype)

    return _curve("quadratic", make, {"train": n_train, "test": n_test, "val": n_val},
                  noise, test_noise, seed, standardize, {"noise_kind": noise_kind})


def _fixed6_conflicts(name, o):
    if o["test"] == "points" and o["n_test"] != 100:
        raise OptionError(name, "n_test", "only used with test='line' (test='points' is the "
                                          "six points themselves)")


@register("fixed-6", dict(test=choice("points", "line"), n_test=integer(2, MAX_POINTS),
                          **_COMMON), _fixed6_conflicts)
def fixed6_splits(*, test="points", n_test=100, seed=0, standardize=False,
                  dtype="float32") -> Splits:
    """The six fixed points ``X = [0, .2, .4, .6, .8, 1]``, ``Y = [.5, .7, .9, .9, 1.5,
    1.5]`` as the training set. Regression.

    The original exercise has no test set. ``test="points"`` (default) measures the fit on
    the same six points (a training error, stated as such). ``test="line"``: ``n_test``
    equally spaced points of ``y = x + 0.5`` on [0, 1], a *reference* chosen here (four of
    the six points lie on that line), not part of the original. ``seed`` is accepted for
    uniformity and unused (nothing is random). Options: see :func:`load_dataset`.
    """
    X, y = gen.make_fixed6(dtype)
    if test == "points":
        X_te, y_te = X.copy(), y.copy()
    else:
        X_te, y_te = gen.make_linear(n_test, 0.0, seed=0, dtype=dtype)
    return _finish("fixed-6", X, y, None, None, X_te, y_te, standardize=standardize,
                   task="regression", meta=dict(test=test, n_test=len(X_te),
                                                seed=_seed_meta(seed)))


def _file_conflicts(name, o):
    _subset_conflicts(name, o)
    if o["path"] is None:
        raise OptionError(name, "path", "dataset 'file' needs path='data.npz' or "
                                        "path='data.csv'")
    if o["task"] == "regression" and o["subset"] == "stratified":
        raise OptionError(name, "subset", "'stratified' needs class labels; use 'first' or "
                                          "'full' for task='regression'")


_FILE_SPECS = dict(
    _SUBSET_SPECS, path=NONE | PATH, test_path=NONE | PATH, test_size=_TEST_SIZE,
    label_column=integer(-1_000_000, 1_000_000) | text(), x_key=NONE | text(),
    y_key=NONE | text(), header=choice("auto", False, True), delimiter=DELIMITER,
    task=choice(*TASKS), scale=choice(False) | number(0, 1e12, low_open=True),
    max_bytes=integer(1, 1 << 50), **_COMMON)


@register("file", _FILE_SPECS, _file_conflicts)
def file_splits(*, path=None, test_path=None, test_size=0.2, label_column=-1, x_key=None,
                y_key=None, header="auto", delimiter=",", task="classification",
                subset="full", n_train=_DEFAULT, n_test=_DEFAULT, val_size=_DEFAULT, seed=0,
                flatten=False, scale=False, standardize=False, dtype="float32",
                max_bytes=MAX_BYTES) -> Splits:
    """User data from ``.npz``/``.csv`` (see :func:`load_file`) as :class:`Splits`.

    The test set is ``test_path`` when given, else a seeded split of ``path`` (stratified
    for classification). Features are used as stored (``scale=False``) or divided by
    ``scale`` (e.g. 255 for 8-bit images). Options: see :func:`load_dataset`.
    """
    opts = dict(label_column=label_column, x_key=x_key, y_key=y_key, header=header,
                delimiter=delimiter, task=task, dtype=dtype, return_classes=True,
                max_bytes=max_bytes)
    X, y, classes = load_file(path, **opts)
    rng = as_generator(seed)
    if test_path is not None:
        X_te, y_te, classes_te = load_file(test_path, **opts)
        if task == "classification":
            y_te, classes = _align_classes(y_te, classes_te, classes, test_path)
        X_tr, y_tr = X, y
        if X_te.shape[1:] != X_tr.shape[1:]:
            raise ValueError(f"test_path: samples of shape {X_te.shape[1:]}, expected "
                             f"{X_tr.shape[1:]} as in {path}")
    elif task == "classification":
        tr, te = stratified_split(y, test_size, rng)
        X_tr, y_tr, X_te, y_te = X[tr], y[tr], X[te], y[te]
    else:
        perm = rng.permutation(y.shape[0])
        n_te = test_count(test_size, y.shape[0])
        X_tr, y_tr, X_te, y_te = X[perm[n_te:]], y[perm[n_te:]], X[perm[:n_te]], y[perm[:n_te]]
    X_tr, y_tr, X_va, y_va, X_te, y_te = select_subsets(
        X_tr, y_tr, X_te, y_te, subset=subset, n_train=n_train, n_test=n_test,
        val_size=val_size, seed=rng)
    X_tr, X_va, X_te = (None if a is None else _features(a, flatten, scale)
                        for a in (X_tr, X_va, X_te))
    meta = dict(path=str(path), test_path=None if test_path is None else str(test_path),
                subset=subset, seed=_seed_meta(seed), task=task, scale=scale)
    n_classes = None if task == "regression" else len(classes)
    classes = None if classes is None else tuple(classes.tolist())
    return _finish("file", X_tr, y_tr, X_va, y_va, X_te, y_te, standardize=standardize,
                   task=task, n_classes=n_classes, classes=classes, meta=meta)


def _features(X, flatten, scale):
    if flatten:
        X = X.reshape(len(X), -1)
    if not isinstance(scale, (bool, np.bool_)):  # False: as stored; a number: the divisor
        X = np.divide(X, X.dtype.type(scale), dtype=X.dtype)
    return X


def _align_classes(y_te, classes_te, classes_tr, test_path):
    """Re-express test labels in the training file's classes."""
    if classes_tr.dtype.kind in "iu" and classes_te.dtype.kind in "iu" and (
            np.array_equal(classes_tr, np.arange(classes_tr.size))
            and np.array_equal(classes_te, np.arange(classes_te.size))):
        return y_te, classes_tr if classes_tr.size >= classes_te.size else classes_te
    values = classes_te[y_te]
    pos = np.searchsorted(classes_tr, values)
    pos = np.clip(pos, 0, classes_tr.size - 1)
    bad = classes_tr[pos] != values
    if bad.any():
        raise ValueError(f"test_path: labels {sorted(set(values[bad].tolist()))[:5]} of "
                         f"{test_path} do not occur in the training file")
    return pos.astype(np.int64), classes_tr


def load_dataset(name: str, **options) -> Splits:
    """Load any registered dataset by name as a :class:`Splits`.

    Parameters
    ----------
    name : str
        One of ``DATASETS``: ``"digits"``, ``"mnist"``, ``"fashion-mnist"``, ``"spiral"``,
        ``"circles"``, ``"xor"``, ``"blobs"``, ``"linear-6"``, ``"quadratic"``,
        ``"fixed-6"``, ``"file"`` (case-insensitive).
    **options
        Keyword options of that dataset, checked first by :func:`check_options` (strict
        types and ranges; an unknown option raises listing the valid ones). The
        file-location options below are accepted by every dataset (checked, and ignored by
        datasets without files) so that one config can pass them to any.

        File location (``mnist``, ``fashion-mnist``):

        - ``data_dir`` (path, default ``$PROXNET_DATA``): folder with ``mnist/`` /
          ``fashion-mnist/`` subfolders, or the folder holding the IDX files themselves.
        - ``download`` (bool, True): fetch missing files into the cache.
        - ``cache_dir`` (path): download cache (default ``$PROXNET_CACHE``, else
          ``$XDG_CACHE_HOME/proxnet``, else ``~/.cache/proxnet``).
        - ``mirrors`` (list of http(s) base URLs), ``checksums`` (``{file.gz: md5}``),
          ``timeout`` (seconds, 30: connect and stall timeout; each file also has a deadline,
          a minimum rate and a size cap, see :func:`~proxnet.data.download_file`).

        Image classification (``mnist``, ``fashion-mnist``, ``digits``, and ``file``):

        - ``subset`` (``"full"``): ``"full"`` / ``"standard"`` = standard train/test;
          ``"validation"`` = last ``val_size`` training samples as validation (default: the
          test-set size, so MNIST gives 50,000 / 10,000 / 10,000); ``"first"`` = first
          ``n_train`` train and ``n_test`` test samples; ``"stratified"`` = seeded random
          ``n_train`` / ``n_test`` with each pool's class proportions.
        - ``n_train`` (1000), ``n_test`` (2000; None = the whole test set): for ``"first"``
          and ``"stratified"`` only.
        - ``val_size`` (int count or float fraction): validation held out from the end of the
          training pool; combinable with any subset (train is chosen from the rest).
        - ``flatten`` (True): X of shape (N, H*W), else NCHW (N, 1, H, W). For ``file``
          (default False) it flattens whatever the file stores.
        - ``scale`` (True): pixels to [0, 1] (÷255 for MNIST, ÷16 for digits); False gives
          the raw values as floats (0–255, 0–16). For ``file``: False (default, values as
          stored) or a number to divide the features by (e.g. 255).
        - ``test_size`` (0.2): ``digits`` and ``file`` only, fraction (float) or count (int)
          of samples in the stratified test split.

        Generators (train, test and validation drawn with seeds derived from ``seed``; at
        most 10,000,000 points per split):

        - ``spiral``: ``n_per_class`` (100), ``n_classes`` (3, at most 1000), ``noise``
          (0.2), ``variant`` (``"cs231n"`` or ``"nnfs"``: angle ×2.5, as nnfs'
          ``spiral_data``), ``n_test_per_class`` (same as train), ``n_val`` (0: validation
          points per class), ``test_fraction`` (None; a float in (0, 1): one shuffled draw
          split into train and test instead of separate draws).
        - ``circles``, ``xor``, ``blobs``: ``n_train`` (500), ``n_test`` (same as train),
          ``n_val`` (0, or at least 2), ``noise`` (0.0, in [0, 1]; Playground's 0-0.5).
        - ``linear-6``: ``n_train`` (6), ``n_test`` (100), ``n_val`` (0), ``noise`` (0.2),
          ``test_noise`` (True); regression on [0, 1].
        - ``quadratic``: ``n_train`` (100), ``n_test`` (100), ``n_val`` (0), ``noise`` (0.1),
          ``noise_kind`` (``"uniform"`` or ``"hundredths"``: k/100, k uniform in
          -10..9 for noise 0.1), ``test_noise`` (True); train on [0, 1], test on [1, 2].
        - ``fixed-6``: the six fixed points; ``test`` (``"points"``: the same six points, or
          ``"line"``: ``n_test`` (100) points of y = x + 0.5 on [0, 1], a stated reference).

        User files (``file``): ``path`` (required), ``test_path``, ``label_column`` (-1),
        ``x_key``, ``y_key``, ``header``, ``delimiter``, ``task``
        (``"classification"``/``"regression"``), ``max_bytes`` (4 GiB); see
        :func:`load_file`.

        Common to all:

        - ``seed`` (0): int >= 0 or ``np.random.Generator``; same seed, same arrays.
        - ``standardize`` (False): ``True``/``"global"`` (one mean/std over all training
          values) or ``"feature"`` (per feature); statistics from the training split only,
          applied to validation and test, stored in ``Splits.stats``.
        - ``dtype`` (``"float32"``): or ``"float64"``, for X (and y in regression).

    Returns
    -------
    Splits
        ``X_train, y_train, X_val, y_val (None without validation), X_test, y_test``;
        classification labels int64 (N,), regression targets float (N, 1); plus
        ``n_classes``, ``name``, ``input_shape``, ``task``, ``classes``, ``stats``, ``meta``.

    Raises
    ------
    ValueError
        Unknown dataset name (listing the valid names); :class:`OptionError` (a
        ``ValueError``) for an unknown option or a value not allowed; a ``ValueError``
        naming the file for a corrupted or oversized file.
    DatasetNotFoundError
        MNIST-family files neither on disk nor downloadable (the message says where to put
        which files).

    Examples
    --------
    >>> d = load_dataset("digits", seed=0)
    >>> d
    Splits('digits', train=(1438, 64), test=(359, 64), n_classes=10)
    >>> X_train, y_train = d.train
    >>> load_dataset("quadratic").test[0][[0, -1], 0]
    array([1., 2.], dtype=float32)
    >>> nnfs = load_dataset("spiral", n_per_class=2000, variant="nnfs", test_fraction=0.5)
    >>> nnfs.X_train.shape, nnfs.X_test.shape
    ((3000, 2), (3000, 2))
    """
    builder = DATASETS.get_item(name)
    check_options(name, options)
    params = inspect.signature(builder).parameters
    return builder(**{k: v for k, v in options.items() if k in params})
