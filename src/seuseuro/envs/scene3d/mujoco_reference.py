"""The same room as MuJoCo geoms, ray-cast by ``mujoco.mj_multiRay``: the reference for ``sensor.py``.

MuJoCo (Todorov et al. 2012) has analytic ray tests for boxes, spheres and cylinders; it has no
cone primitive (a mesh cone would be faceted, so not an exact reference), so scenes with cones are
refused here. The floor and walls are thin boxes whose inner faces are the room's planes.
Needs the optional ``mujoco`` package (``pip install seuseuro[mujoco]``).
"""

from __future__ import annotations

import numpy as np

from seuseuro.envs.scene3d.scene import SHAPE_CLASSES, Scene
from seuseuro.errors import UserError

_THICK = 0.05


def scene_to_mjcf(scene: Scene) -> str:
    """MJCF text of one (unbatched) scene: static geoms in the world body."""
    half, height = float(scene.half_extent), float(scene.wall_height)
    geoms = [
        f'<geom type="box" pos="0 0 {-_THICK}" size="{half + 2 * _THICK} {half + 2 * _THICK} {_THICK}"/>',
        f'<geom type="box" pos="{half + _THICK} 0 {height / 2}" size="{_THICK} {half + 2 * _THICK} {height / 2}"/>',
        f'<geom type="box" pos="{-half - _THICK} 0 {height / 2}" size="{_THICK} {half + 2 * _THICK} {height / 2}"/>',
        f'<geom type="box" pos="0 {half + _THICK} {height / 2}" size="{half + 2 * _THICK} {_THICK} {height / 2}"/>',
        f'<geom type="box" pos="0 {-half - _THICK} {height / 2}" size="{half + 2 * _THICK} {_THICK} {height / 2}"/>',
    ]
    shape, position, size = np.asarray(scene.shape), np.asarray(scene.position), np.asarray(scene.size)
    heading, mask = np.asarray(scene.heading), np.asarray(scene.mask)
    for i in np.flatnonzero(mask):
        name = SHAPE_CLASSES[int(shape[i])]
        pos = " ".join(f"{v:.9g}" for v in position[i])
        if name == "box":
            dims = " ".join(f"{v:.9g}" for v in size[i])
        elif name == "sphere":
            dims = f"{size[i, 0]:.9g}"
        elif name == "cylinder":
            dims = f"{size[i, 0]:.9g} {size[i, 2]:.9g}"
        else:
            raise UserError(f"MuJoCo has no exact {name!r} geom; build the scene with shapes=(box, sphere, cylinder)")
        geoms.append(f'<geom name="obj{i}" type="{name}" pos="{pos}" size="{dims}" euler="0 0 {heading[i]:.9g}"/>')
    body = "\n    ".join(geoms)
    return f'<mujoco>\n  <compiler angle="radian"/>\n  <worldbody>\n    {body}\n  </worldbody>\n</mujoco>\n'


class MujocoRayCaster:
    """A compiled MuJoCo model of one scene; ``distances(origin, directions)`` ray-casts it."""

    def __init__(self, scene: Scene):
        try:
            import mujoco
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise UserError("the MuJoCo reference needs `pip install seuseuro[mujoco]`") from err
        self._mujoco = mujoco
        self.model = mujoco.MjModel.from_xml_string(scene_to_mjcf(scene))
        self.data = mujoco.MjData(self.model)
        mujoco.mj_forward(self.model, self.data)

    def distances(self, origin: np.ndarray, directions: np.ndarray, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
        """Distances (N,) (-1 for no hit within cutoff) and geom ids (N,) of rays from one origin."""
        directions = np.ascontiguousarray(directions, dtype=np.float64).reshape(-1, 3)
        n = directions.shape[0]
        geom_id = np.zeros(n, np.int32)
        dist = np.zeros(n, np.float64)
        self._mujoco.mj_multiRay(
            self.model,
            self.data,
            np.asarray(origin, np.float64),
            directions.reshape(-1),
            None,
            1,
            -1,
            geom_id,
            dist,
            None,
            n,
            cutoff,
        )
        return dist, geom_id
