"""Shape classification on the fly: single-object point clouds of procedural shape families.

What it reproduces: the ModelNet40 classification setting of PointNet (Qi et al. 2017) —
points sampled on an object's surface, centred and scaled into the unit sphere, augmented by a
random rotation about the vertical axis, anisotropic scaling and jitter — with the objects drawn
from parametric families instead of downloaded CAD models, so the dataset is infinite, needs no
download and every batch is generated inside jit from a key.

What it simplifies: six families (box, sphere, cylinder, cone, torus, pyramid) instead of 40
categories; sampling is uniform by area except on the torus (uniform in its two angles). For real
ModelNet ``.off`` files see ``modelnet.py``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Literal

import jax
import jax.numpy as jnp

from seuseuro.errors import UserError

SHAPE_FAMILIES: tuple[str, ...] = ("box", "sphere", "cylinder", "cone", "torus", "pyramid")


@dataclasses.dataclass(frozen=True)
class ShapeDatasetConfig:
    """How single-object point clouds are generated."""

    num_points: int = 256
    """Points per cloud. PointNet used 1024 on ModelNet40; 128-512 is plenty for these families."""
    families: tuple[str, ...] = SHAPE_FAMILIES
    """Shape families (the classes, in label order)."""
    min_scale: float = 0.6
    """Smallest per-axis scale factor (anisotropic scaling augmentation), before normalization."""
    max_scale: float = 1.4
    """Largest per-axis scale factor."""
    noise: float = 0.02
    """Std of Gaussian jitter added to every point, in units of the unit sphere (PointNet: 0.01)."""
    rotation: Literal["z", "so3", "none"] = "z"
    """Random rotation: about the vertical axis (the ModelNet convention), any rotation, or none."""

    def __post_init__(self) -> None:
        if self.num_points < 1:
            raise UserError(f"num_points must be >= 1, got {self.num_points}")
        if not self.families:
            raise UserError("families is empty; give at least one of " + ", ".join(SHAPE_FAMILIES))
        for name in self.families:
            if name not in SHAPE_FAMILIES:
                raise UserError(f"unknown shape family {name!r}; choose from {', '.join(SHAPE_FAMILIES)}")
        if not 0 < self.min_scale <= self.max_scale:
            raise UserError(f"need 0 < min_scale <= max_scale, got {self.min_scale}, {self.max_scale}")
        if self.noise < 0:
            raise UserError(f"noise must be >= 0, got {self.noise}")
        if self.rotation not in ("z", "so3", "none"):
            raise UserError(f"unknown rotation {self.rotation!r}; choose 'z', 'so3' or 'none'")

    @property
    def num_classes(self) -> int:
        return len(self.families)


def _pick(key: jax.Array, probs: list[float], n: int) -> jax.Array:
    return jax.random.choice(key, len(probs), (n,), p=jnp.array(probs) / sum(probs))


def _on_triangles(key: jax.Array, triangles: jax.Array, n: int) -> jax.Array:
    """n points uniform on a set of triangles (T, 3, 3), each triangle chosen by its area."""
    k_tri, k_uv = jax.random.split(key)
    area = 0.5 * jnp.linalg.norm(
        jnp.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0]), axis=-1
    )
    tri = triangles[jax.random.choice(k_tri, triangles.shape[0], (n,), p=area / area.sum())]
    u, v = jax.random.uniform(k_uv, (2, n, 1))
    su = jnp.sqrt(u)  # uniform barycentrics (Osada et al. 2002)
    return (1 - su) * tri[:, 0] + su * (1 - v) * tri[:, 1] + su * v * tri[:, 2]


def _box(key, n):
    k_face, k_uv = jax.random.split(key)
    face = jax.random.randint(k_face, (n,), 0, 6)
    uv = jax.random.uniform(k_uv, (n, 2), minval=-1.0, maxval=1.0)
    axis, sign = face // 2, jnp.where(face % 2 == 0, -1.0, 1.0)
    full = jnp.concatenate([uv, sign[:, None]], axis=1)  # (u, v, +-1)
    return jax.vmap(lambda p, a: jnp.roll(p, a + 1))(full, axis)  # moves the +-1 onto `axis`


def _sphere(key, n):
    p = jax.random.normal(key, (n, 3))
    return p / jnp.linalg.norm(p, axis=1, keepdims=True)


def _cylinder(key, n):
    k_part, k_a, k_b = jax.random.split(key, 3)
    part = _pick(k_part, [4 * math.pi, math.pi, math.pi], n)  # side (r=1, h=2), two caps
    angle = jax.random.uniform(k_a, (n,), maxval=2 * math.pi)
    t = jax.random.uniform(k_b, (n,))
    radius = jnp.where(part == 0, 1.0, jnp.sqrt(t))
    z = jnp.where(part == 0, 2 * t - 1, jnp.where(part == 1, 1.0, -1.0))
    return jnp.stack([radius * jnp.cos(angle), radius * jnp.sin(angle), z], axis=1)


def _cone(key, n):
    k_part, k_a, k_b = jax.random.split(key, 3)
    part = _pick(k_part, [math.pi * math.sqrt(5.0), math.pi], n)  # lateral (r=1, h=2), base
    angle = jax.random.uniform(k_a, (n,), maxval=2 * math.pi)
    u = jnp.sqrt(jax.random.uniform(k_b, (n,)))  # area grows with the square of the distance from the apex
    z = jnp.where(part == 0, 1.0 - 2.0 * u, -1.0)
    return jnp.stack([u * jnp.cos(angle), u * jnp.sin(angle), z], axis=1)


def _torus(key, n):
    a, b = jax.random.uniform(key, (2, n), maxval=2 * math.pi)
    major, minor = 0.7, 0.3
    ring = major + minor * jnp.cos(b)
    return jnp.stack([ring * jnp.cos(a), ring * jnp.sin(a), minor * jnp.sin(b)], axis=1)


_PYRAMID = jnp.array(
    [
        [[-1, -1, -1], [1, -1, -1], [1, 1, -1]],
        [[-1, -1, -1], [1, 1, -1], [-1, 1, -1]],
        [[-1, -1, -1], [1, -1, -1], [0, 0, 1]],
        [[1, -1, -1], [1, 1, -1], [0, 0, 1]],
        [[1, 1, -1], [-1, 1, -1], [0, 0, 1]],
        [[-1, 1, -1], [-1, -1, -1], [0, 0, 1]],
    ],
    jnp.float32,
)


def _pyramid(key, n):
    return _on_triangles(key, _PYRAMID, n)


_SAMPLERS = {"box": _box, "sphere": _sphere, "cylinder": _cylinder, "cone": _cone, "torus": _torus, "pyramid": _pyramid}


def random_rotation(key: jax.Array, mode: str) -> jax.Array:
    """A (3, 3) rotation: about z, uniform over SO(3) (QR of a Gaussian matrix), or the identity."""
    if mode == "none":
        return jnp.eye(3)
    if mode == "z":
        a = jax.random.uniform(key, (), maxval=2 * math.pi)
        c, s = jnp.cos(a), jnp.sin(a)
        return jnp.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    q, r = jnp.linalg.qr(jax.random.normal(key, (3, 3)))
    q = q * jnp.sign(jnp.diag(r))[None, :]
    return q * jnp.sign(jnp.linalg.det(q))  # a proper rotation (det +1)


def normalize_cloud(points: jax.Array) -> jax.Array:
    """Centre a cloud (N, 3) at its centroid and scale it into the unit sphere (ModelNet preprocessing)."""
    centred = points - points.mean(axis=0)
    return centred / jnp.maximum(jnp.max(jnp.linalg.norm(centred, axis=1)), 1e-9)


def sample_shape(key: jax.Array, label: jax.Array, config: ShapeDatasetConfig) -> jax.Array:
    """One augmented, normalized cloud (num_points, 3) of family ``config.families[label]``."""
    k_surf, k_scale, k_rot, k_noise = jax.random.split(key, 4)
    n = config.num_points
    clouds = jnp.stack([_SAMPLERS[name](k_surf, n) for name in config.families])
    points = clouds[label]
    scale = jax.random.uniform(k_scale, (3,), minval=config.min_scale, maxval=config.max_scale)
    points = (points * scale) @ random_rotation(k_rot, config.rotation).T
    points = normalize_cloud(points)
    return points + config.noise * jax.random.normal(k_noise, points.shape)


@functools.partial(jax.jit, static_argnames=("batch_size", "config"))
def shape_batch(key: jax.Array, batch_size: int, config: ShapeDatasetConfig) -> tuple[jax.Array, jax.Array]:
    """A batch of clouds (B, N, 3) and their labels (B,), classes uniform."""
    k_label, k_cloud = jax.random.split(key)
    labels = jax.random.randint(k_label, (batch_size,), 0, config.num_classes)
    clouds = jax.vmap(sample_shape, in_axes=(0, 0, None))(jax.random.split(k_cloud, batch_size), labels, config)
    return clouds, labels
