"""MNIST and Fashion-MNIST (IDX files): find them on disk or download them, check, load.

Where files are looked for, in order:

1. ``data_dir`` (argument) or else ``$PROXNET_DATA``: in its ``mnist/`` (or
   ``fashion-mnist/``) subfolder, or in the folder itself;
2. the download cache, ``<cache_dir>/mnist/`` (see :func:`default_cache_dir`);
3. otherwise (``download=True``) the files are downloaded into the cache from the mirrors,
   checked against their published MD5, and written atomically.

Each file may be gzip-compressed (``.gz``) or raw IDX.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..backend import resolve_dtype
from .download import (DATA_ENV, ChecksumError, DatasetNotFoundError, default_cache_dir,
                       download_file)
from .idx import read_idx
from .limits import MAX_BYTES

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
"""Split -> (images file, labels file), without the ``.gz`` suffix."""

IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049  # 0x00000803 (uint8, 3-D), 0x00000801 (uint8, 1-D)

IDX_DATASETS = {
    "mnist": {
        "title": "MNIST",
        "subdirs": ("mnist", "MNIST"),
        "mirrors": (
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        "md5": {
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaabb4d877e247bc6d3c01",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
        "sizes": {
            "train-images-idx3-ubyte.gz": 9912422,
            "train-labels-idx1-ubyte.gz": 28881,
            "t10k-images-idx3-ubyte.gz": 1648877,
            "t10k-labels-idx1-ubyte.gz": 4542,
        },
        "classes": tuple(str(d) for d in range(10)),
    },
    "fashion-mnist": {
        "title": "Fashion-MNIST",
        "subdirs": ("fashion-mnist", "fashion_mnist", "FashionMNIST"),
        "mirrors": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        "md5": {
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
        "sizes": {
            "train-images-idx3-ubyte.gz": 26421880,
            "train-labels-idx1-ubyte.gz": 29515,
            "t10k-images-idx3-ubyte.gz": 4422102,
            "t10k-labels-idx1-ubyte.gz": 5148,
        },
        "classes": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                    "Sneaker", "Bag", "Ankle boot"),
    },
}
"""Per dataset: folder names, download mirrors, published MD5 and size of the ``.gz`` files,
classes."""


def _spec(name):
    if name not in IDX_DATASETS:
        raise ValueError(f"unknown IDX dataset {name!r}; valid names: {', '.join(IDX_DATASETS)}")
    return IDX_DATASETS[name]


def _check_split(split):
    if split not in FILES:
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}")


def _variants(base):
    """Accepted file names for ``base``: with/without ``.gz``, and the ``train-images.idx3-ubyte``
    spelling some archives use."""
    dotted = base.replace("-idx", ".idx")
    return (base + ".gz", base, dotted + ".gz", dotted)


def _search_dirs(name, data_dir):
    """Folders to look in for ``name`` given a data folder (argument or env), with labels."""
    spec = _spec(name)
    root, origin = (data_dir, "the data_dir argument") if data_dir is not None else (
        os.environ.get(DATA_ENV) or None, f"${DATA_ENV}")
    if root is None:
        return []
    root = Path(root).expanduser()
    dirs = [(root / sub, origin) for sub in spec["subdirs"]]
    # The folder itself may hold the files, unless it is clearly another dataset's folder.
    others = {s.lower() for n, o in IDX_DATASETS.items() if n != name for s in o["subdirs"]}
    if root.name.lower() not in others:
        dirs.append((root, origin))
    return dirs


def _find(base, folder):
    for fname in _variants(base):
        p = folder / fname
        if p.is_file():
            return p
    return None


def _pick_folder(name, split, dirs, cache_sub):
    """The one folder a split's files come from: ``(folder, [images or None, labels or
    None])``, the first folder (in lookup order) holding either file; ``(cache_sub, [None,
    None])`` when none does. A data folder holding one file of the pair is an error: images
    and labels are never taken from different folders."""
    for folder, origin in dirs + [(cache_sub, "download cache")]:
        found = [_find(base, folder) for base in FILES[split]]
        if all(found) or (any(found) and folder == cache_sub):
            return folder, found
        if any(found):
            have, miss = (FILES[split][0], FILES[split][1]) if found[0] else (
                FILES[split][1], FILES[split][0])
            raise DatasetNotFoundError(
                f"{_spec(name)['title']} {split} files: {folder} ({origin}) holds {have} but "
                f"not {miss}; the images and labels of one split must come from the same "
                f"folder: put {miss}.gz beside it (or remove {have})")
    return cache_sub, [None, None]


def locate_files(name: str = "mnist", split: str = "train", data_dir=None, *,
                 download: bool = True, cache_dir=None, mirrors=None, checksums=None,
                 timeout: float = 30.0) -> tuple[Path, Path]:
    """Return the paths of the images and labels files of one split, downloading if needed.

    Both files always come from one folder: the first folder in lookup order (``data_dir``
    or ``$PROXNET_DATA``, then the cache) that holds either of them. A data folder holding
    only one of the two is an error; in the cache, the missing one is downloaded beside it.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist"}
    split : {"train", "test"}
    data_dir : str or PathLike, optional
        Data folder holding ``<name>/`` (e.g. ``mnist/``) or the files themselves. Default:
        ``$PROXNET_DATA``.
    download : bool
        Download missing files into the cache (default True).
    cache_dir : str or PathLike, optional
        Download cache (default :func:`default_cache_dir`); files go to ``cache_dir/<name>/``.
    mirrors : sequence of str, optional
        ``http(s)`` base URLs tried in order (default: the public mirrors of the dataset).
    checksums : dict, optional
        ``{"train-images-idx3-ubyte.gz": md5, ...}`` overriding the published MD5s (tests
        serving synthetic files use this); a file whose MD5 is overridden is not held to its
        published size either.
    timeout : float
        Seconds to connect, and the longest silence while receiving; each file also has an
        overall deadline, a minimum rate and a size cap (see :func:`download_file`).

    Returns
    -------
    (images_path, labels_path) : tuple of Path

    Raises
    ------
    DatasetNotFoundError
        Files not on disk and not downloadable, or only one of the pair in a data folder; the
        message lists folders and file names.
    ChecksumError
        A download did not match its checksum (nothing is kept).
    """
    spec = _spec(name)
    _check_split(split)
    dirs = _search_dirs(name, data_dir)
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    cache_sub = cache / name
    folder, paths = _pick_folder(name, split, dirs, cache_sub)
    missing = [base for base, p in zip(FILES[split], paths) if p is None]
    if not missing:
        return tuple(paths)
    failure = ""
    if download:
        try:
            return _download_missing(spec, split, paths, cache_sub, mirrors, checksums,
                                     timeout)
        except ChecksumError:
            raise
        except ConnectionError as exc:
            failure = f"\nDownloading failed:\n{exc}"
    raise DatasetNotFoundError(_not_found_message(name, split, missing, dirs, cache_sub)
                               + (failure or "\n(download=False: no download was tried)"))


def _download_missing(spec, split, paths, cache_sub, mirrors, checksums, timeout):
    md5 = dict(spec["md5"], **(checksums or {}))
    mirror_list = tuple(mirrors) if mirrors is not None else spec["mirrors"]
    paths = list(paths)
    for i, base in enumerate(FILES[split]):
        if paths[i] is None:
            fname = base + ".gz"
            size = None if fname in (checksums or {}) else spec["sizes"].get(fname)
            paths[i] = download_file(fname, cache_sub, mirror_list, md5=md5.get(fname),
                                     size=size, timeout=timeout)
    return tuple(paths)


def _not_found_message(name, split, missing, dirs, cache_sub):
    spec = _spec(name)
    sub = spec["subdirs"][0]
    lines = [f"{spec['title']} {split} files not found. Put these files (gzip-compressed "
             "'.gz' or raw IDX):"]
    lines += [f"    {b}.gz" for b in missing]
    lines.append("into one of these folders:")
    seen = set()
    for d, origin in dirs + [(cache_sub, "download cache")]:
        if d not in seen and d.name not in spec["subdirs"][1:]:
            seen.add(d)
            lines.append(f"    {d}/   ({origin})")
    env = os.environ.get(DATA_ENV)
    lines.append(f"or set the environment variable {DATA_ENV} to a folder with a '{sub}/' "
                 f"subfolder holding them (now {'%r' % env if env else 'unset'}), e.g. "
                 f"{DATA_ENV}=/path/to/data with /path/to/data/{sub}/{missing[0]}.gz")
    return "\n".join(lines)


def load_idx_pair(images_path, labels_path, *, image_shape=(28, 28), n_classes=10,
                  max_bytes=MAX_BYTES):
    """Read and cross-check an images file and its labels file.

    Parameters
    ----------
    images_path, labels_path : str or PathLike
        IDX files (``.gz`` or raw).
    image_shape : tuple of int
        Expected (rows, cols).
    n_classes : int
        Labels must lie in ``[0, n_classes)``.
    max_bytes : int
        Largest payload accepted per file (see :func:`~proxnet.data.idx.read_idx`).

    Returns
    -------
    images : ndarray of shape (N, rows, cols), uint8
    labels : ndarray of shape (N,), int64

    Raises
    ------
    ValueError
        Wrong magic, dimensions, truncated payload, data past the declared size, count
        mismatch, or labels out of range; the message names the file.
    """
    images = read_idx(images_path, expected_magic=IMAGE_MAGIC,
                      expected_shape=(None, *image_shape), max_bytes=max_bytes)
    n = images.shape[0]
    labels = read_idx(labels_path, expected_magic=LABEL_MAGIC, max_bytes=max_bytes)
    if labels.shape[0] != n:
        raise ValueError(f"{labels_path}: {labels.shape[0]} labels, expected {n} (one per image "
                         f"of {images_path})")
    if n and labels.max() >= n_classes:
        raise ValueError(f"{labels_path}: label {int(labels.max())} out of range, expected "
                         f"0..{n_classes - 1}")
    return images, labels.astype(np.int64)


def load_raw(name: str = "mnist", split: str = "train", data_dir=None, **fetch):
    """Return ``(images uint8 (N, 28, 28), labels int64 (N,))`` of one split, unscaled.

    ``fetch`` options are those of :func:`locate_files` (``download``, ``cache_dir``,
    ``mirrors``, ``checksums``, ``timeout``).
    """
    images_path, labels_path = locate_files(name, split, data_dir, **fetch)
    return load_idx_pair(images_path, labels_path,
                         n_classes=len(_spec(name)["classes"]))


def to_float(images, *, flatten=True, scale=True, dtype=None, max_value=255.0):
    """Convert integer images (N, H, W) to float model inputs.

    Parameters
    ----------
    images : ndarray of shape (N, H, W), integer
    flatten : bool
        True: (N, H*W). False: NCHW (N, 1, H, W).
    scale : bool
        Divide by ``max_value`` so pixels lie in [0, 1].
    dtype : float32 (default) or float64

    Returns
    -------
    ndarray of shape (N, H*W) or (N, 1, H, W), ``dtype``
    """
    dt = resolve_dtype(dtype)
    if scale:
        X = np.divide(images, dt.type(max_value), dtype=dt)
    else:
        X = images.astype(dt)
    n, h, w = images.shape
    return X.reshape(n, h * w) if flatten else X.reshape(n, 1, h, w)


def _load(name, data_dir, split, flatten, scale, dtype, fetch):
    images, labels = load_raw(name, split, data_dir, **fetch)
    return to_float(images, flatten=flatten, scale=scale, dtype=dtype), labels


def load_mnist(data_dir=None, split: str = "train", *, flatten: bool = True,
               scale: bool = True, dtype="float32", download: bool = True, cache_dir=None,
               mirrors=None, checksums=None, timeout: float = 30.0):
    """Load one split of MNIST.

    Parameters
    ----------
    data_dir : str or PathLike, optional
        Folder with a ``mnist/`` subfolder (or the folder holding the files). Default:
        ``$PROXNET_DATA``; then the download cache.
    split : {"train", "test"}
        60,000 training or 10,000 test images.
    flatten : bool
        True: X of shape (N, 784). False: NCHW, (N, 1, 28, 28).
    scale : bool
        Scale pixels from 0..255 to [0, 1] (default True).
    dtype : {"float32", "float64"}
    download, cache_dir, mirrors, checksums, timeout
        See :func:`locate_files`.

    Returns
    -------
    X : ndarray of shape (N, 784) or (N, 1, 28, 28), ``dtype``
    y : ndarray of shape (N,), int64, labels 0..9

    Raises
    ------
    DatasetNotFoundError
        Files neither on disk nor downloadable (the message says where to put them).
    ValueError
        A truncated or corrupted file (the message names it).
    """
    return _load("mnist", data_dir, split, flatten, scale, dtype,
                 dict(download=download, cache_dir=cache_dir, mirrors=mirrors,
                      checksums=checksums, timeout=timeout))


def load_fashion_mnist(data_dir=None, split: str = "train", *, flatten: bool = True,
                       scale: bool = True, dtype="float32", download: bool = True,
                       cache_dir=None, mirrors=None, checksums=None, timeout: float = 30.0):
    """Load one split of Fashion-MNIST (files in ``<data_dir>/fashion-mnist/``).

    Same parameters and returns as :func:`load_mnist`; labels 0..9 name
    ``IDX_DATASETS["fashion-mnist"]["classes"]`` (T-shirt/top, Trouser, ...).
    """
    return _load("fashion-mnist", data_dir, split, flatten, scale, dtype,
                 dict(download=download, cache_dir=cache_dir, mirrors=mirrors,
                      checksums=checksums, timeout=timeout))
