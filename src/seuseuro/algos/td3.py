"""Twin Delayed DDPG (Fujimoto et al. 2018), one file, top to bottom.

Reproduces CleanRL's ``td3_continuous_action.py``: a deterministic tanh actor, twin critics whose
minimum forms the target (clipped double Q, eq. 10), target policy smoothing (Gaussian noise 0.2
clipped at 0.5 on the target action, section 5.3), the actor and the Polyak-averaged target networks
(tau 0.005) updated every ``policy_delay`` = 2 critic steps (section 5.2), Gaussian exploration noise
of 0.1 x the action scale, and uniformly random actions for the first ``learning_starts`` env steps.

As in ``sac.py`` (whose critic and unit conversions this file shares): noise and critics work on
actions in [-1, 1] (so 0.1 and 0.2 are fractions of the Box's half-range, CleanRL's
``action_scale``), the buffer stores env-unit actions, the replay buffer lives in the TrainState
(exact resume), time limits bootstrap, and delays are loops with a traced trip count (a vmapped
``lax.cond`` would run the skipped branch too).
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from seuseuro.algos.sac import TwinCritic, to_env_units, to_unit, weighted_mean
from seuseuro.collect.host import HostPolicy
from seuseuro.collect.trainer import make_trainer
from seuseuro.core import replay
from seuseuro.core.chunked import Trainer
from seuseuro.core.networks import MLP, split_key
from seuseuro.core.types import Transition
from seuseuro.core.value_learning import clipped_double_q_target, soft_update
from seuseuro.envs.spaces import action_spec
from seuseuro.errors import UserError, require_actor_critic_schedule, require_at_least_one, require_finite


@dataclasses.dataclass(frozen=True)
class Config:
    """TD3 hyperparameters. Defaults are CleanRL's MuJoCo set (1M steps); `TUNED` holds the
    per-env sets, applied by the CLI unless a flag overrides them."""

    total_steps: int = 1_000_000
    """Environment steps in total, over all parallel envs (per seed). Typical 2e4 (Pendulum) to 1e6 (MuJoCo)."""
    num_envs: int = 1
    """Parallel environments per seed. 1 (CleanRL) to 16; more envs = more steps/s, same update-to-data ratio."""
    num_steps: int = 1
    """Steps per environment between two rounds of gradient steps (SB3's train_freq). Typical 1-64."""
    gradient_steps: int = 1
    """Critic steps per round; 1 per env step collected (num_envs * num_steps) is SB3/CleanRL's ratio."""
    buffer_size: int = 1_000_000
    """Replay capacity in transitions (per seed). Typical 2e5-1e6."""
    batch_size: int = 256
    """Transitions per gradient step. Typical 100-256."""
    learning_starts: int = 25_000
    """Env steps of uniformly random actions before the first gradient step (CleanRL: 25k; paper: 1e4)."""
    gamma: float = 0.99
    """Discount factor. Typical 0.98-0.99."""
    tau: float = 0.005
    """Polyak factor of the target actor and critics per actor update. Typical 0.005."""
    learning_rate: float = 3e-4
    """Adam step size of the actor and of the critics. Typical 3e-4 (CleanRL) to 1e-3 (paper, RL-Zoo)."""
    policy_delay: int = 2
    """Actor and target updates every this many critic steps (paper: 2)."""
    target_noise: float = 0.2
    """Std of the target policy smoothing noise, in units of the action half-range (paper: 0.2)."""
    noise_clip: float = 0.5
    """Clip of the smoothing noise, same units (paper: 0.5)."""
    exploration_noise: float = 0.1
    """Std of the Gaussian exploration noise, in units of the action half-range (paper: 0.1)."""
    hidden_sizes: tuple[int, ...] = (256, 256)
    """Hidden widths of the actor and of each critic (ReLU). Paper: (400, 300); CleanRL: (256, 256)."""

    def __post_init__(self):
        require_finite(self)
        require_at_least_one(
            self, ("total_steps", "num_envs", "num_steps", "gradient_steps", "batch_size", "policy_delay")
        )
        require_actor_critic_schedule(self)
        if self.learning_rate <= 0:
            raise UserError(f"--learning-rate must be > 0 (got {self.learning_rate})")
        if min(self.target_noise, self.noise_clip, self.exploration_noise) < 0:
            raise UserError("--target-noise, --noise-clip and --exploration-noise must be >= 0")

    @property
    def steps_per_update(self) -> int:
        return self.num_envs * self.num_steps

    @property
    def num_updates(self) -> int:
        return self.total_steps // self.steps_per_update


# Pendulum: RL-Zoo's td3.yml (20k steps, gamma 0.98, buffer 2e5, learning starts 1e4, noise 0.1,
# lr 1e-3, (400, 300)); four envs x 4 gradient steps per round keep its update-to-data ratio of 1.
# MuJoCo: CleanRL's defaults (the class's). Not tuned: other classic control, Box2D, DM Control, Brax.
_MUJOCO: dict[str, Any] = {}  # the defaults
TUNED: dict[str, dict[str, Any]] = {
    "Pendulum-v1": dict(
        total_steps=20_000, num_envs=4, num_steps=1, gradient_steps=4, buffer_size=200_000,
        learning_starts=10_000, gamma=0.98, learning_rate=1e-3, hidden_sizes=(400, 300),
    ),
    **{f"{name}-v{v}": _MUJOCO for name in ("HalfCheetah", "Hopper", "Walker2d", "Ant", "Humanoid") for v in (4, 5)},
}  # fmt: skip


def tuned_config(env_id: str, **overrides) -> Config:
    """The tuned Config for ``env_id`` (RL-Zoo / CleanRL), with ``overrides`` applied."""
    return Config(**{**TUNED.get(env_id.split(":")[-1], {}), **overrides})


# =================================================================================================
# Networks: deterministic tanh actor (actions in [-1, 1]); twin critics from sac.py
# =================================================================================================


class Actor(eqx.Module):
    net: MLP
    low: tuple[float, ...] = eqx.field(static=True)  # the Box's bounds, kept for evaluation
    high: tuple[float, ...] = eqx.field(static=True)

    def __call__(self, obs: jax.Array) -> jax.Array:
        return jnp.tanh(self.net(obs.reshape(-1).astype(jnp.float32)))


class Learner(NamedTuple):
    actor: Actor
    target_actor: Actor
    critic: TwinCritic
    target_critic: TwinCritic
    actor_opt: Any
    critic_opt: Any
    grad_step: jax.Array  # () int32: critic steps so far


class TrainState(NamedTuple):
    learner: Learner
    buffer: replay.ReplayBuffer
    env_state: Any  # wrapper states, or the host collector's statistics
    obs: jax.Array  # (N, *obs_shape)
    key: jax.Array
    update_step: jax.Array  # () int32: rounds done


# =================================================================================================
# The update
# =================================================================================================


def make_learn(config: Config, action_dim: int, low: np.ndarray, high: np.ndarray):
    """``store_and_learn(learner, buffer, traj, key, env_steps)`` for one seed, and the optimizer."""
    tx = optax.adam(config.learning_rate)
    low, high = jnp.asarray(low), jnp.asarray(high)
    nan = jnp.asarray(jnp.nan, jnp.float32)

    def critic_step(learner: Learner, batch: replay.ReplaySample, key):
        noise = config.target_noise * jax.random.normal(key, (config.batch_size, action_dim))
        noise = jnp.clip(noise, -config.noise_clip, config.noise_clip)
        next_action = jnp.clip(jax.vmap(learner.target_actor)(batch.next_obs) + noise, -1.0, 1.0)
        tq1, tq2 = jax.vmap(learner.target_critic)(batch.next_obs, next_action)
        target = jax.vmap(clipped_double_q_target)(batch.reward, batch.discount, tq1, tq2)
        action = to_unit(batch.action, low, high)

        def loss_fn(critic):
            q1, q2 = jax.vmap(critic)(batch.obs, action)
            loss = weighted_mean((q1 - target) ** 2, batch.weight) + weighted_mean((q2 - target) ** 2, batch.weight)
            return loss, weighted_mean(q1, batch.weight)

        (loss, q_mean), grads = eqx.filter_value_and_grad(loss_fn, has_aux=True)(learner.critic)
        updates, critic_opt = tx.update(grads, learner.critic_opt, eqx.filter(learner.critic, eqx.is_array))
        critic = eqx.apply_updates(learner.critic, updates)
        return learner._replace(critic=critic, critic_opt=critic_opt), {
            "train/critic_loss": loss,
            "train/q_mean": q_mean,
        }

    def actor_and_targets_step(learner: Learner, batch: replay.ReplaySample):
        def loss_fn(actor):  # deterministic policy gradient through the first critic (paper, Alg. 1)
            q1, _ = jax.vmap(learner.critic)(batch.obs, jax.vmap(actor)(batch.obs))
            return -weighted_mean(q1, batch.weight)

        loss, grads = eqx.filter_value_and_grad(loss_fn)(learner.actor)
        updates, actor_opt = tx.update(grads, learner.actor_opt, eqx.filter(learner.actor, eqx.is_array))
        actor = eqx.apply_updates(learner.actor, updates)
        learner = learner._replace(
            actor=actor,
            actor_opt=actor_opt,
            target_actor=soft_update(learner.target_actor, actor, config.tau),
            target_critic=soft_update(learner.target_critic, learner.critic, config.tau),
        )
        return learner, {"train/actor_loss": loss}

    def gradient_step(i, carry):
        learner, metrics, buffer, key = carry
        key, k_sample, k_critic = jax.random.split(key, 3)
        batch = replay.sample(buffer, k_sample, config.batch_size)
        learner, critic_stats = critic_step(learner, batch, k_critic)
        # The delay as a 0-or-1-trip loop (see the module docstring).
        delayed = jnp.where((learner.grad_step + 1) % config.policy_delay == 0, 1, 0)
        actor_stats = {"train/actor_loss": metrics["train/actor_loss"]}
        learner, actor_stats = jax.lax.fori_loop(
            0, delayed, lambda j, c: actor_and_targets_step(c[0], batch), (learner, actor_stats)
        )
        learner = learner._replace(grad_step=learner.grad_step + 1)
        return learner, {**critic_stats, **actor_stats}, buffer, key

    metric_names = ("train/critic_loss", "train/q_mean", "train/actor_loss")

    def store_and_learn(learner: Learner, buffer, traj: Transition, key, env_steps):
        """Add a rollout (leaves ``(T, N, ...)``) to the buffer; then, once ``env_steps`` (collected so
        far, this rollout included) passes ``learning_starts``, ``gradient_steps`` critic steps."""
        buffer = replay.add_rollout(buffer, traj)
        metrics = {k: nan for k in metric_names}
        num_steps = jnp.where(env_steps > config.learning_starts, config.gradient_steps, 0)
        learner, metrics, _, _ = jax.lax.fori_loop(0, num_steps, gradient_step, (learner, metrics, buffer, key))
        return learner, buffer, metrics

    return store_and_learn, tx


# =================================================================================================
# The trainers: compiled (JAX-native env) and host-collected (Gymnasium env)
# =================================================================================================


def make_act(config: Config, low: np.ndarray, high: np.ndarray):
    """The collectors' acting: ``params = (actor, random_phase)``; ``noise`` (N, 2 |A|) holds a normal
    draw for the exploration noise and a uniform one for the random actions before ``learning_starts``."""
    low, high = jnp.asarray(low), jnp.asarray(high)
    dim = low.shape[0]

    def act_from_noise(params, obs, noise):
        actor, random_phase = params
        unit = jnp.clip(jax.vmap(actor)(obs) + config.exploration_noise * noise[:, :dim], -1.0, 1.0)
        unit = jnp.where(random_phase, 2.0 * noise[:, dim:] - 1.0, unit)
        return to_env_units(unit, low, high), None

    def act(params, obs, key):
        k1, k2 = jax.random.split(key)
        shape = (obs.shape[0], dim)
        noise = jnp.concatenate([jax.random.normal(k1, shape), jax.random.uniform(k2, shape)], 1)
        return act_from_noise(params, obs, noise)

    def draw(rng, shape):
        return np.concatenate([rng.standard_normal(shape[:-1] + (dim,)), rng.uniform(size=shape[:-1] + (dim,))], -1)

    return act, HostPolicy(act_from_noise, 2 * dim, draw)


def make_train(config: Config, env, num_seeds: int = 1, updates_per_chunk: int = 10) -> Trainer:
    """Build the trainer for a JAX-native env (``envs.make`` result) or a Gymnasium env."""
    spec = action_spec(env.action_space, "TD3", allow=("Box",))
    obs_shape = tuple(env.observation_space.shape)
    obs_size, dim, N = int(np.prod(obs_shape)), spec.dim, config.num_envs
    store_and_learn, tx = make_learn(config, dim, spec.low, spec.high)
    act, host_policy = make_act(config, spec.low, spec.high)
    spu = config.steps_per_update
    bounds = tuple(float(x) for x in spec.low), tuple(float(x) for x in spec.high)

    def build_networks(key):  # on the host: no XLA compilation for the initializers
        k_a, k_1, k_2 = split_key(key, 3)
        hidden = config.hidden_sizes
        actor = Actor(MLP(k_a, obs_size, dim, hidden, "relu", out_gain=0.01), *bounds)
        critic = TwinCritic(MLP(k_1, obs_size + dim, 1, hidden, "relu"), MLP(k_2, obs_size + dim, 1, hidden, "relu"))
        return actor, critic

    def init_learner_and_buffer(networks):
        actor, critic = networks
        opt = lambda m: tx.init(eqx.filter(m, eqx.is_array))  # noqa: E731
        learner = Learner(actor, actor, critic, critic, opt(actor), opt(critic), jnp.asarray(0, jnp.int32))
        obs = jnp.zeros((N, *obs_shape), jnp.float32)
        zeros = jnp.zeros(N)
        example = Transition(obs, jnp.zeros((N, dim)), zeros, zeros.astype(bool), zeros.astype(bool), obs)
        return learner, replay.init(config.buffer_size, example, gamma=config.gamma)

    def acting_params(state: TrainState):
        return state.learner.actor, state.update_step * spu < config.learning_starts

    def learn_from(state: TrainState, traj: Transition, key):
        env_steps = (state.update_step + 1) * spu
        learner, buffer, metrics = store_and_learn(state.learner, state.buffer, traj, key, env_steps)
        return state._replace(learner=learner, buffer=buffer, update_step=state.update_step + 1), metrics

    def new_state(key, networks, env_state, obs):
        learner, buffer = init_learner_and_buffer(networks)
        return TrainState(learner, buffer, env_state, obs, key, jnp.asarray(0, jnp.int32))

    def learn(state: TrainState, traj: Transition):
        key, learn_key = jax.random.split(state.key)
        return learn_from(state._replace(key=key), traj, learn_key)

    return make_trainer(
        config, env, act=act, host_policy=host_policy, num_seeds=num_seeds, num_envs=N, num_steps=config.num_steps,
        updates_per_chunk=updates_per_chunk, num_updates=config.num_updates, steps_per_update=spu,
        build_on_host=build_networks, new_state=new_state, learn=learn, acting_params=acting_params,
        action_low=jnp.asarray(spec.low), action_high=jnp.asarray(spec.high),
    )  # fmt: skip


def policy_for_eval(config: Config, state: TrainState, deterministic: bool = True):
    """The registry's hook (``experiment.py``): (act, params) of ONE seed's TrainState. TD3's policy
    is deterministic; ``deterministic=False`` adds the exploration noise."""

    def act_for_eval(actor: Actor, obs, key):
        unit = jax.vmap(actor)(obs)
        if not deterministic:
            unit = jnp.clip(unit + config.exploration_noise * jax.random.normal(key, unit.shape), -1.0, 1.0)
        return to_env_units(unit, jnp.asarray(actor.low), jnp.asarray(actor.high))

    return act_for_eval, state.learner.actor
