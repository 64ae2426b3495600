"""Sequential: a stack of layers with a fused loss, regularizers and an optimizer.

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

import math
import time

import numpy as np

from .backend import as_generator, resolve_dtype, spawn
from .callbacks import Callback, History, ProgressBar, stderr_is_terminal
from .layers import Layer
from .losses import get_loss
from .metrics import accuracy, mean_squared_error, sparsity_report
from .optim import get_optimizer
from .parallel import run_shards
from .regularizers import get_regularizer
from .validation import check_array, check_labels


SHARD_BYTES = 2**21
"""A training step cuts its batch into *shards* of at most this many bytes of activations
(2 MiB: the input and every layer's output of the shard's samples), when every layer is
``shardable``. See :meth:`Sequential.fit`."""

INFERENCE_SHARD_BYTES = 2**24
"""Inference (``predict``, ``evaluate``, the metrics of ``fit``) cuts its batches into shards
of at most this many bytes of activations (16 MiB: nothing is kept for a backward pass, so
shards may be larger) and runs them on threads like training shards."""


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or inf. The model keeps the last weights that gave a finite loss."""

    def __init__(self, epoch: int, step: int, loss: float):
        self.epoch, self.step, self.loss = epoch, step, loss
        super().__init__(
            f"training diverged: loss is {loss} at epoch {epoch}, step {step}; the model keeps "
            f"the last weights that gave a finite loss (try a smaller learning rate)")


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
        If given, every layer is (re)initialized from it, so a seed fixes the weights.
    dtype : "float32" (default) or "float64"
        All parameters and inputs are cast to it.
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
            for layer, rng in zip(self.layers, spawn(as_generator(seed), len(self.layers))):
                layer.reset_parameters(rng)
                layer.set_rng(rng)
        for layer in self.layers:
            layer.astype(self.dtype)
        self.history = None
        self.stop_training = False
        self._epochs_planned = 0
        self._task = None

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

    def _locate(self, name: str):
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
            layer, key = self._locate(name)
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

    def n_params(self) -> int:
        return sum(v.size for _, v in self.named_parameters())

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

    def _check_X(self, X, name="X"):
        X = check_array(X, name, dtype=self.dtype)
        if X.ndim < 2 or X.shape[0] == 0:
            raise ValueError(f"{name}: expected a non-empty array of shape (N, features...), got {X.shape}")
        return X

    def output_shape(self, input_shape: tuple) -> tuple:
        """Per-sample output shape for a per-sample input shape (no batch axis)."""
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = layer.output_shape(shape)
        return shape

    def _check_y(self, y, X, name="y"):
        n = X.shape[0]
        y = np.asarray(y)
        if y.shape[:1] != (n,):
            raise ValueError(f"{name}: expected {n} targets (one per sample), got shape {y.shape}")
        if self.loss_fn.kind == "multiclass" and y.ndim == 1:
            y = check_labels(y, name, self.output_shape(X.shape[1:])[0], n)
        elif y.dtype.kind == "f":
            check_array(y, name)
        return y

    def _data_loss(self, outputs, y):
        try:
            return self.loss_fn(outputs, y)
        except FloatingPointError:
            return float("nan"), None

    def _slots(self, regs: dict, mode: str | None = None) -> list:
        """[(layer, key, regularizer)] for the regularized params (optionally of one mode)."""
        return [(*self._locate(name), reg) for name, reg in regs.items()
                if mode is None or reg.mode == mode]

    def _reg_loss(self, regs: dict) -> float:
        """Σ g(w) over every regularized parameter, whatever its mode."""
        return float(sum(reg.penalty(layer.params[key]) for layer, key, reg in self._slots(regs)))

    @staticmethod
    def _add_penalty_grads(slots) -> None:
        """grads[k] += ∇g(w) for penalty-mode slots."""
        for layer, key, reg in slots:
            layer.grads[key] = layer.grads[key] + reg.grad(layer.params[key])

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
        X = self._check_X(X)
        y = self._check_y(y, X)
        out = self.forward(X, training=training)
        data_loss, dout = self.loss_fn(out, y)
        self.backward(dout)
        regs = self.regularizers()
        self._add_penalty_grads(self._slots(regs, "penalty"))
        return data_loss + self._reg_loss(regs), {k: g.copy() for k, g in self.named_gradients()}

    # -- training ------------------------------------------------------------------
    def fit(self, X, y, epochs: int = 1, batch_size: int | None = 32, *, validation_data=None,
            shuffle: bool = True, seed=None, callbacks=(), verbose=None, eval_train: bool = True,
            track_grad_norms: bool = True, track_sparsity: bool = True) -> History:
        """Train with mini-batch gradient steps.

        Parameters
        ----------
        X : (N, ...) inputs. y : (N,) int labels, (N, K) one-hot, or (N, K) float targets.
        epochs : int
        batch_size : int or None
            None means full-batch gradient descent (one step per epoch).
        validation_data : (X_val, y_val) or None
        shuffle : bool
            Reshuffle the training set every epoch.
        seed : int, Generator or None
            Drives shuffling and dropout masks. The same model seed and fit seed give an
            identical History (timings aside), bit for bit.
        callbacks : list of Callback
        verbose : bool or None
            Progress bar; None shows it only when stderr is a terminal.
        eval_train : bool
            Measure train accuracy/MSE in inference mode on the whole training set after
            each epoch (default). If False, the running mean over the epoch's batches.
        track_grad_norms, track_sparsity : bool
            Record per-step weight-gradient norms and per-epoch sparsity in the History.

        Returns
        -------
        History (also kept as ``model.history``). On a NaN/inf loss, raises
        :class:`TrainingDivergedError` naming the epoch and step, with the last good weights
        kept in the model.

        Notes
        -----
        *Shards and threads.* When every layer is ``shardable`` and a batch's activations
        exceed :data:`SHARD_BYTES`, each step cuts the batch into an even number of nearly
        equal shards that fit in a core's cache. Every shard runs forward, loss and backward
        on its own replica of the layers (sharing the parameters), its loss gradient weighted
        by its share of the batch, and the shards' gradients are summed in shard order: the
        gradient of the whole batch's mean loss, up to float rounding. Shards run on
        :func:`proxnet.parallel.num_threads` threads (the BLAS thread limit, set with
        ``threadpoolctl.threadpool_limits``), but the cut depends on the batch and the model
        only, so results are the same bit for bit whatever the number of threads.
        """
        X = self._check_X(X)
        y = self._check_y(y, X)
        epochs = int(epochs)
        if epochs < 0:
            raise ValueError(f"epochs: expected an int >= 0, got {epochs}")
        n = X.shape[0]
        if batch_size is None:
            batch_size = n
        elif not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size: expected a positive int or None, got {batch_size!r}")
        if validation_data is not None:
            if len(validation_data) != 2:
                raise ValueError("validation_data: expected a pair (X_val, y_val)")
            Xv = self._check_X(validation_data[0], "validation_data[0]")
            yv = self._check_y(validation_data[1], Xv, "validation_data[1]")
        callbacks = list(callbacks)
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise ValueError(f"callbacks: expected Callback objects, got {type(cb).__name__}")
        if verbose or (verbose is None and stderr_is_terminal()):
            callbacks.append(ProgressBar())

        rng = as_generator(seed)
        shuffle_rng, *layer_rngs = spawn(rng, 1 + len(self.layers))
        for layer, lrng in zip(self.layers, layer_rngs):
            layer.set_rng(lrng)
        regs = self.regularizers()
        penalty_slots, prox_slots = self._slots(regs, "penalty"), self._slots(regs, "prox")
        weights = [(f"{i}.{k}", layer, k) for i, layer in enumerate(self.layers) for k in layer.weight_names]
        param_slots = [(name, *self._locate(name)) for name, _ in self.named_parameters()]

        history = History()
        self.history = history
        self.stop_training = False
        self._epochs_planned = epochs
        self.layers[0].input_grad = False
        per_shard = self._samples_per_shard(X.shape[1:])
        most = len(self._shard_bounds(min(batch_size, n), per_shard))
        replicas = self._replicas(most) if most > 1 else []
        start_epoch = getattr(self, "_epochs_done", 0)
        last_good = []
        for cb in callbacks:
            cb.on_train_begin(self)
        try:
            for epoch in range(start_epoch, start_epoch + epochs):
                t0 = time.perf_counter()
                self.optimizer.set_epoch(epoch)
                lr = self.optimizer.lr
                order = shuffle_rng.permutation(n) if shuffle else None
                loss_sum, correct, seen = 0.0, 0, 0
                for step, s in enumerate(range(0, n, batch_size)):
                    if order is None:
                        Xb, yb = X[s:s + batch_size], y[s:s + batch_size]
                    else:
                        idx = order[s:s + batch_size]
                        Xb, yb = X[idx], y[idx]
                    data_loss, score = self._forward_backward(Xb, yb, per_shard, replicas, not eval_train)
                    if not np.isfinite(data_loss):
                        for layer, key, value in last_good:
                            layer.params[key] = value
                        raise TrainingDivergedError(epoch, step, data_loss)
                    correct += score
                    if track_grad_norms:
                        for name, layer, key in weights:
                            g = layer.grads[key].ravel()
                            history.grad_norms.setdefault(name, []).append(float(np.sqrt(np.dot(g, g))))
                    # The rules and proxes are pure: keeping references costs no copy.
                    last_good = [(layer, key, layer.params[key]) for _, layer, key in param_slots]
                    self._step(param_slots, penalty_slots, prox_slots)
                    loss_sum += data_loss * Xb.shape[0]
                    seen += Xb.shape[0]
                logs = {"epoch": epoch, "data_loss": loss_sum / seen,
                        "reg_loss": self._reg_loss(regs), "lr": lr}
                logs["loss"] = logs["data_loss"] + logs["reg_loss"]
                if eval_train:
                    logs.update({f"train_{k}": v for k, v in self._metrics(X, y).items()})
                else:
                    key = "train_accuracy" if self._is_classifier(y) else "train_mse"
                    logs[key] = correct / seen
                if validation_data is not None:
                    ev = self.evaluate(Xv, yv)
                    logs["val_loss"] = ev["loss"]
                    logs.update({f"val_{k}": v for k, v in ev.items() if k not in ("loss", "data_loss", "reg_loss")})
                if track_sparsity and weights:
                    logs.update(sparsity_report(self))
                logs["time"] = time.perf_counter() - t0
                history.append(logs)
                self._epochs_done = epoch + 1
                for cb in callbacks:
                    cb.on_epoch_end(self, epoch, logs)
                if self.stop_training:
                    break
        finally:
            self.layers[0].input_grad = True
            for cb in callbacks:
                cb.on_train_end(self)
        return history

    # -- one step's forward and backward, whole or in shards ------------------------------
    def _samples_per_shard(self, sample_shape, budget: int | None = None) -> int | None:
        """Most samples in one shard (activations under ``budget`` bytes, default
        :data:`SHARD_BYTES`), or None when some layer is not ``shardable``."""
        if not all(layer.shardable for layer in self.layers):
            return None
        shape = tuple(sample_shape)
        values = math.prod(shape)
        for layer in self.layers:
            shape = layer.output_shape(shape)
            values += math.prod(shape)
        return max(1, (SHARD_BYTES if budget is None else budget) // (values * self.dtype.itemsize))

    def _replicas(self, count: int) -> list:
        """``count`` lists of layer replicas (shared parameters, own grads and caches)."""
        return [[layer.replica() for layer in self.layers] for _ in range(max(0, count))]

    @staticmethod
    def _shard_bounds(n: int, per_shard: int | None) -> list[tuple[int, int]]:
        """[(start, stop)] of the shards of a batch of ``n``: an even number of nearly equal
        shards (even, so that two threads get the same work), or one when it fits."""
        count = 1 if per_shard is None else -(-n // per_shard)
        if count > 1:
            count = min(n, count + count % 2)
        size, extra = divmod(n, count)
        cuts = [0]
        for i in range(count):
            cuts.append(cuts[-1] + size + (i < extra))
        return list(zip(cuts[:-1], cuts[1:]))

    def _pass(self, layers, X, y, weight, score):
        """Forward, loss and backward of one shard on ``layers`` (the model's or a replica),
        the loss gradient multiplied by ``weight`` (the shard's share of the batch).
        Returns (mean data loss of the shard, running score or 0); on a NaN/inf loss, stops
        before backward."""
        out = X
        for layer in layers:
            out = layer.forward(out, training=True)
        loss, dout = self._data_loss(out, y)
        if not np.isfinite(loss):
            return loss, 0
        if weight != 1:
            dout *= dout.dtype.type(weight)
        for layer in reversed(layers):
            dout = layer.backward(dout)
        return loss, (self._running_score(out, y) if score else 0)

    def _forward_backward(self, X, y, per_shard, replicas, score):
        """Mean data loss of the batch (and the running score if ``score``); fills every
        layer's grads with the gradient of that loss (see Notes of :meth:`fit`)."""
        bounds = self._shard_bounds(X.shape[0], per_shard) if replicas else [(0, X.shape[0])]
        if len(bounds) == 1:
            return self._pass(self.layers, X, y, 1, score)
        n = X.shape[0]
        results = run_shards(lambda i: self._pass(replicas[i], X[bounds[i][0]:bounds[i][1]],
                                                  y[bounds[i][0]:bounds[i][1]],
                                                  (bounds[i][1] - bounds[i][0]) / n, score),
                             len(bounds))
        loss = sum(r[0] * (b[1] - b[0]) for r, b in zip(results, bounds)) / n
        if not np.isfinite(loss):
            return loss, 0
        for j, layer in enumerate(self.layers):
            for key in layer.params:
                total = replicas[0][j].grads[key] + replicas[1][j].grads[key]
                for shard in replicas[2:len(bounds)]:
                    total += shard[j].grads[key]
                layer.grads[key] = total
        return loss, sum(r[1] for r in results)

    def _step(self, param_slots, penalty_slots, prox_slots):
        """One optimizer step on data + penalty gradients, then the prox of prox-mode
        regularizers with scaling = the current learning rate."""
        self._add_penalty_grads(penalty_slots)
        params = {name: layer.params[key] for name, layer, key in param_slots}
        grads = {name: layer.grads[key] for name, layer, key in param_slots}
        new = self.optimizer.step(params, grads)
        for name, layer, key in param_slots:
            layer.params[key] = new[name]
        lr = self.optimizer.lr
        for layer, key, reg in prox_slots:
            layer.params[key] = reg.prox(layer.params[key], lr)

    def _is_classifier(self, y) -> bool:
        return self.loss_fn.kind in ("multiclass", "binary") or (
            np.asarray(y).ndim == 1 and np.asarray(y).dtype.kind in "iub")

    def _running_score(self, out, yb):
        if self._is_classifier(yb):
            return int(np.count_nonzero(self._classes_from_outputs(out) == self._labels(yb)))
        return mean_squared_error(yb, out) * out.shape[0]

    def _labels(self, y):
        """Integer class labels from int labels, one-hot rows, or binary 0/1 targets."""
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] > 1:
            return y.argmax(axis=1)
        if self.loss_fn.kind == "binary":
            return (y.reshape(-1) > 0.5).astype(np.intp)
        return y.reshape(-1)

    def _classes_from_outputs(self, out):
        if self.loss_fn.kind == "binary" and out.shape[1] == 1:
            proba = self.loss_fn.predict_proba(out)
            return (proba[:, 0] > 0.5).astype(np.intp)
        return out.argmax(axis=1)

    def _metrics(self, X, y) -> dict:
        out = self._forward_batched(X)
        if self._is_classifier(y):
            return {"accuracy": accuracy(self._labels(y), self._classes_from_outputs(out))}
        return {"mse": mean_squared_error(y, out)}

    def _forward_batched(self, X, batch_size: int = 4096):
        """Inference outputs for X, in batches of ``batch_size``, each cut into shards of
        :data:`INFERENCE_SHARD_BYTES` that run on :func:`~proxnet.parallel.num_threads`
        threads (the cut depends on X and the model only, like training shards)."""
        per_shard = self._samples_per_shard(X.shape[1:], INFERENCE_SHARD_BYTES)
        replicas = []
        outs = []
        for s in range(0, X.shape[0], batch_size):
            batch = X[s:s + batch_size]
            bounds = self._shard_bounds(batch.shape[0], per_shard)
            if len(bounds) == 1:
                outs.append(self.forward(batch, training=False))
                continue
            replicas += self._replicas(len(bounds) - len(replicas))

            def shard(i, batch=batch, bounds=bounds):
                out = batch[bounds[i][0]:bounds[i][1]]
                for layer in replicas[i]:
                    out = layer.forward(out, training=False)
                return out

            outs.extend(run_shards(shard, len(bounds)))
        return outs[0] if len(outs) == 1 else np.concatenate(outs)

    # -- inference ---------------------------------------------------------------
    def evaluate(self, X, y) -> dict:
        """Metrics in inference mode: ``loss`` (= ``data_loss`` + ``reg_loss``) and
        ``accuracy`` for classification or ``mse`` for regression."""
        X = self._check_X(X)
        y = self._check_y(y, X)
        out = self._forward_batched(X)
        data_loss, _ = self.loss_fn(out, y)
        reg_loss = self._reg_loss(self.regularizers())
        res = {"loss": data_loss + reg_loss, "data_loss": data_loss, "reg_loss": reg_loss}
        if self._is_classifier(y):
            res["accuracy"] = accuracy(self._labels(y), self._classes_from_outputs(out))
        else:
            res["mse"] = mean_squared_error(y, out)
        return res

    def predict(self, X) -> np.ndarray:
        """Class labels (N,) for classification losses; raw outputs (N, K) for regression."""
        X = self._check_X(X)
        out = self._forward_batched(X)
        if self.loss_fn.kind == "regression":
            return out
        return self._classes_from_outputs(out)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (N, K) (softmax or sigmoid of the outputs)."""
        X = self._check_X(X)
        return self.loss_fn.predict_proba(self._forward_batched(X))

    # -- persistence -----------------------------------------------------------
    def save(self, path) -> None:
        """Save to ``path`` (.npz arrays + JSON metadata, no pickle). See :mod:`proxnet.io`."""
        from .io import save_model
        save_model(self, path)

    def get_config(self) -> dict:
        return {"loss": self.loss_fn.name, "dtype": self.dtype.name,
                "weight_regularizer": None if self.weight_regularizer is None else self.weight_regularizer.to_dict(),
                "optimizer": self.optimizer.get_config()}

    def __repr__(self):
        lines = [f"  ({i}) {layer!r}" for i, layer in enumerate(self.layers)]
        return (f"Sequential(\n" + "\n".join(lines) + f"\n  loss={self.loss_fn.name}, "
                f"dtype={self.dtype.name}, params={self.n_params()})")
