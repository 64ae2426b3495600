"""Strict option checking of every dataset builder: what the study-config fuzzer hits.

Every option of every builder has a spec; a value of the wrong type, non-finite, out of range
or over a cap raises OptionError naming the dataset and the option, from check_options
(without loading anything) and from load_dataset alike."""
import inspect
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxnet.data import DATASETS, FETCH_OPTIONS, OptionError, check_options, load_dataset
from proxnet.data.datasets import option_specs
from proxnet.data.options import MAX_POINTS

HOSTILE = [True, False, None, "1", "", 1.5, -1, 0, 10 ** 12, float("nan"), float("inf"),
           -0.5, [1], {"a": 1}, (1, 2), b"x", np.float64("nan"), object()]


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_option_has_a_spec_and_a_valid_default(name):
    specs = option_specs(name)
    assert set(FETCH_OPTIONS) <= set(specs)
    for option, (spec, default) in specs.items():
        assert spec.what and callable(spec.test), option
        if default is not inspect.Parameter.empty and not (name == "file" and option == "path"):
            assert spec(default), f"{name}.{option}: default {default!r} not allowed"
    if "subset" in specs:
        assert specs["n_train"][1] is inspect.Parameter.empty
    mnist = inspect.signature(DATASETS["mnist"]).parameters  # one set of fetch defaults
    assert all(specs[k][1] == mnist[k].default for k in FETCH_OPTIONS)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_hostile_values_name_the_option(name):
    """Each hostile value is either allowed by the option's spec or refused naming it."""
    refused = 0
    for option, (spec, _) in option_specs(name).items():
        for value in HOSTILE:
            if spec(value):
                continue
            refused += 1
            with pytest.raises(OptionError) as info:
                check_options(name, {option: value})
            err = info.value
            assert err.dataset == name and err.option == option
            assert str(err).startswith(f"dataset {name!r}: {option}: expected ")
            assert "got " in str(err)
    assert refused >= 5 * len(option_specs(name))


@pytest.mark.parametrize("name, options, option, match", [
    ("spiral", {"n_per_class": 10 ** 9}, "n_per_class", r"integer in \[1, 10000000\]"),
    ("spiral", {"n_per_class": MAX_POINTS, "n_classes": 3}, "n_per_class",
     "exceeds the cap of 10000000 points"),
    ("spiral", {"n_val": 4_000_000}, "n_val", "exceeds the cap"),
    ("spiral", {"n_per_class": True}, "n_per_class", r"got True \(bool\)"),
    ("spiral", {"noise": "0.2"}, "noise", r"finite number in \[0, 100\], got '0.2' \(str\)"),
    ("spiral", {"noise": float("nan")}, "noise", "finite number"),
    ("spiral", {"variant": "NNFS"}, "variant", "one of 'cs231n', 'nnfs'"),
    ("spiral", {"test_fraction": 1.0}, "test_fraction", r"\(0, 1\)"),
    ("spiral", {"test_fraction": 0.5, "n_test_per_class": 10}, "test_fraction",
     "cannot be combined with n_test_per_class"),
    ("spiral", {"test_fraction": 0.001, "n_per_class": 10}, "test_fraction",
     "leaves 0 test"),
    ("circles", {"n_train": 1}, "n_train", r"integer in \[2, "),
    ("xor", {"n_val": 1}, "n_val", r"0 or an integer in \[2, "),
    ("blobs", {"noise": 2.0}, "noise", r"\[0, 1\]"),
    ("linear-6", {"test_noise": 0}, "test_noise", "True or False"),
    ("quadratic", {"noise_kind": "hundredths", "noise": 0.015}, "noise",
     "needs a multiple of 0.01"),
    ("fixed-6", {"n_test": 50}, "n_test", "only used with test='line'"),
    ("fixed-6", {"test": "train"}, "test", "one of 'points', 'line'"),
    ("digits", {"test_size": 1.0}, "test_size", r"fraction \(float\) in \(0, 1\)"),
    ("digits", {"test_size": 0}, "test_size", r"integer in \[1, "),
    ("digits", {"n_train": 10}, "n_train", "only used with subset 'first' or 'stratified'"),
    ("digits", {"subset": "validation", "val_size": 0}, "val_size", "needs val_size > 0"),
    ("digits", {"val_size": 1.0}, "val_size", "fraction"),
    ("digits", {"scale": 1}, "scale", "True or False"),
    ("digits", {"standardize": 1}, "standardize", "one of False, True, 'global', 'feature'"),
    ("digits", {"dtype": "int8"}, "dtype", "'float32' or 'float64'"),
    ("digits", {"seed": -1}, "seed", "non-negative integer"),
    ("digits", {"seed": 1.0}, "seed", "non-negative integer"),
    ("mnist", {"mirrors": "http://x/"}, "mirrors", "list of 1 to 32"),
    ("mnist", {"mirrors": ["file:///etc/"]}, "mirrors", "http"),
    ("mnist", {"checksums": {"a.gz": "xyz"}}, "checksums", "32-hex-digit"),
    ("mnist", {"timeout": 0}, "timeout", r"\(0, 86400\]"),
    ("mnist", {"download": "yes"}, "download", "True or False"),
    ("mnist", {"data_dir": 3}, "data_dir", "path"),
    ("spiral", {"timeout": -1}, "timeout", "finite number"),  # checked even where ignored
    ("file", {}, "path", "needs path="),
    ("file", {"path": "a.csv", "delimiter": ",,"}, "delimiter", "one-character"),
    ("file", {"path": "a.csv", "scale": True}, "scale", "one of False or a finite number"),
    ("file", {"path": "a.csv", "task": "regression", "subset": "stratified"}, "subset",
     "needs class labels"),
    ("file", {"path": "a.csv", "label_column": 1.0}, "label_column", "integer"),
    ("file", {"path": "a.csv", "max_bytes": 0}, "max_bytes", "integer"),
])
def test_specific_refusals(name, options, option, match):
    with pytest.raises(OptionError, match=match) as info:
        check_options(name, options)
    assert info.value.option == option and f"{option}: " in str(info.value)
    with pytest.raises(OptionError, match=match):  # the same from load_dataset / the builder
        load_dataset(name, **options)
    with pytest.raises(OptionError, match=match):
        DATASETS[name](**options)


def test_unknown_names():
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        check_options("cifar", {})
    with pytest.raises(ValueError, match=r"dataset: expected a name \(str\)"):
        check_options(3, {})
    with pytest.raises(OptionError, match=r"unknown option\(s\) n_epochs, 3; valid options: "):
        check_options("spiral", {"n_epochs": 1, 3: 4})
    with pytest.raises(OptionError, match="options: expected a dict"):
        check_options("spiral", [("seed", 1)])


def test_check_options_loads_nothing(tmp_path, monkeypatch):
    """Valid options pass without any file, download or generation."""
    import proxnet.data.datasets as ds

    def forbidden(*args, **kwargs):
        raise AssertionError("check_options loaded data")

    for attr in ("locate_files", "load_file", "digits_raw", "load_idx_pair"):
        monkeypatch.setattr(ds, attr, forbidden)
    monkeypatch.setattr(ds.gen, "make_spiral", forbidden)
    check_options("mnist", dict(data_dir=tmp_path / "none", mirrors=["http://127.0.0.1:9/"],
                                subset="stratified", n_train=10, n_test=None))
    check_options("file", dict(path=tmp_path / "missing.csv", scale=255, task="regression"))
    check_options("spiral", dict(n_per_class=MAX_POINTS // 3, n_classes=3))
    check_options("digits", dict(subset="validation", val_size=0.1, test_size=300))
    check_options("quadratic", dict(noise_kind="hundredths", noise=0.1, n_train=np.int64(5)))


def test_numpy_scalars_accepted(tmp_path):
    d = load_dataset("spiral", n_per_class=np.int32(5), noise=np.float32(0.1),
                     standardize=np.bool_(False))
    assert d.X_train.shape == (15, 2) and not d.stats
    g = load_dataset("spiral", n_per_class=np.int64(5), standardize=np.bool_(True))
    assert g.stats["mode"] == "global"
    path = tmp_path / "d.npz"
    np.savez(path, X=np.full((10, 2), 200.0), y=np.arange(10) % 2)
    f = load_dataset("file", path=path, scale=np.bool_(False), test_size=np.int64(4))
    assert f.X_train.max() == 200 and f.X_test.shape == (4, 2)


@pytest.mark.parametrize("name, test_size", [("digits", 1797), ("digits", 0.0001)])
def test_test_size_must_leave_both_parts(name, test_size):
    with pytest.raises(ValueError, match=r"test_size: .* leaves \d+ test and \d+ training"):
        load_dataset(name, test_size=test_size)


SMALL = {
    "spiral": dict(n_per_class=st.integers(-2, 20), n_classes=st.integers(-1, 5),
                   noise=st.floats(allow_nan=True), variant=st.sampled_from(["cs231n", "nnfs",
                                                                             "x"]),
                   test_fraction=st.one_of(st.none(), st.floats(-1, 2)),
                   n_val=st.integers(-1, 5), n_test_per_class=st.one_of(st.none(),
                                                                       st.integers(-1, 5))),
    "quadratic": dict(n_train=st.integers(-1, 30), n_test=st.integers(-1, 30),
                      noise=st.floats(-1, 200), noise_kind=st.sampled_from(
                          ["uniform", "hundredths", 1]), test_noise=st.sampled_from(
                          [True, False, 1, None]), n_val=st.integers(-1, 5)),
    "xor": dict(n_train=st.integers(-1, 30), n_test=st.one_of(st.none(), st.integers(-1, 30)),
                n_val=st.integers(-1, 5), noise=st.floats(-1, 2)),
    "digits": dict(subset=st.sampled_from(["full", "first", "stratified", "validation", "x"]),
                   n_train=st.integers(-1, 2000), n_test=st.one_of(st.none(),
                                                                  st.integers(-1, 500)),
                   val_size=st.one_of(st.integers(-1, 2000), st.floats(-1, 2)),
                   test_size=st.one_of(st.integers(-1, 2000), st.floats(-1, 2))),
}


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_fuzzed_options(data):
    """Whatever the values: check_options passes and the load succeeds, or an OptionError
    (or, for what only the data can tell, a ValueError naming an option) - never another
    exception type."""
    name = data.draw(st.sampled_from(sorted(SMALL)))
    strategies = SMALL[name]
    keys = data.draw(st.lists(st.sampled_from(sorted(strategies)), unique=True, max_size=4))
    options = {k: data.draw(strategies[k]) for k in keys}
    try:
        check_options(name, options)
    except OptionError as exc:
        assert exc.option is None or exc.option in options or exc.option in (
            "test_fraction", "noise", "n_per_class")
        return
    try:
        d = load_dataset(name, **options)
    except ValueError as exc:
        assert name == "digits" and str(exc).split(":")[0] in option_specs(name), exc
        return
    assert all(np.isfinite(a).all() for a in (d.X_train, d.X_test))
    assert not math.isnan(float(d.X_train.sum()))
