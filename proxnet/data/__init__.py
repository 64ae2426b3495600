"""Datasets: MNIST family (IDX files, found on disk or downloaded), the 8x8 digits (vendored
from scikit-learn, read with NumPy only), synthetic generators and user files, all returned
as :class:`Splits`.

>>> from proxnet.data import load_dataset, DATASETS
>>> d = load_dataset("spiral", n_per_class=50, seed=0)
>>> d.X_train.shape, d.y_train.dtype, d.n_classes
((150, 2), dtype('int64'), 3)

MNIST files are looked for in ``data_dir`` or ``$PROXNET_DATA`` (``<dir>/mnist/``), then in
the download cache, else downloaded; see ``docs/datasets.md``.
"""
from .datasets import DATASETS, FETCH_OPTIONS, check_options, load_dataset, option_specs
from .digits import load_digits
from .download import (CACHE_ENV, DATA_ENV, ChecksumError, DatasetNotFoundError,
                       DownloadError, default_cache_dir, download_file)
from .files import load_file
from .generators import (make_blobs, make_circles, make_curve, make_fixed6, make_linear,
                         make_quadratic, make_spiral, make_xor)
from .idx import read_idx, write_idx
from .mnist import load_fashion_mnist, load_mnist, locate_files
from .options import OptionError
from .splits import Dataset, Splits, select_subsets, standardize, stratified_indices

__all__ = [
    "DATASETS", "FETCH_OPTIONS", "load_dataset", "check_options", "option_specs",
    "OptionError", "Splits", "Dataset",
    "load_mnist", "load_fashion_mnist", "load_digits", "load_file", "locate_files",
    "make_spiral", "make_circles", "make_xor", "make_blobs", "make_curve", "make_linear",
    "make_quadratic", "make_fixed6",
    "read_idx", "write_idx", "download_file", "default_cache_dir",
    "DatasetNotFoundError", "ChecksumError", "DownloadError", "DATA_ENV", "CACHE_ENV",
    "select_subsets", "standardize", "stratified_indices",
]
