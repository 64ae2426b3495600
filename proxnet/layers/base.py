"""The Layer contract.

A layer holds its parameters and their gradients in dicts keyed by name
(``"W"``, ``"b"``) and the regularizer attached to each parameter.

- ``forward(x, *, training) -> out`` caches what backward needs;
- ``backward(dout) -> dx`` fills ``self.grads[k]`` for every ``k`` in ``self.params``.

Parameters are found by name (``Sequential.named_parameters()`` yields ``"0.W"``),
never discovered with ``hasattr``.
"""
from __future__ import annotations

import copy

import numpy as np

from ..backend import as_generator, resolve_dtype
from .initializers import check_init


class Layer:
    """Base class. Subclasses set ``params`` and implement ``forward``/``backward``.

    Attributes
    ----------
    params : dict[str, ndarray]
        Trainable arrays by name.
    grads : dict[str, ndarray]
        Gradients of the loss w.r.t. ``params``, same keys and shapes (filled by backward).
    regularizers : dict[str, Regularizer | None]
        Regularizer per parameter name (``None`` = not regularized).
    weight_names : tuple[str, ...]
        Which params are weights (the model-wide default regularizer applies to these only).
        The others (``"b"``) are biases.
    input_grad : bool
        When False, ``backward`` may skip computing dx and return None (the first layer
        of a model in training needs no input gradient).
    shardable : bool (class attribute)
        True when forward and backward treat every sample independently and deterministically
        and keep nothing between calls but their own caches, so that a batch may be cut into
        shards run at the same time on :meth:`replica` s (see ``Sequential.fit``). False by
        default, so a layer written elsewhere is never split without saying it may be.
    """

    shardable: bool = False

    weight_names: tuple[str, ...] = ()
    unit_axes: dict[str, tuple[int, int]] = {}
    """For each weight: (axis of output units, axis of inputs), e.g. Dense W (D, M) -> (1, 0),
    Conv2D W (F, C, kh, kw) -> (0, 1). Group regularizers (group lasso, max-norm) use it."""

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.regularizers: dict = {}
        self.input_grad = True
        self.dtype = resolve_dtype(None)

    # -- the contract --------------------------------------------------------
    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def replica(self) -> "Layer":
        """A shallow copy that shares this layer's ``params`` dict (so it always computes with
        the current parameters, also after an optimizer step replaces them) but has its own
        ``grads`` and caches. Training steps run shards of a batch on replicas."""
        twin = copy.copy(self)
        twin.grads = {}
        return twin

    # -- helpers shared by all layers -----------------------------------------
    def reset_parameters(self, rng: np.random.Generator) -> None:
        """(Re)initialize parameters from ``rng``. Layers without parameters do nothing."""

    def set_rng(self, rng: np.random.Generator) -> None:
        """Give a stochastic layer (dropout) its generator. Deterministic layers ignore it."""

    def astype(self, dtype) -> "Layer":
        """Cast parameters to ``dtype`` in place of the dicts; returns self."""
        self.dtype = resolve_dtype(dtype)
        for k, v in self.params.items():
            self.params[k] = np.ascontiguousarray(v, dtype=self.dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        return self

    def _init_weights(self, init, bias, dtype, seed, weight_regularizer, bias_regularizer,
                      bias_init="zeros") -> None:
        """Shared constructor tail of layers with a weight ``W`` and an optional bias ``b``:
        check and store ``init``/``bias_init``/``bias``/``dtype``, draw the parameters from
        ``seed`` and attach the regularizers (a bias regularizer or a bias initializer other
        than zeros without a bias is an error)."""
        self.init, self.bias = check_init(init, "init"), bool(bias)
        self.bias_init = check_init(bias_init, "bias_init")
        if not self.bias and self.bias_init not in ("zeros", {"kind": "zeros"}):
            raise ValueError("bias_init: the layer has bias=False")
        self.dtype = resolve_dtype(dtype)
        self.reset_parameters(as_generator(seed))
        self.set_regularizer("W", weight_regularizer)
        if self.bias:
            self.set_regularizer("b", bias_regularizer)
        elif bias_regularizer is not None:
            raise ValueError("bias_regularizer: the layer has bias=False")

    def set_regularizer(self, name: str, reg) -> None:
        """Attach regularizer ``reg`` (or None) to parameter ``name``, bound to its unit axes."""
        from ..regularizers import get_regularizer
        if name not in self.params:
            raise ValueError(f"parameter: {type(self).__name__} has {sorted(self.params)}, got {name!r}")
        reg = get_regularizer(reg)
        if reg is not None and reg.structured:
            out_axis, in_axis = self.unit_axes.get(name, (self.params[name].ndim - 1, 0))
            reg = reg.bind(out_axis, in_axis)
        self.regularizers[name] = reg

    def zero_grads(self) -> None:
        for k, v in self.params.items():
            self.grads[k] = np.zeros_like(v)

    def output_shape(self, input_shape: tuple) -> tuple:
        """Shape of one output sample for one input sample shape (no batch axis)."""
        return tuple(input_shape)

    def get_config(self) -> dict:
        """Plain-data constructor arguments (JSON-serializable) for save/load."""
        return {}

    def n_params(self) -> int:
        return int(sum(v.size for v in self.params.values()))

    def __repr__(self):
        cfg = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({cfg})"
