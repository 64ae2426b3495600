"""Inverted dropout layer."""
from __future__ import annotations

from ..backend import as_generator
from ..functional.dropout import dropout_backward, dropout_forward
from .base import Layer


class Dropout(Layer):
    """Inverted dropout: in training, zero each entry with probability ``rate`` and scale
    the others by 1/(1 − rate); at inference, the identity.

    Parameters
    ----------
    rate : float in [0, 1)
        Probability of dropping an entry (not of keeping it).
    seed : int, Generator or None
        Mask randomness. ``Sequential.fit(seed=...)`` re-seeds it for reproducible runs.
    """

    def __init__(self, rate: float, *, seed=None):
        super().__init__()
        rate = float(rate)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"rate: expected a drop probability in [0, 1), got {rate}")
        self.rate = rate
        self.rng = as_generator(seed)

    def set_rng(self, rng):
        self.rng = rng

    def forward(self, x, *, training=False):
        out, self._cache = dropout_forward(x, self.rate, self.rng, training)
        return out

    def backward(self, dout):
        return dropout_backward(dout, self._cache)

    def get_config(self):
        return {"rate": self.rate}
