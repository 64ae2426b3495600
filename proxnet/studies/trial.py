"""One trial of a study: build the model of a trial config, train it, measure it.

:func:`execute` is what executors run in their workers. It takes and returns plain data
(picklable, JSON-able apart from NumPy artifacts) and never raises for a failing trial: an
exception becomes ``status = "failed"`` with its traceback and message, an exceeded time
limit ``status = "timeout"``, and a failure of the environment (a missing dataset or
package, memory, the disk; :data:`ENVIRONMENT_ERRORS`) ``status = "pending"``, which the
next run retries.

Live trials. When the payload names the study's store and this process can reach it (same
machine, the store of the same study), the trial writes its own progress there as it goes
(:class:`~proxnet.studies.store.TrialWriter`): its epochs at most every
:data:`FLUSH_EVERY` seconds (each batch one transaction), a checkpoint at most every
``checkpoint_every`` seconds (:mod:`proxnet.studies.checkpoints`), and at the end the whole
trial in one transaction. A trial with a checkpoint resumes from it, and finishes exactly as
an uninterrupted run (every metric but ``time``). Otherwise the trial returns everything at
the end and the study's process stores it.

Time limits are checked after every batch and every epoch, inside this module's own
callback (never by a signal that could fire inside library code); the local executor also
kills a worker that overruns its limit by more than a grace period.

Per-epoch metrics (names in ``docs/store-schema.md``): ``train_accuracy`` /
``test_accuracy`` and ``gap`` (train − test) for classification, ``train_mse`` /
``test_mse`` and ``gap`` (test − train) for regression, ``data_loss``, ``reg_loss``,
``loss``, ``test_loss``, ``lr``, ``time``, sparsity (``zeros/total``, ``zeros/<layer>.W``,
``dead/total``, ``effective_params``) and, for datasets with a validation split,
``val_accuracy`` / ``val_mse``. The test set is only *measured* each epoch (as the classic
experiments do); nothing is selected on it.
"""
from __future__ import annotations

import json
import os
import platform
import socket
import sqlite3
import time
import traceback
from contextlib import nullcontext
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from threadpoolctl import threadpool_limits

from .. import diagnostics
from ..architectures import lenet5, mlp_layers
from .._version import __version__
from ..callbacks import Callback, EarlyStopping
from ..data import load_dataset
from ..metrics import sparsity_report
from ..model import Sequential
from ..regularizers import from_strength
from . import checkpoints
from .config import TrainingSpec
from .store import STORE_NAME, StoreWriteError, TrialWriter
from .watchdog import watch

__all__ = ["execute", "build_model", "load_data", "TrialTimeout", "ENVIRONMENT_ERRORS",
           "FLUSH_EVERY"]

_DATA_CACHE: dict = {}
FLUSH_EVERY = 1.0
"""Seconds between two writes of a running trial's new epochs to the store."""

ENVIRONMENT_ERRORS = (ImportError, MemoryError, OSError, sqlite3.OperationalError)
"""Failures of the machine rather than of the trial (a missing dataset file or package, no
memory, a full disk): stored as pending with their message, retried by the next run."""


class TrialTimeout(Exception):
    """The trial ran past its time limit."""


def versions() -> dict:
    return {"proxnet": __version__, "numpy": np.__version__,
            "python": platform.python_version()}


def load_data(spec: dict, dtype: str):
    """The dataset of a trial config, cached per process (workers reuse it across trials)."""
    key = (json.dumps(spec, sort_keys=True), dtype)
    if key not in _DATA_CACHE:
        if len(_DATA_CACHE) > 4:
            _DATA_CACHE.clear()
        _DATA_CACHE[key] = load_dataset(spec["name"], dtype=dtype, **spec.get("options", {}))
    return _DATA_CACHE[key]


def clear_data_cache() -> None:
    _DATA_CACHE.clear()


def _select(selection, n: int) -> list[int]:
    """Indices among the n weighted layers picked by 'all' / 'first' / 'last' / 'hidden' /
    a list of indices."""
    if selection == "all":
        return list(range(n))
    if selection == "first":
        return [0]
    if selection == "last":
        return [n - 1]
    if selection == "hidden":
        return list(range(n - 1))
    bad = [i for i in selection if not -n <= i < n]
    if bad:
        raise ValueError(f"regularizer layers: indices {bad} out of range for {n} weighted layers")
    return sorted({i % n for i in selection})


def _regularizer(reg: dict):
    return from_strength(reg["kind"], reg["lam"], mode=reg["mode"], l1_ratio=reg.get("l1_ratio", 0.5))

def _check_data(cfg: dict, data) -> None:
    """What only the loaded data can tell: a loss for the task, a softmax over more than one
    output, a validation split (and a metric of the task) for early stopping."""
    m = cfg["model"]
    if data.task == "regression" and m["loss"] != "mse":
        raise ValueError(f"model.loss: dataset {data.name!r} is a regression problem; use loss = 'mse'")
    if m.get("output_activation") == "softmax" and data.task == "regression" and \
            (data.y_train.ndim == 1 or data.y_train.shape[1] == 1):
        raise ValueError(f"model.output_activation: a softmax over the single output of dataset "
                         f"{data.name!r} is always 1")
    es = cfg.get("early_stopping")
    if es is not None:
        if data.X_val is None:
            raise ValueError(f"early_stopping: dataset {data.name!r} has no validation split to stop on")
        want = "val_accuracy" if data.task == "classification" else "val_mse"
        if es["metric"] != want:
            raise ValueError(f"early_stopping.metric: {es['metric']!r} is not measured on "
                             f"{data.task} dataset {data.name!r}; use {want!r}")


def _layers(m: dict, data, n_out: int, rate: float) -> list:
    """The layer list of the trial's architecture (initializer specs as data; the defaults
    "he" and "zeros" where the config gives none)."""
    init = dict(init=m.get("init", "he"), bias_init=m.get("bias_init", "zeros"))
    if m["architecture"] == "lenet5":
        if len(data.input_shape) != 3:
            raise ValueError(f"model.architecture: lenet5 needs NCHW images (dataset option flatten = false), "
                             f"got samples of shape {data.input_shape}")
        return lenet5(variant=m["variant"], activation=m["activation"], pooling=m["pooling"],
                      in_channels=data.input_shape[0], input_size=data.input_shape[1],
                      n_classes=n_out, dropout=rate, padding=m.get("padding"), **init).layers
    return mlp_layers([int(np.prod(data.input_shape)), *m["hidden"], n_out],
                      activation=m["activation"], dropout=rate,
                      output_activation=m.get("output_activation", "identity"),
                      flatten=len(data.input_shape) > 1, **init)


def build_model(cfg: dict, data, seed: int):
    """The Sequential of a trial config, for the dataset ``data`` (a Splits): the layers of
    :func:`~proxnet.architectures.mlp_layers` (with a Flatten for image inputs) or of
    :func:`~proxnet.architectures.lenet5`, with the config's initializers, dropout after each
    hidden dense activation, and the method's regularizer on the selected weighted layers."""
    m = cfg["model"]
    _check_data(cfg, data)
    loss = {"ce": "softmax_cross_entropy", "mse": "mse"}[m["loss"]]
    if data.task == "regression":
        n_out = int(data.y_train.shape[1]) if data.y_train.ndim == 2 else 1
    else:
        n_out = int(data.n_classes)
    layers = _layers(m, data, n_out, cfg.get("dropout") or 0.0)
    weighted = [layer for layer in layers if "W" in layer.params]
    reg = cfg.get("regularizer")
    if reg is not None:
        r = _regularizer(reg)
        for i in _select(reg["layers"], len(weighted)):
            weighted[i].set_regularizer("W", r)
            if reg.get("include_biases") and "b" in weighted[i].params:
                weighted[i].set_regularizer("b", r)
    opt = TrainingSpec.model_validate(cfg["training"]).optimizer_spec()
    return Sequential(layers, loss=loss, optimizer=opt, seed=seed, dtype=m["dtype"])


class _Live:
    """A running trial's link to its study folder: progress rows and checkpoints."""

    def __init__(self, study_dir: Path, key: str, every: float, writer):
        self.dir, self.key, self.every, self.writer = study_dir, key, every, writer
        self.flushed = 0
        self.t0 = self.last_flush = self.last_ckpt = time.monotonic()
        self.elapsed_before = 0.0

    @classmethod
    def open(cls, payload: dict):
        """The link, or None when the store is not reachable from this process."""
        spec = payload.get("store")
        if not spec or spec.get("host") != socket.gethostname():
            return None
        path = Path(spec["dir"]) / STORE_NAME
        if not path.is_file():
            return None
        writer = TrialWriter(path)
        if writer.created() != spec.get("created"):
            writer.close()
            return None
        return cls(Path(spec["dir"]), payload["key"], float(payload.get("checkpoint_every", 60.0)), writer)

    def resume(self):
        return checkpoints.load(self.dir, self.key)

    def start(self, epoch: int, series: dict, elapsed: float) -> None:
        self.writer.start(self.key, epoch, series, f"{socket.gethostname()}:{os.getpid()}")
        self.flushed, self.elapsed_before = epoch, elapsed

    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.t0

    def flush(self, series: dict, n: int) -> None:
        if n > self.flushed:
            self.writer.epochs(self.key, series, self.flushed, n)
            self.flushed = n
        self.last_flush = time.monotonic()

    def epoch_end(self, model, series: dict, n: int, planned: int, grad_norms) -> None:
        """After epoch ``n``: write new epochs (at most every FLUSH_EVERY s) and a checkpoint
        (at most every ``every`` s, never after the last epoch)."""
        now = time.monotonic()
        if n < planned and now - self.last_ckpt >= self.every:
            self.flush(series, n)
            checkpoints.save(self.dir, self.key, model, n,
                             {"series": series, "grad_norms": grad_norms(), "elapsed": self.elapsed()})
            self.writer.checkpointed(self.key, n)
            self.last_ckpt = time.monotonic()
        elif now - self.last_flush >= FLUSH_EVERY:
            self.flush(series, n)

    def finish(self, result: dict) -> None:
        self.writer.done(result)
        checkpoints.remove(self.dir, self.key)

    def close(self) -> None:
        self.writer.close()


class _Recorder(Callback):
    """Callback: per-epoch series (training logs, test and validation metrics, gap), live
    progress, and the time limit (checked after every batch and epoch)."""

    def __init__(self, data, deadline, *, series=None, grad_norms=None, live=None, planned=0):
        super().__init__()
        self.data, self.deadline, self.live, self.planned = data, deadline, live, planned
        self.classification = data.task == "classification"
        self.series: dict[str, list] = {k: list(v) for k, v in (series or {}).items()}
        self.prior_grad_norms: dict[str, list] = {k: list(v) for k, v in (grad_norms or {}).items()}
        self.checked = None      # [(X_test, y_test), (X_val, y_val)] after check_X / check_y

    @staticmethod
    def _check(model, X, y, split: str):
        X = model.check_X(X, f"X_{split}")
        return X, model.check_y(y, X, f"y_{split}")

    def uses_batch_hooks(self) -> bool:
        return self.deadline is not None

    def on_batch_end(self, batch, logs=None):
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise TrialTimeout(f"trial exceeded its time limit during epoch {self.n_epochs() + 1}")

    def n_epochs(self) -> int:
        return len(self.series.get("loss", ()))

    def grad_norms(self) -> dict[str, list]:
        """Per-step gradient norms over the whole trial (checkpointed ones, then this run's)."""
        now = self.model.history.grad_norms if self.model is not None else {}
        names = list(dict.fromkeys([*self.prior_grad_norms, *now]))
        return {k: self.prior_grad_norms.get(k, []) + [float(x) for x in now.get(k, [])] for k in names}

    def on_epoch_end(self, epoch, logs=None):
        d, model = self.data, self.model
        what = "accuracy" if self.classification else "mse"
        row = {k: float(v) for k, v in (logs or {}).items() if k != "epoch" and not k.startswith("val_")}
        if self.checked is None:      # the same arrays every epoch: checked once
            self.checked = [self._check(model, d.X_test, d.y_test, "test")]
            if d.X_val is not None:
                self.checked.append(self._check(model, d.X_val, d.y_val, "val"))
        test = model.evaluate_checked(*self.checked[0])
        row[f"test_{what}"] = float(test[what])
        row["test_loss"] = float(test["data_loss"])
        if d.X_val is not None:
            row[f"val_{what}"] = float(model.evaluate_checked(*self.checked[1])[what])
            if logs is not None:            # for the early stopping that comes after
                logs[f"val_{what}"] = row[f"val_{what}"]
        tr, te = row[f"train_{what}"], row[f"test_{what}"]
        row["gap"] = tr - te if self.classification else te - tr
        n = self.n_epochs()
        for k, v in row.items():
            self.series.setdefault(k, [float("nan")] * n).append(v)
        for k, v in self.series.items():
            if len(v) < n + 1:
                v.append(float("nan"))
        if self.live is not None:
            self.live.epoch_end(model, self.series, n + 1, self.planned, self.grad_norms)
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise TrialTimeout(f"trial exceeded its time limit after epoch {n + 1}")

class _Stopping(EarlyStopping):
    """:class:`proxnet.EarlyStopping` on the trial's validation metric, without restoring
    weights (the report selects the epoch on validation from the stored epochs), whose
    state survives a resume: each fit begins by replaying the metric of the epochs done
    before it (the checkpoint's series), so a resumed trial stops where an uninterrupted
    one does."""

    def __init__(self, spec: dict, prior=()):
        metric = spec["metric"]
        super().__init__(monitor=metric, patience=spec["patience"], min_delta=spec.get("min_delta", 0.0),
                         mode="max" if metric.endswith("accuracy") else "min", restore_best_weights=False)
        self.prior = [float(v) for v in prior]

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        for epoch, value in enumerate(self.prior):
            self.on_epoch_end(epoch, {self.monitor: value})

    def stopped_already(self) -> bool:
        """Whether the epochs done already end the trial (a checkpoint written at the epoch
        that stopped it, before the trial could finish)."""
        model, self.model = self.model, SimpleNamespace(stop_training=False)
        try:
            self.on_train_begin()
            return self.stopped_epoch_ is not None
        finally:
            self.model = model


def _artifacts(model, data, history, classification: bool) -> dict[str, np.ndarray]:
    """The trial's pictures as arrays, computed by :mod:`proxnet.diagnostics` (the same
    functions :mod:`proxnet.plotting` draws for models trained outside studies)."""
    arts: dict[str, np.ndarray] = {}
    first = diagnostics.first_weighted_layer(model)
    if first is not None:
        W = diagnostics.first_layer_weights(model)
        if W is not None:
            arts["first_layer_weights"] = W                                # (D, M)
        norms = history.grad_norms.get(f"{first}.W")
        if norms:
            arts["grad_norm_W1"] = np.asarray(norms, dtype=np.float32)
    X = data.X_train.reshape(data.X_train.shape[0], -1)
    if X.shape[1] == 2 and classification:
        arts["decision_grid"], arts["decision_extent"] = diagnostics.decision_grid(model, X)
    if X.shape[1] == 1 and not classification:
        arts["curve_x"], arts["curve_y"] = diagnostics.fitted_curve(
            model, np.concatenate([X[:, 0], data.X_test.reshape(-1)]))
    if X.shape[1] <= 2 and X.shape[0] <= 5000:
        arts["train_X"] = X.astype(np.float64)
        arts["train_y"] = np.asarray(data.y_train).reshape(X.shape[0], -1).squeeze(-1) \
            if np.asarray(data.y_train).ndim > 1 and np.asarray(data.y_train).shape[1] == 1 \
            else np.asarray(data.y_train)
    return arts


def _final(series, model, data, classification: bool, n_params: int) -> dict:
    sp = sparsity_report(model)
    first = next((f"zeros/{i}.W" for i, layer in enumerate(model.layers) if "W" in layer.params), None)
    final = {"zeros_total": float(sp["zeros/total"]), "zeros_first": float(sp.get(first, 0.0)),
             "dead_units": int(sp["dead/total"]), "effective_params": int(sp["effective_params"]),
             "n_params": int(n_params), "epochs_run": len(series["loss"]),
             "final_loss": series["loss"][-1], "final_data_loss": series["data_loss"][-1]}
    if classification:
        te = series["test_accuracy"]
        final.update(final_test_accuracy=te[-1], best_test_accuracy=max(te),
                     best_epoch=int(np.argmax(te)) + 1,
                     final_train_accuracy=series["train_accuracy"][-1], gap=series["gap"][-1])
        if "val_accuracy" in series:
            final["final_val_accuracy"] = series["val_accuracy"][-1]
    else:
        out = model.predict(data.X_test)
        final.update(final_test_mse=series["test_mse"][-1], final_train_mse=series["train_mse"][-1],
                     test_sse=float(np.sum((out - data.y_test.reshape(out.shape)) ** 2)),
                     gap=series["gap"][-1])
    return final


def _run(payload: dict, deadline, live) -> dict:
    cfg, seed = payload["config"], int(payload["seed"])
    data_dir = payload.get("data_dir")
    if data_dir and os.path.isdir(data_dir):
        # the data folder of the process that started the study (pool workers may predate it)
        os.environ["PROXNET_DATA"] = data_dir
    data = load_data(cfg["dataset"], cfg["model"]["dtype"])
    planned = int(cfg["training"]["epochs"])
    checkpoint = live.resume() if live is not None else None
    if checkpoint is not None:
        model, meta = checkpoint
        start, series, grads, elapsed = meta["epoch"], meta["series"], meta["grad_norms"], meta.get("elapsed", 0.0)
    else:
        model = build_model(cfg, data, seed)
        start, series, grads, elapsed = 0, {}, {}, 0.0
    if live is not None:
        live.start(start, series, float(elapsed))
    n_params = model.n_params()
    rec = _Recorder(data, deadline, series=series, grad_norms=grads, live=live, planned=planned)
    callbacks = [rec]
    es = cfg.get("early_stopping")
    if es is not None:
        callbacks.append(_Stopping(es, series.get(es["metric"], [])[:start]))
    if not (es is not None and callbacks[-1].stopped_already()):
        tr = cfg["training"]
        model.fit(data.X_train, data.y_train, epochs=planned - start, batch_size=tr["batch_size"] or None,
                  seed=seed if start == 0 else None, callbacks=callbacks, verbose=False)
    classification = data.task == "classification"
    series = rec.series
    history = SimpleNamespace(grad_norms=rec.grad_norms())
    return {"epochs": series, "final": _final(series, model, data, classification, n_params),
            "artifacts": _artifacts(model, data, history, classification)}


def _message(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def execute(payload: dict, blas_threads: int | None = None) -> dict:
    """Run one trial; never raises for a failing trial.

    ``payload``: ``{"key", "seed", "config", "timeout", "data_dir"}`` (see
    :meth:`TrialSpec.payload`), optionally ``"store"`` (``{"dir", "host", "created"}`` of the
    study's store: write progress there), ``"checkpoint_every"`` (seconds) and ``"parent"``
    (the identity of the study's process: this process ends when it is gone).
    ``blas_threads`` limits the BLAS pool of this process during the trial (so that
    parallel workers do not oversubscribe the cores).

    Returns ``{"key", "status" ("done" | "failed" | "timeout" | "pending"), "error"
    (traceback), "message" (the exception's text), "epochs", "final", "artifacts",
    "started", "finished", "duration", "versions", "stored", "worker"}``; ``stored`` is True when the
    trial wrote its results to the store itself (``epochs`` and ``artifacts`` are then
    empty); ``worker`` is ``host:pid`` of the process that ran it.
    """
    watch(payload.get("parent"))
    timeout = payload.get("timeout")
    started = time.time()
    t0 = time.monotonic()
    deadline = t0 + timeout if timeout else None
    result = {"key": payload["key"], "status": "done", "error": None, "message": None, "epochs": {},
              "final": {}, "artifacts": {}, "versions": versions(), "stored": False,
              "worker": f"{socket.gethostname()}:{os.getpid()}"}
    if blas_threads:
        limits = threadpool_limits(limits=blas_threads)
    else:
        limits = nullcontext()
    live = None
    with limits:
        try:
            live = _Live.open(payload)
            result.update(_run(payload, deadline, live))
            result["duration"] = live.elapsed() if live is not None else time.monotonic() - t0
            result["started"], result["finished"] = started, time.time()
            if live is not None:
                live.finish(result)
                result.update(epochs={}, artifacts={}, stored=True)
        except TrialTimeout as exc:
            result.update(status="timeout", error=f"TrialTimeout: {exc} ({timeout:g} s)",
                          message=f"TrialTimeout: {exc} ({timeout:g} s)")
        except ENVIRONMENT_ERRORS as exc:
            result.update(status="pending", error=traceback.format_exc(), message=_message(exc))
        except Exception as exc:  # noqa: BLE001 - a failed trial is data, the study goes on
            status = "pending" if isinstance(exc, StoreWriteError) else "failed"
            result.update(status=status, error=traceback.format_exc(), message=_message(exc),
                          store_error=str(exc) if isinstance(exc, StoreWriteError) else None)
        finally:
            if live is not None:
                live.close()
    if result["status"] != "done":
        result.update(epochs={}, final={}, artifacts={})
    result.setdefault("started", started)
    result["finished"] = time.time()
    result.setdefault("duration", time.monotonic() - t0)
    return result
