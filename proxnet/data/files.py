"""User data from ``.npz`` or ``.csv`` files."""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from ..backend import resolve_dtype

_NPZ_KEYS = (("X", "y"), ("x", "y"), ("X", "Y"), ("data", "target"), ("data", "labels"))
TASKS = ("classification", "regression")


def load_file(path: str | os.PathLike, label_column=-1, *, x_key: str | None = None,
              y_key: str | None = None, header="auto", delimiter: str = ",",
              task: str = "classification", dtype="float32", return_classes: bool = False):
    """Load features and labels from a ``.npz`` or ``.csv`` file.

    Parameters
    ----------
    path : str or PathLike
        ``.npz`` (loaded with ``allow_pickle=False``) or ``.csv`` / ``.txt`` / ``.tsv``.
    label_column : int or str
        CSV only: the label column, by index (negative counts from the end; default -1, the
        last column) or by header name. All other columns are features.
    x_key, y_key : str, optional
        NPZ only: array names. Default: the first pair present among ``X``/``y``, ``x``/``y``,
        ``X``/``Y``, ``data``/``target``, ``data``/``labels``.
    header : "auto", bool
        CSV only: whether the first row is a header. ``"auto"``: it is when any of its feature
        fields is not a number.
    delimiter : str
        CSV only; ``.tsv`` files default to a tab.
    task : {"classification", "regression"}
        Classification: labels become int64 (N,); integer labels are kept as they are, any
        other labels (strings, ...) are encoded as indices into their sorted unique values.
        Regression: labels become float (N, 1) of ``dtype``.
    dtype : {"float32", "float64"}
        dtype of X (and of y for regression).
    return_classes : bool
        Also return the class values (index = encoded label); None for regression.

    Returns
    -------
    X : ndarray of shape (N, D) for CSV, (N, ...) as stored for NPZ, ``dtype``
    y : ndarray of shape (N,) int64 (classification) or (N, 1) ``dtype`` (regression)
    classes : ndarray, only when ``return_classes``

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        Unknown keys or columns, non-numeric features, NaN/inf, mismatched lengths.
    """
    path = Path(path)
    if task not in TASKS:
        raise ValueError(f"task: expected one of {TASKS}, got {task!r}")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    dt = resolve_dtype(dtype)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        X, y = _read_npz(path, x_key, y_key)
    elif suffix in (".csv", ".txt", ".tsv"):
        if suffix == ".tsv" and delimiter == ",":
            delimiter = "\t"
        X, y = _read_csv(path, label_column, header, delimiter)
    else:
        raise ValueError(f"{path}: expected a .npz or .csv file, got suffix {suffix!r}")
    try:
        X = np.asarray(X, dtype=dt)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: features are not numeric ({exc})") from None
    if X.ndim < 2:
        X = X.reshape(-1, 1)
    if not np.isfinite(X).all():
        raise ValueError(f"{path}: features contain NaN or inf values")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{path}: expected labels of shape (N,), got {y.shape}")
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"{path}: {X.shape[0]} samples but {y.shape[0]} labels")
    if task == "regression":
        try:
            y = y.astype(dt).reshape(-1, 1)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: regression targets are not numeric ({exc})") from None
        if not np.isfinite(y).all():
            raise ValueError(f"{path}: targets contain NaN or inf values")
        classes = None
    else:
        y, classes = _encode_labels(y, path)
    return (X, y, classes) if return_classes else (X, y)


def _encode_labels(y, path):
    """int64 labels: non-negative integers kept, anything else encoded by sorted unique value."""
    if y.dtype.kind in "USO":
        try:
            y = y.astype(np.float64)
        except (TypeError, ValueError):
            classes, codes = np.unique(y.astype(str), return_inverse=True)
            return codes.astype(np.int64), classes
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise ValueError(f"{path}: labels contain NaN or inf values")
        if not np.all(y == np.round(y)):
            classes, codes = np.unique(y, return_inverse=True)
            return codes.astype(np.int64), classes
    if y.dtype.kind not in "biuf":
        raise ValueError(f"{path}: unsupported label dtype {y.dtype}")
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        classes, codes = np.unique(y, return_inverse=True)
        return codes.astype(np.int64), classes
    return y, np.arange(int(y.max()) + 1 if y.size else 0)


def _read_npz(path, x_key, y_key):
    with np.load(path, allow_pickle=False) as z:
        names = list(z.files)
        if x_key is None and y_key is None:
            pair = next(((a, b) for a, b in _NPZ_KEYS if a in names and b in names), None)
            if pair is None:
                raise ValueError(f"{path}: no feature/label arrays found; expected keys X and y "
                                 f"(or x/y, data/target), got {names}; pass x_key and y_key")
            x_key, y_key = pair
        for key, arg in ((x_key, "x_key"), (y_key, "y_key")):
            if key is None or key not in names:
                raise ValueError(f"{arg}: array {key!r} not in {path}; available: {names}")
        try:
            return z[x_key], z[y_key]
        except ValueError as exc:  # object arrays need pickle: refused on purpose
            raise ValueError(f"{path}: cannot load arrays without pickle ({exc})") from None


def _is_number(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


def _read_csv(path, label_column, header, delimiter):
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(f, delimiter=delimiter) if r and any(c.strip() for c in r)]
    if not rows:
        raise ValueError(f"{path}: empty CSV file")
    width = len(rows[0])
    if width < 2:
        raise ValueError(f"{path}: expected at least 2 columns (features and a label), got "
                         f"{width}")
    if isinstance(label_column, str):
        if header is False:
            raise ValueError(f"label_column: a name ({label_column!r}) needs a header row")
        names = [c.strip() for c in rows[0]]
        if label_column not in names:
            raise ValueError(f"label_column: {label_column!r} not in the header of {path}; "
                             f"columns: {names}")
        col = names.index(label_column)
        has_header = True
    elif isinstance(label_column, (int, np.integer)) and not isinstance(label_column, bool):
        if not -width <= label_column < width:
            raise ValueError(f"label_column: index {label_column} out of range for {width} "
                             f"columns in {path}")
        col = int(label_column) % width
        if header == "auto":
            has_header = any(not _is_number(c) for i, c in enumerate(rows[0]) if i != col)
        else:
            has_header = bool(header)
    else:
        raise ValueError(f"label_column: expected a column index or name, got {label_column!r}")
    data = rows[1:] if has_header else rows
    if not data:
        raise ValueError(f"{path}: no data rows")
    for i, r in enumerate(data):
        if len(r) != width:
            raise ValueError(f"{path}: row {i + 1 + has_header} has {len(r)} fields, expected "
                             f"{width}")
    table = np.array(data, dtype=str)
    labels = np.char.strip(table[:, col])
    feats = np.delete(table, col, axis=1)
    try:
        X = feats.astype(np.float64)
    except ValueError as exc:
        raise ValueError(f"{path}: non-numeric feature value ({exc}); features must be numbers "
                         "(is the label column right?)") from None
    return X, labels
