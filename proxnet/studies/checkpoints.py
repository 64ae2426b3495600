"""Checkpoints of running trials: ``<study_dir>/checkpoints/<hash>-<seed>.json`` and the
model file it names.

A running trial saves, at an epoch boundary and at most every ``checkpoint_every`` seconds,
its model with its whole training state (:func:`proxnet.save`: weights, optimizer slots,
schedule position, random streams) as ``<hash>-<seed>-e<epoch>.npz``, then a small JSON file
(written to a temporary name and renamed) naming that model file together with what the
trial's results need besides the model: every per-epoch series so far, the per-step
gradient norms, and the training time so far. The JSON is written last, so it only ever
names a complete model file; older model files are removed after it. A resumed trial loads
both and continues exactly where the checkpoint was taken (bit for bit); the checkpoint is
removed when the trial is done.
"""
from __future__ import annotations

import contextlib
import json
import warnings
from pathlib import Path

from .. import io as model_io
from .store import atomic_write

__all__ = ["CHECKPOINT_DIR", "save", "load", "remove", "stem", "existing"]

CHECKPOINT_DIR = "checkpoints"
FORMAT = "proxnet-trial-checkpoint"
_MAX_JSON = 256 * 2**20


def stem(key: str) -> str:
    """The file-name stem of a trial key (``hash:seed`` -> ``hash-seed``)."""
    return key.replace(":", "-")


def folder(study_dir) -> Path:
    return Path(study_dir) / CHECKPOINT_DIR


def save(study_dir, key: str, model, epoch: int, state: dict) -> Path:
    """Checkpoint ``model`` after ``epoch`` epochs with ``state`` (plain data); returns the
    JSON file's path."""
    d = folder(study_dir)
    d.mkdir(parents=True, exist_ok=True)
    name = f"{stem(key)}-e{epoch}.npz"
    model_io.save(model, d / name)
    meta = {"format": FORMAT, "version": 1, "key": key, "epoch": epoch, "model": name, **state}
    path = d / f"{stem(key)}.json"
    with atomic_write(path, encoding="utf-8") as f:
        json.dump(meta, f, allow_nan=True)
    for old in d.glob(f"{stem(key)}-e*.npz"):
        if old.name != name:
            with contextlib.suppress(OSError):
                old.unlink()
    return path


def load(study_dir, key: str):
    """``(model, meta)`` of the trial's checkpoint, or None when there is none or it cannot
    be used (then a warning says why, and the trial starts over)."""
    path = folder(study_dir) / f"{stem(key)}.json"
    if not path.is_file():
        return None
    try:
        if path.stat().st_size > _MAX_JSON:
            raise ValueError("checkpoint metadata too large")
        meta = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("key") != key:
            raise ValueError("not a checkpoint of this trial")
        epoch = meta["epoch"]
        name = meta["model"]
        if not isinstance(name, str) or Path(name).name != name or not name.startswith(stem(key)):
            raise ValueError(f"bad model file name {name!r}")
        model = model_io.load(folder(study_dir) / name)
        if model.trainer.epochs_done != epoch:
            raise ValueError(f"model file holds {model.trainer.epochs_done} epochs, expected {epoch}")
        for k in ("series", "grad_norms"):
            if not isinstance(meta.get(k), dict):
                raise ValueError(f"missing {k}")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        warnings.warn(f"trial {key}: checkpoint {path} unusable ({exc}); the trial starts over",
                      RuntimeWarning, stacklevel=2)
        return None
    return model, meta


def remove(study_dir, key: str) -> None:
    """Remove the trial's checkpoint files (if any)."""
    d = folder(study_dir)
    for p in [d / f"{stem(key)}.json", *d.glob(f"{stem(key)}-e*.npz"),
              *d.glob(f".{stem(key)}*.tmp")]:
        with contextlib.suppress(OSError):
            p.unlink()


def existing(study_dir) -> set[str]:
    """Stems of the trials that have a checkpoint."""
    d = folder(study_dir)
    return {p.stem for p in d.glob("*.json")} if d.is_dir() else set()
