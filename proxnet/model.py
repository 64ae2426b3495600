"""Sequential: a stack of layers with a fused loss, regularizers and an optimizer.

The model is the container: its layers and their named parameters, forward and backward,
``loss_and_grads``, inference (``predict``, ``evaluate``), config and repr. Training lives
in :mod:`proxnet.training` (``model.fit`` runs ``model.trainer``), model files in
:mod:`proxnet.io` (``proxnet.save`` / ``proxnet.load``).

>>> import numpy as np
>>> from proxnet import Sequential, layers, regularizers
>>> model = Sequential([layers.Dense(4, 8), layers.ReLU(), layers.Dense(8, 3)],
...                    weight_regularizer=regularizers.L2(1e-4), seed=0)
>>> X = np.random.default_rng(0).normal(size=(30, 4)); y = np.arange(30) % 3
>>> hist = model.fit(X, y, epochs=2, batch_size=10, seed=0, verbose=False)
>>> sorted(model.evaluate(X, y))
['accuracy', 'data_loss', 'loss', 'reg_loss']
"""
from __future__ import annotations

import numpy as np

from .backend import as_generator, resolve_dtype, spawn
from .display import table_html, table_text
from .layers import Layer
from .losses import get_loss
from .metrics import output_metrics
from .optim import get_optimizer
from .regularizers import get_regularizer
from .training import History, Trainer, TrainingDivergedError
from .training.shards import forward_batched
from .training.step import penalty_gradients, regularization_loss
from .validation import check_array, check_labels

__all__ = ["Sequential", "TrainingDivergedError"]


class Sequential:
    """Layers applied in order, trained with a fused loss.

    Parameters
    ----------
    layers : list of Layer
    loss : str or Loss
        A name from :data:`proxnet.losses.LOSSES`, default ``"softmax_cross_entropy"``.
    optimizer : str, dict or Optimizer
        Default ``{"kind": "sgd", "lr": 0.01}``. Its state persists across ``fit`` calls
        (a warm start continues momentum and Adam moments).
    weight_regularizer : Regularizer, dict or None
        Model-wide default for every layer's *weights* whose own regularizer is None.
        Biases are regularized only where a layer says so (``bias_regularizer=``).
    seed : int, Generator or None
        If given, every layer is (re)initialized from it, so a seed fixes the weights: the
        j-th layer with parameters draws from the j-th child generator of the seed, so two
        models that differ only in parameter-free layers (dropout, activations) start from
        identical weights (the pairing of a study's methods rests on it).
    dtype : "float32" (default) or "float64"
        All parameters and inputs are cast to it.

    Attributes
    ----------
    trainer : proxnet.training.Trainer
        The fit loop and its state (``trainer.epochs_done``, the random streams).
    history : History or None
        The History of the last ``fit``.
    stop_training : bool
        Set by a callback to end ``fit`` after the current epoch.
    """

    def __init__(self, layers, *, loss="softmax_cross_entropy", optimizer=None,
                 weight_regularizer=None, seed=None, dtype=None):
        layers = list(layers)
        if not layers:
            raise ValueError("layers: expected at least one layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise ValueError(f"layers[{i}]: expected a proxnet Layer, got {type(layer).__name__}")
        self.layers = layers
        self.loss_fn = get_loss(loss)
        self.optimizer = get_optimizer(optimizer if optimizer is not None else {"kind": "sgd", "lr": 0.01})
        self.weight_regularizer = get_regularizer(weight_regularizer)
        self.dtype = resolve_dtype(dtype)
        self.seed = seed
        if seed is not None:
            self._seed_layers(as_generator(seed))
        for layer in self.layers:
            layer.astype(self.dtype)
        self.history: History | None = None
        self.stop_training = False
        self.trainer = Trainer(self)

    def _seed_layers(self, root) -> None:
        """Initialize the j-th weighted layer (a layer with parameters) from the j-th child of
        ``root``, whatever other layers lie between, so that models differing only in
        parameter-free layers (dropout, activations) start from the same weights; then give
        the other layers (dropout) generators of their own."""
        weighted = [layer for layer in self.layers if layer.params]
        for layer, rng in zip(weighted, spawn(root, len(weighted))):
            layer.reset_parameters(rng)
        others = [layer for layer in self.layers if not layer.params]
        for layer, rng in zip(others, spawn(root, len(others))):
            layer.set_rng(rng)

    # -- parameters ------------------------------------------------------------
    def named_parameters(self):
        """Yield ``(name, array)`` for every parameter, names like ``"0.W"``, ``"2.b"``."""
        for i, layer in enumerate(self.layers):
            for key, value in layer.params.items():
                yield f"{i}.{key}", value

    def named_gradients(self):
        """Yield ``(name, gradient)`` in the order of :meth:`named_parameters`."""
        for i, layer in enumerate(self.layers):
            for key in layer.params:
                yield f"{i}.{key}", layer.grads[key]

    def locate(self, name: str):
        """``(layer, key)`` of the parameter called ``name`` (e.g. ``"0.W"``)."""
        try:
            idx, key = name.split(".", 1)
            layer = self.layers[int(idx)]
        except (ValueError, IndexError):
            raise ValueError(f"parameter: no parameter named {name!r}") from None
        if key not in layer.params:
            raise ValueError(f"parameter: no parameter named {name!r}")
        return layer, key

    def set_parameters(self, values: dict) -> None:
        """Replace parameters by name (arrays are copied and cast to the model dtype)."""
        for name, value in values.items():
            layer, key = self.locate(name)
            old = layer.params[key]
            value = np.asarray(value)
            if value.shape != old.shape:
                raise ValueError(f"{name}: expected shape {old.shape}, got {value.shape}")
            layer.params[key] = np.array(value, dtype=self.dtype)

    def regularizers(self) -> dict:
        """The regularizer in force for each parameter name (layer's own, else the default
        for weights), only where there is one."""
        out = {}
        for i, layer in enumerate(self.layers):
            for key in layer.params:
                reg = layer.regularizers.get(key)
                if reg is None and key in layer.weight_names and self.weight_regularizer is not None:
                    reg = self.weight_regularizer
                    if reg.structured:
                        reg = reg.bind(*layer.unit_axes.get(key, (layer.params[key].ndim - 1, 0)))
                if reg is not None:
                    out[f"{i}.{key}"] = reg
        return out

    def regularization_loss(self) -> float:
        """Σ r(w) over every regularized parameter, whatever its mode."""
        return regularization_loss(dict(self.named_parameters()), self.regularizers())

    def n_params(self) -> int:
        return sum(v.size for _, v in self.named_parameters())

    @property
    def epochs_done(self) -> int:
        """Epochs trained so far (``trainer.epochs_done``)."""
        return self.trainer.epochs_done

    # -- checking inputs -----------------------------------------------------------
    def check_X(self, X, name="X") -> np.ndarray:
        """Inputs as an array of the model dtype, at least 2-D and non-empty, finite."""
        X = check_array(X, name, dtype=self.dtype)
        if X.ndim < 2 or X.shape[0] == 0:
            raise ValueError(f"{name}: expected a non-empty array of shape (N, features...), got {X.shape}")
        return X

    def check_y(self, y, X, name="y") -> np.ndarray:
        """Targets for the inputs X: one per sample; class labels in range for a classifier."""
        n = X.shape[0]
        y = np.asarray(y)
        if y.shape[:1] != (n,):
            raise ValueError(f"{name}: expected {n} targets (one per sample), got shape {y.shape}")
        if self.loss_fn.kind == "multiclass" and y.ndim == 1:
            y = check_labels(y, name, self.output_shape(X.shape[1:])[0], n)
        elif y.dtype.kind in "fc":
            check_array(y, name)
        elif y.dtype.kind not in "biu":
            raise ValueError(f"{name}: expected numeric targets, got dtype {y.dtype}")
        return y

    def output_shape(self, input_shape: tuple) -> tuple:
        """Per-sample output shape for a per-sample input shape (no batch axis)."""
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = layer.output_shape(shape)
        return shape

    # -- forward / backward --------------------------------------------------------
    def forward(self, X, *, training: bool = False) -> np.ndarray:
        """Outputs (N, K) of the network for inputs X (N, ...)."""
        out = X
        for layer in self.layers:
            out = layer.forward(out, training=training)
        return out

    def backward(self, dout):
        """Backpropagate ``dout`` (N, K); fills every layer's grads and returns dX."""
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def loss_and_grads(self, X, y, *, training: bool = True):
        """Total loss (data + regularization) and its gradients by name.

        The regularization part counts every regularizer's g(w); gradients include ∇g only
        for penalty-mode regularizers (prox-mode ones act after the optimizer step).
        Dropout masks are drawn from the layers' generators as in training.

        Returns
        -------
        loss : float
        grads : dict[str, ndarray] keyed like :meth:`named_parameters`
        """
        X = self.check_X(X)
        y = self.check_y(y, X)
        data_loss, dout = self.loss_fn(self.forward(X, training=training), y)
        self.backward(dout)
        params = dict(self.named_parameters())
        grads = penalty_gradients(params, dict(self.named_gradients()), self.regularizers())
        return data_loss + self.regularization_loss(), {k: g.copy() for k, g in grads.items()}

    # -- training ------------------------------------------------------------------
    def fit(self, X, y, epochs: int = 1, batch_size: int | None = 32, *, validation_data=None,
            shuffle: bool = True, seed=None, callbacks=(), verbose=None, eval_train: bool = True,
            track_grad_norms: bool = True, track_sparsity: bool = True) -> History:
        """Train with mini-batch gradient steps (runs :meth:`proxnet.training.Trainer.fit`).

        Parameters
        ----------
        X : (N, ...) inputs. y : (N,) int labels, (N, K) one-hot, or (N, K) float targets.
        epochs : int
            Epochs to train now (a Python or NumPy integer >= 0).
        batch_size : int or None
            None means full-batch gradient descent (one step per epoch).
        validation_data : (X_val, y_val) or None
        shuffle : bool
            Reshuffle the training set every epoch.
        seed : int, Generator or None
            Restarts the random streams (shuffling, dropout masks) from this seed. Without
            a seed, ``fit`` continues the streams of the previous ``fit`` (or of the loaded
            checkpoint), so ``fit(2)`` then ``fit(2)`` equals ``fit(4)`` bit for bit; the
            first ``fit`` of a model without a seed draws OS entropy. The same model seed
            and fit seed give an identical History (timings aside), bit for bit.
        callbacks : list of Callback
            Keras-shaped hooks (see :mod:`proxnet.training.callbacks`).
        verbose : bool or None
            Progress bar; None shows it on a terminal or in a Jupyter kernel.
        eval_train : bool
            Measure train accuracy/MSE in inference mode on the whole training set after
            each epoch (default). If False, the running mean over the epoch's batches.
        track_grad_norms, track_sparsity : bool
            Record per-step weight-gradient norms and per-epoch sparsity in the History.

        Returns
        -------
        History (also kept as ``model.history``). On a NaN/inf loss, or NaN/inf parameters
        after the last step of an epoch, raises :class:`TrainingDivergedError` naming the
        epoch and step, with the last weights that gave a finite loss kept in the model.

        Notes
        -----
        Large batches run in shards on several threads, with results that do not depend on
        the number of threads; see :mod:`proxnet.training.shards`.
        """
        return self.trainer.fit(X, y, epochs, batch_size, validation_data=validation_data,
                                shuffle=shuffle, seed=seed, callbacks=callbacks, verbose=verbose,
                                eval_train=eval_train, track_grad_norms=track_grad_norms,
                                track_sparsity=track_sparsity)

    # -- inference ---------------------------------------------------------------
    def outputs(self, X) -> np.ndarray:
        """Raw outputs (N, K) in inference mode, computed in batches and shards on threads.
        X is used as given (checked by the callers): a float64 X gives float64 arithmetic."""
        return forward_batched(self.layers, X, self.dtype.itemsize)

    def evaluate(self, X, y) -> dict:
        """Metrics in inference mode: ``loss`` (= ``data_loss`` + ``reg_loss``) and
        ``accuracy`` for classification or ``mse`` for regression."""
        X = self.check_X(X)
        return self.evaluate_checked(X, self.check_y(y, X))

    def evaluate_checked(self, X, y) -> dict:
        """:meth:`evaluate` for ``X`` and ``y`` returned by :meth:`check_X` and
        :meth:`check_y`: a caller that measures the same arrays after every epoch (a study's
        test and validation sets, ``fit``'s ``validation_data``) checks them once instead of
        every time (checking 2 × 2,000 MNIST images took 2.1 ms of the 22.7 that measuring
        them took, on an Intel Xeon, float32 784-128-128-128-10). Arrays that were not
        checked give no clear error for bad input."""
        out = self.outputs(X)
        data_loss, _ = self.loss_fn(out, y)
        reg_loss = self.regularization_loss()
        return {"loss": data_loss + reg_loss, "data_loss": data_loss, "reg_loss": reg_loss,
                **output_metrics(self.loss_fn, out, y)}

    def predict(self, X) -> np.ndarray:
        """Class labels (N,) for classification losses; raw outputs (N, K) for regression."""
        out = self.outputs(self.check_X(X))
        return out if self.loss_fn.kind == "regression" else self.loss_fn.decide(out)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (N, K) (softmax or sigmoid of the outputs)."""
        return self.loss_fn.predict_proba(self.outputs(self.check_X(X)))

    # -- config ------------------------------------------------------------------
    def get_config(self) -> dict:
        return {"loss": self.loss_fn.name, "dtype": self.dtype.name,
                "weight_regularizer": None if self.weight_regularizer is None else self.weight_regularizer.to_dict(),
                "optimizer": self.optimizer.get_config()}

    def summary_rows(self, input_shape=None) -> list[list]:
        """One row per layer: index, layer, output shape, parameters, and each parameter's
        regularizer with its mode. Output shapes need a sample shape: ``input_shape``, else
        the last one this model trained on, else the first Dense layer's input; "?" when
        none is known."""
        shape = input_shape if input_shape is not None else self.trainer.sample_shape
        if shape is None and getattr(self.layers[0], "in_features", None):
            shape = (self.layers[0].in_features,)
        regs = self.regularizers()
        rows = []
        for i, layer in enumerate(self.layers):
            if shape is not None:
                try:
                    shape = layer.output_shape(shape)
                except ValueError:
                    shape = None
            reg = ", ".join(f"{k}: {regs[f'{i}.{k}']!r}" for k in layer.params if f"{i}.{k}" in regs)
            rows.append([i, layer.describe(), "?" if shape is None else str(tuple(shape)),
                         layer.n_params(), reg or "–"])
        return rows

    def _summary_caption(self) -> str:
        return (f"{self.n_params():,} parameters · loss {self.loss_fn.name} · {self.dtype.name} · "
                f"optimizer {self.optimizer!r} · {self.epochs_done} epochs trained")

    def summary(self, input_shape=None) -> str:
        """The layers as a text table (see :meth:`summary_rows`) and the totals; also printed."""
        text = table_text(["#", "layer", "output shape", "params", "regularizers"],
                          [[r[0], r[1], r[2], f"{r[3]:,}", r[4]] for r in self.summary_rows(input_shape)])
        text += "\n" + self._summary_caption()
        print(text)
        return text

    def _repr_html_(self) -> str:
        rows = [[r[0], r[1], r[2], f"{r[3]:,}", r[4]] for r in self.summary_rows()]
        return table_html(["#", "layer", "output shape", "params", "regularizers"], rows,
                          title="Sequential", caption=self._summary_caption())

    def __repr__(self):
        lines = [f"  ({i}) {layer!r}" for i, layer in enumerate(self.layers)]
        return ("Sequential(\n" + "\n".join(lines) + f"\n  loss={self.loss_fn.name}, "
                f"dtype={self.dtype.name}, params={self.n_params():,}, "
                f"epochs_done={self.epochs_done})")
