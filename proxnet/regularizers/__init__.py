"""Regularizers: pure proximal operators (:mod:`.prox`) and regularizer objects."""
from . import prox
from .penalties import (MODES, REGULARIZERS, L0, L1, L2, ElasticNet, GroupLasso, MaxNorm,
                        Regularizer, from_strength, get_regularizer)

__all__ = ["prox", "MODES", "REGULARIZERS", "Regularizer", "L1", "L2", "ElasticNet", "L0",
           "GroupLasso", "MaxNorm", "get_regularizer", "from_strength"]
