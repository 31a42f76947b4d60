"""Procedural rooms: a floor, four walls and up to K primitive objects, generated from a key inside jit.

What it reproduces: the kind of room an embodied-AI benchmark (Habitat, AI2-THOR) drops an agent
into, reduced to analytic primitives so that a sensor can ray-cast it exactly in JAX
(``sensor.py``) and MuJoCo can ray-cast the same scene as geoms (the reference in the tests).

What it simplifies: objects stand on the floor upright (a heading about the vertical axis, no
tilt); there is no ceiling; objects never touch (placement rejects any pair whose bounding
circles come closer than a margin), so "on top of" relations do not exist.

Every scene has the same array shapes (``max_objects`` slots with a mask), so batches of scenes
``vmap`` and a scene can live inside an environment state.

Conventions: z is up, the room is the square ``[-L, L]^2`` on the floor ``z = 0``. An object's
``position`` is the centre of its bounding box and ``size`` its half-extents ``(hx, hy, hz)``:
a box is exactly that box (rotated by ``heading``), a sphere has radius ``hx`` (= ``hy`` = ``hz``),
a cylinder radius ``hx`` and half-height ``hz``, a cone a base of radius ``hx`` at the bottom and
its apex ``2 hz`` above.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from seuseuro.errors import UserError

SHAPE_CLASSES: tuple[str, ...] = ("box", "sphere", "cylinder", "cone")
"""Object shape classes, in class-index order."""

COLOUR_NAMES: tuple[str, ...] = ("red", "green", "blue", "yellow", "purple", "orange", "white", "black")
COLOUR_RGB = jnp.array(
    [
        [0.85, 0.15, 0.15],
        [0.20, 0.70, 0.25],
        [0.20, 0.35, 0.85],
        [0.95, 0.85, 0.20],
        [0.55, 0.25, 0.70],
        [0.95, 0.55, 0.10],
        [0.95, 0.95, 0.95],
        [0.10, 0.10, 0.10],
    ],
    dtype=jnp.float32,
)


def shape_index(name: str) -> int:
    """Class index of a shape name; a :class:`UserError` naming the known shapes otherwise."""
    if name not in SHAPE_CLASSES:
        raise UserError(f"unknown shape class {name!r}; choose from {', '.join(SHAPE_CLASSES)}")
    return SHAPE_CLASSES.index(name)


class Scene(NamedTuple):
    """One room. Leading batch axes are allowed (a vmapped generator returns ``(B, ...)`` leaves)."""

    half_extent: jax.Array  # ()    room is [-L, L]^2, metres
    wall_height: jax.Array  # ()    metres
    shape: jax.Array  # (K,)  int32 index into SHAPE_CLASSES
    position: jax.Array  # (K, 3) centre of the bounding box, metres
    size: jax.Array  # (K, 3) half-extents (hx, hy, hz), metres
    heading: jax.Array  # (K,)  rotation about +z, radians
    colour: jax.Array  # (K,)  int32 index into COLOUR_NAMES
    mask: jax.Array  # (K,)  bool: slot holds an object

    @property
    def max_objects(self) -> int:
        return self.shape.shape[-1]


@dataclasses.dataclass(frozen=True)
class SceneConfig:
    """How rooms are generated."""

    max_objects: int = 8
    """Number of object slots K (array size; unused slots are masked). Usual range 4-16."""
    min_objects: int = 3
    """Fewest objects placed; the count is uniform in [min_objects, max_objects] (fewer only if
    placement fails, which is rare below ~10 objects in a 6 m room)."""
    half_extent: float = 3.0
    """Half the side of the square room, metres (3.0 -> a 6 m x 6 m room)."""
    wall_height: float = 2.5
    """Height of the walls, metres."""
    shapes: tuple[str, ...] = SHAPE_CLASSES
    """Shape classes objects are drawn from (uniformly). Any subset of SHAPE_CLASSES."""
    min_size: float = 0.15
    """Smallest half-extent of an object, metres."""
    max_size: float = 0.45
    """Largest half-extent of an object, metres (heights go up to twice this)."""
    margin: float = 0.3
    """Minimum free gap between the bounding circles of two objects and between an object and a
    wall, metres. A gap wider than an agent lets it pass between objects."""
    placement_tries: int = 24
    """Candidate placements tried per object slot (rejection sampling, all done in parallel)."""

    def __post_init__(self) -> None:
        for name in self.shapes:
            shape_index(name)
        if not self.shapes:
            raise UserError("SceneConfig.shapes is empty; give at least one of " + ", ".join(SHAPE_CLASSES))
        if not 1 <= self.min_objects <= self.max_objects:
            raise UserError(f"need 1 <= min_objects <= max_objects, got {self.min_objects} and {self.max_objects}")
        if not 0 < self.min_size <= self.max_size:
            raise UserError(f"need 0 < min_size <= max_size, got {self.min_size} and {self.max_size}")
        if self.half_extent <= 2 * (self.max_size * 1.5 + self.margin):
            raise UserError(
                f"half_extent {self.half_extent} is too small for objects up to {self.max_size} m; enlarge it"
            )
        if self.placement_tries < 1:
            raise UserError(f"placement_tries must be >= 1, got {self.placement_tries}")

    @property
    def shape_ids(self) -> tuple[int, ...]:
        return tuple(SHAPE_CLASSES.index(s) for s in self.shapes)


def footprint_radius(shape: jax.Array, size: jax.Array) -> jax.Array:
    """Radius of the circle that bounds an object's footprint on the floor: (...,) from (...), (..., 3)."""
    box_radius = jnp.sqrt(size[..., 0] ** 2 + size[..., 1] ** 2)
    return jnp.where(shape == SHAPE_CLASSES.index("box"), box_radius, size[..., 0])


def footprint_distance(point_xy: jax.Array, scene: Scene) -> jax.Array:
    """Distance on the floor from a point (2,) to each object's footprint, (K,); 0 inside, inf if masked.

    Boxes use their rotated rectangle; round shapes their base circle (a cone's base is its widest part).
    """
    rel = point_xy - scene.position[:, :2]
    c, s = jnp.cos(scene.heading), jnp.sin(scene.heading)
    local_x = c * rel[:, 0] + s * rel[:, 1]
    local_y = -s * rel[:, 0] + c * rel[:, 1]
    outside = jnp.maximum(jnp.abs(jnp.stack([local_x, local_y], -1)) - scene.size[:, :2], 0.0)
    box_distance = jnp.linalg.norm(outside, axis=-1)
    round_distance = jnp.maximum(jnp.linalg.norm(rel, axis=-1) - scene.size[:, 0], 0.0)
    distance = jnp.where(scene.shape == SHAPE_CLASSES.index("box"), box_distance, round_distance)
    return jnp.where(scene.mask, distance, jnp.inf)


def _candidate_sizes(key: jax.Array, shape: jax.Array, config: SceneConfig) -> jax.Array:
    """Half-extents (..., 3) for candidate objects of the given classes."""
    a, b, c = jax.random.uniform(key, (3, *shape.shape), minval=config.min_size, maxval=config.max_size)
    box = jnp.stack([a, b, c * 1.5], -1)
    sphere = jnp.stack([a, a, a], -1)
    upright = jnp.stack([a, a, c * 1.5], -1)  # cylinder and cone: radius a, half-height up to 1.5 max_size
    is_box = (shape == SHAPE_CLASSES.index("box"))[..., None]
    is_sphere = (shape == SHAPE_CLASSES.index("sphere"))[..., None]
    return jnp.where(is_box, box, jnp.where(is_sphere, sphere, upright))


@functools.partial(jax.jit, static_argnames=("config",))
def generate_scene(key: jax.Array, config: SceneConfig = SceneConfig()) -> Scene:
    """A random room, deterministic per key; jit- and vmap-able (``config`` is static).

    Objects are placed one slot at a time: each slot draws ``placement_tries`` candidates at once
    and keeps the first whose bounding circle clears the walls and every object already placed by
    ``margin``; a slot with no valid candidate (or beyond the drawn object count) is masked out.
    """
    k, t = config.max_objects, config.placement_tries
    k_count, k_shape, k_size, k_pos, k_head, k_col = jax.random.split(key, 6)
    count = jax.random.randint(k_count, (), config.min_objects, config.max_objects + 1)
    shape_ids = jnp.array(config.shape_ids, dtype=jnp.int32)
    shape = shape_ids[jax.random.randint(k_shape, (k, t), 0, len(config.shape_ids))]
    size = _candidate_sizes(k_size, shape, config)  # (K, T, 3)
    radius = footprint_radius(shape, size)  # (K, T)
    reach = config.half_extent - radius - config.margin  # the centre keeps this far inside the walls
    xy = jax.random.uniform(k_pos, (k, t, 2), minval=-1.0, maxval=1.0) * reach[..., None]
    heading = jax.random.uniform(k_head, (k, t), minval=-jnp.pi, maxval=jnp.pi)

    def place(carry, slot):
        placed_xy, placed_radius, placed_mask = carry
        gap = jnp.linalg.norm(xy[slot][:, None, :] - placed_xy[None, :, :], axis=-1)  # (T, K)
        clear = (gap >= radius[slot][:, None] + placed_radius[None, :] + config.margin) | ~placed_mask[None]
        ok = jnp.all(clear, axis=1)
        choice = jnp.argmax(ok)
        active = ok[choice] & (slot < count)
        placed_xy = placed_xy.at[slot].set(xy[slot, choice])
        placed_radius = placed_radius.at[slot].set(radius[slot, choice])
        placed_mask = placed_mask.at[slot].set(active)
        return (placed_xy, placed_radius, placed_mask), choice

    init = (jnp.zeros((k, 2)), jnp.zeros((k,)), jnp.zeros((k,), dtype=bool))
    (_, _, mask), choice = jax.lax.scan(place, init, jnp.arange(k))
    rows = jnp.arange(k)
    chosen_size = size[rows, choice]
    chosen_xy = xy[rows, choice]
    position = jnp.concatenate([chosen_xy, chosen_size[:, 2:3]], axis=-1)  # resting on the floor
    return Scene(
        half_extent=jnp.asarray(config.half_extent, jnp.float32),
        wall_height=jnp.asarray(config.wall_height, jnp.float32),
        shape=shape[rows, choice],
        position=position,
        size=chosen_size,
        heading=heading[rows, choice],
        colour=jax.random.randint(k_col, (k,), 0, len(COLOUR_NAMES)),
        mask=mask,
    )


def make_scene(
    objects: list[tuple[str, tuple[float, float, float], tuple[float, float, float], float]],
    *,
    max_objects: int | None = None,
    half_extent: float = 3.0,
    wall_height: float = 2.5,
) -> Scene:
    """A scene written by hand: ``objects`` is a list of ``(shape, centre, half_extents, heading)``.

    Used by tests and scripted examples; colours cycle through COLOUR_NAMES.
    """
    k = len(objects) if max_objects is None else max_objects
    if len(objects) > k:
        raise UserError(f"{len(objects)} objects do not fit in max_objects={k}; raise max_objects")
    pad = k - len(objects)
    shapes = [shape_index(o[0]) for o in objects] + [0] * pad
    return Scene(
        half_extent=jnp.asarray(half_extent, jnp.float32),
        wall_height=jnp.asarray(wall_height, jnp.float32),
        shape=jnp.array(shapes, jnp.int32),
        position=jnp.array([o[1] for o in objects] + [(0.0, 0.0, 0.0)] * pad, jnp.float32).reshape(k, 3),
        size=jnp.array([o[2] for o in objects] + [(1.0, 1.0, 1.0)] * pad, jnp.float32).reshape(k, 3),
        heading=jnp.array([o[3] for o in objects] + [0.0] * pad, jnp.float32),
        colour=jnp.arange(k, dtype=jnp.int32) % len(COLOUR_NAMES),
        mask=jnp.arange(k) < len(objects),
    )
