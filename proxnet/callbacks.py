"""Training callbacks and the History they fill.

A callback gets ``on_train_begin(model)``, ``on_epoch_end(model, epoch, logs)`` and
``on_train_end(model)``; setting ``model.stop_training = True`` ends ``fit`` after the epoch.
"""
from __future__ import annotations

import math
import sys



class History:
    """What happened during ``fit``.

    ``history[key]`` is a list with one value per epoch. Keys: ``epoch``, ``loss`` (data +
    regularization), ``data_loss`` (mean over the epoch's steps), ``reg_loss`` (at the
    end of the epoch), ``lr``, ``time`` (wall seconds of the epoch), ``train_accuracy``
    / ``val_accuracy`` / ``val_loss`` for classification, ``train_mse`` / ``val_mse`` for
    regression (train metrics are measured in inference mode on the whole training set
    after the epoch unless ``fit(eval_train=False)``), and sparsity keys (``zeros/...``,
    ``dead/...``, ``effective_params``).

    ``grad_norms[name]`` lists, per step, the L2 norm of the data-loss gradient of each
    weight (e.g. ``"0.W"``): the classic "gradient magnitude of W1" diagnostic.
    """

    def __init__(self):
        self.history: dict[str, list] = {}
        self.grad_norms: dict[str, list] = {}

    def append(self, logs: dict) -> None:
        n = len(self.history.get("epoch", []))
        for k, v in logs.items():
            self.history.setdefault(k, [float("nan")] * n).append(v)
        for k, lst in self.history.items():
            if len(lst) < n + 1:
                lst.append(float("nan"))

    def __getitem__(self, key):
        return self.history[key]

    def __contains__(self, key):
        return key in self.history

    def keys(self):
        return self.history.keys()

    def __len__(self):
        return len(self.history.get("epoch", []))

    def last(self) -> dict:
        return {k: v[-1] for k, v in self.history.items()}

    def to_dict(self) -> dict:
        return {"history": {k: list(v) for k, v in self.history.items()},
                "grad_norms": {k: [float(x) for x in v] for k, v in self.grad_norms.items()}}

    def __repr__(self):
        return f"History(epochs={len(self)}, keys={sorted(self.history)})"


class Callback:
    """Base class: override any of the hooks."""

    def on_train_begin(self, model) -> None: ...

    def on_epoch_end(self, model, epoch: int, logs: dict) -> None: ...

    def on_train_end(self, model) -> None: ...

    def __repr__(self):
        return f"{type(self).__name__}()"


class ProgressBar(Callback):
    """A tqdm bar over epochs showing the latest metrics (tqdm is imported only when used)."""

    def __init__(self, file=None):
        self.file = file or sys.stderr
        self._bar = None

    def on_train_begin(self, model):
        from tqdm.auto import tqdm
        self._bar = tqdm(total=model._epochs_planned, desc="fit", unit="epoch", file=self.file,
                         leave=True)

    def on_epoch_end(self, model, epoch, logs):
        keys = [k for k in ("loss", "train_accuracy", "val_accuracy", "train_mse", "val_mse")
                if k in logs]
        self._bar.set_postfix({k: f"{logs[k]:.4g}" for k in keys}, refresh=False)
        self._bar.update(1)

    def on_train_end(self, model):
        if self._bar is not None:
            self._bar.close()


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    Parameters
    ----------
    monitor : str
        A History key, e.g. ``"val_loss"`` (minimized) or ``"val_accuracy"`` (maximized).
    patience : int
        Epochs without improvement before stopping.
    min_delta : float
        Minimum change that counts as an improvement.
    mode : {"auto", "min", "max"}
        ``"auto"`` maximizes keys containing "accuracy", minimizes the rest.
    restore_best_weights : bool
        At the end, put back the weights of the best epoch.

    Attributes
    ----------
    best_epoch_, best_value_, stopped_epoch_ : set during training.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 10, min_delta: float = 0.0,
                 mode: str = "auto", restore_best_weights: bool = True):
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode: expected 'auto', 'min' or 'max', got {mode!r}")
        if int(patience) < 0:
            raise ValueError(f"patience: expected an int >= 0, got {patience!r}")
        if float(min_delta) < 0:
            raise ValueError(f"min_delta: expected >= 0, got {min_delta!r}")
        self.monitor, self.patience, self.min_delta = monitor, int(patience), float(min_delta)
        self.mode = mode if mode != "auto" else ("max" if "accuracy" in monitor else "min")
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self, model):
        self.best_value_ = -math.inf if self.mode == "max" else math.inf
        self.best_epoch_ = None
        self.stopped_epoch_ = None
        self._wait = 0
        self._best_weights = None

    def on_epoch_end(self, model, epoch, logs):
        if self.monitor not in logs:
            raise ValueError(f"monitor: {self.monitor!r} is not logged; available: {sorted(logs)}")
        value = logs[self.monitor]
        better = (value > self.best_value_ + self.min_delta if self.mode == "max"
                  else value < self.best_value_ - self.min_delta)
        if better:
            self.best_value_, self.best_epoch_, self._wait = value, epoch, 0
            if self.restore_best_weights:
                self._best_weights = {k: v.copy() for k, v in model.named_parameters()}
        else:
            self._wait += 1
            if self._wait > self.patience:
                self.stopped_epoch_ = epoch
                model.stop_training = True

    def on_train_end(self, model):
        if self.restore_best_weights and self._best_weights is not None:
            model.set_parameters(self._best_weights)

    def __repr__(self):
        return (f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience}, "
                f"min_delta={self.min_delta}, mode={self.mode!r}, "
                f"restore_best_weights={self.restore_best_weights})")


def stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


__all__ = ["History", "Callback", "ProgressBar", "EarlyStopping"]
