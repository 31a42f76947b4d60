import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seuseuro.envs.scene3d.scene import SHAPE_CLASSES, SceneConfig, footprint_distance, generate_scene, make_scene
from seuseuro.envs.scene3d.sensor import (
    FLOOR_LABEL,
    MISS_LABEL,
    WALL_LABEL,
    CameraConfig,
    LidarConfig,
    cast_rays,
    depth_point_cloud,
    ray_box,
    ray_cone,
    ray_cylinder,
    ray_objects,
    ray_room,
    ray_sphere,
    render_depth,
    scan_lidar,
)
from seuseuro.errors import UserError

# The every-formula table, jitted: called eagerly it compiled each of its ~100 ops on its own,
# ~2 s a test (issue 9); rooms of the same size and ray counts share the program.
_table = jax.jit(ray_objects)

S2 = np.sqrt(2.0)
X = (1.0, 0.0, 0.0)
DOWN = (0.0, 0.0, -1.0)
UP = (0.0, 0.0, 1.0)


def _t(fn, origin, direction, *args):
    d = jnp.array(direction, jnp.float32)
    return float(fn(jnp.array(origin, jnp.float32), d / jnp.linalg.norm(d), *args))


# Unit primitives centred at the origin; every expected distance below is worked out by hand.
@pytest.mark.parametrize(
    "origin, direction, expected",
    [
        ((-3, 0, 0), X, 2.0),  # hit the face x = -1
        ((-3, 2, 0), X, np.inf),  # miss: passes beside
        ((0, 0, 0), X, 1.0),  # inside: leaves through x = +1
        ((-3, -1, 0), (1, 1, 0), 2 * S2),  # grazing: touches the edge at (-1, 1)
        ((0, 0, 3), DOWN, 2.0),  # top face
        ((3, 0, 0), X, np.inf),  # behind the ray
    ],
)
def test_ray_box(origin, direction, expected):
    assert _t(ray_box, origin, direction, jnp.ones(3)) == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize(
    "origin, direction, expected",
    [
        ((-3, 0, 0), X, 2.0),
        ((-3, 1.5, 0), X, np.inf),
        ((0, 0.5, 0), X, np.sqrt(0.75)),  # inside: exits where x^2 + 0.25 = 1
        ((-3, 1, 0), X, 3.0),  # grazing: tangent at (0, 1, 0)
        ((2, 2, 2), (-1, -1, -1), 2 * np.sqrt(3) - 1),
    ],
)
def test_ray_sphere(origin, direction, expected):
    assert _t(ray_sphere, origin, direction, 1.0) == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize(
    "origin, direction, expected",
    [
        ((-3, 0, 0), X, 2.0),  # side
        ((0.5, 0, 3), DOWN, 2.0),  # top cap
        ((0.5, 0, -3), UP, 2.0),  # bottom cap
        ((-3, 0, 1.5), X, np.inf),  # above
        ((1.5, 0, 3), DOWN, np.inf),  # beside, vertical
        ((0, 0, 0), X, 1.0),  # inside
        ((-3, 0, 1), X, 2.0),  # grazing the rim of the top cap
        ((-3, 0, 3), (1, 0, -1), 2 * S2),  # grazing: meets the rim at (-1, 0, 1)
    ],
)
def test_ray_cylinder(origin, direction, expected):
    assert _t(ray_cylinder, origin, direction, 1.0, 1.0) == pytest.approx(expected, abs=1e-5)


# Cone: base radius 1 at z = -1, apex at z = +1, so the radius at height z is (1 - z) / 2.
@pytest.mark.parametrize(
    "origin, direction, expected",
    [
        ((-3, 0, 0), X, 2.5),  # side at z = 0 where the radius is 0.5
        ((0, 0, 3), DOWN, 2.0),  # the apex
        ((0, 0, -3), UP, 2.0),  # the base
        ((-3, 0, 1.5), X, np.inf),  # above the apex
        ((0, 0, -0.5), X, 0.75),  # inside: radius 0.75 at z = -0.5
        ((-3, 0.5, 0), X, 3.0),  # grazing: tangent to the circle of radius 0.5 at z = 0
        ((0.9, 0, 3), DOWN, 3.8),  # the side at x = 0.9 is at z = 1 - 2 * 0.9 = -0.8
        ((1.1, 0, 3), DOWN, np.inf),  # beside the base
    ],
)
def test_ray_cone(origin, direction, expected):
    assert _t(ray_cone, origin, direction, 1.0, 1.0) == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize(
    "direction, expected, label",
    [
        (X, 3.0, WALL_LABEL),
        (DOWN, 1.0, FLOOR_LABEL),
        (UP, np.inf, None),  # open ceiling
        ((1, 0, 1), np.inf, None),  # reaches x = 3 at z = 4, above the 2.5 m wall
        ((1, 0, 0.3), 3.0 * np.sqrt(1.09), WALL_LABEL),  # meets the wall at z = 1.9
        ((1, 0, -1), S2, FLOOR_LABEL),
    ],
)
def test_ray_room(direction, expected, label):
    d = jnp.array(direction, jnp.float32)
    t, lab = ray_room(jnp.array([0.0, 0.0, 1.0]), d / jnp.linalg.norm(d), jnp.array(3.0), jnp.array(2.5))
    assert float(t) == pytest.approx(expected, abs=1e-5)
    if label is not None:
        assert int(lab) == label


def test_scene_rays_report_nearest_object_id_and_label():
    scene = make_scene(
        [
            ("sphere", (1.5, 0.0, 0.5), (0.5, 0.5, 0.5), 0.0),
            ("box", (-1.5, 0.0, 0.5), (0.5, 0.5, 0.5), 0.3),
            ("cone", (0.0, 1.5, 0.5), (0.5, 0.5, 0.5), 0.0),
        ],
        max_objects=4,
    )
    dirs = jnp.array([X, (-1, 0, 0), (0, 1, 0), UP, (0, -1, 0)], jnp.float32)
    hits = cast_rays(jnp.array([0.0, 0.0, 0.5]), dirs, scene, max_range=20.0)
    np.testing.assert_allclose(np.asarray(hits.distance)[[0, 2, 3, 4]], [1.0, 1.25, 20.0, 3.0], atol=1e-5)
    np.testing.assert_array_equal(np.asarray(hits.object_id), [0, 1, 2, -1, -1])
    np.testing.assert_array_equal(np.asarray(hits.label), [SHAPE_CLASSES.index("sphere"), 0, 3, MISS_LABEL, WALL_LABEL])
    np.testing.assert_array_equal(np.asarray(hits.hit), [True, True, True, False, True])
    # the box (centre 1.5 m away) is turned by 0.3 rad: its near face, 0.5 m from its centre along its
    # own axis, is met at 1.5 - 0.5 / cos(0.3)
    assert float(hits.distance[1]) == pytest.approx(1.5 - 0.5 / np.cos(0.3), abs=1e-5)
    short = cast_rays(jnp.array([0.0, 0.0, 0.5]), dirs, scene, max_range=1.1)
    np.testing.assert_array_equal(np.asarray(short.hit), [True, True, False, False, False])


def test_depth_camera_sees_a_wall_at_constant_z_depth_and_points_on_it():
    scene = make_scene([("box", (-2.0, -2.0, 0.2), (0.2, 0.2, 0.2), 0.0)], max_objects=2)
    config = CameraConfig(width=8, height=6, fov_y=40.0)
    image = render_depth(scene, jnp.array([0.0, 0.0, 1.25]), jnp.array(0.0), jnp.array(0.0), config)
    np.testing.assert_allclose(np.asarray(image.depth), 3.0, atol=1e-5)  # the wall x = 3 fills the view
    np.testing.assert_allclose(np.asarray(image.points[..., 0]), 3.0, atol=1e-5)
    assert np.all(np.asarray(image.hits.label) == WALL_LABEL)
    # facing +y after a quarter turn: the wall y = 3
    turned = render_depth(scene, jnp.array([0.0, 0.0, 1.25]), jnp.array(np.pi / 2), jnp.array(0.0), config)
    np.testing.assert_allclose(np.asarray(turned.points[..., 1]), 3.0, atol=1e-5)
    # looking down: the top rows see the wall, the bottom rows the floor
    down = render_depth(scene, jnp.array([0.0, 0.0, 1.25]), jnp.array(0.0), jnp.array(-0.5), config)
    labels = np.asarray(down.hits.label)
    assert np.all(labels[-1] == FLOOR_LABEL)
    cloud = depth_point_cloud(scene, down)
    floor = np.asarray(cloud.label) == FLOOR_LABEL
    np.testing.assert_allclose(np.asarray(cloud.xyz)[floor, 2], 0.0, atol=1e-5)


def test_lidar_ring_in_an_empty_room():
    scene = make_scene([("sphere", (2.0, 2.0, 0.2), (0.2, 0.2, 0.2), 0.0)], max_objects=1)
    cloud = scan_lidar(scene, jnp.array([1.0, 0.0, 1.0]), jnp.array(0.0), LidarConfig(num_azimuth=4, elevations=(0.0,)))
    # ahead, left, behind, right: walls at 2, 3, 4, 3 metres
    np.testing.assert_allclose(np.asarray(cloud.xyz), [[3, 0, 1], [1, 3, 1], [-3, 0, 1], [1, -3, 1]], atol=1e-5)
    local = scan_lidar(
        scene,
        jnp.array([1.0, 0.0, 1.0]),
        jnp.array(np.pi),
        LidarConfig(num_azimuth=4, elevations=(0.0,)),
        frame="sensor",
    )
    np.testing.assert_allclose(np.asarray(local.xyz), [[4, 0, 0], [0, 3, 0], [-2, 0, 0], [0, -3, 0]], atol=1e-5)


def test_vmaps_over_a_batch_of_scenes():
    config = SceneConfig()
    scenes = jax.vmap(lambda k: generate_scene(k, config))(jax.random.split(jax.random.key(0), 3))
    lidar = LidarConfig(num_azimuth=16, elevations=(0.0,))
    clouds = jax.jit(jax.vmap(lambda s: scan_lidar(s, jnp.array([0.0, 0.0, 0.3]), jnp.array(0.0), lidar)))(scenes)
    assert clouds.xyz.shape == (3, 16, 3)
    one = scan_lidar(jax.tree.map(lambda x: x[1], scenes), jnp.array([0.0, 0.0, 0.3]), jnp.array(0.0), lidar)
    np.testing.assert_allclose(np.asarray(clouds.xyz[1]), np.asarray(one.xyz), atol=1e-5)


def test_agrees_with_mujoco_ray_casting():
    from seuseuro.envs.scene3d.mujoco_reference import MujocoRayCaster

    config = SceneConfig(shapes=("box", "sphere", "cylinder"), max_objects=8, min_objects=6)
    rng = np.random.default_rng(0)
    cast = jax.jit(lambda o, d, s: cast_rays(o, d, s, 20.0))
    compared = 0
    for seed in range(4):
        scene = generate_scene(jax.random.key(seed), config)
        reference = MujocoRayCaster(scene)
        geom_to_slot = np.flatnonzero(np.asarray(scene.mask))
        for _ in range(3):
            while True:  # an origin on free floor, at a random height
                origin = np.append(rng.uniform(-2.8, 2.8, 2), rng.uniform(0.1, 2.0))
                if float(jnp.min(footprint_distance(jnp.array(origin[:2]), scene))) > 0.05:
                    break
            dirs = rng.normal(size=(512, 3))
            dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
            ours = cast(jnp.array(origin, jnp.float32), jnp.array(dirs, jnp.float32), scene)
            dist, geom = reference.distances(origin, dirs, 20.0)
            hit = dist >= 0
            np.testing.assert_array_equal(np.asarray(ours.hit), hit)
            np.testing.assert_allclose(np.asarray(ours.distance)[hit], dist[hit], atol=1e-4)
            on_object = geom >= 5
            expected_id = np.where(on_object, geom_to_slot[np.maximum(geom - 5, 0)], -1)
            np.testing.assert_array_equal(np.asarray(ours.object_id)[hit], expected_id[hit])
            compared += int(hit.sum())
    assert compared > 4000


def test_mujoco_reference_refuses_cones():
    from seuseuro.envs.scene3d.mujoco_reference import scene_to_mjcf

    with pytest.raises(UserError, match="cone"):
        scene_to_mjcf(make_scene([("cone", (0, 0, 0.5), (0.5, 0.5, 0.5), 0.0)]))


def test_zero_rays_is_a_user_error():
    scene = make_scene([("box", (0, 0, 0.5), (0.5, 0.5, 0.5), 0.0)])
    with pytest.raises(UserError, match="zero rays"):
        cast_rays(jnp.zeros(3), jnp.zeros((0, 3)), scene)
    with pytest.raises(UserError, match="zero rays"):
        LidarConfig(num_azimuth=0)
    with pytest.raises(UserError, match="zero rays"):
        CameraConfig(width=0)


def test_scene_path_agrees_with_each_primitive():
    rng = np.random.default_rng(1)
    origins = rng.uniform(-2.5, 2.5, (400, 3))
    dirs = rng.normal(size=(400, 3))
    dirs[:50, :2] = 0.0  # vertical rays, the degenerate case of the cylinder's side
    dirs[50:100, 2] = 0.0  # horizontal rays, parallel to caps and the z slab
    origins[100:150] = rng.uniform(-0.3, 0.3, (50, 3))  # inside every shape
    dirs[150:300] = rng.uniform(-0.5, 0.5, (150, 3)) - origins[150:300]  # aimed near the centre
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    o, d = jnp.array(origins, jnp.float32), jnp.array(dirs, jnp.float32)
    for name, size, ref in [
        ("box", (0.6, 0.4, 0.9), lambda o, d: ray_box(o, d, jnp.array([0.6, 0.4, 0.9]))),
        ("sphere", (0.6, 0.6, 0.6), lambda o, d: ray_sphere(o, d, 0.6)),
        ("cylinder", (0.6, 0.6, 0.9), lambda o, d: ray_cylinder(o, d, 0.6, 0.9)),
        ("cone", (0.6, 0.6, 0.9), lambda o, d: ray_cone(o, d, 0.6, 0.9)),
    ]:
        scene = make_scene([(name, (0.0, 0.0, 0.0), size, 0.0)])
        ours = _table(o, d, scene)[:, 0]
        expected = jax.jit(jax.vmap(ref))(o, d)
        np.testing.assert_array_equal(np.isinf(np.asarray(ours)), np.isinf(np.asarray(expected)), err_msg=name)
        finite = np.isfinite(np.asarray(expected))
        np.testing.assert_allclose(np.asarray(ours)[finite], np.asarray(expected)[finite], atol=1e-4, err_msg=name)
        assert finite.sum() > 100, name


def test_turned_box_in_the_object_path_matches_the_turned_primitive():
    rng = np.random.default_rng(2)
    heading, centre, half = 0.7, np.array([0.4, -0.2, 0.5]), jnp.array([0.5, 0.2, 0.5])
    scene = make_scene([("box", tuple(centre), tuple(np.asarray(half)), heading)])
    origins = rng.uniform(-2.0, 2.0, (300, 3))
    dirs = centre + rng.uniform(-0.6, 0.6, (300, 3)) - origins  # most rays aimed at the box
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    c, s = np.cos(heading), np.sin(heading)
    to_local = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])  # world -> box frame
    expected = jax.jit(jax.vmap(lambda o, d: ray_box(o, d, half)))(
        jnp.array((origins - centre) @ to_local.T, jnp.float32), jnp.array(dirs @ to_local.T, jnp.float32)
    )
    ours = _table(jnp.array(origins, jnp.float32), jnp.array(dirs, jnp.float32), scene)[:, 0]
    np.testing.assert_allclose(np.asarray(ours), np.asarray(expected), atol=1e-4)
    assert np.isfinite(np.asarray(expected)).sum() > 100


# ---------------------------------------------------------------------------------------------
# The previous caster (every primitive formula per ray-object pair, then a select), kept as a
# reference: the interval caster must give the same distances, object ids and labels.
# ---------------------------------------------------------------------------------------------


def _previous_ray_round(origin, direction, shape, size):
    from seuseuro.envs.scene3d.sensor import _EPS, _first_nonnegative, _quadratic_roots, _safe

    radius, h = size[0], size[2]
    is_sphere = shape == SHAPE_CLASSES.index("sphere")
    is_cone = shape == SHAPE_CLASSES.index("cone")
    k2 = (radius / (2.0 * h)) ** 2
    alpha = jnp.where(is_sphere, 1.0, jnp.where(is_cone, -k2, 0.0))
    beta = jnp.where(is_cone, 2.0 * k2 * h, 0.0)
    gamma = jnp.where(is_sphere | ~is_cone, -(radius**2), -k2 * h * h)
    ox, oy, oz = origin
    dx, dy, dz = direction
    a = dx * dx + dy * dy + alpha * dz * dz
    half_b = ox * dx + oy * dy + alpha * oz * dz + 0.5 * beta * dz
    c = ox * ox + oy * oy + alpha * oz * oz + beta * oz + gamma
    t1, t2, real = _quadratic_roots(a, half_b, c)
    side_ok = real & ((jnp.abs(a) > _EPS) | (jnp.abs(half_b) > _EPS))
    clip = jnp.where(is_sphere, jnp.inf, h)
    caps = (jnp.stack([-h, h]) - oz) / _safe(dz)
    cap_ok = ((ox + caps * dx) ** 2 + (oy + caps * dy) ** 2 <= radius**2) & (jnp.abs(dz) > _EPS) & ~is_sphere
    cap_ok = cap_ok & jnp.stack([jnp.asarray(True), ~is_cone])
    t = jnp.stack([t1, t2, caps[0], caps[1]])
    valid = jnp.stack(
        [side_ok & (jnp.abs(oz + t1 * dz) <= clip), side_ok & (jnp.abs(oz + t2 * dz) <= clip), cap_ok[0], cap_ok[1]]
    )
    return _first_nonnegative(t, valid)


def _previous_ray_object(origin, direction, shape, position, size, heading):
    c, s = jnp.cos(heading), jnp.sin(heading)
    rel = origin - position
    local_o = jnp.array([c * rel[0] + s * rel[1], -s * rel[0] + c * rel[1], rel[2]])
    local_d = jnp.array([c * direction[0] + s * direction[1], -s * direction[0] + c * direction[1], direction[2]])
    is_box = shape == SHAPE_CLASSES.index("box")
    return jnp.where(is_box, ray_box(local_o, local_d, size), _previous_ray_round(local_o, local_d, shape, size))


@jax.jit
def _previous_cast_rays(origins, directions, scene):
    def one(origin, direction):
        direction = direction / jnp.linalg.norm(direction)
        t_objects = jax.vmap(_previous_ray_object, in_axes=(None, None, 0, 0, 0, 0))(
            origin, direction, scene.shape, scene.position, scene.size, scene.heading
        )
        t_objects = jnp.where(scene.mask, t_objects, jnp.inf)
        nearest = jnp.argmin(t_objects)
        t_room, room_label = ray_room(origin, direction, scene.half_extent, scene.wall_height)
        object_first = t_objects[nearest] < t_room
        t = jnp.minimum(t_objects[nearest], t_room)
        hit = t <= 20.0
        label = jnp.where(object_first, scene.shape[nearest], room_label)
        return jnp.where(hit, t, 20.0), jnp.where(hit & object_first, nearest, -1), jnp.where(hit, label, MISS_LABEL)

    return jax.vmap(one)(jnp.broadcast_to(origins, directions.shape), directions)


@pytest.mark.parametrize("shared_origin", [True, False])
def test_agrees_with_the_previous_caster_on_random_scenes(shared_origin):
    config = SceneConfig(max_objects=8, min_objects=6)  # all four shapes, cones included
    rng = np.random.default_rng(3)
    compared = 0
    for seed in range(6):
        scene = generate_scene(jax.random.key(seed), config)
        dirs = rng.normal(size=(1500, 3))
        dirs[:100, :2] = 0.0  # vertical
        dirs[100:200, 2] = 0.0  # horizontal
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        if shared_origin:
            origins = np.append(rng.uniform(-2.8, 2.8, 2), rng.uniform(0.05, 2.0))
        else:  # one origin per ray: some inside objects
            origins = rng.uniform([-2.8, -2.8, 0.05], [2.8, 2.8, 2.0], (1500, 3))
        o, d = jnp.array(origins, jnp.float32), jnp.array(dirs, jnp.float32)
        ours = cast_rays(o, d, scene, max_range=20.0)
        distance, object_id, label = (np.asarray(x) for x in _previous_cast_rays(o, d, scene))
        # float32 grazing hits can differ by ~2e-4 m (both sit that far from a float64 answer)
        np.testing.assert_allclose(np.asarray(ours.distance), distance, atol=5e-4)
        assert np.mean(np.abs(np.asarray(ours.distance) - distance) <= 1e-4) > 0.999
        # ids and labels may differ only at a tie between an object's bottom and the floor
        differ = (np.asarray(ours.object_id) != object_id) | (np.asarray(ours.label) != label)
        hit_z = (np.broadcast_to(origins, dirs.shape) + distance[:, None] * dirs)[:, 2]
        assert np.all(np.abs(hit_z[differ]) < 1e-4), np.flatnonzero(differ)
        assert differ.mean() < 0.005
        compared += len(dirs)
    assert compared == 9000


def test_per_shape_passes_do_not_depend_on_slot_order():
    """The caster sorts a room's objects into box and round passes and skips empty slots: shuffling
    the slots (empty ones first, shapes interleaved) must move only the object ids, and every answer
    must be the nearest entry of the every-formula table ``ray_objects`` (lowest slot on a tie)."""
    config = SceneConfig(max_objects=8, min_objects=5)  # all four shapes, some empty slots
    scene = generate_scene(jax.random.key(11), config)
    assert 0 < int(jnp.sum(scene.mask)) < 8 and len(set(np.asarray(scene.shape)[np.asarray(scene.mask)])) >= 2
    rng = np.random.default_rng(4)
    origin = np.array([0.1, -0.2, 0.7])
    present = np.asarray(scene.position)[np.asarray(scene.mask)]
    dirs = rng.normal(size=(1500, 3))  # 500 anywhere, 1000 aimed near an object's centre
    dirs[500:] = present[rng.integers(0, len(present), 1000)] + rng.uniform(-0.4, 0.4, (1000, 3)) - origin
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    origin = jnp.array(origin, jnp.float32)
    d = jnp.array(dirs, jnp.float32)
    base = cast_rays(origin, d, scene, max_range=20.0)
    table = np.asarray(_table(origin, d, scene))
    on_object = np.asarray(base.object_id) >= 0
    assert on_object.mean() > 0.25
    np.testing.assert_array_equal(np.asarray(base.object_id)[on_object], np.argmin(table, axis=1)[on_object])
    np.testing.assert_allclose(np.asarray(base.distance)[on_object], table.min(axis=1)[on_object], atol=1e-4)
    empty_first = np.argsort(np.asarray(scene.mask), kind="stable")
    for perm in [empty_first, rng.permutation(8)]:
        shuffled = jax.tree.map(lambda x, p=perm: x[p] if x.ndim else x, scene)
        ours = cast_rays(origin, d, shuffled, max_range=20.0)
        np.testing.assert_allclose(np.asarray(ours.distance), np.asarray(base.distance), atol=1e-6)
        np.testing.assert_array_equal(np.asarray(ours.label), np.asarray(base.label))
        moved = np.where(on_object, perm[np.maximum(np.asarray(ours.object_id), 0)], -1)
        np.testing.assert_array_equal(moved, np.asarray(base.object_id))


def test_nested_vmaps_and_chunks_of_rooms_match_single_calls(monkeypatch):
    """vmaps over rooms fold into one batch cut into chunks (here of 2 rooms: 3 rooms x 3 eyes = 9
    cast calls, the last chunk padded); every ray must match the unbatched call."""
    import seuseuro.envs.scene3d.sensor as sensor

    monkeypatch.setattr(sensor, "_CHUNK_RAYS", 32)  # 16 rays a call -> chunks of 2
    config = SceneConfig()  # the rooms of test_vmaps_over_a_batch_of_scenes: compiled once
    scenes = jax.vmap(lambda k: generate_scene(k, config))(jax.random.split(jax.random.key(0), 3))
    eyes = jnp.array([[0.0, 0.0, 0.3], [1.0, -1.0, 1.0], [-2.0, 0.5, 0.6]])
    dirs = jnp.array(np.random.default_rng(6).normal(size=(16, 3)), jnp.float32)
    both = jax.jit(jax.vmap(jax.vmap(lambda s, e: cast_rays(e, dirs, s), in_axes=(None, 0)), in_axes=(0, None)))
    hits = both(scenes, eyes)
    assert hits.distance.shape == (3, 3, 16)
    assert np.asarray(hits.object_id >= 0).any()
    for b in range(3):
        for e in range(3):
            one = cast_rays(eyes[e], dirs, jax.tree.map(lambda x, b=b: x[b], scenes))
            np.testing.assert_allclose(np.asarray(hits.distance[b, e]), np.asarray(one.distance), atol=1e-5)
            np.testing.assert_array_equal(np.asarray(hits.object_id[b, e]), np.asarray(one.object_id))


def test_culling_a_camera_bundle_keeps_every_object_it_sees():
    """Rays sharing an origin skip objects outside their bundle's cone (sensor._in_view): a narrow
    camera turned around the room must cull some objects and never one that a pixel sees first."""
    from seuseuro.envs.scene3d.sensor import _in_view, _objects, camera_directions, rotate, sensor_to_world

    scene = generate_scene(jax.random.key(11), SceneConfig(max_objects=8, min_objects=5))
    eye = jnp.array([0.1, -0.2, 0.7], jnp.float32)  # the room, eye and ray count of the test above
    camera = CameraConfig(width=50, height=30, fov_y=50.0)
    objects = jax.tree.map(lambda x: x[None], _objects(scene))
    culled = seen = 0
    for yaw in (0.0, np.pi):
        d = rotate(camera_directions(camera), sensor_to_world(jnp.asarray(yaw), jnp.asarray(-0.2))).reshape(-1, 3)
        keep = np.asarray(jax.jit(_in_view)(eye[None], d.T[None], objects))[0]
        culled += int(np.sum(~keep & np.asarray(scene.mask)))
        hits = cast_rays(eye, d, scene, max_range=20.0)
        table = np.asarray(_table(eye, d, scene))
        # a culled object that a ray meets first would leave the cast farther than the table's nearest
        assert np.all(np.asarray(hits.distance) <= table.min(axis=1) + 1e-4)
        on_object = np.asarray(hits.object_id) >= 0
        np.testing.assert_array_equal(np.asarray(hits.object_id)[on_object], table.argmin(axis=1)[on_object])
        seen += int(on_object.sum())
    assert culled >= 2 and seen > 100, (culled, seen)
