"""Study configs: a TOML file (or a built-in recipe) validated into a :class:`StudyConfig`,
expanded into trials (grid × seeds).

A study compares *methods* on one model and one training recipe. Each method is a row of
the grid: a regularizer kind with a list of strengths (each strength is one grid point), a
dropout rate list, or a change of loss or activation (``mse`` vs ``ce``, ``sigmoid`` vs
``relu``). Every grid point runs once per seed. See ``docs/studies.md`` for the format;
the built-in recipes (:func:`list_recipes`) are complete examples.

Validation is strict and complete before anything runs: no type coercion (``"0.1"`` is not a
number, ``true`` is not an epoch count, ``1500.0`` is not a seed), finite numbers in sane
ranges, capped sizes (seeds, widths, epochs, trials, names, file size, nesting depth),
dataset options checked by the dataset's own rules, settings that the chosen
architecture or optimizer would ignore refused, and two grid points that resolve to the same
trial config refused (naming both). Every failure is a :class:`ConfigError` whose message
names the field.

>>> cfg = StudyConfig.model_validate({
...     "name": "demo", "seeds": 2,
...     "dataset": {"name": "digits"},
...     "model": {"hidden": [32]},
...     "training": {"optimizer": "sgd", "lr": 0.1, "epochs": 3, "batch_size": 32},
...     "methods": [{"name": "none"}, {"name": "l2", "regularizer": "l2", "strengths": [1e-4, 1e-3]}]})
>>> [(t.method, t.strength, t.seed) for t in cfg.trials()]
[('none', None, 0), ('none', None, 1), ('l2', 0.0001, 0), ('l2', 0.0001, 1), ('l2', 0.001, 0), ('l2', 0.001, 1)]
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import (BaseModel, ConfigDict, Field, ValidationError, field_validator,
                      model_validator)

from ..data import DATASETS, check_options, option_specs
from ..data.options import OptionError
from ..layers import ACTIVATIONS, Softmax
from ..optim import RULES, get_optimizer
from ..regularizers import REGULARIZERS

if sys.version_info >= (3, 11):  # pragma: no cover - version dependent
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["StudyConfig", "TrialSpec", "ConfigError", "load_config", "load_recipe",
           "list_recipes", "recipe_path", "config_hash", "resolve", "validate", "LIMITS"]

# The names a config may use, read from the library's registries (each class once, by its
# own name: "elasticnet" and "linear" are aliases; softmax is an output, not a hidden
# activation).
REGULARIZER_KINDS = tuple(sorted({cls.name for cls in REGULARIZERS.values()}))
LOSS_NAMES = ("ce", "mse")      # the study's short names of softmax_cross_entropy and mse
ACTIVATION_NAMES = tuple(name for name, cls in ACTIVATIONS.items()
                         if cls is not Softmax and name != "linear")
OPTIMIZER_NAMES = tuple(RULES)

LIMITS = {
    "config_bytes": 1 << 20,      # a TOML file larger than 1 MiB is refused unread
    "depth": 16,                  # nesting of tables and lists
    "name": 100,                  # study name (a slug)
    "label": 64,                  # method names, dataset labels
    "description": 20_000,
    "seeds": 1000,                # seeds per study
    "seed": 2**32 - 1,            # largest seed
    "width": 16_384,              # units per hidden layer
    "layers": 64,                 # hidden layers
    "epochs": 1_000_000,
    "batch_size": 10_000_000,
    "methods": 100,
    "grid": 1000,                 # strengths (or dropout rates) per method
    "datasets": 20,
    "trials": 20_000,             # grid points x seeds
    "string": 4096,               # string values in dataset options
    "list": 10_000,               # list values in dataset options
}
"""Caps on a config's sizes (so that any config is validated in bounded time and memory)."""

_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._+()=-]*")
_TYPE_TAG = re.compile(r"[\[\]]|^(int|float|str|bool|none|[a-z]+(-[a-z]+)+)$")   # pydantic's union tags
_FIELD_PREFIX = re.compile(r"([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*): (.*)", re.S)


class ConfigError(ValueError):
    """A study config that does not validate; the message names each bad field."""


class _Strict(BaseModel):
    # strict: no str -> float, bool -> int or float -> int coercion; finite floats only
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


PositiveInt = Annotated[int, Field(ge=1)]
Seed = Annotated[int, Field(ge=0, le=LIMITS["seed"])]
Width = Annotated[int, Field(ge=1, le=LIMITS["width"])]
Strength = Annotated[float, Field(gt=0, le=1e6)]
Rate = Annotated[float, Field(ge=0, lt=1)]


def _plain(value, where: str, depth: int = 0):
    """Check that ``value`` is bounded plain data (finite numbers, short strings, short
    lists and tables, limited nesting); raise ValueError naming ``where``."""
    if depth > 4:
        raise ValueError(f"{where}: nested too deeply")
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if abs(value) > 2**63:
            raise ValueError(f"{where}: integer {value} out of range")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: expected a finite number, got {value!r}")
        return value
    if isinstance(value, str):
        if len(value) > LIMITS["string"] or "\x00" in value:
            raise ValueError(f"{where}: strings are limited to {LIMITS['string']} characters "
                             f"without NUL")
        return value
    if isinstance(value, list):
        if len(value) > LIMITS["list"]:
            raise ValueError(f"{where}: at most {LIMITS['list']} items")
        return [_plain(v, f"{where}.{i}", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, dict):
        if len(value) > 100:
            raise ValueError(f"{where}: at most 100 keys")
        return {str(k): _plain(v, f"{where}.{k}", depth + 1) for k, v in value.items()}
    raise ValueError(f"{where}: unsupported value of type {type(value).__name__}")


def _check_label(v: str, what: str) -> str:
    if not _LABEL.fullmatch(v) or len(v) > LIMITS["label"]:
        raise ValueError(f"{what} must be 1-{LIMITS['label']} characters: letters, digits, "
                         f"space and . _ + ( ) = -, starting with a letter or digit; got {_short(v)}")
    return v


class DatasetSpec(_Strict):
    """What :func:`proxnet.data.load_dataset` is called with. The data are the same for
    every seed of a study (generators use ``options.seed``, default 0); the trial seed
    drives initialization, shuffling and dropout."""
    name: str = Field(max_length=64, description="a name from proxnet.data.DATASETS")
    label: str | None = Field(None, description="prefix of the method labels when a study has several datasets")
    options: dict[str, Any] = Field(default_factory=dict, description="keyword options of load_dataset")

    @field_validator("name")
    @classmethod
    def _known(cls, v):
        if v.lower() not in DATASETS:
            raise ValueError(f"unknown dataset {_short(v)}; expected one of {', '.join(sorted(DATASETS))}")
        return v.lower()

    @field_validator("label")
    @classmethod
    def _label(cls, v):
        return v if v is None else _check_label(v, "a dataset label")

    @model_validator(mode="after")
    def _options(self):
        if "dtype" in self.options:
            raise ValueError("options.dtype: set the dtype in [model], not in the dataset options")
        valid = [k for k in option_specs(self.name) if k != "dtype"]
        for key, value in self.options.items():
            if key not in valid:
                raise ValueError(f"options.{_key(key)}: unknown option of dataset {self.name!r}; "
                                 f"expected one of {', '.join(valid)}")
            _plain(value, f"options.{_key(key)}")
        try:
            check_options(self.name, self.options)     # names, types, ranges, combinations
        except OptionError as exc:
            what = str(exc).split(": ", 1)[1] if ": " in str(exc) else str(exc)
            if exc.option:
                what = what.removeprefix(f"{exc.option}: ")
                raise ValueError(f"options.{_key(exc.option)}: {what}") from None
            raise ValueError(f"options: {what}") from None
        return self


_MLP_ONLY = {"hidden": [64], "output_activation": "identity"}
_LENET_ONLY = {"variant": "compact", "pooling": "max", "padding": None}
_SHARED_DEFAULTS = {"init": "he", "bias_init": "zeros"}
_NEW_KEYS = ("bias_init", "padding")
"""Model settings added after stores existed: written into a trial config only when given,
so that the trial keys (hashes) of configs that do not use them stay what they were. So is
lenet5's ``init`` (its MLP counterpart has always been written, default "he")."""

PaddingValue = Union[Literal["valid", "same"], Annotated[int, Field(ge=0, le=4)]]
InitSpec = Union[Annotated[str, Field(max_length=64)], Annotated[dict[str, Any], Field(max_length=8)]]


def _check_init_spec(v, name: str):
    """An initializer spec checked by :func:`proxnet.layers.check_init` (its numbers also
    bounded: |x| <= 1e6), the error re-rooted at the field (``std: ...`` for ``init.std``)."""
    from ..layers import check_init  # deferred: the config module loads without the library
    if v is None:
        return v
    if isinstance(v, dict):
        _plain(v, name)
    try:
        spec = check_init(v, name)
    except ValueError as exc:
        msg = str(exc)
        msg = msg[len(name) + 1:].lstrip(": ") if msg.startswith(name + ".") else msg.removeprefix(f"{name}: ")
        raise ValueError(msg[:400]) from None
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key != "kind" and abs(value) > 1e6:
                raise ValueError(f"{key}: expected a number in [-1e6, 1e6], got {value!r}")
    return spec


class ModelSpec(_Strict):
    """The network: an MLP (``hidden`` sizes, one activation) or LeNet-5. Settings of the
    other architecture are refused (None here means "not given": the architecture's default)."""
    architecture: Literal["mlp", "lenet5"] = "mlp"
    hidden: list[Width] | None = Field(None, max_length=LIMITS["layers"],
                                       description="MLP hidden layer sizes (default [64])")
    activation: Literal[ACTIVATION_NAMES] = "relu"
    output_activation: Literal["identity", "sigmoid", "tanh", "relu", "softmax"] | None = None
    init: InitSpec | None = Field(None, description="weight initializer: a name or a table (default he)")
    bias_init: InitSpec | None = Field(None, description="bias initializer: a name or a table (default zeros)")
    variant: Literal["classic", "compact"] | None = None
    pooling: Literal["max", "avg"] | None = None
    padding: PaddingValue | Annotated[list[PaddingValue], Field(min_length=2, max_length=2)] | None = \
        Field(None, description="lenet5: zero padding of both convolutions, or [conv1, conv2]")
    loss: Literal[LOSS_NAMES] = "ce"
    dtype: Literal["float32", "float64"] = "float32"

    @field_validator("init")
    @classmethod
    def _init(cls, v):
        return _check_init_spec(v, "init")

    @field_validator("bias_init")
    @classmethod
    def _bias_init(cls, v):
        return _check_init_spec(v, "bias_init")

    @model_validator(mode="after")
    def _applicable(self):
        other = _LENET_ONLY if self.architecture == "mlp" else _MLP_ONLY
        for name in other:
            if getattr(self, name) is not None:
                raise ValueError(f"{name}: not used by architecture {self.architecture!r} "
                                 f"(remove it, or choose the architecture that has it)")
        return self

    def resolved(self) -> dict:
        """The settings the architecture uses, defaults filled in (plain data); the newer
        settings (:data:`_NEW_KEYS`, lenet5's ``init``) only when given."""
        own = _MLP_ONLY if self.architecture == "mlp" else _LENET_ONLY
        out = {"architecture": self.architecture}
        for name, default in own.items():
            value = getattr(self, name)
            if value is None and name in _NEW_KEYS:
                continue
            out[name] = (list(default) if isinstance(default, list) else default) if value is None \
                else (list(value) if isinstance(value, list) else value)
        if self.architecture == "mlp" or self.init is not None:
            out["init"] = self.init if self.init is not None else _SHARED_DEFAULTS["init"]
        if self.bias_init is not None:
            out["bias_init"] = self.bias_init
        out.update(activation=self.activation, loss=self.loss, dtype=self.dtype)
        return out

    def n_weighted(self) -> int:
        """Number of weighted layers (dense and convolution) the model will have."""
        if self.architecture == "lenet5":
            return 5 if (self.variant or "compact") == "classic" else 4
        return len(self.resolved()["hidden"]) + 1


_HYPERPARAMETERS = {
    "momentum": ("sgd", "momentum", "nesterov", "rmsprop"),
    "nesterov": ("sgd",),
    "alpha": ("rmsprop",),
    "eps": ("rmsprop", "adam", "adamw"),
    "betas": ("adam", "adamw"),
    "wd": ("adamw",),
    "weight_decay": ("sgd", "momentum", "nesterov", "rmsprop", "adam"),
}
"""Which optimizers have each hyperparameter of [training] (any other is refused)."""
_NEW_TRAINING = ("alpha", "eps", "betas", "wd", "weight_decay")
"""Written into a trial config only when given (stable trial keys, as :data:`_NEW_KEYS`)."""
_OTHER_NAMES = {"rho": "alpha", "epsilon": "eps", "beta_1": "betas", "beta1": "betas",
                "beta_2": "betas", "beta2": "betas", "decay": "weight_decay"}
"""Other libraries' names of the hyperparameters: refused with the name to use."""


class TrainingSpec(_Strict):
    """Optimizer, learning rate and schedule, epochs, batch size (0 = full batch), and the
    optimizer's own hyperparameters (None: the optimizer's default; each refused for an
    optimizer that has no such hyperparameter, see :data:`_HYPERPARAMETERS`)."""
    optimizer: Literal[OPTIMIZER_NAMES] = "sgd"
    lr: float = Field(0.01, gt=0, le=1e4)
    momentum: float = Field(0.0, ge=0, lt=1)
    nesterov: bool = False
    alpha: float | None = Field(None, ge=0, lt=1, description="rmsprop: decay ρ of the squared-gradient "
                                                                "average (Keras' rho; default 0.99)")
    eps: float | None = Field(None, gt=0, le=1, description="rmsprop / adam / adamw: ε of the denominator "
                                                          "(default 1e-8)")
    betas: Annotated[list[Annotated[float, Field(ge=0, lt=1)]], Field(min_length=2, max_length=2)] | None = \
        Field(None, description="adam / adamw: [β₁, β₂] (default [0.9, 0.999])")
    wd: float | None = Field(None, ge=0, le=1e3, description="adamw: decoupled weight decay (default 0.01)")
    weight_decay: float | None = Field(None, ge=0, le=1e3, description="coupled weight decay: g ← g + wd·w "
                                                                       "(every optimizer but adamw)")
    schedule: dict[str, Any] | None = Field(None, description="e.g. {kind='exponential', decay=0.95}")
    epochs: int = Field(10, ge=1, le=LIMITS["epochs"])
    batch_size: int = Field(32, ge=0, le=LIMITS["batch_size"], description="0 means full-batch gradient descent")
    clip_norm: float | None = Field(None, gt=0, le=1e9)

    @model_validator(mode="before")
    @classmethod
    def _other_names(cls, data):
        if isinstance(data, dict):
            for key, ours in _OTHER_NAMES.items():
                if key in data:
                    raise ValueError(f"{key}: unknown field; proxnet's name for it is {ours!r} "
                                     f"(see docs/studies.md, [training])")
        return data

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v):
        if v is None:
            return v
        for key, value in v.items():
            if key == "kind":
                if not isinstance(value, str) or len(value) > 64:
                    raise ValueError("schedule.kind: expected a schedule name")
            elif isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or abs(value) > 1e9:
                raise ValueError(f"schedule.{_key(key)}: expected a finite number, got {_short(value)}")
        return v

    @model_validator(mode="after")
    def _optimizer_builds(self):
        for name, rules in _HYPERPARAMETERS.items():
            value = getattr(self, name)
            given = value is not None if name in _NEW_TRAINING else bool(value)   # 0.0 / False: default
            if given and self.optimizer not in rules:
                extra = " (optimizer 'nesterov' is Nesterov already)" if name == "nesterov" else \
                    " (adamw has its own decoupled decay: set wd)" if name == "weight_decay" else ""
                raise ValueError(f"{name}: not used by optimizer {self.optimizer!r} "
                                 f"(only by {', '.join(rules)}){extra}")
        try:
            get_optimizer(self.optimizer_spec())
        except (ValueError, TypeError) as exc:
            raise ValueError(f"optimizer settings: {exc}") from None
        return self

    def resolved(self) -> dict:
        """Plain data for a trial config: every field, the newer ones only when given."""
        return {k: v for k, v in self.model_dump(mode="json").items()
                if not (k in _NEW_TRAINING and v is None)}

    def optimizer_spec(self) -> dict:
        """The spec of :func:`proxnet.optim.get_optimizer` (rule hyperparameters only when given)."""
        spec: dict = {"kind": self.optimizer, "lr": self.lr}
        if self.optimizer == "sgd" and (self.momentum or self.nesterov):
            spec.update(momentum=self.momentum, nesterov=self.nesterov)
        elif self.optimizer in ("momentum", "nesterov", "rmsprop") and self.momentum:
            spec["momentum"] = self.momentum
        for name in ("alpha", "eps", "wd", "weight_decay"):
            if getattr(self, name) is not None:
                spec[name] = getattr(self, name)
        if self.betas is not None:
            spec["betas"] = tuple(self.betas)
        if self.schedule is not None:
            spec["schedule"] = dict(self.schedule)
        if self.clip_norm is not None:
            spec["clip_norm"] = self.clip_norm
        return spec


LayerSelection = Union[Literal["all", "first", "last", "hidden"],
                       Annotated[list[Annotated[int, Field(ge=-1000, le=1000)]], Field(max_length=1000)]]


class EarlyStoppingSpec(_Strict):
    """A method's early stopping: the trial ends once ``metric`` (measured on the dataset's
    validation split every epoch) has not improved by more than ``min_delta`` for
    ``patience`` epochs in a row (:class:`proxnet.EarlyStopping`'s rule, without restoring
    weights: the report selects the epoch on validation from the stored epochs)."""
    patience: int = Field(ge=0, le=LIMITS["epochs"])
    metric: Literal["val_accuracy", "val_mse"] = "val_accuracy"
    min_delta: float = Field(0.0, ge=0, le=1e6)


class MethodSpec(_Strict):
    """One row of the grid. ``strengths`` are the λ values of ``regularizer`` (each one grid
    point); without a regularizer, ``dropout`` lists dropout rates (each one grid point);
    with one, ``dropout`` is a single rate held fixed while λ varies (a combined method).
    ``loss``, ``activation`` and ``output_activation`` (MLP only) replace the model's for
    this method; ``early_stopping`` stops its trials on the validation split."""
    name: str = Field(min_length=1)
    regularizer: Literal[REGULARIZER_KINDS] | None = None
    strengths: list[Strength] = Field(default_factory=list, max_length=LIMITS["grid"])
    mode: Literal["penalty", "prox"] = "penalty"
    layers: LayerSelection = "all"
    include_biases: bool = False
    l1_ratio: float = Field(0.5, ge=0, le=1, description="elastic net: share of the L1 part")
    dropout: list[Rate] = Field(default_factory=list, max_length=LIMITS["grid"])
    loss: Literal[LOSS_NAMES] | None = None
    activation: Literal[ACTIVATION_NAMES] | None = None
    output_activation: Literal["identity", "sigmoid", "tanh", "relu", "softmax"] | None = None
    early_stopping: EarlyStoppingSpec | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v):
        return _check_label(v, "a method name")

    @model_validator(mode="after")
    def _consistent(self):
        if self.regularizer is None:
            if self.strengths:
                raise ValueError("strengths: given but no regularizer")
            unused = [f for f, default in (("mode", "penalty"), ("layers", "all"),
                                           ("include_biases", False), ("l1_ratio", 0.5))
                      if getattr(self, f) != default]
            if unused:
                raise ValueError(f"{', '.join(unused)}: only used with a regularizer")
        else:
            if not self.strengths:
                raise ValueError(f"strengths: regularizer {self.regularizer!r} needs strengths = [λ, ...]")
            if len(self.dropout) > 1:
                raise ValueError(f"dropout: with a regularizer, strengths are the method's axis and "
                                 f"dropout is one rate held fixed (e.g. dropout = [0.5]); got "
                                 f"{len(self.dropout)} rates (write one method per rate)")
            if self.regularizer in ("l0", "max_norm") and self.mode != "prox":
                raise ValueError(f"mode: {self.regularizer} exists only as mode = 'prox'")
            if self.regularizer in ("group_lasso", "max_norm") and self.include_biases:
                raise ValueError(f"include_biases: {self.regularizer} groups weights per unit; "
                                 f"include_biases must be false")
            if self.regularizer != "elastic_net" and self.l1_ratio != 0.5:
                raise ValueError("l1_ratio: only used by regularizer 'elastic_net'")
        if isinstance(self.layers, list) and not self.layers:
            raise ValueError("layers: an empty list selects nothing")
        for what, values in (("strengths", self.strengths), ("dropout", self.dropout)):
            seen = set()
            for v in values:
                if v in seen:
                    raise ValueError(f"{what}: {v!r} is listed twice (each value is one grid point)")
                seen.add(v)
        return self

    def grid(self) -> list[float | None]:
        """The strength axis: λ values (also with a fixed dropout rate), dropout rates, or
        [None]."""
        return list(self.strengths or self.dropout or [None])


def _seed_list(v):
    """A seed count n (0 .. n-1) or an explicit list; the count is capped before the list
    is built."""
    if isinstance(v, int) and not isinstance(v, bool):
        if not 1 <= v <= LIMITS["seeds"]:
            raise ValueError(f"a seed count must be in [1, {LIMITS['seeds']}], got {v}")
        return list(range(v))
    return v


class StudyConfig(_Strict):
    """A whole study. ``dataset`` (one table) or ``datasets`` (several, each with a
    ``label``); ``seeds`` is a count (0 .. n−1) or an explicit list."""
    name: str = Field(min_length=1, max_length=LIMITS["name"])
    description: str = Field("", max_length=LIMITS["description"])
    datasets: list[DatasetSpec] = Field(min_length=1, max_length=LIMITS["datasets"])
    model: ModelSpec = Field(default_factory=ModelSpec)
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    methods: list[MethodSpec] = Field(min_length=1, max_length=LIMITS["methods"])
    seeds: list[Seed] = Field(default_factory=lambda: [0, 1, 2], min_length=1, max_length=LIMITS["seeds"])
    timeout: float | None = Field(None, gt=0, le=1e7, description="seconds per trial")
    checkpoint_every: float = Field(60.0, ge=0, le=1e7,
                                    description="seconds between checkpoints of a running trial")
    baseline: str | None = Field(None, description="the method every other is compared with "
                                                   "(default: the first method)")

    @model_validator(mode="before")
    @classmethod
    def _dataset_alias(cls, data):
        if isinstance(data, dict) and "dataset" in data:
            data = dict(data)
            if "datasets" in data:
                raise ValueError("datasets: give [dataset] or [[datasets]], not both")
            data["datasets"] = [data.pop("dataset")]
        return data

    @field_validator("name")
    @classmethod
    def _slug(cls, v):
        if not _SLUG.fullmatch(v) or ".." in v:
            raise ValueError(f"the study name is used as a folder name: letters, digits, '-', '_' "
                             f"and '.' only, starting with a letter or digit, no '..' "
                             f"(got {_short(v)})")
        return v

    @field_validator("seeds", mode="before")
    @classmethod
    def _seed_count(cls, v):
        return _seed_list(v)

    @field_validator("seeds")
    @classmethod
    def _unique(cls, v):
        if len(set(v)) != len(v):
            raise ValueError(f"seeds must be distinct, got {_short(v)}")
        return v

    @model_validator(mode="after")
    def _whole(self):
        if len(self.datasets) > 1:
            labels = [d.label for d in self.datasets]
            if None in labels or len(set(labels)) != len(labels):
                raise ValueError("datasets: with several datasets each needs a distinct label")
        elif self.datasets[0].label is not None:
            pass  # a single dataset's label is shown nowhere; harmless
        names = [m.name for m in self.methods]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"methods: names must be distinct, {', '.join(map(repr, dup))} repeats")
        self._check_methods(names)
        n = self.model.n_weighted()
        for i, m in enumerate(self.methods):
            if isinstance(m.layers, list):
                bad = [j for j in m.layers if not -n <= j < n]
                if bad:
                    raise ValueError(f"methods.{i}.layers: indices {bad} out of range for the "
                                     f"model's {n} weighted layers (valid: {-n} .. {n - 1})")
        points = sum(len(m.grid()) for m in self.methods) * len(self.datasets)
        if points * len(self.seeds) > LIMITS["trials"]:
            raise ValueError(f"seeds: {points} grid points x {len(self.seeds)} seeds = "
                             f"{points * len(self.seeds)} trials, more than {LIMITS['trials']}")
        self._refuse_identical()
        return self

    def _check_methods(self, names):
        """The baseline names a method of one grid point; softmax outputs never meet the
        softmax cross-entropy; early stopping has a validation split to stop on."""
        if self.baseline is not None:
            m = next((m for m in self.methods if m.name == self.baseline), None)
            if m is None:
                raise ValueError(f"baseline: no method {_short(self.baseline)}; expected one of "
                                 f"{', '.join(map(repr, names))}"[:600])
            if len(m.grid()) > 1:
                raise ValueError(f"baseline: method {m.name!r} has {len(m.grid())} grid points; the "
                                 f"baseline must be one (a method with a single strength or rate)")
        for i, m in enumerate(self.methods):
            if m.output_activation is not None and self.model.architecture != "mlp":
                raise ValueError(f"methods.{i}.output_activation: not used by architecture "
                                 f"{self.model.architecture!r} (only by 'mlp')")
            out = m.output_activation or self.model.output_activation
            if out == "softmax" and (m.loss or self.model.loss) == "ce":
                where = "model.loss" if m.loss is None else f"methods.{i}.loss"
                raise ValueError(f"{where}: 'ce' (softmax cross-entropy, on logits) after "
                                 f"output_activation = 'softmax' applies softmax twice; use loss = "
                                 f"'mse' (MSE on the probabilities) or no output activation")
            if m.early_stopping is not None:
                bare = [d.label or d.name for d in self.datasets if not _has_validation(d)]
                if bare:
                    raise ValueError(f"methods.{i}.early_stopping: stops on a validation split, and "
                                     f"dataset {bare[0]!r} has none (give it one: val_size for "
                                     f"mnist, fashion-mnist, digits and file, n_val for the "
                                     f"generated sets; fixed-6 has none)")

    def _refuse_identical(self):
        """Two grid points with the same resolved trial config would be one trial under two
        labels: refuse, naming both."""
        seen: dict[str, str] = {}
        for ds, m, strength in self._points():
            h = config_hash(trial_config(self, ds, m, strength))
            where = _point_name(self, ds, m, strength)
            if h in seen:
                raise ValueError(f"methods: {seen[h]} and {where} are the same trial config "
                                 f"(identical settings would be one trial under two labels); "
                                 f"remove one or make them differ")
            seen[h] = where

    def _points(self):
        for ds in self.datasets:
            for m in self.methods:
                for strength in m.grid():
                    yield ds, m, strength

    # ------------------------------------------------------------------ derived
    def with_overrides(self, *, seeds: int | None = None, epochs: int | None = None,
                       timeout: float | None = None,
                       checkpoint_every: float | None = None) -> StudyConfig:
        """A copy with fewer/more seeds (0 .. n−1), another epoch count, trial timeout or
        checkpoint interval."""
        data = self.model_dump()
        if seeds is not None:
            data["seeds"] = seeds
        if epochs is not None:
            data["training"]["epochs"] = epochs
        if timeout is not None:
            data["timeout"] = timeout
        if checkpoint_every is not None:
            data["checkpoint_every"] = checkpoint_every
        return validate(data, "options")

    def identity(self) -> dict:
        """What must match for trials to share a store: everything but seeds, timeout,
        checkpoint interval, description and baseline (the report's choice)."""
        data = self.model_dump(mode="json")
        for k in ("seeds", "timeout", "description", "checkpoint_every", "baseline"):
            data.pop(k)
        return data

    def trials(self) -> list[TrialSpec]:
        """The grid × seeds, in a stable order (dataset, method, strength, seed)."""
        out = []
        for ds, m, strength in self._points():
            label = m.name if len(self.datasets) == 1 else f"{ds.label}/{m.name}"
            cfg = trial_config(self, ds, m, strength)
            h = config_hash(cfg)
            for seed in self.seeds:
                out.append(TrialSpec(key=f"{h}:{seed}", config_hash=h, method=label,
                                     strength=strength, seed=seed, config=cfg))
        return out


def _has_validation(ds: DatasetSpec) -> bool:
    """Whether the dataset options ask for a validation split (the loaded data tell for sure;
    the preflight checks them too)."""
    o = ds.options
    return o.get("subset") == "validation" or bool(o.get("val_size")) or bool(o.get("n_val"))


def _point_name(study, ds, m, strength) -> str:
    label = repr(m.name) if len(study.datasets) == 1 else repr(f"{ds.label}/{m.name}")
    if strength is None:
        return f"method {label}"
    what = "rate" if m.dropout and m.regularizer is None else "strength"
    return f"method {label} ({what} {strength!r})"


@dataclass(frozen=True)
class TrialSpec:
    """One trial: a grid point and a seed. ``config`` is plain JSON data (without the seed)."""
    key: str
    config_hash: str
    method: str
    strength: float | None
    seed: int
    config: dict

    def payload(self, timeout: float | None = None, **extra) -> dict:
        """What a worker needs (plain data, picklable)."""
        import os
        return {"key": self.key, "seed": self.seed, "config": self.config, "timeout": timeout,
                "data_dir": os.environ.get("PROXNET_DATA"), **extra}


def trial_config(study: StudyConfig, ds: DatasetSpec, m: MethodSpec, strength) -> dict:
    """The full, resolved config of a grid point (the trial seed is added separately)."""
    model = study.model.resolved()
    if m.loss is not None:
        model["loss"] = m.loss
    if m.activation is not None:
        model["activation"] = m.activation
    if m.output_activation is not None:
        model["output_activation"] = m.output_activation
    reg = None
    dropout = 0.0
    if m.regularizer is not None:
        reg = {"kind": m.regularizer, "lam": strength, "mode": m.mode, "layers": m.layers,
               "include_biases": m.include_biases}
        if m.regularizer == "elastic_net":
            reg["l1_ratio"] = m.l1_ratio
        if m.dropout:
            dropout = m.dropout[0]        # fixed; the strength is the regularizer's λ (or c)
    elif m.dropout:
        dropout = strength
    cfg = {"dataset": {"name": ds.name, "options": dict(ds.options)}, "model": model,
           "training": study.training.resolved(), "regularizer": reg, "dropout": dropout}
    if m.early_stopping is not None:      # only when given: stable keys for the other trials
        cfg["early_stopping"] = m.early_stopping.model_dump(mode="json")
    return cfg


def config_hash(cfg: dict) -> str:
    """16 hex digits of the SHA-256 of the canonical JSON of a trial config."""
    text = json.dumps(cfg, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ---------------------------------------------------------------------- loading

def _short(value, limit: int = 60) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = repr(text) if isinstance(value, str) else text
    return text if len(text) <= limit else text[:limit] + f"… ({len(text):,} characters)"


def _key(k) -> str:
    """A dict key as it may appear in a field path (quoted and cut when odd or long)."""
    k = str(k)
    return k if re.fullmatch(r"[A-Za-z0-9_]{1,40}", k) else _short(k, 40)


def _format_errors(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid study config"]
    for err in exc.errors()[:20]:
        parts = err["loc"] if err["type"] == "extra_forbidden" else \
            [p for p in err["loc"] if not (isinstance(p, str) and _TYPE_TAG.search(p))]
        loc = ".".join(_key(p) for p in parts) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling; see docs/studies.md for the allowed fields)"
        elif err["type"] == "literal_error" and "expected" in err.get("ctx", {}):
            msg = f"expected {err['ctx']['expected']}, got {_short(err['input'])}"
        elif err["type"].endswith("_type") or err["type"] in ("finite_number", "int_from_float"):
            msg = f"{msg}, got {_short(err['input'])} ({type(err['input']).__name__})"
        m = _FIELD_PREFIX.match(msg)
        if m:   # "field: why" raised by a model validator: one dotted path
            loc = m.group(1) if loc == "(top level)" else f"{loc}.{m.group(1)}"
            msg = m.group(2)
        line = f"  {loc}: {msg}"
        if line not in lines:
            lines.append(line)
    if len(exc.errors()) > 20:
        lines.append(f"  … and {len(exc.errors()) - 20} more")
    return "\n".join(lines)


def _depth(obj, limit: int) -> int:
    """Nesting depth of plain data, without recursion (stops past ``limit``)."""
    stack, deepest = [(obj, 0)], 0
    while stack:
        item, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, d + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, d + 1) for v in item)
    return deepest


def validate(data, source: str = "config") -> StudyConfig:
    """Validate plain data into a StudyConfig, or raise :class:`ConfigError`."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a study config is a table (dict), got {type(data).__name__}")
    if _depth(data, LIMITS["depth"]) > LIMITS["depth"]:
        raise ConfigError(f"{source}: nested more than {LIMITS['depth']} levels deep")
    try:
        return StudyConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, source)) from None
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply") from None


def parse_toml(text: str, source: str) -> dict:
    """TOML text to plain data, with bounded size and nesting; ConfigError otherwise."""
    if len(text) > LIMITS["config_bytes"]:
        raise ConfigError(f"{source}: larger than {LIMITS['config_bytes']:,} bytes")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None
    except RecursionError:
        raise ConfigError(f"{source}: not valid TOML (nested too deeply)") from None


def load_config(path) -> StudyConfig:
    """Read and validate a TOML study config (at most 1 MiB of UTF-8)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(LIMITS["config_bytes"] + 1)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a config file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(raw) > LIMITS["config_bytes"]:
        raise ConfigError(f"{path}: larger than {LIMITS['config_bytes']:,} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid UTF-8 (byte {exc.start})") from None
    return validate(parse_toml(text, str(path)), str(path))


def _recipe_dir():
    return resources.files("proxnet.studies") / "recipes"


def list_recipes() -> dict[str, str]:
    """{name: one-line description} of the built-in recipes."""
    out = {}
    for entry in sorted(_recipe_dir().iterdir(), key=lambda p: p.name.removesuffix(".toml")):
        if entry.name.endswith(".toml"):
            data = tomllib.loads(entry.read_text(encoding="utf-8"))
            out[entry.name[:-5]] = data.get("description", "").strip().splitlines()[0] if data.get("description") else ""
    return out


def recipe_path(name: str):
    entry = _recipe_dir() / f"{name}.toml"
    if not _SLUG.fullmatch(name) or not entry.is_file():
        raise ConfigError(f"recipe: unknown recipe {_short(name)}; expected one of "
                          f"{', '.join(list_recipes())} or a path to a .toml file")
    return entry


def load_recipe(name: str) -> StudyConfig:
    """A built-in recipe by name (see :func:`list_recipes`)."""
    entry = recipe_path(name)
    return validate(tomllib.loads(entry.read_text(encoding="utf-8")), f"recipe {name}")


def resolve(recipe_or_path: str) -> StudyConfig:
    """A recipe name or the path of a TOML config (what ``proxnet study`` calls)."""
    p = Path(recipe_or_path)
    if p.suffix == ".toml" or p.is_file():
        return load_config(p)
    return load_recipe(recipe_or_path)
