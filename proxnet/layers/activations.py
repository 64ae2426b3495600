"""Activation layers and the ``ACTIVATIONS`` registry (name -> layer class)."""
from __future__ import annotations

from ..functional import activations as F
from ..registry import Registry
from .base import Layer

ACTIVATIONS = Registry("activation")


class _Elementwise(Layer):
    shardable = True   # samples are independent: see Layer.shardable
    _fwd = staticmethod(F.identity_forward)
    _bwd = staticmethod(F.identity_backward)

    def forward(self, x, *, training=False):
        out, self._cache = self._fwd(x)
        return out

    def backward(self, dout):
        return self._bwd(dout, self._cache)


@ACTIVATIONS.register("relu")
class ReLU(_Elementwise):
    """max(x, 0); the gradient at 0 is 0."""
    _fwd = staticmethod(F.relu_forward)
    _bwd = staticmethod(F.relu_backward)


@ACTIVATIONS.register("sigmoid")
class Sigmoid(_Elementwise):
    """σ(x) = 1 / (1 + e^{−x}), computed without overflow."""
    _fwd = staticmethod(F.sigmoid_forward)
    _bwd = staticmethod(F.sigmoid_backward)


@ACTIVATIONS.register("tanh")
class Tanh(_Elementwise):
    """tanh(x)."""
    _fwd = staticmethod(F.tanh_forward)
    _bwd = staticmethod(F.tanh_backward)


@ACTIVATIONS.register("identity")
class Identity(_Elementwise):
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
