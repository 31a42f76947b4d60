import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seuseuro.envs.scene3d.scene import (
    SHAPE_CLASSES,
    SceneConfig,
    footprint_distance,
    footprint_radius,
    generate_scene,
    make_scene,
)
from seuseuro.errors import UserError


def test_same_key_same_scene_and_different_keys_differ():
    config = SceneConfig()
    gen = jax.jit(generate_scene, static_argnums=1)
    a = gen(jax.random.key(3), config)
    b = gen(jax.random.key(3), config)
    c = gen(jax.random.key(4), config)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert not np.array_equal(np.asarray(a.position), np.asarray(c.position))


def test_objects_never_overlap_and_stay_inside_the_walls():
    config = SceneConfig(max_objects=10, min_objects=6)
    scenes = jax.jit(jax.vmap(lambda k: generate_scene(k, config)))(jax.random.split(jax.random.key(0), 200))
    radius = np.asarray(footprint_radius(scenes.shape, scenes.size))
    xy = np.asarray(scenes.position[..., :2])
    mask = np.asarray(scenes.mask)
    assert mask.sum(1).min() >= 1 and mask.sum(1).mean() > 6
    inside = np.abs(xy).max(-1) + radius <= config.half_extent - config.margin + 1e-5
    assert np.all(inside | ~mask)
    gap = np.linalg.norm(xy[:, :, None] - xy[:, None, :], axis=-1) - radius[:, :, None] - radius[:, None, :]
    pair = mask[:, :, None] & mask[:, None, :] & ~np.eye(config.max_objects, dtype=bool)
    assert np.all(gap[pair] >= config.margin - 1e-5)
    # objects rest on the floor
    np.testing.assert_allclose(np.asarray(scenes.position[..., 2]), np.asarray(scenes.size[..., 2]))


def test_only_requested_shapes_are_generated():
    config = SceneConfig(shapes=("sphere", "cone"))
    scenes = jax.jit(jax.vmap(lambda k: generate_scene(k, config)))(jax.random.split(jax.random.key(1), 50))
    used = set(np.asarray(scenes.shape)[np.asarray(scenes.mask)].tolist())
    assert used <= {SHAPE_CLASSES.index("sphere"), SHAPE_CLASSES.index("cone")}
    spheres = np.asarray(scenes.shape) == SHAPE_CLASSES.index("sphere")
    size = np.asarray(scenes.size)
    np.testing.assert_allclose(size[spheres][:, 0], size[spheres][:, 2])


def test_footprint_distance_box_and_round():
    scene = make_scene(
        [
            ("box", (0.0, 0.0, 0.5), (1.0, 0.5, 0.5), jnp.pi / 2),
            ("cylinder", (2.0, 0.0, 0.5), (0.5, 0.5, 0.5), 0.0),
        ],
        max_objects=3,
    )
    d = np.asarray(footprint_distance(jnp.array([0.0, 3.0]), scene))
    # the box is turned 90 degrees: its long side (1.0) now lies along y
    np.testing.assert_allclose(d[0], 2.0, atol=1e-6)
    np.testing.assert_allclose(d[1], np.hypot(2.0, 3.0) - 0.5, atol=1e-6)
    assert np.isinf(d[2])
    assert np.asarray(footprint_distance(jnp.array([0.2, 0.2]), scene))[0] == 0.0


@pytest.mark.parametrize(
    "kwargs",
    [dict(shapes=("box", "torus")), dict(min_objects=5, max_objects=3), dict(min_size=0.0), dict(shapes=())],
)
def test_bad_config_is_a_user_error(kwargs):
    with pytest.raises(UserError):
        SceneConfig(**kwargs)


def test_unknown_shape_names_the_choices():
    with pytest.raises(UserError, match="torus.*box, sphere, cylinder, cone"):
        make_scene([("torus", (0, 0, 0), (1, 1, 1), 0.0)])
