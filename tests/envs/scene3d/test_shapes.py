import jax
import numpy as np
import pytest

from seuseuro.envs.scene3d.modelnet import load_modelnet, load_off, sample_mesh
from seuseuro.envs.scene3d.shapes import _SAMPLERS, SHAPE_FAMILIES, ShapeDatasetConfig, shape_batch
from seuseuro.errors import UserError

CUBE_OFF = """OFF
# a unit cube, quads
8 6 0
0 0 0
1 0 0
1 1 0
0 1 0
0 0 1
1 0 1
1 1 1
0 1 1
4 0 3 2 1
4 4 5 6 7
4 0 1 5 4
4 1 2 6 5
4 2 3 7 6
4 3 0 4 7
"""


def test_raw_samplers_lie_on_their_surfaces():
    sizes = {"box": 500, "sphere": 500, "cylinder": 2000, "cone": 500}
    # the four samplers in one program, not four (issue 9)
    samples = jax.jit(lambda key: {name: _SAMPLERS[name](key, n) for name, n in sizes.items()})(jax.random.key(0))

    box = np.asarray(samples["box"])
    np.testing.assert_allclose(np.abs(box).max(axis=1), 1.0, atol=1e-6)  # on a face of [-1, 1]^3
    sphere = np.asarray(samples["sphere"])
    np.testing.assert_allclose(np.linalg.norm(sphere, axis=1), 1.0, atol=1e-5)
    cyl = np.asarray(samples["cylinder"])
    radial = np.linalg.norm(cyl[:, :2], axis=1)
    on_side = np.isclose(radial, 1.0, atol=1e-5)
    assert np.all(on_side | np.isclose(np.abs(cyl[:, 2]), 1.0))
    assert 0.6 < on_side.mean() < 0.73  # side area 4 pi of 6 pi
    cone = np.asarray(samples["cone"])
    radial = np.linalg.norm(cone[:, :2], axis=1)
    assert np.all(np.isclose(radial, (1 - cone[:, 2]) / 2, atol=1e-5) | np.isclose(cone[:, 2], -1.0))


def test_batches_are_normalized_deterministic_and_balanced():
    config = ShapeDatasetConfig(num_points=64, noise=0.0)
    clouds, labels = shape_batch(jax.random.key(1), 300, config)
    assert clouds.shape == (300, 64, 3)
    np.testing.assert_allclose(np.asarray(clouds.mean(axis=1)), 0.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(clouds), axis=2).max(axis=1), 1.0, atol=1e-5)
    assert np.bincount(np.asarray(labels), minlength=6).min() > 30
    again, _ = shape_batch(jax.random.key(1), 300, config)
    np.testing.assert_array_equal(np.asarray(clouds), np.asarray(again))


@pytest.mark.parametrize("kwargs", [dict(families=("box", "teapot")), dict(num_points=0), dict(rotation="x")])
def test_bad_dataset_config(kwargs):
    with pytest.raises(UserError):
        ShapeDatasetConfig(**kwargs)
    assert "teapot" not in SHAPE_FAMILIES


def test_off_loader_on_a_cube(tmp_path):
    path = tmp_path / "cube.off"
    path.write_text(CUBE_OFF)
    vertices, faces = load_off(path)
    assert vertices.shape == (8, 3) and faces.shape == (12, 3)  # 6 quads fanned into 12 triangles
    points = np.asarray(sample_mesh(jax.random.key(0), vertices, faces, 400))
    # normalized: centred at the origin, farthest point on the unit sphere
    np.testing.assert_allclose(points.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(points, axis=1).max(), 1.0, atol=1e-5)
    # every point lies on a face of the (shifted, scaled) cube: one coordinate at its extreme
    lo, hi = points.min(axis=0), points.max(axis=0)
    on_face = np.isclose(points, lo, atol=1e-5) | np.isclose(points, hi, atol=1e-5)
    assert np.all(on_face.any(axis=1))
    np.testing.assert_allclose(hi - lo, (hi - lo)[0], atol=0.02)  # a cube: equal sides


def test_off_header_glued_to_counts_and_modelnet_layout(tmp_path):
    glued = CUBE_OFF.replace("OFF\n# a unit cube, quads\n8 6 0", "OFF8 6 0")
    for name, split in [("cube", "train"), ("cube", "test"), ("box", "train")]:
        folder = tmp_path / name / split
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}_0001.off").write_text(glued)
    clouds, labels, classes = load_modelnet(tmp_path, "train", 32, jax.random.key(0))
    assert classes == ["box", "cube"] and clouds.shape == (2, 32, 3)
    np.testing.assert_array_equal(labels, [0, 1])


@pytest.mark.parametrize(
    "text, message",
    [
        ("PLY\n1 0 0\n", "not an OFF"),
        ("OFF\n3 1 0\n0 0 0\n1 0 0\n", "promises 3 vertices"),
        ("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n", "outside"),
        ("OFF\n3 1 0\n0 0 0\n1 x 0\n0 1 0\n3 0 1 2\n", "malformed"),
        ("OFF\nthree 1 0\n", "bad counts"),
    ],
)
def test_malformed_off_is_a_user_error(tmp_path, text, message):
    path = tmp_path / "bad.off"
    path.write_text(text)
    with pytest.raises(UserError, match=message):
        load_off(path)
