"""MNIST read from the shared folder through $PROXNET_DATA, plus folder-lookup rules
checked on small synthetic files."""
import gzip
import time

import numpy as np
import pytest

from proxnet.data import DatasetNotFoundError, load_dataset, load_fashion_mnist, load_mnist

CLASS_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def test_full_mnist_statistics(mnist_full):
    d = mnist_full
    assert d.name == "mnist" and d.n_classes == 10 and d.input_shape == (784,)
    assert d.X_train.shape == (60000, 784) and d.X_test.shape == (10000, 784)
    assert d.X_val is None and d.val is None
    assert d.X_train.dtype == np.float32 and d.y_train.dtype == np.int64
    assert d.y_train.shape == (60000,) and d.y_test.shape == (10000,)
    np.testing.assert_array_equal(np.bincount(d.y_train), CLASS_COUNTS)
    assert np.bincount(d.y_test).sum() == 10000
    assert d.X_train.min() == 0.0 and d.X_train.max() == 1.0
    assert d.X_train.mean(dtype=np.float64) == pytest.approx(0.1307, abs=5e-5)
    assert d.X_train.std(dtype=np.float64) == pytest.approx(0.3081, abs=5e-5)
    assert d.meta["files"][0].endswith("train-images-idx3-ubyte.gz")


def test_load_time_and_env(mnist_env):
    t0 = time.perf_counter()
    X, y = load_mnist()
    X_test, y_test = load_mnist(split="test")
    elapsed = time.perf_counter() - t0
    assert X.shape == (60000, 784) and X_test.shape == (10000, 784)
    assert elapsed < 10, f"loading MNIST took {elapsed:.2f} s"


def test_validation_nchw_standardized(mnist_full, mnist_env):
    d = load_dataset("mnist", subset="validation", flatten=False, standardize=True,
                     dtype="float64")
    assert d.X_train.shape == (50000, 1, 28, 28) and d.X_val.shape == (10000, 1, 28, 28)
    assert d.X_test.shape == (10000, 1, 28, 28) and d.X_train.dtype == np.float64
    assert d.input_shape == (1, 28, 28)
    # validation = last 10,000 of the training file, deterministically
    np.testing.assert_array_equal(d.y_val, mnist_full.y_train[50000:])
    np.testing.assert_array_equal(d.y_train, mnist_full.y_train[:50000])
    # statistics from the 50,000 training images only, applied to val and test
    mean, std = d.stats["mean"], d.stats["std"]
    raw_train = mnist_full.X_train[:50000].astype(np.float64)
    assert mean == pytest.approx(raw_train.mean(), rel=1e-6)
    assert std == pytest.approx(raw_train.std(), rel=1e-6)
    assert d.X_train.mean() == pytest.approx(0, abs=1e-9)
    assert d.X_train.std() == pytest.approx(1, abs=1e-9)
    np.testing.assert_allclose(d.X_test.reshape(10000, 784),
                               (mnist_full.X_test.astype(np.float64) - mean) / std,
                               rtol=0, atol=1e-6)


def test_first_and_stratified_subsets(mnist_full, mnist_env):
    first = load_dataset("mnist", subset="first")
    assert first.X_train.shape == (1000, 784) and first.X_test.shape == (2000, 784)
    np.testing.assert_array_equal(first.X_train, mnist_full.X_train[:1000])
    np.testing.assert_array_equal(first.y_test, mnist_full.y_test[:2000])

    s1 = load_dataset("mnist", subset="stratified", n_train=600, n_test=300, seed=3)
    s2 = load_dataset("mnist", subset="stratified", n_train=600, n_test=300, seed=3)
    np.testing.assert_array_equal(s1.X_train, s2.X_train)
    expected = np.array(CLASS_COUNTS) / 60000 * 600
    assert np.all(np.abs(np.bincount(s1.y_train, minlength=10) - expected) < 1)
    assert s1.X_test.shape == (300, 784)


def test_test_split_and_scale_off(mnist_env):
    X, y = load_mnist(split="test", scale=False, flatten=False)
    assert X.shape == (10000, 1, 28, 28) and X.max() == 255.0 and X.dtype == np.float32
    assert y.min() == 0 and y.max() == 9


def test_data_dir_is_the_files_folder(mnist_env):
    X, _ = load_mnist(mnist_env / "mnist", split="test", download=False)
    assert X.shape == (10000, 784)


def test_raw_idx_and_folder_rules(make_files, tmp_path, monkeypatch):
    root = tmp_path / "data"
    make_files(root / "fashion-mnist", compress=False)
    monkeypatch.setenv("PROXNET_DATA", str(root))
    X, y = load_fashion_mnist(split="train", download=False)
    assert X.shape == (30, 784) and X.max() <= 1
    # a folder named after another dataset is not taken for this one
    with pytest.raises(DatasetNotFoundError):
        load_mnist(root / "fashion-mnist", download=False)
    # the data_dir argument wins over the environment variable
    make_files(tmp_path / "other" / "mnist", seed=1)
    X1, _ = load_mnist(tmp_path / "other", download=False)
    assert not np.array_equal(X1, load_fashion_mnist(root, download=False)[0])
    # the 'train-images.idx3-ubyte' spelling is accepted too
    alt = tmp_path / "alt" / "mnist"
    alt.mkdir(parents=True)
    for p in (tmp_path / "other" / "mnist").iterdir():
        (alt / p.name.replace("-idx", ".idx").removesuffix(".gz")).write_bytes(
            gzip.decompress(p.read_bytes()))
    np.testing.assert_array_equal(load_mnist(tmp_path / "alt", download=False)[0], X1)


def test_corrupted_local_file_names_it(make_files, tmp_path):
    folder = tmp_path / "mnist"
    make_files(folder)
    bad = folder / "t10k-images-idx3-ubyte.gz"
    bad.write_bytes(gzip.compress(gzip.decompress(bad.read_bytes())[:-28]))
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.gz: truncated IDX file"):
        load_mnist(tmp_path, split="test", download=False)


def test_bad_arguments(make_files, tmp_path):
    make_files(tmp_path / "mnist")
    with pytest.raises(ValueError, match="split: expected 'train' or 'test'"):
        load_mnist(tmp_path, split="val")
    with pytest.raises(ValueError, match="dtype"):
        load_mnist(tmp_path, dtype="int8")
    with pytest.raises(ValueError, match="subset: expected one of 'full', .*got 'firsts'"):
        load_dataset("mnist", data_dir=tmp_path, subset="firsts")
    with pytest.raises(ValueError, match="n_train: asked for 1000 but only 30"):
        load_dataset("mnist", data_dir=tmp_path, subset="first")
    with pytest.raises(ValueError, match="n_train: only used with subset"):
        load_dataset("mnist", data_dir=tmp_path, n_train=10)
    d = load_dataset("mnist", data_dir=tmp_path, subset="first", n_train=10, n_test=None,
                     val_size=5)
    assert d.X_train.shape[0] == 10 and d.X_val.shape[0] == 5 and d.X_test.shape[0] == 20
