"""Small Flax NNX example models for the demo, tests, benchmarks and notebooks."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import jax
from flax import nnx

__all__ = ["MLP", "SmallCNN"]


class MLP(nnx.Module):
    """``in_features → hidden… → num_classes`` with ReLU; called on ``(B, in_features)``."""

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
    """Two 3×3 convolutions and a dense head for ``(B, H, W, C)`` images such as digits."""

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
