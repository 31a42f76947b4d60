"""PointNet (Qi et al. 2017): a shared per-point MLP and a symmetric max-pool over points.

What it reproduces: the vanilla PointNet classifier — every point goes through the same MLP
(64, 128, 256 here; 64, 64, 64, 128, 1024 in the paper), a max over points gives a global feature
that cannot depend on the order of the points, and an MLP head classifies it.

What it simplifies: no input/feature transform networks (T-Net; the paper's ablation credits them
with ~2 points on ModelNet40), no batch norm and no dropout, narrower layers — sized for a CPU.
Clouds of fixed size carry a ``mask``: masked points (rays that hit nothing) never win the max.

The encoder maps (N, F) points -> (out_size,) and works as the torso of a PPO policy whose
observation is a point cloud (see ``seuseuro.envs.scene3d.tasks``).
"""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp

from seuseuro.core.networks import HIDDEN_GAIN, MLP, Dense, orthogonal_linear


def masked_max_pool(features: jax.Array, mask: jax.Array | None) -> jax.Array:
    """Max over points (N, C) -> (C,), ignoring masked points; zeros if every point is masked."""
    if mask is None:
        return jnp.max(features, axis=0)
    pooled = jnp.max(jnp.where(mask[:, None], features, -jnp.inf), axis=0)
    return jnp.where(jnp.any(mask), pooled, 0.0)


class PointNetEncoder(eqx.Module):
    """Shared per-point MLP with ReLU after every layer, then a masked max over points."""

    layers: tuple[Dense, ...]
    out_size: int = eqx.field(static=True)

    def __init__(self, key: jax.Array, in_features: int = 3, widths: Sequence[int] = (64, 128, 256)):
        sizes = [in_features, *widths]
        keys = jax.random.split(key, len(widths))
        self.layers = tuple(
            orthogonal_linear(k, a, b, HIDDEN_GAIN) for k, a, b in zip(keys, sizes[:-1], sizes[1:], strict=True)
        )
        self.out_size = sizes[-1]

    def point_features(self, points: jax.Array) -> jax.Array:
        """Per-point features (N, out_size) before pooling."""
        x = points
        for layer in self.layers:
            x = jax.nn.relu(jax.vmap(layer)(x))
        return x

    def __call__(self, points: jax.Array, mask: jax.Array | None = None) -> jax.Array:
        return masked_max_pool(self.point_features(points), mask)


class PointCloudClassifier(eqx.Module):
    """An encoder (PointNet or EdgeConv) followed by an MLP head giving class logits."""

    encoder: eqx.Module
    head: MLP

    def __init__(self, key: jax.Array, encoder: eqx.Module, num_classes: int, hidden: Sequence[int] = (128,)):
        self.encoder = encoder
        self.head = MLP(key, encoder.out_size, num_classes, hidden=hidden, activation="relu")

    def __call__(self, points: jax.Array, mask: jax.Array | None = None) -> jax.Array:
        return self.head(self.encoder(points, mask))


def pointnet_torso(in_features: int, widths: Sequence[int] = (64, 128)):
    """A ``torso_factory`` for ``algos.ppo.make_train``: key -> (PointNetEncoder, feature size).

    The policy's observation is one point cloud (N, in_features); no mask is applied, so rows that
    carry only the goal (missed rays, a blind agent) still reach the pooled feature.
    """

    def factory(key: jax.Array) -> tuple[PointNetEncoder, int]:
        encoder = PointNetEncoder(key, in_features, widths)
        return encoder, encoder.out_size

    return factory
