"""The Gymnasium bridge: train on any registered Gymnasium environment (MuJoCo, Box2D, users' own)
with the same jitted act and update as the compiled path.

A Gymnasium vector environment is stepped on the host: the environment's own batched
implementation where it has one (Gymnasium's ``vector_entry_point``, e.g. CartPole's numpy one),
which resets a finished copy on the *next* step — that step is marked invalid in
``Transition.valid`` and skipped by every average of the PPO loss (the running normalizers still
see it: its reset observation is real; its zero reward adds one zero to the return statistics);
otherwise a ``SyncVectorEnv`` with same-step auto-reset, which hands the final observation of an
episode in the step that ends it.
Per step the host does one jitted call that (a) folds the new observations into the running
normalizer, (b) normalizes the next and final observations and scales the reward, and (c) turns
host-drawn noise into the next actions — one dispatch with one packed array in and one out, the
per-step cost anchors.md says dominates. The rollout is then handed, as the same ``Transition``
contract, to ``algos.ppo.ppo_update``, vmapped over seeds. Seeds share one vector env of
``num_seeds * num_envs`` copies.

Resume: the host environments are pickled beside each checkpoint (``checkpoints/host_state.pkl``)
when they can be — Gymnasium's batched implementations can, so a resumed CartPole run ends exactly
as an uninterrupted one (tested); a SyncVectorEnv cannot (it holds a generator), so a resumed
MuJoCo run continues with the same parameters, optimizer and normalizer but fresh episodes.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from seuseuro.core.chunked import Trainer, stack_on_host
from seuseuro.core.networks import numpy_rng
from seuseuro.core.normalization import RunningMeanStd, init_running_stats, normalize, update_running_stats
from seuseuro.core.types import Transition
from seuseuro.errors import UserError


@dataclasses.dataclass(frozen=True, eq=False)
class GymnasiumEnv:
    """A Gymnasium id and its single-env spaces; ``make_vec`` builds the host vector env."""

    env_id: str
    observation_space: Any
    action_space: Any
    max_episode_steps: int | None
    kwargs: dict
    is_jax_native = False
    family = "gymnasium"

    @classmethod
    def create(cls, env_id: str, **kwargs) -> GymnasiumEnv:
        import gymnasium

        try:
            env = gymnasium.make(env_id, **kwargs)
        except Exception as err:  # missing extras (mujoco, box2d, ale-py) or bad kwargs
            raise UserError(
                f"Gymnasium could not build {env_id!r}: {type(err).__name__}: {err} "
                "(for MuJoCo ids: pip install 'seuseuro[mujoco]')"
            ) from None
        spec = cls(env_id, env.observation_space, env.action_space, env.spec.max_episode_steps, dict(kwargs))
        env.close()
        if type(spec.observation_space).__name__ != "Box":
            raise UserError(
                f"{env_id} has a {type(spec.observation_space).__name__} observation space; the bridge needs a Box "
                "(wrap it with gymnasium.wrappers.FlattenObservation and register the wrapped id)"
            )
        return spec

    def make_vec(self, num_envs: int, seed: int):
        """The env's own batched implementation if it has one (Gymnasium's ``vector_entry_point``,
        e.g. CartPole's numpy one: ~45 us per step of 8 copies against ~115 us for a SyncVectorEnv,
        which steps the copies one by one), else a SyncVectorEnv with same-step auto-reset.

        Batched implementations reset a finished copy on the *next* step (``is_next_step_autoreset``);
        the bridge then marks that step invalid (``Transition.valid``) and the losses skip it.
        """
        import gymnasium

        if gymnasium.spec(self.env_id).vector_entry_point is not None:
            try:
                vec = gymnasium.make_vec(
                    self.env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **self.kwargs
                )
            except Exception:  # e.g. kwargs or wrappers the batched class does not take: step copies instead
                vec = None
            # numpy only: a JAX-backed one (phys2d/...) returns immutable arrays the host loop writes to
            if vec is not None and is_next_step_autoreset(vec) and not vec.metadata.get("jax", False):
                vec.action_space.seed(seed)
                return vec
            if vec is not None:
                vec.close()
        vec = gymnasium.make_vec(
            self.env_id,
            num_envs=num_envs,
            vectorization_mode="sync",
            vector_kwargs={"autoreset_mode": gymnasium.vector.AutoresetMode.SAME_STEP},
            **self.kwargs,
        )
        vec.action_space.seed(seed)
        return vec


def is_next_step_autoreset(vec) -> bool:
    """True if ``vec`` resets a finished copy in the step after the one that ended its episode."""
    import gymnasium

    return vec.metadata.get("autoreset_mode") == gymnasium.vector.AutoresetMode.NEXT_STEP


class BridgeState(NamedTuple):
    """Per-seed statistics the host loop keeps in the TrainState (checkpointed, vmapped)."""

    obs_stats: RunningMeanStd
    return_stats: RunningMeanStd
    discounted_return: jax.Array  # (N,)


def _final_observations(next_obs: np.ndarray, done: np.ndarray, info: dict) -> np.ndarray:
    """The observation each env reached before being reset (same-step auto-reset puts it in info)."""
    final = next_obs.copy()
    if done.any() and "final_obs" in info:
        for i in np.flatnonzero(done):
            final[i] = info["final_obs"][i]
    return final


def make_bridge_train(config, env: GymnasiumEnv, num_seeds: int, updates_per_chunk: int, torso_factory=None):
    """A PPO trainer whose rollouts come from a host-stepped Gymnasium vector env."""
    from seuseuro.algos import ppo

    action_dim, discrete, low, high = ppo.action_spec(env.action_space)
    obs_shape = tuple(env.observation_space.shape)
    torso_factory = torso_factory or ppo.make_torso_factory(config, obs_shape)
    S, N, T = num_seeds, config.num_envs, config.num_steps
    tx = ppo.make_optimizer(config)

    def observe(obs_stats: RunningMeanStd, raw_obs, raw_final, update: bool):
        """Fold new observations into the statistics; normalize the observations and final observations."""
        if not config.normalize_observations:
            return obs_stats, raw_obs, raw_final
        if update:
            obs_stats = update_running_stats(obs_stats, raw_obs)
        return obs_stats, normalize(obs_stats, raw_obs), normalize(obs_stats, raw_final)

    def scale_reward(bstate: BridgeState, reward, done):
        """Divide by the running std of the discounted return (as core.wrappers.NormalizeReward)."""
        if not config.normalize_rewards:
            return bstate.return_stats, bstate.discounted_return, reward
        disc = bstate.discounted_return * config.gamma + reward
        ret_stats = update_running_stats(bstate.return_stats, disc)
        reward = jnp.clip(reward / jnp.sqrt(ret_stats.var + 1e-8), -10.0, 10.0)
        return ret_stats, jnp.where(done, 0.0, disc), reward

    def build_policy(key):  # on the host, as in ppo.make_train
        return ppo.ActorCritic(key, obs_shape, action_dim, discrete, config, torso_factory)

    def init_one(key, policy):
        bstate = BridgeState(init_running_stats(obs_shape), init_running_stats(()), jnp.zeros((N,), jnp.float32))
        obs = jnp.zeros((N, *obs_shape), jnp.float32)  # filled in by the first reset on the host
        opt_state = tx.init(eqx.filter(policy, eqx.is_array))
        return ppo.TrainState(policy, opt_state, bstate, obs, key, jnp.asarray(0, jnp.int32))

    @functools.partial(jax.jit, static_argnames="update")
    def first_obs(bstates, raw_obs, update: bool):
        def one(b: BridgeState, o):
            obs_stats, obs, _ = observe(b.obs_stats, o, o, update)
            return b._replace(obs_stats=obs_stats), obs

        return jax.vmap(one)(bstates, raw_obs)

    init_compiled = eqx.filter_jit(jax.vmap(init_one))

    def template():
        keys = jax.random.split(jax.random.PRNGKey(0), S)
        one = jax.eval_shape(build_policy, keys[0])
        policies = jax.tree.map(lambda x: jax.ShapeDtypeStruct((S, *x.shape), x.dtype), one)
        return jax.eval_shape(init_compiled, keys, policies)

    # The per-step functions take the policy as a flat list of arrays: flattening an Equinox module
    # at every jitted call costs tens of microseconds on the host, as much as the computation.
    policy_treedef = jax.tree.structure(template().policy)
    obs_size = int(np.prod(obs_shape))
    act_size = 1 if discrete else action_dim

    def pack_out(obs, final, reward, action, log_prob):
        """One (S, N, 2*obs + 1 + act + 1) float32 array: a single device->host copy per step.

        Each output fetched separately costs ~10-20 us on the host: a jitted act on 8 CartPoles
        returning three arrays took 102 us with the copies back, packed into one 55 us (measured
        here, 2026-11-24). Discrete actions are small integers, exact in float32.
        """
        flat = lambda x: x.reshape(*x.shape[:2], -1).astype(jnp.float32)  # noqa: E731
        return jnp.concatenate([flat(obs), flat(final), reward[..., None], flat(action), log_prob[..., None]], -1)

    o = np.cumsum([0, obs_size, obs_size, 1, act_size, 1])  # column offsets of pack_out's pieces

    def unpack_out(packed: np.ndarray):
        obs, final = (packed[..., o[i] : o[i + 1]].reshape(S, N, *obs_shape) for i in (0, 1))
        action = packed[..., o[3] : o[4]]
        action = action[..., 0].astype(np.int32) if discrete else action
        return obs, final, packed[..., o[2]], action, packed[..., o[4]]

    def one_act(policy, obs, noise):
        return ppo.action_from_noise(policy, jax.vmap(policy.dist_params)(obs), noise)

    @jax.jit
    def act(policy_leaves, obs, noise):
        """The first action of a rollout, from the observation the last one ended on."""
        action, log_prob = jax.vmap(one_act)(jax.tree.unflatten(policy_treedef, policy_leaves), obs, noise)
        zeros = jnp.zeros(obs.shape[:2], jnp.float32)
        return pack_out(obs, obs, zeros, action, log_prob)

    def observe_and_act_one_call(policy_leaves, bstates, packed_in):
        """(a), (b) and (c) of the module docstring in one dispatch, over seeds. ``packed_in`` is
        (S, N, 2*obs + 2 + noise): raw next and final observations, reward, done, and the noise of the
        next action (one host->device copy)."""
        policies = jax.tree.unflatten(policy_treedef, policy_leaves)
        raw_obs = packed_in[..., :obs_size].reshape(S, N, *obs_shape)
        raw_final = packed_in[..., obs_size : 2 * obs_size].reshape(S, N, *obs_shape)
        reward, done = packed_in[..., 2 * obs_size], packed_in[..., 2 * obs_size + 1] > 0.5
        noise = packed_in[..., 2 * obs_size + 2 :]

        def one(policy, b, o, f, r, d, z):
            obs_stats, obs, final = observe(b.obs_stats, o, f, update=True)
            ret_stats, disc, r = scale_reward(b, r, d)
            action, log_prob = one_act(policy, obs, z)
            return BridgeState(obs_stats, ret_stats, disc), obs, final, r, action, log_prob

        b, obs, final, r, action, log_prob = jax.vmap(one)(policies, bstates, raw_obs, raw_final, reward, done, noise)
        return b, pack_out(obs, final, r, action, log_prob)

    # Without normalization the per-seed statistics never change: leave them out of the per-step
    # call (every array in or out of a jitted call costs ~5-10 us on the host).
    stateful = config.normalize_observations or config.normalize_rewards
    if stateful:
        observe_and_act = jax.jit(observe_and_act_one_call)
    else:
        unused = jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype), template().env_state)
        stateless = jax.jit(
            lambda policy_leaves, packed_in: observe_and_act_one_call(policy_leaves, unused, packed_in)[1]
        )
        observe_and_act = lambda policy_leaves, bstates, packed_in: (bstates, stateless(policy_leaves, packed_in))  # noqa: E731

    @jax.jit
    def update(policies, opt_states, traj, keys, update_steps):
        def one(policy, opt_state, traj, key, step):
            key, update_key = jax.random.split(key)
            policy, opt_state, metrics = ppo.ppo_update(policy, opt_state, traj, update_key, step, tx, config)
            return policy, opt_state, metrics, key

        return jax.vmap(one)(policies, opt_states, traj, keys, update_steps)

    host: dict[str, Any] = {"venv": None}

    def ensure_env(state: ppo.TrainState, fresh: bool) -> ppo.TrainState:
        if host["venv"] is not None:
            return state
        seed = int(jax.random.randint(state.key[0], (), 0, 2**31 - 1))
        venv = env.make_vec(S * N, seed)
        raw, _ = venv.reset(seed=seed)
        host.update(venv=venv, ep_return=np.zeros(S * N), ep_length=np.zeros(S * N, np.int64),
                    next_step=is_next_step_autoreset(venv), prev_done=np.zeros(S * N, bool))  # fmt: skip
        bstates, obs = first_obs(state.env_state, jnp.asarray(raw, jnp.float32).reshape(S, N, *obs_shape), fresh)
        return state._replace(env_state=bstates, obs=obs)

    def collect(state: ppo.TrainState):
        venv = host["venv"]
        act_shape = () if discrete else (action_dim,)
        obs_buf = np.zeros((T, S, N, *obs_shape), np.float32)
        next_buf = np.zeros_like(obs_buf)
        act_buf = np.zeros((T, S, N, *act_shape), np.int32 if discrete else np.float32)
        logp_buf = np.zeros((T, S, N), np.float32)
        rew_buf = np.zeros((T, S, N), np.float32)
        term_buf = np.zeros((T, S, N), bool)
        trunc_buf = np.zeros((T, S, N), bool)
        valid_buf = np.ones((T, S, N), bool)
        next_step = host["next_step"]
        returns, lengths = [], []
        policy_leaves = jax.tree.leaves(state.policy)
        # The action noise of the whole rollout, drawn on the host from the seeds' keys (which
        # every update advances), travels with the observations: no key in or out of each step.
        rngs = [numpy_rng(k) for k in np.asarray(state.key)]  # one stream per seed: seeds stay independent
        noise = np.stack([(r.gumbel if discrete else r.standard_normal)(size=(T, N, action_dim)) for r in rngs], 1)
        noise = noise.reshape(T, S * N, action_dim).astype(np.float32)
        packed = act(policy_leaves, state.obs, noise[0].reshape(S, N, action_dim))
        bstates, shape = state.env_state, (S, N)
        # Reused every step. Safe although JAX may read a numpy input without copying it on the CPU:
        # the np.asarray(packed) at the top of the next step waits for the call that read it.
        packed_in = np.zeros((S * N, 2 * obs_size + 2 + action_dim), np.float32)
        for t in range(T):
            # One host sync per step: everything the last jitted call produced comes back in one
            # packed device->host copy (the actions the environments need now, and what the rollout stores).
            obs, final, scaled, action, log_prob = unpack_out(np.asarray(packed))
            if t > 0:
                rew_buf[t - 1], next_buf[t - 1] = scaled, final
            obs_buf[t], act_buf[t], logp_buf[t] = obs, action, log_prob
            a = action.reshape(S * N, *act_shape)
            raw_next, reward, terminated, truncated, info = venv.step(a if discrete else np.clip(a, low, high))
            done = np.logical_or(terminated, truncated)
            packed_in[:, :obs_size] = raw_next.reshape(S * N, obs_size)
            if next_step:  # the observation that ended an episode is the returned one; reset next step
                valid = ~host["prev_done"]
                valid_buf[t] = valid.reshape(shape)
                host["prev_done"] = done
                packed_in[:, obs_size : 2 * obs_size] = packed_in[:, :obs_size]
            else:
                valid = True
                packed_in[:, obs_size : 2 * obs_size] = _final_observations(raw_next, done, info).reshape(
                    S * N, obs_size
                )
            packed_in[:, 2 * obs_size], packed_in[:, 2 * obs_size + 1] = reward, done
            if t + 1 < T:  # the last call's action is not taken: the next rollout draws afresh
                packed_in[:, 2 * obs_size + 2 :] = noise[t + 1]
            host["ep_return"] += reward  # 0 in a reset step
            host["ep_length"] += valid
            if done.any():
                returns.extend(host["ep_return"][done].tolist())
                lengths.extend(host["ep_length"][done].tolist())
                host["ep_return"][done] = 0.0
                host["ep_length"][done] = 0
            bstates, packed = observe_and_act(policy_leaves, bstates, packed_in.reshape(*shape, -1))
            term_buf[t] = terminated.reshape(shape)
            trunc_buf[t] = np.logical_and(truncated, ~terminated).reshape(shape)
        obs, final, scaled, _, _ = unpack_out(np.asarray(packed))
        rew_buf[T - 1], next_buf[T - 1] = scaled, final
        obs, keys = jnp.asarray(obs), state.key
        # Leading axis = seeds for the vmapped update: (S, T, N, ...)
        buffers = (obs_buf, act_buf, logp_buf, rew_buf, term_buf, trunc_buf, next_buf) + (
            (valid_buf,) if next_step else ()
        )
        traj = Transition(*(jnp.asarray(np.swapaxes(b, 0, 1)) for b in buffers))
        episode = {
            "rollout/episode_return": float(np.mean(returns)) if returns else np.nan,
            "rollout/episode_length": float(np.mean(lengths)) if lengths else np.nan,
            "rollout/episodes": float(len(returns)),
        }
        return traj, bstates, obs, keys, episode

    def init(keys):
        state = init_compiled(keys, stack_on_host([build_policy(k) for k in keys]))
        host["venv"] = None
        return ensure_env(state, fresh=True)

    def run_chunk(state: ppo.TrainState, n_active: int):
        state = ensure_env(state, fresh=False)
        rows = []
        for _ in range(n_active):
            traj, bstates, obs, keys, episode = collect(state)
            policy, opt_state, metrics, keys = update(state.policy, state.opt_state, traj, keys, state.update_step)
            state = ppo.TrainState(policy, opt_state, bstates, obs, keys, state.update_step + 1)
            metrics = {k: np.asarray(v) for k, v in metrics.items()}
            # Episodes are pooled over seeds on the host; report the pooled mean for every seed.
            metrics.update({k: np.full((S,), v) for k, v in episode.items()})
            rows.append(metrics)
        stacked = {k: np.stack([r[k] for r in rows], axis=1) for k in rows[0]} if rows else {}
        return state, stacked

    def host_state():
        """The vector env and its episode bookkeeping (the driver pickles it if it can)."""
        if host["venv"] is None:
            return None
        return {k: host[k] for k in ("venv", "ep_return", "ep_length", "next_step", "prev_done")}

    def restore_host_state(saved) -> None:
        host.update(saved)

    return Trainer(config, S, updates_per_chunk, init, run_chunk, template, host_state, restore_host_state)


def evaluate_bridge(
    policy, bstate: BridgeState, env: GymnasiumEnv, seed: int, episodes: int, deterministic: bool, normalize_obs: bool
):
    """Return of ``episodes`` full episodes (one per env copy), observations normalized as in training."""
    from seuseuro.algos import ppo

    _, discrete, low, high = ppo.action_spec(env.action_space)
    venv = env.make_vec(episodes, seed)
    raw, _ = venv.reset(seed=seed)

    @jax.jit
    def act(obs, key):
        obs = normalize(bstate.obs_stats, obs) if normalize_obs else obs
        return ppo.sample_action(policy, obs, key, deterministic)[0]

    key = jax.random.PRNGKey(seed)
    returns = np.zeros(episodes)
    finished = np.zeros(episodes, bool)
    limit = env.max_episode_steps or 10_000
    for _ in range(limit):
        key, sub = jax.random.split(key)
        a = np.asarray(act(jnp.asarray(raw, jnp.float32), sub))
        raw, reward, terminated, truncated, _ = venv.step(a if discrete else np.clip(a, low, high))
        returns += np.where(finished, 0.0, reward)
        finished |= np.logical_or(terminated, truncated)
        if finished.all():
            break
    venv.close()
    return returns
