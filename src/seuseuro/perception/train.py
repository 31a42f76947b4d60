"""Supervised training of a point-cloud classifier on procedural shapes, generated batch by batch.

The whole loop (data generation, forward, backward, Adam) is one compiled ``lax.scan`` per chunk of
steps; the data never leaves the device and is never repeated (an infinite training set, so
held-out accuracy measures generalization over new random shapes, scales and rotations).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from seuseuro.envs.scene3d.shapes import ShapeDatasetConfig, shape_batch
from seuseuro.errors import UserError
from seuseuro.perception.dgcnn import EdgeConvEncoder
from seuseuro.perception.pointnet import PointCloudClassifier, PointNetEncoder


@dataclasses.dataclass(frozen=True)
class ClassifierTrainConfig:
    """Training of a shape classifier."""

    encoder: Literal["pointnet", "edgeconv"] = "pointnet"
    """Point-cloud encoder: PointNet (global max-pool) or DGCNN-style EdgeConv (local k-NN)."""
    steps: int = 4000
    """Gradient steps. PointNet reaches 98% held-out on the six families in 4000 steps of 32 (90% at 1500)."""
    batch_size: int = 32
    """Clouds per step."""
    learning_rate: float = 1e-3
    """Adam step size (PointNet: 1e-3), cosine-decayed to 0 over training."""
    eval_size: int = 2000
    """Held-out clouds for the final accuracy (drawn from a key never used in training)."""
    data: ShapeDatasetConfig = ShapeDatasetConfig(num_points=128)
    """The procedural dataset."""

    def __post_init__(self) -> None:
        if self.encoder not in ("pointnet", "edgeconv"):
            raise UserError(f"unknown encoder {self.encoder!r}; choose 'pointnet' or 'edgeconv'")
        if self.steps < 1 or self.batch_size < 1 or self.eval_size < 1:
            raise UserError("steps, batch_size and eval_size must all be >= 1")


def make_classifier(key: jax.Array, config: ClassifierTrainConfig) -> PointCloudClassifier:
    k_enc, k_head = jax.random.split(key)
    encoder = PointNetEncoder(k_enc) if config.encoder == "pointnet" else EdgeConvEncoder(k_enc)
    return PointCloudClassifier(k_head, encoder, config.data.num_classes)


def accuracy(model: PointCloudClassifier, clouds: jax.Array, labels: jax.Array, chunk: int = 250) -> jax.Array:
    """Fraction of clouds (M, N, 3) classified as ``labels`` (M,), evaluated in chunks."""
    predict = eqx.filter_jit(lambda m, x: jnp.argmax(jax.vmap(m)(x), axis=-1))
    correct = sum(
        int(jnp.sum(predict(model, clouds[i : i + chunk]) == labels[i : i + chunk]))
        for i in range(0, clouds.shape[0], chunk)
    )
    return jnp.asarray(correct / clouds.shape[0])


def train_shape_classifier(
    key: jax.Array, config: ClassifierTrainConfig, chunk: int = 100
) -> tuple[PointCloudClassifier, dict[str, float]]:
    """Train from scratch; returns the model and {"train/loss", "eval/accuracy"}."""
    k_model, k_train, k_eval = jax.random.split(key, 3)
    model = make_classifier(k_model, config)
    schedule = optax.cosine_decay_schedule(config.learning_rate, config.steps)
    tx = optax.adam(schedule)
    params, static = eqx.partition(model, eqx.is_array)
    opt_state = tx.init(params)

    def loss_fn(p, clouds, labels):
        logits = jax.vmap(eqx.combine(p, static))(clouds)
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    @functools.partial(jax.jit, static_argnames="n")
    def run(p, o, k, n):
        def step(carry, k_step):
            p, o = carry
            clouds, labels = shape_batch(k_step, config.batch_size, config.data)
            loss, grads = jax.value_and_grad(loss_fn)(p, clouds, labels)
            updates, o = tx.update(grads, o, p)
            return (optax.apply_updates(p, updates), o), loss

        (p, o), losses = jax.lax.scan(step, (p, o), jax.random.split(k, n))
        return p, o, losses.mean()

    loss = jnp.nan
    done = 0
    while done < config.steps:
        n = min(chunk, config.steps - done)
        params, opt_state, loss = run(params, opt_state, jax.random.fold_in(k_train, done), n)
        done += n
    model = eqx.combine(params, static)
    clouds, labels = shape_batch(k_eval, config.eval_size, config.data)
    return model, {"train/loss": float(loss), "eval/accuracy": float(accuracy(model, clouds, labels))}
