"""Activation layers and the ``ACTIVATIONS`` registry (name -> layer class)."""
from __future__ import annotations

from ..functional import activations as F
from ..registry import Registry
from .base import Layer

ACTIVATIONS = Registry("activation")


class _Elementwise(Layer):
    """An activation applied entry by entry: ``kernels`` are the functional forward and
    backward (:mod:`proxnet.functional.activations`), ``name`` its registry key."""
    shardable = True   # samples are independent: see Layer.shardable
    _fwd = staticmethod(F.identity_forward)
    _bwd = staticmethod(F.identity_backward)

    def __init_subclass__(cls, *, name=None, kernels=None, **kwargs):
        super().__init_subclass__(**kwargs)
        if kernels is not None:
            cls._fwd, cls._bwd = (staticmethod(k) for k in kernels)
        if name is not None:
            ACTIVATIONS.register(name, cls)

    def forward(self, x, *, training=False):
        out, self._cache = self._fwd(x)
        return out

    def backward(self, dout):
        return self._bwd(dout, self._cache)


class ReLU(_Elementwise, name="relu", kernels=(F.relu_forward, F.relu_backward)):
    """max(x, 0); the gradient at 0 is 0."""


class Sigmoid(_Elementwise, name="sigmoid", kernels=(F.sigmoid_forward, F.sigmoid_backward)):
    """σ(x) = 1 / (1 + e^{−x}), computed without overflow."""


class Tanh(_Elementwise, name="tanh", kernels=(F.tanh_forward, F.tanh_backward)):
    """tanh(x)."""


class Identity(_Elementwise, name="identity"):
    """The identity (a linear output)."""


@ACTIVATIONS.register("leaky_relu")
class LeakyReLU(_Elementwise):
    """x if x > 0 else ``slope``·x."""

    def __init__(self, slope: float = 0.01):
        super().__init__()
        self.slope = float(slope)

    def forward(self, x, *, training=False):
        out, self._cache = F.leaky_relu_forward(x, self.slope)
        return out

    def backward(self, dout):
        return F.leaky_relu_backward(dout, self._cache)

    def get_config(self):
        return {"slope": self.slope}


ACTIVATIONS["linear"] = Identity
