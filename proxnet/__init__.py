"""proxnet: neural networks in plain NumPy with hand-written backprop, built around
regularization (penalties and exact proximal steps), and a lab for regularization studies.

>>> import proxnet
>>> from proxnet import layers, regularizers
>>> model = proxnet.Sequential([layers.Dense(64, 32), layers.ReLU(), layers.Dense(32, 10)],
...                            weight_regularizer=regularizers.L1(1e-4, mode="prox"), seed=0)
"""
__version__ = "0.1.0"

from . import callbacks, gradcheck, layers, losses, metrics, optim, regularizers  # noqa: E402
from .callbacks import EarlyStopping, History  # noqa: E402
from .io import ModelFileError, load_model as load  # noqa: E402
from .model import Sequential, TrainingDivergedError  # noqa: E402
from .optim import Optimizer  # noqa: E402

__all__ = ["__version__", "Sequential", "TrainingDivergedError", "Optimizer", "History",
           "EarlyStopping", "load", "ModelFileError", "layers", "losses", "regularizers",
           "optim", "metrics", "callbacks", "gradcheck"]
