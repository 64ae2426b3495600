"""Model files and checkpoints: ``.npz`` arrays plus JSON metadata, never pickle.

``save(model, path)`` writes everything needed to continue training exactly where it
stopped: the weights, every optimizer slot (moments, velocities, step counts), the schedule's
position (epochs done), and the state of every random stream of the model's trainer
(shuffling, dropout masks). ``load(path).fit(X, y, epochs=k)`` then trains exactly as the saved
model would have in memory, bit for bit.

File layout (a plain NumPy ``.npz`` zip, entries stored uncompressed):

- ``__meta__``: a uint8 array holding UTF-8 JSON: ``format`` ("proxnet-model"),
  ``format_version`` (2), ``proxnet_version``, the model config (loss, dtype, default weight
  regularizer, optimizer config), one entry per layer (class name, constructor config,
  regularizers by parameter), ``arrays`` (shape, dtype and SHA-256 of every array entry) and
  ``training`` (epochs done, the optimizer's step count, epoch, learning rate and integer
  slots, the random streams' bit-generator states);
- ``param/<layer>.<name>``: one array per parameter;
- ``optim/<layer>.<name>/<slot>``: one array per optimizer slot (e.g. Adam's ``m``, ``v``).

Loading is bounded: the archive's directory, every entry's ``.npy`` header and the metadata
are checked against each other and against each layer's configuration (the shapes it implies)
before any array is read, the total is capped by ``max_bytes``, layers are built from the
file's arrays (never randomly initialized first), and only classes found in the registries
are built, with ``allow_pickle`` never used, so reading a file never runs code. Any failure
raises :class:`ModelFileError` naming the file and what is wrong. Files of format version 1
(proxnet 0.1) load with their weights only, with a warning that the training state is absent.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np

from ._version import __version__
from .layers import LAYERS
from .model import Sequential
from .optim import get_optimizer
from .training.callbacks import Callback, _mode, _monitored

__all__ = ["save", "load", "ModelFileError", "TrainingStateWarning", "ModelCheckpoint",
           "FORMAT", "FORMAT_VERSION", "MAX_BYTES"]

FORMAT = "proxnet-model"
FORMAT_VERSION = 2
MAX_BYTES = 4 * 2**30
"""Default cap on the bytes a model file may expand to (4 GiB): ``load(max_bytes=...)``."""
_MAX_META_BYTES = 16 * 2**20
_MAX_ENTRIES = 100_000
_CHUNK = 2**24
_DTYPES = ("<f4", "<f8")


class ModelFileError(ValueError):
    """A model file that cannot be loaded (truncated, malformed, tampered, too large or of an
    unsupported version); the message names the file and what is wrong."""


class TrainingStateWarning(UserWarning):
    """A model file (format version 1) holds weights only: training restarts its optimizer
    state, schedule and random streams."""


def _hasher(dtype, shape):
    """SHA-256 of an array's dtype and shape, to be fed its C-order bytes."""
    h = hashlib.sha256()
    h.update(str(np.dtype(dtype)).encode() + str(tuple(shape)).encode())
    return h


def _digest(arr: np.ndarray) -> str:
    h = _hasher(arr.dtype, arr.shape)
    h.update(memoryview(np.ascontiguousarray(arr)).cast("B"))     # no copy of the data
    return h.hexdigest()


# ------------------------------------------------------------------------- writing

def _training_state(model) -> tuple[dict, dict]:
    """(arrays, metadata) of the optimizer state and the trainer's streams."""
    opt = model.optimizer
    arrays, scalars = {}, {}
    for name, slots in opt.state.items():
        for key, value in slots.items():
            if isinstance(value, np.ndarray):
                arrays[f"optim/{name}/{key}"] = np.ascontiguousarray(value)
            else:
                scalars[f"{name}/{key}"] = int(value)
    meta = {"epochs_done": model.trainer.epochs_done,
            "optimizer": {"step_count": opt.step_count, "epoch": opt.epoch, "lr": opt.lr,
                          "scalars": scalars},
            "streams": model.trainer.streams_state()}
    return arrays, meta


def save(model, path) -> Path:
    """Write ``model`` and its training state to ``path`` (``.npz`` added if missing),
    atomically: a temporary file in the same folder, flushed to disk, then renamed into
    place, so a crash never leaves a half-written checkpoint. Returns the path written."""
    if not isinstance(model, Sequential):
        raise ValueError(f"model: expected a proxnet Sequential, got {type(model).__name__}")
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    arrays = {f"param/{name}": np.ascontiguousarray(v) for name, v in model.named_parameters()}
    state_arrays, training = _training_state(model)
    arrays.update(state_arrays)
    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "proxnet_version": __version__,
        "model": model.get_config(),
        "layers": [{"class": type(layer).__name__, "config": layer.get_config(),
                    "regularizers": {k: r.to_dict() for k, r in layer.regularizers.items() if r is not None}}
                   for layer in model.layers],
        "arrays": {k: {"shape": list(v.shape), "dtype": v.dtype.str, "sha256": _digest(v)}
                   for k, v in arrays.items()},
        "training": training,
    }
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


# ------------------------------------------------------------------------- reading

class _Archive:
    """The entries of a model file, checked before their data is read."""

    def __init__(self, path: Path, max_bytes: int):
        self.path, self.max_bytes = path, max_bytes
        try:
            self.zip = zipfile.ZipFile(path)
        except zipfile.BadZipFile:
            self.fail("unreadable or truncated: not a zip archive (a proxnet model file is an "
                      ".npz; a renamed .npy or a cut-off download is not)")
        except (OSError, EOFError, ValueError) as exc:
            self.fail(f"unreadable file ({type(exc).__name__}: {exc})")
        infos = self.zip.infolist()
        if len(infos) > _MAX_ENTRIES:
            self.fail(f"{len(infos)} entries (at most {_MAX_ENTRIES})")
        self.infos = {}
        for info in infos:
            if not info.filename.endswith(".npy") or info.filename in self.infos:
                self.fail(f"unexpected or repeated entry {info.filename!r}")
            self.infos[info.filename[:-4]] = info
        total = sum(info.file_size for info in infos)
        if total > max_bytes:
            self.fail(f"its entries expand to {total:,} bytes, more than max_bytes={max_bytes:,}")
        self.headers: dict = {}
        self.digests: dict = {}

    def fail(self, why: str):
        raise ModelFileError(f"{self.path}: {why}")

    def header(self, name: str, dtypes=_DTYPES):
        """(shape, dtype, header length) of entry ``name``, from its .npy header, checked
        against the entry's size in the zip directory."""
        if name in self.headers:
            return self.headers[name]
        info = self.infos.get(name)
        if info is None:
            self.fail(f"missing entry {name!r}")
        with self.zip.open(info) as f:
            try:
                major, _ = np.lib.format.read_magic(f)
                read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
                shape, fortran, dtype = read(f)
            except (ValueError, EOFError, OSError, zipfile.BadZipFile, SyntaxError) as exc:
                self.fail(f"entry {name!r} is not a valid .npy array ({exc})")
            offset = f.tell()
        if dtype.hasobject or dtype.str not in dtypes:
            kind = "complex " if dtype.kind == "c" else ""
            self.fail(f"entry {name!r} has {kind}dtype {dtype}; expected one of {', '.join(dtypes)}")
        if fortran:
            self.fail(f"entry {name!r} is Fortran-ordered (proxnet writes C order)")
        nbytes = math.prod(shape) * dtype.itemsize
        if info.file_size != offset + nbytes:
            self.fail(f"entry {name!r}: its header declares {shape} {dtype} ({nbytes:,} bytes) but "
                      f"the archive holds {info.file_size - offset:,} bytes of data")
        self.headers[name] = (tuple(shape), dtype, offset)
        return self.headers[name]

    def array(self, name: str, dtypes=_DTYPES) -> np.ndarray:
        """The data of entry ``name``, read in chunks into one new array."""
        shape, dtype, offset = self.header(name, dtypes)
        nbytes = math.prod(shape) * dtype.itemsize
        h = _hasher(dtype, shape)       # hashed as it is read: no second pass, no copy
        try:
            buf = np.empty(nbytes, np.uint8)
            view, pos = memoryview(buf), 0
            with self.zip.open(self.infos[name]) as f:
                f.read(offset)
                while pos < nbytes:
                    chunk = f.read(min(_CHUNK, nbytes - pos))
                    if not chunk:
                        break
                    view[pos:pos + len(chunk)] = chunk
                    h.update(chunk)
                    pos += len(chunk)
                trailing = f.read(1)
        except MemoryError:
            self.fail(f"not enough memory to read entry {name!r} ({nbytes:,} bytes)")
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            self.fail(f"entry {name!r} is corrupt or truncated ({type(exc).__name__}: {exc})")
        if pos != nbytes or trailing:
            self.fail(f"entry {name!r} holds {pos:,}{'+' if trailing else ''} bytes, expected {nbytes:,}")
        arr = buf.view(dtype).reshape(shape)
        if name in self.digests and h.hexdigest() != self.digests[name]:
            self.fail(f"entry {name!r} fails its SHA-256 check (file altered or corrupt)")
        return arr

    def declare(self, meta: dict) -> None:
        """Check the metadata's list of arrays against the entries (and, in format 2, each
        declared shape and dtype against the entry's header); keep the digests."""
        if meta["format_version"] == 1:
            digests = meta.get("digests")
            _expect(isinstance(digests, dict) and all(isinstance(v, str) for v in digests.values()),
                    self, "'digests' must map entries to SHA-256 strings")
        else:
            declared = meta.get("arrays")
            _expect(isinstance(declared, dict), self, "'arrays' must be an object")
            digests = {}
            for name, spec in declared.items():
                _expect(isinstance(spec, dict) and isinstance(spec.get("sha256"), str), self,
                        f"arrays[{name!r}] must hold shape, dtype and sha256")
                shape, dtype, _ = self.header(name)
                if list(shape) != spec.get("shape") or dtype.str != spec.get("dtype"):
                    self.fail(f"entry {name!r} is {shape} {dtype}, the metadata declares "
                              f"{spec.get('shape')} {spec.get('dtype')}")
                digests[name] = spec["sha256"]
        entries = {k for k in self.infos if k != "__meta__"}
        if set(digests) != entries:
            self.fail(f"the archive's entries do not match the metadata: not declared "
                      f"{sorted(entries - set(digests))[:5]}, missing {sorted(set(digests) - entries)[:5]}")
        self.digests = digests

    def meta(self) -> dict:
        if "__meta__" not in self.infos:
            self.fail("not a proxnet model file (no __meta__ entry)")
        shape, _, _ = self.header("__meta__", ("|u1",))
        if len(shape) != 1 or shape[0] > _MAX_META_BYTES:
            self.fail(f"metadata of shape {shape} (at most {_MAX_META_BYTES:,} bytes of JSON)")
        try:
            meta = json.loads(self.array("__meta__", ("|u1",)).tobytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            self.fail(f"metadata is not valid JSON ({type(exc).__name__}: {str(exc)[:200]})")
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            got = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
            self.fail(f"not a proxnet model file (format={got!r})")
        version = meta.get("format_version")
        if type(version) is not int or version not in (1, FORMAT_VERSION):
            self.fail(f"unsupported format_version {version!r} (this proxnet reads versions 1 "
                      f"and {FORMAT_VERSION}, as integers)")
        return meta


def _expect(cond, archive: _Archive, what: str):
    if not cond:
        archive.fail(f"malformed metadata: {what}")


def _layers(archive: _Archive, meta: dict) -> list:
    """The layers, built from their configs and the file's parameter arrays (shapes are
    checked against each config before any data is read)."""
    specs = meta.get("layers")
    _expect(isinstance(specs, list) and specs, archive, "'layers' must be a non-empty list")
    plans = []
    for i, spec in enumerate(specs):
        _expect(isinstance(spec, dict) and isinstance(spec.get("class"), str)
                and isinstance(spec.get("config", {}), dict)
                and isinstance(spec.get("regularizers", {}), dict), archive,
                f"layer {i} must be {{'class': str, 'config': {{...}}, 'regularizers': {{...}}}}")
        try:
            cls = LAYERS.get_item(spec["class"])
        except ValueError as exc:
            archive.fail(f"layer {i}: {exc}")
        keys = [k[len(f"param/{i}."):] for k in archive.infos if k.startswith(f"param/{i}.")]
        shapes = {k: archive.header(f"param/{i}.{k}")[0] for k in keys}
        plans.append((i, cls, spec, shapes))
    built = []
    for i, cls, spec, shapes in plans:   # every shape checked, then the data read
        try:
            placeholder = {k: np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), s, [0] * len(s))
                           for k, s in shapes.items()}
            cls.from_arrays(spec.get("config", {}), placeholder)
        except (TypeError, ValueError) as exc:
            archive.fail(f"layer {i} ({spec['class']}): {exc}")
    for i, cls, spec, shapes in plans:
        params = {k: archive.array(f"param/{i}.{k}") for k in shapes}
        try:
            layer = cls.from_arrays(spec.get("config", {}), params)
            for key, reg in spec.get("regularizers", {}).items():
                layer.set_regularizer(key, reg)
        except (TypeError, ValueError) as exc:
            archive.fail(f"layer {i} ({spec['class']}): {exc}")
        built.append(layer)
    return built


def _model(archive: _Archive, meta: dict) -> Sequential:
    cfg = meta.get("model")
    _expect(isinstance(cfg, dict) and isinstance(cfg.get("optimizer"), dict), archive,
            "'model' must hold the loss, dtype, weight_regularizer and optimizer")
    layers = _layers(archive, meta)
    names = {f"param/{i}.{k}" for i, layer in enumerate(layers) for k in layer.params}
    unused = [k for k in archive.infos if k.startswith("param/") and k not in names]
    if unused:
        archive.fail(f"entries {sorted(unused)[:5]} match no parameter of the architecture")
    try:
        return Sequential(layers, loss=cfg.get("loss"), weight_regularizer=cfg.get("weight_regularizer"),
                          optimizer=get_optimizer(cfg["optimizer"]), dtype=cfg.get("dtype"))
    except (TypeError, ValueError) as exc:
        archive.fail(f"model config: {exc}")


def _restore_training(archive: _Archive, meta: dict, model: Sequential) -> None:
    tr = meta.get("training")
    _expect(isinstance(tr, dict) and isinstance(tr.get("optimizer"), dict), archive,
            "'training' must hold epochs_done, optimizer and streams")
    opt_meta = tr["optimizer"]
    params = dict(model.named_parameters())
    state = {"rule": model.optimizer.rule.name, "step_count": opt_meta.get("step_count"),
             "epoch": opt_meta.get("epoch"), "lr": opt_meta.get("lr")}
    for entry in (k for k in archive.infos if k.startswith("optim/")):
        name = entry[len("optim/"):].rsplit("/", 1)[0]
        if name not in params or archive.header(entry)[0] != params[name].shape:
            archive.fail(f"optimizer slot {entry!r} matches no parameter of its shape")
        state[f"state/{entry[len('optim/'):]}"] = archive.array(entry)
    scalars = opt_meta.get("scalars", {})
    _expect(isinstance(scalars, dict) and all(type(v) is int and v >= 0 for v in scalars.values()),
            archive, "optimizer scalars must be integers >= 0")
    state.update({f"state/{k}": v for k, v in scalars.items()})
    _check_slots(archive, model.optimizer, state, params)
    epochs = tr.get("epochs_done")
    _expect(type(epochs) is int and epochs >= 0, archive, "epochs_done must be an integer >= 0")
    _expect(all(type(state[k]) is int for k in ("step_count", "epoch")), archive,
            "optimizer step_count and epoch must be integers")
    try:
        model.optimizer.load_state_dict(state)
        model.trainer.epochs_done = epochs
        if tr.get("streams") is not None:
            model.trainer.set_streams_state(tr["streams"])
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        archive.fail(f"training state: {type(exc).__name__}: {exc}")


def _check_slots(archive: _Archive, optimizer, state: dict, params: dict) -> None:
    """Every parameter with optimizer state has exactly the slots its rule keeps after a
    step (e.g. Adam's m, v and t), so a crafted file cannot fail later inside a step."""
    names: dict = {}
    for key in state:
        if key.startswith("state/"):
            name, slot = key[len("state/"):].rsplit("/", 1)
            names.setdefault(name, set()).add(slot)
    rule, w = optimizer.rule, np.zeros(1)
    hp = {"lr": optimizer.base_lr, **optimizer.hyperparams}
    expected = set(rule.step(w, w, rule.init(w), hp)[1])
    for name, slots in names.items():
        if name not in params or slots != expected:
            archive.fail(f"optimizer state of {name!r} has slots {sorted(slots)}; "
                         f"{rule.name} keeps {sorted(expected)} per parameter")


def load(path, *, max_bytes: int = MAX_BYTES) -> Sequential:
    """Load a model saved by :func:`save`, with its training state.

    Parameters
    ----------
    path : str or PathLike
    max_bytes : int
        Refuse a file whose entries expand to more than this many bytes (default 4 GiB).

    Raises
    ------
    ModelFileError
        For anything wrong with the file (the message names the file and the problem).
    FileNotFoundError
        If there is no such file.
    """
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise ValueError(f"max_bytes: expected a positive int, got {max_bytes!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    archive = _Archive(path, max_bytes)
    with archive.zip:
        meta = archive.meta()
        archive.declare(meta)
        model = _model(archive, meta)
        if meta["format_version"] == 1:
            warnings.warn(f"{path}: a format-1 file (proxnet 0.1) holds the weights only; the "
                          "optimizer state, schedule position and random streams start fresh",
                          TrainingStateWarning, stacklevel=2)
        else:
            _restore_training(archive, meta, model)
    return model


# ------------------------------------------------------------------------- callback

class ModelCheckpoint(Callback):
    """Save full checkpoints (:func:`save`) during ``fit``.

    Parameters
    ----------
    filepath : str or PathLike
        May hold ``{epoch}`` (1-based, e.g. ``"ckpt-{epoch:03d}.npz"``) and any logged key
        (``"{val_accuracy:.3f}"``).
    every_epochs : int
        Save every this many epochs (default 1).
    every_seconds : float or None
        Instead: save at the end of an epoch when this many seconds have passed since the
        last save (and at the first epoch).
    save_best_only : bool
        Save only when ``monitor`` improves (``mode`` as :class:`EarlyStopping`).

    A saved file resumes exactly: ``proxnet.load(file).fit(X, y, epochs=k)`` continues as the
    run that wrote it would have.
    """

    def __init__(self, filepath, *, every_epochs: int = 1, every_seconds: float | None = None,
                 save_best_only: bool = False, monitor: str = "val_loss", mode: str = "auto"):
        super().__init__()
        if isinstance(every_epochs, bool) or not isinstance(every_epochs, int) or every_epochs < 1:
            raise ValueError(f"every_epochs: expected an int >= 1, got {every_epochs!r}")
        if every_seconds is not None and (isinstance(every_seconds, bool) or not isinstance(
                every_seconds, (int, float)) or not 0 <= every_seconds < math.inf):
            raise ValueError(f"every_seconds: expected a finite number >= 0, got {every_seconds!r}")
        self.filepath, self.every_epochs, self.every_seconds = str(filepath), every_epochs, every_seconds
        self.save_best_only, self.monitor = bool(save_best_only), monitor
        self.mode = _mode(monitor, mode)
        self.best_value_ = -math.inf if self.mode == "max" else math.inf
        self.saved: list[Path] = []
        self._last = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.every_seconds is not None:
            due = self._last is None or time.monotonic() - self._last >= self.every_seconds
        else:
            due = (epoch + 1) % self.every_epochs == 0
        if due and self.save_best_only:
            value = _monitored(self.monitor, logs)
            due = value > self.best_value_ if self.mode == "max" else value < self.best_value_
            if due:
                self.best_value_ = value
        if not due:
            return
        try:
            target = self.filepath.format(**{**logs, "epoch": epoch + 1})
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"filepath: cannot fill {self.filepath!r} ({exc}); use {{epoch}} "
                             f"or logged keys {sorted(logs)}") from None
        self.saved.append(save(self.model, target))
        self._last = time.monotonic()
