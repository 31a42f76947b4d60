"""envs/scene3d: procedural 3D rooms, ray-cast sensors, and tasks that need a scene understood.

Environment ids (``seuseuro.envs.registry.make``):
- ``ObjectNav-v0``: a 6 m room with 3-8 objects, 100 steps, 64-ray semantic lidar.
- ``ObjectNav-Small-v0``: a 4 m room with 2-4 objects, 50 steps (fast to learn on a CPU).
- ``ObjectNav-Blind-v0`` / ``ObjectNav-Small-Blind-v0``: the same with the sensor zeroed (only the goal).
"""

from __future__ import annotations

import functools

from seuseuro.envs import import_gymnax

import_gymnax()  # before the environments below import gymnax: see seuseuro.envs

from seuseuro.envs.scene3d.scene import SceneConfig  # noqa: E402
from seuseuro.envs.scene3d.tasks import ObjectNavEnv  # noqa: E402

SMALL_ROOM = SceneConfig(max_objects=4, min_objects=2, half_extent=2.0)

SCENE3D_ENVS = {
    "ObjectNav-v0": ObjectNavEnv,
    "ObjectNav-Blind-v0": functools.partial(ObjectNavEnv, blind=True),
    "ObjectNav-Small-v0": functools.partial(ObjectNavEnv, scene=SMALL_ROOM, max_steps=50),
    "ObjectNav-Small-Blind-v0": functools.partial(ObjectNavEnv, scene=SMALL_ROOM, max_steps=50, blind=True),
}
