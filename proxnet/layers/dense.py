"""Dense (fully connected) layer."""
from __future__ import annotations

import numpy as np

from ..functional.dense import affine_backward, affine_forward
from .base import Layer
from .initializers import init_parameters


class Dense(Layer):
    """out = x @ W + b.

    Parameters
    ----------
    in_features, out_features : int
        D and M: input (N, D), weight W (D, M), bias b (M,), output (N, M).
    init : str or dict
        Weight initializer spec (see :mod:`proxnet.layers.initializers`), default ``"he"``,
        with fan_in = D and fan_out = M.
    bias : bool
        Whether the layer has a bias.
    bias_init : str or dict
        Bias initializer spec, default ``"zeros"`` (``"torch"``: U(±1/√D), PyTorch's
        ``nn.Linear``). Drawn after the weights from the same generator.
    weight_regularizer, bias_regularizer : Regularizer, dict or None
        Per-layer regularizers. A model-wide default applies to weights left at None.
    seed : int, Generator or None
        Initialization randomness (a model built with a seed re-initializes from it).
    dtype : float32 (default) or float64
    """

    shardable = True   # samples are independent: see Layer.shardable

    weight_names = ("W",)
    unit_axes = {"W": (1, 0)}

    def __init__(self, in_features: int, out_features: int, *, init="he", bias: bool = True,
                 bias_init="zeros", weight_regularizer=None, bias_regularizer=None, seed=None,
                 dtype=None):
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name}: expected a positive int, got {v!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self._init_weights(init, bias, dtype, seed, weight_regularizer, bias_regularizer, bias_init)

    def parameter_shapes(self):
        D, M = self.in_features, self.out_features
        return {"W": (D, M), "b": (M,)} if self.bias else {"W": (D, M)}

    def reset_parameters(self, rng):
        D, M = self.in_features, self.out_features
        W, b = init_parameters(self.init, self.bias_init if self.bias else None, (D, M), (M,),
                               D, M, rng, self.dtype)
        self.params["W"] = W
        if self.bias:
            self.params["b"] = b
        self.zero_grads()

    def forward(self, x, *, training=False):
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"Dense input: expected shape (N, {self.in_features}), got {x.shape}")
        out, self._cache = affine_forward(x, self.params["W"], self.params.get("b"))
        return out

    def backward(self, dout):
        if self._cache is None:
            raise RuntimeError("Dense.backward called before forward")
        dx, dW, db = affine_backward(dout, self._cache, need_dx=self.input_grad)
        self.grads["W"] = dW
        if self.bias:
            self.grads["b"] = db
        return dx

    def output_shape(self, input_shape):
        return (self.out_features,)

    def describe(self):
        return f"Dense {self.in_features}→{self.out_features}" + ("" if self.bias else ", no bias")

    def get_config(self):
        cfg = {"in_features": self.in_features, "out_features": self.out_features,
               "init": self.init, "bias": self.bias}
        if self.bias:
            cfg["bias_init"] = self.bias_init
        return cfg
