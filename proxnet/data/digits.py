"""The 8x8 handwritten digits, vendored: the dataset that needs no files, no network and no
scikit-learn.

``digits.csv.gz`` beside this module is scikit-learn's copy of the UCI ML hand-written digits
(test set of "Optical Recognition of Handwritten Digits", Alpaydin & Kaynak, 1998), copied
unchanged; origin and licences (BSD-3 for the file, CC BY 4.0 for the data) are in
``DIGITS_LICENSE.txt`` beside it. It is read with NumPy only and gives exactly the arrays of
``sklearn.datasets.load_digits()``.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
from pathlib import Path

import numpy as np

from .mnist import to_float
from .splits import stratified_split

DIGITS_FILE = Path(__file__).with_name("digits.csv.gz")
"""The vendored data: 1,797 rows of 64 pixel values (0..16) and the label."""

DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"


@functools.lru_cache(maxsize=1)
def _parse():
    data = DIGITS_FILE.read_bytes()
    if hashlib.sha256(data).hexdigest() != DIGITS_SHA256:
        raise ValueError(f"{DIGITS_FILE}: corrupted package data (SHA-256 differs from the "
                         "vendored file); reinstall proxnet")
    table = np.loadtxt(gzip.decompress(data).decode("ascii").splitlines(), delimiter=",",
                       dtype=np.int64)
    images, labels = table[:, :64].astype(np.uint8).reshape(-1, 8, 8), table[:, 64]
    images.flags.writeable = labels.flags.writeable = False
    return images, labels


def digits_raw():
    """Return all 1,797 digits as ``(images uint8 (1797, 8, 8), labels int64 (1797,))``.

    Pixel values are 0..16; new arrays on each call (parsed once per process).
    """
    images, labels = _parse()
    return images.copy(), labels.copy()


def load_digits(split: str = "train", *, test_size: float = 0.2, seed=0, flatten: bool = True,
                scale: bool = True, dtype="float32"):
    """Load one split of the 8x8 digits with a seeded, stratified train/test split.

    Parameters
    ----------
    split : {"train", "test"}
    test_size : float in (0, 1) or int
        Fraction (or number) of the 1,797 images in the test split; default 0.2 gives
        1,438 / 359.
    seed : int or np.random.Generator
        Seed of the split; the same seed gives the same split, bit for bit.
    flatten : bool
        True: X of shape (N, 64). False: NCHW, (N, 1, 8, 8).
    scale : bool
        Scale pixels from 0..16 to [0, 1] (default True).
    dtype : {"float32", "float64"}

    Returns
    -------
    X : ndarray of shape (N, 64) or (N, 1, 8, 8), ``dtype``
    y : ndarray of shape (N,), int64, labels 0..9

    Examples
    --------
    >>> X, y = load_digits("test")
    >>> X.shape, X.dtype, y.shape, y.dtype
    ((359, 64), dtype('float32'), (359,), dtype('int64'))
    """
    if split not in ("train", "test"):
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
    images, labels = digits_raw()
    train_idx, test_idx = stratified_split(labels, test_size, seed)
    idx = train_idx if split == "train" else test_idx
    return to_float(images[idx], flatten=flatten, scale=scale, dtype=dtype,
                    max_value=16.0), labels[idx]
