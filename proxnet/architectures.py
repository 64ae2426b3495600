"""Ready-made architectures, returned as :class:`proxnet.model.Sequential` models.

- :func:`mlp`: a multilayer perceptron from a list of layer sizes;
- :func:`lenet5`: LeNet-5 for small images, classic or compact.

>>> from proxnet.architectures import lenet5, mlp
>>> lenet5(variant="compact", seed=0).output_shape((1, 28, 28))
(10,)
>>> mlp([784, 64, 10], seed=0).output_shape((784,))
(10,)
"""
from __future__ import annotations

from .layers import ACTIVATIONS, AvgPool2D, Conv2D, Dense, Dropout, Flatten, MaxPool2D

LENET5_VARIANTS = ("classic", "compact")
POOLINGS = {"max": MaxPool2D, "avg": AvgPool2D}


def _positive_int(name, v):
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise ValueError(f"{name}: expected a positive int, got {v!r}")


def mlp(sizes, *, activation: str = "relu", dropout: float = 0.0, init="he",
        loss: str = "softmax_cross_entropy", optimizer=None, weight_regularizer=None,
        seed=None, dtype=None):
    """A multilayer perceptron: Dense layers of the given sizes with an activation between.

    ``mlp([784, 128, 64, 10])`` is::

        dense 784→128 → act [→ dropout] → dense 128→64 → act [→ dropout] → dense 64→10

    The last layer is linear (logits); the loss applies softmax or sigmoid itself.

    Parameters
    ----------
    sizes : list of int
        Input features, then each layer's width; at least two entries.
    activation : str
        A name from :data:`proxnet.layers.ACTIVATIONS` for the hidden layers.
    dropout : float in [0, 1)
        Drop probability of a :class:`~proxnet.layers.Dropout` after each hidden
        activation; 0 (default) adds none.
    init : str or dict
        Weight initializer of every Dense layer (default He).
    loss, optimizer, weight_regularizer, seed, dtype
        Passed to :class:`~proxnet.model.Sequential`.

    Returns
    -------
    Sequential; inputs (N, sizes[0]), outputs (N, sizes[-1]).
    """
    from .model import Sequential

    sizes = list(sizes) if isinstance(sizes, (list, tuple)) else sizes
    if not isinstance(sizes, list) or len(sizes) < 2:
        raise ValueError(f"sizes: expected a list of at least two layer sizes, got {sizes!r}")
    for i, v in enumerate(sizes):
        _positive_int(f"sizes[{i}]", v)
    act = ACTIVATIONS.get_item(activation)
    dropout = float(dropout)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout: expected a drop probability in [0, 1), got {dropout}")
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Dense(a, b, init=init, dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(act())
            if dropout:
                layers.append(Dropout(dropout))
    return Sequential(layers, loss=loss, optimizer=optimizer,
                      weight_regularizer=weight_regularizer, seed=seed, dtype=dtype)


def lenet5(*, variant: str = "classic", activation: str = "relu", pooling: str = "max",
           in_channels: int = 1, input_size: int = 28, n_classes: int = 10, padding=None,
           optimizer=None, weight_regularizer=None, seed=None, dtype=None):
    """LeNet-5 (LeCun et al., 1998) for small square images, as a Sequential model.

    ``variant="classic"``::

        conv 6@5×5 → act → pool 2 → conv 16@5×5 → act → pool 2 → flatten
        → dense 120 → act → dense 84 → act → dense n_classes

    ``variant="compact"`` (used in some courses) drops the 120-unit layer::

        conv 6@5×5 → act → pool 2 → conv 16@5×5 → act → pool 2 → flatten
        → dense 84 → act → dense n_classes

    Every weight is He-initialized and every bias starts at zero. On 28×28 MNIST digits
    (padding 2) the feature maps are 6@28×28 → 6@14×14 → 16@10×10 → 16@5×5 (400 features).

    Parameters
    ----------
    variant : {"classic", "compact"}
    activation : str
        A name from :data:`proxnet.layers.ACTIVATIONS` ("relu", "tanh", "sigmoid", ...),
        used after both convolutions and every hidden dense layer.
    pooling : {"max", "avg"}
        2×2 pooling with stride 2.
    in_channels : int
        Image channels (1 for MNIST).
    input_size : int
        Height = width of the input images.
    n_classes : int
        Outputs (logits) of the last layer.
    padding : int or None
        Zero padding of the first convolution. None: 2 for 28×28 inputs (the usual MNIST
        LeNet-5, 28 → 28 → 14 → 10 → 5), else 0 (the original 32 → 28 → 14 → 10 → 5).
    optimizer, weight_regularizer : passed to :class:`~proxnet.model.Sequential`
        (default optimizer: SGD, lr 0.01). Group regularizers group each conv filter.
    seed : int, Generator or None
        Initializes every layer (see :class:`~proxnet.model.Sequential`).
    dtype : "float32" (default) or "float64"

    Returns
    -------
    Sequential with loss ``"softmax_cross_entropy"``; inputs (N, in_channels, input_size,
    input_size), outputs (N, n_classes).
    """
    from .model import Sequential

    if variant not in LENET5_VARIANTS:
        raise ValueError(f"variant: expected one of {', '.join(map(repr, LENET5_VARIANTS))}, got {variant!r}")
    if pooling not in POOLINGS:
        raise ValueError(f"pooling: expected one of {', '.join(map(repr, POOLINGS))}, got {pooling!r}")
    act = ACTIVATIONS.get_item(activation)
    for name, v in (("in_channels", in_channels), ("input_size", input_size), ("n_classes", n_classes)):
        _positive_int(name, v)
    if padding is None:
        padding = 2 if input_size == 28 else 0
    pool = POOLINGS[pooling]

    features = [Conv2D(in_channels, 6, 5, padding=padding, dtype=dtype), act(), pool(2),
                Conv2D(6, 16, 5, dtype=dtype), act(), pool(2), Flatten()]
    shape = (in_channels, input_size, input_size)
    for layer in features:
        try:
            shape = layer.output_shape(shape)
        except ValueError as exc:
            raise ValueError(f"input_size: {input_size}×{input_size} images (padding {padding}) are "
                             f"too small for LeNet-5 ({exc})") from None
    hidden = (120, 84) if variant == "classic" else (84,)
    head, width = [], shape[0]
    for units in hidden:
        head += [Dense(width, units, dtype=dtype), act()]
        width = units
    head.append(Dense(width, n_classes, dtype=dtype))
    return Sequential(features + head, loss="softmax_cross_entropy", optimizer=optimizer,
                      weight_regularizer=weight_regularizer, seed=seed, dtype=dtype)
