"""Saving and loading models: ``.npz`` arrays plus JSON metadata, never pickle.

File layout (a plain NumPy ``.npz`` zip):

- ``__meta__``: a uint8 array holding UTF-8 JSON: ``format`` ("proxnet-model"),
  ``format_version``, ``proxnet_version``, the model config (loss, dtype, default weight
  regularizer, optimizer config), one entry per layer (class name, constructor config,
  regularizers by parameter) and a SHA-256 digest of every parameter array;
- ``param/<layer>.<name>``: one array per parameter.

Loading uses ``allow_pickle=False`` and only builds classes found in the registries, so
reading a file never runs code. A truncated, malformed or tampered file raises
:class:`ModelFileError` saying what is wrong.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

FORMAT = "proxnet-model"
FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A model file that cannot be loaded (truncated, malformed, tampered or unsupported)."""


def _digest(arr: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(str(arr.dtype).encode() + str(arr.shape).encode())
    h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def save_model(model, path) -> Path:
    """Write ``model`` to ``path`` atomically (a temp file renamed into place)."""
    from . import __version__
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(path.suffix + ".npz") if path.suffix else path.with_suffix(".npz")
    arrays = {f"param/{name}": np.ascontiguousarray(v) for name, v in model.named_parameters()}
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "proxnet_version": __version__,
        "model": model.get_config(),
        "layers": [{"class": type(layer).__name__, "config": layer.get_config(),
                    "regularizers": {k: r.to_dict() for k, r in layer.regularizers.items() if r is not None}}
                   for layer in model.layers],
        "digests": {k: _digest(v) for k, v in arrays.items()},
    }
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _read(path):
    try:
        with np.load(path, allow_pickle=False) as data:
            names = list(data.files)
            if "__meta__" not in names:
                raise ModelFileError(f"{path}: not a proxnet model file (no __meta__ entry)")
            arrays = {k: data[k] for k in names}
    except ModelFileError:
        raise
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
        raise ModelFileError(f"{path}: unreadable or truncated model file ({type(exc).__name__}: {exc})") from None
    try:
        meta = json.loads(arrays.pop("__meta__").tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
        raise ModelFileError(f"{path}: metadata is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a proxnet model file (format={meta.get('format') if isinstance(meta, dict) else None!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{path}: unsupported format_version {meta.get('format_version')!r} "
                             f"(this proxnet reads version {FORMAT_VERSION})")
    return meta, arrays


def load_model(path):
    """Load a model saved by :meth:`Sequential.save`. Raises :class:`ModelFileError`."""
    from .layers import LAYERS
    from .model import Sequential
    from .optim import get_optimizer
    meta, arrays = _read(path)
    try:
        digests = meta["digests"]
        if set(digests) != set(arrays):
            raise ModelFileError(f"{path}: parameter entries {sorted(arrays)} do not match the metadata {sorted(digests)}")
        for k, v in arrays.items():
            if _digest(v) != digests[k]:
                raise ModelFileError(f"{path}: parameter {k!r} fails its SHA-256 check (file altered or corrupt)")
        layers = []
        for i, spec in enumerate(meta["layers"]):
            cls = LAYERS.get_item(spec["class"])
            config = spec.get("config", {})
            if not isinstance(config, dict):
                raise ModelFileError(f"{path}: layer {i} config must be an object")
            layer = cls(**config)
            for key, reg in spec.get("regularizers", {}).items():
                layer.set_regularizer(key, reg)
            layers.append(layer)
        cfg = meta["model"]
        model = Sequential(layers, loss=cfg["loss"], weight_regularizer=cfg.get("weight_regularizer"),
                           optimizer=get_optimizer(cfg["optimizer"]), dtype=cfg["dtype"])
        values = {}
        for name, current in model.named_parameters():
            key = f"param/{name}"
            if key not in arrays:
                raise ModelFileError(f"{path}: missing parameter {name!r}")
            if arrays[key].shape != current.shape:
                raise ModelFileError(f"{path}: parameter {name!r} has shape {arrays[key].shape}, "
                                     f"the architecture needs {current.shape}")
            values[name] = arrays[key]
        if len(values) != len(arrays):
            raise ModelFileError(f"{path}: file has parameters the architecture does not use")
        model.set_parameters(values)
        return model
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: malformed model metadata ({type(exc).__name__}: {exc})") from None
