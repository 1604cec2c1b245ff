"""Small Flax NNX example models for the demo, tests, benchmarks and notebooks."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import jax
from flax import nnx

__all__ = ["MLP", "SmallCNN"]


class MLP(nnx.Module):
    """``in_features → hidden… → num_classes`` with ReLU; called on ``(B, in_features)``.

        f(x) = W_L · relu(… relu(W_1 x + b_1) …) + b_L

    Maps ``(B, in_features)`` to logits ``(B, num_classes)``.

    Example:
      >>> import numpy as np
      >>> from flax import nnx
      >>> from interjax.data import MLP
      >>> model = MLP(8, 2, hidden=(8,), rngs=nnx.Rngs(0))
      >>> model(np.zeros((3, 8), np.float32)).shape
      (3, 2)
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        hidden: Sequence[int] = (64, 64),
        *,
        rngs: nnx.Rngs,
    ):
        sizes = [in_features, *hidden]
        self.hidden = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in itertools.pairwise(sizes)])
        self.head = nnx.Linear(sizes[-1], num_classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        for layer in self.hidden:
            x = nnx.relu(layer(x))
        return self.head(x)


class SmallCNN(nnx.Module):
    """Two 3×3 convolutions and a dense head for ``(B, H, W, C)`` images such as digits.

        f(x) = head(flatten(avg_pool_2×2(relu(conv2(relu(conv1(x)))))))

    Maps ``(B, image_size, image_size, channels)`` to logits ``(B, num_classes)``.

    Example:
      Shapes only: ``nnx.eval_shape`` traces the model without allocating or compiling
      (``SmallCNN(...)`` itself builds the real one, called as ``model(x)``):

      >>> import jax, numpy as np
      >>> from flax import nnx
      >>> from interjax.data import SmallCNN
      >>> model = nnx.eval_shape(lambda: SmallCNN(num_classes=10, width=4, rngs=nnx.Rngs(0)))
      >>> model.conv1.kernel.shape, model.head.kernel.shape  # head: 4 · (8/2)² = 64 inputs
      ((3, 3, 1, 4), (64, 10))
      >>> x = jax.ShapeDtypeStruct((2, 8, 8, 1), np.float32)
      >>> nnx.eval_shape(lambda m, x: m(x), model, x).shape
      (2, 10)
    """

    def __init__(
        self,
        num_classes: int = 10,
        channels: int = 1,
        width: int = 16,
        *,
        image_size: int = 8,
        rngs: nnx.Rngs,
    ):
        self.conv1 = nnx.Conv(channels, width, (3, 3), rngs=rngs)
        self.conv2 = nnx.Conv(width, width, (3, 3), rngs=rngs)
        self.head = nnx.Linear(width * (image_size // 2) ** 2, num_classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = nnx.relu(self.conv1(x))
        x = nnx.relu(self.conv2(x))
        x = nnx.avg_pool(x, (2, 2), strides=(2, 2))
        return self.head(x.reshape(x.shape[0], -1))
