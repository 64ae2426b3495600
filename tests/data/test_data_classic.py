"""Data of the classic experiments: nnfs' spiral, the fixed six points, the course's
quadratic noise, and raw (unscaled) pixels through every image dataset."""
import numpy as np
import pytest

from proxnet.data import load_dataset, make_spiral
from proxnet.data.generators import FIXED6_X, FIXED6_Y


def _nnfs_oracle(n, k, noise_rows, monkeypatch):
    """nnfs' own spiral_data, fed the given noise rows through its np.random.randn calls."""
    datasets = pytest.importorskip("nnfs.datasets", reason="nnfs not installed: no oracle "
                                                           "for its spiral")
    rows = iter(noise_rows)
    monkeypatch.setattr(np.random, "randn", lambda size: next(rows))
    return datasets.spiral_data(samples=n, classes=k)


@pytest.mark.parametrize("n, k", [(100, 3), (7, 5)])
def test_nnfs_spiral_matches_nnfs(n, k, monkeypatch):
    X, y = make_spiral(n, k, 0.2, variant="nnfs", seed=3, dtype="float64")
    noise = np.random.default_rng(3).standard_normal((k, n))  # the draws make_spiral made
    X_ref, y_ref = _nnfs_oracle(n, k, list(noise), monkeypatch)
    np.testing.assert_allclose(X, X_ref, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(y, y_ref)


def test_nnfs_spiral_geometry_without_oracle():
    X, y = make_spiral(50, 3, 0.0, variant="nnfs", dtype="float64")
    r = np.linspace(0, 1, 50)
    t = np.linspace(4, 8, 50) * 2.5  # class 1
    np.testing.assert_allclose(X[50:100], np.c_[r * np.sin(t), r * np.cos(t)], atol=1e-12)
    cs = make_spiral(50, 3, 0.2, seed=1)[0]
    assert not np.allclose(cs, make_spiral(50, 3, 0.2, variant="nnfs", seed=1)[0])
    np.testing.assert_array_equal(cs, make_spiral(50, 3, 0.2, variant="cs231n", seed=1)[0])


def test_nnfs_recipe_split():
    """3 classes x 2,000 points drawn once, shuffled, split 3,000 / 3,000."""
    d = load_dataset("spiral", n_per_class=2000, n_classes=3, variant="nnfs",
                     test_fraction=0.5, seed=0, dtype="float64")
    assert d.X_train.shape == (3000, 2) and d.X_test.shape == (3000, 2) and d.X_val is None
    both = np.concatenate([d.X_train, d.X_test])
    pool, labels = make_spiral(2000, 3, variant="nnfs", dtype="float64",
                               seed=np.random.default_rng(0).spawn(3)[0])
    order = np.lexsort(both.T)
    np.testing.assert_array_equal(both[order], pool[np.lexsort(pool.T)])  # the same draw
    np.testing.assert_array_equal(np.concatenate([d.y_train, d.y_test])[order],
                                  labels[np.lexsort(pool.T)])
    counts = np.bincount(d.y_train, minlength=3)  # a random half: ~1,000 per class (sd ~20)
    assert counts.sum() == 3000 and np.all(np.abs(counts - 1000) < 100)
    assert set(np.unique(d.y_train[:30])) == {0, 1, 2}  # shuffled, not class by class
    again = load_dataset("spiral", n_per_class=2000, variant="nnfs", test_fraction=0.5,
                         seed=0, dtype="float64")
    np.testing.assert_array_equal(again.X_test, d.X_test)
    assert d.meta["variant"] == "nnfs" and d.meta["test_fraction"] == 0.5
    small = load_dataset("spiral", n_per_class=10, test_fraction=0.3, n_val=2)
    assert small.X_train.shape[0] == 21 and small.X_test.shape[0] == 9
    assert small.X_val.shape[0] == 6


def test_fixed6():
    d = load_dataset("fixed-6", dtype="float64")
    np.testing.assert_array_equal(d.X_train.ravel(), FIXED6_X)
    np.testing.assert_array_equal(d.y_train.ravel(), FIXED6_Y)
    np.testing.assert_array_equal(d.X_test, d.X_train)  # test="points": the same six
    np.testing.assert_array_equal(d.y_test, d.y_train)
    assert d.task == "regression" and d.n_classes is None and d.y_train.shape == (6, 1)
    line = load_dataset("fixed-6", test="line", n_test=11, dtype="float64")
    np.testing.assert_allclose(line.X_test.ravel(), np.linspace(0, 1, 11))
    np.testing.assert_allclose(line.y_test, line.X_test + 0.5, atol=1e-15)
    assert load_dataset("fixed-6", seed=5).y_train.ravel().tolist() == pytest.approx(FIXED6_Y)


def test_quadratic_course_noise():
    d = load_dataset("quadratic", noise_kind="hundredths", noise=0.1, n_train=2000, seed=0,
                     dtype="float64")
    k = 100 * (d.y_train - d.X_train ** 2)
    np.testing.assert_allclose(k, np.round(k), atol=1e-9)
    assert set(np.round(k).astype(int).ravel()) == set(range(-10, 10))  # k in -10..9
    assert d.X_test.min() == 1 and d.X_test.max() == 2 and d.X_test.shape == (100, 1)
    kt = 100 * (d.y_test - d.X_test ** 2)
    assert np.all((np.round(kt) >= -10) & (np.round(kt) <= 9)) and np.any(kt != 0)
    clean = load_dataset("quadratic", noise_kind="hundredths", test_noise=False,
                         dtype="float64")
    np.testing.assert_array_equal(clean.y_test, clean.X_test ** 2)
    same = load_dataset("quadratic", noise_kind="hundredths", test_noise=False,
                        dtype="float64")
    np.testing.assert_array_equal(same.y_train, clean.y_train)


def test_linear6_test_noise_off():
    d = load_dataset("linear-6", test_noise=False, dtype="float64")
    np.testing.assert_allclose(d.y_test, d.X_test + 0.5, atol=1e-15)
    noisy = load_dataset("linear-6", dtype="float64")
    np.testing.assert_array_equal(noisy.y_train, d.y_train)
    assert np.abs(noisy.y_test - noisy.X_test - 0.5).max() > 0.05


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
@pytest.mark.parametrize("flatten", [True, False])
def test_raw_pixels_idx(make_files, tmp_path, name, flatten):
    make_files(tmp_path / name)
    raw = load_dataset(name, data_dir=tmp_path, scale=False, flatten=flatten, download=False,
                       subset="validation", val_size=5)
    scaled = load_dataset(name, data_dir=tmp_path, flatten=flatten, download=False,
                          subset="validation", val_size=5)
    from proxnet.data import read_idx
    images = read_idx(tmp_path / name / "train-images-idx3-ubyte.gz")
    for X in (raw.X_train, raw.X_val, raw.X_test):
        assert X.dtype == np.float32 and X.max() > 1
    np.testing.assert_array_equal(raw.X_train.reshape(-1, 28, 28), images[:25])
    np.testing.assert_array_equal(raw.X_val.reshape(-1, 28, 28), images[25:])
    np.testing.assert_allclose(raw.X_test / 255, scaled.X_test, rtol=1e-6)
    assert raw.meta["scale"] is False


def test_raw_pixels_file(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (40, 1, 4, 4), dtype=np.uint8)
    path = tmp_path / "imgs.npz"
    np.savez(path, X=images, y=np.arange(40) % 4)
    raw = load_dataset("file", path=path, test_size=0.25, seed=0)
    assert raw.X_train.dtype == np.float32 and raw.input_shape == (1, 4, 4)
    assert raw.X_train.max() > 200 and float(raw.X_train.max()).is_integer()
    scaled = load_dataset("file", path=path, test_size=0.25, seed=0, scale=255,
                          flatten=True, dtype="float64")
    np.testing.assert_allclose(scaled.X_train * 255, raw.X_train.reshape(30, 16), rtol=1e-6)
    assert scaled.X_train.max() <= 1


def test_raw_pixels_digits():
    d = load_dataset("digits", scale=False, flatten=False, subset="validation")
    assert d.X_train.max() == 16 and d.X_val.max() == 16 and d.X_test.dtype == np.float32
    assert np.array_equal(d.X_train, np.round(d.X_train))
