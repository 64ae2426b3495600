"""scikit-learn's bundled 8x8 handwritten digits: the dataset that needs no files or network."""
from __future__ import annotations

import numpy as np

from .mnist import to_float
from .splits import stratified_split


def digits_raw():
    """Return all 1,797 digits as ``(images uint8 (1797, 8, 8), labels int64 (1797,))``.

    Pixel values are 0..16. scikit-learn is imported here, lazily.
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    bunch = _sk_load_digits()
    return bunch.images.astype(np.uint8), bunch.target.astype(np.int64)


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
