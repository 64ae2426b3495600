"""proxnet: neural networks in plain NumPy with hand-written backprop, built around
regularization (penalties and exact proximal steps), and a lab for regularization studies.

>>> import proxnet
>>> from proxnet import layers, regularizers
>>> model = proxnet.Sequential([layers.Dense(64, 32), layers.ReLU(), layers.Dense(32, 10)],
...                            weight_regularizer=regularizers.L1(1e-4, mode="prox"), seed=0)

``import proxnet`` and training a model import NumPy and the standard library only; the lab
(:mod:`proxnet.studies`, the ``proxnet`` command) and :mod:`proxnet.sklearn` bring their own
dependencies.
"""
from ._version import __version__
from . import callbacks, gradcheck, layers, losses, metrics, optim, regularizers, training
from .callbacks import EarlyStopping, History, ModelCheckpoint
from .io import ModelFileError, load, save
from .model import Sequential
from .optim import Optimizer
from .training import TrainingDivergedError

__all__ = ["__version__", "Sequential", "TrainingDivergedError", "Optimizer", "History",
           "EarlyStopping", "ModelCheckpoint", "save", "load", "ModelFileError", "layers",
           "losses", "regularizers", "optim", "metrics", "callbacks", "gradcheck", "training"]
