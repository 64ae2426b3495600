"""The dataset registry: one name -> one builder returning :class:`Splits`.

``load_dataset(name, **options)`` is the entry point configs and studies use; every builder
in :data:`DATASETS` takes keyword options only and returns a :class:`Splits`.
"""
from __future__ import annotations

import inspect

import numpy as np

from ..backend import as_generator, resolve_dtype, spawn
from ..registry import Registry
from . import generators as gen
from .digits import digits_raw
from .files import load_file
from .mnist import IDX_DATASETS, load_idx_pair, locate_files, to_float
from .splits import _DEFAULT, Splits, _count, select_subsets, standardize as _standardize, \
    stratified_split

FETCH_OPTIONS = ("data_dir", "cache_dir", "download", "mirrors", "checksums", "timeout")
"""Options about where files live; accepted (and ignored) by datasets that need no files."""

DATASETS = Registry("dataset")
"""Name -> builder ``f(**options) -> Splits``; see :func:`load_dataset` for the options."""


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


@DATASETS.register("mnist")
def mnist_splits(*, data_dir=None, subset="full", n_train=_DEFAULT, n_test=_DEFAULT,
                 val_size=_DEFAULT, seed=0, flatten=True, scale=True, standardize=False,
                 dtype="float32", download=True, cache_dir=None, mirrors=None, checksums=None,
                 timeout=30.0) -> Splits:
    """MNIST as :class:`Splits` (60,000 train / 10,000 test, 28x28). Options: see
    :func:`load_dataset`."""
    return _idx_splits("mnist", **_args(locals()))


@DATASETS.register("fashion-mnist")
def fashion_mnist_splits(*, data_dir=None, subset="full", n_train=_DEFAULT, n_test=_DEFAULT,
                         val_size=_DEFAULT, seed=0, flatten=True, scale=True,
                         standardize=False, dtype="float32", download=True, cache_dir=None,
                         mirrors=None, checksums=None, timeout=30.0) -> Splits:
    """Fashion-MNIST as :class:`Splits` (same layout as MNIST). Options: see
    :func:`load_dataset`."""
    return _idx_splits("fashion-mnist", **_args(locals()))


def _args(local_vars):
    return {k: v for k, v in local_vars.items() if not k.startswith("_")}


@DATASETS.register("digits")
def digits_splits(*, test_size=0.2, subset="full", n_train=_DEFAULT, n_test=_DEFAULT,
                  val_size=_DEFAULT, seed=0, flatten=True, scale=True, standardize=False,
                  dtype="float32") -> Splits:
    """The 8x8 digits (vendored, see :mod:`proxnet.data.digits`) as :class:`Splits`: seeded stratified train/test split
    (default 1,438 / 359), then the chosen subset. Options: see :func:`load_dataset`."""
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


def _n_val(n_val):
    if isinstance(n_val, bool) or not isinstance(n_val, (int, np.integer)) or n_val < 0:
        raise ValueError(f"n_val: expected an integer >= 0, got {n_val!r}")
    return int(n_val)


@DATASETS.register("spiral")
def spiral_splits(*, n_per_class=100, n_classes=3, noise=0.2, n_test_per_class=None, n_val=0,
                  seed=0, standardize=False, dtype="float32") -> Splits:
    """CS231n spirals as :class:`Splits`: train, test (and validation) drawn with seeds
    derived from ``seed``. Options: see :func:`load_dataset`."""
    n_val = _n_val(n_val)
    sizes = {"train": n_per_class, "test": n_test_per_class or n_per_class, "val": n_val}

    def make(split, rng):
        return gen.make_spiral(sizes[split], n_classes, noise, seed=rng, dtype=dtype)

    return _generated("spiral", make, seed, n_val, standardize, "classification",
                      dict(n_per_class=n_per_class, n_classes=n_classes, noise=noise),
                      n_classes=n_classes)


def _playground(name, fn):
    def builder(*, n_train=500, n_test=None, n_val=0, noise=0.0, seed=0, standardize=False,
                dtype="float32") -> Splits:
        n_val_ = _n_val(n_val)
        sizes = {"train": n_train, "test": n_train if n_test is None else n_test,
                 "val": n_val_}

        def make(split, rng):
            return fn(sizes[split], noise, seed=rng, dtype=dtype)

        return _generated(name, make, seed, n_val_, standardize, "classification",
                          dict(n_train=n_train, noise=noise), n_classes=2)

    builder.__name__ = f"{name}_splits"
    builder.__doc__ = (f"TensorFlow Playground {name!r} set as :class:`Splits` (2 classes, "
                       f"X of shape (N, 2)). Options: see :func:`load_dataset`.")
    return DATASETS.register(name, builder)


circles_splits = _playground("circles", gen.make_circles)
xor_splits = _playground("xor", gen.make_xor)
blobs_splits = _playground("blobs", gen.make_blobs)


@DATASETS.register("linear-6")
def linear6_splits(*, n_train=6, n_test=100, n_val=0, noise=0.2, seed=0, standardize=False,
                   dtype="float32") -> Splits:
    """``y = x + 0.5`` with uniform noise ±``noise`` on [0, 1]: 6 training points, a denser
    test set (100 points, fresh noise). Regression. Options: see :func:`load_dataset`."""
    n_val = _n_val(n_val)
    sizes = {"train": n_train, "test": n_test, "val": n_val}

    def make(split, rng):
        return gen.make_linear(sizes[split], noise, seed=rng, dtype=dtype)

    return _generated("linear-6", make, seed, n_val, standardize, "regression",
                      dict(n_train=n_train, n_test=n_test, noise=noise))


@DATASETS.register("quadratic")
def quadratic_splits(*, n_train=100, n_test=100, n_val=0, noise=0.1, seed=0,
                     standardize=False, dtype="float32") -> Splits:
    """``y = x**2`` with uniform noise ±``noise``: train (and validation) on [0, 1], test on
    [1, 2] (extrapolation). Regression. Options: see :func:`load_dataset`."""
    n_val = _n_val(n_val)
    sizes = {"train": n_train, "test": n_test, "val": n_val}
    ranges = {"train": (0.0, 1.0), "test": (1.0, 2.0), "val": (0.0, 1.0)}

    def make(split, rng):
        return gen.make_quadratic(sizes[split], noise, x_range=ranges[split], seed=rng,
                                  dtype=dtype)

    return _generated("quadratic", make, seed, n_val, standardize, "regression",
                      dict(n_train=n_train, n_test=n_test, noise=noise))


@DATASETS.register("file")
def file_splits(*, path=None, test_path=None, test_size=0.2, label_column=-1, x_key=None,
                y_key=None, header="auto", delimiter=",", task="classification",
                subset="full", n_train=_DEFAULT, n_test=_DEFAULT, val_size=_DEFAULT, seed=0,
                flatten=False, standardize=False, dtype="float32") -> Splits:
    """User data from ``.npz``/``.csv`` (see :func:`load_file`) as :class:`Splits`.

    The test set is ``test_path`` when given, else a seeded split of ``path`` (stratified
    for classification). Options: see :func:`load_dataset`.
    """
    if path is None:
        raise ValueError("path: dataset 'file' needs path='data.npz' or path='data.csv'")
    opts = dict(label_column=label_column, x_key=x_key, y_key=y_key, header=header,
                delimiter=delimiter, task=task, dtype=dtype, return_classes=True)
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
        n_te = _count(test_size, y.shape[0], "test_size")
        X_tr, y_tr, X_te, y_te = X[perm[n_te:]], y[perm[n_te:]], X[perm[:n_te]], y[perm[:n_te]]
    if task == "regression" and subset == "stratified":
        raise ValueError("subset: 'stratified' needs class labels; use 'first' or 'full' for "
                         "task='regression'")
    X_tr, y_tr, X_va, y_va, X_te, y_te = select_subsets(
        X_tr, y_tr, X_te, y_te, subset=subset, n_train=n_train, n_test=n_test,
        val_size=val_size, seed=rng)
    if flatten:
        X_tr, X_te = X_tr.reshape(len(X_tr), -1), X_te.reshape(len(X_te), -1)
        X_va = None if X_va is None else X_va.reshape(len(X_va), -1)
    meta = dict(path=str(path), test_path=None if test_path is None else str(test_path),
                subset=subset, seed=_seed_meta(seed), task=task)
    n_classes = None if task == "regression" else len(classes)
    classes = None if classes is None else tuple(classes.tolist())
    return _finish("file", X_tr, y_tr, X_va, y_va, X_te, y_te, standardize=standardize,
                   task=task, n_classes=n_classes, classes=classes, meta=meta)


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
        ``"circles"``, ``"xor"``, ``"blobs"``, ``"linear-6"``, ``"quadratic"``, ``"file"``
        (case-insensitive).
    **options
        Keyword options of that dataset (an option the dataset does not know raises
        ``ValueError`` listing the valid ones, except the file-location options below,
        which datasets without files ignore so that one config can pass them to any):

        File location (``mnist``, ``fashion-mnist``):

        - ``data_dir`` (path, default ``$PROXNET_DATA``): folder with ``mnist/`` /
          ``fashion-mnist/`` subfolders, or the folder holding the IDX files themselves.
        - ``download`` (bool, True): fetch missing files into the cache.
        - ``cache_dir`` (path): download cache (default ``$PROXNET_CACHE``, else
          ``$XDG_CACHE_HOME/proxnet``, else ``~/.cache/proxnet``).
        - ``mirrors`` (list of base URLs), ``checksums`` (``{file.gz: md5}``), ``timeout``
          (seconds, 30).

        Image classification (``mnist``, ``fashion-mnist``, ``digits``, and ``file``):

        - ``subset`` (``"full"``): ``"full"`` / ``"standard"`` = standard train/test;
          ``"validation"`` = last ``val_size`` training samples as validation (default: the
          test-set size, so MNIST gives 50,000 / 10,000 / 10,000); ``"first"`` = first
          ``n_train`` train and ``n_test`` test samples; ``"stratified"`` = seeded random
          ``n_train`` / ``n_test`` with each pool's class proportions.
        - ``n_train`` (1000), ``n_test`` (2000; None = the whole test set): for ``"first"``
          and ``"stratified"`` only.
        - ``val_size`` (int count or fraction): validation held out from the end of the
          training pool; combinable with any subset (train is chosen from the rest).
        - ``flatten`` (True): X of shape (N, H*W), else NCHW (N, 1, H, W). For ``file``
          (default False) it flattens whatever the file stores.
        - ``scale`` (True): pixels to [0, 1] (÷255 for MNIST, ÷16 for digits).
        - ``test_size`` (0.2): ``digits`` and ``file`` only, fraction (or count) of samples
          in the stratified test split.

        Generators (train, test and validation drawn with seeds derived from ``seed``):

        - ``spiral``: ``n_per_class`` (100), ``n_classes`` (3), ``noise`` (0.2),
          ``n_test_per_class`` (same as train), ``n_val`` (0: validation points per class).
        - ``circles``, ``xor``, ``blobs``: ``n_train`` (500), ``n_test`` (same as train),
          ``n_val`` (0), ``noise`` (0.0, Playground's 0-0.5).
        - ``linear-6``: ``n_train`` (6), ``n_test`` (100), ``n_val`` (0), ``noise`` (0.2);
          regression on [0, 1].
        - ``quadratic``: ``n_train`` (100), ``n_test`` (100), ``n_val`` (0), ``noise`` (0.1);
          train on [0, 1], test on [1, 2] (extrapolation).

        User files (``file``): ``path`` (required), ``test_path``, ``label_column`` (-1),
        ``x_key``, ``y_key``, ``header``, ``delimiter``, ``task``
        (``"classification"``/``"regression"``); see :func:`load_file`.

        Common to all:

        - ``seed`` (0): int or ``np.random.Generator``; same seed, same arrays.
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
        Unknown dataset name (listing the valid names) or option (listing the valid ones).
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
    """
    builder = DATASETS.get_item(name)
    params = inspect.signature(builder).parameters
    unknown = [k for k in options if k not in params and k not in FETCH_OPTIONS]
    if unknown:
        valid = sorted(k for k in params)
        raise ValueError(f"load_dataset({name!r}): unknown option(s) {', '.join(unknown)}; "
                         f"valid options: {', '.join(valid)}")
    return builder(**{k: v for k, v in options.items() if k in params})
