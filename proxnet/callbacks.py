"""Callbacks, in one namespace: the training hooks of :mod:`proxnet.training.callbacks` and
:class:`~proxnet.io.ModelCheckpoint` (which writes model files, so it lives in
:mod:`proxnet.io`)."""
from .io import ModelCheckpoint
from .training.callbacks import (CSVLogger, Callback, EarlyStopping, History, LambdaCallback,
                                 ProgressBar, ReduceLROnPlateau)

__all__ = ["Callback", "History", "ProgressBar", "EarlyStopping", "CSVLogger",
           "ReduceLROnPlateau", "LambdaCallback", "ModelCheckpoint"]
