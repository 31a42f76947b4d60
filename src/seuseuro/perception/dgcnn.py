"""DGCNN-style edge convolution (Wang et al. 2019, "Dynamic Graph CNN for Learning on Point Clouds").

What it reproduces: EdgeConv — for every point i and each of its k nearest neighbours j, an MLP
of the edge feature [x_i, x_j - x_i], max-aggregated over the neighbours; the graph is rebuilt in
feature space before each layer after the first ("dynamic"); the layers' outputs are concatenated,
lifted per point and max-pooled into a global feature. Unlike PointNet it sees local structure.

What it simplifies: two EdgeConv layers of 64 (the paper: four, 64-64-128-256, and an embedding
of 1024), no batch norm, no dropout. Cost is O(N^2) per layer for the neighbour search: fine for
the few hundred points used here.
"""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp

from seuseuro.core.networks import HIDDEN_GAIN, Dense, orthogonal_linear
from seuseuro.errors import UserError
from seuseuro.perception.pointnet import masked_max_pool


def knn_indices(features: jax.Array, k: int, mask: jax.Array | None) -> jax.Array:
    """Indices (N, k) of each point's k nearest points (itself included) among unmasked ones."""
    sq = jnp.sum(features**2, axis=1)
    dist = sq[:, None] + sq[None, :] - 2.0 * features @ features.T
    if mask is not None:
        dist = jnp.where(mask[None, :], dist, jnp.inf)
    dist = dist.at[jnp.arange(features.shape[0]), jnp.arange(features.shape[0])].set(-1.0)  # self first
    return jax.lax.top_k(-dist, k)[1]


class EdgeConvEncoder(eqx.Module):
    """Stacked EdgeConv layers on a k-NN graph, concatenated, lifted, masked max-pooled."""

    edge_layers: tuple[Dense, ...]
    lift: Dense
    k: int = eqx.field(static=True)
    out_size: int = eqx.field(static=True)

    def __init__(
        self,
        key: jax.Array,
        in_features: int = 3,
        widths: Sequence[int] = (64, 64),
        out_size: int = 256,
        k: int = 16,
    ):
        if k < 1:
            raise UserError(f"EdgeConv needs k >= 1 neighbours, got {k}")
        keys = jax.random.split(key, len(widths) + 1)
        sizes = [in_features, *widths]
        self.edge_layers = tuple(
            orthogonal_linear(kk, 2 * a, b, HIDDEN_GAIN)
            for kk, a, b in zip(keys[:-1], sizes[:-1], sizes[1:], strict=True)
        )
        self.lift = orthogonal_linear(keys[-1], sum(widths), out_size, HIDDEN_GAIN)
        self.k = k
        self.out_size = out_size

    def __call__(self, points: jax.Array, mask: jax.Array | None = None) -> jax.Array:
        k = min(self.k, points.shape[0])
        x = points
        outputs = []
        for layer in self.edge_layers:
            neighbours = knn_indices(x, k, mask)  # rebuilt in feature space: the dynamic graph
            centre = jnp.broadcast_to(x[:, None, :], (x.shape[0], k, x.shape[1]))
            edge = jnp.concatenate([centre, x[neighbours] - centre], axis=-1)  # (N, k, 2C)
            h = jax.nn.relu(jax.vmap(jax.vmap(layer))(edge))
            if mask is not None:
                h = jnp.where(mask[neighbours][..., None], h, -jnp.inf)
            x = jnp.max(h, axis=1)
            x = jnp.where(jnp.isfinite(x), x, 0.0)
            outputs.append(x)
        lifted = jax.nn.relu(jax.vmap(self.lift)(jnp.concatenate(outputs, axis=-1)))
        return masked_max_pool(lifted, mask)
