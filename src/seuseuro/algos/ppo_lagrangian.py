"""PPO-Lagrangian: PPO under a constraint on a cost the environment reports, one file, top to bottom.

Solves  max_pi J_r(pi)  s.t.  J_c(pi) <= d  through the Lagrangian  J_r - lambda (J_c - d)
(Altman 1999; Ray, Achiam & Amodei 2019, "Benchmarking Safe Exploration"; OmniSafe's PPOLag):

- a cost critic V_c, trained like the reward critic, gives cost advantages A_c by GAE;
- the policy takes PPO's clipped step on the combined advantage (A_r - lambda A_c) / (1 + lambda),
  the (1 + lambda) keeping the step size comparable as lambda grows (OmniSafe);
- the multiplier is updated online after every rollout by projected gradient ascent,
  lambda <- clip(lambda + lr_lambda (J_c - d), 0, lambda_max), where J_c is the rollout's mean cost
  per step: it rises while the constraint is violated and falls back once it holds.

The cost is read from the environment's ``info[config.cost_key]`` (LendingEnv: the windowed TPR gap
between groups), so any environment that reports a per-step cost can be constrained. The limit ``d``
is on the *average cost per step*: for LendingEnv, "the recent TPR gap, on average, at most d".

Shared with ``algos/ppo.py`` (imported, not copied): the actor-critic, action sampling and
evaluation, the wrappers, the optimizer; from ``core``: GAE, the clipped surrogate and value losses.
Differences from OmniSafe's PPOLag, on purpose: plain projected gradient ascent on lambda (not Adam),
cost advantages normalized to unit std like the reward ones (``normalize_cost_advantages``) so the
multiplier is a unitless trade-off; OmniSafe only centres them.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from seuseuro.algos import ppo
from seuseuro.core.chunked import Trainer, make_chunked_trainer
from seuseuro.core.losses import approx_kl, clipped_surrogate_loss, normalize_advantages, value_loss
from seuseuro.core.networks import MLP
from seuseuro.core.returns import compute_gae
from seuseuro.core.types import EpisodeInfo, Transition
from seuseuro.errors import UserError, require_finite

# =================================================================================================
# Configuration
# =================================================================================================

# PPO settings that learn LendingEnv's 14-state policy in ~100k steps (measured, FAIRNESS.md).
LENDING_PPO = dict(
    total_steps=200_000, num_envs=16, num_steps=64, num_epochs=4, num_minibatches=4,
    learning_rate=1e-3, gamma=0.99, gae_lambda=0.95, anneal_clip=False, ent_coef=0.0,
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Config:
    """PPO-Lagrangian: the PPO hyperparameters plus the constraint."""

    ppo: ppo.Config = dataclasses.field(default_factory=lambda: ppo.Config(**LENDING_PPO))
    """The PPO part (see `seuseuro train ppo --help`)."""
    cost_limit: float = 0.05
    """d: the largest acceptable mean cost per step (LendingEnv: windowed TPR gap). Typical 0.02-0.1."""
    multiplier_lr: float = 1.0
    """Step size of the multiplier's gradient ascent per update (1.0 works on Lending-v0, where the cost is
    a TPR gap in [0, 1]). Larger reacts faster but oscillates more. Typical 0.05-2."""
    multiplier_init: float = 0.0
    """Initial lambda (0 = start as plain PPO)."""
    multiplier_max: float = 100.0
    """Upper clip of lambda, so a constraint that cannot be met does not blow the step size up."""
    normalize_cost_advantages: bool = True
    """Scale cost advantages to unit std per minibatch (as reward ones); off = centre only (OmniSafe)."""
    cost_key: str = "cost"
    """Key of the per-step cost in the environment's info dict."""

    def __post_init__(self):
        require_finite(self)
        if not isinstance(self.ppo, ppo.Config):
            raise UserError(f"PPO-Lagrangian's ppo field must be a ppo.Config, got {type(self.ppo).__name__}")
        if not self.cost_key:
            raise UserError("--cost-key must name the cost in the env's info dict, e.g. --cost-key cost")
        if self.cost_limit < 0:
            raise UserError(f"--cost-limit must be >= 0 (got {self.cost_limit})")
        if self.multiplier_lr <= 0 or self.multiplier_max <= 0:
            raise UserError("--multiplier-lr and --multiplier-max must be > 0")
        if not 0 <= self.multiplier_init <= self.multiplier_max:
            raise UserError(f"--multiplier-init must be in [0, multiplier_max={self.multiplier_max}]")

    @property
    def num_updates(self) -> int:
        return self.ppo.num_updates


# =================================================================================================
# Agent: PPO's actor-critic plus a cost critic
# =================================================================================================


class LagrangianAgent(eqx.Module):
    actor_critic: ppo.ActorCritic
    cost_critic: MLP

    def __init__(self, key, obs_shape, action_dim, discrete, config: Config):
        k_ac, k_c = jax.random.split(key)
        self.actor_critic = ppo.ActorCritic(k_ac, obs_shape, action_dim, discrete, config.ppo)
        feat = math.prod(obs_shape)
        self.cost_critic = MLP(k_c, feat, 1, config.ppo.hidden_sizes, config.ppo.activation, out_gain=1.0)

    def cost_value(self, obs: jax.Array) -> jax.Array:
        return self.cost_critic(obs.reshape(-1))[0]


class TrainState(NamedTuple):
    policy: LagrangianAgent  # named `policy` like PPO's so drivers and loaders treat both alike
    opt_state: Any
    env_state: Any
    obs: jax.Array  # (N, *obs_shape)
    key: jax.Array
    update_step: jax.Array  # int32 scalar
    multiplier: jax.Array  # float32 scalar, lambda >= 0


# =================================================================================================
# The multiplier: projected gradient ascent on the Lagrangian
# =================================================================================================


def update_multiplier(multiplier: jax.Array, mean_cost: jax.Array, config: Config) -> jax.Array:
    """lambda <- clip(lambda + lr (J_c - d), 0, lambda_max): dL/dlambda = -(J_c - d), ascended."""
    stepped = multiplier + config.multiplier_lr * (mean_cost - config.cost_limit)
    return jnp.clip(stepped, 0.0, config.multiplier_max)


# =================================================================================================
# Rollout: PPO's loop, also keeping the cost from info
# =================================================================================================


def collect_rollout(agent: LagrangianAgent, env, env_state, obs, key, config: Config):
    """Scan ``num_steps`` of act + env.step; returns (transitions, costs (T, N), episodes, env_state, obs, key)."""
    policy, cost_key = agent.actor_critic, config.cost_key

    def step(carry, _):
        env_state, obs, key = carry
        key, act_key, step_key = jax.random.split(key, 3)
        action, log_prob = ppo.sample_action(policy, obs, act_key)
        next_obs, env_state, reward, terminated, truncated, info = env.step(step_key, env_state, action)
        transition = Transition(obs, action, log_prob, reward, terminated, truncated, info["next_obs"])
        episode = EpisodeInfo(info["returned"], info["episode_return"], info["episode_length"])
        return (env_state, next_obs, key), (transition, info[cost_key].astype(jnp.float32), episode)

    (env_state, obs, key), (traj, cost, episodes) = jax.lax.scan(
        step, (env_state, obs, key), None, config.ppo.num_steps
    )
    return traj, cost, episodes, env_state, obs, key


# =================================================================================================
# The update: two GAEs, the combined clipped step, then the multiplier
# =================================================================================================


def lagrangian_loss(agent: LagrangianAgent, batch, multiplier, config: Config):
    obs, action, old_log_prob, old_value, old_cost_value, adv_r, adv_c, target_r, target_c = batch
    pc = config.ppo
    log_prob, entropy, value = ppo.evaluate_actions(agent.actor_critic, obs, action)
    cost_value = jax.vmap(agent.cost_value)(obs)
    log_ratio = log_prob - old_log_prob
    if pc.normalize_advantages:
        adv_r = normalize_advantages(adv_r)
    adv_c = normalize_advantages(adv_c) if config.normalize_cost_advantages else adv_c - adv_c.mean()
    advantage = (adv_r - multiplier * adv_c) / (1.0 + multiplier)
    pg_loss = clipped_surrogate_loss(log_ratio, advantage, pc.clip_eps)
    clip = pc.clip_eps if pc.clip_value_loss else None
    v_loss = value_loss(value, old_value, target_r, clip)
    c_loss = value_loss(cost_value, old_cost_value, target_c, clip)
    entropy = entropy.mean()
    total = pg_loss + pc.vf_coef * (v_loss + c_loss) - pc.ent_coef * entropy
    stats = {
        "train/policy_loss": pg_loss,
        "train/value_loss": v_loss,
        "train/cost_value_loss": c_loss,
        "train/entropy": entropy,
        "train/approx_kl": approx_kl(log_ratio),
    }
    return total, stats


def lagrangian_update(agent, opt_state, traj: Transition, cost, multiplier, key, tx, config: Config):
    """One update on a rollout (leaves (T, N, ...)); returns (agent, opt_state, new multiplier, metrics)."""
    # JAX-native envs only (make_train refuses others), whose transitions are all valid; a rollout with
    # Transition.valid would need the masks of ppo.ppo_update here too.
    assert traj.valid is None, "PPO-Lagrangian does not mask invalid transitions"
    pc = config.ppo
    values = jax.vmap(jax.vmap(agent.actor_critic.value))
    cost_values = jax.vmap(jax.vmap(agent.cost_value))
    value, next_value = values(traj.obs), values(traj.next_obs)
    cost_value, next_cost_value = cost_values(traj.obs), cost_values(traj.next_obs)
    gae = lambda r, v, nv: compute_gae(r, v, nv, traj.terminated, traj.truncated, pc.gamma, pc.gae_lambda)
    adv_r, target_r = gae(traj.reward, value, next_value)
    adv_c, target_c = gae(cost, cost_value, next_cost_value)
    flat = jax.tree.map(
        lambda x: x.reshape((pc.batch_size, *x.shape[2:])),
        (traj.obs, traj.action, traj.log_prob, value, cost_value, adv_r, adv_c, target_r, target_c),
    )
    grad_fn = eqx.filter_value_and_grad(lagrangian_loss, has_aux=True)
    params, static = eqx.partition(agent, eqx.is_array)

    def minibatch_step(carry, batch):
        params, opt_state = carry
        (_, stats), grads = grad_fn(eqx.combine(params, static), batch, multiplier, config)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (eqx.apply_updates(params, updates), opt_state), stats

    def epoch(carry, epoch_key):
        order = jax.random.permutation(epoch_key, pc.batch_size)
        shuffled = jax.tree.map(lambda x: x[order].reshape((pc.num_minibatches, pc.minibatch_size, *x.shape[1:])), flat)
        return jax.lax.scan(minibatch_step, carry, shuffled)

    (params, opt_state), stats = jax.lax.scan(epoch, (params, opt_state), jax.random.split(key, pc.num_epochs))
    # The multiplier moves after the policy step, on the cost the rollout actually incurred.
    mean_cost = cost.mean()
    new_multiplier = update_multiplier(multiplier, mean_cost, config)
    metrics = jax.tree.map(jnp.mean, stats)
    metrics["train/multiplier"] = new_multiplier
    metrics["rollout/cost"] = mean_cost
    metrics["rollout/reward_per_step"] = traj.reward.mean()
    return eqx.combine(params, static), opt_state, new_multiplier, metrics


# =================================================================================================
# The trainer: rollout + update compiled into chunks, vmapped over seeds (core/chunked.py)
# =================================================================================================


def make_train(config: Config, env, num_seeds: int = 1, updates_per_chunk: int = 10) -> Trainer:
    """Trainer for a JAX-native env (``envs.make`` result) whose info carries ``config.cost_key``."""
    if not getattr(env, "is_jax_native", False):
        raise UserError("PPO-Lagrangian runs on JAX-native environments (e.g. Lending-v0), not the Gymnasium bridge")
    action_dim, discrete, low, _ = ppo.action_spec(env.action_space)
    if low is not None:
        raise UserError("PPO-Lagrangian here supports Discrete actions only")
    _check_cost_reported(env, config.cost_key)
    obs_shape = tuple(env.observation_space.shape)
    venv = ppo.wrap_env(env, config.ppo, config.ppo.num_envs)
    tx = ppo.make_optimizer(config.ppo)

    def build_agent(key):
        # On the host (core.networks: no XLA QR to compile). A vmapped program holding several
        # seeds' QR initializers also hung XLA's CPU runtime here with 2+ seeds (FAIRNESS.md).
        return LagrangianAgent(key, obs_shape, action_dim, discrete, config)

    def init_one(key, agent):
        env_key, key = jax.random.split(key)
        obs, env_state = venv.reset(env_key)
        opt_state = tx.init(eqx.filter(agent, eqx.is_array))
        multiplier = jnp.asarray(config.multiplier_init, jnp.float32)
        return TrainState(agent, opt_state, env_state, obs, key, jnp.asarray(0, jnp.int32), multiplier)

    def one_update(state: TrainState):
        traj, cost, episodes, env_state, obs, key = collect_rollout(
            state.policy, venv, state.env_state, state.obs, state.key, config
        )
        key, update_key = jax.random.split(key)
        agent, opt_state, multiplier, metrics = lagrangian_update(
            state.policy, state.opt_state, traj, cost, state.multiplier, update_key, tx, config
        )
        metrics.update(ppo.episode_metrics(episodes))
        return TrainState(agent, opt_state, env_state, obs, key, state.update_step + 1, multiplier), metrics

    return make_chunked_trainer(config.ppo, init_one, one_update, num_seeds, updates_per_chunk, build_agent)


def _check_cost_reported(env, cost_key: str) -> None:
    """Fail early, with the fix, when the environment does not report the cost to constrain."""
    key = jax.random.PRNGKey(0)
    info = jax.eval_shape(lambda k: env.env.step_env(k, env.env.reset_env(k, env.params)[1], 0, env.params)[4], key)
    if cost_key not in info:
        raise UserError(
            f"{env.env_id} reports no {cost_key!r} in its info (it has {sorted(info)}); constrain a cost it "
            "reports with --cost-key, or use a fairness env such as Lending-v0"
        )
