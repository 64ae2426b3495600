"""The fit loop, with the state that lasts between ``fit`` calls.

A model's :class:`Trainer` (``model.trainer``) holds what training needs to continue where
it stopped: ``epochs_done`` (the schedule's position) and the random streams — one
generator for the epoch orders and one per layer (dropout masks). ``fit(..., seed=s)``
restarts the streams from ``s``; ``fit`` without a seed continues them, so ``fit(2)`` then
``fit(2)`` trains exactly as ``fit(4)`` (a model that never had a seed draws fresh OS
entropy once). The optimizer's state lives in ``model.optimizer``; a checkpoint
(:func:`proxnet.save`) stores both.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..backend import as_generator, spawn
from ..metrics import mean_squared_error, output_metrics, sparsity_report
from ..parallel import shard_session
from .callbacks import CallbackList, History, ProgressBar, show_progress
from .shards import Shards
from .step import regularization_loss, training_step

__all__ = ["Trainer", "TrainingDivergedError", "check_count", "forward_backward"]


class TrainingDivergedError(FloatingPointError):
    """The loss or the parameters became NaN or inf. The model keeps the last weights that
    gave a finite loss."""

    def __init__(self, epoch: int, step: int, loss: float, what: str = "loss"):
        self.epoch, self.step, self.loss = epoch, step, loss
        detail = (f"loss is {loss}" if what == "loss"
                  else "the parameters or the outputs are NaN or inf after the step")
        super().__init__(
            f"training diverged: {detail} at epoch {epoch}, step {step}; the model keeps "
            f"the last weights that gave a finite loss (try a smaller learning rate)")


def check_count(value, name: str, minimum: int = 0) -> int:
    """``value`` as an int after checking it is a Python or NumPy integer (not a bool, str
    or float) ≥ ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r} "
                         f"({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


@dataclass
class _Run:
    """What one ``fit`` call works with (checked inputs and per-run helpers)."""
    X: np.ndarray
    y: np.ndarray
    batch_size: int
    shuffle: bool
    eval_train: bool
    validation: tuple | None
    shards: Shards
    names: list                 # parameter names, in model order
    slots: dict                 # name -> (layer, key)
    regularizers: dict
    weights: list               # names of the weights whose grad norms are tracked
    track_sparsity: bool
    history: History
    callbacks: CallbackList
    last_good: dict = field(default_factory=dict)


class Trainer:
    """Trains a model (see :meth:`fit`); its attributes are the training state.

    Attributes
    ----------
    model : Sequential
    epochs_done : int
        Epochs trained so far, over all ``fit`` calls (the schedule's epoch).
    shuffle_rng : numpy.random.Generator or None
        Draws each epoch's order.
    layer_rngs : list of numpy.random.Generator or None
        One per layer, given to the layers (dropout masks).
    sample_shape : tuple or None
        The shape of one input sample of the last ``fit``.
    """

    def __init__(self, model):
        self.model = model
        self.epochs_done = 0
        self.shuffle_rng = None
        self.layer_rngs = None
        self.sample_shape = None

    # -- random streams ------------------------------------------------------------
    def reseed(self, seed) -> None:
        """Restart the random streams from ``seed`` (int, Generator or None = OS entropy).

        An int seed is drawn from as the entropy ``[seed, 1]``, so the streams of
        ``fit(seed=s)`` are independent of the initial weights of ``Sequential(seed=s)``
        (entropy ``s``); a Generator is spawned from as given."""
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)):
            as_generator(seed)                       # the same check of the seed's value
            seed = np.random.default_rng([int(seed), 1])
        self.shuffle_rng, *self.layer_rngs = spawn(as_generator(seed), 1 + len(self.model.layers))
        for layer, rng in zip(self.model.layers, self.layer_rngs):
            layer.set_rng(rng)

    def streams_state(self) -> dict | None:
        """The bit-generator states of the streams (plain data), or None before any fit."""
        if self.shuffle_rng is None:
            return None
        return {"shuffle": self.shuffle_rng.bit_generator.state,
                "layers": [rng.bit_generator.state for rng in self.layer_rngs]}

    def set_streams_state(self, state: dict) -> None:
        """Restore streams saved by :meth:`streams_state`."""
        if len(state["layers"]) != len(self.model.layers):
            raise ValueError(f"streams: {len(state['layers'])} layer streams for "
                             f"{len(self.model.layers)} layers")
        self.reseed(0)
        for rng, st in zip([self.shuffle_rng, *self.layer_rngs], [state["shuffle"], *state["layers"]]):
            rng.bit_generator.state = st

    # -- fitting -------------------------------------------------------------------
    def fit(self, X, y, epochs: int = 1, batch_size: int | None = 32, *, validation_data=None,
            shuffle: bool = True, seed=None, callbacks=(), verbose=None, eval_train: bool = True,
            track_grad_norms: bool = True, track_sparsity: bool = True) -> History:
        """Train for ``epochs`` more epochs; see :meth:`proxnet.Sequential.fit`."""
        model = self.model
        epochs = check_count(epochs, "epochs")
        # The first layer needs no input gradient. Set before the plan is made: the shards'
        # replicas are copies of the layers and keep the flag they were copied with.
        model.layers[0].input_grad = False
        try:
            run = self._plan(X, y, batch_size, validation_data, shuffle, eval_train, track_grad_norms,
                             track_sparsity, callbacks, verbose, epochs)
            if seed is not None or self.shuffle_rng is None:
                self.reseed(seed)
            model.history, model.stop_training = run.history, False
            run.callbacks.train_begin()
            try:
                with shard_session():      # single-threaded BLAS; the shards share the threads
                    self._epochs(run, epochs)
            finally:
                run.callbacks.train_end()
        finally:
            model.layers[0].input_grad = True
        return run.history

    def _epochs(self, run: _Run, epochs: int) -> None:
        for epoch in range(self.epochs_done, self.epochs_done + epochs):
            run.callbacks.epoch_begin(epoch)
            logs = self._epoch(run, epoch)
            self.epochs_done = epoch + 1
            run.callbacks.epoch_end(epoch, logs)     # callbacks may add to the logs
            run.history.append(logs)
            if self.model.stop_training:
                break

    def fit_epoch(self, X, y, batch_size: int | None = 32, **options) -> dict:
        """Train one epoch (continuing the streams unless ``seed=`` is given) and return its
        logs; the options are those of :meth:`fit` (no progress bar)."""
        options.setdefault("verbose", False)
        return self.fit(X, y, 1, batch_size, **options).last()

    def _plan(self, X, y, batch_size, validation_data, shuffle, eval_train, track_grad_norms,
              track_sparsity, callbacks, verbose, epochs) -> _Run:
        model = self.model
        X = model.check_X(X)
        y = model.check_y(y, X)
        self.sample_shape = tuple(X.shape[1:])
        n = X.shape[0]
        batch_size = n if batch_size is None else min(check_count(batch_size, "batch_size", 1), n)
        validation = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("validation_data: expected a pair (X_val, y_val)")
            Xv = model.check_X(validation_data[0], "validation_data[0]")
            validation = (Xv, model.check_y(validation_data[1], Xv, "validation_data[1]"))
        callbacks = list(callbacks)
        if show_progress(verbose):
            callbacks.append(ProgressBar())
        params = {"epochs": epochs, "steps": -(-n // batch_size), "batch_size": batch_size,
                  "samples": n}
        names = [name for name, _ in model.named_parameters()]
        weights = [f"{i}.{k}" for i, layer in enumerate(model.layers) for k in layer.weight_names]
        return _Run(X, y, batch_size, bool(shuffle), bool(eval_train), validation,
                    Shards(model.layers, X.shape[1:], model.dtype.itemsize, batch_size),
                    names, {name: model.locate(name) for name in names}, model.regularizers(),
                    weights if track_grad_norms else [], bool(track_sparsity), History(),
                    CallbackList(callbacks, model, params))

    def _epoch(self, run: _Run, epoch: int) -> dict:
        """One pass over the training set, then the epoch's logs."""
        t0 = time.perf_counter()
        model = self.model
        model.optimizer.set_epoch(epoch)
        lr = model.optimizer.lr
        n = run.X.shape[0]
        order = self.shuffle_rng.permutation(n) if run.shuffle else None
        loss_sum, score, step, Xb = 0.0, 0, 0, None
        for step, s in enumerate(range(0, n, run.batch_size)):
            idx = slice(s, s + run.batch_size) if order is None else order[s:s + run.batch_size]
            Xb, yb = run.X[idx], run.y[idx]
            if run.callbacks.batch_hooks:
                run.callbacks.batch_begin(step, {"batch": step, "size": Xb.shape[0]})
            data_loss, batch_score = self._batch(run, Xb, yb, epoch, step)
            score += batch_score
            loss_sum += data_loss * Xb.shape[0]
            if run.callbacks.batch_hooks:
                run.callbacks.batch_end(step, {"batch": step, "size": Xb.shape[0], "loss": data_loss})
        outputs = self._check_last_step(run, epoch, step, Xb)
        return self._logs(run, epoch, loss_sum / n, score / n, lr, t0, outputs)

    def _batch(self, run: _Run, Xb, yb, epoch: int, step: int):
        """Gradient of the batch, then one training step. Returns (data loss, score)."""
        model = self.model
        loss_fn, score = model.loss_fn, not run.eval_train

        def gradient(layers, X, y, weight):
            return forward_backward(layers, loss_fn, X, y, weight, score)

        data_loss, batch_score = run.shards.gradient(gradient, Xb, yb)
        if not np.isfinite(data_loss):
            self._restore(run)
            raise TrainingDivergedError(epoch, step, data_loss)
        for name in run.weights:
            layer, key = run.slots[name]
            g = layer.grads[key].ravel()
            run.history.grad_norms.setdefault(name, []).append(float(np.sqrt(np.dot(g, g))))
        params = {name: run.slots[name][0].params[run.slots[name][1]] for name in run.names}
        grads = {name: run.slots[name][0].grads[run.slots[name][1]] for name in run.names}
        run.last_good = params   # the rules and proxes are pure: keeping references costs no copy
        for name, value in training_step(params, grads, model.optimizer, run.regularizers).items():
            layer, key = run.slots[name]
            layer.params[key] = value
        return data_loss, batch_score

    def _restore(self, run: _Run) -> None:
        for name, value in run.last_good.items():
            layer, key = run.slots[name]
            layer.params[key] = value

    def _check_last_step(self, run: _Run, epoch: int, step: int, Xb):
        """A step that blew the weights up shows in the next step's loss; the epoch's last
        step is checked here, on the parameters and on outputs at the new weights (the whole
        training set's when ``eval_train``, which the train metrics reuse, else the last
        batch's). Returns the training set's outputs or None."""
        model = self.model
        finite = all(np.isfinite(run.slots[name][0].params[run.slots[name][1]]).all()
                     for name in run.names)
        outputs = None
        if finite:
            with np.errstate(over="ignore", invalid="ignore"):
                outputs = model.outputs(run.X if run.eval_train else Xb)
            finite = bool(np.isfinite(outputs).all())
        if not finite:
            self._restore(run)
            raise TrainingDivergedError(epoch, step, float("nan"), what="parameters")
        return outputs if run.eval_train else None

    def _logs(self, run: _Run, epoch, data_loss, running_score, lr, t0, train_outputs) -> dict:
        model = self.model
        params = {name: run.slots[name][0].params[run.slots[name][1]] for name in run.names}
        logs = {"epoch": epoch, "data_loss": data_loss,
                "reg_loss": regularization_loss(params, run.regularizers), "lr": lr}
        logs["loss"] = logs["data_loss"] + logs["reg_loss"]
        if run.eval_train:
            logs.update({f"train_{k}": v for k, v in
                         output_metrics(model.loss_fn, train_outputs, run.y).items()})
        else:
            key = "train_accuracy" if model.loss_fn.classifies(run.y) else "train_mse"
            logs[key] = running_score
        if run.validation is not None:
            ev = model.evaluate_checked(*run.validation)     # checked in _plan
            logs["val_loss"] = ev["loss"]
            logs.update({f"val_{k}": v for k, v in ev.items() if k not in ("loss", "data_loss", "reg_loss")})
        if run.track_sparsity and any(layer.weight_names for layer in model.layers):
            logs.update(sparsity_report(model))
        logs["time"] = time.perf_counter() - t0
        return logs


def forward_backward(layers, loss_fn, X, y, weight=1, score: bool = False):
    """Forward, loss and backward of one shard on ``layers`` (the model's or a replica's),
    the loss gradient multiplied by ``weight`` (the shard's share of the batch).
    Returns (mean data loss of the shard, running score or 0); on a NaN/inf loss, stops
    before backward."""
    out = X
    for layer in layers:
        out = layer.forward(out, training=True)
    try:
        loss, dout = loss_fn(out, y)
    except FloatingPointError:
        return float("nan"), 0
    if not np.isfinite(loss):
        return loss, 0
    if weight != 1:
        dout *= dout.dtype.type(weight)
    for layer in reversed(layers):
        dout = layer.backward(dout)
    return loss, (_running_score(loss_fn, out, y) if score else 0)


def _running_score(loss_fn, out, y):
    """Correct predictions (classification) or squared error × samples (regression)."""
    if loss_fn.classifies(y):
        return int(np.count_nonzero(loss_fn.decide(out) == loss_fn.labels(y)))
    return mean_squared_error(y, out) * out.shape[0]
