"""Load ModelNet (Wu et al. 2015) ``.off`` meshes a user already has, as point clouds.

Nothing is downloaded: point ``load_modelnet`` at an unpacked ``ModelNet40/`` (or ModelNet10)
directory laid out as ``<root>/<class>/<split>/<name>.off``. Each mesh is turned into a fixed-size
cloud by area-weighted sampling of its triangles and normalized into the unit sphere, as in
PointNet's preprocessing (Qi et al. 2017). Polygons with more than three vertices are fanned into
triangles. ModelNet's known quirk of a header glued to the counts (``OFF490 518 0``) is accepted.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from seuseuro.envs.scene3d.shapes import normalize_cloud
from seuseuro.errors import UserError


def load_off(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (V, 3) float32 and triangles (F, 3) int32 of an OFF file; UserError if malformed."""
    path = Path(path)
    try:
        tokens_by_line = [line.split() for line in path.read_text().splitlines()]
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"cannot read {path}: {err}") from err
    lines = [t for t in tokens_by_line if t and not t[0].startswith("#")]
    if not lines or not lines[0][0].upper().startswith("OFF"):
        raise UserError(f"{path} is not an OFF file (first line must start with 'OFF')")
    header = lines[0]
    first = header[0][3:]
    counts = ([first] if first else []) + header[1:]
    body = lines[1:]
    if len(counts) < 3:
        if not body:
            raise UserError(f"{path}: missing the 'num_vertices num_faces num_edges' line")
        counts, body = body[0], body[1:]
    try:
        num_vertices, num_faces = int(counts[0]), int(counts[1])
    except (ValueError, IndexError) as err:
        raise UserError(f"{path}: bad counts line {' '.join(counts)!r}; expected 'V F E' integers") from err
    if len(body) < num_vertices + num_faces:
        raise UserError(
            f"{path}: header promises {num_vertices} vertices and {num_faces} faces, file has {len(body)} lines"
        )
    try:
        vertices = np.array([[float(x) for x in row[:3]] for row in body[:num_vertices]], np.float32)
        triangles = []
        for row in body[num_vertices : num_vertices + num_faces]:
            n = int(row[0])
            idx = [int(i) for i in row[1 : 1 + n]]
            if n < 3 or len(idx) != n:
                raise ValueError(f"face {' '.join(row)!r}")
            triangles.extend((idx[0], idx[i], idx[i + 1]) for i in range(1, n - 1))
    except (ValueError, IndexError) as err:
        raise UserError(f"{path}: malformed vertex or face line ({err}); the file is corrupt") from err
    if vertices.shape != (num_vertices, 3):
        raise UserError(f"{path}: every vertex line needs 3 coordinates")
    faces = np.array(triangles, np.int32).reshape(-1, 3)
    if faces.size and (faces.min() < 0 or faces.max() >= num_vertices):
        raise UserError(f"{path}: a face refers to a vertex outside 0..{num_vertices - 1}")
    if faces.shape[0] == 0:
        raise UserError(f"{path}: the mesh has no faces to sample points from")
    return vertices, faces


def sample_mesh(key: jax.Array, vertices: np.ndarray, faces: np.ndarray, num_points: int) -> jax.Array:
    """``num_points`` points (N, 3) uniform on the mesh surface, normalized into the unit sphere."""
    tri = jnp.asarray(vertices)[jnp.asarray(faces)]  # (F, 3, 3)
    area = 0.5 * jnp.linalg.norm(jnp.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=-1)
    if float(area.sum()) <= 0:
        raise UserError("the mesh has zero surface area; cannot sample points from it")
    k_tri, k_uv = jax.random.split(key)
    chosen = tri[jax.random.choice(k_tri, tri.shape[0], (num_points,), p=area / area.sum())]
    u, v = jax.random.uniform(k_uv, (2, num_points, 1))
    su = jnp.sqrt(u)
    points = (1 - su) * chosen[:, 0] + su * (1 - v) * chosen[:, 1] + su * v * chosen[:, 2]
    return normalize_cloud(points)


def load_modelnet(
    root: str | Path, split: str, num_points: int, key: jax.Array
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Clouds (M, N, 3), labels (M,) and sorted class names from ``<root>/<class>/<split>/*.off``."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"ModelNet directory {root} does not exist; unpack ModelNet40 there first")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and (p / split).is_dir())
    if not classes:
        raise UserError(f"no '<class>/{split}/' folders under {root}; expected the ModelNet layout")
    clouds, labels = [], []
    for label, name in enumerate(classes):
        for path in sorted((root / name / split).glob("*.off")):
            key, sub = jax.random.split(key)
            vertices, faces = load_off(path)
            clouds.append(np.asarray(sample_mesh(sub, vertices, faces, num_points)))
            labels.append(label)
    return np.stack(clouds), np.array(labels, np.int32), classes
