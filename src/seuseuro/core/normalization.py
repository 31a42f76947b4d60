"""Running mean / variance (batched Welford / Chan et al. parallel update) for observation and
reward normalization. Pure functions over a small NamedTuple so the statistics live in an
environment state (JAX-native) or a collector state (Gymnasium bridge), are checkpointed with
the TrainState and vmapped over seeds.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


class RunningMeanStd(NamedTuple):
    mean: jax.Array
    var: jax.Array
    count: jax.Array  # scalar float


def init_running_stats(shape: tuple[int, ...]) -> RunningMeanStd:
    # count starts at a tiny epsilon as in SB3/Gymnasium so the first update is well defined.
    return RunningMeanStd(jnp.zeros(shape, jnp.float32), jnp.ones(shape, jnp.float32), jnp.asarray(1e-4))


def update_running_stats(stats: RunningMeanStd, batch: jax.Array) -> RunningMeanStd:
    """Merge the moments of ``batch`` (leading axis = samples) into ``stats`` (Chan et al. 1979)."""
    batch = batch.astype(jnp.float32)
    batch_mean = batch.mean(axis=0)
    batch_var = batch.var(axis=0)
    batch_count = batch.shape[0]
    delta = batch_mean - stats.mean
    total = stats.count + batch_count
    mean = stats.mean + delta * batch_count / total
    m2 = stats.var * stats.count + batch_var * batch_count + delta**2 * stats.count * batch_count / total
    return RunningMeanStd(mean, m2 / total, total)


def normalize(stats: RunningMeanStd, x: jax.Array, clip: float = 10.0, eps: float = 1e-8) -> jax.Array:
    return jnp.clip((x - stats.mean) / jnp.sqrt(stats.var + eps), -clip, clip)
