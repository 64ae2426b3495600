"""scikit-learn-compatible estimators: :class:`MLPClassifier` and :class:`MLPRegressor`.

They wrap a :class:`proxnet.Sequential` (kept as ``model_``) behind the scikit-learn API
(``fit``, ``partial_fit``, ``predict``, ``predict_proba``, ``score``, ``get_params`` /
``set_params``), so proxnet's regularizers (L1, L2, elastic net, L0, group lasso, as a
penalty or as a proximal step) work inside ``Pipeline``, ``GridSearchCV`` and
``cross_validate``.

Penalty scaling (proxnet's, not scikit-learn's): ``alpha`` is the strength λ of the
regularizer g added to the **batch-mean** data loss, never divided by the number of
samples: ``"l2"`` is ½·λ·‖W‖², ``"l1"`` is λ·‖W‖₁, ``"elastic_net"`` is
λ·r·‖W‖₁ + ½·λ·(1 − r)·‖W‖² with r = ``l1_ratio``, ``"l0"`` is λ·‖W‖₀ (prox only),
``"group_lasso"`` is λ·Σ_j ‖W[:, j]‖₂ (one group per unit's incoming weights).
scikit-learn's ``MLPClassifier(alpha=a)`` trained with adam or sgd on mini-batches of
b samples is our ``regularizer="l2", alpha=a / b`` (``a / n_samples`` for its lbfgs
solver, which uses the whole training set as one batch); its ``MLPRegressor(alpha=a)``
is our ``alpha=2·a / (K·b)`` with K outputs; see ``docs/sklearn.md``.

>>> import numpy as np
>>> from proxnet.sklearn import MLPClassifier
>>> X = np.random.default_rng(0).normal(size=(60, 4)); y = np.where(X[:, 0] > 0, "yes", "no")
>>> clf = MLPClassifier((16,), regularizer="l1", alpha=1e-3, mode="prox",
...                     learning_rate_init=1e-2, max_iter=30, random_state=0).fit(X, y)
>>> clf.classes_.tolist(), clf.predict(X[:2]).shape, clf.n_iter_
(['no', 'yes'], (2,), 30)
"""
from __future__ import annotations

import numbers
import warnings

import numpy as np

from ._extras import SKLEARN, require

require(SKLEARN, "proxnet.sklearn", "sklearn")

from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.metrics import accuracy_score, r2_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import LabelEncoder  # noqa: E402
from sklearn.utils import check_random_state  # noqa: E402
from sklearn.utils.multiclass import check_classification_targets, type_of_target  # noqa: E402
from sklearn.utils.validation import check_is_fitted  # noqa: E402

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - older scikit-learn
    def _validate_data(estimator, *args, **kwargs):
        return estimator._validate_data(*args, **kwargs)

from .backend import resolve_dtype
from .functional.activations import log_softmax, softmax
from .training.callbacks import Callback, EarlyStopping, History
from .architectures import mlp_layers
from .layers import ACTIVATIONS, Dense
from .metrics import sparsity_report
from .model import Sequential
from .optim import RULES
from .regularizers import from_strength

__all__ = ["MLPClassifier", "MLPRegressor", "REGULARIZER_NAMES"]

REGULARIZER_NAMES = ("l1", "l2", "elastic_net", "l0", "group_lasso")
"""Accepted values of ``regularizer`` (besides None)."""

_ACTIVATION_ALIASES = {"logistic": "sigmoid"}  # scikit-learn's name for the sigmoid
_PREDICT_BATCH = 4096


def _check_number(value, name, *, low=None, high=None, low_open=False, high_open=False,
                  integer=False):
    """``value`` as a float (or int) after checking type and range; clear ValueError otherwise."""
    kinds = (numbers.Integral,) if integer else (numbers.Real,)
    if isinstance(value, bool) or not isinstance(value, kinds) or not np.isfinite(value):
        raise ValueError(f"{name}: expected a finite {'int' if integer else 'number'}, got {value!r}")
    bad = ((low is not None and (value <= low if low_open else value < low))
           or (high is not None and (value >= high if high_open else value > high)))
    if bad:
        lo = "" if low is None else f"{'(' if low_open else '['}{low}, "
        hi = "" if high is None else f"{high}{')' if high_open else ']'}"
        rng = f"{lo}{hi}" if low is not None and high is not None else (
            f"{'>' if low_open else '>='} {low}" if low is not None else f"{'<' if high_open else '<='} {high}")
        raise ValueError(f"{name}: expected a value in {rng}, got {value!r}")
    return int(value) if integer else float(value)


def _check_label_types(y):
    """Labels of one type (all strings or all numbers; no None): scikit-learn's own message
    (its label encoders'), as a ValueError, instead of a TypeError from sorting."""
    y = np.asarray(y)
    if y.dtype == object:
        try:
            LabelEncoder().fit(y.ravel())
        except TypeError as exc:
            raise ValueError(f"y: {exc}") from None


class _EpochRecord(Callback):
    """Per epoch of an estimator's fit: the loss curve, the validation score (early
    stopping; added to the logs for EarlyStopping to read) and the verbose line."""

    def __init__(self, estimator, validation):
        super().__init__()
        self.estimator, self.validation = estimator, validation

    def on_epoch_end(self, epoch, logs=None):
        est = self.estimator
        est.n_iter_ += 1
        est.loss_curve_.append(float(logs["loss"]))
        msg = f"Iteration {est.n_iter_}, loss = {float(logs['loss']):.8f}"
        if self.validation is not None:
            score = est._val_score(*self.validation)
            logs["val_score"] = score
            logs["val_loss"] = est.model_.evaluate(*self.validation)["loss"]
            est.validation_scores_.append(score)
            est.validation_loss_curve_.append(float(logs["val_loss"]))
            msg += f", validation score = {score:.6f}"
        if est.verbose:
            print(msg)


class _BaseMLP(BaseEstimator):
    """Shared machinery of :class:`MLPClassifier` and :class:`MLPRegressor`."""

    _loss = "mse"

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, regularizer="l2",
                 alpha=1e-4, l1_ratio=0.5, mode="penalty", regularize_biases=False, dropout=0.0,
                 optimizer="adam", solver=None, learning_rate="constant", learning_rate_init=1e-3,
                 momentum=0.9, nesterovs_momentum=True, batch_size="auto", max_iter=200,
                 max_epochs=None, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=10, tol=1e-4, random_state=None, verbose=False,
                 dtype="float32", warm_start=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.regularizer = regularizer
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.mode = mode
        self.regularize_biases = regularize_biases
        self.dropout = dropout
        self.optimizer = optimizer
        self.solver = solver
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose
        self.dtype = dtype
        self.warm_start = warm_start

    # ------------------------------------------------------------------ parameters
    def _hidden_sizes(self):
        h = self.hidden_layer_sizes
        sizes = [h] if isinstance(h, numbers.Integral) else h
        try:
            sizes = list(sizes)
        except TypeError:
            raise ValueError(f"hidden_layer_sizes: expected an int or a sequence of ints, got {h!r}") from None
        for s in sizes:
            if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1:
                raise ValueError(f"hidden_layer_sizes: expected positive ints, got {h!r}")
        return [int(s) for s in sizes]

    def _activation_name(self):
        name = self.activation
        if not isinstance(name, str):
            raise ValueError(f"activation: expected a name, got {name!r}")
        name = _ACTIVATION_ALIASES.get(name.lower(), name.lower())
        if name not in ACTIVATIONS:
            valid = sorted({*ACTIVATIONS, *_ACTIVATION_ALIASES})
            raise ValueError(f"activation: unknown {self.activation!r}; valid names: {', '.join(valid)}")
        return name

    def _make_regularizer(self):
        """The proxnet regularizer for ``regularizer``/``alpha``/``l1_ratio``/``mode``, or None."""
        if self.mode not in ("penalty", "prox"):
            raise ValueError(f"mode: expected 'penalty' or 'prox', got {self.mode!r}")
        alpha = _check_number(self.alpha, "alpha", low=0)
        kind = self.regularizer
        if kind is None:
            return None
        if kind not in REGULARIZER_NAMES:
            raise ValueError(f"regularizer: expected None or one of {', '.join(map(repr, REGULARIZER_NAMES))}, "
                             f"got {kind!r}")
        if kind == "l0" and self.mode != "prox":
            raise ValueError("mode: regularizer='l0' has no gradient and needs mode='prox' "
                             f"(hard thresholding), got mode={self.mode!r}")
        r = _check_number(self.l1_ratio, "l1_ratio", low=0, high=1)
        return from_strength(kind, alpha, mode=self.mode, l1_ratio=r)

    def _learning_rate_init(self) -> float:
        """``learning_rate_init``, or a number given as ``learning_rate`` (proxnet 0.1's name)."""
        lr = self.learning_rate
        if isinstance(lr, str):
            if lr != "constant":
                raise ValueError(f"learning_rate: only scikit-learn's 'constant' schedule is supported, "
                                 f"got {lr!r} (the initial rate is learning_rate_init)")
            return _check_number(self.learning_rate_init, "learning_rate_init", low=0, low_open=True)
        if self.learning_rate_init != 1e-3:
            raise ValueError("learning_rate: give the initial rate as learning_rate_init (a number "
                             "in learning_rate is its proxnet 0.1 alias), not both")
        return _check_number(lr, "learning_rate", low=0, low_open=True)

    def _max_iter(self) -> int:
        """``max_iter``, or ``max_epochs`` (its alias) when that is given."""
        if self.max_epochs is None:
            return _check_number(self.max_iter, "max_iter", low=1, integer=True)
        if self.max_iter != 200:
            raise ValueError("max_epochs: an alias of max_iter; give one of them")
        return _check_number(self.max_epochs, "max_epochs", low=1, integer=True)

    def _rule(self) -> str:
        """The update rule: ``optimizer``, or scikit-learn's ``solver`` ("adam"; "sgd" is SGD
        with momentum, Nesterov's when ``nesterovs_momentum``, as in scikit-learn)."""
        if self.solver is None:
            name = self.optimizer
            if not isinstance(name, str) or name.lower() not in RULES:
                raise ValueError(f"optimizer: unknown {name!r}; valid names: {', '.join(sorted(RULES))}")
            return name.lower()
        if self.optimizer != "adam":
            raise ValueError("solver: give scikit-learn's solver or proxnet's optimizer, not both")
        if self.solver == "adam":
            return "adam"
        if self.solver == "sgd":
            momentum = _check_number(self.momentum, "momentum", low=0, high=1, high_open=True)
            return "sgd" if momentum == 0 else ("nesterov" if self.nesterovs_momentum else "momentum")
        raise ValueError(f"solver: expected 'sgd' or 'adam' (proxnet has no 'lbfgs'), got {self.solver!r}")

    def _optimizer_spec(self):
        name = self._rule()
        spec = {"kind": name, "lr": self._learning_rate_init()}
        if name in ("sgd", "momentum", "nesterov"):
            spec["momentum"] = _check_number(self.momentum, "momentum", low=0, high=1, high_open=True)
            if name == "nesterov" and spec["momentum"] == 0:
                raise ValueError("momentum: optimizer='nesterov' needs momentum > 0")
        return spec

    def _check_params(self):
        """Validate every constructor parameter (scikit-learn validates in fit, not __init__)."""
        for name in ("early_stopping", "warm_start", "regularize_biases", "verbose",
                     "nesterovs_momentum"):
            value = getattr(self, name)
            if not isinstance(value, (bool, np.bool_)) and not (
                    name == "verbose" and isinstance(value, numbers.Integral) and value >= 0):
                raise ValueError(f"{name}: expected True or False, got {value!r}")
        _check_number(self.dropout, "dropout", low=0, high=1, high_open=True)
        if not (self.batch_size == "auto" or (isinstance(self.batch_size, numbers.Integral)
                                              and not isinstance(self.batch_size, bool)
                                              and self.batch_size >= 1)):
            raise ValueError(f"batch_size: expected 'auto' or a positive int, got {self.batch_size!r}")
        self._max_iter()
        _check_number(self.n_iter_no_change, "n_iter_no_change", low=1, integer=True)
        _check_number(self.tol, "tol", low=0)
        _check_number(self.validation_fraction, "validation_fraction", low=0, high=1,
                      low_open=True, high_open=True)
        try:
            resolve_dtype(self.dtype)
        except ValueError:
            raise ValueError(f"dtype: expected 'float32' or 'float64', got {self.dtype!r}") from None
        self._hidden_sizes()
        self._activation_name()
        self._make_regularizer()
        self._optimizer_spec()

    def _architecture(self):
        """What a warm start cannot change (the layers and the optimizer rule)."""
        return (tuple(self._hidden_sizes()), self._activation_name(), float(self.dropout),
                resolve_dtype(self.dtype).name, self._optimizer_spec()["kind"])

    # ------------------------------------------------------------------ the model
    def _build(self, n_features: int, n_outputs: int) -> Sequential:
        act_name = self._activation_name()
        init = "he" if act_name in ("relu", "leaky_relu") else "xavier_uniform"
        layers = mlp_layers([n_features, *self._hidden_sizes(), n_outputs], activation=act_name,
                            dropout=self.dropout, init=init)
        return Sequential(layers, loss=self._loss, optimizer=self._optimizer_spec(),
                          seed=np.random.default_rng([self._seed, 0]), dtype=self.dtype)

    def _configure(self, model: Sequential) -> None:
        """Apply the current regularizer, learning rate and momentum to ``model`` (on a warm
        start these may change between calls; the optimizer state is kept)."""
        reg = self._make_regularizer()
        model.weight_regularizer = reg
        for layer in model.layers:
            if isinstance(layer, Dense) and layer.bias:
                layer.set_regularizer("b", reg if self.regularize_biases else None)
        spec = self._optimizer_spec()
        model.optimizer.configure(lr=spec["lr"], **({"momentum": spec["momentum"]}
                                                    if "momentum" in spec else {}))

    def _dense_layers(self):
        return [layer for layer in self.model_.layers if isinstance(layer, Dense)]

    def _outputs(self, X) -> np.ndarray:
        """Raw network outputs (N, K) in inference mode, in batches, in float64.

        The weights (float32 by default) are used as they are, but the arithmetic is
        float64 (a float64 input promotes every matmul), so that a sample's prediction does
        not depend on which other samples share its batch: float32 GEMM kernels round
        differently for different batch shapes (~1e-7), float64 ones ~1e-16.
        """
        model = self.model_
        X = X.astype(np.float64, copy=False)
        if X.shape[0] <= _PREDICT_BATCH:
            return model.forward(X, training=False)
        return np.concatenate([model.forward(X[s:s + _PREDICT_BATCH], training=False)
                               for s in range(0, X.shape[0], _PREDICT_BATCH)])

    # ------------------------------------------------------------------ training
    def _validate_train(self, X, y, reset):
        X, y = _validate_data(self, X, y, reset=reset, dtype=(np.float64, np.float32),
                              multi_output=self._multi_output, y_numeric=not self._is_clf)
        return X, y

    def _fit(self, X, y, *, incremental: bool, classes=None):
        self._check_params()
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        X, targets = self._prepare(X, y, incremental=incremental, classes=classes)
        validation = None
        if self.early_stopping and not incremental:
            X, X_val, targets, y_val = self._split(X, targets)
            if X_val.shape[0] < 2:
                raise ValueError("validation_fraction: the validation set has fewer than 2 "
                                 "samples; increase validation_fraction or the data")
            if self.validation_scores_ is None:
                self.validation_scores_, self.validation_loss_curve_ = [], []
            validation = (X_val, y_val)
        converged = self._train(X, targets, validation, incremental)
        if not converged:
            name = "max_iter" if self.max_epochs is None else "max_epochs"
            warnings.warn(f"{name}={self._max_iter()} reached and the training "
                          f"{'validation score' if self.early_stopping else 'loss'} has not "
                          "stopped improving", ConvergenceWarning, stacklevel=3)
        self._set_fitted_attributes()
        return self

    def _prepare(self, X, y, *, incremental, classes):
        """Checked inputs and targets in the model's dtype; builds the model on a first fit."""
        first = not hasattr(self, "model_") or not (incremental or self.warm_start)
        X, y = self._validate_train(X, y, reset=first)
        targets, n_outputs = self._prepare_targets(y, first=first, incremental=incremental,
                                                   classes=classes)
        if first:
            self._seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
            self.model_ = self._build(X.shape[1], n_outputs)
            self.model_.trainer.reseed(np.random.default_rng([self._seed, 1]))
            self._arch = self._architecture()
            self.loss_curve_ = []
            self.validation_scores_ = [] if self.early_stopping else None
            self.validation_loss_curve_ = [] if self.early_stopping else None
            self.history_ = History()
        elif self._architecture() != self._arch:
            raise ValueError(
                "warm_start/partial_fit: hidden_layer_sizes, activation, dropout, dtype or "
                "optimizer changed since the last fit (they fix the network); set "
                "warm_start=False to train a new one")
        self._configure(self.model_)
        X = X.astype(self.model_.dtype, copy=False)
        dtype = np.intp if self._is_clf else self.model_.dtype
        return X, targets.astype(dtype, copy=False)

    def _batch_size(self, n: int) -> int:
        if self.batch_size == "auto":
            return min(200, n)
        if self.batch_size > n:
            warnings.warn(f"batch_size={self.batch_size} is larger than the {n} training "
                          "samples; using full batches", UserWarning, stacklevel=5)
        return min(int(self.batch_size), n)

    def _train(self, X, targets, validation, incremental: bool) -> bool:
        """One fit call of the model (one epoch for partial_fit), stopped by EarlyStopping on
        the validation score or the training loss; returns whether it stopped (converged).
        The model's random streams (shuffling, dropout) were seeded once when it was built:
        warm starts and partial_fit calls continue them as one uninterrupted run would."""
        callbacks = [_EpochRecord(self, validation)]
        if not incremental:
            stopper = EarlyStopping(monitor="val_score" if self.early_stopping else "loss",
                                    mode="max" if self.early_stopping else "min", min_delta=self.tol,
                                    patience=self.n_iter_no_change,
                                    restore_best_weights=self.early_stopping)
            callbacks.append(stopper)
        self.n_iter_ = 0
        hist = self.model_.fit(X, targets, epochs=1 if incremental else self._max_iter(),
                               batch_size=self._batch_size(X.shape[0]), shuffle=True, verbose=False,
                               eval_train=False, track_grad_norms=False, track_sparsity=False,
                               callbacks=callbacks)
        for k in range(len(hist)):
            self.history_.append({key: values[k] for key, values in hist.history.items()})
        if incremental:
            return True
        self.best_validation_score_ = stopper.best_value_ if self.early_stopping else None
        self.best_loss_ = None if self.early_stopping else stopper.best_value_
        if stopper.stopped_epoch_ is not None and self.verbose:
            print(f"{'Validation score' if self.early_stopping else 'Training loss'} did not "
                  f"improve more than tol={self.tol} for {self.n_iter_no_change} "
                  "consecutive epochs. Stopping.")
        return stopper.stopped_epoch_ is not None

    def _split(self, X, targets):
        """Hold out ``validation_fraction`` (stratified for classifiers where every class
        can be represented in both parts, otherwise a plain random split)."""
        kw = dict(test_size=self.validation_fraction, random_state=self._seed)
        if self._is_clf:
            counts = np.bincount(targets)
            n_val = int(np.ceil(self.validation_fraction * len(targets)))
            k = np.count_nonzero(counts)
            if counts[counts > 0].min() >= 2 and k <= n_val <= len(targets) - k:
                return train_test_split(X, targets, stratify=targets, **kw)
        return train_test_split(X, targets, **kw)

    def _set_fitted_attributes(self):
        dense = self._dense_layers()
        self.coefs_ = [layer.params["W"] for layer in dense]
        self.intercepts_ = [layer.params["b"] for layer in dense]
        self.n_layers_ = len(dense) + 1
        self.sparsity_report_ = sparsity_report(self.model_)
        self.sparsity_ = float(self.sparsity_report_["zeros/total"])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags

    def __repr__(self, N_CHAR_MAX=700):
        return super().__repr__(N_CHAR_MAX=N_CHAR_MAX)


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier trained by proxnet (softmax cross-entropy).

    Any class labels (ints, strings, ...), binary or multiclass: the output layer has one
    unit per class (two for binary problems) and a fused softmax + cross-entropy loss.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Units of each hidden layer (``()`` gives a linear softmax model).
    activation : str, default="relu"
        Hidden activation, a name of :data:`proxnet.layers.ACTIVATIONS` ("relu", "tanh",
        "sigmoid", "leaky_relu", "identity"); scikit-learn's "logistic" means "sigmoid".
        Weights start from He-normal for relu/leaky_relu, Glorot-uniform otherwise;
        biases start at 0.
    regularizer : None, "l1", "l2", "elastic_net", "l0" or "group_lasso", default="l2"
        Applied to the weights of every layer (output layer included). None: no
        regularization (``alpha``, ``l1_ratio`` and ``mode`` are then unused).
    alpha : float, default=1e-4
        Strength λ in proxnet's scaling: g(W) is added to the batch-mean loss, not divided
        by the number of samples. "l2": ½·λ·‖W‖²; "l1": λ·‖W‖₁; "elastic_net":
        λ·r·‖W‖₁ + ½·λ·(1 − r)·‖W‖² with r = ``l1_ratio``; "l0": λ·‖W‖₀; "group_lasso":
        λ·Σ_j ‖W[:, j]‖₂ over units. scikit-learn's ``alpha=a`` with mini-batches of b
        samples is ``regularizer="l2", alpha=a / b`` here (see docs/sklearn.md).
    l1_ratio : float in [0, 1], default=0.5
        Share of L1 in the elastic net.
    mode : "penalty" or "prox", default="penalty"
        "penalty" adds g to the loss and ∇g to the gradient; "prox" applies
        ``W ← prox(W, scaling=lr)`` after each optimizer step, which gives exact zeros
        ("l0" works only as "prox").
    regularize_biases : bool, default=False
        Also regularize the biases with the same regularizer (group lasso then acts per
        entry). scikit-learn never regularizes biases.
    dropout : float in [0, 1), default=0.0
        Drop probability of an inverted-dropout layer after each hidden activation.
    optimizer : str, default="adam"
        An update rule of :data:`proxnet.optim.RULES`: "adam", "adamw" (with its own
        decoupled weight decay 0.01), "sgd", "momentum", "nesterov", "rmsprop" (PyTorch
        conventions).
    solver : None, "sgd" or "adam", default=None
        scikit-learn's name, with its meaning: "adam" is optimizer "adam"; "sgd" is SGD with
        ``momentum`` (Nesterov's when ``nesterovs_momentum``, scikit-learn's default), i.e.
        optimizer "nesterov" / "momentum" ("sgd" when momentum is 0). Give ``solver`` or a
        non-default ``optimizer``, not both; "lbfgs" is not available.
    learning_rate : "constant", default="constant"
        scikit-learn's schedule name; only "constant" is supported. A number here is read
        as ``learning_rate_init`` (proxnet 0.1's spelling).
    learning_rate_init : float, default=1e-3
        The learning rate (constant over training).
    momentum : float in [0, 1), default=0.9
        For "sgd", "momentum" and "nesterov" only; "sgd" with ``momentum > 0`` is
        heavy-ball momentum (as PyTorch's SGD), ``momentum=0`` plain SGD.
    nesterovs_momentum : bool, default=True
        With ``solver="sgd"``: Nesterov's momentum (scikit-learn's meaning).
    batch_size : "auto" or int, default="auto"
        "auto" is min(200, n_samples); larger ints are clipped to n_samples with a warning.
    max_iter : int, default=200
        Epochs (passes over the training set) per ``fit`` call, as scikit-learn's.
    max_epochs : int or None, default=None
        An alias of ``max_iter`` (proxnet 0.1's name); give one of them.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified) and stop when
        the validation accuracy has not improved by ``tol`` for more than
        ``n_iter_no_change`` epochs; the weights of the best epoch are restored (the
        optimizer state is that of the last epoch). Not with ``partial_fit``.
    validation_fraction : float in (0, 1), default=0.1
    n_iter_no_change : int, default=10
    tol : float, default=1e-4
        Without early stopping, training stops when the training loss (``loss_curve_``) has
        not decreased by ``tol`` for more than ``n_iter_no_change`` epochs, as in
        scikit-learn; set ``n_iter_no_change >= max_iter`` to always run ``max_iter``.
    random_state : int, RandomState or None, default=None
        Fixes the initial weights, the shuffling and dropout masks of every epoch, and
        the validation split.
    verbose : bool, default=False
        Print the loss (and validation score) of every epoch.
    dtype : "float32" or "float64", default="float32"
        Precision of the weights and of the training arithmetic.
    warm_start : bool, default=False
        ``fit`` continues from the current weights **and optimizer state** (Adam moments,
        momentum buffers, step counts); ``max_iter`` more epochs. The regularizer,
        ``alpha``, ``mode`` and ``learning_rate_init`` may change between calls; the
        architecture may not.

    Attributes
    ----------
    classes_ : ndarray (n_classes,)
    coefs_ : list of ndarray
        Weights of each layer, ``coefs_[i]`` of shape (units in layer i, units in layer i+1).
    intercepts_ : list of ndarray
        Biases of each layer.
    loss_curve_ : list of float
        Training loss (mean data loss over the epoch's batches + regularization) per
        epoch, across warm starts and ``partial_fit`` calls.
    validation_scores_ : list of float or None
        Validation accuracy per epoch with ``early_stopping``, else None.
    validation_loss_curve_ : list of float or None
        Loss (data + regularization) on the held-out validation data per epoch with
        ``early_stopping``, beside ``loss_curve_``; else None.
    best_loss_, best_validation_score_ : float or None
    n_iter_ : int
        Epochs run by the last ``fit`` (1 after ``partial_fit``).
    n_layers_ : int
    sparsity_ : float
        Fraction of exact zeros over all weights (biases excluded).
    sparsity_report_ : dict
        :func:`proxnet.metrics.sparsity_report` of the model (zeros per layer, dead units,
        effective parameter count).
    model_ : proxnet.Sequential
        The trained network (its ``optimizer`` holds the optimizer state).
    history_ : proxnet.History
        Per-epoch logs of every epoch trained.
    n_features_in_ : int
    feature_names_in_ : ndarray, when X had string column names
    """

    _loss = "softmax_cross_entropy"
    _is_clf = True
    _multi_output = False

    def _prepare_targets(self, y, *, first, incremental, classes):
        _check_label_types(y)
        if classes is not None:
            _check_label_types(classes)
        check_classification_targets(y)
        if type_of_target(y) not in ("binary", "multiclass"):
            raise ValueError(f"y: expected binary or multiclass labels, got {type_of_target(y)!r}")
        if first:
            if incremental:
                if classes is None:
                    raise ValueError("classes: must be given on the first call to partial_fit "
                                     "(all the labels that may ever appear)")
                self.classes_ = np.unique(np.asarray(classes))
            else:
                self.classes_ = np.unique(y)
        elif classes is not None and not np.array_equal(np.unique(np.asarray(classes)), self.classes_):
            raise ValueError(f"classes: {np.unique(np.asarray(classes))!r} differs from classes_ "
                             f"{self.classes_!r} of the earlier fit")
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if unknown.size:
            raise ValueError(f"y: labels {unknown.tolist()!r} are not among classes_ "
                             f"{self.classes_.tolist()!r}" + ("" if first else
                             " of the earlier fit (warm_start/partial_fit keep the classes)"))
        return np.searchsorted(self.classes_, y), len(self.classes_)

    def _val_score(self, X_val, y_val):
        return accuracy_score(y_val, self._outputs(X_val).argmax(axis=1))

    def fit(self, X, y):
        """Train on X (n_samples, n_features) and labels y (n_samples,); returns self."""
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y, classes=None):
        """One epoch on (X, y), continuing the weights and optimizer state.

        ``classes`` (all the labels that may appear) is required on the first call.
        """
        return self._fit(X, y, incremental=True, classes=classes)

    def predict_proba(self, X):
        """Class probabilities (n_samples, n_classes), columns in the order of ``classes_``."""
        check_is_fitted(self)
        X = _validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return softmax(self._outputs(X).astype(np.float64))

    def predict_log_proba(self, X):
        """log of :meth:`predict_proba`, computed stably (log-softmax)."""
        check_is_fitted(self)
        X = _validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return log_softmax(self._outputs(X).astype(np.float64))

    def predict(self, X):
        """Predicted labels (n_samples,), taken from ``classes_``."""
        check_is_fitted(self)
        X = _validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return self.classes_[self._outputs(X).argmax(axis=1)]


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor trained by proxnet (mean squared error, linear output).

    The parameters, the training and the attributes are those of :class:`MLPClassifier`
    (no ``classes_``), with these differences: y is (n_samples,) or (n_samples, n_outputs);
    the loss is mean[(ŷ − y)²] over all n·K entries (K outputs; scikit-learn's gradient is
    that of ½·Σ_k mean_i, so its ``alpha=a`` with batches of b samples is
    ``alpha=2·a / (K·b)`` here, at K/2 times its learning rate for SGD and momentum, the
    same rate for Adam); the early-stopping score is R²; ``predict`` returns float64 of
    the shape of the training y.

    Attributes
    ----------
    n_outputs_ : int
        K, the number of targets per sample; the other attributes are those of
        :class:`MLPClassifier` except ``classes_``.
    """

    _loss = "mse"
    _is_clf = False
    _multi_output = True

    def _prepare_targets(self, y, *, first, incremental, classes):
        y = np.asarray(y)
        y2 = y.reshape(-1, 1) if y.ndim == 1 else y
        if first:
            self._y_ndim = y.ndim
            self.n_outputs_ = y2.shape[1]
        elif y2.shape[1] != self.n_outputs_:
            raise ValueError(f"y: expected {self.n_outputs_} output(s) as in the earlier fit, "
                             f"got {y2.shape[1]}")
        return y2, y2.shape[1]

    def _val_score(self, X_val, y_val):
        return r2_score(y_val, self._outputs(X_val))

    def fit(self, X, y):
        """Train on X (n_samples, n_features) and targets y (n_samples,) or
        (n_samples, n_outputs); returns self."""
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y):
        """One epoch on (X, y), continuing the weights and optimizer state."""
        return self._fit(X, y, incremental=True)

    def predict(self, X):
        """Predictions, float64, (n_samples,) or (n_samples, n_outputs) like the training y."""
        check_is_fitted(self)
        X = _validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        out = self._outputs(X).astype(np.float64)
        return out.ravel() if self._y_ndim == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
