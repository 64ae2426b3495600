"""load_dataset / DATASETS, the Splits container, digits, subsets and standardization."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import proxnet.data as data
from proxnet.data import DATASETS, Splits, load_dataset, load_digits, stratified_indices

NAMES = {"digits", "mnist", "fashion-mnist", "spiral", "circles", "xor", "blobs", "linear-6",
         "quadratic", "fixed-6", "file"}
GENERATED = ["spiral", "circles", "xor", "blobs", "linear-6", "quadratic"]


def test_registry_names():
    assert set(DATASETS) == NAMES
    assert all(callable(f) for f in DATASETS.values())


def test_unknown_name_and_option():
    with pytest.raises(ValueError, match=r"unknown dataset 'cifar'; valid names: blobs, "
                                         r"circles, digits, fashion-mnist, file"):
        load_dataset("cifar")
    with pytest.raises(ValueError, match=r"unknown option\(s\) n_epochs; valid options:.*noise"):
        load_dataset("spiral", n_epochs=3)


@pytest.mark.parametrize("name", GENERATED)
def test_generated_splits(name):
    d = load_dataset(name, seed=5, data_dir="/nowhere", download=False)  # ignored options
    again = load_dataset(name, seed=5)
    other = load_dataset(name, seed=6)
    np.testing.assert_array_equal(d.X_train, again.X_train)
    np.testing.assert_array_equal(d.y_test, again.y_test)
    assert not (np.array_equal(d.X_train, other.X_train)
                and np.array_equal(d.y_train, other.y_train))
    assert d.X_train.dtype == np.float32 and d.name == name and d.X_val is None
    if d.task == "regression":
        assert d.n_classes is None and d.y_train.ndim == 2 and d.y_train.shape[1] == 1
        assert not np.array_equal(d.y_train[:6], d.y_test[:6])  # different derived seeds
    else:
        assert d.y_train.dtype == np.int64 and d.y_train.max() < d.n_classes
        assert not np.array_equal(d.X_train, d.X_test)
    with_val = load_dataset(name, seed=5, n_val=4)
    np.testing.assert_array_equal(with_val.X_train, d.X_train)  # val does not shift train
    assert with_val.X_val.shape[0] > 0


def test_regression_problems():
    lin = load_dataset("linear-6")
    assert lin.X_train.shape == (6, 1) and lin.X_test.shape == (100, 1)
    quad = load_dataset("quadratic", dtype="float64")
    assert quad.X_train.min() == 0 and quad.X_train.max() == 1
    assert quad.X_test.min() == 1 and quad.X_test.max() == 2
    assert np.all(np.abs(quad.y_test - quad.X_test ** 2) <= 0.1)
    assert repr(quad) == "Splits('quadratic', train=(100, 1), test=(100, 1), task='regression')"


def test_digits_split():
    d = load_dataset("digits")
    assert d.X_train.shape == (1438, 64) and d.X_test.shape == (359, 64)
    assert d.X_train.min() == 0 and d.X_train.max() == 1 and d.n_classes == 10
    Xte, yte = load_digits("test")
    np.testing.assert_array_equal(Xte, d.X_test)
    np.testing.assert_array_equal(yte, d.y_test)
    full = np.bincount(np.concatenate([d.y_train, d.y_test]))
    assert np.all(np.abs(np.bincount(d.y_test) - full * 0.2) < 1)  # stratified
    other = load_dataset("digits", seed=1)
    assert not np.array_equal(other.y_test, d.y_test)
    img = load_dataset("digits", flatten=False, test_size=0.5, subset="validation")
    assert img.X_train.shape[1:] == (1, 8, 8) and img.input_shape == (1, 8, 8)
    assert img.X_val.shape[0] == img.X_test.shape[0]
    assert img.X_train.shape[0] + img.X_val.shape[0] + img.X_test.shape[0] == 1797
    s = load_dataset("digits", subset="stratified", n_train=100, n_test=50, seed=2)
    assert s.X_train.shape == (100, 64) and s.X_test.shape == (50, 64)


def test_standardize_uses_train_statistics_only():
    d = load_dataset("digits", standardize="feature", dtype="float64")
    assert d.stats["mode"] == "feature" and d.stats["mean"].shape == (64,)
    np.testing.assert_allclose(d.X_train.mean(0), 0, atol=1e-12)
    assert not np.allclose(d.X_test.mean(0), 0, atol=1e-3)
    raw = load_dataset("digits", dtype="float64")
    std = np.where(raw.X_train.std(0) < 1e-8, 1, raw.X_train.std(0))
    np.testing.assert_allclose(d.X_test, (raw.X_test - raw.X_train.mean(0)) / std, atol=1e-12)
    g = load_dataset("spiral", standardize=True)
    assert g.stats["mode"] == "global" and abs(float(g.X_train.mean())) < 1e-6


def test_splits_container():
    d = load_dataset("xor", n_train=10, n_test=4, n_val=3)
    (Xtr, ytr), (Xva, yva), (Xte, yte) = d.as_tuples()
    assert Xtr is d.X_train and Xva is d.X_val and Xte is d.X_test
    assert d.train == (Xtr, ytr) and d.test[0] is Xte and d.val[1] is yva
    assert d.n_features == 2 and d.input_shape == (2,)
    assert repr(d) == "Splits('xor', train=(10, 2), val=(3, 2), test=(4, 2), n_classes=2)"
    with pytest.raises(ValueError, match="y_train: expected 10 rows"):
        Splits("bad", Xtr, ytr[:5], Xte, yte)
    assert data.Dataset is Splits


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=1, max_size=60), st.data())
def test_stratified_indices_property(labels, draw):
    y = np.array(labels)
    n = draw.draw(st.integers(0, y.size))
    idx = stratified_indices(y, n, 0)
    assert idx.shape == (n,) and idx.dtype == np.int64
    assert np.all(np.diff(idx) > 0)  # unique and sorted
    want = n * np.bincount(y, minlength=5) / y.size
    assert np.all(np.abs(np.bincount(y[idx], minlength=5) - want) < 1)
    np.testing.assert_array_equal(idx, stratified_indices(y, n, 0))
