"""The host collector: rollouts from a Gymnasium vector env stepped on the host, for any algorithm.

The algorithm hands over a :class:`HostPolicy`: a jittable ``act(params, obs, noise)`` for one
seed's batch of (normalized) observations and the randomness of the draw, ``noise``, which the
collector samples on the host for a whole rollout (one key less through every per-step call).
Per step the host does one jitted call that (a) folds the new observations into the running
normalizer, (b) normalizes the next and final observations and scales the reward, and (c) acts on
the next observations — one dispatch with one packed array in and one out, the per-step cost that
dominates a host loop (~200 us per step of a numpy CartPole with a jitted policy, measured here).

Next-step auto-reset envs (Gymnasium's batched implementations) spend one step resetting a
finished copy: that step is marked invalid in ``Transition.valid`` and losses skip it (the running
normalizers still see it: its reset observation is real; its zero reward adds one zero to the
return statistics). Same-step envs (``SyncVectorEnv``) give the final observation in ``info``.

Seeds share one vector env of ``num_seeds * num_envs`` copies; the collector's per-seed statistics
(:class:`CollectorState`) live in the algorithm's TrainState (checkpointed, vmapped), and the vector
env itself is host state, pickled beside the checkpoint when it can be (``host_state``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from seuseuro.core.chunked import Trainer, stack_on_host
from seuseuro.core.networks import numpy_rng
from seuseuro.core.normalization import RunningMeanStd, init_running_stats, normalize, update_running_stats
from seuseuro.core.types import Transition
from seuseuro.envs.gymnasium import INVALID_INFO_KEY, GymnasiumEnv, is_next_step_autoreset
from seuseuro.envs.spaces import action_spec
from seuseuro.errors import UserError


class HostPolicy(NamedTuple):
    """What an algorithm gives the host collector."""

    # (params, obs (N, *obs_shape), noise (N, noise_dim)) -> (action (N, *act_shape), log_prob (N,) | None),
    # for ONE seed; jittable (the collector vmaps it over seeds and fuses it with the normalization).
    act: Callable[[Any, jax.Array, jax.Array], tuple[jax.Array, jax.Array | None]]
    noise_dim: int
    # (numpy Generator, shape (T, N, noise_dim)) -> float noise for a whole rollout of one seed
    draw_noise: Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]


class CollectorState(NamedTuple):
    """Per-seed statistics of the host loop, kept in the TrainState (checkpointed, vmapped)."""

    obs_stats: RunningMeanStd
    return_stats: RunningMeanStd
    discounted_return: jax.Array  # (N,)


def init_collector_state(obs_shape: tuple[int, ...], num_envs: int) -> CollectorState:
    return CollectorState(init_running_stats(obs_shape), init_running_stats(()), jnp.zeros((num_envs,), jnp.float32))


def _final_observations(next_obs: np.ndarray, done: np.ndarray, info: dict) -> np.ndarray:
    """The observation each env reached before being reset (same-step auto-reset puts it in info)."""
    final = next_obs.copy()
    if done.any() and "final_obs" in info:
        for i in np.flatnonzero(done):
            final[i] = info["final_obs"][i]
    return final


class HostCollector:
    """Rollouts of ``num_steps`` x ``num_envs`` per seed from a host-stepped Gymnasium vector env."""

    def __init__(
        self,
        env: GymnasiumEnv,
        policy: HostPolicy,
        *,
        num_seeds: int,
        num_envs: int,
        num_steps: int,
        normalize_observations: bool = False,
        normalize_rewards: bool = False,
        gamma: float = 0.99,
        with_log_prob: bool = True,
        cost_key: str | None = None,
    ):
        self.env, self.policy = env, policy
        self.S, self.N, self.T = num_seeds, num_envs, num_steps
        self.normalize_observations, self.normalize_rewards, self.gamma = (
            normalize_observations,
            normalize_rewards,
            gamma,
        )
        self.with_log_prob, self.cost_key = with_log_prob, cost_key
        spec = action_spec(env.action_space)
        self.discrete, self.action_dim, self.low, self.high = spec.discrete, spec.dim, spec.low, spec.high
        self.obs_shape = tuple(env.observation_space.shape)
        self.obs_size = int(np.prod(self.obs_shape))
        self.act_size = 1 if self.discrete else self.action_dim
        # column offsets of the packed output: obs, final obs, reward, action, [log_prob]
        self._offsets = np.cumsum([0, self.obs_size, self.obs_size, 1, self.act_size, int(with_log_prob)])
        self._host: dict[str, Any] = {"venv": None}
        self._compiled: dict[Any, tuple[Callable, Callable, Callable]] = {}

    # --- per-seed maths, vmapped and jitted below ---------------------------------------------

    def _observe(self, obs_stats: RunningMeanStd, raw_obs, raw_final, update: bool):
        """Fold new observations into the statistics; normalize the observations and final observations."""
        if not self.normalize_observations:
            return obs_stats, raw_obs, raw_final
        if update:
            obs_stats = update_running_stats(obs_stats, raw_obs)
        return obs_stats, normalize(obs_stats, raw_obs), normalize(obs_stats, raw_final)

    def _scale_reward(self, cstate: CollectorState, reward, done):
        """Divide by the running std of the discounted return (as core.wrappers.NormalizeReward)."""
        if not self.normalize_rewards:
            return cstate.return_stats, cstate.discounted_return, reward
        disc = cstate.discounted_return * self.gamma + reward
        ret_stats = update_running_stats(cstate.return_stats, disc)
        reward = jnp.clip(reward / jnp.sqrt(ret_stats.var + 1e-8), -10.0, 10.0)
        return ret_stats, jnp.where(done, 0.0, disc), reward

    def _pack_out(self, obs, final, reward, action, log_prob):
        """One (S, N, 2*obs + 1 + act [+ 1]) float32 array: a single device->host copy per step.

        Each output fetched separately costs ~10-20 us on the host: a jitted act on 8 CartPoles
        returning three arrays took 102 us with the copies back, packed into one 55 us (measured
        here, 2026-11-24). Discrete actions are small integers, exact in float32.
        """
        flat = lambda x: x.reshape(*x.shape[:2], -1).astype(jnp.float32)  # noqa: E731
        parts = [flat(obs), flat(final), reward[..., None], flat(action)]
        if self.with_log_prob:
            parts.append(log_prob[..., None])
        return jnp.concatenate(parts, -1)

    def _unpack_out(self, packed: np.ndarray):
        S, N, o = self.S, self.N, self._offsets
        obs, final = (packed[..., o[i] : o[i + 1]].reshape(S, N, *self.obs_shape) for i in (0, 1))
        action = packed[..., o[3] : o[4]]
        action = action[..., 0].astype(np.int32) if self.discrete else action
        log_prob = packed[..., o[4]] if self.with_log_prob else None
        return obs, final, packed[..., o[2]], action, log_prob

    def _programs(self, treedef):
        """The three jitted per-rollout/per-step programs, for params of this tree structure.

        They take the params as a flat list of arrays: flattening an Equinox module at every jitted
        call costs tens of microseconds on the host, as much as the computation.
        """
        if treedef in self._compiled:
            return self._compiled[treedef]
        S, N, obs_shape, obs_size = self.S, self.N, self.obs_shape, self.obs_size

        def first_obs(cstates, raw_obs, update: bool):
            def one(c: CollectorState, o):
                obs_stats, obs, _ = self._observe(c.obs_stats, o, o, update)
                return c._replace(obs_stats=obs_stats), obs

            return jax.vmap(one)(cstates, raw_obs)

        def act_first(leaves, obs, noise):
            """The first action of a rollout, from the observation the last one ended on."""
            action, log_prob = jax.vmap(self.policy.act)(jax.tree.unflatten(treedef, leaves), obs, noise)
            zeros = jnp.zeros(obs.shape[:2], jnp.float32)
            return self._pack_out(obs, obs, zeros, action, log_prob)

        def observe_and_act(leaves, cstates, packed_in):
            """(a), (b) and (c) of the module docstring in one dispatch, over seeds. ``packed_in`` is
            (S, N, 2*obs + 2 + noise): raw next and final observations, reward, done, and the noise of the
            next action (one host->device copy)."""
            params = jax.tree.unflatten(treedef, leaves)
            raw_obs = packed_in[..., :obs_size].reshape(S, N, *obs_shape)
            raw_final = packed_in[..., obs_size : 2 * obs_size].reshape(S, N, *obs_shape)
            reward, done = packed_in[..., 2 * obs_size], packed_in[..., 2 * obs_size + 1] > 0.5
            noise = packed_in[..., 2 * obs_size + 2 :]

            def one(p, c, o, f, r, d, z):
                obs_stats, obs, final = self._observe(c.obs_stats, o, f, update=True)
                ret_stats, disc, r = self._scale_reward(c, r, d)
                action, log_prob = self.policy.act(p, obs, z)
                return CollectorState(obs_stats, ret_stats, disc), obs, final, r, action, log_prob

            c, obs, final, r, action, log_prob = jax.vmap(one)(params, cstates, raw_obs, raw_final, reward, done, noise)
            return c, self._pack_out(obs, final, r, action, log_prob)

        # Without normalization the per-seed statistics never change: leave them out of the per-step
        # call (every array in or out of a jitted call costs ~5-10 us on the host).
        if self.normalize_observations or self.normalize_rewards:
            step = jax.jit(observe_and_act)
        else:
            unused = jax.vmap(lambda _: init_collector_state(obs_shape, N))(jnp.arange(S))
            stateless = jax.jit(lambda leaves, packed_in: observe_and_act(leaves, unused, packed_in)[1])
            step = lambda leaves, cstates, packed_in: (cstates, stateless(leaves, packed_in))  # noqa: E731
        programs = (jax.jit(first_obs, static_argnames="update"), jax.jit(act_first), step)
        self._compiled[treedef] = programs
        return programs

    # --- the host loop ------------------------------------------------------------------------

    def start(self, params, cstates: CollectorState, keys: jax.Array, fresh: bool):
        """Build and reset the vector env (a new run, or a resume without host state); returns
        (cstates, obs (S, N, *obs_shape) normalized; with ``fresh`` the first observations count in
        the normalizer's statistics)."""
        host = self._host
        first_obs, _, _ = self._programs(jax.tree.structure(params))
        seed = int(jax.random.randint(keys[0], (), 0, 2**31 - 1))
        venv = self.env.make_vec(self.S * self.N, seed)
        raw, _ = venv.reset(seed=seed)
        total = self.S * self.N
        host.update(venv=venv, ep_return=np.zeros(total), ep_length=np.zeros(total, np.int64),
                    next_step=is_next_step_autoreset(venv), prev_done=np.zeros(total, bool))  # fmt: skip
        raw = jnp.asarray(raw, jnp.float32).reshape(self.S, self.N, *self.obs_shape)
        return first_obs(cstates, raw, update=fresh)

    @property
    def running(self) -> bool:
        return self._host["venv"] is not None

    def collect(self, leaves: list, treedef, cstates: CollectorState, obs: jax.Array, keys: jax.Array):
        """One rollout per seed: returns (Transition with leaves (S, T, N, ...), cstates, obs, episodes).

        The acting params come flattened, ``leaves, treedef = jax.tree.flatten(params)``: a trainer that
        updates every few env steps keeps them flat (flattening Equinox modules costs ~0.1 ms a time).
        ``keys`` (S,) seed the action noise (one numpy stream per seed, so seeds stay independent);
        the caller advances them. ``episodes``: pooled mean return/length of the episodes that ended.
        """
        host, S, N, T = self._host, self.S, self.N, self.T
        venv, obs_shape, obs_size = host["venv"], self.obs_shape, self.obs_size
        _, act_first, observe_and_act = self._programs(treedef)
        discrete, action_dim = self.discrete, self.action_dim
        act_shape = () if discrete else (action_dim,)
        obs_buf = np.zeros((T, S, N, *obs_shape), np.float32)
        next_buf = np.zeros_like(obs_buf)
        act_buf = np.zeros((T, S, N, *act_shape), np.int32 if discrete else np.float32)
        logp_buf = np.zeros((T, S, N), np.float32)
        rew_buf = np.zeros((T, S, N), np.float32)
        term_buf = np.zeros((T, S, N), bool)
        trunc_buf = np.zeros((T, S, N), bool)
        valid_buf = np.ones((T, S, N), bool)
        cost_buf = np.zeros((T, S, N), np.float32)
        cost_seen = False
        next_step = host["next_step"]
        returns, lengths = [], []
        nd = self.policy.noise_dim
        noise = np.stack([self.policy.draw_noise(numpy_rng(k), (T, N, nd)) for k in np.asarray(keys)], 1)
        noise = noise.reshape(T, S * N, nd).astype(np.float32)
        packed = act_first(leaves, obs, noise[0].reshape(S, N, nd))
        shape = (S, N)
        # Reused every step. Safe although JAX may read a numpy input without copying it on the CPU:
        # the np.asarray(packed) at the top of the next step waits for the call that read it.
        packed_in = np.zeros((S * N, 2 * obs_size + 2 + nd), np.float32)
        for t in range(T):
            # One host sync per step: everything the last jitted call produced comes back in one
            # packed device->host copy (the actions the environments need now, and what the rollout stores).
            obs, final, scaled, action, log_prob = self._unpack_out(np.asarray(packed))
            if t > 0:
                rew_buf[t - 1], next_buf[t - 1] = scaled, final
            obs_buf[t], act_buf[t] = obs, action
            if log_prob is not None:
                logp_buf[t] = log_prob
            a = action.reshape(S * N, *act_shape)
            raw_next, reward, terminated, truncated, info = venv.step(
                a if discrete else np.clip(a, self.low, self.high)
            )
            done = np.logical_or(terminated, truncated)
            if self.cost_key is not None and self.cost_key in info:
                cost_buf[t], cost_seen = np.asarray(info[self.cost_key], np.float32).reshape(shape), True
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
                cut = info.get(INVALID_INFO_KEY)  # episodes cut by a lost remote runner: no return to report
                ended = done if cut is None else done & ~cut
                if cut is not None and next_step:
                    valid_buf[t] &= ~cut.reshape(shape)
                returns.extend(host["ep_return"][ended].tolist())
                lengths.extend(host["ep_length"][ended].tolist())
                host["ep_return"][done] = 0.0
                host["ep_length"][done] = 0
            cstates, packed = observe_and_act(leaves, cstates, packed_in.reshape(*shape, -1))
            term_buf[t] = terminated.reshape(shape)
            trunc_buf[t] = np.logical_and(truncated, ~terminated).reshape(shape)
        obs, final, scaled, _, _ = self._unpack_out(np.asarray(packed))
        rew_buf[T - 1], next_buf[T - 1] = scaled, final
        if self.cost_key is not None and not cost_seen:
            raise UserError(
                f"{self.env.env_id} reported no {self.cost_key!r} in its step info over a whole rollout; "
                "constrain a cost the environment reports (--cost-key)"
            )
        # Leading axis = seeds for the vmapped update: (S, T, N, ...). Numpy, not jnp.asarray: the
        # jitted update takes them in one C++ call, where each jnp.asarray is a Python-side dispatch
        # (~0.15 ms each, 7 per rollout: most of an off-policy collector's per-update overhead).
        seeds_first = lambda b: np.ascontiguousarray(np.swapaxes(b, 0, 1))  # noqa: E731
        traj = Transition(
            *(seeds_first(b) for b in (obs_buf, act_buf, rew_buf, term_buf, trunc_buf, next_buf)),
            valid=seeds_first(valid_buf) if next_step else None,
            log_prob=seeds_first(logp_buf) if self.with_log_prob else None,
            cost=seeds_first(cost_buf) if self.cost_key is not None else None,
        )
        episodes = {
            "rollout/episode_return": float(np.mean(returns)) if returns else np.nan,
            "rollout/episode_length": float(np.mean(lengths)) if lengths else np.nan,
            "rollout/episodes": float(len(returns)),
        }
        return traj, cstates, obs, episodes

    def reset_host(self) -> None:
        """Forget the vector env: the next ``start`` builds a fresh one (a new run's ``init``)."""
        self._host = {"venv": None}

    def host_state(self):
        """The vector env and its episode bookkeeping (the driver pickles it if it can)."""
        if self._host["venv"] is None:
            return None
        return {k: self._host[k] for k in ("venv", "ep_return", "ep_length", "next_step", "prev_done")}

    def restore_host_state(self, saved) -> None:
        self._host.update(saved)


def make_host_trainer(
    config: Any,
    collector: HostCollector,
    *,
    num_seeds: int,
    updates_per_chunk: int,
    num_updates: int,
    steps_per_update: int,
    build_on_host: Callable[[jax.Array], Any],
    init_one: Callable[[jax.Array, Any], Any],
    update_one: Callable[[Any, Transition], tuple[Any, dict[str, jax.Array]]],
    acting_params: Callable[[Any], Any],
) -> Trainer:
    """The :class:`~seuseuro.core.chunked.Trainer` of an algorithm whose rollouts come from ``collector``.

    The algorithm's TrainState is a NamedTuple with fields ``env_state`` (the collector's
    :class:`CollectorState`), ``obs`` and ``key``; ``init_one(key, built)`` builds one seed's state
    from what ``build_on_host(key)`` built (the networks), ``update_one(state, traj)`` is one seed's
    update (it advances the key and counters), and ``acting_params(state)`` what ``HostPolicy.act``
    reads. Each update: one host rollout for all seeds, then one jitted update vmapped over seeds.
    """
    init_compiled = eqx.filter_jit(jax.vmap(init_one))
    steps: dict[Any, Callable] = {}

    def flat_step(treedef, static):
        """One jitted call per update on the state's flat array leaves: vmapped ``update_one`` on the
        collected rollout, returning the new leaves and what the next rollout reads (the acting params'
        leaves, the collector's states, the observations and the keys).

        Why flat: ``eqx.filter_jit`` partitions and flattens the whole state (networks, optimizer
        states, a replay buffer) on the host at every call. SAC through the collector updates every 4
        env steps; that host work was ~4 of the ~14 ms per update (Pendulum, 64x64 networks, profiled
        here), more than the environment. The state is donated (its buffers reused for the new state):
        an off-policy state holds its replay buffer, which XLA otherwise copies whole at every update.
        Only the state: the trajectory's buffers have no output to alias (JAX would warn at every call).
        Keyed by the arrays' treedef alone: one trainer's state keeps one static part (its networks'
        activations and sizes), so hashing that part at every chunk would buy nothing.
        """
        if treedef not in steps:

            def step(traj, cstates, obs, leaves):
                state = eqx.combine(jax.tree.unflatten(treedef, leaves), static)
                state = state._replace(env_state=cstates, obs=obs)
                new, metrics = jax.vmap(update_one)(state, traj)
                new_leaves = jax.tree.leaves(eqx.filter(new, eqx.is_array))
                return new_leaves, metrics, jax.tree.leaves(acting_params(new)), new.env_state, new.obs, new.key

            steps[treedef] = jax.jit(step, donate_argnums=3)
        return steps[treedef]

    def template():
        keys = jax.random.split(jax.random.PRNGKey(0), num_seeds)
        one = jax.eval_shape(build_on_host, keys[0])
        built = jax.tree.map(lambda x: jax.ShapeDtypeStruct((num_seeds, *x.shape), x.dtype), one)
        return jax.eval_shape(init_compiled, keys, built)

    def ensure_env(state, fresh: bool):
        if collector.running:
            return state
        cstates, obs = collector.start(acting_params(state), state.env_state, state.key, fresh)
        return state._replace(env_state=cstates, obs=obs)

    def init(keys):
        state = init_compiled(keys, stack_on_host([build_on_host(k) for k in keys]))
        collector.reset_host()
        return ensure_env(state, fresh=True)

    def run_chunk(state, n_active: int):
        state = ensure_env(state, fresh=False)
        arrays, static = eqx.partition(state, eqx.is_array)
        leaves, treedef = jax.tree.flatten(arrays)
        step = flat_step(treedef, static)
        acting_leaves, acting_def = jax.tree.flatten(acting_params(state))
        cstates, obs, keys = state.env_state, state.obs, state.key
        rows = []
        for _ in range(n_active):
            traj, cstates, obs, episodes = collector.collect(acting_leaves, acting_def, cstates, obs, keys)
            leaves, metrics, acting_leaves, cstates, obs, keys = step(traj, cstates, obs, leaves)
            metrics = {k: np.asarray(v) for k, v in metrics.items()}
            # Episodes are pooled over seeds on the host; report the pooled mean for every seed.
            metrics.update({k: np.full((num_seeds,), v) for k, v in episodes.items()})
            rows.append(metrics)
        state = eqx.combine(jax.tree.unflatten(treedef, leaves), static)
        stacked = {k: np.stack([r[k] for r in rows], axis=1) for k in rows[0]} if rows else {}
        return state, stacked

    return Trainer(
        config, num_seeds, updates_per_chunk, init, run_chunk, template,
        num_updates=num_updates, steps_per_update=steps_per_update,
        host_state=collector.host_state, restore_host_state=collector.restore_host_state,
    )  # fmt: skip
