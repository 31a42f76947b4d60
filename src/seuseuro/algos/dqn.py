"""Deep Q-Networks (Mnih et al. 2015) and the Rainbow pieces that stand alone, one file, top to bottom.

Reproduces CleanRL's ``dqn.py`` / ``dqn_jax.py`` (its classic-control defaults are our CartPole
set): an MLP Q-network, a replay buffer, epsilon-greedy acting with epsilon decayed linearly, a
target network copied every ``target_update_period`` environment steps, one gradient step every
``num_envs * num_steps`` environment steps once ``learning_starts`` steps are in the buffer. Flags
add double Q-learning (van Hasselt et al. 2016), dueling heads (Wang et al. 2016), n-step returns
(Sutton 1988; Hessel et al. 2018), proportional prioritized replay (Schaul et al. 2016), the Huber
loss of the Nature paper, and Polyak target updates (``tau < 1``).

Differences from those references, on purpose:
- ``terminated`` and ``truncated`` stay apart: a time limit bootstraps from the final observation
  (core/replay.py; CleanRL's dqn stores the final observation too but SB3 needs
  ``handle_timeout_termination``).
- Many vectorized envs per seed (PureJaxRL's ``dqn.py``, rejax): each update steps ``num_envs`` envs
  ``num_steps`` times, then takes ``gradient_steps`` gradient steps; the replay buffer lives in the
  train state, so it is checkpointed and a resumed run is bit-identical to an uninterrupted one.
- The JAX-native path compiles collection, replay and learning into one program vmapped over seeds;
  the Gymnasium path steps on the host (``collect.host``) and calls the same jitted learning step.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from seuseuro.collect.host import HostPolicy
from seuseuro.collect.trainer import make_trainer
from seuseuro.core import replay
from seuseuro.core.chunked import Trainer
from seuseuro.core.networks import ACTIVATIONS, MLP, Flatten, orthogonal_linear, split_key
from seuseuro.core.optim import clipped_adam
from seuseuro.core.types import Transition
from seuseuro.core.value_learning import double_q_learning, huber_loss, linear_schedule, q_learning, soft_update
from seuseuro.envs.spaces import action_spec
from seuseuro.errors import UserError, require_at_least_one, require_finite, require_in_unit_interval
from seuseuro.perception.torsos import make_torso_factory

# =================================================================================================
# Configuration
# =================================================================================================


@dataclasses.dataclass(frozen=True)
class Config:
    """DQN hyperparameters. Defaults are CleanRL's classic-control set (``dqn.py``), which solves
    CartPole-v1 in 500k steps; `TUNED` holds other environments' sets."""

    total_steps: int = 500_000
    """Environment steps in total, over all parallel envs (per seed). Typical 1e5 (CartPole) to 1e7."""
    num_envs: int = 1
    """Parallel environments per seed. More envs = more steps/s; keep num_envs * num_steps = the train frequency."""
    num_steps: int = 10
    """Steps per environment between learning phases (CleanRL's train_frequency when num_envs = 1)."""
    gradient_steps: int = 1
    """Gradient steps per learning phase. Typical 1; raise with num_envs to keep the replay ratio."""
    batch_size: int = 128
    """Transitions per gradient step, sampled from the replay buffer. Typical 32-256."""
    buffer_size: int = 10_000
    """Replay capacity in transitions (shared evenly between the envs). Typical 1e4 (CartPole) to 1e6."""
    learning_starts: int = 10_000
    """Environment steps (per seed) collected before the first gradient step."""
    learning_rate: float = 2.5e-4
    """Adam step size. Typical 1e-4 to 1e-3."""
    gamma: float = 0.99
    """Discount factor. Typical 0.9-0.999."""
    target_update_period: int = 500
    """Environment steps between target-network updates (rounded to whole updates). Typical 500-10000."""
    tau: float = 1.0
    """Target update rate: 1 copies the online network (DQN), < 1 is Polyak averaging at each target update."""
    start_epsilon: float = 1.0
    """Exploration rate at the start."""
    end_epsilon: float = 0.05
    """Exploration rate after the decay (and of a non-deterministic evaluation)."""
    exploration_fraction: float = 0.5
    """Fraction of total_steps over which epsilon decays linearly (CleanRL 0.5, SB3 0.1)."""
    double_q: bool = False
    """Double Q-learning: the online network picks the next action, the target network values it."""
    dueling: bool = False
    """Dueling heads: Q = V + A - mean(A) (Wang et al. 2016)."""
    n_step: int = 1
    """n-step returns from the replay buffer (Rainbow: 3). 1 = one-step Q-learning."""
    loss: Literal["mse", "huber"] = "mse"
    """TD loss: mse (CleanRL: mean squared TD error) or huber (the Nature paper's error clipping)."""
    prioritized: bool = False
    """Proportional prioritized replay (Schaul et al. 2016) with importance weights."""
    priority_alpha: float = 0.6
    """Priority exponent of prioritized replay (0 = uniform). Schaul et al.: 0.6."""
    priority_beta: float = 0.4
    """Initial importance-sampling exponent, annealed to 1 over training. Schaul et al.: 0.4."""
    hidden_sizes: tuple[int, ...] = (120, 84)
    """Hidden layer widths of the Q-network (CleanRL: 120, 84; MinAtar paper: 128 after the cnn torso)."""
    activation: Literal["tanh", "relu"] = "relu"
    """Hidden activation."""
    torso: Literal["flatten", "cnn"] = "flatten"
    """Observation encoder: flatten, or cnn (3x3 convolutions over (height, width, channels) images, MinAtar)."""
    cnn_channels: tuple[int, ...] = (16,)
    """Filters of each 3x3 convolution of the cnn torso (MinAtar paper: 16)."""
    max_grad_norm: float = 0.0
    """Global gradient-norm clip; 0 = none (CleanRL: none; SB3: 10)."""
    adam_eps: float = 1e-8
    """Adam epsilon."""

    def __post_init__(self):
        require_finite(self)
        if self.activation not in ("tanh", "relu") or self.torso not in ("flatten", "cnn"):
            raise UserError(f"--activation {self.activation!r} / --torso {self.torso!r}: choose tanh|relu, flatten|cnn")
        if self.loss not in ("mse", "huber"):
            raise UserError(f"--loss {self.loss!r}: choose mse or huber")
        positive = ("total_steps", "num_envs", "num_steps", "gradient_steps", "batch_size", "target_update_period")
        require_at_least_one(self, (*positive, "n_step"))
        require_in_unit_interval(
            self, ("gamma", "tau", "start_epsilon", "end_epsilon", "exploration_fraction", "priority_beta")
        )
        if self.learning_rate <= 0 or self.adam_eps <= 0 or self.max_grad_norm < 0 or self.priority_alpha < 0:
            raise UserError("--learning-rate and --adam-eps must be > 0, --max-grad-norm and --priority-alpha >= 0")
        if self.buffer_size < self.num_envs * max(self.num_steps, self.n_step):
            raise UserError(
                f"--buffer-size {self.buffer_size} holds less than one collection ({self.num_envs} envs x "
                f"{self.num_steps} steps); raise --buffer-size"
            )
        if self.learning_starts < 0:
            raise UserError(f"--learning-starts must be >= 0 (got {self.learning_starts})")
        if self.total_steps < self.steps_per_update:
            raise UserError(
                f"--total-steps {self.total_steps} is less than one update ({self.steps_per_update} = "
                "num_envs * num_steps); raise --total-steps or lower --num-envs / --num-steps"
            )
        if not self.hidden_sizes or min(self.hidden_sizes) < 1 or not self.cnn_channels or min(self.cnn_channels) < 1:
            raise UserError("--hidden-sizes and --cnn-channels need at least one positive width, e.g. 120 84")

    @property
    def steps_per_update(self) -> int:
        return self.num_envs * self.num_steps

    @property
    def num_updates(self) -> int:
        return self.total_steps // self.steps_per_update

    @property
    def target_period_updates(self) -> int:
        """Updates between target updates (CleanRL counts environment steps: 500 steps = 50 updates of 10)."""
        return max(1, round(self.target_update_period / self.steps_per_update))


# CartPole = the defaults (CleanRL dqn.py). Acrobot and MountainCar: CleanRL runs the same set on the
# classic-control family; RL-Zoo's MountainCar needs 120k steps with its own set, not ours (not tuned).
# MinAtar: Young & Tian 2019 (5M frames, replay 100k, batch 32, target every 1000, eps 1 -> 0.1 over
# 100k frames, replay start 5000, a step every frame, Huber loss, 16 3x3 filters + 128 units; they use
# RMSProp at lr 2.5e-4, we use Adam at the same lr).
_MINATAR = dict(
    total_steps=5_000_000, num_envs=1, num_steps=1, batch_size=32, buffer_size=100_000, learning_starts=5_000,
    target_update_period=1_000, end_epsilon=0.1, exploration_fraction=0.02, loss="huber", torso="cnn",
    hidden_sizes=(128,),
)  # fmt: skip
TUNED: dict[str, dict[str, Any]] = {
    "CartPole-v1": {},
    "Acrobot-v1": {},
    "MountainCar-v0": {},
    **{f"{name}-MinAtar": _MINATAR for name in ("Breakout", "Asterix", "Freeway", "SpaceInvaders")},
}


def tuned_config(env_id: str, **overrides) -> Config:
    """The tuned Config for ``env_id`` (CleanRL / MinAtar paper), with ``overrides`` applied."""
    bare = env_id.split(":")[-1]
    return Config(**{**TUNED.get(bare, {}), **overrides})


# =================================================================================================
# The Q-network
# =================================================================================================


class QNetwork(eqx.Module):
    """Torso -> hidden layers -> one Q-value per action, or a value and an advantage head (dueling)."""

    torso: eqx.Module
    body: MLP  # ends at the last hidden layer (its activation applied in __call__)
    head: Any  # Dense (num_actions) or, dueling, (Dense advantage, Dense value)
    activation: str = eqx.field(static=True)

    def __init__(self, key, obs_shape, num_actions: int, config: Config, torso_factory=None):
        k_t, k_b, k_a, k_v = split_key(key, 4)
        if torso_factory is None:
            self.torso, feat = Flatten(), int(np.prod(obs_shape))
        else:
            self.torso, feat = torso_factory(k_t)
        *hidden, last = config.hidden_sizes
        self.body = MLP(k_b, feat, last, tuple(hidden), config.activation)
        advantage = orthogonal_linear(k_a, last, num_actions, 1.0)
        self.head = (advantage, orthogonal_linear(k_v, last, 1, 1.0)) if config.dueling else advantage
        self.activation = config.activation

    def __call__(self, obs: jax.Array) -> jax.Array:
        """Q-values ``(num_actions,)`` of one observation."""
        h = ACTIVATIONS[self.activation](self.body(self.torso(obs)))
        if isinstance(self.head, tuple):
            advantage, value = self.head[0](h), self.head[1](h)
            return value + advantage - advantage.mean()  # Wang et al. 2016, eq. 9
        return self.head(h)


def epsilon_greedy(q_values: jax.Array, epsilon: jax.Array, explore_u: jax.Array, action_u: jax.Array) -> jax.Array:
    """Greedy actions, replaced by uniform ones where ``explore_u < epsilon`` (uniforms in [0, 1))."""
    num_actions = q_values.shape[-1]
    random_action = jnp.minimum((action_u * num_actions).astype(jnp.int32), num_actions - 1)
    return jnp.where(explore_u < epsilon, random_action, jnp.argmax(q_values, axis=-1).astype(jnp.int32))


def act(params: tuple[QNetwork, jax.Array], obs: jax.Array, key: jax.Array):
    """The compiled collector's acting: epsilon-greedy on a batch; ``params = (q_network, epsilon)``."""
    q, epsilon = params
    u = jax.random.uniform(key, (2, obs.shape[0]))
    return epsilon_greedy(jax.vmap(q)(obs), epsilon, u[0], u[1]), None


def host_policy() -> HostPolicy:
    """Acting for the host collector: the two uniforms of each step drawn on the host for a rollout."""

    def act_from_noise(params, obs, noise):
        q, epsilon = params
        return epsilon_greedy(jax.vmap(q)(obs), epsilon, noise[:, 0], noise[:, 1]), None

    return HostPolicy(act_from_noise, 2, lambda rng, shape: rng.random(size=shape))


def epsilon_at(config: Config, update_step: jax.Array) -> jax.Array:
    steps = update_step * config.steps_per_update
    return linear_schedule(
        steps, config.start_epsilon, config.end_epsilon, int(config.exploration_fraction * config.total_steps)
    )


# =================================================================================================
# Learning: store the rollout, then gradient steps on replayed batches
# =================================================================================================


class TrainState(NamedTuple):
    q: QNetwork
    target: QNetwork
    opt_state: Any
    buffer: replay.ReplayBuffer
    env_state: Any  # wrapper states, or the host collector's statistics
    obs: jax.Array  # (N, *obs_shape) current observation
    key: jax.Array
    update_step: jax.Array  # int32 scalar: updates done so far


def make_optimizer(config: Config) -> optax.GradientTransformation:
    return clipped_adam(config.learning_rate, max_grad_norm=config.max_grad_norm or None, eps=config.adam_eps)


def td_loss(q: QNetwork, target: QNetwork, batch: replay.ReplaySample, config: Config):
    """Importance-weighted mean TD loss of a replayed batch; returns (loss, (td errors, mean Q))."""
    q_tm1 = jax.vmap(q)(batch.obs)
    q_t = jax.vmap(target)(batch.next_obs)
    if config.double_q:
        q_t_selector = jax.vmap(q)(batch.next_obs)
        td = jax.vmap(double_q_learning)(q_tm1, batch.action, batch.reward, batch.discount, q_t, q_t_selector)
    else:
        td = jax.vmap(q_learning)(q_tm1, batch.action, batch.reward, batch.discount, q_t)
    per_sample = huber_loss(td) if config.loss == "huber" else td**2  # CleanRL: F.mse_loss = mean(td^2)
    return jnp.mean(batch.weight * per_sample), (td, jnp.mean(q_tm1))


def learn(state: TrainState, traj: Transition, tx, config: Config) -> tuple[TrainState, dict[str, jax.Array]]:
    """Store ``traj`` (leaves ``(T, N, ...)``), then ``gradient_steps`` steps once past ``learning_starts``."""
    buffer = replay.add_rollout(state.buffer, traj)
    update_step = state.update_step + 1
    env_steps = update_step * config.steps_per_update
    beta = config.priority_beta + (1.0 - config.priority_beta) * jnp.minimum(update_step / config.num_updates, 1.0)
    grad_fn = eqx.filter_value_and_grad(td_loss, has_aux=True)

    # The buffer is read from the closure; only what changes is carried (the network, the optimizer,
    # the priorities). The learning_starts gate is a loop with a traced trip count, as in sac.py, not a
    # lax.cond: vmapped over seeds a cond becomes a select over everything it returns, and a known trip
    # count lets XLA fuse the batch's gather with the buffer write before it. Both made XLA copy the
    # whole 100k-row Breakout-MinAtar buffer at every update (40 ms of a 41 ms update; 1.4 ms now, issue 11).
    def gradient_step(_, carry):
        q, opt_state, priority, max_priority, key, _ = carry
        key, sample_key = jax.random.split(key)
        view = eqx.tree_at(lambda b: (b.priority, b.max_priority), buffer, (priority, max_priority))
        batch = replay.sample(view, sample_key, config.batch_size, beta)
        (loss, (td, q_mean)), grads = grad_fn(q, state.target, batch, config)
        updates, opt_state = tx.update(grads, opt_state, eqx.filter(q, eqx.is_array))
        if config.prioritized:
            view = replay.update_priorities(view, batch.index, jnp.where(batch.weight > 0, td, 0.0))
        stats = jnp.stack([loss, q_mean])
        return eqx.apply_updates(q, updates), opt_state, view.priority, view.max_priority, key, stats

    num_steps = jnp.where(env_steps >= config.learning_starts, config.gradient_steps, 0)
    carry = (state.q, state.opt_state, buffer.priority, buffer.max_priority, state.key, jnp.full(2, jnp.nan))
    q, opt_state, priority, max_priority, key, stats = jax.lax.fori_loop(0, num_steps, gradient_step, carry)
    buffer = eqx.tree_at(lambda b: (b.priority, b.max_priority), buffer, (priority, max_priority))
    # Target update every target_period_updates updates (CleanRL: global_step % 500 == 0), once learning.
    due = (update_step % config.target_period_updates == 0) & (env_steps >= config.learning_starts)
    target = soft_update(state.target, q, config.tau * due.astype(jnp.float32))
    metrics = {
        "train/loss": stats[0],
        "train/q_mean": stats[1],
        "train/epsilon": epsilon_at(config, state.update_step),
    }
    new = state._replace(q=q, target=target, opt_state=opt_state, buffer=buffer, key=key, update_step=update_step)
    return new, metrics


# =================================================================================================
# The trainers: compiled (JAX-native env) and host-collected (Gymnasium env)
# =================================================================================================


def make_train(config: Config, env, num_seeds: int = 1, updates_per_chunk: int = 10, torso_factory=None) -> Trainer:
    """Build the trainer for a JAX-native env (``envs.make`` result) or a Gymnasium env."""
    spec = action_spec(env.action_space, "DQN", allow=("Discrete",))
    obs_shape = tuple(env.observation_space.shape)
    if config.torso == "cnn" and torso_factory is None:
        torso_factory = make_torso_factory("cnn", obs_shape, cnn_channels=config.cnn_channels)
    tx = make_optimizer(config)

    def build_q(key):  # on the host: no XLA compilation for the initializers
        return QNetwork(key, obs_shape, spec.dim, config, torso_factory)

    def new_state(key, q, env_state, obs):
        example = Transition(
            obs, jnp.zeros(obs.shape[0], jnp.int32), jnp.zeros(obs.shape[0], jnp.float32),
            jnp.zeros(obs.shape[0], bool), jnp.zeros(obs.shape[0], bool), obs,
        )  # fmt: skip
        buffer = replay.init(
            config.buffer_size, example, n_step=config.n_step, gamma=config.gamma,
            prioritized=config.prioritized, alpha=config.priority_alpha,
        )  # fmt: skip
        opt_state = tx.init(eqx.filter(q, eqx.is_array))
        return TrainState(q, q, opt_state, buffer, env_state, obs, key, jnp.asarray(0, jnp.int32))

    return make_trainer(
        config, env, act=act, host_policy=host_policy(), num_seeds=num_seeds, num_envs=config.num_envs,
        num_steps=config.num_steps, updates_per_chunk=updates_per_chunk, num_updates=config.num_updates,
        steps_per_update=config.steps_per_update, build_on_host=build_q, new_state=new_state,
        learn=lambda s, traj: learn(s, traj, tx, config), acting_params=lambda s: (s.q, epsilon_at(config, s.update_step)),
        gamma=config.gamma,
    )  # fmt: skip


# =================================================================================================
# Evaluation
# =================================================================================================


def policy_for_eval(config: Config, state: TrainState, deterministic: bool = True):
    """The registry's hook (``experiment.py``): (act, params) of ONE seed's TrainState; greedy when
    ``deterministic``, else epsilon-greedy at ``end_epsilon``."""
    epsilon = 0.0 if deterministic else config.end_epsilon

    def act_for_eval(q, obs, key):
        return act((q, jnp.asarray(epsilon, jnp.float32)), obs, key)[0]

    return act_for_eval, state.q
