"""Save and load: round trip, and clear errors for truncated, malformed or tampered files."""
import io
import json
import zipfile

import numpy as np
import pytest

import proxnet
from proxnet import ModelFileError, Sequential
from proxnet.layers import Dense, Dropout, ReLU, Sigmoid
from proxnet.regularizers import L1, L2, GroupLasso


def _model():
    return Sequential([Dense(4, 6, weight_regularizer=L1(1e-3, mode="prox"), bias_regularizer=L2(1e-2)),
                       ReLU(), Dropout(0.2), Dense(6, 3, init="xavier"), Sigmoid(), Dense(3, 2)],
                      loss="softmax_cross_entropy", weight_regularizer=GroupLasso(1e-3),
                      optimizer={"kind": "adam", "lr": 0.003}, seed=0, dtype="float64")


def test_round_trip(tmp_path, rng):
    m = _model()
    X = rng.normal(size=(9, 4))
    m.fit(X, rng.integers(0, 2, 9), epochs=2, batch_size=3, seed=0, verbose=False)
    path = tmp_path / "m.npz"
    proxnet.save(m, path)
    m2 = proxnet.load(path)
    for (n1, v1), (n2, v2) in zip(m.named_parameters(), m2.named_parameters()):
        assert n1 == n2 and v1.dtype == v2.dtype
        np.testing.assert_array_equal(v1, v2)
    np.testing.assert_array_equal(m.predict_proba(X), m2.predict_proba(X))
    assert m2.regularizers() == m.regularizers()
    assert m2.optimizer.get_config() == m.optimizer.get_config()
    assert repr(m2) == repr(m)


def test_file_holds_npz_and_json_without_pickle(tmp_path):
    path = tmp_path / "m.npz"
    proxnet.save(_model(), path)
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(data["__meta__"].tobytes())
    assert meta["format"] == "proxnet-model" and meta["format_version"] == proxnet.io.FORMAT_VERSION == 2
    assert [layer["class"] for layer in meta["layers"]][:2] == ["Dense", "ReLU"]


def test_truncated_file(tmp_path):
    path = tmp_path / "m.npz"
    proxnet.save(_model(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="unreadable or truncated"):
        proxnet.load(path)


def test_not_a_model_file(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, a=np.arange(3))
    with pytest.raises(ModelFileError, match="not a proxnet model file"):
        proxnet.load(path)
    path.write_text("hello")
    with pytest.raises(ModelFileError):
        proxnet.load(path)


def _rewrite(path, mutate_meta=None, mutate_arrays=None):
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(arrays.pop("__meta__").tobytes())
    if mutate_meta:
        mutate_meta(meta)
    if mutate_arrays:
        mutate_arrays(arrays)
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)


def test_tampered_weights_fail_checksum(tmp_path):
    path = tmp_path / "m.npz"
    proxnet.save(_model(), path)

    def bump(arrays):
        arrays["param/0.W"] = arrays["param/0.W"] + 1e-9
    _rewrite(path, mutate_arrays=bump)
    with pytest.raises(ModelFileError, match="SHA-256"):
        proxnet.load(path)


def test_tampered_metadata_cannot_name_arbitrary_classes(tmp_path):
    path = tmp_path / "m.npz"
    proxnet.save(_model(), path)

    def evil(meta):
        meta["layers"][0]["class"] = "os.system"
    _rewrite(path, mutate_meta=evil)
    with pytest.raises(ModelFileError, match="unknown layer 'os.system'"):
        proxnet.load(path)

    proxnet.save(_model(), path)
    _rewrite(path, mutate_meta=lambda m: m.update(format_version=99))
    with pytest.raises(ModelFileError, match="format_version"):
        proxnet.load(path)

    proxnet.save(_model(), path)
    _rewrite(path, mutate_meta=lambda m: m["layers"][0]["config"].update(out_features=7))
    with pytest.raises(ModelFileError, match="shape"):
        proxnet.load(path)


def test_pickled_object_arrays_are_refused(tmp_path):
    path = tmp_path / "m.npz"
    buf = io.BytesIO()
    np.save(buf, np.array([object()], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("__meta__.npy", buf.getvalue())
    with pytest.raises(ModelFileError):
        proxnet.load(path)


def test_missing_file():
    with pytest.raises(FileNotFoundError):
        proxnet.load("/nonexistent/model.npz")
