"""proxnet.sklearn: scikit-learn's estimator checks, Pipeline + GridSearchCV, the alpha
mapping against scikit-learn's own MLP, exact zeros, warm starts, errors, and the docs."""
import inspect
import os
import pickle
import re
import runpy
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn", minversion="1.6",
                              reason="proxnet.sklearn needs scikit-learn >= 1.6")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLPClassifier  # noqa: E402
from sklearn.neural_network import MLPRegressor as SkMLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from proxnet.layers import Dropout  # noqa: E402
from proxnet.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

from .conftest import REPO  # noqa: E402

DOCS = REPO / "docs" / "sklearn.md"


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    """Small matmuls: one BLAS thread is fastest, and on a busy two-core machine several
    spinning BLAS threads make these tests ten times slower."""
    with threadpool_limits(1):
        yield


# ----------------------------------------------------------------------------- data
@pytest.fixture(scope="module")
def digits():
    """The 8x8 digits, pixels in [0, 1]: 1200 train / 597 test (fixed split)."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    perm = np.random.default_rng(0).permutation(len(X))
    tr, te = perm[:1200], perm[1200:]
    return X[tr], y[tr], X[te], y[te]


def _blobs(n=120, d=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(k, d))
    y = np.arange(n) % k
    return (centers[y] + rng.normal(size=(n, d))).astype(np.float64), y


def _quiet():
    warnings.simplefilter("ignore", ConvergenceWarning)


# ------------------------------------------------------- scikit-learn's estimator checks
# Small networks and budgets so that the ~110 checks take a few seconds. Every check
# passes with these settings (scikit-learn 1.9.1); the dict below is where a check that
# is expected to fail would be listed with its reason (strict: a listed check that
# passes fails the test, so the list cannot go stale).
CHECKED = [
    MLPClassifier(hidden_layer_sizes=(16,), learning_rate=1e-2, max_epochs=50, random_state=0),
    MLPRegressor(hidden_layer_sizes=(16,), learning_rate=1e-2, max_epochs=50, random_state=0),
]
EXPECTED_FAILED_CHECKS: dict = {
    # "check_name": "reason",
}

_kw = {"expected_failed_checks": lambda est: EXPECTED_FAILED_CHECKS}
if "xfail_strict" in inspect.signature(parametrize_with_checks).parameters:
    _kw["xfail_strict"] = True


@parametrize_with_checks(CHECKED, **_kw)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        _quiet()
        check(estimator)


# ------------------------------------------------------- Pipeline inside GridSearchCV
def test_pipeline_grid_search_over_alpha_and_mode(digits):
    X, y, Xt, yt = digits
    pipe = make_pipeline(StandardScaler(), MLPClassifier(
        (32,), regularizer="l1", learning_rate=1e-2, max_epochs=15, random_state=0))
    grid = {"mlpclassifier__alpha": [1e-3, 1e-1], "mlpclassifier__mode": ["penalty", "prox"]}
    with warnings.catch_warnings():
        _quiet()
        search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    scores = {(p["mlpclassifier__alpha"], p["mlpclassifier__mode"]): s for p, s in
              zip(search.cv_results_["params"], search.cv_results_["mean_test_score"])}
    assert len(scores) == 4
    # A strong L1 wrecks the network as a penalty, not as a prox.
    assert scores[0.1, "penalty"] < 0.5 < 0.9 < scores[0.1, "prox"]
    assert scores[1e-3, "penalty"] > 0.9 and scores[1e-3, "prox"] > 0.9
    assert search.best_params_ != {"mlpclassifier__alpha": 0.1, "mlpclassifier__mode": "penalty"}
    assert search.score(Xt, yt) > 0.9
    assert search.best_estimator_[-1].classes_.tolist() == list(range(10))
    # The prox fit is the sparse one: exact zeros, which the penalty never reaches.
    with warnings.catch_warnings():
        _quiet()
        zeros = {mode: clone(pipe).set_params(mlpclassifier__alpha=0.1, mlpclassifier__mode=mode)
                 .fit(X, y)[-1].sparsity_ for mode in ("penalty", "prox")}
    assert zeros["penalty"] == 0.0 and zeros["prox"] > 0.05


# ------------------------------------------------------- sparsity: prox gives exact zeros
@pytest.mark.parametrize("kind", ["l1", "elastic_net", "l0", "group_lasso"])
def test_prox_mode_gives_exact_zeros(digits, kind):
    X, y, Xt, yt = digits
    alpha = {"l1": 1e-2, "elastic_net": 3e-2, "l0": 1e-3, "group_lasso": 0.2}[kind]
    clf = MLPClassifier((32,), regularizer=kind, alpha=alpha, mode="prox", optimizer="sgd",
                        learning_rate=0.1, max_epochs=20, n_iter_no_change=20, random_state=0)
    with warnings.catch_warnings():
        _quiet()
        clf.fit(X, y)
    n_zeros = sum(int(np.sum(W == 0)) for W in clf.coefs_)
    n_total = sum(W.size for W in clf.coefs_)
    assert clf.sparsity_ == pytest.approx(n_zeros / n_total)
    assert clf.sparsity_ > 0.15
    assert clf.score(Xt, yt) > 0.9
    if kind == "group_lasso":  # whole hidden units removed (all incoming weights zero)
        assert clf.sparsity_report_["dead/total"] > 0
        dead = np.all(clf.coefs_[0] == 0, axis=0)
        assert dead.sum() == clf.sparsity_report_["dead/0"]


def test_penalty_mode_gives_no_exact_zeros(digits):
    X, y, _, _ = digits
    clf = MLPClassifier((32,), regularizer="l1", alpha=1e-2, mode="penalty", optimizer="sgd",
                        learning_rate=0.1, max_epochs=20, random_state=0)
    with warnings.catch_warnings():
        _quiet()
        clf.fit(X, y)
    assert clf.sparsity_ == 0.0   # the penalty's weights wobble around zero, never on it


def test_regularize_biases():
    X, y = _blobs()
    kw = dict(hidden_layer_sizes=(8,), regularizer="l1", alpha=0.5, mode="prox",
              optimizer="sgd", momentum=0.0, learning_rate=0.1, max_epochs=10, random_state=0)
    with warnings.catch_warnings():
        _quiet()
        off = MLPClassifier(**kw).fit(X, y)
        on = MLPClassifier(regularize_biases=True, **kw).fit(X, y)
    assert all(np.all(b == 0) for b in on.intercepts_)   # strong L1 prox kills every bias
    assert not all(np.all(b == 0) for b in off.intercepts_)


# ------------------------------------------------------- the alpha mapping, as an oracle
def _steps_from_same_weights(ours, theirs, X, y, steps=1):
    """From the same weights and a fresh optimizer state, ``steps`` full-batch steps in
    both libraries (scikit-learn's warm start re-creates its optimizer state)."""
    with warnings.catch_warnings():
        _quiet()
        theirs.fit(X, y)                        # initializes scikit-learn's weights
        kw = {"classes": np.unique(y)} if isinstance(ours, MLPClassifier) else {}
        ours.partial_fit(X, y, **kw)            # builds ours (weights overwritten below)
        start = {}
        for i, (W, b) in enumerate(zip(theirs.coefs_, theirs.intercepts_)):
            start[f"{2 * i}.W"], start[f"{2 * i}.b"] = W.copy(), b.copy()
        ours.model_.set_parameters(start)
        ours.model_.optimizer.state.clear()
        theirs.set_params(warm_start=True, max_iter=steps).fit(X, y)
        for _ in range(steps):
            ours.partial_fit(X, y)
    return start


def _assert_same_weights(ours, theirs, atol=1e-12):
    for i in range(len(theirs.coefs_)):
        np.testing.assert_allclose(ours.coefs_[i], theirs.coefs_[i], rtol=0, atol=atol)
        np.testing.assert_allclose(ours.intercepts_[i], theirs.intercepts_[i], rtol=0, atol=atol)


def test_alpha_mapping_classifier_matches_sklearn_step():
    """sklearn's alpha=a on batches of b samples == our regularizer="l2", alpha=a/b."""
    X, y = _blobs(n=60, d=4, k=3)
    a, lr = 0.7, 0.1
    theirs = SkMLPClassifier(hidden_layer_sizes=(5,), alpha=a, solver="sgd", momentum=0.0,
                             learning_rate_init=lr, batch_size=60, max_iter=1, shuffle=False,
                             random_state=0)
    ours = MLPClassifier((5,), regularizer="l2", alpha=a / 60, optimizer="sgd", momentum=0.0,
                         learning_rate=lr, batch_size=60, dtype="float64", random_state=0)
    start = _steps_from_same_weights(ours, theirs, X, y)
    _assert_same_weights(ours, theirs)
    assert not np.allclose(ours.coefs_[0], start["0.W"])   # a real step was taken
    # The same number in both libraries is a different (much stronger) penalty here.
    naive = clone(ours).set_params(alpha=a)
    _steps_from_same_weights(naive, clone(theirs), X, y)
    assert not np.allclose(naive.coefs_[0], theirs.coefs_[0], atol=1e-3)


def test_alpha_mapping_regressor_matches_sklearn_step():
    """Regression: our MSE is twice scikit-learn's, so alpha=2a/b at half the SGD rate."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=50)
    a, lr = 0.3, 0.05
    theirs = SkMLPRegressor(hidden_layer_sizes=(6,), activation="tanh", alpha=a, solver="sgd",
                            momentum=0.0, learning_rate_init=lr, batch_size=50, max_iter=1,
                            shuffle=False, random_state=0)
    ours = MLPRegressor((6,), activation="tanh", regularizer="l2", alpha=2 * a / 50,
                        optimizer="sgd", momentum=0.0, learning_rate=lr / 2, batch_size=50,
                        dtype="float64", random_state=0)
    _steps_from_same_weights(ours, theirs, X, y)
    _assert_same_weights(ours, theirs)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=0, atol=1e-12)


def test_multi_output_regressor_mapping():
    """K outputs: alpha = 2a/(K·b) and K/2 times the SGD rate."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 3))
    Y = np.column_stack([X[:, 0], X[:, 1] - X[:, 2], X[:, 0] * X[:, 1]])
    a, lr, K = 0.2, 0.05, 3
    theirs = SkMLPRegressor(hidden_layer_sizes=(7,), alpha=a, solver="sgd", momentum=0.0,
                            learning_rate_init=lr, batch_size=40, max_iter=1, shuffle=False,
                            random_state=0)
    ours = MLPRegressor((7,), regularizer="l2", alpha=2 * a / (K * 40), optimizer="sgd",
                        momentum=0.0, learning_rate=lr * K / 2, batch_size=40,
                        dtype="float64", random_state=0)
    _steps_from_same_weights(ours, theirs, X, Y, steps=2)
    _assert_same_weights(ours, theirs)


def test_sklearn_sgd_defaults_are_our_nesterov():
    """solver="sgd" (momentum 0.9, Nesterov) == optimizer="nesterov": three steps agree."""
    X, y = _blobs(n=60, d=4, k=3)
    theirs = SkMLPClassifier(hidden_layer_sizes=(5,), alpha=0.5, solver="sgd",
                             learning_rate_init=0.05, batch_size=60, max_iter=1, shuffle=False,
                             random_state=0)
    ours = MLPClassifier((5,), alpha=0.5 / 60, optimizer="nesterov", momentum=0.9,
                         learning_rate=0.05, batch_size=60, dtype="float64", random_state=0)
    _steps_from_same_weights(ours, theirs, X, y, steps=3)
    _assert_same_weights(ours, theirs)


def test_sklearn_adam_is_our_adam():
    """solver="adam" == optimizer="adam" up to where eps sits (sqrt(v) vs sqrt(v_hat))."""
    X, y = _blobs(n=60, d=4, k=3)
    theirs = SkMLPClassifier(hidden_layer_sizes=(5,), alpha=0.5, learning_rate_init=1e-2,
                             batch_size=60, max_iter=1, shuffle=False, random_state=0)
    ours = MLPClassifier((5,), alpha=0.5 / 60, learning_rate=1e-2, batch_size=60,
                         dtype="float64", random_state=0)
    start = _steps_from_same_weights(ours, theirs, X, y, steps=3)
    _assert_same_weights(ours, theirs, atol=2e-6)   # moves of ~1e-2, eps 1e-8
    assert np.abs(ours.coefs_[0] - start["0.W"]).max() > 1e-2


# ------------------------------------------------------- warm start and partial_fit
def _same_fit(a, b):
    for Wa, Wb in zip([*a.coefs_, *a.intercepts_], [*b.coefs_, *b.intercepts_]):
        np.testing.assert_array_equal(Wa, Wb)
    assert a.loss_curve_ == b.loss_curve_


@pytest.mark.parametrize("optimizer", ["adam", "nesterov", "rmsprop"])
def test_two_partial_fits_equal_one_fit_of_two_epochs(optimizer):
    """Bit for bit, with shuffling and dropout on: the optimizer state (Adam moments and
    step count, momentum buffers) and the epoch-indexed randomness carry over."""
    X, y = _blobs(n=90)
    kw = dict(hidden_layer_sizes=(12,), regularizer="l1", alpha=1e-3, mode="prox",
              dropout=0.2, optimizer=optimizer, learning_rate=1e-2, batch_size=16,
              random_state=3)
    with warnings.catch_warnings():
        _quiet()
        full = MLPClassifier(max_epochs=2, **kw).fit(X, y)
    inc = MLPClassifier(**kw)
    inc.partial_fit(X, y, classes=[0, 1, 2])
    inc.partial_fit(X, y)
    _same_fit(full, inc)
    steps = 2 * int(np.ceil(90 / 16))
    assert inc.model_.optimizer.step_count == full.model_.optimizer.step_count == steps
    assert inc.n_iter_ == 1 and full.n_iter_ == 2   # as scikit-learn: epochs of the last call

    # The state matters: the same second epoch from a fresh optimizer state differs.
    reset = MLPClassifier(**kw)
    reset.partial_fit(X, y, classes=[0, 1, 2])
    reset.model_.optimizer.state.clear()
    reset.model_.optimizer.step_count = 0
    reset.partial_fit(X, y)
    assert not np.array_equal(reset.coefs_[0], full.coefs_[0])


def test_warm_start_fit_continues_like_one_long_fit():
    X, y = _blobs(n=90)
    kw = dict(hidden_layer_sizes=(12,), dropout=0.1, learning_rate=1e-2, batch_size=32,
              n_iter_no_change=100, random_state=1)
    with warnings.catch_warnings():
        _quiet()
        full = MLPClassifier(max_epochs=5, **kw).fit(X, y)
        warm = MLPClassifier(max_epochs=2, warm_start=True, **kw).fit(X, y)
        warm.set_params(max_epochs=3).fit(X, y)
        cold = MLPClassifier(max_epochs=2, **kw).fit(X, y)
        cold.set_params(max_epochs=3).fit(X, y)   # warm_start=False: starts again
    _same_fit(full, warm)
    assert warm.n_iter_ == 3 and len(warm.loss_curve_) == 5
    assert len(cold.loss_curve_) == 3
    assert warm.model_.optimizer.state["0.W"]["t"] == full.model_.optimizer.state["0.W"]["t"]


def test_regressor_partial_fit_equals_fit():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(70, 3))
    y = np.sin(X[:, 0]) + X[:, 1]
    kw = dict(hidden_layer_sizes=(10,), learning_rate=1e-2, batch_size=20, random_state=0)
    with warnings.catch_warnings():
        _quiet()
        full = MLPRegressor(max_epochs=3, **kw).fit(X, y)
    inc = MLPRegressor(**kw)
    for _ in range(3):
        inc.partial_fit(X, y)
    _same_fit(full, inc)


def test_warm_start_may_change_regularization_not_architecture():
    X, y = _blobs()
    clf = MLPClassifier((8,), max_epochs=3, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        _quiet()
        clf.fit(X, y)
        t = clf.model_.optimizer.step_count
        clf.set_params(regularizer="l1", alpha=5.0, mode="prox", learning_rate=1e-2).fit(X, y)
    assert clf.model_.optimizer.step_count == 2 * t          # state kept
    assert clf.model_.optimizer.base_lr == 1e-2
    assert clf.sparsity_ > 0
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        clf.set_params(hidden_layer_sizes=(9,)).fit(X, y)
    clf.set_params(hidden_layer_sizes=(8,))
    with pytest.raises(ValueError, match="classes_"):
        clf.fit(X, y + 5)
    with pytest.raises(ValueError, match="features"):
        clf.fit(X[:, :3], y)


def test_partial_fit_classes():
    X, y = _blobs()
    clf = MLPClassifier((8,), random_state=0)
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])   # a batch may lack a class
    assert clf.classes_.tolist() == [0, 1, 2]
    assert clf.predict_proba(X).shape == (len(X), 3)
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="early_stopping"):
        clf.set_params(early_stopping=True).partial_fit(X, y)


# ------------------------------------------------------- classifier and regressor behaviour
def test_classifier_digits_string_labels_and_probabilities(digits):
    X, y, Xt, yt = digits
    names = np.array([f"digit {i}" for i in range(10)])
    clf = MLPClassifier((64,), learning_rate=1e-2, max_epochs=30, n_iter_no_change=30,
                        random_state=0)
    with warnings.catch_warnings():
        _quiet()
        clf.fit(X, names[y])
    assert clf.classes_.tolist() == sorted(names.tolist())
    assert clf.score(Xt, names[yt]) > 0.95
    P = clf.predict_proba(Xt)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(Xt)), P, rtol=1e-10)
    assert (clf.classes_[P.argmax(axis=1)] == clf.predict(Xt)).all()
    assert [W.shape for W in clf.coefs_] == [(64, 64), (64, 10)]
    assert [b.shape for b in clf.intercepts_] == [(64,), (10,)]
    assert clf.n_layers_ == 3 and clf.n_features_in_ == 64
    assert len(clf.loss_curve_) == clf.n_iter_ == 30
    assert clf.validation_scores_ is None and clf.best_loss_ == min(clf.loss_curve_)
    assert clf.sparsity_ == 0.0


def test_binary_classification():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 2))
    y = np.where(X[:, 0] + X[:, 1] > 0, "pos", "neg")
    clf = MLPClassifier((8,), learning_rate=1e-2, max_epochs=50, random_state=0)
    with warnings.catch_warnings():
        _quiet()
        clf.fit(X, y)
    assert clf.score(X, y) > 0.95
    assert clf.predict_proba(X).shape == (100, 2)


def test_early_stopping_restores_best_weights(digits):
    X, y, _, _ = digits
    clf = MLPClassifier((32,), learning_rate=1e-2, max_epochs=200, early_stopping=True,
                        validation_fraction=0.2, n_iter_no_change=3, random_state=0)
    clf.fit(X, y)
    assert clf.n_iter_ < 200                       # stopped on the validation score
    assert len(clf.validation_scores_) == clf.n_iter_ == len(clf.loss_curve_)
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None
    # The weights are those of the best epoch: rescoring the held-out part gives it.
    _, X_val, _, y_val = clf._split(X, np.searchsorted(clf.classes_, y))
    assert clf.score(X_val, y_val) == clf.best_validation_score_


def test_regression_single_and_multi_output():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(400, 2))
    Y = np.column_stack([np.sin(X[:, 0]) + 0.5 * X[:, 1], X[:, 0] * X[:, 1]])
    kw = dict(hidden_layer_sizes=(32, 32), activation="tanh", learning_rate=1e-2,
              max_epochs=200, batch_size=32, random_state=0)
    with warnings.catch_warnings():
        _quiet()
        single = MLPRegressor(**kw).fit(X[:300], Y[:300, 0])
        multi = MLPRegressor(**kw).fit(X[:300], Y[:300])
    assert single.predict(X[300:]).shape == (100,)
    assert multi.predict(X[300:]).shape == (100, 2)
    assert single.score(X[300:], Y[300:, 0]) > 0.95
    assert multi.score(X[300:], Y[300:]) > 0.9
    assert multi.predict(X[300:]).dtype == np.float64
    assert not hasattr(multi, "classes_")


def test_regressor_early_stopping_uses_r2():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = X[:, 0] - X[:, 1]
    reg = MLPRegressor((16,), learning_rate=3e-2, max_epochs=30, early_stopping=True,
                       n_iter_no_change=30, random_state=0)
    with warnings.catch_warnings():
        _quiet()
        reg.fit(X, y)
    assert len(reg.validation_scores_) == 30
    assert reg.best_validation_score_ > 0.9          # an R², not a loss


def test_same_seed_same_model_and_dropout_changes_it():
    X, y = _blobs()
    kw = dict(hidden_layer_sizes=(16,), learning_rate=1e-2, max_epochs=5, random_state=7)
    with warnings.catch_warnings():
        _quiet()
        a = MLPClassifier(dropout=0.3, **kw).fit(X, y)
        b = MLPClassifier(dropout=0.3, **kw).fit(X, y)
        c = MLPClassifier(**kw).fit(X, y)
    _same_fit(a, b)
    assert not np.array_equal(a.coefs_[0], c.coefs_[0])
    assert sum(isinstance(layer, Dropout) for layer in a.model_.layers) == 1


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "sigmoid", "leaky_relu",
                                        "identity"])
def test_activations_and_linear_model(activation):
    X, y = _blobs()
    with warnings.catch_warnings():
        _quiet()
        clf = MLPClassifier((8, 8), activation=activation, learning_rate=1e-2, batch_size=32,
                            max_epochs=30, random_state=0).fit(X, y)
        linear = MLPClassifier((), learning_rate=1e-2, batch_size=32, max_epochs=30,
                               random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.9 and clf.n_layers_ == 4
    assert [W.shape for W in linear.coefs_] == [(5, 3)] and linear.score(X, y) > 0.9


def test_dtype_and_float64_training():
    X, y = _blobs()
    with warnings.catch_warnings():
        _quiet()
        clf = MLPClassifier((8,), dtype="float64", max_epochs=2, random_state=0).fit(X, y)
        f32 = MLPClassifier((8,), max_epochs=2, random_state=0).fit(X, y)
    assert clf.coefs_[0].dtype == np.float64 and f32.coefs_[0].dtype == np.float32


def test_verbose_and_convergence_warning(capsys):
    X, y = _blobs()
    clf = MLPClassifier((8,), max_epochs=3, verbose=True, random_state=0)
    with pytest.warns(ConvergenceWarning, match="max_epochs=3"):
        clf.fit(X, y)
    out = capsys.readouterr().out
    assert out.count("Iteration") == 3 and "loss = " in out


def test_stops_on_loss_plateau_like_sklearn():
    X, y = _blobs()
    clf = MLPClassifier((8,), learning_rate=5e-2, max_epochs=500, tol=1e-2, n_iter_no_change=2,
                        random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(X, y)
    assert clf.n_iter_ < 500


def test_pickle_roundtrip_predicts_the_same():
    X, y = _blobs()
    with warnings.catch_warnings():
        _quiet()
        clf = MLPClassifier((8,), max_epochs=3, random_state=0).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))


# ------------------------------------------------------- parameter errors name the parameter
BAD_PARAMS = [
    ("hidden_layer_sizes", 0), ("hidden_layer_sizes", (10, -1)), ("hidden_layer_sizes", "10"),
    ("activation", "swish"), ("activation", 3),
    ("regularizer", "l3"), ("alpha", -1.0), ("alpha", float("nan")), ("alpha", "big"),
    ("l1_ratio", 1.5), ("mode", "both"), ("regularize_biases", "yes"),
    ("dropout", 1.0), ("dropout", -0.1),
    ("optimizer", "lbfgs"), ("learning_rate", 0.0), ("momentum", 1.0),
    ("batch_size", 0), ("batch_size", 2.5), ("max_epochs", 0), ("max_epochs", 1.5),
    ("early_stopping", "no"), ("validation_fraction", 1.0), ("validation_fraction", 0.0),
    ("n_iter_no_change", 0), ("tol", -1e-3), ("verbose", "loud"), ("dtype", "float16"),
    ("dtype", "int32"), ("warm_start", None),
]


@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("name, value", BAD_PARAMS)
def test_bad_parameter_is_named(Est, name, value):
    X, y = _blobs(n=30)
    extra = {"regularizer": "elastic_net"} if name == "l1_ratio" else (
        {"optimizer": "sgd"} if name == "momentum" else {})
    est = Est(max_epochs=1, **extra).set_params(**{name: value})
    with pytest.raises(ValueError, match=rf"^{name}: "):
        est.fit(X, y)


def test_l0_needs_prox_mode():
    X, y = _blobs(n=30)
    with pytest.raises(ValueError, match="^mode: .*l0"):
        MLPClassifier(regularizer="l0").fit(X, y)


def test_bad_data_is_refused():
    X, y = _blobs(n=30)
    clf = MLPClassifier(max_epochs=1)
    with pytest.raises(ValueError):
        clf.fit(X, np.linspace(0, 1, 30))                   # continuous labels
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(X_nan, y)


def test_batch_size_larger_than_data_warns():
    X, y = _blobs(n=30)
    with pytest.warns(UserWarning, match="batch_size=64"):
        with warnings.catch_warnings():
            _quiet()
            MLPClassifier((4,), batch_size=64, max_epochs=1).fit(X, y)


# ------------------------------------------------------- docs and docstrings

def test_docs_python_blocks_run_as_written(monkeypatch, tmp_path, capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), flags=re.S)
    assert len(blocks) >= 2, "docs/sklearn.md has no python blocks"
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__"}
    with warnings.catch_warnings():
        _quiet()
        for i, block in enumerate(blocks):
            exec(compile(block, f"docs/sklearn.md[python block {i}]", "exec"), namespace)
    out = capsys.readouterr().out
    assert "best parameters" in out


def test_benchmark_runs_in_short_form(monkeypatch, capsys):
    assert "python benchmarks/bench_sklearn.py" in DOCS.read_text()
    bench = runpy.run_path(str(REPO / "benchmarks" / "bench_sklearn.py"), run_name="bench")
    for var in bench["_THREAD_VARS"]:   # the script sets them; restore them afterwards
        monkeypatch.setenv(var, os.environ.get(var, "1"))
    bench["main"](["--seeds", "2", "--epochs", "2", "--hidden", "8"])
    out = capsys.readouterr().out
    assert re.search(r"proxnet +0\.\d{4} ± 0\.\d{4} +\d+\.\d{3} ± \d\.\d{3}", out), out
    assert "scikit-learn" in out and "fit-time ratio" in out


@pytest.mark.parametrize("labels, message", [
    (np.array(["a", 1, "a", 1, 2, "b"] * 4, dtype=object), "uniformly strings or numbers"),
    (np.array([None, "a", "a", None, "b", "b"] * 4, dtype=object), "Unknown label type"),
    (np.array([None, 1, None, 1, 0, 0] * 4, dtype=object), "Unknown label type"),
    ([None] * 24, "Unknown label type"),
])
def test_mixed_or_none_labels_get_scikit_learns_own_message(labels, message):
    X = np.random.default_rng(0).normal(size=(24, 3))
    with pytest.raises(ValueError, match=message):
        MLPClassifier((4,), max_epochs=2).fit(X, labels)
    with pytest.raises(ValueError, match=message):
        MLPClassifier((4,)).partial_fit(X, labels, classes=np.unique(np.asarray(labels).astype(str)))


def test_scikit_learns_own_parameter_names_work_unchanged():
    X, y = _blobs()
    with warnings.catch_warnings():
        _quiet()
        sk_names = MLPClassifier(max_iter=50, learning_rate_init=1e-3, solver="adam", early_stopping=True,
                                 random_state=0).fit(X, y)
        ours = MLPClassifier(max_epochs=50, learning_rate=1e-3, optimizer="adam", early_stopping=True,
                             random_state=0).fit(X, y)
    assert [c.tobytes() for c in sk_names.coefs_] == [c.tobytes() for c in ours.coefs_]
    assert len(sk_names.validation_loss_curve_) == len(sk_names.validation_scores_) == sk_names.n_iter_
    assert len(sk_names.loss_curve_) == sk_names.n_iter_
    assert all(np.isfinite(sk_names.validation_loss_curve_))


def test_solver_sgd_means_nesterov_momentum_as_in_scikit_learn():
    X, y = _blobs()
    with warnings.catch_warnings():
        _quiet()
        a = MLPClassifier((8,), solver="sgd", momentum=0.9, max_iter=5, random_state=0).fit(X, y)
        b = MLPClassifier((8,), optimizer="nesterov", momentum=0.9, max_iter=5, random_state=0).fit(X, y)
        c = MLPClassifier((8,), solver="sgd", nesterovs_momentum=False, max_iter=5, random_state=0).fit(X, y)
    assert a.model_.optimizer.rule.name == "nesterov" and c.model_.optimizer.rule.name == "momentum"
    assert [w.tobytes() for w in a.coefs_] == [w.tobytes() for w in b.coefs_]


@pytest.mark.parametrize("params, message", [
    ({"solver": "lbfgs"}, "proxnet has no 'lbfgs'"),
    ({"solver": "adam", "optimizer": "rmsprop"}, "solver: give scikit-learn's solver or proxnet's optimizer"),
    ({"max_iter": 10, "max_epochs": 10}, "max_epochs: an alias of max_iter"),
    ({"learning_rate": "invscaling"}, "only scikit-learn's 'constant' schedule"),
    ({"learning_rate": 0.1, "learning_rate_init": 0.01}, "not both"),
    ({"nesterovs_momentum": "yes"}, "nesterovs_momentum: expected True or False"),
])
def test_name_conflicts_and_unsupported_values_are_refused(params, message):
    X, y = _blobs()
    with pytest.raises(ValueError, match=re.escape(message)):
        MLPClassifier((4,), **params).fit(X, y)
