"""Training: the fit loop and its state (:mod:`.trainer`), the one training step
(:mod:`.step`), shards of a batch on threads (:mod:`.shards`), callbacks and History
(:mod:`.callbacks`).

This package never imports :mod:`proxnet.model`: it trains any object with the model's
interface (``layers``, ``loss_fn``, ``optimizer``, ``regularizers()``, ``check_X`` /
``check_y``, ``outputs``, ``evaluate``), and ``Sequential.fit`` runs it.
"""
from .callbacks import (CSVLogger, Callback, CallbackList, EarlyStopping, History,
                        LambdaCallback, ProgressBar, ReduceLROnPlateau, show_progress)
from .shards import INFERENCE_BATCH, INFERENCE_SHARD_BYTES, SHARD_BYTES, Shards
from .step import penalty_gradients, regularization_loss, training_step
from .trainer import Trainer, TrainingDivergedError, check_count

__all__ = ["Trainer", "TrainingDivergedError", "check_count", "training_step",
           "penalty_gradients", "regularization_loss", "Shards", "SHARD_BYTES",
           "INFERENCE_SHARD_BYTES", "INFERENCE_BATCH", "Callback", "CallbackList", "History",
           "ProgressBar", "EarlyStopping", "CSVLogger", "ReduceLROnPlateau", "LambdaCallback",
           "show_progress"]
