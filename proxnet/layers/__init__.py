"""Layer objects with explicit ``forward``/``backward`` and named ``params``/``grads``.

``LAYERS`` maps class names to classes (used by save/load and configs); ``ACTIVATIONS``
maps activation names ("relu", ..., "softmax") to layer classes; ``INITIALIZERS`` and
:func:`check_init` (see :mod:`proxnet.layers.initializers`) define initializer specs.
"""
from ..registry import Registry
from .activations import ACTIVATIONS, Identity, LeakyReLU, ReLU, Sigmoid, Tanh
from .base import Layer
from .conv import Conv2D
from .dense import Dense
from .dropout import Dropout
from .initializers import INITIALIZERS, check_init
from .pool import AvgPool2D, MaxPool2D
from .reshape import Flatten
from .softmax import Softmax

LAYERS = Registry("layer")
for _cls in (Dense, ReLU, LeakyReLU, Sigmoid, Tanh, Identity, Softmax, Dropout, Flatten, Conv2D,
             MaxPool2D, AvgPool2D):
    LAYERS.register(_cls.__name__, _cls)

__all__ = ["Layer", "Dense", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Identity", "Softmax", "Dropout",
           "Flatten", "Conv2D", "MaxPool2D", "AvgPool2D", "ACTIVATIONS", "INITIALIZERS", "LAYERS",
           "check_init"]
