"""Proximal Policy Optimization (Schulman et al. 2017), one file, top to bottom.

Reproduces the PPO of Stable-Baselines3 / CleanRL with the implementation details of "The 37
Implementation Details of PPO" (Huang et al. 2022): separate orthogonally initialized actor and
critic MLPs (gains sqrt(2) / 0.01 / 1), Adam with eps 1e-5, linear learning-rate (and optionally
clip-range) annealing, GAE, shuffled minibatches, per-minibatch advantage normalization, clipped
surrogate, optional value clipping, entropy bonus, global gradient-norm clipping, a diagonal
Gaussian with state-independent log-std for Box actions, and observation/reward normalization
with clipping (kept in the environment state).

Differences from those references, on purpose:
- ``terminated`` and ``truncated`` stay apart: time limits bootstrap from V(s') (core/returns.py).
- Values are computed for the whole rollout in one batched pass after collection, not per step.
- The JAX-native path compiles collection + update into one program (PureJaxRL, Lu et al. 2022),
  vmapped over seeds; the Gymnasium path steps on the host and calls the same jitted update.

API: ``make_train(config, env, num_seeds)`` -> a :class:`Trainer` with ``init(key)`` and
``run_chunk(state, n_active)``; the host driver (``seuseuro.driver``) runs chunks, logs and
checkpoints. ``act`` / ``evaluate`` serve evaluation and the bridge.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from seuseuro.collect.evaluate import evaluate as evaluate_episodes
from seuseuro.collect.host import CollectorState, HostCollector, HostPolicy, init_collector_state, make_host_trainer
from seuseuro.collect.rollout import collect_rollout, episode_metrics
from seuseuro.core import distributions as D
from seuseuro.core.chunked import Trainer, make_chunked_trainer
from seuseuro.core.losses import (
    approx_kl,
    clip_fraction,
    clipped_surrogate_loss,
    masked_mean,
    normalize_advantages,
    value_loss,
)
from seuseuro.core.minibatch import minibatch_epochs
from seuseuro.core.networks import MLP, Flatten, split_key
from seuseuro.core.normalization import normalize
from seuseuro.core.optim import clipped_adam
from seuseuro.core.returns import compute_gae
from seuseuro.core.types import Transition
from seuseuro.core.wrappers import NormalizeObsState, find_wrapper_state, wrap_for_training
from seuseuro.envs.spaces import action_spec
from seuseuro.errors import UserError, require_at_least_one, require_finite, require_in_unit_interval
from seuseuro.perception.torsos import make_torso_factory

# =================================================================================================
# Configuration
# =================================================================================================


@dataclasses.dataclass(frozen=True)
class Config:
    """PPO hyperparameters. Defaults are RL-Zoo's tuned CartPole-v1 set (solves in 100k steps);
    `TUNED` holds other environments' sets, applied by the CLI unless a flag overrides them."""

    total_steps: int = 100_000
    """Environment steps in total, over all parallel envs (per seed). Typical 1e5 (CartPole) to 1e7."""
    num_envs: int = 8
    """Parallel environments per seed. More envs = more steps/s on the compiled path; 1-2048."""
    num_steps: int = 32
    """Steps per environment per rollout; batch = num_envs * num_steps. Typical 32-2048."""
    num_epochs: int = 20
    """Passes over each rollout batch. Typical 4-20; more = more sample-efficient, less stable."""
    num_minibatches: int = 1
    """Minibatches per epoch (batch must divide evenly). Typical 1-32."""
    learning_rate: float = 1e-3
    """Adam step size. Typical 3e-4 (MuJoCo) to 1e-3 (classic control)."""
    anneal_lr: bool = True
    """Decay the learning rate linearly to 0 over training (37 details, #4)."""
    gamma: float = 0.98
    """Discount factor. Typical 0.9-0.999."""
    gae_lambda: float = 0.8
    """GAE lambda: bias/variance trade-off of the advantage. Typical 0.8-0.99."""
    clip_eps: float = 0.2
    """Clip range of the probability ratio. Typical 0.1-0.3."""
    anneal_clip: bool = True
    """Decay the clip range linearly to 0 as RL-Zoo's CartPole setting does."""
    clip_value_loss: bool = False
    """Clip the value update to clip_eps around the old value (CleanRL: on; SB3: off)."""
    vf_coef: float = 0.5
    """Weight of the value loss. Typical 0.5-1."""
    ent_coef: float = 0.0
    """Weight of the entropy bonus. Typical 0 (continuous) to 0.01 (Atari)."""
    max_grad_norm: float = 0.5
    """Global gradient-norm clip (37 details, #11)."""
    normalize_advantages: bool = True
    """Normalize advantages per minibatch (37 details, #7)."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """Hidden layer widths of the actor and of the critic MLP."""
    activation: Literal["tanh", "relu"] = "tanh"
    """Hidden activation."""
    torso: Literal["flatten", "cnn", "pointnet"] = "flatten"
    """Observation encoder before the actor and critic MLPs: flatten; cnn, 3x3 convolutions over (height, width, channels) images (MinAtar; with --hidden-sizes 128 the MinAtar paper's network); or a PointNet over (points, features) observations (3D-scene envs)."""
    torso_widths: tuple[int, ...] = (32, 64)
    """Widths of the PointNet torso's shared per-point layers."""
    cnn_channels: tuple[int, ...] = (16,)
    """Filters of each 3x3 convolution of the cnn torso (MinAtar paper: 16)."""
    normalize_observations: bool = False
    """Running mean/std observation normalization with clipping at 10 (MuJoCo: on)."""
    normalize_rewards: bool = False
    """Scale rewards by the running std of the discounted return (MuJoCo: on)."""
    init_log_std: float = 0.0
    """Initial log standard deviation of the Gaussian policy (Box actions only)."""
    adam_eps: float = 1e-5
    """Adam epsilon (37 details, #3: 1e-5 rather than 1e-8)."""

    def __post_init__(self):
        require_finite(self)
        if self.activation not in ("tanh", "relu") or self.torso not in ("flatten", "cnn", "pointnet"):
            raise UserError(
                f"--activation {self.activation!r} / --torso {self.torso!r}: choose tanh|relu and flatten|cnn|pointnet"
            )
        require_at_least_one(self, ("total_steps", "num_envs", "num_steps", "num_epochs", "num_minibatches"))
        require_in_unit_interval(self, ("gamma", "gae_lambda"))
        if self.learning_rate <= 0 or self.clip_eps <= 0 or self.max_grad_norm <= 0 or self.adam_eps <= 0:
            raise UserError("--learning-rate, --clip-eps, --max-grad-norm and --adam-eps must be > 0")
        if self.vf_coef < 0 or self.ent_coef < 0:
            raise UserError(f"--vf-coef and --ent-coef must be >= 0 (got {self.vf_coef}, {self.ent_coef})")
        if self.batch_size % self.num_minibatches:
            raise UserError(
                f"num_envs * num_steps = {self.batch_size} is not divisible by --num-minibatches "
                f"{self.num_minibatches}; choose a divisor of {self.batch_size}"
            )
        if self.total_steps < self.batch_size:
            raise UserError(
                f"--total-steps {self.total_steps} is less than one rollout ({self.batch_size} = "
                "num_envs * num_steps); raise --total-steps or lower --num-envs / --num-steps"
            )
        if not self.cnn_channels or min(self.cnn_channels) < 1:
            raise UserError("--cnn-channels needs at least one positive filter count, e.g. --cnn-channels 16")
        if not self.hidden_sizes or min(self.hidden_sizes) < 1:
            raise UserError("--hidden-sizes needs at least one positive width, e.g. --hidden-sizes 64 64")
        if not self.torso_widths or min(self.torso_widths) < 1:
            raise UserError("--torso-widths needs at least one positive width, e.g. --torso-widths 32 64")

    @property
    def batch_size(self) -> int:
        return self.num_envs * self.num_steps

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.num_minibatches

    @property
    def num_updates(self) -> int:
        return self.total_steps // self.batch_size


# Tuned settings per environment. CartPole = the defaults; the rest follow RL-Zoo's ppo.yml
# (without gSDE) and CleanRL's ppo_continuous_action.py for MuJoCo.
_MUJOCO = dict(
    total_steps=1_000_000, num_envs=1, num_steps=2048, num_epochs=10, num_minibatches=32,
    learning_rate=3e-4, gamma=0.99, gae_lambda=0.95, anneal_clip=False, clip_value_loss=True,
    normalize_observations=True, normalize_rewards=True,
)  # fmt: skip
TUNED: dict[str, dict[str, Any]] = {
    "CartPole-v1": {},
    "Acrobot-v1": dict(
        total_steps=500_000, num_envs=16, num_steps=256, num_epochs=4, num_minibatches=4,
        gamma=0.99, gae_lambda=0.94, normalize_observations=True, anneal_clip=False,
    ),
    "MountainCar-v0": dict(
        total_steps=1_000_000, num_envs=16, num_steps=16, num_epochs=4, num_minibatches=1,
        gamma=0.99, gae_lambda=0.98, normalize_observations=True, anneal_clip=False,
    ),
    "Pendulum-v1": dict(
        total_steps=500_000, num_envs=16, num_steps=256, num_epochs=10, num_minibatches=8,
        learning_rate=1e-3, gamma=0.95, gae_lambda=0.95, anneal_clip=False,
        normalize_observations=True, normalize_rewards=True,
    ),
    "MountainCarContinuous-v0": dict(
        total_steps=200_000, num_envs=1, num_steps=8, num_epochs=10, num_minibatches=1,
        learning_rate=7.77e-05, gamma=0.9999, gae_lambda=0.9, ent_coef=0.00429, init_log_std=-3.3,
        normalize_observations=True, anneal_clip=False, max_grad_norm=5.0, clip_eps=0.1,
    ),
    **{f"{name}-v{v}": _MUJOCO for name in ("HalfCheetah", "Hopper", "Walker2d", "Ant", "Humanoid") for v in (4, 5)},
}  # fmt: skip


def tuned_config(env_id: str, **overrides) -> Config:
    """The tuned Config for ``env_id`` (RL-Zoo / CleanRL), with ``overrides`` applied."""
    bare = env_id.split(":")[-1]
    return Config(**{**TUNED.get(bare, {}), **overrides})


# =================================================================================================
# Policy: separate actor and critic networks (37 details, continuous #1)
# =================================================================================================


class ActorCritic(eqx.Module):
    """Actor and critic over a per-observation torso (default: flatten; a point-cloud encoder for 3D)."""

    actor_torso: eqx.Module
    critic_torso: eqx.Module
    actor: MLP
    critic: MLP
    log_std: jax.Array | None  # (action_dim,) for Box actions, None for Discrete
    discrete: bool = eqx.field(static=True)

    def __init__(self, key, obs_shape, action_dim, discrete, config: Config, torso_factory=None):
        k_at, k_ct, k_a, k_c = split_key(key, 4)
        if torso_factory is None:
            self.actor_torso, self.critic_torso = Flatten(), Flatten()
            feat = int(np.prod(obs_shape))
        else:
            self.actor_torso, feat = torso_factory(k_at)
            self.critic_torso, _ = torso_factory(k_ct)
        hidden, act = config.hidden_sizes, config.activation
        self.actor = MLP(k_a, feat, action_dim, hidden, act, out_gain=0.01)
        self.critic = MLP(k_c, feat, 1, hidden, act, out_gain=1.0)
        self.discrete = discrete
        self.log_std = None if discrete else jnp.full((action_dim,), config.init_log_std, jnp.float32)

    def dist_params(self, obs: jax.Array) -> jax.Array:
        """Logits (Discrete) or Gaussian mean (Box) for one observation."""
        return self.actor(self.actor_torso(obs))

    def value(self, obs: jax.Array) -> jax.Array:
        return self.critic(self.critic_torso(obs))[0]


def sample_action(policy: ActorCritic, obs: jax.Array, key: jax.Array, deterministic: bool = False):
    """Actions and their log-probabilities for a batch ``(N, *obs_shape)`` of observations."""
    out = jax.vmap(policy.dist_params)(obs)
    noise = jnp.zeros_like(out) if deterministic else action_noise(key, out.shape, policy.discrete)
    return action_from_noise(policy, out, noise)


def action_noise(key: jax.Array, shape: tuple[int, ...], discrete: bool) -> jax.Array:
    """The randomness of one action draw: Gumbel (Discrete) or standard normal (Box) noise."""
    return jax.random.gumbel(key, shape) if discrete else jax.random.normal(key, shape)


def action_from_noise(policy: ActorCritic, out: jax.Array, noise: jax.Array):
    """(action, log-prob) from the distribution parameters ``out`` and a draw of ``action_noise``.

    Split from the sampling so that the Gymnasium bridge can draw the noise on the host for a whole
    rollout (one less key to carry through every per-step call). Zero noise gives the mode.
    """
    if policy.discrete:
        action = D.categorical_sample_from_gumbel(out, noise)
        return action, D.categorical_log_prob(out, action)
    log_std = jnp.broadcast_to(policy.log_std, out.shape)
    action = D.gaussian_sample_from_normal(out, log_std, noise)
    return action, D.gaussian_log_prob(out, log_std, action)


def evaluate_actions(policy: ActorCritic, obs: jax.Array, action: jax.Array):
    """(log-prob, entropy, value) of a batch of stored actions under the current policy."""
    out = jax.vmap(policy.dist_params)(obs)
    value = jax.vmap(policy.value)(obs)
    if policy.discrete:
        return D.categorical_log_prob(out, action), D.categorical_entropy(out), value
    log_std = jnp.broadcast_to(policy.log_std, out.shape)
    return D.gaussian_log_prob(out, log_std, action), D.gaussian_entropy(log_std), value


def make_torso(config: Config, obs_shape: tuple[int, ...]):
    """The torso factory named by ``config.torso`` (None = flatten)."""
    return make_torso_factory(
        config.torso, obs_shape, cnn_channels=config.cnn_channels, pointnet_widths=config.torso_widths
    )


# =================================================================================================
# The update: GAE over the rollout, then epochs of shuffled minibatches
# =================================================================================================


class TrainState(NamedTuple):
    policy: ActorCritic
    opt_state: Any
    env_state: Any  # wrapper states (normalizer statistics included) or the host collector's statistics
    obs: jax.Array  # (N, *obs_shape) current (normalized) observation
    key: jax.Array
    update_step: jax.Array  # int32 scalar: updates done so far


def make_optimizer(config: Config) -> optax.GradientTransformation:
    steps = config.num_updates * config.num_epochs * config.num_minibatches
    return clipped_adam(
        config.learning_rate, max_grad_norm=config.max_grad_norm, eps=config.adam_eps,
        anneal_steps=steps if config.anneal_lr else None,
    )  # fmt: skip


def ppo_loss(policy, batch, clip_eps, config: Config):
    """PPO's loss on a minibatch ``(obs, action, old_log_prob, old_value, advantage, target[, mask])``."""
    obs, action, old_log_prob, old_value, advantage, target, *rest = batch
    mask = rest[0] if rest else None  # Transition.valid: averages skip the reset steps
    log_prob, entropy, value = evaluate_actions(policy, obs, action)
    log_ratio = log_prob - old_log_prob
    if config.normalize_advantages:
        advantage = normalize_advantages(advantage, mask=mask)
    pg_loss = clipped_surrogate_loss(log_ratio, advantage, clip_eps, mask)
    v_loss = value_loss(value, old_value, target, clip_eps if config.clip_value_loss else None, mask)
    entropy = masked_mean(entropy, mask)
    total = pg_loss + config.vf_coef * v_loss - config.ent_coef * entropy
    stats = {
        "train/policy_loss": pg_loss,
        "train/value_loss": v_loss,
        "train/entropy": entropy,
        "train/approx_kl": approx_kl(log_ratio, mask),
        "train/clip_fraction": clip_fraction(log_ratio, clip_eps, mask),
    }
    return total, stats


def ppo_update(policy, opt_state, traj: Transition, key, update_step, tx, config: Config):
    """One PPO update on a rollout ``traj`` with leaves ``(T, N, ...)``; returns (policy, opt_state, metrics)."""
    value = jax.vmap(jax.vmap(policy.value))(traj.obs)  # (T, N)
    next_value = jax.vmap(jax.vmap(policy.value))(traj.next_obs)  # (T, N)
    advantage, target = compute_gae(
        traj.reward, value, next_value, traj.terminated, traj.truncated, config.gamma, config.gae_lambda
    )
    progress_left = 1.0 - update_step / config.num_updates  # SB3's progress_remaining
    clip_eps = config.clip_eps * progress_left if config.anneal_clip else config.clip_eps
    columns = (traj.obs, traj.action, traj.log_prob, value, advantage, target)
    if traj.valid is not None:
        columns += (traj.valid.astype(jnp.float32),)
    flat = jax.tree.map(lambda x: x.reshape((config.batch_size, *x.shape[2:])), columns)
    policy, opt_state, stats = minibatch_epochs(
        ppo_loss, policy, opt_state, tx, flat, key,
        num_epochs=config.num_epochs, num_minibatches=config.num_minibatches, loss_args=(clip_eps, config),
    )  # fmt: skip
    metrics = jax.tree.map(jnp.mean, stats)
    metrics["train/clip_eps"] = jnp.asarray(clip_eps, jnp.float32)
    mask = None if traj.valid is None else traj.valid.astype(jnp.float32)
    var = lambda x: masked_mean((x - masked_mean(x, mask)) ** 2, mask)  # noqa: E731
    var_target = var(target)
    metrics["train/explained_variance"] = jnp.where(var_target > 0, 1.0 - var(target - value) / var_target, 0.0)
    return policy, opt_state, metrics


# =================================================================================================
# The trainers: compiled (JAX-native env) and host-collected (Gymnasium env)
# =================================================================================================


def act(policy: ActorCritic, obs: jax.Array, key: jax.Array):
    """The acting function of the collectors: (action, log-prob) for a batch of observations."""
    return sample_action(policy, obs, key)


def make_train(config: Config, env, num_seeds: int = 1, updates_per_chunk: int = 10, torso_factory=None) -> Trainer:
    """Build the trainer for a JAX-native env (``envs.make`` result) or a Gymnasium env."""
    spec = action_spec(env.action_space, "PPO")
    obs_shape = tuple(env.observation_space.shape)
    torso_factory = torso_factory or make_torso(config, obs_shape)
    tx = make_optimizer(config)

    def build_policy(key):  # on the host: no XLA compilation for the initializers
        return ActorCritic(key, obs_shape, spec.dim, spec.discrete, config, torso_factory)

    sizes = dict(num_updates=config.num_updates, steps_per_update=config.batch_size)
    if not getattr(env, "is_jax_native", False):
        return _make_host_train(config, env, num_seeds, updates_per_chunk, build_policy, spec, tx, sizes)

    venv = wrap_for_training(
        env.env, env.params, config.num_envs, normalize_observations=config.normalize_observations,
        normalize_rewards=config.normalize_rewards, gamma=config.gamma,
    )  # fmt: skip
    low = None if spec.low is None else jnp.asarray(spec.low)
    high = None if spec.high is None else jnp.asarray(spec.high)

    def init_one(key, policy):
        env_key, key = jax.random.split(key)
        obs, env_state = venv.reset(env_key)
        opt_state = tx.init(eqx.filter(policy, eqx.is_array))
        return TrainState(policy, opt_state, env_state, obs, key, jnp.asarray(0, jnp.int32))

    def one_update(state: TrainState):
        traj, episodes, env_state, obs, key = collect_rollout(
            act, state.policy, venv, state.env_state, state.obs, state.key, config.num_steps,
            action_low=low, action_high=high,
        )  # fmt: skip
        key, update_key = jax.random.split(key)
        policy, opt_state, metrics = ppo_update(
            state.policy, state.opt_state, traj, update_key, state.update_step, tx, config
        )
        metrics.update(episode_metrics(episodes))
        return TrainState(policy, opt_state, env_state, obs, key, state.update_step + 1), metrics

    return make_chunked_trainer(config, init_one, one_update, num_seeds, updates_per_chunk, build_policy, **sizes)


def host_policy(spec) -> HostPolicy:
    """PPO's acting for the host collector: the Gumbel (Discrete) or normal (Box) noise of each draw
    comes from the host, so a rollout's randomness is drawn at once (``jax.random.categorical`` is the
    same Gumbel-max, so the compiled path's random stream is unchanged)."""

    def act_from_noise(policy, obs, noise):
        return action_from_noise(policy, jax.vmap(policy.dist_params)(obs), noise)

    def draw(rng, shape):
        return rng.gumbel(size=shape) if spec.discrete else rng.standard_normal(size=shape)

    return HostPolicy(act_from_noise, spec.dim, draw)


def _make_host_train(config: Config, env, num_seeds, updates_per_chunk, build_policy, spec, tx, sizes) -> Trainer:
    """PPO on a Gymnasium env: rollouts from ``collect.host``, the same jitted ``ppo_update``."""
    obs_shape = tuple(env.observation_space.shape)
    collector = HostCollector(
        env, host_policy(spec), num_seeds=num_seeds, num_envs=config.num_envs, num_steps=config.num_steps,
        normalize_observations=config.normalize_observations, normalize_rewards=config.normalize_rewards,
        gamma=config.gamma,
    )  # fmt: skip

    def init_one(key, policy):
        obs = jnp.zeros((config.num_envs, *obs_shape), jnp.float32)  # filled in by the first reset on the host
        opt_state = tx.init(eqx.filter(policy, eqx.is_array))
        cstate = init_collector_state(obs_shape, config.num_envs)
        return TrainState(policy, opt_state, cstate, obs, key, jnp.asarray(0, jnp.int32))

    def update_one(state: TrainState, traj: Transition):
        key, update_key = jax.random.split(state.key)
        policy, opt_state, metrics = ppo_update(
            state.policy, state.opt_state, traj, update_key, state.update_step, tx, config
        )
        return state._replace(policy=policy, opt_state=opt_state, key=key, update_step=state.update_step + 1), metrics

    return make_host_trainer(
        config, collector, num_seeds=num_seeds, updates_per_chunk=updates_per_chunk, **sizes,
        build_on_host=build_policy, init_one=init_one, update_one=update_one, acting_params=lambda s: s.policy,
    )  # fmt: skip


# =================================================================================================
# Evaluation: the trained policy as an act function for ``collect.evaluate``
# =================================================================================================


def evaluation_policy(policy: ActorCritic, env_state: Any, normalize_observations: bool, deterministic: bool = True):
    """(act, params) for ``collect.evaluate.evaluate`` from ONE seed's policy and env state:
    observations are normalized with the statistics the policy was trained with (frozen)."""
    if isinstance(env_state, CollectorState):  # host-collected run
        stats = env_state.obs_stats if normalize_observations else None
    else:
        norm = find_wrapper_state(env_state, NormalizeObsState)
        stats = None if norm is None else norm.stats

    def act_for_eval(params, obs, key):
        policy, stats = params
        obs = obs if stats is None else normalize(stats, obs)
        return sample_action(policy, obs, key, deterministic)[0]

    return act_for_eval, (policy, stats)


def evaluate(policy: ActorCritic, trained_env_state, env, seed: int, num_episodes: int,
             deterministic: bool = True, normalize_observations: bool = False) -> np.ndarray:  # fmt: skip
    """Undiscounted return of ``num_episodes`` episodes of ``policy`` (one seed's), on either kind of env."""
    act_for_eval, params = evaluation_policy(policy, trained_env_state, normalize_observations, deterministic)
    return evaluate_episodes(act_for_eval, params, env, seed, num_episodes)


def policy_for_eval(config: Config, state: TrainState, deterministic: bool = True):
    """The registry's hook (``experiment.py``): (act, params) of ONE seed's TrainState."""
    return evaluation_policy(state.policy, state.env_state, config.normalize_observations, deterministic)
