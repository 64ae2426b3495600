"""Optimizers: pure update rules, the optimizer object, learning-rate schedules.

>>> from proxnet.optim import get_optimizer
>>> opt = get_optimizer({"kind": "sgd", "lr": 0.1, "momentum": 0.9,
...                      "schedule": {"kind": "exponential", "decay": 0.95}})
>>> opt.set_epoch(2)  # lr = 0.1 · 0.95²
0.09025
"""
from .optimizer import Optimizer, get_optimizer
from .rules import (OPTIMIZERS, RULES, Rule, adam_init, adam_step, adamw_step, momentum_init,
                    momentum_step, nesterov_step, rmsprop_init, rmsprop_step, sgd_init, sgd_step)
from .schedules import (SCHEDULES, Constant, CosineAnnealing, ExponentialDecay, Schedule,
                        StepDecay, get_schedule)

__all__ = [
    "Optimizer", "get_optimizer",
    "RULES", "OPTIMIZERS", "Rule", "sgd_init", "sgd_step", "momentum_init", "momentum_step",
    "nesterov_step", "rmsprop_init", "rmsprop_step", "adam_init", "adam_step", "adamw_step",
    "SCHEDULES", "Schedule", "Constant", "ExponentialDecay", "StepDecay", "CosineAnnealing",
    "get_schedule",
]
