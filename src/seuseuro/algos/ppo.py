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
from seuseuro.core.networks import MLP, Flatten, conv_torso, split_key
from seuseuro.core.normalization import normalize
from seuseuro.core.returns import compute_gae
from seuseuro.core.types import EpisodeInfo, Transition
from seuseuro.core.wrappers import (
    AutoResetVecEnv,
    EpisodeStatistics,
    NormalizeObservation,
    NormalizeObsState,
    NormalizeReward,
    find_wrapper_state,
)
from seuseuro.errors import UserError, require_finite

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
        positive = ("total_steps", "num_envs", "num_steps", "num_epochs", "num_minibatches")
        for name in positive:
            if getattr(self, name) < 1:
                raise UserError(f"--{name.replace('_', '-')} must be >= 1 (got {getattr(self, name)})")
        for name in ("gamma", "gae_lambda"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise UserError(f"--{name.replace('_', '-')} must be in [0, 1] (got {getattr(self, name)})")
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


def make_torso_factory(config: Config, obs_shape: tuple[int, ...]):
    """The torso named by ``config.torso`` (None = flatten)."""
    if config.torso == "flatten":
        return None
    if config.torso == "cnn":
        smallest = 2 * len(config.cnn_channels) + 1
        if len(obs_shape) != 3 or min(obs_shape[:2]) < smallest:
            raise UserError(
                f"--torso cnn reads (height, width, channels) images of at least {smallest}x{smallest}; "
                f"this env's observations are {obs_shape}"
            )
        return conv_torso(obs_shape, config.cnn_channels)
    if len(obs_shape) != 2:
        raise UserError(f"--torso pointnet reads (points, features) observations; this env's are {obs_shape}")
    from seuseuro.perception.pointnet import pointnet_torso

    return pointnet_torso(obs_shape[-1], config.torso_widths)


def action_spec(action_space) -> tuple[int, bool, np.ndarray | None, np.ndarray | None]:
    """(action_dim, discrete, low, high) for a gymnax or Gymnasium space; UserError otherwise."""
    name = type(action_space).__name__
    if name == "Discrete":
        return int(action_space.n), True, None, None
    if name == "Box" and len(action_space.shape) == 1:
        low = np.broadcast_to(np.asarray(action_space.low, np.float32), action_space.shape)
        high = np.broadcast_to(np.asarray(action_space.high, np.float32), action_space.shape)
        return int(action_space.shape[0]), False, low, high
    raise UserError(
        f"PPO acts in Discrete or 1-D Box action spaces; this environment has {action_space}. "
        "Wrap it to flatten or discretize its actions"
    )


# =================================================================================================
# The update: GAE over the rollout, then epochs of shuffled minibatches
# =================================================================================================


class TrainState(NamedTuple):
    policy: ActorCritic
    opt_state: Any
    env_state: Any  # wrapper states (normalizer statistics included) or the bridge's statistics
    obs: jax.Array  # (N, *obs_shape) current (normalized) observation
    key: jax.Array
    update_step: jax.Array  # int32 scalar: updates done so far


def make_optimizer(config: Config) -> optax.GradientTransformation:
    steps = config.num_updates * config.num_epochs * config.num_minibatches
    lr = optax.linear_schedule(config.learning_rate, 0.0, steps) if config.anneal_lr else config.learning_rate
    return optax.chain(optax.clip_by_global_norm(config.max_grad_norm), optax.adam(lr, eps=config.adam_eps))


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
    grad_fn = eqx.filter_value_and_grad(ppo_loss, has_aux=True)

    def minibatch_step(carry, batch):
        policy, opt_state = carry
        (_, stats), grads = grad_fn(policy, batch, clip_eps, config)
        updates, opt_state = tx.update(grads, opt_state, eqx.filter(policy, eqx.is_array))
        return (eqx.apply_updates(policy, updates), opt_state), stats

    def epoch(carry, epoch_key):
        if config.num_minibatches == 1:
            # One minibatch = the whole batch, whose loss (means, advantage normalization) does not
            # depend on the order: shuffling would only cost a sort and a gather per epoch (~12% of
            # a 256-sample gradient step at RL-Zoo's CartPole setting).
            return jax.lax.scan(minibatch_step, carry, jax.tree.map(lambda x: x[None], flat))
        order = jax.random.permutation(epoch_key, config.batch_size)
        shuffled = jax.tree.map(
            lambda x: x[order].reshape((config.num_minibatches, config.minibatch_size, *x.shape[1:])), flat
        )
        return jax.lax.scan(minibatch_step, carry, shuffled)

    params, static = eqx.partition(policy, eqx.is_array)

    def epoch_on_params(carry, epoch_key):  # scan carries arrays only; the static part is closed over
        (p, o), stats = epoch((eqx.combine(carry[0], static), carry[1]), epoch_key)
        return (eqx.filter(p, eqx.is_array), o), stats

    (params, opt_state), stats = jax.lax.scan(
        epoch_on_params, (params, opt_state), jax.random.split(key, config.num_epochs)
    )
    metrics = jax.tree.map(jnp.mean, stats)
    metrics["train/clip_eps"] = jnp.asarray(clip_eps, jnp.float32)
    mask = None if traj.valid is None else traj.valid.astype(jnp.float32)
    var = lambda x: masked_mean((x - masked_mean(x, mask)) ** 2, mask)  # noqa: E731
    var_target = var(target)
    metrics["train/explained_variance"] = jnp.where(var_target > 0, 1.0 - var(target - value) / var_target, 0.0)
    return eqx.combine(params, static), opt_state, metrics


def episode_metrics(info: EpisodeInfo) -> dict[str, jax.Array]:
    """Mean return and length of the episodes that ended in a rollout (NaN if none did)."""
    count = info.returned.sum()
    denom = jnp.maximum(count, 1)
    nan_if_none = jnp.where(count > 0, 1.0, jnp.nan)
    return {
        "rollout/episode_return": (info.episode_return * info.returned).sum() / denom * nan_if_none,
        "rollout/episode_length": (info.episode_length * info.returned).sum() / denom * nan_if_none,
        "rollout/episodes": count.astype(jnp.float32),
    }


# =================================================================================================
# The JAX-native trainer: rollout + update compiled into one chunk program
# =================================================================================================


def wrap_env(jax_env, config: Config, num_envs: int, frozen: bool = False):
    """AutoReset -> EpisodeStatistics -> [NormalizeObservation] -> [NormalizeReward]."""
    env = EpisodeStatistics(AutoResetVecEnv(jax_env.env, jax_env.params, num_envs))
    if config.normalize_observations:
        env = NormalizeObservation(env, frozen=frozen)
    if config.normalize_rewards:
        env = NormalizeReward(env, gamma=config.gamma, frozen=frozen)
    return env


def collect_rollout(policy, env, env_state, obs, key, num_steps, low, high):
    """Scan ``num_steps`` of act + env.step; returns the rollout and the carried env state."""

    def step(carry, _):
        env_state, obs, key = carry
        key, act_key, step_key = jax.random.split(key, 3)
        action, log_prob = sample_action(policy, obs, act_key)
        env_action = action if low is None else jnp.clip(action, low, high)  # store the unclipped one
        next_obs, env_state, reward, terminated, truncated, info = env.step(step_key, env_state, env_action)
        transition = Transition(obs, action, log_prob, reward, terminated, truncated, info["next_obs"])
        episode = EpisodeInfo(info["returned"], info["episode_return"], info["episode_length"])
        return (env_state, next_obs, key), (transition, episode)

    (env_state, obs, key), (traj, episodes) = jax.lax.scan(step, (env_state, obs, key), None, num_steps)
    return traj, episodes, env_state, obs, key


def make_train(config: Config, env, num_seeds: int = 1, updates_per_chunk: int = 10, torso_factory=None) -> Trainer:
    """Build the trainer for a JAX-native env (``envs.make`` result) or a Gymnasium bridge env."""
    if not getattr(env, "is_jax_native", False):
        from seuseuro.envs.gym_bridge import make_bridge_train

        return make_bridge_train(config, env, num_seeds, updates_per_chunk, torso_factory)

    action_dim, discrete, low, high = action_spec(env.action_space)
    obs_shape = tuple(env.observation_space.shape)
    torso_factory = torso_factory or make_torso_factory(config, obs_shape)
    venv = wrap_env(env, config, config.num_envs)
    tx = make_optimizer(config)
    low = None if low is None else jnp.asarray(low)
    high = None if high is None else jnp.asarray(high)

    def build_policy(key):  # on the host: no XLA compilation for the initializers
        return ActorCritic(key, obs_shape, action_dim, discrete, config, torso_factory)

    def init_one(key, policy):
        env_key, key = jax.random.split(key)
        obs, env_state = venv.reset(env_key)
        opt_state = tx.init(eqx.filter(policy, eqx.is_array))
        return TrainState(policy, opt_state, env_state, obs, key, jnp.asarray(0, jnp.int32))

    def one_update(state: TrainState):
        traj, episodes, env_state, obs, key = collect_rollout(
            state.policy, venv, state.env_state, state.obs, state.key, config.num_steps, low, high
        )
        key, update_key = jax.random.split(key)
        policy, opt_state, metrics = ppo_update(
            state.policy, state.opt_state, traj, update_key, state.update_step, tx, config
        )
        metrics.update(episode_metrics(episodes))
        return TrainState(policy, opt_state, env_state, obs, key, state.update_step + 1), metrics

    return make_chunked_trainer(config, init_one, one_update, num_seeds, updates_per_chunk, build_policy)


# =================================================================================================
# Evaluation: full episodes with the trained policy (JAX-native envs)
# =================================================================================================


def evaluate(policy: ActorCritic, trained_env_state, jax_env, key, num_episodes: int,
             deterministic: bool = True, max_steps: int | None = None) -> np.ndarray:  # fmt: skip
    """Undiscounted return of ``num_episodes`` episodes, one per parallel env.

    Observations are normalized with the statistics the policy was trained with (read from
    ``trained_env_state``, frozen); rewards are reported unscaled.
    """
    _, _, low, high = action_spec(jax_env.action_space)
    venv = EpisodeStatistics(AutoResetVecEnv(jax_env.env, jax_env.params, num_episodes))
    obs_norm = find_wrapper_state(trained_env_state, NormalizeObsState)
    max_steps = max_steps or jax_env.max_episode_steps or 1000

    @eqx.filter_jit
    def run(policy, obs_norm, key):
        prepare = (lambda o: o) if obs_norm is None else (lambda o: normalize(obs_norm.stats, o))
        reset_key, key = jax.random.split(key)
        obs, state = venv.reset(reset_key)

        def step(carry, _):
            state, obs, key, done, ret = carry
            key, act_key, step_key = jax.random.split(key, 3)
            action, _ = sample_action(policy, prepare(obs), act_key, deterministic)
            if low is not None:
                action = jnp.clip(action, low, high)
            obs, state, _, _, _, info = venv.step(step_key, state, action)
            ret = jnp.where(done, ret, jnp.where(info["returned"], info["episode_return"], ret))
            return (state, obs, key, jnp.logical_or(done, info["returned"]), ret), None

        init = (state, obs, key, jnp.zeros(num_episodes, bool), jnp.full(num_episodes, jnp.nan))
        (_, _, _, done, ret), _ = jax.lax.scan(step, init, None, max_steps)
        return ret

    return np.asarray(run(policy, obs_norm, key))
