"""Study configs: a TOML file (or a built-in recipe) validated into a :class:`StudyConfig`,
expanded into trials (grid × seeds).

A study compares *methods* on one model and one training recipe. Each method is a row of
the grid: a regularizer kind with a list of strengths (each strength is one grid point), a
dropout rate list, or a change of loss or activation (``mse`` vs ``ce``, ``sigmoid`` vs
``relu``). Every grid point runs once per seed. See ``docs/studies.md`` for the format;
the built-in recipes (:func:`list_recipes`) are complete examples.

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
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Union

from pydantic import (BaseModel, ConfigDict, Field, ValidationError, field_validator,
                      model_validator)

if sys.version_info >= (3, 11):  # pragma: no cover - version dependent
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["StudyConfig", "TrialSpec", "ConfigError", "load_config", "load_recipe",
           "list_recipes", "recipe_path", "config_hash"]

REGULARIZER_KINDS = ("l1", "l2", "elastic_net", "l0", "group_lasso", "max_norm")
LOSS_NAMES = ("ce", "mse")
ACTIVATION_NAMES = ("relu", "leaky_relu", "sigmoid", "tanh", "identity")
OPTIMIZER_NAMES = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")


class ConfigError(ValueError):
    """A study config that does not validate; the message names each bad field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetSpec(_Strict):
    """What :func:`proxnet.data.load_dataset` is called with. The data are the same for
    every seed of a study (generators use ``options.seed``, default 0); the trial seed
    drives initialization, shuffling and dropout."""
    name: str = Field(description="a name from proxnet.data.DATASETS")
    label: str | None = Field(None, description="prefix of the method labels when a study has several datasets")
    options: dict[str, Any] = Field(default_factory=dict, description="keyword options of load_dataset")

    @field_validator("name")
    @classmethod
    def _known(cls, v):
        from ..data import DATASETS
        if v not in DATASETS:
            raise ValueError(f"unknown dataset {v!r}; expected one of {', '.join(sorted(DATASETS))}")
        return v

    @field_validator("options")
    @classmethod
    def _no_dtype(cls, v):
        if "dtype" in v:
            raise ValueError("set the dtype in [model], not in the dataset options")
        return v


class ModelSpec(_Strict):
    """The network: an MLP (``hidden`` sizes, one activation) or LeNet-5."""
    architecture: Literal["mlp", "lenet5"] = "mlp"
    hidden: list[int] = Field(default_factory=lambda: [64], description="MLP hidden layer sizes")
    activation: Literal[ACTIVATION_NAMES] = "relu"
    output_activation: Literal["identity", "sigmoid", "tanh", "relu"] = "identity"
    init: str = "he"
    variant: Literal["classic", "compact"] = "compact"
    pooling: Literal["max", "avg"] = "max"
    loss: Literal[LOSS_NAMES] = "ce"
    dtype: Literal["float32", "float64"] = "float32"

    @field_validator("hidden")
    @classmethod
    def _positive(cls, v):
        if any(h < 1 for h in v):
            raise ValueError(f"hidden sizes must be positive ints, got {v}")
        return v

    @field_validator("init")
    @classmethod
    def _init(cls, v):
        from ..layers import INITIALIZERS
        if v not in INITIALIZERS:
            raise ValueError(f"unknown initializer {v!r}; expected one of {', '.join(sorted(INITIALIZERS))}")
        return v


class TrainingSpec(_Strict):
    """Optimizer, learning rate and schedule, epochs, batch size (0 = full batch)."""
    optimizer: Literal[OPTIMIZER_NAMES] = "sgd"
    lr: float = Field(0.01, gt=0)
    momentum: float = Field(0.0, ge=0, lt=1)
    nesterov: bool = False
    schedule: dict[str, Any] | None = Field(None, description="e.g. {kind='exponential', decay=0.95}")
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(32, ge=0, description="0 means full-batch gradient descent")
    clip_norm: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _optimizer_builds(self):
        from ..optim import get_optimizer
        try:
            get_optimizer(self.optimizer_spec())
        except ValueError as exc:
            raise ValueError(f"optimizer settings: {exc}") from None
        return self

    def optimizer_spec(self) -> dict:
        spec: dict = {"kind": self.optimizer, "lr": self.lr}
        if self.optimizer == "sgd" and (self.momentum or self.nesterov):
            spec.update(momentum=self.momentum, nesterov=self.nesterov)
        elif self.optimizer in ("momentum", "nesterov") and self.momentum:
            spec["momentum"] = self.momentum
        if self.schedule is not None:
            spec["schedule"] = dict(self.schedule)
        if self.clip_norm is not None:
            spec["clip_norm"] = self.clip_norm
        return spec


LayerSelection = Union[Literal["all", "first", "last", "hidden"], list[int]]


class MethodSpec(_Strict):
    """One row of the grid. ``strengths`` are the λ values of ``regularizer``; ``dropout``
    lists dropout rates (each one grid point) when there is no regularizer; ``loss`` and
    ``activation`` replace the model's for this method."""
    name: str = Field(min_length=1)
    regularizer: Literal[REGULARIZER_KINDS] | None = None
    strengths: list[float] = Field(default_factory=list)
    mode: Literal["penalty", "prox"] = "penalty"
    layers: LayerSelection = "all"
    include_biases: bool = False
    l1_ratio: float = Field(0.5, ge=0, le=1, description="elastic net: share of the L1 part")
    dropout: list[float] = Field(default_factory=list)
    loss: Literal[LOSS_NAMES] | None = None
    activation: Literal[ACTIVATION_NAMES] | None = None

    @model_validator(mode="after")
    def _consistent(self):
        if self.regularizer is None and self.strengths:
            raise ValueError("strengths are given but no regularizer")
        if self.regularizer is not None and not self.strengths:
            raise ValueError(f"regularizer {self.regularizer!r} needs strengths = [λ, ...]")
        if any(not (s > 0) for s in self.strengths):
            raise ValueError(f"strengths must be > 0, got {self.strengths}")
        if self.regularizer and self.dropout:
            raise ValueError("give either a regularizer with strengths or dropout rates, not both "
                             "(the strength axis of a method is one of them)")
        if any(not (0 <= r < 1) for r in self.dropout):
            raise ValueError(f"dropout rates must be in [0, 1), got {self.dropout}")
        if self.regularizer in ("l0", "max_norm") and self.mode != "prox":
            raise ValueError(f"{self.regularizer} exists only as mode = 'prox'")
        if self.regularizer in ("group_lasso", "max_norm") and self.include_biases:
            raise ValueError(f"{self.regularizer} groups weights per unit; include_biases must be false")
        if isinstance(self.layers, list) and not self.layers:
            raise ValueError("layers: an empty list selects nothing")
        return self

    def grid(self) -> list[float | None]:
        """The strength axis: λ values, dropout rates, or [None]."""
        return list(self.strengths or self.dropout or [None])


class StudyConfig(_Strict):
    """A whole study. ``dataset`` (one table) or ``datasets`` (several, each with a
    ``label``); ``seeds`` is a count (0 .. n−1) or an explicit list."""
    name: str = Field(min_length=1)
    description: str = ""
    datasets: list[DatasetSpec] = Field(min_length=1)
    model: ModelSpec = Field(default_factory=ModelSpec)
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    methods: list[MethodSpec] = Field(min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2])
    timeout: float | None = Field(None, gt=0, description="seconds per trial")

    @model_validator(mode="before")
    @classmethod
    def _dataset_alias(cls, data):
        if isinstance(data, dict) and "dataset" in data:
            data = dict(data)
            if "datasets" in data:
                raise ValueError("give [dataset] or [[datasets]], not both")
            data["datasets"] = [data.pop("dataset")]
        return data

    @field_validator("seeds", mode="before")
    @classmethod
    def _seed_count(cls, v):
        if isinstance(v, int) and not isinstance(v, bool):
            if v < 1:
                raise ValueError(f"a seed count must be >= 1, got {v}")
            return list(range(v))
        return v

    @field_validator("seeds")
    @classmethod
    def _unique(cls, v):
        if len(set(v)) != len(v) or any(s < 0 for s in v):
            raise ValueError(f"seeds must be distinct ints >= 0, got {v}")
        return v

    @model_validator(mode="after")
    def _labels(self):
        if len(self.datasets) > 1:
            labels = [d.label for d in self.datasets]
            if None in labels or len(set(labels)) != len(labels):
                raise ValueError("datasets: with several datasets each needs a distinct label")
        names = [m.name for m in self.methods]
        if len(set(names)) != len(names):
            raise ValueError(f"methods: names must be distinct, got {names}")
        if self.model.architecture == "lenet5" and any(m.activation for m in self.methods):
            pass  # lenet5 takes the activation too
        return self

    # ------------------------------------------------------------------ derived
    def with_overrides(self, *, seeds: int | None = None, epochs: int | None = None,
                       timeout: float | None = None) -> StudyConfig:
        """A copy with fewer/more seeds (0 .. n−1), another epoch count or trial timeout."""
        data = self.model_dump()
        if seeds is not None:
            data["seeds"] = seeds
        if epochs is not None:
            data["training"]["epochs"] = epochs
        if timeout is not None:
            data["timeout"] = timeout
        return validate(data)

    def identity(self) -> dict:
        """What must match for trials to share a store: everything but seeds and timeout."""
        data = self.model_dump(mode="json")
        data.pop("seeds")
        data.pop("timeout")
        data.pop("description")
        return data

    def trials(self) -> list[TrialSpec]:
        """The grid × seeds, in a stable order (dataset, method, strength, seed)."""
        out = []
        for ds in self.datasets:
            for m in self.methods:
                label = m.name if len(self.datasets) == 1 else f"{ds.label}/{m.name}"
                for strength in m.grid():
                    cfg = trial_config(self, ds, m, strength)
                    h = config_hash(cfg)
                    for seed in self.seeds:
                        out.append(TrialSpec(key=f"{h}:{seed}", config_hash=h, method=label,
                                             strength=strength, seed=seed, config=cfg))
        return out


@dataclass(frozen=True)
class TrialSpec:
    """One trial: a grid point and a seed. ``config`` is plain JSON data (without the seed)."""
    key: str
    config_hash: str
    method: str
    strength: float | None
    seed: int
    config: dict

    def payload(self, timeout: float | None = None) -> dict:
        """What a worker needs (plain data, picklable)."""
        import os
        return {"key": self.key, "seed": self.seed, "config": self.config, "timeout": timeout,
                "data_dir": os.environ.get("PROXNET_DATA")}


def trial_config(study: StudyConfig, ds: DatasetSpec, m: MethodSpec, strength) -> dict:
    """The full, resolved config of a grid point (the trial seed is added separately)."""
    model = study.model.model_dump(mode="json")
    if m.loss is not None:
        model["loss"] = m.loss
    if m.activation is not None:
        model["activation"] = m.activation
    reg = None
    dropout = 0.0
    if m.regularizer is not None:
        reg = {"kind": m.regularizer, "lam": strength, "mode": m.mode, "layers": m.layers,
               "include_biases": m.include_biases}
        if m.regularizer == "elastic_net":
            reg["l1_ratio"] = m.l1_ratio
    elif m.dropout:
        dropout = strength
    return {"dataset": {"name": ds.name, "options": dict(ds.options)}, "model": model,
            "training": study.training.model_dump(mode="json"),
            "regularizer": reg, "dropout": dropout}


def config_hash(cfg: dict) -> str:
    """16 hex digits of the SHA-256 of the canonical JSON of a trial config."""
    text = json.dumps(cfg, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ---------------------------------------------------------------------- loading

def _format_errors(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid study config"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling; see docs/studies.md for the allowed fields)"
        elif err["type"] == "literal_error" and "expected" in err.get("ctx", {}):
            msg = f"expected {err['ctx']['expected']}, got {err['input']!r}"
        lines.append(f"  {loc}: {msg}")
    return "\n".join(lines)


def validate(data: dict, source: str = "config") -> StudyConfig:
    """Validate plain data into a StudyConfig, or raise :class:`ConfigError`."""
    try:
        return StudyConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, source)) from None


def load_config(path) -> StudyConfig:
    """Read and validate a TOML study config."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return validate(data, str(path))


def _recipe_dir():
    return resources.files("proxnet.studies") / "recipes"


def list_recipes() -> dict[str, str]:
    """{name: one-line description} of the built-in recipes."""
    out = {}
    for entry in sorted(_recipe_dir().iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".toml"):
            data = tomllib.loads(entry.read_text(encoding="utf-8"))
            out[entry.name[:-5]] = data.get("description", "").strip().splitlines()[0] if data.get("description") else ""
    return out


def recipe_path(name: str):
    entry = _recipe_dir() / f"{name}.toml"
    if not entry.is_file():
        raise ConfigError(f"recipe: unknown recipe {name!r}; expected one of {', '.join(list_recipes())} "
                          f"or a path to a .toml file")
    return entry


def load_recipe(name: str) -> StudyConfig:
    """A built-in recipe by name (see :func:`list_recipes`)."""
    entry = recipe_path(name)
    return validate(tomllib.loads(entry.read_text(encoding="utf-8")), f"recipe {name}")


def resolve(recipe_or_path: str) -> StudyConfig:
    """A recipe name or the path of a TOML config."""
    p = Path(recipe_or_path)
    if p.suffix == ".toml" or p.is_file():
        return load_config(p)
    return load_recipe(recipe_or_path)
