"""Weight initializers: ``init(shape, fan_in, fan_out, rng, dtype) -> ndarray``.

Names in :data:`INITIALIZERS`: ``"he"`` (Kaiming normal, std √(2/fan_in)),
``"he_uniform"``, ``"xavier"`` (Glorot normal, std √(2/(fan_in+fan_out))),
``"xavier_uniform"``, ``"lecun"`` (std √(1/fan_in)), ``"normal"`` (given ``std``, classic
course code uses 0.1 and 0.01), ``"uniform"`` (in ±``limit``), ``"zeros"``.
A spec is a name or a dict ``{"kind": "normal", "std": 0.01}``.
"""
from __future__ import annotations

import numpy as np

from ..registry import Registry

INITIALIZERS = Registry("initializer")


def _normal(std):
    def init(shape, fan_in, fan_out, rng, dtype):
        return (rng.standard_normal(shape) * std).astype(dtype)
    return init


def _uniform(limit):
    def init(shape, fan_in, fan_out, rng, dtype):
        return rng.uniform(-limit, limit, size=shape).astype(dtype)
    return init


INITIALIZERS.register("he", lambda s, fi, fo, r, d: _normal(np.sqrt(2.0 / fi))(s, fi, fo, r, d))
INITIALIZERS.register("he_uniform", lambda s, fi, fo, r, d: _uniform(np.sqrt(6.0 / fi))(s, fi, fo, r, d))
INITIALIZERS.register("xavier", lambda s, fi, fo, r, d: _normal(np.sqrt(2.0 / (fi + fo)))(s, fi, fo, r, d))
INITIALIZERS.register("xavier_uniform",
                      lambda s, fi, fo, r, d: _uniform(np.sqrt(6.0 / (fi + fo)))(s, fi, fo, r, d))
INITIALIZERS.register("lecun", lambda s, fi, fo, r, d: _normal(np.sqrt(1.0 / fi))(s, fi, fo, r, d))
INITIALIZERS.register("zeros", lambda s, fi, fo, r, d: np.zeros(s, dtype=d))
INITIALIZERS["kaiming"] = INITIALIZERS["he"]
INITIALIZERS["glorot"] = INITIALIZERS["xavier"]
INITIALIZERS["glorot_uniform"] = INITIALIZERS["xavier_uniform"]


def initialize(spec, shape, fan_in, fan_out, rng, dtype) -> np.ndarray:
    """Return a new array of ``shape`` from initializer ``spec`` (name or dict)."""
    if isinstance(spec, dict):
        spec = dict(spec)
        kind = spec.pop("kind", None)
        if kind == "normal":
            std = float(spec.pop("std", 0.01))
            if not std > 0:
                raise ValueError(f"init std: expected > 0, got {std}")
            fn = _normal(std)
        elif kind == "uniform":
            limit = float(spec.pop("limit", 0.05))
            if not limit > 0:
                raise ValueError(f"init limit: expected > 0, got {limit}")
            fn = _uniform(limit)
        elif kind is None:
            raise ValueError(f"init: dict needs a 'kind' key, got {spec!r}")
        else:
            fn = INITIALIZERS.get_item(kind)
        if spec:
            raise ValueError(f"init {kind!r}: unexpected keys {sorted(spec)}")
        return fn(shape, fan_in, fan_out, rng, dtype)
    if spec in ("normal", "uniform"):
        return initialize({"kind": spec}, shape, fan_in, fan_out, rng, dtype)
    return INITIALIZERS.get_item(spec)(shape, fan_in, fan_out, rng, dtype)


INITIALIZERS["normal"] = _normal(0.01)
INITIALIZERS["uniform"] = _uniform(0.05)
