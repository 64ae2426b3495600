"""Learning-rate schedules: functions of the (0-based) epoch.

Convention: a schedule returns a **factor** of the base learning rate, and the optimizer
uses ``lr = base_lr · schedule(epoch)`` (like ``torch.optim.lr_scheduler.LambdaLR``).
Every built-in schedule gives 1 at epoch 0, and none depends on ``base_lr``, so a
schedule config stays valid when a study varies the learning rate.

===========  ===========================================  ==============================
schedule     lr(epoch) = base_lr · factor                 PyTorch equivalent
===========  ===========================================  ==============================
constant     base_lr                                      (none)
exponential  base_lr · decay^epoch                        ExponentialLR(gamma=decay)
step         base_lr · gamma^⌊epoch / step_size⌋           StepLR(step_size, gamma)
cosine       η_min + (base_lr − η_min)(1 + cos(π·epoch/t_max))/2,  CosineAnnealingLR(t_max, eta_min)
             η_min = min_factor · base_lr
===========  ===========================================  ==============================

Any callable ``f(epoch) -> factor`` works as a schedule too (it just has no config).
"""
from __future__ import annotations

import math

from ..registry import Configured, Registry
from .rules import check_nonnegative, check_positive

__all__ = ["Schedule", "Constant", "ExponentialDecay", "StepDecay", "CosineAnnealing",
           "SCHEDULES", "get_schedule"]

SCHEDULES = Registry("schedule")


def _check_epoch(epoch) -> int:
    if isinstance(epoch, bool) or not hasattr(epoch, "__index__"):
        raise ValueError(f"epoch: expected an integer >= 0, got {epoch!r}")
    e = int(epoch)
    if e < 0:
        raise ValueError(f"epoch: expected an integer >= 0, got {epoch!r}")
    return e


def _check_int(v, name) -> int:
    if isinstance(v, bool) or not hasattr(v, "__index__") or int(v) < 1:
        raise ValueError(f"{name}: expected an integer >= 1, got {v!r}")
    return int(v)


class Schedule(Configured):
    """Base class: ``schedule(epoch) -> float`` factor of the base learning rate."""

    name = "schedule"

    def __call__(self, epoch: int) -> float:
        return float(self.factor(_check_epoch(epoch)))

    def factor(self, epoch: int) -> float:
        raise NotImplementedError



@SCHEDULES.register("constant")
class Constant(Schedule):
    """factor = 1: the learning rate stays ``base_lr``."""

    name = "constant"

    def factor(self, epoch):
        return 1.0


@SCHEDULES.register("exponential")
class ExponentialDecay(Schedule):
    """factor = decay^epoch (decayed once per epoch; PyTorch ``ExponentialLR(gamma=decay)``)."""

    name = "exponential"

    def __init__(self, decay: float = 0.95):
        self.decay = check_positive(decay, "decay")

    def factor(self, epoch):
        return self.decay ** epoch

    def get_config(self):
        return {"decay": self.decay}


@SCHEDULES.register("step")
class StepDecay(Schedule):
    """factor = gamma^⌊epoch / step_size⌋ (PyTorch ``StepLR(step_size, gamma)``)."""

    name = "step"

    def __init__(self, step_size: int = 10, gamma: float = 0.1):
        self.step_size = _check_int(step_size, "step_size")
        self.gamma = check_positive(gamma, "gamma")

    def factor(self, epoch):
        return self.gamma ** (epoch // self.step_size)

    def get_config(self):
        return {"step_size": self.step_size, "gamma": self.gamma}


@SCHEDULES.register("cosine")
class CosineAnnealing(Schedule):
    """factor = m + (1 − m)·(1 + cos(π·epoch/t_max))/2 with m = ``min_factor``.

    Times ``base_lr`` this is PyTorch's ``CosineAnnealingLR(t_max, eta_min)`` closed form
    with η_min = m·base_lr: it reaches η_min at ``epoch = t_max`` and, like PyTorch's,
    is periodic after that (it rises again over the next t_max epochs).
    """

    name = "cosine"

    def __init__(self, t_max: int = 100, min_factor: float = 0.0):
        self.t_max = _check_int(t_max, "t_max")
        self.min_factor = check_nonnegative(min_factor, "min_factor")
        if self.min_factor > 1:
            raise ValueError(f"min_factor: expected a number in [0, 1], got {min_factor!r}")

    def factor(self, epoch):
        m = self.min_factor
        return m + (1.0 - m) * (1.0 + math.cos(math.pi * epoch / self.t_max)) / 2.0

    def get_config(self):
        return {"t_max": self.t_max, "min_factor": self.min_factor}


def get_schedule(spec):
    """Build a schedule from plain data.

    ``spec`` is ``None`` (no schedule: constant learning rate), a :class:`Schedule`,
    any callable ``f(epoch) -> factor`` (returned as is), a name such as ``"cosine"``
    (default arguments), or a dict such as ``{"kind": "exponential", "decay": 0.95}``.
    """
    if spec is None or isinstance(spec, Schedule):
        return spec
    if isinstance(spec, str):
        return SCHEDULES.get_item(spec)()
    if isinstance(spec, dict):
        return SCHEDULES.build(spec)
    if callable(spec):
        return spec
    raise ValueError(
        "schedule: expected None, a name, a dict like {'kind': 'exponential', 'decay': 0.95} "
        f"or a callable epoch -> factor, got {spec!r}")
