"""Training callbacks (Keras-shaped hooks) and the History they fill.

A callback overrides any of::

    on_train_begin(logs)   on_epoch_begin(epoch, logs)   on_batch_begin(batch, logs)
    on_train_end(logs)     on_epoch_end(epoch, logs)     on_batch_end(batch, logs)

with the model being trained at ``self.model`` and the run's settings at ``self.params``
(``{"epochs", "steps", "batch_size", "samples"}``), as in Keras. ``epoch`` counts from 0
over the model's whole training (a second ``fit`` continues the count); ``batch`` counts
the steps of the epoch. Setting ``self.model.stop_training = True`` ends ``fit`` after the
current epoch. Batch hooks cost nothing when no callback overrides them.

Built-ins: :class:`History` (kept as ``model.history``), :class:`ProgressBar`,
:class:`EarlyStopping`, :class:`CSVLogger`, :class:`ReduceLROnPlateau`,
:class:`LambdaCallback`; ``proxnet.io.ModelCheckpoint`` writes full checkpoints.
"""
from __future__ import annotations

import csv
import inspect
import math
import os
import sys
from pathlib import Path

from ..display import fmt, sparkline_svg, table_html

__all__ = ["Callback", "CallbackList", "History", "ProgressBar", "EarlyStopping", "CSVLogger",
           "ReduceLROnPlateau", "LambdaCallback", "show_progress", "in_notebook",
           "progress_bar_class"]

_HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
          "on_batch_begin", "on_batch_end")
_ARITY = {"on_train_begin": 1, "on_train_end": 1, "on_epoch_begin": 2, "on_epoch_end": 2,
          "on_batch_begin": 2, "on_batch_end": 2}


class Callback:
    """Base class: override any hook. ``self.model`` and ``self.params`` are set by ``fit``."""

    def __init__(self):
        self.model = None
        self.params: dict = {}

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = dict(params)

    def on_train_begin(self, logs=None): ...

    def on_train_end(self, logs=None): ...

    def on_epoch_begin(self, epoch, logs=None): ...

    def on_epoch_end(self, epoch, logs=None): ...

    def on_batch_begin(self, batch, logs=None): ...

    def on_batch_end(self, batch, logs=None): ...

    def uses_batch_hooks(self) -> bool:
        """Whether this callback wants the batch hooks called (by default: when its class
        overrides one of them)."""
        cls = type(self)
        return (cls.on_batch_begin is not Callback.on_batch_begin
                or cls.on_batch_end is not Callback.on_batch_end)

    def __repr__(self):
        return f"{type(self).__name__}()"


def _check_signature(cb) -> None:
    """Refuse hooks written for another signature (e.g. proxnet 0.1's
    ``on_epoch_end(model, epoch, logs)``) with a message saying what is expected."""
    for hook, arity in _ARITY.items():
        fn = getattr(type(cb), hook, None)
        if fn is None or fn is getattr(Callback, hook):
            continue
        params = list(inspect.signature(fn).parameters.values())[1:]   # without self
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        required = [p for p in positional if p.default is p.empty]
        variadic = any(p.kind == p.VAR_POSITIONAL for p in params)
        if len(required) > arity or (len(positional) < arity and not variadic):
            args = "logs=None" if arity == 1 else f"{hook.split('_')[1]}, logs=None"
            raise ValueError(
                f"callbacks: {type(cb).__name__}.{hook} takes {[p.name for p in params]}; "
                f"expected {hook}(self, {args}) (Keras' signature; the model is self.model)")


class CallbackList:
    """The callbacks of one ``fit``: validated, given the model and params, called in order.

    ``batch_hooks`` is False when no callback overrides a batch hook, so that the training
    loop can skip building per-batch logs."""

    def __init__(self, callbacks, model, params: dict):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise ValueError(f"callbacks: expected Callback objects, got {type(cb).__name__}")
            _check_signature(cb)
            cb.set_model(model)
            cb.set_params(params)
        self.batch_hooks = any(cb.uses_batch_hooks() for cb in self.callbacks)

    def train_begin(self, logs=None):
        for cb in self.callbacks:
            cb.on_train_begin(logs)

    def train_end(self, logs=None):
        for cb in self.callbacks:
            cb.on_train_end(logs)

    def epoch_begin(self, epoch, logs=None):
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, logs)

    def epoch_end(self, epoch, logs):
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def batch_begin(self, batch, logs):
        for cb in self.callbacks:
            cb.on_batch_begin(batch, logs)

    def batch_end(self, batch, logs):
        for cb in self.callbacks:
            cb.on_batch_end(batch, logs)


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
        n = len(self)
        for k, v in logs.items():
            self.history.setdefault(k, [float("nan")] * n).append(v)
        for lst in self.history.values():
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
        """Plain data: ``{"history": {key: [per epoch]}, "grad_norms": {name: [per step]}}``."""
        return {"history": {k: list(v) for k, v in self.history.items()},
                "grad_norms": {k: [float(x) for x in v] for k, v in self.grad_norms.items()}}

    def to_frame(self):
        """The per-epoch logs as a pandas DataFrame indexed by epoch (pandas is optional:
        without it this raises ImportError; :meth:`to_dict` holds the same data)."""
        try:
            import pandas as pd  # deferred: pandas is optional
        except ImportError:
            raise ImportError("History.to_frame needs pandas (pip install pandas); "
                              "History.to_dict() holds the same data") from None
        frame = pd.DataFrame({k: v for k, v in self.history.items() if k != "epoch"},
                             index=pd.Index(self.history.get("epoch", []), name="epoch"))
        return frame

    def default_metrics(self) -> list[str]:
        """What :meth:`plot` draws by default: train/validation accuracy (or MSE), else the
        losses."""
        for pair in (("train_accuracy", "val_accuracy"), ("train_mse", "val_mse"), ("loss", "val_loss")):
            found = [k for k in pair if k in self.history]
            if found:
                return found
        return []

    def plot(self, metrics=None, ax=None):
        """Draw metrics per epoch on matplotlib axes (new ones when ``ax`` is None) and return
        the axes. ``metrics``: a key or keys of :attr:`history` (default
        :meth:`default_metrics`). matplotlib is the lab extra's; it is imported here."""
        metrics = self.default_metrics() if metrics is None else (
            [metrics] if isinstance(metrics, str) else list(metrics))
        unknown = [m for m in metrics if m not in self.history]
        if unknown:
            raise ValueError(f"metrics: {unknown} not logged; available: {sorted(self.history)}")
        if ax is None:
            import matplotlib.pyplot as plt  # deferred: plotting is optional (the lab extra)
            _, ax = plt.subplots(figsize=(5, 3.2))
        epochs = [e + 1 for e in self.history.get("epoch", range(len(self)))]
        for m in metrics:
            ax.plot(epochs, self.history[m], label=m, linestyle="--" if m.startswith("train_") else "-")
        ax.set_xlabel("epoch")
        ax.legend()
        return ax

    def _repr_html_(self) -> str:
        if not len(self):
            return "<div>History: no epoch yet</div>"
        last = self.last()
        keys = [k for k in ("loss", "data_loss", "reg_loss", "train_accuracy", "val_accuracy",
                            "val_loss", "train_mse", "val_mse", "lr", "zeros/total", "time")
                if k in last]
        table = table_html(["metric", "last epoch"], [[k, fmt(last[k])] for k in keys],
                           title=f"History: {len(self)} epochs (last: epoch {last.get('epoch', len(self) - 1) + 1})")
        plotted = {m: self.history[m] for m in self.default_metrics()}
        return f"<div style='display:flex;gap:16px;align-items:flex-start'>{table}{sparkline_svg(plotted)}</div>"

    def __repr__(self):
        if not len(self):
            return "History(epochs=0)"
        last = self.last()
        shown = ", ".join(f"{k}={fmt(last[k])}" for k in ("loss", "train_accuracy", "val_accuracy",
                                                           "train_mse", "val_mse") if k in last)
        return f"History(epochs={len(self)}, last: {shown}; keys={sorted(self.history)})"


def in_notebook() -> bool:
    """True when the code runs in a Jupyter (IPython) kernel."""
    ipython = sys.modules.get("IPython")
    if "ipykernel" not in sys.modules or ipython is None:
        return False
    shell = ipython.get_ipython() if hasattr(ipython, "get_ipython") else None
    return shell is not None and hasattr(shell, "kernel")


def show_progress(verbose) -> bool:
    """Whether ``fit`` shows a progress bar: ``verbose`` if it is True or False; for None,
    when stderr is a terminal or the code runs in a Jupyter kernel."""
    if verbose is not None:
        return bool(verbose)
    if in_notebook():
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def progress_bar_class():
    """The tqdm class to draw with: the notebook widget in a Jupyter kernel with ipywidgets,
    else the text bar; None when tqdm is not installed (a line per epoch is printed)."""
    try:
        from tqdm.std import tqdm  # deferred: tqdm is a lab dependency, absent from the core
    except ImportError:
        return None
    if in_notebook():
        try:
            import ipywidgets  # noqa: F401  (deferred: only notebooks have it; tqdm's widget needs it)
            from tqdm.notebook import tqdm as notebook_tqdm  # deferred: as above
            return notebook_tqdm
        except ImportError:
            pass
    return tqdm


class ProgressBar(Callback):
    """A bar over epochs showing the latest metrics: tqdm's (a widget in Jupyter, see
    :func:`progress_bar_class`) when tqdm is installed, else one line per epoch."""

    KEYS = ("loss", "train_accuracy", "val_accuracy", "train_mse", "val_mse")

    def __init__(self, file=None):
        super().__init__()
        self.file = file
        self._bar = None

    def on_train_begin(self, logs=None):
        bar = progress_bar_class()
        self._bar = None if bar is None else bar(total=self.params.get("epochs"), desc="fit",
                                                 unit="epoch", file=self.file or sys.stderr,
                                                 leave=True)

    def on_epoch_end(self, epoch, logs=None):
        shown = {k: f"{logs[k]:.4g}" for k in self.KEYS if k in logs}
        if self._bar is None:
            text = ", ".join(f"{k}={v}" for k, v in shown.items())
            print(f"epoch {epoch + 1}: {text}", file=self.file or sys.stderr)
            return
        self._bar.set_postfix(shown, refresh=False)
        self._bar.update(1)

    def on_train_end(self, logs=None):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _mode(monitor: str, mode: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode: expected 'auto', 'min' or 'max', got {mode!r}")
    return mode if mode != "auto" else ("max" if "accuracy" in monitor else "min")


def _monitored(monitor: str, logs: dict) -> float:
    if monitor not in logs:
        raise ValueError(f"monitor: {monitor!r} is not logged; available: {sorted(logs)}")
    return float(logs[monitor])


def _count(value, name, minimum=0) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__") or int(value) < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value!r}")
    return int(value)


def _nonnegative(value, name) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < 0:
        raise ValueError(f"{name}: expected a finite number >= 0, got {value!r}")
    return float(value)


class _Monitor(Callback):
    """Tracks the best value of a logged metric (shared by EarlyStopping and
    ReduceLROnPlateau)."""

    def __init__(self, monitor, mode, min_delta):
        super().__init__()
        self.monitor = monitor
        self.mode = _mode(monitor, mode)
        self.min_delta = _nonnegative(min_delta, "min_delta")

    def _reset(self):
        self.best_value_ = -math.inf if self.mode == "max" else math.inf
        self.best_epoch_ = None
        self._wait = 0

    def _improved(self, value) -> bool:
        return (value > self.best_value_ + self.min_delta if self.mode == "max"
                else value < self.best_value_ - self.min_delta)


class EarlyStopping(_Monitor):
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

    The best value is the best seen (any improvement counts); the patience counts epochs
    whose value did not beat the best so far by more than ``min_delta``, as scikit-learn's
    ``n_iter_no_change`` / ``tol`` do. With ``min_delta=0`` this is Keras' rule.

    Attributes
    ----------
    best_epoch_, best_value_, stopped_epoch_ : set during training.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 10, min_delta: float = 0.0,
                 mode: str = "auto", restore_best_weights: bool = True):
        super().__init__(monitor, mode, min_delta)
        self.patience = _count(patience, "patience")
        self.restore_best_weights = bool(restore_best_weights)

    def on_train_begin(self, logs=None):
        self._reset()
        self.stopped_epoch_ = None
        self._best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        value = _monitored(self.monitor, logs)
        self._wait = 0 if self._improved(value) else self._wait + 1
        if value > self.best_value_ if self.mode == "max" else value < self.best_value_:
            self.best_value_, self.best_epoch_ = value, epoch
            if self.restore_best_weights:
                self._best_weights = {k: v.copy() for k, v in self.model.named_parameters()}
        if self._wait > self.patience:
            self.stopped_epoch_ = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self._best_weights is not None:
            self.model.set_parameters(self._best_weights)

    def __repr__(self):
        return (f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience}, "
                f"min_delta={self.min_delta}, mode={self.mode!r}, "
                f"restore_best_weights={self.restore_best_weights})")


class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved for
    ``patience`` epochs (Keras' callback). It lowers the optimizer's base rate, so a
    schedule keeps acting on top, and the change is saved in checkpoints; ``min_lr``
    bounds the base rate from below; ``cooldown`` epochs are waited after a reduction."""

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 min_delta: float = 1e-4, mode: str = "auto", cooldown: int = 0,
                 min_lr: float = 0.0):
        super().__init__(monitor, mode, min_delta)
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor < 1:
            raise ValueError(f"factor: expected a number in (0, 1), got {factor!r}")
        self.factor = float(factor)
        self.patience = _count(patience, "patience")
        self.cooldown = _count(cooldown, "cooldown")
        self.min_lr = _nonnegative(min_lr, "min_lr")

    def on_train_begin(self, logs=None):
        self._reset()
        self._cooling = 0

    def on_epoch_end(self, epoch, logs=None):
        value = _monitored(self.monitor, logs)
        if self._cooling:
            self._cooling -= 1
            self._wait = 0
        if self._improved(value):
            self.best_value_, self.best_epoch_, self._wait = value, epoch, 0
            return
        self._wait += 1
        opt = self.model.optimizer
        if self._wait > self.patience and opt.base_lr > self.min_lr:
            opt.configure(lr=max(self.min_lr, opt.base_lr * self.factor))
            self._wait, self._cooling = 0, self.cooldown

    def __repr__(self):
        return (f"ReduceLROnPlateau(monitor={self.monitor!r}, factor={self.factor}, "
                f"patience={self.patience}, min_lr={self.min_lr})")


class CSVLogger(Callback):
    """Append each epoch's logs to a CSV file (one row per epoch, a header first).

    Columns are the keys of the first epoch's logs; later keys are ignored, missing ones
    left empty. ``append=True`` continues an existing file (a resumed run)."""

    def __init__(self, filename, separator: str = ",", append: bool = False):
        super().__init__()
        self.filename, self.separator, self.append = Path(filename), separator, bool(append)
        self._file = self._writer = None
        self._columns = None

    def on_train_begin(self, logs=None):
        keep = self.append and self.filename.is_file() and self.filename.stat().st_size > 0
        if keep:
            with open(self.filename, newline="", encoding="utf-8") as f:
                self._columns = next(csv.reader(f, delimiter=self.separator), None)
        self.filename.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.filename, "a" if keep else "w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file, delimiter=self.separator)

    def on_epoch_end(self, epoch, logs=None):
        if self._columns is None:
            self._columns = list(logs)
            self._writer.writerow(self._columns)
        self._writer.writerow([logs.get(k, "") for k in self._columns])
        self._file.flush()
        os.fsync(self._file.fileno())

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None


class LambdaCallback(Callback):
    """A callback from plain functions, e.g.
    ``LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]))``."""

    def __init__(self, **hooks):
        super().__init__()
        unknown = sorted(set(hooks) - set(_HOOKS))
        if unknown:
            raise ValueError(f"LambdaCallback: unknown hook(s) {unknown}; valid: {list(_HOOKS)}")
        for name, fn in hooks.items():
            if fn is not None and not callable(fn):
                raise ValueError(f"{name}: expected a callable, got {fn!r}")
        self._hooks = {k: v for k, v in hooks.items() if v is not None}

    def uses_batch_hooks(self) -> bool:
        return "on_batch_begin" in self._hooks or "on_batch_end" in self._hooks

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs)

    def on_batch_begin(self, batch, logs=None):
        self._call("on_batch_begin", batch, logs)

    def on_batch_end(self, batch, logs=None):
        self._call("on_batch_end", batch, logs)

    def _call(self, name, *args):
        fn = self._hooks.get(name)
        if fn is not None:
            fn(*args)

    def __repr__(self):
        return f"LambdaCallback({', '.join(sorted(self._hooks))})"
