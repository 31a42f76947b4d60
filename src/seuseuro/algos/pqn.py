"""PQN, parallelised Q-learning (Gallici et al. 2024, "Simplifying Deep Temporal Difference Learning"),
one file, top to bottom.

Reproduces the authors' PureJaxQL ``pqn_gymnax.py``: a Q-network with LayerNorm after every hidden
layer (the normalization that, by the paper's analysis, makes TD stable without a target network),
no target network, no replay buffer: many vectorized envs act epsilon-greedily for ``num_steps``
steps, Peng's Q(lambda) targets are computed over that rollout from the same network
(``core.returns.q_lambda_returns``), then ``num_epochs`` x ``num_minibatches`` gradient steps of
the squared error, RAdam with global gradient-norm clipping and a linearly decayed learning rate.

Differences from the reference, on purpose:
- ``terminated`` and ``truncated`` stay apart: a time limit bootstraps from the final observation
  (the reference folds truncation into ``done``).
- The JAX-native path compiles collection and update into one program vmapped over seeds; the
  Gymnasium path steps on the host (``collect.host``) and calls the same jitted update.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from seuseuro.algos.dqn import act, host_policy
from seuseuro.collect.trainer import make_trainer
from seuseuro.core.chunked import Trainer
from seuseuro.core.losses import masked_mean
from seuseuro.core.minibatch import minibatch_epochs
from seuseuro.core.networks import ACTIVATIONS, HIDDEN_GAIN, Dense, Flatten, orthogonal_linear, split_key
from seuseuro.core.returns import q_lambda_returns
from seuseuro.core.types import Transition
from seuseuro.core.value_learning import linear_schedule
from seuseuro.envs.spaces import action_spec
from seuseuro.errors import UserError, require_at_least_one, require_finite, require_in_unit_interval
from seuseuro.perception.torsos import make_torso_factory

# =================================================================================================
# Configuration
# =================================================================================================


@dataclasses.dataclass(frozen=True)
class Config:
    """PQN hyperparameters. Defaults are PureJaxQL's CartPole-v1 set (``config/alg/pqn_cartpole.yaml``);
    `TUNED` holds other environments' sets."""

    total_steps: int = 500_000
    """Environment steps in total, over all parallel envs (per seed). Typical 5e5 (CartPole) to 1e7 (MinAtar)."""
    num_envs: int = 32
    """Parallel environments per seed: PQN's decorrelation comes from many envs, not a buffer. Typical 32-128."""
    num_steps: int = 64
    """Steps per environment per rollout; batch = num_envs * num_steps. Typical 32-64."""
    num_epochs: int = 4
    """Passes over each rollout batch. Typical 2-4."""
    num_minibatches: int = 16
    """Minibatches per epoch (the batch must divide evenly). Typical 16-32."""
    learning_rate: float = 1e-4
    """RAdam step size. Typical 1e-4 (CartPole) to 5e-4 (MinAtar)."""
    anneal_lr: bool = True
    """Decay the learning rate linearly to 0 over training."""
    gamma: float = 0.99
    """Discount factor."""
    q_lambda: float = 0.95
    """lambda of the Q(lambda) targets: 0 = one-step Q-learning, 1 = Monte-Carlo. Paper: 0.65 (Atari/MinAtar)."""
    start_epsilon: float = 1.0
    """Exploration rate at the start."""
    end_epsilon: float = 0.2
    """Exploration rate after the decay (and of a non-deterministic evaluation)."""
    exploration_fraction: float = 0.2
    """Fraction of total_steps over which epsilon decays linearly."""
    reward_scale: float = 0.1
    """Multiplies rewards in the targets (PureJaxQL's REW_SCALE: 0.1 on CartPole)."""
    max_grad_norm: float = 10.0
    """Global gradient-norm clip."""
    hidden_sizes: tuple[int, ...] = (256, 256)
    """Hidden layer widths, each followed by LayerNorm and the activation."""
    activation: Literal["tanh", "relu"] = "relu"
    """Hidden activation."""
    layer_norm: bool = True
    """LayerNorm after each hidden layer (the paper's stabilizer; off only for ablations)."""
    torso: Literal["flatten", "cnn"] = "flatten"
    """Observation encoder: flatten, or cnn (3x3 convolutions over (height, width, channels) images, MinAtar)."""
    cnn_channels: tuple[int, ...] = (16,)
    """Filters of each 3x3 convolution of the cnn torso."""

    def __post_init__(self):
        require_finite(self)
        if self.activation not in ("tanh", "relu") or self.torso not in ("flatten", "cnn"):
            raise UserError(f"--activation {self.activation!r} / --torso {self.torso!r}: choose tanh|relu, flatten|cnn")
        require_at_least_one(self, ("total_steps", "num_envs", "num_steps", "num_epochs", "num_minibatches"))
        require_in_unit_interval(self, ("gamma", "q_lambda", "start_epsilon", "end_epsilon", "exploration_fraction"))
        if self.learning_rate <= 0 or self.max_grad_norm <= 0 or self.reward_scale <= 0:
            raise UserError("--learning-rate, --max-grad-norm and --reward-scale must be > 0")
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
        if not self.hidden_sizes or min(self.hidden_sizes) < 1 or not self.cnn_channels or min(self.cnn_channels) < 1:
            raise UserError("--hidden-sizes and --cnn-channels need at least one positive width, e.g. 256 256")

    @property
    def batch_size(self) -> int:
        return self.num_envs * self.num_steps

    @property
    def num_updates(self) -> int:
        return self.total_steps // self.batch_size


# CartPole / Acrobot: PureJaxQL pqn_cartpole.yaml (the same file names both). MinAtar: pqn_minatar.yaml
# (128 envs x 32 steps, 2 epochs x 32 minibatches, lr 5e-4, eps 1 -> 0.05 over a tenth, lambda 0.65),
# with the MinAtar paper's 16-filter convolution + 128 units as the network.
_MINATAR = dict(
    total_steps=10_000_000, num_envs=128, num_steps=32, num_epochs=2, num_minibatches=32, learning_rate=5e-4,
    q_lambda=0.65, end_epsilon=0.05, exploration_fraction=0.1, reward_scale=1.0, torso="cnn", hidden_sizes=(128,),
)  # fmt: skip
TUNED: dict[str, dict[str, Any]] = {
    "CartPole-v1": {},
    "Acrobot-v1": {},
    **{f"{name}-MinAtar": _MINATAR for name in ("Breakout", "Asterix", "Freeway", "SpaceInvaders")},
}


def tuned_config(env_id: str, **overrides) -> Config:
    """The tuned Config for ``env_id`` (PureJaxQL / the PQN paper), with ``overrides`` applied."""
    bare = env_id.split(":")[-1]
    return Config(**{**TUNED.get(bare, {}), **overrides})


# =================================================================================================
# The Q-network: Dense -> LayerNorm -> activation per hidden layer
# =================================================================================================


class LayerNormQNetwork(eqx.Module):
    torso: eqx.Module
    layers: tuple[Dense, ...]  # hidden layers, then the Q head
    norm_scales: tuple[jax.Array, ...]
    norm_biases: tuple[jax.Array, ...]
    activation: str = eqx.field(static=True)
    layer_norm: bool = eqx.field(static=True)

    def __init__(self, key, obs_shape, num_actions: int, config: Config, torso_factory=None):
        k_t, k_l = split_key(key, 2)
        if torso_factory is None:
            self.torso, feat = Flatten(), int(np.prod(obs_shape))
        else:
            self.torso, feat = torso_factory(k_t)
        sizes = [feat, *config.hidden_sizes, num_actions]
        keys = split_key(k_l, len(sizes) - 1)
        gains = [HIDDEN_GAIN] * len(config.hidden_sizes) + [1.0]
        self.layers = tuple(orthogonal_linear(*args) for args in zip(keys, sizes[:-1], sizes[1:], gains, strict=True))
        self.norm_scales = tuple(jnp.ones((h,), jnp.float32) for h in config.hidden_sizes)
        self.norm_biases = tuple(jnp.zeros((h,), jnp.float32) for h in config.hidden_sizes)
        self.activation, self.layer_norm = config.activation, config.layer_norm

    def __call__(self, obs: jax.Array) -> jax.Array:
        """Q-values ``(num_actions,)`` of one observation."""
        x = self.torso(obs)
        for layer, scale, bias in zip(self.layers[:-1], self.norm_scales, self.norm_biases, strict=True):
            x = layer(x)
            if self.layer_norm:
                x = (x - x.mean()) * jax.lax.rsqrt(x.var() + 1e-6) * scale + bias
            x = ACTIVATIONS[self.activation](x)
        return self.layers[-1](x)


def epsilon_at(config: Config, update_step: jax.Array) -> jax.Array:
    steps = update_step * config.batch_size
    return linear_schedule(
        steps, config.start_epsilon, config.end_epsilon, int(config.exploration_fraction * config.total_steps)
    )


# =================================================================================================
# The update: Q(lambda) targets over the rollout, then epochs of minibatches
# =================================================================================================


class TrainState(NamedTuple):
    q: LayerNormQNetwork
    opt_state: Any
    env_state: Any
    obs: jax.Array
    key: jax.Array
    update_step: jax.Array


def make_optimizer(config: Config) -> optax.GradientTransformation:
    steps = config.num_updates * config.num_epochs * config.num_minibatches
    lr = optax.linear_schedule(config.learning_rate, 0.0, steps) if config.anneal_lr else config.learning_rate
    return optax.chain(optax.clip_by_global_norm(config.max_grad_norm), optax.radam(lr))


def q_loss(q: LayerNormQNetwork, batch):
    """``0.5 (Q(s, a) - G)^2`` averaged over a minibatch ``(obs, action, target[, mask])``."""
    obs, action, target, *rest = batch
    chosen = jnp.take_along_axis(jax.vmap(q)(obs), action[:, None], axis=1)[:, 0]
    loss = masked_mean(0.5 * (chosen - target) ** 2, rest[0] if rest else None)
    return loss, {"train/loss": loss, "train/q_mean": masked_mean(chosen, rest[0] if rest else None)}


def pqn_update(state: TrainState, traj: Transition, tx, config: Config) -> tuple[TrainState, dict[str, jax.Array]]:
    """One PQN update on a rollout ``traj`` with leaves ``(T, N, ...)`` (the state's obs/env_state already advanced)."""
    next_max_q = jnp.max(jax.vmap(jax.vmap(state.q))(traj.next_obs), axis=-1)  # (T, N), the pre-update network
    target = q_lambda_returns(
        traj.reward * config.reward_scale, next_max_q, traj.terminated, traj.truncated, config.gamma, config.q_lambda
    )
    columns = (traj.obs, traj.action, jax.lax.stop_gradient(target))
    if traj.valid is not None:
        columns += (traj.valid.astype(jnp.float32),)
    flat = jax.tree.map(lambda x: x.reshape((config.batch_size, *x.shape[2:])), columns)
    key, update_key = jax.random.split(state.key)
    q, opt_state, stats = minibatch_epochs(
        q_loss, state.q, state.opt_state, tx, flat, update_key,
        num_epochs=config.num_epochs, num_minibatches=config.num_minibatches,
    )  # fmt: skip
    metrics = jax.tree.map(jnp.mean, stats)
    metrics["train/epsilon"] = epsilon_at(config, state.update_step)
    return state._replace(q=q, opt_state=opt_state, key=key, update_step=state.update_step + 1), metrics


# =================================================================================================
# The trainers
# =================================================================================================


def make_train(config: Config, env, num_seeds: int = 1, updates_per_chunk: int = 10, torso_factory=None) -> Trainer:
    """Build the trainer for a JAX-native env (``envs.make`` result) or a Gymnasium env."""
    spec = action_spec(env.action_space, "PQN", allow=("Discrete",))
    obs_shape = tuple(env.observation_space.shape)
    if config.torso == "cnn" and torso_factory is None:
        torso_factory = make_torso_factory("cnn", obs_shape, cnn_channels=config.cnn_channels)
    tx = make_optimizer(config)

    def build_q(key):
        return LayerNormQNetwork(key, obs_shape, spec.dim, config, torso_factory)

    def new_state(key, q, env_state, obs):
        opt_state = tx.init(eqx.filter(q, eqx.is_array))
        return TrainState(q, opt_state, env_state, obs, key, jnp.asarray(0, jnp.int32))

    return make_trainer(
        config, env, act=act, host_policy=host_policy(), num_seeds=num_seeds, num_envs=config.num_envs,
        num_steps=config.num_steps, updates_per_chunk=updates_per_chunk, num_updates=config.num_updates,
        steps_per_update=config.batch_size, build_on_host=build_q, new_state=new_state,
        learn=lambda s, traj: pqn_update(s, traj, tx, config), acting_params=lambda s: (s.q, epsilon_at(config, s.update_step)),
        gamma=config.gamma,
    )  # fmt: skip


def policy_for_eval(config: Config, state: TrainState, deterministic: bool = True):
    """The registry's hook: (act, params) of ONE seed's TrainState; greedy when ``deterministic``."""
    epsilon = 0.0 if deterministic else config.end_epsilon

    def act_for_eval(q, obs, key):
        return act((q, jnp.asarray(epsilon, jnp.float32)), obs, key)[0]

    return act_for_eval, state.q
