"""Ray-cast sensors for procedural rooms: a pinhole depth camera, a 360-degree lidar, point clouds.

What it reproduces: what a depth camera / lidar returns in a simulator — per ray the distance to
the first surface, the instance id and semantic class of what was hit — computed analytically
against the primitives of ``scene.py`` (box, sphere, cylinder, cone, floor, walls), vectorized over
rays with ``vmap`` and over environments with an outer ``vmap``. MuJoCo's ``mj_multiRay`` on the
same scene built from geoms agrees to 1e-4 m (tests/envs/scene3d/test_sensor.py) for the shapes
MuJoCo has (it has no cone).

Convention (the same as MuJoCo's ray functions): a ray returns its nearest surface point at
distance ``t >= 0``; a ray that starts inside an object hits that object's surface from inside.
Rays that hit nothing within ``max_range`` (through the open ceiling, or beyond the range) report
``max_range`` with ``hit = False``.

What it simplifies: no noise model, no lens distortion, no reflectance. Every ray is tested against
every object of its room, once, with its shape's formula only (boxes in one pass, round shapes in a
second; empty slots skipped): ``K`` objects cost ``K`` interval tests a ray, fine for the ~10 objects
of a room. No bounding-volume culling: vectorized code evaluates every lane anyway, so a
bounding-sphere reject (MuJoCo's) saves nothing unless rays are compacted per object, which costs
gathers (BENCHMARKS.md, "Ray casting").
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from seuseuro.envs.scene3d.scene import COLOUR_RGB, SHAPE_CLASSES, Scene
from seuseuro.errors import UserError

FLOOR_LABEL = len(SHAPE_CLASSES)
"""Semantic label of the floor (object classes come first)."""
WALL_LABEL = len(SHAPE_CLASSES) + 1
"""Semantic label of the walls."""
MISS_LABEL = -1
"""Semantic label (and object id) of a ray that hits nothing."""
NUM_LABELS = len(SHAPE_CLASSES) + 2
FLOOR_RGB = jnp.array([0.55, 0.55, 0.55], jnp.float32)
WALL_RGB = jnp.array([0.85, 0.80, 0.70], jnp.float32)

_EPS = 1e-9


class RayHits(NamedTuple):
    """What a batch of rays hit; all leaves have the rays' leading shape ``(...)``."""

    distance: jax.Array  # (...)  metres along the ray, max_range when nothing is hit
    hit: jax.Array  # (...)  bool
    object_id: jax.Array  # (...)  int32 slot of the object hit, -1 for floor, walls and misses
    label: jax.Array  # (...)  int32 shape class, FLOOR_LABEL, WALL_LABEL or MISS_LABEL


# ---------------------------------------------------------------------------------------------
# Ray-primitive intersections. Each takes one ray (origin (3,), unit direction (3,)) in the
# primitive's own frame and returns the nearest t >= 0 on its surface, or inf.
# ---------------------------------------------------------------------------------------------


def _first_nonnegative(candidates: jax.Array, valid: jax.Array) -> jax.Array:
    ok = valid & (candidates >= 0.0)
    return jnp.min(jnp.where(ok, candidates, jnp.inf))


def _safe(x: jax.Array) -> jax.Array:
    """Keep a denominator away from zero, preserving its sign (a parallel ray gives +-huge, not nan)."""
    return jnp.where(jnp.abs(x) < _EPS, jnp.where(x < 0, -_EPS, _EPS), x)


def _off_zero(x: jax.Array) -> jax.Array:
    """:func:`_safe` in 3 operations instead of 5, for the scene path: a denominator within 1e-9 of zero
    becomes +1e-9 whatever its sign; the slab and root formulas below only take its magnitude or
    reach +-1e9 m with either sign, far beyond any max_range."""
    return jnp.where(jnp.abs(x) < _EPS, _EPS, x)


def _quadratic_roots(a: jax.Array, half_b: jax.Array, c: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Roots of a t^2 + 2 half_b t + c = 0 and whether they are real.

    The stable form (q = -(half_b + sign(half_b) sqrt(disc)); t = q / a and c / q) keeps float32
    accurate for grazing rays and degrades gracefully to the linear root c / (-2 half_b) as a -> 0
    (a ray parallel to a cone's side), where the other root goes to +-inf.
    """
    disc = half_b * half_b - a * c
    sqrt_disc = jnp.sqrt(jnp.maximum(disc, 0.0))
    q = -(half_b + jnp.where(half_b >= 0, sqrt_disc, -sqrt_disc))
    return q / _safe(a), c / _safe(q), disc >= 0.0


def ray_box(origin: jax.Array, direction: jax.Array, half: jax.Array) -> jax.Array:
    """Axis-aligned box centred at 0 with half-extents ``half`` (3,): slab method (Kay & Kajiya 1986)."""
    inv = 1.0 / _safe(direction)
    t_a = (-half - origin) * inv
    t_b = (half - origin) * inv
    t_near = jnp.max(jnp.minimum(t_a, t_b))
    t_far = jnp.min(jnp.maximum(t_a, t_b))
    hits = t_near <= t_far
    return _first_nonnegative(jnp.stack([t_near, t_far]), jnp.stack([hits, hits]))


def ray_sphere(origin: jax.Array, direction: jax.Array, radius: jax.Array) -> jax.Array:
    """Sphere of ``radius`` centred at 0."""
    # Sums of products rather than jnp.dot: no TF32 dot on a GPU (see `rotate`).
    t1, t2, real = _quadratic_roots(
        jnp.sum(direction * direction), jnp.sum(origin * direction), jnp.sum(origin * origin) - radius**2
    )
    return _first_nonnegative(jnp.stack([t1, t2]), jnp.stack([real, real]))


def ray_cylinder(origin: jax.Array, direction: jax.Array, radius: jax.Array, half_height: jax.Array) -> jax.Array:
    """Capped cylinder along z centred at 0: side (quadratic in x, y) and two disc caps."""
    ox, oy, oz = origin
    dx, dy, dz = direction
    t1, t2, real = _quadratic_roots(dx * dx + dy * dy, ox * dx + oy * dy, ox * ox + oy * oy - radius**2)
    side_ok = real & (jnp.abs(dx) + jnp.abs(dy) > _EPS)
    caps = (jnp.stack([-half_height, half_height]) - oz) / _safe(dz)
    cap_x, cap_y = ox + caps * dx, oy + caps * dy
    cap_ok = (cap_x**2 + cap_y**2 <= radius**2) & (jnp.abs(dz) > _EPS)
    t = jnp.stack([t1, t2, caps[0], caps[1]])
    z = oz + t * dz
    valid = jnp.stack(
        [side_ok & (jnp.abs(z[0]) <= half_height), side_ok & (jnp.abs(z[1]) <= half_height), cap_ok[0], cap_ok[1]]
    )
    return _first_nonnegative(t, valid)


def ray_cone(origin: jax.Array, direction: jax.Array, radius: jax.Array, half_height: jax.Array) -> jax.Array:
    """Upright cone centred at 0: base disc of ``radius`` at z = -h, apex at z = +h (h = half_height).

    Lateral surface: x^2 + y^2 = k^2 (h - z)^2 with k = radius / (2 h), kept for -h <= z <= h (which
    also discards the mirrored upper nappe).
    """
    ox, oy, oz = origin
    dx, dy, dz = direction
    k2 = (radius / (2.0 * half_height)) ** 2
    w = half_height - oz  # height of the apex above the origin
    t1, t2, real = _quadratic_roots(
        dx * dx + dy * dy - k2 * dz * dz, ox * dx + oy * dy + k2 * w * dz, ox * ox + oy * oy - k2 * w * w
    )
    z1, z2 = oz + t1 * dz, oz + t2 * dz
    t_base = (-half_height - oz) / _safe(dz)
    base_ok = ((ox + t_base * dx) ** 2 + (oy + t_base * dy) ** 2 <= radius**2) & (jnp.abs(dz) > _EPS)
    valid = jnp.stack([real & (jnp.abs(z1) <= half_height), real & (jnp.abs(z2) <= half_height), base_ok])
    return _first_nonnegative(jnp.stack([t1, t2, t_base]), valid)


def ray_room(
    origin: jax.Array, direction: jax.Array, half_extent: jax.Array, wall_height: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Floor (z = 0) and the four walls (|x| = L or |y| = L, 0 <= z <= wall_height) seen from inside.

    Returns (t, label) with label FLOOR_LABEL or WALL_LABEL; t = inf when the ray leaves over the walls.
    """
    # elementwise in x, y, z (no stack, all or min over axes), so that origin (3, ...) and direction
    # (3, N) rows cast N rays as one fused loop (:func:`_ray_room_batch`)
    (ox, oy, oz), (dx, dy, dz) = origin, direction
    t_floor = jnp.where(dz < 0, -oz / _safe(dz), jnp.inf)
    floor_ok = (jnp.abs(ox + t_floor * dx) <= half_extent + 1e-6) & (jnp.abs(oy + t_floor * dy) <= half_extent + 1e-6)
    floor_ok = floor_ok & (t_floor >= 0)

    def wall(o, d):
        plane = jnp.where(d >= 0, half_extent, -half_extent)
        return jnp.where(jnp.abs(d) > _EPS, (plane - o) / _safe(d), jnp.inf)

    t_wall = jnp.minimum(wall(ox, dx), wall(oy, dy))
    z_wall = oz + t_wall * dz
    wall_ok = (z_wall >= 0.0) & (z_wall <= wall_height) & (t_wall >= 0)
    t_floor = jnp.where(floor_ok, t_floor, jnp.inf)
    t_wall = jnp.where(wall_ok, t_wall, jnp.inf)
    label = jnp.where(t_floor <= t_wall, FLOOR_LABEL, WALL_LABEL)
    return jnp.minimum(t_floor, t_wall), label


class _Objects(NamedTuple):
    """Per-object constants of one scene, (K,) each, computed once per cast instead of once per ray.

    Every object is the convex set {|z| <= hz} ∩ (box: |x|, |y| <= hx, hy in its own frame;
    round: the quadric x^2 + y^2 + alpha (z - apex)^2 + gamma <= 0, relative to its centre).
    """

    centre: jax.Array  # (K, 3)
    cos: jax.Array  # (K,) heading, used by boxes only (round shapes are symmetric about z)
    sin: jax.Array  # (K,)
    half_x: jax.Array  # (K,) box half-extents in its own frame
    half_y: jax.Array  # (K,)
    half_z: jax.Array  # (K,) slab |z| <= half_z that clips every shape (a sphere's is its radius)
    alpha: jax.Array  # (K,) quadric: sphere 1, cylinder 0, cone -k^2 (k = r / 2h)
    apex: jax.Array  # (K,) cone h (its apex), else 0
    gamma: jax.Array  # (K,) sphere and cylinder -r^2, cone 0
    is_box: jax.Array  # (K,) bool
    present: jax.Array  # (K,) bool, the scene's mask


def _objects(scene: Scene) -> _Objects:
    radius, h = scene.size[..., 0], scene.size[..., 2]
    is_sphere = scene.shape == SHAPE_CLASSES.index("sphere")
    is_cone = scene.shape == SHAPE_CLASSES.index("cone")
    k2 = (radius / (2.0 * h)) ** 2
    return _Objects(
        centre=scene.position,
        cos=jnp.cos(scene.heading),
        sin=jnp.sin(scene.heading),
        half_x=scene.size[..., 0],
        half_y=scene.size[..., 1],
        half_z=jnp.where(is_sphere, radius, h),
        alpha=jnp.where(is_sphere, 1.0, jnp.where(is_cone, -k2, 0.0)),
        apex=jnp.where(is_cone, h, 0.0),
        gamma=jnp.where(is_cone, 0.0, -(radius**2)),
        is_box=scene.shape == SHAPE_CLASSES.index("box"),
        present=scene.mask,
    )


# Every object is a convex set {|z| <= hz} ∩ (box slabs or a quadric's inside): a ray meets it on an
# interval [t_near, t_far] (the intersection of the slabs' and the quadric's intervals, as in Kay &
# Kajiya's slab method), and the surface nearest at t >= 0 is t_near, or t_far from inside. That is one
# formula per ray-object pair, where the previous caster evaluated 2-4 candidate roots per primitive
# with a validity test each. Both functions below take ONE object's constants (scalars), the ray
# origin relative to its centre as rows ``rel`` (3,) when every ray shares it (a camera, a lidar: each
# origin-only term is then one scalar) or (3, N), directions as rows (3, N) (contiguous x, y and z:
# an (N, 3) array's columns are strided loads that XLA:CPU does not vectorize as well) and 1 / dz (N,).


def _slab_interval(rel_z: jax.Array, inv_dz: jax.Array, half_z: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The z slab |z| <= half_z in centre +- half-width form: 2 multiplies and 2 adds per pair."""
    mid, half = -rel_z * inv_dz, half_z * jnp.abs(inv_dz)
    return mid - half, mid + half


def _nearest_in_interval(near: jax.Array, far: jax.Array, ok: jax.Array) -> jax.Array:
    """t_near, or t_far from inside; inf on a miss."""
    return jnp.where(ok & (near <= far) & (far >= 0.0), jnp.where(near >= 0.0, near, far), jnp.inf)


def _ray_box_object(rel: jax.Array, directions: jax.Array, inv_dz: jax.Array, obj: _Objects) -> jax.Array:
    """Distances (N,) to one box turned by its heading: x, y slabs in its frame, and the z slab."""
    rx, ry, rz = rel[0], rel[1], rel[2]
    dx, dy = directions[0], directions[1]
    local_x, local_y = obj.cos * rx + obj.sin * ry, obj.cos * ry - obj.sin * rx
    local_dx, local_dy = _off_zero(obj.cos * dx + obj.sin * dy), _off_zero(obj.cos * dy - obj.sin * dx)
    inv_xy = 1.0 / (local_dx * local_dy)  # one division for both slabs
    inv_x, inv_y = local_dy * inv_xy, local_dx * inv_xy
    x_mid, x_half = -local_x * inv_x, obj.half_x * jnp.abs(inv_x)
    y_mid, y_half = -local_y * inv_y, obj.half_y * jnp.abs(inv_y)
    z_near, z_far = _slab_interval(rz, inv_dz, obj.half_z)
    near = jnp.maximum(jnp.maximum(x_mid - x_half, y_mid - y_half), z_near)
    far = jnp.minimum(jnp.minimum(x_mid + x_half, y_mid + y_half), z_far)
    return _nearest_in_interval(near, far, obj.present)


def _ray_round_object(rel: jax.Array, directions: jax.Array, inv_dz: jax.Array, obj: _Objects) -> jax.Array:
    """Distances (N,) to one sphere, cylinder or cone: the quadric's inside, clipped by the z slab."""
    rx, ry, rz = rel[0], rel[1], rel[2]
    dx, dy, dz = directions[0], directions[1], directions[2]
    # roots of a t^2 + 2 b t + c (stable form, see _quadratic_roots); a is kept off zero so that a
    # ray parallel to a cylinder's axis or a cone's side gets a +-huge root (the linear case), not nan
    a = _off_zero(dx * dx + dy * dy + obj.alpha * (dz * dz))
    alpha_z = obj.alpha * (rz - obj.apex)  # centred on a cone's apex: float32 loses ~2x less than expanded
    half_b = rx * dx + ry * dy + alpha_z * dz
    c = rx * rx + ry * ry + alpha_z * (rz - obj.apex) + obj.gamma  # origin only: a scalar if shared
    disc = half_b * half_b - a * c
    sqrt_disc = jnp.sqrt(jnp.maximum(disc, 0.0))
    q = -(half_b + jnp.where(half_b >= 0, sqrt_disc, -sqrt_disc))
    # one division for both roots; a q is legitimately tiny (a ray along a cylinder's axis from inside
    # has a ~ 1e-9, q ~ 1e-5), so only an exact 0 (then c = 0 too: both roots 0) is replaced
    a_q = a * q
    inv_aq = 1.0 / jnp.where(a_q == 0.0, 1.0, a_q)
    root_1, root_2 = q * q * inv_aq, c * a * inv_aq
    lo, hi = jnp.minimum(root_1, root_2), jnp.maximum(root_1, root_2)
    # a < 0 only for a cone's steep rays: inside the double cone is t <= lo or t >= hi; the lower nappe
    # (the cone; the z slab ends at the apex) is the piece before lo going up, after hi going down
    up = dz > 0
    steep = a < 0
    round_near = jnp.where(steep, jnp.where(up, -jnp.inf, hi), lo)
    round_far = jnp.where(steep, jnp.where(up, lo, jnp.inf), hi)
    z_near, z_far = _slab_interval(rz, inv_dz, obj.half_z)
    return _nearest_in_interval(
        jnp.maximum(z_near, round_near), jnp.minimum(z_far, round_far), obj.present & (disc >= 0)
    )


def _as_rows(origins: jax.Array, directions: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Origins (3,) or rows (3, N), direction rows (3, N) and 1 / dz (N,) from (N, 3) inputs."""
    rows = directions.T
    return (origins if origins.ndim == 1 else origins.T), rows, 1.0 / _off_zero(rows[2])


def _relative(origins: jax.Array, centre: jax.Array) -> jax.Array:
    return origins - (centre if origins.ndim == 1 else centre[:, None])


def ray_objects(origins: jax.Array, directions: jax.Array, scene: Scene) -> jax.Array:
    """Distances (N, K) along N unit rays (directions (N, 3); origins (N, 3) or one shared (3,)) to
    each of one scene's K objects: the nearest surface point at t >= 0, inf on a miss or a masked slot.

    Both formulas for every pair (a table for tests and analysis); :func:`cast_rays` does not use it.
    """
    origins, rows, inv_dz = _as_rows(origins, directions)

    def one(obj: _Objects) -> jax.Array:
        rel = _relative(origins, obj.centre)
        box, round_ = _ray_box_object(rel, rows, inv_dz, obj), _ray_round_object(rel, rows, inv_dz, obj)
        return jnp.where(obj.is_box, box, round_)

    return jax.vmap(one, out_axes=-1)(_objects(scene))


_CHUNK_RAYS = 65536
"""Rays per chunk of rooms in :func:`_nearest_in_rooms`: (rooms, rays) float32 rows of 256 KB, which
stay in a core's L2 cache; 1024 rooms of 1024 rays in one piece (4 MB rows) ran ~1.5x slower."""


def _sweep(origins, rows, inv_dz, obj: _Objects, order, count, intersect, carry):
    """Test each room's ``count`` objects listed first in ``order`` (C, K) with ``intersect``, keeping
    the nearest: one loop step per object, all C rooms at once; a room with fewer objects than the
    chunk's largest count masks its surplus steps (``present`` False).

    The objects' constants are packed into one (C, K, 12) table in loop order before the loop, so a
    step reads its object with one slice (a gather per constant and step cost ~20% at one room).
    """
    columns = [obj.centre, *(x[..., None] for x in obj[1:-2]), order.astype(jnp.float32)[..., None]]
    table = jnp.take_along_axis(jnp.concatenate(columns[:-1], axis=-1), order[..., None], axis=1)
    table = jnp.concatenate([table, columns[-1]], axis=-1)  # (C, K, 12); the last column: the slot

    def step(i, carry):
        best_t, best_slot = carry
        row = jax.lax.dynamic_index_in_dim(table, i, axis=1, keepdims=False)  # (C, 12)
        one = _Objects(row[:, :3], *(row[:, j] for j in range(3, 11)), is_box=None, present=i < count)
        slot = row[:, 11].astype(jnp.int32)
        test = lambda o, r, iz, ob: intersect(_relative(o, ob.centre), r, iz, ob)  # noqa: E731
        t = jax.vmap(test)(origins, rows, inv_dz, one)
        nearer = (t < best_t) | ((t == best_t) & (slot[:, None] < best_slot))  # the lowest slot wins a tie
        return jnp.where(nearer, t, best_t), jnp.where(nearer, slot[:, None], best_slot)

    return jax.lax.fori_loop(0, jnp.max(count), step, carry)


def _in_view(origins: jax.Array, rows: jax.Array, obj: _Objects) -> jax.Array:
    """(C, K): whether any of a room's rays, all from one origin (C, 3), may reach each object.

    Bounding-volume culling at the level of a room's whole ray bundle: the rays lie in a cone (their
    mean direction, opened to the widest ray), each object in the sphere around its bounding box; an
    object whose sphere lies outside the cone is dropped from the loops (a depth camera's objects
    behind or beside it), so the loops are shorter, where a per-ray reject would save nothing in
    vectorized code (every lane computes anyway). A bundle wider than a hemisphere (a lidar) culls
    nothing. The test is conservative (a 2e-3 rad margin over float32's arccos error).
    """
    axis = jnp.sum(rows, axis=2)  # (C, 3)
    axis = axis / jnp.maximum(jnp.linalg.norm(axis, axis=1, keepdims=True), 1e-30)
    cos_spread = jnp.min(jnp.sum(rows * axis[:, :, None], axis=1), axis=1)  # (C,) the widest ray
    to_centre = obj.centre - origins[:, None]  # (C, K, 3)
    distance = jnp.linalg.norm(to_centre, axis=2)
    radius = jnp.sqrt(obj.half_x**2 + obj.half_y**2 + obj.half_z**2)
    cos_to = jnp.sum(to_centre * axis[:, None], axis=2) / jnp.maximum(distance, 1e-30)
    angle = jnp.arccos(jnp.clip(cos_to, -1.0, 1.0))
    reach = jnp.arccos(jnp.clip(cos_spread, -1.0, 1.0))[:, None] + jnp.arcsin(jnp.clip(radius / distance, 0.0, 1.0))
    return (distance <= radius) | (angle <= reach + 2e-3) | (cos_spread <= 0.0)[:, None]


def _nearest_in_rooms(origins: jax.Array, directions: jax.Array, scene: Scene) -> tuple[jax.Array, jax.Array]:
    """:func:`_nearest_object` for C rooms at once (leading axis C on every argument): (C, N) each.

    Per-shape passes: each room's present objects are listed boxes first, then one loop runs the box
    formula over the boxes only and a second the quadric over the round shapes only, with a running
    minimum. So no ray evaluates a formula it discards and empty slots (and, for rays sharing an
    origin, objects outside the bundle: :func:`_in_view`) cost nothing, with the scene's layout (K
    slots holding any mix of shapes) unchanged; the trip counts are the chunk's largest numbers of
    boxes and of round shapes (one room: its ~3-8 objects once each).
    """
    obj = jax.vmap(_objects)(scene)
    origins = origins if origins.ndim == 2 else jnp.swapaxes(origins, 1, 2)  # shared (C, 3) or rows (C, 3, N)
    rows = jnp.swapaxes(directions, 1, 2)
    inv_dz = 1.0 / _off_zero(rows[:, 2])
    present = obj.present & _in_view(origins, rows, obj) if origins.ndim == 2 else obj.present
    boxes, rounds = present & obj.is_box, present & ~obj.is_box
    carry = (jnp.full(rows[:, 0].shape, jnp.inf), jnp.zeros(rows[:, 0].shape, jnp.int32))
    for members, intersect in [(boxes, _ray_box_object), (rounds, _ray_round_object)]:
        order = jnp.argsort(~members, axis=1, stable=True).astype(jnp.int32)
        carry = _sweep(origins, rows, inv_dz, obj, order, jnp.sum(members, axis=1), intersect, carry)
    return carry


def _broadcast_unbatched(axis_size: int, in_batched, args):
    return [
        jax.tree.map(lambda x, batched: x if batched else jnp.broadcast_to(x, (axis_size, *x.shape)), arg, flags)
        for arg, flags in zip(args, in_batched, strict=True)
    ]


@jax.custom_batching.custom_vmap
def _nearest_in_batch(origins: jax.Array, directions: jax.Array, scene: Scene) -> tuple[jax.Array, jax.Array]:
    """:func:`_nearest_in_rooms` over any number B of rooms, in chunks of ~_CHUNK_RAYS rays."""
    b, n = directions.shape[:2]
    # chunks are for a CPU's caches; a GPU wants every ray at once (its lanes would idle on a chunk)
    chunk = max(1, _CHUNK_RAYS // n) if jax.default_backend() == "cpu" else b
    if b <= chunk:
        return _nearest_in_rooms(origins, directions, scene)
    pad = -b % chunk  # the last room repeated, results dropped

    def split(x):
        return jnp.concatenate([x, jnp.repeat(x[-1:], pad, 0)]).reshape((-1, chunk, *x.shape[1:]))

    t, slot = jax.lax.map(lambda a: _nearest_in_rooms(*a), jax.tree.map(split, (origins, directions, scene)))
    return t.reshape(-1, n)[:b], slot.reshape(-1, n)[:b]


@_nearest_in_batch.def_vmap
def _nearest_in_batch_vmap(axis_size: int, in_batched, *args):
    """A vmap over a batch of rooms folds into the batch: (A, B, ...) -> (A * B, ...)."""
    args = _broadcast_unbatched(axis_size, in_batched, args)
    inner = args[1].shape[1]
    t, slot = _nearest_in_batch(*jax.tree.map(lambda x: x.reshape((axis_size * inner, *x.shape[2:])), args))
    return (t.reshape(axis_size, inner, -1), slot.reshape(axis_size, inner, -1)), (True, True)


@jax.custom_batching.custom_vmap
def _nearest_object(origins: jax.Array, directions: jax.Array, scene: Scene) -> tuple[jax.Array, jax.Array]:
    """Per ray (N,): distance to the nearest object (inf if none) and its slot (the lowest on a tie).

    ``custom_vmap`` so that a vmap over rooms (and vmaps nested in it) reaches
    :func:`_nearest_in_batch` as ONE explicit batch: the loops' trip counts are then plain numbers (the
    largest per chunk), not per-room ones that JAX would batch into a while loop selecting every
    room's carry at every step, and a large batch is cut into cache-sized chunks. Measured against one
    pass computing every formula for the whole (N, K) table and an argmin (which XLA:CPU split into
    ~11 fusions over (N, K) arrays and ran as a slow variadic reduce): BENCHMARKS.md, "Ray casting".
    No reverse-mode derivative (nothing differentiates through the sensor).
    """
    t, slot = _nearest_in_batch(origins[None], directions[None], jax.tree.map(lambda x: x[None], scene))
    return t[0], slot[0]


@_nearest_object.def_vmap
def _nearest_object_vmap(axis_size: int, in_batched, *args):
    return _nearest_in_batch(*_broadcast_unbatched(axis_size, in_batched, args)), (True, True)


def _ray_room_batch(origins: jax.Array, directions: jax.Array, half_extent: jax.Array, wall_height: jax.Array):
    """:func:`ray_room` for N rays at once, (N,) distances and labels."""
    return ray_room(origins.T if origins.ndim == 2 else origins, directions.T, half_extent, wall_height)


@functools.partial(jax.jit, static_argnames=("max_range",))
def cast_rays(origins: jax.Array, directions: jax.Array, scene: Scene, max_range: float = 20.0) -> RayHits:
    """Rays (..., 3) from ``origins`` (..., 3) or one shared origin (3,) against one scene.

    For a batch of scenes, ``jax.vmap`` this over the scene (and the rays).
    """
    if directions.ndim < 1 or directions.shape[-1] != 3:
        raise UserError(f"ray directions must have shape (..., 3), got {directions.shape}")
    if directions.size == 0:
        raise UserError("no rays to cast (zero rays); give at least one direction")
    flat_d = directions.reshape(-1, 3)
    flat_d = flat_d / jnp.linalg.norm(flat_d, axis=-1, keepdims=True)
    flat_o = origins if origins.ndim == 1 else jnp.broadcast_to(origins, directions.shape).reshape(-1, 3)
    t_object, nearest = _nearest_object(flat_o, flat_d, scene)  # (N,) each
    t_room, room_label = _ray_room_batch(flat_o, flat_d, scene.half_extent, scene.wall_height)
    object_first = t_object < t_room
    t = jnp.minimum(t_object, t_room)
    hit = t <= max_range
    label = jnp.where(object_first, scene.shape[nearest], room_label)
    flat = RayHits(
        distance=jnp.where(hit, t, max_range).astype(jnp.float32),
        hit=hit,
        object_id=jnp.where(hit & object_first, nearest, -1).astype(jnp.int32),
        label=jnp.where(hit, label, MISS_LABEL).astype(jnp.int32),
    )
    return jax.tree.map(lambda x: x.reshape(directions.shape[:-1]), flat)


# ---------------------------------------------------------------------------------------------
# Sensors
# ---------------------------------------------------------------------------------------------


def sensor_to_world(yaw: jax.Array, pitch: jax.Array) -> jax.Array:
    """Sensor-to-world rotation: pitch about the sensor's y (left) axis, then yaw about world z."""
    cy, sy, cp, sp = jnp.cos(yaw), jnp.sin(yaw), jnp.cos(pitch), jnp.sin(pitch)
    yaw_m = jnp.array([[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]])
    pitch_m = jnp.array([[cp, 0.0, -sp], [0.0, 1.0, 0.0], [sp, 0.0, cp]])  # positive pitch looks up
    return jnp.matmul(yaw_m, pitch_m, precision=jax.lax.Precision.HIGHEST)


def rotate(vectors: jax.Array, rotation: jax.Array) -> jax.Array:
    """``vectors`` (..., 3) turned by ``rotation`` (3, 3), at full float32 precision.

    Why HIGHEST: a GPU's default float32 matmul (TF32, 10-bit mantissa) bent the depth camera's rays
    enough to misplace a wall 3 m away by 2e-4 m on an H200 (issue 9), twice the 1e-4 m the sensor
    promises against MuJoCo's ray caster (issue 13). A 3x3 product costs nothing at any precision.
    """
    return jnp.matmul(vectors, rotation.T, precision=jax.lax.Precision.HIGHEST)


@dataclasses.dataclass(frozen=True)
class CameraConfig:
    """A pinhole depth camera. The camera looks along its +x axis, +y to its left, +z up."""

    width: int = 64
    """Image width in pixels (rays per row). 16-128 is typical here."""
    height: int = 48
    """Image height in pixels."""
    fov_y: float = 60.0
    """Vertical field of view, degrees (Habitat's default camera: 90 horizontal)."""
    max_range: float = 10.0
    """Farthest distance measured, metres; further surfaces read as max_range with hit False."""

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1:
            raise UserError(f"camera needs at least one pixel (zero rays), got {self.width}x{self.height}")
        if not 0.0 < self.fov_y < 180.0:
            raise UserError(f"fov_y must be in (0, 180) degrees, got {self.fov_y}")
        if self.max_range <= 0:
            raise UserError(f"max_range must be positive, got {self.max_range}")

    @property
    def focal(self) -> float:
        """Focal length in pixels."""
        return 0.5 * self.height / math.tan(math.radians(self.fov_y) / 2)


def camera_directions(config: CameraConfig) -> jax.Array:
    """Unit ray directions (H, W, 3) in the camera frame, through pixel centres."""
    u = jnp.arange(config.width) + 0.5 - config.width / 2
    v = jnp.arange(config.height) + 0.5 - config.height / 2
    vv, uu = jnp.meshgrid(v, u, indexing="ij")
    d = jnp.stack([jnp.full_like(uu, config.focal), -uu, -vv], axis=-1)
    return d / jnp.linalg.norm(d, axis=-1, keepdims=True)


class DepthImage(NamedTuple):
    depth: jax.Array  # (H, W) distance along the optical axis (z-depth), max_range where nothing is hit
    hits: RayHits  # (H, W) per pixel: ray distance, hit, object id, semantic label
    points: jax.Array  # (H, W, 3) world coordinates of the surface seen by each pixel


@functools.partial(jax.jit, static_argnames=("config",))
def render_depth(
    scene: Scene, position: jax.Array, yaw: jax.Array, pitch: jax.Array, config: CameraConfig
) -> DepthImage:
    """Depth camera at ``position`` (3,) turned by ``yaw`` (about z) and ``pitch`` (radians, + up)."""
    local = camera_directions(config)
    world = rotate(local, sensor_to_world(yaw, pitch))
    hits = cast_rays(position, world, scene, config.max_range)
    depth = jnp.where(hits.hit, hits.distance * local[..., 0], config.max_range)
    return DepthImage(depth=depth, hits=hits, points=position + hits.distance[..., None] * world)


@dataclasses.dataclass(frozen=True)
class LidarConfig:
    """A spinning lidar: ``num_azimuth`` rays over 360 degrees on each of a few elevation rings."""

    num_azimuth: int = 64
    """Rays per ring, evenly spaced over 360 degrees starting straight ahead, counter-clockwise."""
    elevations: tuple[float, ...] = (-15.0, 0.0, 15.0)
    """Elevation of each ring, degrees above horizontal."""
    max_range: float = 10.0
    """Farthest distance measured, metres."""

    def __post_init__(self) -> None:
        if self.num_azimuth < 1 or not self.elevations:
            raise UserError(
                f"lidar needs at least one ray (zero rays), got num_azimuth={self.num_azimuth} "
                f"and {len(self.elevations)} elevations"
            )
        if self.max_range <= 0:
            raise UserError(f"max_range must be positive, got {self.max_range}")

    @property
    def num_rays(self) -> int:
        return self.num_azimuth * len(self.elevations)


def lidar_directions(config: LidarConfig) -> jax.Array:
    """Unit directions (E * A, 3) in the sensor frame, ring by ring."""
    azimuth = jnp.arange(config.num_azimuth) * (2 * jnp.pi / config.num_azimuth)
    elevation = jnp.deg2rad(jnp.array(config.elevations))
    el, az = jnp.meshgrid(elevation, azimuth, indexing="ij")
    d = jnp.stack([jnp.cos(el) * jnp.cos(az), jnp.cos(el) * jnp.sin(az), jnp.sin(el)], axis=-1)
    return d.reshape(-1, 3)


class PointCloud(NamedTuple):
    """A fixed-size point cloud: one point per ray, ``mask`` False where the ray hit nothing."""

    xyz: jax.Array  # (N, 3) metres
    mask: jax.Array  # (N,) bool
    label: jax.Array  # (N,) int32 semantic label (shape class, FLOOR_LABEL, WALL_LABEL, MISS_LABEL)
    object_id: jax.Array  # (N,) int32, -1 off objects
    rgb: jax.Array  # (N, 3) colour of the surface hit, in [0, 1]


def surface_rgb(scene: Scene, hits: RayHits) -> jax.Array:
    """Colour (..., 3) of the surface each ray hit (objects' own colours, grey floor, beige walls)."""
    obj = COLOUR_RGB[scene.colour[jnp.maximum(hits.object_id, 0)]]
    room = jnp.where((hits.label == FLOOR_LABEL)[..., None], FLOOR_RGB, WALL_RGB)
    rgb = jnp.where((hits.object_id >= 0)[..., None], obj, room)
    return jnp.where(hits.hit[..., None], rgb, 0.0)


@functools.partial(jax.jit, static_argnames=("config", "frame"))
def scan_lidar(
    scene: Scene, position: jax.Array, yaw: jax.Array, config: LidarConfig, *, frame: str = "world"
) -> PointCloud:
    """A 360-degree lidar scan from ``position`` (3,) facing ``yaw`` as a point cloud.

    ``frame="sensor"`` expresses points relative to the sensor (x ahead, y left, z up), the usual
    input of a policy; ``"world"`` in room coordinates.
    """
    local = lidar_directions(config)
    rotation = sensor_to_world(yaw, jnp.zeros(()))
    world = rotate(local, rotation)
    hits = cast_rays(position, world, scene, config.max_range)
    if frame == "sensor":
        xyz = hits.distance[:, None] * local
    elif frame == "world":
        xyz = position + hits.distance[:, None] * world
    else:
        raise UserError(f"unknown frame {frame!r}; choose 'world' or 'sensor'")
    return PointCloud(
        xyz=jnp.where(hits.hit[:, None], xyz, 0.0),
        mask=hits.hit,
        label=hits.label,
        object_id=hits.object_id,
        rgb=surface_rgb(scene, hits),
    )


@jax.jit
def depth_point_cloud(scene: Scene, image: DepthImage) -> PointCloud:
    """The depth image's pixels as a world-frame point cloud (H * W points)."""
    hits = jax.tree.map(lambda x: x.reshape(-1), image.hits)
    return PointCloud(
        xyz=jnp.where(hits.hit[:, None], image.points.reshape(-1, 3), 0.0),
        mask=hits.hit,
        label=hits.label,
        object_id=hits.object_id,
        rgb=surface_rgb(scene, hits),
    )
