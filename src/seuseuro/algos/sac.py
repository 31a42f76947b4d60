"""Soft Actor-Critic (Haarnoja et al. 2018a, 2018b), one file, top to bottom.

Reproduces CleanRL's ``sac_continuous_action.py`` / SB3's SAC: twin critics with clipped double-Q
targets and Polyak-averaged target critics (tau 0.005), a tanh-squashed Gaussian actor whose
log-std is squashed into [-5, 2] (CleanRL), automatic temperature tuning towards the target entropy
-|A| (Haarnoja et al. 2018b, section 5), separate actor / critic learning rates (3e-4 / 1e-3),
uniformly random actions until ``learning_starts`` env steps, and the actor (and temperature)
updated every ``policy_frequency`` critic steps, that many times in a row (CleanRL's delay, which
keeps one actor step per critic step).

Choices, on purpose:
- Log-probabilities are those of the action in [-1, 1], before the rescaling to the Box's bounds
  (SB3's convention): the entropy target -|A| then does not depend on the env's action units.
  The critic reads actions in [-1, 1] too; the buffer stores actions in the env's units (what the
  collectors pass on) and the update maps them back.
- The replay buffer (``core.replay``) lives in the TrainState: checkpointed, and a resume is exact.
- ``terminated`` and ``truncated`` stay apart: Pendulum's 200-step time limit bootstraps.
- JAX-native envs: collection, buffer writes and gradient steps compile into one program, vmapped
  over seeds (PureJaxRL's dqn.py pattern); Gymnasium envs: ``collect.host`` steps the envs, the same
  jitted ``store_and_learn`` consumes the rollout.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from seuseuro.collect.host import HostPolicy
from seuseuro.collect.trainer import make_trainer
from seuseuro.core import distributions as D
from seuseuro.core import replay
from seuseuro.core.chunked import Trainer
from seuseuro.core.networks import MLP, split_key
from seuseuro.core.types import Transition
from seuseuro.core.value_learning import clipped_double_q_target, soft_update
from seuseuro.envs.spaces import action_spec
from seuseuro.errors import UserError, require_actor_critic_schedule, require_at_least_one, require_finite

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0  # CleanRL's bounds, reached through a tanh (smooth, no dead gradient)


@dataclasses.dataclass(frozen=True)
class Config:
    """SAC hyperparameters. Defaults are CleanRL's MuJoCo set (1M steps); `TUNED` holds the
    per-env sets, applied by the CLI unless a flag overrides them."""

    total_steps: int = 1_000_000
    """Environment steps in total, over all parallel envs (per seed). Typical 2e4 (Pendulum) to 1e6 (MuJoCo)."""
    num_envs: int = 1
    """Parallel environments per seed. 1 (CleanRL) to 16; more envs = more steps/s, same update-to-data ratio."""
    num_steps: int = 1
    """Steps per environment between two rounds of gradient steps (SB3's train_freq). Typical 1-64."""
    gradient_steps: int = 1
    """Gradient steps per round; 1 per env step collected (num_envs * num_steps) is SB3/CleanRL's ratio."""
    buffer_size: int = 1_000_000
    """Replay capacity in transitions (per seed). Typical 1e5-1e6 (at least the steps to remember)."""
    batch_size: int = 256
    """Transitions per gradient step. Typical 256."""
    learning_starts: int = 5_000
    """Env steps of uniformly random actions before the first gradient step. Typical 100 (SB3) to 1e4."""
    gamma: float = 0.99
    """Discount factor. Typical 0.98-0.99."""
    tau: float = 0.005
    """Polyak factor of the target critics per gradient step. Typical 0.005-0.02."""
    actor_lr: float = 3e-4
    """Adam step size of the actor. Typical 3e-4 (CleanRL) to 1e-3 (RL-Zoo Pendulum)."""
    critic_lr: float = 1e-3
    """Adam step size of the twin critics and of the temperature. Typical 3e-4 to 1e-3."""
    policy_frequency: int = 2
    """Actor and temperature updated every this many critic steps, this many times (CleanRL: 2; SB3: 1)."""
    autotune: bool = True
    """Tune the temperature towards the target entropy -|A| (Haarnoja et al. 2018b); off = fixed --alpha."""
    alpha: float = 0.2
    """Initial temperature with --autotune, else the fixed one. CleanRL fixed: 0.2; SB3 auto starts at 1."""
    hidden_sizes: tuple[int, ...] = (256, 256)
    """Hidden widths of the actor and of each critic (ReLU)."""

    def __post_init__(self):
        require_finite(self)
        require_at_least_one(
            self, ("total_steps", "num_envs", "num_steps", "gradient_steps", "batch_size", "policy_frequency")
        )
        require_actor_critic_schedule(self)
        if min(self.actor_lr, self.critic_lr, self.alpha) <= 0:
            raise UserError("--actor-lr, --critic-lr and --alpha must be > 0")

    @property
    def steps_per_update(self) -> int:
        return self.num_envs * self.num_steps

    @property
    def num_updates(self) -> int:
        return self.total_steps // self.steps_per_update


# Pendulum: RL-Zoo's sac.yml (20k steps, lr 1e-3, SB3 defaults otherwise: learning starts 100, one
# actor step per critic step). Four envs with 4 gradient steps per round keep SB3's update-to-data
# ratio of 1 at a quarter of the compiled loop's iterations. MuJoCo: CleanRL's defaults (the class's).
# Not tuned: classic control other than Pendulum (MountainCarContinuous needs exploration noise SAC
# lacks, RL-Zoo uses gSDE there), Box2D, DM Control, Brax.
_MUJOCO: dict[str, Any] = {}  # the defaults
TUNED: dict[str, dict[str, Any]] = {
    "Pendulum-v1": dict(
        total_steps=20_000, num_envs=4, num_steps=1, gradient_steps=4, buffer_size=20_000,
        learning_starts=100, actor_lr=1e-3, critic_lr=1e-3, policy_frequency=1, alpha=1.0,
    ),
    **{f"{name}-v{v}": _MUJOCO for name in ("HalfCheetah", "Hopper", "Walker2d", "Ant", "Humanoid") for v in (4, 5)},
}  # fmt: skip


def tuned_config(env_id: str, **overrides) -> Config:
    """The tuned Config for ``env_id`` (RL-Zoo / CleanRL), with ``overrides`` applied."""
    return Config(**{**TUNED.get(env_id.split(":")[-1], {}), **overrides})


# =================================================================================================
# Networks: squashed Gaussian actor, twin critics on (observation, action in [-1, 1])
# =================================================================================================


class Actor(eqx.Module):
    net: MLP  # obs -> (mean, pre-squash log-std)
    low: tuple[float, ...] = eqx.field(static=True)  # the Box's bounds, kept for evaluation
    high: tuple[float, ...] = eqx.field(static=True)

    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        mean, raw = jnp.split(self.net(obs.reshape(-1).astype(jnp.float32)), 2)
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (jnp.tanh(raw) + 1.0)
        return mean, log_std


class TwinCritic(eqx.Module):
    q1: MLP
    q2: MLP

    def __call__(self, obs: jax.Array, action: jax.Array) -> tuple[jax.Array, jax.Array]:
        x = jnp.concatenate([obs.reshape(-1).astype(jnp.float32), action])
        return self.q1(x)[0], self.q2(x)[0]


def sample_unit_action(actor: Actor, obs: jax.Array, normal: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Actions in [-1, 1] for a batch of observations and their log-density (reparameterized)."""
    mean, log_std = jax.vmap(actor)(obs)
    return D.tanh_gaussian_sample_and_log_prob(mean, log_std, normal)


def to_env_units(unit: jax.Array, low: jax.Array, high: jax.Array) -> jax.Array:
    return low + 0.5 * (unit + 1.0) * (high - low)


def to_unit(action: jax.Array, low: jax.Array, high: jax.Array) -> jax.Array:
    return 2.0 * (action - low) / (high - low) - 1.0


# =================================================================================================
# The update: gradient steps on replayed batches
# =================================================================================================


class Learner(NamedTuple):
    actor: Actor
    critic: TwinCritic
    target_critic: TwinCritic
    log_alpha: jax.Array  # () float32
    actor_opt: Any
    critic_opt: Any
    alpha_opt: Any
    grad_step: jax.Array  # () int32: critic steps so far


class TrainState(NamedTuple):
    learner: Learner
    buffer: replay.ReplayBuffer
    env_state: Any  # wrapper states, or the host collector's statistics
    obs: jax.Array  # (N, *obs_shape)
    key: jax.Array
    update_step: jax.Array  # () int32: rounds done


def weighted_mean(x: jax.Array, weight: jax.Array) -> jax.Array:
    """Mean over the valid draws (``replay.sample``'s weight is 0 for a draw that found no valid row)."""
    return jnp.sum(weight * x) / jnp.maximum(jnp.sum(weight), 1.0)


def make_learn(config: Config, action_dim: int, low: np.ndarray, high: np.ndarray):
    """``store_and_learn(learner, buffer, traj, key, env_steps)`` for one seed, and the optimizers."""
    actor_tx, critic_tx, alpha_tx = (
        optax.adam(config.actor_lr),
        optax.adam(config.critic_lr),
        optax.adam(config.critic_lr),
    )
    target_entropy = -float(action_dim)
    low, high = jnp.asarray(low), jnp.asarray(high)
    nan = jnp.asarray(jnp.nan, jnp.float32)

    def critic_step(learner: Learner, batch: replay.ReplaySample, key):
        next_action, next_log_prob = sample_unit_action(
            learner.actor, batch.next_obs, jax.random.normal(key, (config.batch_size, action_dim))
        )
        tq1, tq2 = jax.vmap(learner.target_critic)(batch.next_obs, next_action)
        alpha = jnp.exp(learner.log_alpha)
        target = jax.vmap(clipped_double_q_target, in_axes=(0, 0, 0, 0, 0, None))(
            batch.reward, batch.discount, tq1, tq2, next_log_prob, alpha
        )
        action = to_unit(batch.action, low, high)

        def loss_fn(critic):
            q1, q2 = jax.vmap(critic)(batch.obs, action)
            loss = weighted_mean((q1 - target) ** 2, batch.weight) + weighted_mean((q2 - target) ** 2, batch.weight)
            return loss, weighted_mean(q1, batch.weight)

        (loss, q_mean), grads = eqx.filter_value_and_grad(loss_fn, has_aux=True)(learner.critic)
        updates, critic_opt = critic_tx.update(grads, learner.critic_opt, eqx.filter(learner.critic, eqx.is_array))
        critic = eqx.apply_updates(learner.critic, updates)
        return learner._replace(critic=critic, critic_opt=critic_opt), {
            "train/critic_loss": loss,
            "train/q_mean": q_mean,
        }

    def actor_step(learner: Learner, batch: replay.ReplaySample, key):
        normal = jax.random.normal(key, (config.batch_size, action_dim))
        alpha = jnp.exp(learner.log_alpha)

        def loss_fn(actor):
            action, log_prob = sample_unit_action(actor, batch.obs, normal)
            q1, q2 = jax.vmap(learner.critic)(batch.obs, action)
            return weighted_mean(alpha * log_prob - jnp.minimum(q1, q2), batch.weight), log_prob

        (loss, log_prob), grads = eqx.filter_value_and_grad(loss_fn, has_aux=True)(learner.actor)
        updates, actor_opt = actor_tx.update(grads, learner.actor_opt, eqx.filter(learner.actor, eqx.is_array))
        learner = learner._replace(actor=eqx.apply_updates(learner.actor, updates), actor_opt=actor_opt)
        # Temperature (SB3's form, on log alpha): raise alpha while the entropy -log pi is under the target.
        log_prob = jax.lax.stop_gradient(log_prob)
        alpha_loss_fn = lambda la: -weighted_mean(la * (log_prob + target_entropy), batch.weight)  # noqa: E731
        alpha_loss, alpha_grad = jax.value_and_grad(alpha_loss_fn)(learner.log_alpha)
        if config.autotune:
            alpha_update, alpha_opt = alpha_tx.update(alpha_grad, learner.alpha_opt)
            learner = learner._replace(log_alpha=learner.log_alpha + alpha_update, alpha_opt=alpha_opt)
        stats = {
            "train/actor_loss": loss,
            "train/alpha_loss": alpha_loss,
            "train/entropy": -weighted_mean(log_prob, batch.weight),
        }
        return learner, stats

    # Gates as loops with a traced trip count, not lax.cond: vmapped over seeds, a cond on a per-seed
    # counter becomes a select that runs both branches (every gradient step during the random phase,
    # every delayed actor step); a while loop runs the largest count over seeds, and all seeds share it.
    actor_names = ("train/actor_loss", "train/alpha_loss", "train/entropy")

    def gradient_step(i, carry):
        learner, metrics, buffer, key = carry
        key, k_sample, k_critic, k_actor = jax.random.split(key, 4)
        batch = replay.sample(buffer, k_sample, config.batch_size)
        learner, critic_stats = critic_step(learner, batch, k_critic)

        def one_actor_step(j, c):  # fresh noise each time, on this batch
            learner, stats = actor_step(c[0], batch, jax.random.fold_in(k_actor, j))
            return learner, stats

        num_actor_steps = jnp.where(learner.grad_step % config.policy_frequency == 0, config.policy_frequency, 0)
        learner, actor_stats = jax.lax.fori_loop(
            0, num_actor_steps, one_actor_step, (learner, {k: metrics[k] for k in actor_names})
        )
        learner = learner._replace(
            target_critic=soft_update(learner.target_critic, learner.critic, config.tau),
            grad_step=learner.grad_step + 1,
        )
        metrics = {**critic_stats, **actor_stats, "train/alpha": jnp.exp(learner.log_alpha)}
        return learner, metrics, buffer, key

    metric_names = ("train/critic_loss", "train/q_mean", *actor_names, "train/alpha")

    def store_and_learn(learner: Learner, buffer, traj: Transition, key, env_steps):
        """Add a rollout (leaves ``(T, N, ...)``) to the buffer; then, once ``env_steps`` (collected so
        far, this rollout included) passes ``learning_starts``, ``gradient_steps`` gradient steps."""
        buffer = replay.add_rollout(buffer, traj)
        metrics = {k: nan for k in metric_names}
        num_steps = jnp.where(env_steps > config.learning_starts, config.gradient_steps, 0)
        learner, metrics, _, _ = jax.lax.fori_loop(0, num_steps, gradient_step, (learner, metrics, buffer, key))
        return learner, buffer, metrics

    return store_and_learn, (actor_tx, critic_tx, alpha_tx)


# =================================================================================================
# The trainers: compiled (JAX-native env) and host-collected (Gymnasium env)
# =================================================================================================


def make_act(low: np.ndarray, high: np.ndarray):
    """The collectors' acting: ``params = (actor, random_phase)``; ``noise`` (N, 2 |A|) holds a normal
    draw for the policy and a uniform one for the random actions before ``learning_starts``."""
    low, high = jnp.asarray(low), jnp.asarray(high)
    dim = low.shape[0]

    def act_from_noise(params, obs, noise):
        actor, random_phase = params
        unit, _ = sample_unit_action(actor, obs, noise[:, :dim])
        unit = jnp.where(random_phase, 2.0 * noise[:, dim:] - 1.0, unit)
        return to_env_units(unit, low, high), None

    def act(params, obs, key):
        k1, k2 = jax.random.split(key)
        shape = (obs.shape[0], dim)
        return act_from_noise(
            params, obs, jnp.concatenate([jax.random.normal(k1, shape), jax.random.uniform(k2, shape)], 1)
        )

    def draw(rng, shape):
        return np.concatenate([rng.standard_normal(shape[:-1] + (dim,)), rng.uniform(size=shape[:-1] + (dim,))], -1)

    return act, HostPolicy(act_from_noise, 2 * dim, draw)


def make_train(config: Config, env, num_seeds: int = 1, updates_per_chunk: int = 10) -> Trainer:
    """Build the trainer for a JAX-native env (``envs.make`` result) or a Gymnasium env."""
    spec = action_spec(env.action_space, "SAC", allow=("Box",))
    obs_shape = tuple(env.observation_space.shape)
    obs_size, dim, N = int(np.prod(obs_shape)), spec.dim, config.num_envs
    store_and_learn, (actor_tx, critic_tx, alpha_tx) = make_learn(config, dim, spec.low, spec.high)
    act, host_policy = make_act(spec.low, spec.high)
    spu = config.steps_per_update
    bounds = tuple(float(x) for x in spec.low), tuple(float(x) for x in spec.high)

    def build_networks(key):  # on the host: no XLA compilation for the initializers
        k_a, k_1, k_2 = split_key(key, 3)
        hidden = config.hidden_sizes
        actor = Actor(MLP(k_a, obs_size, 2 * dim, hidden, "relu", out_gain=0.01), bounds[0], bounds[1])
        critic = TwinCritic(MLP(k_1, obs_size + dim, 1, hidden, "relu"), MLP(k_2, obs_size + dim, 1, hidden, "relu"))
        return actor, critic

    def init_learner_and_buffer(networks):
        actor, critic = networks
        log_alpha = jnp.log(jnp.asarray(config.alpha, jnp.float32))
        learner = Learner(
            actor, critic, critic, log_alpha, actor_tx.init(eqx.filter(actor, eqx.is_array)),
            critic_tx.init(eqx.filter(critic, eqx.is_array)), alpha_tx.init(log_alpha), jnp.asarray(0, jnp.int32),
        )  # fmt: skip
        obs = jnp.zeros((N, *obs_shape), jnp.float32)
        example = Transition(
            obs, jnp.zeros((N, dim), jnp.float32), jnp.zeros(N), jnp.zeros(N, bool), jnp.zeros(N, bool), obs
        )
        return learner, replay.init(config.buffer_size, example, gamma=config.gamma)

    def acting_params(state: TrainState):
        return state.learner.actor, state.update_step * spu < config.learning_starts

    def learn_from(state: TrainState, traj: Transition, key):
        learner, buffer, metrics = store_and_learn(
            state.learner, state.buffer, traj, key, (state.update_step + 1) * spu
        )
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


# =================================================================================================
# Evaluation
# =================================================================================================


def policy_for_eval(config: Config, state: TrainState, deterministic: bool = True):
    """The registry's hook (``experiment.py``): (act, params) of ONE seed's TrainState; the
    deterministic action is the squashed mean (SAC's evaluation)."""

    def act_for_eval(actor: Actor, obs, key):
        mean, log_std = jax.vmap(actor)(obs)
        normal = jnp.zeros_like(mean) if deterministic else jax.random.normal(key, mean.shape)
        unit, _ = D.tanh_gaussian_sample_and_log_prob(mean, log_std, normal)
        return to_env_units(unit, jnp.asarray(actor.low), jnp.asarray(actor.high))

    return act_for_eval, state.learner.actor
