"""One trial of a study: build the model of a trial config, train it, measure it.

:func:`execute` is what executors run in their workers. It takes and returns plain data
(picklable, JSON-able apart from NumPy artifacts) and never raises for a failing trial: an
exception becomes ``status = "failed"`` with its traceback, an exceeded time limit
``status = "timeout"``.

Per-epoch metrics (names in ``docs/store-schema.md``): ``train_accuracy`` /
``test_accuracy`` and ``gap`` (train − test) for classification, ``train_mse`` /
``test_mse`` and ``gap`` (test − train) for regression, ``data_loss``, ``reg_loss``,
``loss``, ``test_loss``, ``lr``, ``time``, sparsity (``zeros/total``, ``zeros/<layer>.W``,
``dead/total``, ``effective_params``) and, for datasets with a validation split,
``val_accuracy`` / ``val_mse``. The test set is only *measured* each epoch (as the classic
experiments do); nothing is selected on it.
"""
from __future__ import annotations

import os
import platform
import signal
import threading
import time
import traceback

import numpy as np

from ..callbacks import Callback

__all__ = ["execute", "build_model", "load_data", "TrialTimeout"]

_DATA_CACHE: dict = {}


class TrialTimeout(Exception):
    """The trial ran past its time limit."""


def versions() -> dict:
    import proxnet
    return {"proxnet": proxnet.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def load_data(spec: dict, dtype: str):
    """The dataset of a trial config, cached per process (workers reuse it across trials)."""
    from ..data import load_dataset
    import json
    key = (json.dumps(spec, sort_keys=True), dtype)
    if key not in _DATA_CACHE:
        if len(_DATA_CACHE) > 4:
            _DATA_CACHE.clear()
        _DATA_CACHE[key] = load_dataset(spec["name"], dtype=dtype, **spec.get("options", {}))
    return _DATA_CACHE[key]


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
    from ..regularizers import get_regularizer
    kind, lam, mode = reg["kind"], reg["lam"], reg["mode"]
    if kind == "elastic_net":
        r = reg.get("l1_ratio", 0.5)
        return get_regularizer({"kind": kind, "l1": lam * r, "l2": lam * (1 - r), "mode": mode})
    if kind == "max_norm":
        return get_regularizer({"kind": kind, "max_value": lam, "mode": mode})
    return get_regularizer({"kind": kind, "lam": lam, "mode": mode})


def build_model(cfg: dict, data, seed: int):
    """The Sequential of a trial config, for the dataset ``data`` (a Splits): the layers of
    :func:`~proxnet.architectures.mlp_layers` (with a Flatten for image inputs) or of
    :func:`~proxnet.architectures.lenet5`, dropout after each hidden dense activation, and the
    method's regularizer on the selected weighted layers."""
    from ..architectures import lenet5, mlp_layers
    from ..model import Sequential
    from .config import TrainingSpec

    m = cfg["model"]
    loss = {"ce": "softmax_cross_entropy", "mse": "mse"}[m["loss"]]
    if data.task == "regression":
        n_out = int(data.y_train.shape[1]) if data.y_train.ndim == 2 else 1
        if m["loss"] != "mse":
            raise ValueError(f"model.loss: dataset {data.name!r} is a regression problem; use loss = 'mse'")
    else:
        n_out = int(data.n_classes)
    rate = cfg.get("dropout") or 0.0
    if m["architecture"] == "lenet5":
        if len(data.input_shape) != 3:
            raise ValueError(f"model.architecture: lenet5 needs NCHW images (dataset option flatten = false), "
                             f"got samples of shape {data.input_shape}")
        layers = lenet5(variant=m["variant"], activation=m["activation"], pooling=m["pooling"],
                        in_channels=data.input_shape[0], input_size=data.input_shape[1],
                        n_classes=n_out, dropout=rate).layers
    else:
        layers = mlp_layers([int(np.prod(data.input_shape)), *m["hidden"], n_out],
                            activation=m["activation"], dropout=rate, init=m["init"],
                            output_activation=m.get("output_activation", "identity"),
                            flatten=len(data.input_shape) > 1)
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


class _Recorder(Callback):
    """Callback: per-epoch test (and validation) metrics, and the time limit."""

    def __init__(self, data, deadline):
        super().__init__()
        self.data, self.deadline = data, deadline
        self.test: list[dict] = []
        self.val: list[dict] = []

    def on_epoch_end(self, epoch, logs=None):
        d, model = self.data, self.model
        self.test.append(model.evaluate(d.X_test, d.y_test))
        if d.X_val is not None:
            self.val.append(model.evaluate(d.X_val, d.y_val))
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise TrialTimeout(f"trial exceeded its time limit after epoch {epoch + 1}")


def _epoch_series(history, rec, classification: bool) -> dict[str, list]:
    h = history.history
    series: dict[str, list] = {}
    for k, v in h.items():
        if k == "epoch" or k.startswith("val_"):
            continue
        series[k] = [float(x) for x in v]
    what = "accuracy" if classification else "mse"
    series[f"test_{what}"] = [float(e[what]) for e in rec.test]
    series["test_loss"] = [float(e["data_loss"]) for e in rec.test]
    if rec.val:
        series[f"val_{what}"] = [float(e[what]) for e in rec.val]
    tr, te = np.asarray(series[f"train_{what}"]), np.asarray(series[f"test_{what}"])
    series["gap"] = (tr - te if classification else te - tr).tolist()
    return series


def _artifacts(model, data, history, classification: bool) -> dict[str, np.ndarray]:
    from ..layers import Dense
    arts: dict[str, np.ndarray] = {}
    first = next((i for i, layer in enumerate(model.layers) if "W" in layer.params), None)
    if first is not None:
        W = model.layers[first].params["W"]
        if isinstance(model.layers[first], Dense):
            arts["first_layer_weights"] = W.astype(np.float32)            # (D, M)
        elif W.ndim == 4 and W.shape[1] == 1:                             # conv filters
            arts["first_layer_weights"] = W.reshape(W.shape[0], -1).T.astype(np.float32)
        norms = history.grad_norms.get(f"{first}.W")
        if norms:
            arts["grad_norm_W1"] = np.asarray(norms, dtype=np.float32)
    X = data.X_train.reshape(data.X_train.shape[0], -1)
    if X.shape[1] == 2 and classification:
        lo, hi = X.min(axis=0), X.max(axis=0)
        pad = 0.1 * (hi - lo)
        lo, hi = lo - pad, hi + pad
        g = 200
        xs, ys = np.linspace(lo[0], hi[0], g), np.linspace(lo[1], hi[1], g)
        grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2).astype(data.X_train.dtype)
        arts["decision_grid"] = model.predict(grid).reshape(g, g).astype(np.int16)
        arts["decision_extent"] = np.array([lo[0], hi[0], lo[1], hi[1]], dtype=np.float64)
    if X.shape[1] == 1 and not classification:
        allx = np.concatenate([X[:, 0], data.X_test.reshape(-1)])
        lo, hi = float(allx.min()), float(allx.max())
        xs = np.linspace(lo, hi, 200).reshape(-1, 1).astype(data.X_train.dtype)
        arts["curve_x"] = xs[:, 0].astype(np.float64)
        arts["curve_y"] = model.predict(xs)[:, 0].astype(np.float64)
    if X.shape[1] <= 2 and X.shape[0] <= 5000:
        arts["train_X"] = X.astype(np.float64)
        arts["train_y"] = np.asarray(data.y_train).reshape(X.shape[0], -1).squeeze(-1) \
            if np.asarray(data.y_train).ndim > 1 and np.asarray(data.y_train).shape[1] == 1 \
            else np.asarray(data.y_train)
    return arts


def _final(series, model, data, classification: bool, n_params: int) -> dict:
    from ..metrics import sparsity_report
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


def _run(payload: dict, deadline) -> dict:
    cfg, seed = payload["config"], int(payload["seed"])
    data_dir = payload.get("data_dir")
    if data_dir and os.path.isdir(data_dir):
        # the data folder of the process that started the study (pool workers may predate it)
        os.environ["PROXNET_DATA"] = data_dir
    data = load_data(cfg["dataset"], cfg["model"]["dtype"])
    model = build_model(cfg, data, seed)
    n_params = model.n_params()
    rec = _Recorder(data, deadline)
    tr = cfg["training"]
    history = model.fit(data.X_train, data.y_train, epochs=tr["epochs"],
                        batch_size=tr["batch_size"] or None, seed=seed, callbacks=[rec],
                        verbose=False)
    classification = data.task == "classification"
    series = _epoch_series(history, rec, classification)
    return {"epochs": series, "final": _final(series, model, data, classification, n_params),
            "artifacts": _artifacts(model, data, history, classification)}


def _alarm(signum, frame):
    raise TrialTimeout("trial exceeded its time limit")


def execute(payload: dict, blas_threads: int | None = None) -> dict:
    """Run one trial; never raises for a failing trial.

    ``payload``: ``{"key", "seed", "config", "timeout"}`` (see :meth:`TrialSpec.payload`).
    ``blas_threads`` limits the BLAS pool of this process during the trial (so that
    parallel workers do not oversubscribe the cores).

    Returns ``{"key", "status" ("done" | "failed" | "timeout"), "error", "epochs", "final",
    "artifacts", "started", "finished", "duration", "versions"}``.
    """
    from contextlib import nullcontext

    timeout = payload.get("timeout")
    started = time.time()
    t0 = time.monotonic()
    deadline = t0 + timeout if timeout else None
    # A hard limit by SIGALRM where we can (the main thread of a worker process); the
    # per-epoch check of the recorder covers threads (e.g. Dask workers).
    use_alarm = bool(timeout) and threading.current_thread() is threading.main_thread() \
        and hasattr(signal, "setitimer")
    result = {"key": payload["key"], "status": "done", "error": None, "epochs": {}, "final": {},
              "artifacts": {}, "versions": versions()}
    if blas_threads:
        from threadpoolctl import threadpool_limits
        limits = threadpool_limits(limits=blas_threads)
    else:
        limits = nullcontext()
    old = None
    with limits:
        try:
            if use_alarm:
                old = signal.signal(signal.SIGALRM, _alarm)
                signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                result.update(_run(payload, deadline))
            finally:
                if use_alarm:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                    signal.signal(signal.SIGALRM, old)
        except TrialTimeout as exc:
            result.update(status="timeout", error=f"TrialTimeout: {exc} ({timeout:g} s)")
        except Exception:  # noqa: BLE001 - a failed trial is data, the study goes on
            result.update(status="failed", error=traceback.format_exc())
    result["started"] = started
    result["finished"] = time.time()
    result["duration"] = time.monotonic() - t0
    return result
