"""User data from ``.npz`` or ``.csv`` files, read within bounded memory.

An ``.npz`` is read without ``np.load``: its zip directory and each array's ``.npy`` header
are checked first (declared sizes against each other and against ``max_bytes``, no
pickled objects, no complex values), then the arrays are inflated in chunks. A CSV is parsed
row by row with a cap on line length and on the memory the parsed table needs.
"""
from __future__ import annotations

import csv
import math
import os
import zipfile
from pathlib import Path

import numpy as np

from ..backend import resolve_dtype
from ..validation import all_finite
from .limits import DEFLATE_RATIO, MAX_BYTES, check_declared, check_max_bytes, human, read_exact

_NPZ_KEYS = (("X", "y"), ("x", "y"), ("X", "Y"), ("data", "target"), ("data", "labels"))
TASKS = ("classification", "regression")

MAX_LINE = 1 << 20
"""Longest CSV line accepted (characters)."""

KEEP_LABELS_BELOW = 1 << 16
"""Non-negative integer labels below this are kept as they are (classes ``0..max``); other
labels are encoded as indices into their sorted unique values."""

_NPY_KINDS = "biufUS"  # bool, integers, floats, byte and unicode strings


def load_file(path: str | os.PathLike, label_column=-1, *, x_key: str | None = None,
              y_key: str | None = None, header="auto", delimiter: str = ",",
              task: str = "classification", dtype="float32", return_classes: bool = False,
              max_bytes: int = MAX_BYTES):
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
        Classification: labels become int64 (N,); non-negative integer labels below 65,536
        are kept as they are, any other labels (strings, negative or larger integers,
        fractions) are encoded as indices into their sorted unique values.
        Regression: labels become float (N, 1) of ``dtype``.
    dtype : {"float32", "float64"}
        dtype of X (and of y for regression).
    return_classes : bool
        Also return the class values (index = encoded label); None for regression.
    max_bytes : int
        Cap on the memory a file may make the loader hold (default 4 GiB): the file's size,
        an ``.npz``'s declared array sizes (raw, plus X converted to ``dtype``) and a CSV's
        parsed table must all fit, or a ``ValueError`` says which did not, before the
        allocation.

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
        Unknown keys or columns, non-numeric or complex features, NaN/inf, mismatched
        lengths, a corrupted or oversized file, pickled objects.
    """
    path = Path(path)
    if task not in TASKS:
        raise ValueError(f"task: expected one of {TASKS}, got {task!r}")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    dt = resolve_dtype(dtype)
    max_bytes = check_max_bytes(max_bytes)
    check_declared(path.stat().st_size, max_bytes, str(path), "the file holds")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        X, y = _read_npz(path, x_key, y_key, max_bytes, dt.itemsize)
    elif suffix in (".csv", ".txt", ".tsv"):
        if suffix == ".tsv" and delimiter == ",":
            delimiter = "\t"
        X, y = _read_csv(path, label_column, header, delimiter, max_bytes)
    else:
        raise ValueError(f"{path}: expected a .npz or .csv file, got suffix {suffix!r}")
    try:
        X = np.asarray(X, dtype=dt)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: features are not numeric ({exc})") from None
    except MemoryError:
        raise ValueError(f"{path}: not enough memory to convert the features to "
                         f"{dt.name}") from None
    if X.ndim < 2:
        X = X.reshape(-1, 1)
    if not all_finite(X):
        raise ValueError(f"{path}: features contain NaN or inf values")
    y, classes = _labels(y, X.shape[0], task, dt, path)
    return (X, y, classes) if return_classes else (X, y)


def _labels(y, n_samples, task, dt, path):
    """Checked labels: an array from an .npz, or a list of str from a CSV."""
    if not isinstance(y, list):
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(f"{path}: expected labels of shape (N,), got {y.shape}")
    if len(y) != n_samples:
        raise ValueError(f"{path}: {n_samples} samples but {len(y)} labels")
    if task == "classification":
        return _encode_labels(y, path)
    try:
        y = np.asarray(y, dtype=dt).reshape(-1, 1)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: regression targets are not numeric ({exc})") from None
    if not np.isfinite(y).all():
        raise ValueError(f"{path}: targets contain NaN or inf values")
    return y, None


def _encode_labels(y, path):
    """int64 labels and their classes: small non-negative integers kept, anything else
    encoded by sorted unique value. ``y`` is an array or (from a CSV) a list of str."""
    if isinstance(y, list):
        try:
            y = np.array(y, dtype=np.float64)
        except ValueError:
            classes = sorted(set(y))
            index = {c: i for i, c in enumerate(classes)}
            return np.fromiter((index[c] for c in y), np.int64, len(y)), np.array(classes)
    elif y.dtype.kind in "US":
        try:
            y = y.astype(np.float64)
        except (TypeError, ValueError):
            classes, codes = np.unique(y.astype(str), return_inverse=True)
            return codes.astype(np.int64), classes
    if y.dtype.kind not in "biuf":
        raise ValueError(f"{path}: unsupported label dtype {y.dtype}")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError(f"{path}: labels contain NaN or inf values")
    if y.size == 0:
        return y.astype(np.int64), np.arange(0)
    if (y.min() >= 0 and y.max() < KEEP_LABELS_BELOW
            and (y.dtype.kind != "f" or np.all(y == np.round(y)))):
        y = y.astype(np.int64)
        return y, np.arange(int(y.max()) + 1)
    classes, codes = np.unique(y, return_inverse=True)
    return codes.astype(np.int64).reshape(-1), classes


def _npz_members(zf, path):
    """Array name -> ZipInfo of its ``.npy`` member."""
    return {i.filename[:-4]: i for i in zf.infolist() if i.filename.endswith(".npy")}


def _pick_keys(names, x_key, y_key, path):
    if x_key is None and y_key is None:
        pair = next(((a, b) for a, b in _NPZ_KEYS if a in names and b in names), None)
        if pair is None:
            raise ValueError(f"{path}: no feature/label arrays found; expected keys X and y "
                             f"(or x/y, data/target), got {names}; pass x_key and y_key")
        return pair
    for key, arg in ((x_key, "x_key"), (y_key, "y_key")):
        if key is None or key not in names:
            raise ValueError(f"{arg}: array {key!r} not in {path}; available: {names}")
    return x_key, y_key


def _npy_header(f, where):
    """(shape, fortran_order, dtype, header length) of an ``.npy`` stream, checked."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran, dtype = read(f)
    except (ValueError, TypeError, SyntaxError, EOFError) as exc:
        raise ValueError(f"{where}: not a valid .npy array header ({exc})") from None
    if dtype.hasobject:
        raise ValueError(f"{where}: holds Python objects (dtype {dtype}), which would need "
                         "pickle; refused")
    if dtype.kind == "c":
        raise ValueError(f"{where}: complex values (dtype {dtype}) are not supported; "
                         "store real features")
    if dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in _NPY_KINDS:
        raise ValueError(f"{where}: unsupported dtype {dtype}; expected numbers, booleans or "
                         "strings")
    return shape, fortran, dtype, f.tell()


def _check_member(info, path, where):
    """The zip directory's sizes must be possible for the member's compression."""
    if info.flag_bits & 0x1:
        raise ValueError(f"{where}: encrypted archive members are not supported")
    if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
        raise ValueError(f"{where}: corrupted zip directory: stored member of "
                         f"{info.compress_size} bytes declares {info.file_size}")
    if (info.compress_type == zipfile.ZIP_DEFLATED
            and info.file_size > DEFLATE_RATIO * info.compress_size + 1024):
        raise ValueError(f"{where}: corrupted zip directory: {info.compress_size} compressed "
                         f"bytes cannot inflate to the declared {info.file_size}")


def _read_npz(path, x_key, y_key, max_bytes, out_itemsize):
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a valid .npz file (a zip archive of .npy arrays): "
                         f"{exc}") from None
    with zf:
        members = _npz_members(zf, path)
        keys = _pick_keys(list(members), x_key, y_key, path)
        infos = [members[k] for k in keys]
        for info in infos:
            _check_member(info, path, f"{path}[{info.filename}]")
        check_declared(sum(i.file_size for i in infos), max_bytes, str(path),
                       f"its arrays {list(keys)} declare")
        try:
            return _read_arrays(zf, infos, path, max_bytes, out_itemsize)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError,
                NotImplementedError, RuntimeError) as exc:
            raise ValueError(f"{path}: corrupted .npz file ({exc})") from None


def _read_arrays(zf, infos, path, max_bytes, out_itemsize):
    """Read the headers of the members, check the sizes, then the payloads."""
    streams = [zf.open(i) for i in infos]
    try:
        heads = []
        for info, f in zip(infos, streams):
            where = f"{path}[{info.filename}]"
            shape, fortran, dtype, hlen = _npy_header(f, where)
            n_bytes = math.prod(shape) * dtype.itemsize
            if n_bytes != info.file_size - hlen:
                raise ValueError(f"{where}: its header declares shape {shape} of {dtype} = "
                                 f"{n_bytes} bytes, but the zip directory says the member "
                                 f"holds {info.file_size - hlen}")
            heads.append((where, shape, fortran, dtype, n_bytes))
        need = sum(h[4] for h in heads) + math.prod(heads[0][1]) * out_itemsize
        check_declared(need, max_bytes, str(path), "reading and converting its arrays needs")
        return tuple(_payload(f, *h) for f, h in zip(streams, heads))
    finally:
        for f in streams:
            f.close()


def _payload(f, where, shape, fortran, dtype, n_bytes):
    data = read_exact(f.read, n_bytes, where)
    if len(data) < n_bytes:
        raise ValueError(f"{where}: truncated array: {len(data)} of {n_bytes} bytes")
    f.read(1)  # reach the member's end, where zipfile checks its CRC
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")


def _is_number(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


def _lines(f, path):
    """The file's lines, refusing any longer than :data:`MAX_LINE` characters."""
    while line := f.readline(MAX_LINE + 1):
        if len(line) > MAX_LINE:
            raise ValueError(f"{path}: a line longer than {MAX_LINE} characters; is this a "
                             "CSV file?")
        yield line


def _csv_rows(f, path, delimiter):
    try:
        for row in csv.reader(_lines(f, path), delimiter=delimiter):
            if row and any(c.strip() for c in row):
                yield row
    except csv.Error as exc:
        raise ValueError(f"{path}: not a readable CSV file ({exc})") from None


def _label_index(first, label_column, header, path):
    """(label column index, whether the first row is a header)."""
    width = len(first)
    if width < 2:
        raise ValueError(f"{path}: expected at least 2 columns (features and a label), got "
                         f"{width}")
    if isinstance(label_column, str):
        if header is False:
            raise ValueError(f"label_column: a name ({label_column!r}) needs a header row")
        names = [c.strip() for c in first]
        if label_column not in names:
            raise ValueError(f"label_column: {label_column!r} not in the header of {path}; "
                             f"columns: {names}")
        return names.index(label_column), True
    if isinstance(label_column, (int, np.integer)) and not isinstance(label_column, bool):
        if not -width <= label_column < width:
            raise ValueError(f"label_column: index {label_column} out of range for {width} "
                             f"columns in {path}")
        col = int(label_column) % width
        if header == "auto":
            return col, any(not _is_number(c) for i, c in enumerate(first) if i != col)
        return col, bool(header)
    raise ValueError(f"label_column: expected a column index or name, got {label_column!r}")


def _feature_block(block, path):
    try:
        return np.array(block, dtype=np.float64).reshape(len(block), -1)
    except ValueError as exc:
        raise ValueError(f"{path}: non-numeric feature value ({exc}); features must be numbers "
                         "(is the label column right?)") from None


def _read_csv(path, label_column, header, delimiter, max_bytes):
    """Features (N, D) float64 and labels (list of str), parsed in blocks of rows."""
    with open(path, newline="") as f:
        rows = _csv_rows(f, path, delimiter)
        first = next(rows, None)
        if first is None:
            raise ValueError(f"{path}: empty CSV file")
        col, has_header = _label_index(first, label_column, header, path)
        width, per_row = len(first), 16 * (len(first) - 1) + 64
        blocks, block, labels, used = [], [], [], 0
        for i, r in enumerate(rows if has_header else _prepend(first, rows)):
            if len(r) != width:
                raise ValueError(f"{path}: row {i + 1 + has_header} has {len(r)} fields, "
                                 f"expected {width}")
            labels.append(r.pop(col).strip())
            block.append(r)
            used += per_row + 4 * len(labels[-1])
            if used > max_bytes:
                raise ValueError(f"{path}: its parsed table needs more than max_bytes="
                                 f"{max_bytes} ({human(max_bytes)}) (stopped at row "
                                 f"{i + 1 + has_header}); pass a larger max_bytes or use .npz")
            if len(block) == 4096:
                blocks.append(_feature_block(block, path))
                block = []
    if block:
        blocks.append(_feature_block(block, path))
    if not labels:
        raise ValueError(f"{path}: no data rows")
    return np.concatenate(blocks), labels


def _prepend(first, rows):
    yield first
    yield from rows
