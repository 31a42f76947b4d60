import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seuseuro.envs.registry import make
from seuseuro.envs.scene3d.scene import SHAPE_CLASSES, SceneConfig, footprint_distance, make_scene
from seuseuro.envs.scene3d.tasks import (
    FORWARD,
    STOP,
    TURN_LEFT,
    TURN_RIGHT,
    check_answer,
    count_class,
    count_question_batch,
    is_left_of,
    nearest_object,
    object_distance,
    scene_as_text,
    scene_questions,
)

CONE = SHAPE_CLASSES.index("cone")


def _state(template, scene, position, heading, goal, params):
    from seuseuro.envs.scene3d.tasks import goal_distance

    distance = goal_distance(scene, jnp.array(position), jnp.array(goal))
    return template.replace(
        scene=scene,
        position=jnp.array(position, jnp.float32),
        heading=jnp.array(heading, jnp.float32),
        goal=jnp.array(goal, jnp.int32),
        shortest_path=jnp.maximum(distance - params.success_distance, 0.0),
        path_length=jnp.zeros(()),
        distance=distance,
        time=0,
    )


@pytest.fixture(scope="module")
def env():
    # ObjectNav-Small-v0's env: its jitted reset is the program that `render` and the episode video
    # compile too, shared through the persistent cache (issue 9)
    return make("ObjectNav-Small-v0").env


# The module's tests share one compiled reset, one step and one hand-placed start (issue 9): the params
# are arguments of the programs (traced), so the oracle-stop test's params reuse the same step.
@pytest.fixture(scope="module")
def reset(env):
    return jax.jit(env.reset_env)


@pytest.fixture(scope="module")
def start(env, reset):
    template = reset(jax.random.key(0), env.default_params)[1]
    place = jax.jit(lambda p, h, g: _state(template, ROOM, p, h, g, env.default_params))
    return lambda position, heading, goal: place(
        jnp.array(position, jnp.float32), jnp.array(heading, jnp.float32), jnp.array(goal, jnp.int32)
    )


@pytest.fixture(scope="module")
def step_with(env):
    return jax.jit(lambda s, a, p: env.step_env(jax.random.key(0), s, a, p))


@pytest.fixture(scope="module")
def step(env, step_with):
    return lambda s, a: step_with(s, a, env.default_params)


def _run(step, state, actions):
    rewards, infos = [], []
    for a in actions:
        _, state, r, done, info = step(state, jnp.asarray(a))
        rewards.append(float(r))
        infos.append({k: float(v) for k, v in info.items()})
    return state, rewards, infos, bool(done)


ROOM = make_scene(
    [("cone", (2.0, 0.0, 0.5), (0.3, 0.3, 0.5), 0.0), ("box", (0.0, 1.0, 0.5), (0.3, 0.3, 0.5), 0.0)], max_objects=4
)  # a 6 m room, as many slots as the env's


def test_straight_to_the_goal_succeeds_with_hand_computed_spl_and_rewards(start, step):
    state = start((0.0, 0.0), 0.0, CONE)
    assert float(state.distance) == pytest.approx(1.7)  # 2.0 to the centre minus the 0.3 radius
    state, rewards, infos, done = _run(step, state, [FORWARD] * 5 + [STOP])
    assert done and infos[-1]["success"] == 1.0
    # shortest path 1.7 - 0.5 = 1.2, walked 5 x 0.25 = 1.25
    assert infos[-1]["spl"] == pytest.approx(1.2 / 1.25, abs=1e-5)
    np.testing.assert_allclose(rewards[:5], 0.25 - 0.01, atol=1e-5)
    assert rewards[-1] == pytest.approx(2.5 - 0.01)
    assert float(state.path_length) == pytest.approx(1.25)


def test_a_detour_lowers_spl(start, step):
    state = start((0.0, 0.0), 0.0, CONE)
    # left 30 deg, 2 forward, right twice (-30 deg), 2 forward, left, 2 forward: ends on the x axis
    actions = [TURN_LEFT, FORWARD, FORWARD, TURN_RIGHT, TURN_RIGHT, FORWARD, FORWARD, TURN_LEFT, FORWARD, FORWARD]
    state, _, infos, _ = _run(step, state, [*actions, STOP])
    x = 4 * 0.25 * np.cos(np.pi / 6) + 0.5
    np.testing.assert_allclose(np.asarray(state.position), [x, 0.0], atol=1e-5)
    assert infos[-1]["success"] == 1.0
    assert infos[-1]["spl"] == pytest.approx(1.2 / 1.5, abs=1e-5)  # 6 forward steps where 1.2 m would do
    # a real detour: 4 steps away and 4 back before going
    state = start((0.0, 0.0), 0.0, CONE)
    back = [TURN_LEFT] * 6 + [FORWARD] * 2 + [TURN_LEFT] * 6 + [FORWARD] * 7 + [STOP]
    state, _, infos, _ = _run(step, state, back)
    assert infos[-1]["success"] == 1.0
    assert infos[-1]["spl"] == pytest.approx(1.2 / (9 * 0.25), abs=1e-5)


def test_oracle_stop_ends_the_episode_on_arrival(env, start, step_with):
    params = env.default_params.replace(oracle_stop=True)
    step = lambda s, a: step_with(s, a, params)  # noqa: E731
    state = start((0.0, 0.0), 0.0, CONE)
    dones, infos = [], []
    for _ in range(5):
        _, state, _, done, info = step(state, jnp.asarray(FORWARD))
        dones.append(bool(done))
        infos.append(float(info["success"]))
    assert dones == [False] * 4 + [True] and infos[-1] == 1.0  # 0.45 m from the cone after 5 steps


def test_stopping_far_away_fails_and_ends_the_episode(start, step):
    state = start((0.0, 0.0), 0.0, CONE)
    _, rewards, infos, done = _run(step, state, [FORWARD, STOP])
    assert done and infos[-1]["success"] == 0.0 and infos[-1]["spl"] == 0.0
    assert rewards[-1] == pytest.approx(-0.01)


def test_obstacles_and_walls_block_forward_moves(start, step):
    state = start((0.0, 0.0), np.pi / 2, CONE)  # facing the box 1 m north (edge at 0.7)
    state, rewards, _, _ = _run(step, state, [FORWARD, FORWARD])
    np.testing.assert_allclose(np.asarray(state.position), [0.0, 0.5], atol=1e-5)  # 0.15 from the box edge
    _, rewards, _, _ = _run(step, state, [FORWARD])
    assert rewards[0] == pytest.approx(-0.01)  # blocked: no progress, no path
    state = start((-2.7, 0.0), np.pi, CONE)
    state, _, _, _ = _run(step, state, [FORWARD])
    np.testing.assert_allclose(np.asarray(state.position), [-2.7, 0.0])


def test_time_limit_truncates_and_auto_resets(env, reset):
    params = env.default_params.replace(max_steps_in_episode=20)
    obs, state = reset(jax.random.key(1), params)
    stepper = jax.jit(lambda k, s: env.step(k, s, TURN_LEFT, params))
    for t in range(20):
        obs, state, _, terminated, truncated, _ = stepper(jax.random.key(t), state)
    assert bool(truncated) and not bool(terminated) and int(state.time) == 0


def test_reset_picks_a_present_goal_and_a_free_start_and_observations_shape():
    env = make("ObjectNav-Small-v0")
    obs, states = jax.jit(jax.vmap(env.env.reset_env, in_axes=(0, None)))(
        jax.random.split(jax.random.key(0), 64), env.params
    )
    assert obs.shape == (64, *env.observation_space.shape) == (64, 64, 13)

    @jax.jit  # one program for the checks, not one per eager op (issue 9)
    def checks(states):
        present = jax.vmap(lambda s: jnp.any(s.scene.mask & (s.scene.shape == s.goal)))(states)
        clearance = jax.vmap(lambda s: jnp.min(footprint_distance(s.position, s.scene)))(states)
        return present, clearance

    present, clearance = checks(states)
    assert bool(jnp.all(present))
    assert float(clearance.min()) > env.params.agent_radius
    assert float(jnp.mean(states.distance > env.params.success_distance)) > 0.9
    # the goal one-hot sits in the last four columns of every point; the first points are ahead
    np.testing.assert_array_equal(np.asarray(obs[:, 0, -4:].argmax(-1)), np.asarray(states.goal))
    # the blind env sees the same states as zeros but for the goal (its observation, jitted: XLA drops
    # the unused lidar, so this costs little to compile)
    blind = make("ObjectNav-Small-Blind-v0")
    bobs = np.asarray(jax.jit(jax.vmap(blind.env.get_obs, in_axes=(0, None)))(states, blind.params))
    assert np.abs(bobs[..., :9]).sum() == 0.0 and bobs[..., 9:].sum() == 64.0 * 64
    np.testing.assert_array_equal(bobs[..., 9:], np.asarray(obs[..., 9:]))
    # goal match is 1 exactly on points of an object of the goal class
    semantic, goal = np.asarray(obs[..., 4:8]), np.asarray(states.goal)
    expected = (semantic.argmax(-1) == goal[:, None]) * semantic.sum(-1)
    np.testing.assert_array_equal(np.asarray(obs[..., 8]), expected)
    assert expected.sum() > 0


def test_scene_questions_by_hand():
    scene = make_scene(
        [
            ("cone", (1.0, 0.0, 0.5), (0.3, 0.3, 0.5), 0.0),
            ("box", (-1.0, 0.0, 0.5), (0.3, 0.3, 0.5), 0.0),
            ("cone", (1.0, 2.0, 0.5), (0.3, 0.3, 0.5), 0.0),
        ],
        max_objects=4,
    )
    assert int(count_class(scene, CONE)) == 2 and int(count_class(scene, SHAPE_CLASSES.index("sphere"))) == 0
    assert int(nearest_object(scene, 0)) == 1  # 2.0 away, the other cone 2.0 too: first wins
    assert int(nearest_object(scene, 2)) == 0
    assert float(object_distance(scene, 1, 2)) == pytest.approx(np.hypot(2.0, 2.0))
    # looking north from the origin, the box (x = -1) is left of the cone (x = +1); looking south, not
    assert bool(is_left_of(scene, 1, 0, jnp.zeros(2), jnp.array(np.pi / 2)))
    assert not bool(is_left_of(scene, 1, 0, jnp.zeros(2), jnp.array(-np.pi / 2)))
    text = scene_as_text(scene)
    assert "object 1: a green box at (-1.00, 0.00)" in text and "object 3" not in text
    qs = scene_questions(scene, jax.random.key(0), num=8)
    assert [q["kind"] for q in qs[:4]] == ["count", "nearest", "left_of", "distance"]
    for q in qs:
        assert check_answer(q["kind"], q["answer"], q["answer"])
    assert check_answer("distance", "2.85 m", "2.83") and not check_answer("distance", "3.0", "2.83")
    assert check_answer("left_of", "Yes.", "yes")


def test_count_question_batch_matches_the_scenes():
    from seuseuro.envs.scene3d.scene import generate_scene

    config = SceneConfig(max_objects=4)

    @jax.jit  # the batch and its expected counts in one program (issue 9)
    def batch_and_expected(key):
        clouds, query, counts = count_question_batch(key, 6, config)
        k_scene, _ = jax.random.split(key)
        scenes = jax.vmap(lambda k: generate_scene(k, config))(jax.random.split(k_scene, 6))
        by_hand = jnp.stack([count_class(jax.tree.map(lambda x, b=b: x[b], scenes), query[b]) for b in range(6)])
        return clouds, query, counts, by_hand

    clouds, query, counts, expected = batch_and_expected(jax.random.key(0))
    assert clouds.shape == (6, 4 * 192, 7) and query.shape == counts.shape == (6,)
    np.testing.assert_array_equal(np.asarray(counts), np.asarray(expected))
    assert float(clouds[..., 6].mean()) > 0.5  # most rays hit something
