"""Shape-only layers."""
from __future__ import annotations

import numpy as np

from .base import Layer


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1·d2·...). Backward restores the input shape."""

    shardable = True   # samples are independent: see Layer.shardable
    scratch = {"_shape": None}

    def forward(self, x, *, training=False):
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        return dout.reshape(self._shape)

    def output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)
