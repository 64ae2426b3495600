"""User data: .npz and .csv through load_file and load_dataset("file")."""
import numpy as np
import pytest

from proxnet.data import load_dataset, load_file


@pytest.fixture
def table():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = np.arange(40) % 3
    return X, y


@pytest.mark.parametrize("keys", [("X", "y"), ("x", "y")])
def test_npz_default_keys(tmp_path, table, keys):
    X, y = table
    path = tmp_path / "d.npz"
    np.savez(path, **{keys[0]: X, keys[1]: y})
    X2, y2 = load_file(path)
    assert X2.dtype == np.float32 and y2.dtype == np.int64 and X2.shape == (40, 3)
    np.testing.assert_allclose(X2, X, rtol=1e-6)
    np.testing.assert_array_equal(y2, y)


def test_npz_custom_keys_and_errors(tmp_path, table):
    X, y = table
    path = tmp_path / "d.npz"
    np.savez(path, feats=X, target=y)
    with pytest.raises(ValueError, match=r"no feature/label arrays found.*\['feats', 'target'\]"):
        load_file(path)
    X2, y2 = load_file(path, x_key="feats", y_key="target", dtype="float64")
    assert X2.dtype == np.float64
    with pytest.raises(ValueError, match="x_key: array 'nope'"):
        load_file(path, x_key="nope", y_key="target")
    np.savez(path, X=X, y=y[:-1])
    with pytest.raises(ValueError, match="40 samples but 39 labels"):
        load_file(path)
    with pytest.raises(FileNotFoundError):
        load_file(tmp_path / "missing.npz")


def test_csv_header_and_label_by_name(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,species,b\n1.0,cat,2\n3,dog,4\n5,cat,6\n")
    X, y, classes = load_file(path, label_column="species", return_classes=True)
    np.testing.assert_array_equal(X, [[1, 2], [3, 4], [5, 6]])
    np.testing.assert_array_equal(y, [0, 1, 0])
    assert list(classes) == ["cat", "dog"]
    with pytest.raises(ValueError, match="label_column: 'kind' not in the header"):
        load_file(path, label_column="kind")


def test_csv_no_header_default_last(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("0.5,1,2\n1.5,2,0\n\n2.5,3,1\n")
    X, y = load_file(path)
    np.testing.assert_array_equal(y, [2, 0, 1])
    assert X.shape == (3, 2)
    X, y = load_file(path, label_column=0, task="regression")
    assert y.shape == (3, 1) and y.dtype == np.float32 and X.shape == (3, 2)
    path.write_text("x,label\n1,0\nabc,1\n")
    with pytest.raises(ValueError, match="non-numeric feature value"):
        load_file(path)
    path.write_text("1,0\n2\n")
    with pytest.raises(ValueError, match="row 2 has 1 fields, expected 2"):
        load_file(path)


def test_file_dataset(tmp_path, table):
    X, y = table
    path = tmp_path / "d.npz"
    np.savez(path, X=X, y=y)
    d = load_dataset("file", path=path, test_size=0.25, seed=0)
    assert d.X_train.shape == (30, 3) and d.X_test.shape == (10, 3) and d.n_classes == 3
    assert d.name == "file" and d.meta["path"] == str(path)
    test_csv = tmp_path / "t.csv"
    test_csv.write_text("f1,f2,f3,label\n" + "\n".join(f"1,2,3,{k % 3}" for k in range(6)))
    d = load_dataset("file", path=path, test_path=test_csv, standardize=True)
    assert d.X_train.shape == (40, 3) and d.X_test.shape == (6, 3)
    with pytest.raises(ValueError, match="path: dataset 'file' needs"):
        load_dataset("file")
