"""Initializers as data: ``init(shape, fan_in, fan_out, rng, dtype) -> ndarray``.

A *spec* names an initializer. It is plain data, so configs, study files and model files
can hold it:

- a name from :data:`INITIALIZERS` (case-insensitive), or ``{"kind": name}``;
- a table with parameters::

      {"kind": "normal", "std": 0.1}                 N(mean, std²), mean 0 unless given
      {"kind": "uniform", "low": -0.1, "high": 0.2}  U(low, high)
      {"kind": "uniform", "limit": 0.05}             U(−limit, limit) (the older form)
      {"kind": "constant", "value": 0.1}             every entry = value

=====================================  =====================================================
name                                   distribution (fan_in, fan_out of the layer)
=====================================  =====================================================
``he`` (``kaiming``)                   N(0, 2/fan_in)
``he_uniform``                         U(±√(6/fan_in))
``xavier`` (``glorot``)                N(0, 2/(fan_in + fan_out))
``xavier_uniform`` (``glorot_uniform``) U(±√(6/(fan_in + fan_out)))
``lecun``                              N(0, 1/fan_in)
``torch``                              U(±1/√fan_in): PyTorch's ``nn.Linear`` / ``nn.Conv2d``
                                       default, for weights (kaiming_uniform, a = √5) and
                                       biases alike
``normal``, ``uniform``                N(0, 0.01²), U(±0.05) (the tables' defaults)
``zeros``                              0 (the default for biases)
=====================================  =====================================================

Dense has fan_in = D, fan_out = M; Conv2D fan_in = C·kh·kw, fan_out = F·kh·kw. A bias
initializer gets the same fans as its layer's weights (so ``"torch"`` gives a bias
U(±1/√fan_in), as PyTorch). :func:`init_parameters` fixes the draw order: the weights
first, then the bias, from the same generator; the default bias ``"zeros"`` draws nothing,
so a layer's weights do not depend on its bias initializer.

:func:`check_init` validates a spec without building a layer (study configs use it).

>>> check_init({"kind": "normal", "std": 0.1})
{'kind': 'normal', 'std': 0.1}
>>> check_init({"kind": "normal", "std": "0.1"}, "bias_init")
Traceback (most recent call last):
...
ValueError: bias_init.std: expected a finite number, got '0.1' (str)
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..registry import Registry
from ..validation import check_real

INITIALIZERS = Registry("initializer")
"""Parameter-free initializers by name: ``init(shape, fan_in, fan_out, rng, dtype)``."""


def _normal(std, mean=0.0):
    def init(shape, fan_in, fan_out, rng, dtype):
        w = rng.standard_normal(shape) * std
        if mean:
            w += mean
        return w.astype(dtype)
    return init


def _uniform(low, high):
    def init(shape, fan_in, fan_out, rng, dtype):
        return rng.uniform(low, high, size=shape).astype(dtype)
    return init


def _symmetric(limit):
    return _uniform(-limit, limit)


def _constant(value):
    def init(shape, fan_in, fan_out, rng, dtype):
        return np.full(shape, value, dtype=dtype)
    return init


INITIALIZERS.register("he", lambda s, fi, fo, r, d: _normal(np.sqrt(2.0 / fi))(s, fi, fo, r, d))
INITIALIZERS.register("he_uniform", lambda s, fi, fo, r, d: _symmetric(np.sqrt(6.0 / fi))(s, fi, fo, r, d))
INITIALIZERS.register("xavier", lambda s, fi, fo, r, d: _normal(np.sqrt(2.0 / (fi + fo)))(s, fi, fo, r, d))
INITIALIZERS.register("xavier_uniform",
                      lambda s, fi, fo, r, d: _symmetric(np.sqrt(6.0 / (fi + fo)))(s, fi, fo, r, d))
INITIALIZERS.register("lecun", lambda s, fi, fo, r, d: _normal(np.sqrt(1.0 / fi))(s, fi, fo, r, d))
INITIALIZERS.register("torch", lambda s, fi, fo, r, d: _symmetric(1.0 / np.sqrt(fi))(s, fi, fo, r, d))
INITIALIZERS.register("zeros", lambda s, fi, fo, r, d: np.zeros(s, dtype=d))
INITIALIZERS["kaiming"] = INITIALIZERS["he"]
INITIALIZERS["glorot"] = INITIALIZERS["xavier"]
INITIALIZERS["glorot_uniform"] = INITIALIZERS["xavier_uniform"]
INITIALIZERS["normal"] = _normal(0.01)
INITIALIZERS["uniform"] = _symmetric(0.05)

_TABLE_KEYS = {"normal": ("std", "mean"), "uniform": ("low", "high", "limit"), "constant": ("value",)}
"""The kinds that take parameters, and their keys (besides ``kind``)."""


def _kinds() -> str:
    return ", ".join(sorted(set(INITIALIZERS) | set(_TABLE_KEYS)))


def _check_table_values(kind: str, params: dict, name: str) -> None:
    """The ranges of a parametric kind's values (already finite floats)."""
    if kind == "normal" and "std" in params and not params["std"] > 0:
        raise ValueError(f"{name}.std: expected a number > 0, got {params['std']!r}")
    if kind != "uniform":
        if kind == "constant" and "value" not in params:
            raise ValueError(f"{name}: kind 'constant' needs the key 'value', e.g. "
                             f"{{'kind': 'constant', 'value': 0.1}}")
        return
    if "limit" in params and ({"low", "high"} & set(params)):
        raise ValueError(f"{name}: kind 'uniform' takes either 'limit' or 'low' and 'high', not both")
    if "limit" in params and not params["limit"] > 0:
        raise ValueError(f"{name}.limit: expected a number > 0, got {params['limit']!r}")
    if len({"low", "high"} & set(params)) == 1:
        raise ValueError(f"{name}: kind 'uniform' needs both 'low' and 'high', got {sorted(params)}")
    if "low" in params and not params["low"] < params["high"]:
        raise ValueError(f"{name}: kind 'uniform' needs low < high, got low={params['low']!r}, "
                         f"high={params['high']!r}")


def _check_table(spec: Mapping, name: str) -> dict:
    kind = spec.get("kind")
    if kind is None:
        raise ValueError(f"{name}: a table needs a 'kind' key (one of {_kinds()}), got {dict(spec)!r}")
    if not isinstance(kind, str):
        raise ValueError(f"{name}.kind: expected a name (str), got {kind!r} ({type(kind).__name__})")
    kind = kind.lower()
    if kind not in _TABLE_KEYS and kind not in INITIALIZERS:
        raise ValueError(f"{name}.kind: unknown initializer {spec['kind']!r}; valid kinds: {_kinds()}")
    allowed = _TABLE_KEYS.get(kind, ())
    extra = sorted(str(k) for k in spec if k != "kind" and k not in allowed)
    if extra:
        keys = ", ".join(("kind",) + allowed)
        raise ValueError(f"{name}: unexpected key(s) {', '.join(map(repr, extra))} for kind {kind!r}; "
                         f"allowed keys: {keys}")
    params = {k: check_real(spec[k], f"{name}.{k}") for k in allowed if k in spec}
    _check_table_values(kind, params, name)
    return {"kind": kind, **params}


def check_init(spec, name: str = "init"):
    """Validate the initializer spec ``spec`` and return it as plain data.

    A name comes back in lower case; a table as a new dict with its kind in lower case and
    its numbers as floats. ``name`` (the argument or config key, e.g. ``"bias_init"`` or
    ``"model.init"``) starts every error message: a ``ValueError`` naming the key and
    listing the valid kinds or keys. Numbers must be real (no strings, no booleans) and
    finite; ``std`` and ``limit`` > 0; ``low`` < ``high``.
    """
    if isinstance(spec, str):
        key = spec.lower()
        if key in _TABLE_KEYS and key not in INITIALIZERS:
            return _check_table({"kind": key}, name)   # raises: the kind needs parameters
        if key not in INITIALIZERS:
            raise ValueError(f"{name}: unknown initializer {spec!r}; valid names: "
                             f"{', '.join(sorted(INITIALIZERS))} (or a table with kind "
                             f"{', '.join(map(repr, sorted(_TABLE_KEYS)))})")
        return key
    if isinstance(spec, Mapping):
        return _check_table(spec, name)
    raise ValueError(f"{name}: expected an initializer name (str) or a table with a 'kind' key, "
                     f"got {spec!r} ({type(spec).__name__})")


def _resolve(spec):
    """The init function of a spec already checked by :func:`check_init`."""
    if isinstance(spec, str):
        return INITIALIZERS[spec]
    kind = spec["kind"]
    if kind == "normal":
        return _normal(spec.get("std", 0.01), spec.get("mean", 0.0))
    if kind == "uniform":
        if "low" in spec:
            return _uniform(spec["low"], spec["high"])
        return _symmetric(spec.get("limit", 0.05))
    if kind == "constant":
        return _constant(spec["value"])
    return INITIALIZERS[kind]


def initialize(spec, shape, fan_in, fan_out, rng, dtype, *, name: str = "init") -> np.ndarray:
    """Return a new array of ``shape`` drawn from ``rng`` by initializer ``spec``."""
    return _resolve(check_init(spec, name))(shape, fan_in, fan_out, rng, dtype)


def init_parameters(init, bias_init, w_shape, b_shape, fan_in, fan_out, rng, dtype):
    """The weight and bias of a layer: ``(W, b)``, ``b`` None when ``bias_init`` is None.

    Draw order: ``W`` first, then ``b``, from the same generator ``rng``. The bias gets the
    layer's fans. ``"zeros"`` (the default bias) draws nothing from ``rng``.
    """
    W = initialize(init, w_shape, fan_in, fan_out, rng, dtype)
    b = None if bias_init is None else initialize(bias_init, b_shape, fan_in, fan_out, rng, dtype,
                                                 name="bias_init")
    return W, b
