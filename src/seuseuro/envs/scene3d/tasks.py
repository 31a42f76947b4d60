"""Tasks that need a 3D scene understood: ObjectNav (an environment) and scene questions (a dataset).

ObjectNav (Anderson et al. 2018, "On Evaluation of Embodied Navigation Agents"; Batra et al. 2020,
"ObjectNav Revisited"): an agent in a procedural room is told a goal class ("cone") and must walk
to an object of that class and call stop within ``success_distance`` of it. Actions are Habitat's:
move forward 0.25 m, turn left 30 degrees, turn right 30 degrees, stop. The episode ends at stop
(a success or a failure) or at the time limit (truncation). Reward follows Habitat's ObjectNav
baseline: progress towards the goal (decrease of the distance to it), a small slack penalty per
step and a success bonus. Metrics in ``info``: ``success`` and SPL (success weighted by path
length), reported on the step that ends the episode.

The agent sees a lidar point cloud in its own frame (x ahead, y left, z up), one row per ray:
``(x, y, z) / max_range, hit, one-hot semantic class of the surface (objects only), goal match
(the surface is an object of the goal class), one-hot goal class`` — a point cloud for a
PointNet/EdgeConv torso. ``blind=True`` zeroes everything but the
goal: the "blind" baseline of embodied AI (an agent with no sensor, only its goal).

Simplified on purpose: the shortest path used by SPL is the straight-line distance to the success
region (obstacles ignored; this lower bound makes SPL conservative); a forward move into an
obstacle or wall is cancelled (no sliding); the semantic channel is perfect (a semantic lidar,
as Habitat's semantic sensor) unless ``semantic=False``, when classes must be read from geometry.

Scene questions: how many objects of a class, which object is nearest to another, is A left of B
seen from a viewpoint, how far apart are A and B. Answers are computed from the scene (jittable),
and :func:`scene_as_text` / :func:`scene_questions` write the scene and questions as text with
checkable answers, for the reasoning pillar.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import environment, spaces

from seuseuro.envs.scene3d.scene import (
    COLOUR_NAMES,
    SHAPE_CLASSES,
    Scene,
    SceneConfig,
    footprint_distance,
    generate_scene,
)
from seuseuro.envs.scene3d.sensor import LidarConfig, scan_lidar
from seuseuro.errors import UserError

FORWARD, TURN_LEFT, TURN_RIGHT, STOP = 0, 1, 2, 3
ACTION_NAMES = ("forward", "left", "right", "stop")
NUM_CLASSES = len(SHAPE_CLASSES)


@struct.dataclass
class ObjectNavParams(environment.EnvParams):
    max_steps_in_episode: int = 100
    forward_step: float = 0.25  # metres per forward action (Habitat)
    turn_angle: float = math.radians(30.0)  # radians per turn action (Habitat ObjectNav)
    success_distance: float = 0.5  # metres from the goal object's footprint (Habitat: 1.0 from its surface)
    agent_radius: float = 0.15  # metres; the agent is a disc on the floor
    success_reward: float = 2.5  # Habitat ObjectNav baseline
    slack_reward: float = -0.01  # per step (Habitat)
    oracle_stop: bool = False  # end with success on reaching the goal, no stop needed ("oracle stop" ablation)


@struct.dataclass
class ObjectNavState(environment.EnvState):
    scene: Scene
    position: jax.Array  # (2,) on the floor
    heading: jax.Array  # () radians, 0 = +x
    goal: jax.Array  # () int32 goal class
    shortest_path: jax.Array  # () straight-line distance from the start to the success region
    path_length: jax.Array  # () metres walked so far
    distance: jax.Array  # () current distance to the nearest goal object
    time: int


def goal_distance(scene: Scene, position: jax.Array, goal: jax.Array) -> jax.Array:
    """Distance on the floor from ``position`` to the nearest object of class ``goal``."""
    d = footprint_distance(position, scene)
    return jnp.min(jnp.where(scene.shape == goal, d, jnp.inf))


class ObjectNavEnv(environment.Environment[ObjectNavState, ObjectNavParams]):
    """Find an object of the goal class in a procedural room and stop next to it."""

    def __init__(
        self,
        scene: SceneConfig = SceneConfig(),
        lidar: LidarConfig = LidarConfig(num_azimuth=32, elevations=(0.0, 20.0), max_range=8.0),
        sensor_height: float = 0.25,
        semantic: bool = True,
        blind: bool = False,
        max_steps: int = 100,
    ):
        super().__init__()
        if max_steps < 1:
            raise UserError(f"max_steps must be >= 1, got {max_steps}")
        self.scene_config = scene
        self.lidar = lidar
        self.sensor_height = sensor_height
        self.semantic = semantic
        self.blind = blind
        self.max_steps = max_steps

    # -- gymnax protocol ---------------------------------------------------------------------------
    @property
    def default_params(self) -> ObjectNavParams:
        return ObjectNavParams(max_steps_in_episode=self.max_steps)

    @property
    def name(self) -> str:
        return "ObjectNav-v0"

    @property
    def num_actions(self) -> int:
        return 4

    @property
    def point_features(self) -> int:
        """Features per point: xyz, hit, semantic one-hot, goal match, goal one-hot."""
        return 3 + 1 + NUM_CLASSES + 1 + NUM_CLASSES

    def action_space(self, params: ObjectNavParams | None = None) -> spaces.Discrete:
        return spaces.Discrete(4)

    def observation_space(self, params: ObjectNavParams) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, (self.lidar.num_rays, self.point_features), jnp.float32)

    def reset_env(self, key: jax.Array, params: ObjectNavParams) -> tuple[jax.Array, ObjectNavState]:
        k_scene, k_goal, k_pos, k_head = jax.random.split(key, 4)
        scene = generate_scene(k_scene, self.scene_config)
        # the goal is the class of a random object present in the room
        goal = scene.shape[jax.random.categorical(k_goal, jnp.where(scene.mask, 0.0, -jnp.inf))]
        position = self._start_position(k_pos, scene, goal, params)
        distance = goal_distance(scene, position, goal)
        state = ObjectNavState(
            scene=scene,
            position=position,
            heading=jax.random.uniform(k_head, (), minval=-jnp.pi, maxval=jnp.pi),
            goal=goal,
            shortest_path=jnp.maximum(distance - params.success_distance, 0.0),
            path_length=jnp.zeros(()),
            distance=distance,
            time=0,
        )
        return self.get_obs(state, params), state

    def step_env(
        self, key: jax.Array, state: ObjectNavState, action: int | jax.Array, params: ObjectNavParams
    ) -> tuple[jax.Array, ObjectNavState, jax.Array, jax.Array, dict[str, Any]]:
        forward = action == FORWARD
        heading = state.heading + params.turn_angle * (
            (action == TURN_LEFT).astype(jnp.float32) - (action == TURN_RIGHT)
        )
        heading = jnp.mod(heading + jnp.pi, 2 * jnp.pi) - jnp.pi
        step = params.forward_step * jnp.array([jnp.cos(state.heading), jnp.sin(state.heading)])
        target = state.position + step
        moved = forward & self._free(state.scene, target, params)
        position = jnp.where(moved, target, state.position)
        distance = goal_distance(state.scene, position, state.goal)
        # with oracle_stop the episode ends (successfully) as soon as the goal is reached, the ablation
        # ObjectNav papers use to separate finding the object from recognizing that it was found
        reached = distance <= params.success_distance
        stop = (action == STOP) | (params.oracle_stop & reached)
        success = stop & reached
        path_length = state.path_length + jnp.where(moved, params.forward_step, 0.0)
        spl = success * state.shortest_path / jnp.maximum(jnp.maximum(path_length, state.shortest_path), 1e-6)
        spl = jnp.where(success & (state.shortest_path == 0), 1.0, spl)
        reward = (state.distance - distance) + params.slack_reward + params.success_reward * success
        new_state = state.replace(
            position=position, heading=heading, path_length=path_length, distance=distance, time=state.time + 1
        )
        info = {"success": success.astype(jnp.float32), "spl": spl.astype(jnp.float32), "stopped": stop}
        return self.get_obs(new_state, params), new_state, reward.astype(jnp.float32), stop, info

    def get_obs(self, state: ObjectNavState, params: ObjectNavParams | None = None, key=None) -> jax.Array:
        position = jnp.append(state.position, self.sensor_height)
        cloud = scan_lidar(state.scene, position, state.heading, self.lidar, frame="sensor")
        hit = cloud.mask.astype(jnp.float32)[:, None]
        semantic = jax.nn.one_hot(jnp.where(cloud.object_id >= 0, cloud.label, -1), NUM_CLASSES)
        if not self.semantic:
            semantic = jnp.zeros_like(semantic)
        # goal match: the per-point goal mask a semantic sensor gives (Habitat's ObjectNav baselines
        # feed the goal's segmentation the same way); zero when the sensor is not semantic
        match = semantic[:, state.goal][:, None]
        sensed = jnp.concatenate([cloud.xyz / self.lidar.max_range, hit, semantic, match], axis=1)
        if self.blind:
            sensed = jnp.zeros_like(sensed)
        goal = jnp.broadcast_to(jax.nn.one_hot(state.goal, NUM_CLASSES), (self.lidar.num_rays, NUM_CLASSES))
        return jnp.concatenate([sensed, goal], axis=1).astype(jnp.float32)

    def is_terminated(self, state: ObjectNavState, params: ObjectNavParams) -> jax.Array:
        return jnp.asarray(False)  # termination is the stop action, decided in step_env

    # -- internals ---------------------------------------------------------------------------------
    def _free(self, scene: Scene, position: jax.Array, params: ObjectNavParams) -> jax.Array:
        clear_objects = jnp.min(footprint_distance(position, scene)) > params.agent_radius
        inside = jnp.all(jnp.abs(position) <= scene.half_extent - params.agent_radius)
        return clear_objects & inside

    def _start_position(self, key: jax.Array, scene: Scene, goal: jax.Array, params: ObjectNavParams) -> jax.Array:
        """The first of 32 random free positions that is not already within reach of the goal."""
        reach = scene.half_extent - params.agent_radius
        candidates = jax.random.uniform(key, (32, 2), minval=-1.0, maxval=1.0) * reach
        free = jax.vmap(lambda p: self._free(scene, p, params))(candidates)
        far = jax.vmap(lambda p: goal_distance(scene, p, goal))(candidates) > params.success_distance + 0.5
        score = free.astype(jnp.int32) * 2 + (free & far)
        return candidates[jnp.argmax(score)]


def evaluate_objectnav(
    act: Any, env: ObjectNavEnv, params: ObjectNavParams, key: jax.Array, num_episodes: int
) -> dict[str, jax.Array]:
    """Run ``num_episodes`` episodes (one per parallel copy, no auto-reset) with ``act(obs, key) -> actions``.

    ``act`` maps a batch of observations (E, N, F) to actions (E,). Returns per-episode arrays
    ``success``, ``spl``, ``length`` and ``path_length`` (each (E,)). Jit it with ``act`` closed over.
    """
    reset_keys = jax.random.split(key, num_episodes + 1)
    obs, state = jax.vmap(env.reset_env, in_axes=(0, None))(reset_keys[1:], params)
    zeros = jnp.zeros(num_episodes)

    def step(carry, step_key):
        obs, state, done, success, spl, length = carry
        act_key, env_key = jax.random.split(step_key)
        action = act(obs, act_key)
        obs2, state2, _, stopped, info = jax.vmap(env.step_env, in_axes=(0, 0, 0, None))(
            jax.random.split(env_key, num_episodes), state, action, params
        )
        live = ~done
        success = jnp.where(live, info["success"], success)
        spl = jnp.where(live, info["spl"], spl)
        length = length + live
        keep = lambda new, old: jax.vmap(lambda d, n, o: jax.lax.select(d, o, n))(done, new, old)  # noqa: E731
        state = jax.tree.map(keep, state2, state)
        return (obs2, state, done | stopped, success, spl, length), None

    init = (obs, state, jnp.zeros(num_episodes, bool), zeros, zeros, zeros)
    (_, state, _, success, spl, length), _ = jax.lax.scan(
        step, init, jax.random.split(reset_keys[0], params.max_steps_in_episode)
    )
    return {"success": success, "spl": spl, "length": length, "path_length": state.path_length}


def random_policy(obs: jax.Array, key: jax.Array) -> jax.Array:
    """Uniformly random actions for a batch of observations (the "random" baseline)."""
    return jax.random.randint(key, (obs.shape[0],), 0, 4)


# =================================================================================================
# Scene questions
# =================================================================================================


def count_class(scene: Scene, shape_class: jax.Array) -> jax.Array:
    """How many objects of ``shape_class`` the room holds."""
    return jnp.sum(scene.mask & (scene.shape == shape_class))


def nearest_object(scene: Scene, index: jax.Array) -> jax.Array:
    """Slot of the object whose centre is nearest (on the floor) to object ``index``'s centre."""
    d = jnp.linalg.norm(scene.position[:, :2] - scene.position[index, :2], axis=-1)
    d = jnp.where(scene.mask & (jnp.arange(scene.max_objects) != index), d, jnp.inf)
    return jnp.argmin(d)


def object_distance(scene: Scene, a: jax.Array, b: jax.Array) -> jax.Array:
    """Distance between the centres of objects ``a`` and ``b`` on the floor, metres."""
    return jnp.linalg.norm(scene.position[a, :2] - scene.position[b, :2])


def is_left_of(scene: Scene, a: jax.Array, b: jax.Array, viewpoint: jax.Array, view_heading: jax.Array) -> jax.Array:
    """Whether object ``a`` appears left of ``b`` to a viewer at ``viewpoint`` (2,) facing ``view_heading``.

    Left means a larger coordinate along the viewer's left axis (-sin h, cos h).
    """
    left_axis = jnp.array([-jnp.sin(view_heading), jnp.cos(view_heading)])
    return jnp.dot(scene.position[a, :2] - viewpoint, left_axis) > jnp.dot(scene.position[b, :2] - viewpoint, left_axis)


def _name(scene: Scene, i: int) -> str:
    return f"the {COLOUR_NAMES[int(scene.colour[i])]} {SHAPE_CLASSES[int(scene.shape[i])]} (object {i})"


def scene_as_text(scene: Scene) -> str:
    """One unbatched scene written out: room size and one line per object."""
    half = float(scene.half_extent)
    lines = [f"A room of {2 * half:.1f} m by {2 * half:.1f} m, floor centre at (0, 0); x east, y north, z up."]
    for i in range(scene.max_objects):
        if not bool(scene.mask[i]):
            continue
        x, y, _ = (float(v) for v in scene.position[i])
        hx, hy, hz = (float(v) for v in scene.size[i])
        colour = COLOUR_NAMES[int(scene.colour[i])]
        article = "an" if colour[0] in "aeiou" else "a"
        lines.append(
            f"object {i}: {article} {colour} {SHAPE_CLASSES[int(scene.shape[i])]} at "
            f"({x:.2f}, {y:.2f}), {2 * hx:.2f} m wide, {2 * hy:.2f} m deep, {2 * hz:.2f} m tall"
        )
    return "\n".join(lines)


def scene_questions(scene: Scene, key: jax.Array, num: int = 4) -> list[dict[str, str]]:
    """``num`` questions about one scene, each {"kind", "question", "answer"}; answers are checkable
    by :func:`check_answer` (exact for counts, object ids and yes/no; within 0.05 m for distances)."""
    import numpy as np

    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())
    present = [i for i in range(scene.max_objects) if bool(scene.mask[i])]
    if len(present) < 2:
        raise UserError("scene questions need a room with at least two objects")
    out = []
    kinds = ["count", "nearest", "left_of", "distance"]
    for q in range(num):
        kind = kinds[q % 4]
        a, b = (int(v) for v in rng.choice(present, 2, replace=False))
        if kind == "count":
            c = int(rng.integers(NUM_CLASSES))
            question = f"How many {SHAPE_CLASSES[c]}s are in the room?"
            answer = str(int(count_class(scene, c)))
        elif kind == "nearest":
            question = f"Which object is nearest to {_name(scene, a)}? Answer with its object number."
            answer = str(int(nearest_object(scene, a)))
        elif kind == "left_of":
            view = rng.uniform(-float(scene.half_extent), float(scene.half_extent), 2)
            centre = np.mean([np.asarray(scene.position[a, :2]), np.asarray(scene.position[b, :2])], axis=0)
            heading = float(np.arctan2(*(centre - view)[::-1]))
            question = (
                f"Standing at ({view[0]:.2f}, {view[1]:.2f}) and looking towards ({centre[0]:.2f}, {centre[1]:.2f}), "
                f"is {_name(scene, a)} to the left of {_name(scene, b)}? Answer yes or no."
            )
            answer = "yes" if bool(is_left_of(scene, a, b, jnp.array(view), jnp.array(heading))) else "no"
        else:
            question = f"How far apart are the centres of {_name(scene, a)} and {_name(scene, b)}, in metres?"
            answer = f"{float(object_distance(scene, a, b)):.2f}"
        out.append({"kind": kind, "question": question, "answer": answer})
    return out


def check_answer(kind: str, predicted: str, answer: str) -> bool:
    """Whether ``predicted`` answers a question of ``kind`` whose true answer is ``answer``."""
    predicted = predicted.strip().lower().rstrip(".")
    if kind == "distance":
        try:
            return abs(float(predicted.split()[0]) - float(answer)) <= 0.05
        except (ValueError, IndexError):
            return False
    if kind not in ("count", "nearest", "left_of"):
        raise UserError(f"unknown question kind {kind!r}; choose count, nearest, left_of or distance")
    return predicted == answer


def count_question_batch(
    key: jax.Array,
    batch_size: int,
    scene_config: SceneConfig = SceneConfig(),
    lidar: LidarConfig = LidarConfig(num_azimuth=64, elevations=(-30.0, -15.0, 0.0), max_range=10.0),
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """A supervised "how many objects of class c?" batch, jittable (``batch_size`` and configs static).

    Returns clouds (B, 4 * rays, 7) — four lidar scans from 1 m above points halfway to the room's
    corners, merged in room coordinates: ``xyz / half_extent, rgb, hit`` — the queried class (B,)
    and the true count (B,). Objects hidden from all four viewpoints still count: the task is
    about the scene, the sensor is imperfect, as in real data.
    """
    k_scene, k_class = jax.random.split(key)
    scenes = jax.vmap(lambda k: generate_scene(k, scene_config))(jax.random.split(k_scene, batch_size))
    query = jax.random.randint(k_class, (batch_size,), 0, NUM_CLASSES)
    half = scene_config.half_extent / 2
    eyes = jnp.array([[half, half, 1.0], [-half, half, 1.0], [-half, -half, 1.0], [half, -half, 1.0]])

    def cloud(scene):
        scans = jax.vmap(lambda eye: scan_lidar(scene, eye, jnp.zeros(()), lidar))(eyes)
        feats = jnp.concatenate([scans.xyz / scene_config.half_extent, scans.rgb, scans.mask[..., None]], -1)
        return feats.reshape(-1, 7)

    counts = jax.vmap(count_class)(scenes, query)
    return jax.vmap(cloud)(scenes), query, counts
