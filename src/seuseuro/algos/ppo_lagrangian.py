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
from seuseuro.collect.host import HostCollector, init_collector_state, make_host_trainer
from seuseuro.collect.rollout import collect_rollout, episode_metrics
from seuseuro.core.chunked import Trainer, make_chunked_trainer
from seuseuro.core.losses import approx_kl, clipped_surrogate_loss, masked_mean, normalize_advantages, value_loss
from seuseuro.core.minibatch import minibatch_epochs
from seuseuro.core.networks import MLP
from seuseuro.core.returns import compute_gae
from seuseuro.core.types import Transition
from seuseuro.core.wrappers import wrap_for_training
from seuseuro.envs.spaces import action_spec
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
    agent: LagrangianAgent
    opt_state: Any
    env_state: Any  # wrapper states, or the host collector's statistics (Gymnasium envs)
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
# The update: two GAEs, the combined clipped step, then the multiplier
# =================================================================================================


def lagrangian_loss(agent: LagrangianAgent, batch, multiplier, config: Config):
    obs, action, old_log_prob, old_value, old_cost_value, adv_r, adv_c, target_r, target_c, *rest = batch
    mask = rest[0] if rest else None  # Transition.valid: averages skip a next-step auto-reset's steps
    pc = config.ppo
    log_prob, entropy, value = ppo.evaluate_actions(agent.actor_critic, obs, action)
    cost_value = jax.vmap(agent.cost_value)(obs)
    log_ratio = log_prob - old_log_prob
    if pc.normalize_advantages:
        adv_r = normalize_advantages(adv_r, mask=mask)
    if config.normalize_cost_advantages:
        adv_c = normalize_advantages(adv_c, mask=mask)
    else:
        adv_c = adv_c - masked_mean(adv_c, mask)
    advantage = (adv_r - multiplier * adv_c) / (1.0 + multiplier)
    pg_loss = clipped_surrogate_loss(log_ratio, advantage, pc.clip_eps, mask)
    clip = pc.clip_eps if pc.clip_value_loss else None
    v_loss = value_loss(value, old_value, target_r, clip, mask)
    c_loss = value_loss(cost_value, old_cost_value, target_c, clip, mask)
    entropy = masked_mean(entropy, mask)
    total = pg_loss + pc.vf_coef * (v_loss + c_loss) - pc.ent_coef * entropy
    stats = {
        "train/policy_loss": pg_loss,
        "train/value_loss": v_loss,
        "train/cost_value_loss": c_loss,
        "train/entropy": entropy,
        "train/approx_kl": approx_kl(log_ratio, mask),
    }
    return total, stats


def lagrangian_update(agent, opt_state, traj: Transition, multiplier, key, tx, config: Config):
    """One update on a rollout (leaves (T, N, ...), ``traj.cost`` filled); returns (agent, opt_state,
    new multiplier, metrics)."""
    pc = config.ppo
    values = jax.vmap(jax.vmap(agent.actor_critic.value))
    cost_values = jax.vmap(jax.vmap(agent.cost_value))
    value, next_value = values(traj.obs), values(traj.next_obs)
    cost_value, next_cost_value = cost_values(traj.obs), cost_values(traj.next_obs)
    gae = lambda r, v, nv: compute_gae(r, v, nv, traj.terminated, traj.truncated, pc.gamma, pc.gae_lambda)
    adv_r, target_r = gae(traj.reward, value, next_value)
    adv_c, target_c = gae(traj.cost, cost_value, next_cost_value)
    columns = (traj.obs, traj.action, traj.log_prob, value, cost_value, adv_r, adv_c, target_r, target_c)
    mask = None if traj.valid is None else traj.valid.astype(jnp.float32)
    if mask is not None:
        columns += (mask,)
    flat = jax.tree.map(lambda x: x.reshape((pc.batch_size, *x.shape[2:])), columns)
    agent, opt_state, stats = minibatch_epochs(
        lagrangian_loss, agent, opt_state, tx, flat, key,
        num_epochs=pc.num_epochs, num_minibatches=pc.num_minibatches, loss_args=(multiplier, config),
    )  # fmt: skip
    # The multiplier moves after the policy step, on the cost the rollout actually incurred.
    mean_cost = masked_mean(traj.cost, mask)
    new_multiplier = update_multiplier(multiplier, mean_cost, config)
    metrics = jax.tree.map(jnp.mean, stats)
    metrics["train/multiplier"] = new_multiplier
    metrics["rollout/cost"] = mean_cost
    metrics["rollout/reward_per_step"] = masked_mean(traj.reward, mask)
    return agent, opt_state, new_multiplier, metrics


# =================================================================================================
# The trainer: the shared rollout + the update, compiled into chunks (JAX-native envs) or fed by
# the host collector (Gymnasium envs that report a cost in their info)
# =================================================================================================


def make_train(config: Config, env, num_seeds: int = 1, updates_per_chunk: int = 10) -> Trainer:
    """Trainer for an env (``envs.make`` result) whose step info carries ``config.cost_key``."""
    spec = action_spec(env.action_space, "PPO-Lagrangian", allow=("Discrete",))
    obs_shape = tuple(env.observation_space.shape)
    pc = config.ppo
    tx = ppo.make_optimizer(pc)
    sizes = dict(num_updates=pc.num_updates, steps_per_update=pc.batch_size)

    def build_agent(key):
        # On the host (core.networks: no XLA QR to compile). A vmapped program holding several
        # seeds' QR initializers also hung XLA's CPU runtime here with 2+ seeds (FAIRNESS.md).
        return LagrangianAgent(key, obs_shape, spec.dim, spec.discrete, config)

    def update_one(state: TrainState, traj: Transition):
        key, update_key = jax.random.split(state.key)
        agent, opt_state, multiplier, metrics = lagrangian_update(
            state.agent, state.opt_state, traj, state.multiplier, update_key, tx, config
        )
        new = state._replace(agent=agent, opt_state=opt_state, key=key, update_step=state.update_step + 1)
        return new._replace(multiplier=multiplier), metrics

    def fresh_state(key, agent, env_state, obs):
        opt_state = tx.init(eqx.filter(agent, eqx.is_array))
        multiplier = jnp.asarray(config.multiplier_init, jnp.float32)
        return TrainState(agent, opt_state, env_state, obs, key, jnp.asarray(0, jnp.int32), multiplier)

    if not getattr(env, "is_jax_native", False):
        collector = HostCollector(
            env, ppo.host_policy(spec), num_seeds=num_seeds, num_envs=pc.num_envs, num_steps=pc.num_steps,
            normalize_observations=pc.normalize_observations, normalize_rewards=pc.normalize_rewards,
            gamma=pc.gamma, cost_key=config.cost_key,
        )  # fmt: skip

        def init_host(key, agent):
            obs = jnp.zeros((pc.num_envs, *obs_shape), jnp.float32)  # filled in by the first reset on the host
            return fresh_state(key, agent, init_collector_state(obs_shape, pc.num_envs), obs)

        return make_host_trainer(
            config, collector, num_seeds=num_seeds, updates_per_chunk=updates_per_chunk, **sizes,
            build_on_host=build_agent, init_one=init_host, update_one=update_one,
            acting_params=lambda s: s.agent.actor_critic,
        )  # fmt: skip

    _check_cost_reported(env, config.cost_key)
    venv = wrap_for_training(
        env.env, env.params, pc.num_envs, normalize_observations=pc.normalize_observations,
        normalize_rewards=pc.normalize_rewards, gamma=pc.gamma,
    )  # fmt: skip

    def init_one(key, agent):
        env_key, key = jax.random.split(key)
        obs, env_state = venv.reset(env_key)
        return fresh_state(key, agent, env_state, obs)

    def one_update(state: TrainState):
        traj, episodes, env_state, obs, key = collect_rollout(
            ppo.act, state.agent.actor_critic, venv, state.env_state, state.obs, state.key, pc.num_steps,
            cost_key=config.cost_key,
        )  # fmt: skip
        state, metrics = update_one(state._replace(env_state=env_state, obs=obs, key=key), traj)
        metrics.update(episode_metrics(episodes))
        return state, metrics

    return make_chunked_trainer(config, init_one, one_update, num_seeds, updates_per_chunk, build_agent, **sizes)


def _check_cost_reported(env, cost_key: str) -> None:
    """Fail early, with the fix, when the environment does not report the cost to constrain."""
    key = jax.random.PRNGKey(0)
    info = jax.eval_shape(lambda k: env.env.step_env(k, env.env.reset_env(k, env.params)[1], 0, env.params)[4], key)
    if cost_key not in info:
        raise UserError(
            f"{env.env_id} reports no {cost_key!r} in its info (it has {sorted(info)}); constrain a cost it "
            "reports with --cost-key, or use a fairness env such as Lending-v0"
        )


def policy_for_eval(config: Config, state: TrainState, deterministic: bool = True):
    """The registry's hook (``experiment.py``): the actor of ONE seed's TrainState, as PPO acts."""
    return ppo.evaluation_policy(
        state.agent.actor_critic, state.env_state, config.ppo.normalize_observations, deterministic
    )
