"""College admission with strategic applicants (Hardt et al. 2016, "Strategic Classification"; Milli et al.
2019, "The Social Cost of Strategic Classification"; ml-fairness-gym ``CollegeAdmissionsEnv``).

Each round N applicants arrive: group g ~ Categorical(mix_weight), true score x ~ N(mu_g, sigma_g)
clipped to [0, 1], eligible iff x >= (1 + true_threshold_factor) mu_g. The agent (the jury) publishes
a score threshold t; an applicant below it raises their observed score to t when the cost of doing
so, group_cost[g] * (t - x), is at most the benefit of admission (1): groups with a higher cost of
gaming (less money for test prep, say) cannot follow a rising threshold as far. Everyone whose
observed score reaches t is admitted. Reward: (admitted eligible - admitted ineligible) / N.

Defaults: ml-fairness-gym's populations (mix 0.6/0.4, mu 0.8/0.6, sigma 0.1/0.3, 20 applicants) and
the anchors' gaming costs 5 vs 10. Simplified: the threshold is one of ``num_thresholds`` evenly
spaced values (Discrete action), no epsilon-greedy jury, no noise on the threshold.
Observation: the last threshold and last round's admission rate per group, precision and share of
applicants who gamed. ``info`` carries per applicant (arrays of N): group, admitted, eligible,
manipulated, burden (cost paid to game), required_cost (cost of reaching the threshold, paid or not); and a cost: the TPR gap between groups over an
exponentially weighted window of rounds.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import environment, spaces

from seuseuro.envs.fairness.lending import windowed_tpr


@struct.dataclass
class AdmissionParams(environment.EnvParams):
    """Parameters of strategic college admission (defaults: ml-fairness-gym and the anchors)."""

    mix_weight: jax.Array = struct.field(default_factory=lambda: jnp.asarray((0.6, 0.4)))
    """(2,) share of applicants from each group."""
    mu: jax.Array = struct.field(default_factory=lambda: jnp.asarray((0.8, 0.6)))
    """(2,) mean true score per group."""
    sigma: jax.Array = struct.field(default_factory=lambda: jnp.asarray((0.1, 0.3)))
    """(2,) std of the true score per group."""
    true_threshold_factor: float = 0.1
    """An applicant is eligible iff true score >= (1 + factor) * mu_group."""
    group_cost: jax.Array = struct.field(default_factory=lambda: jnp.asarray((5.0, 10.0)))
    """(2,) cost per point of score raised; gaming pays off iff cost * (t - x) <= 1."""
    gaming: bool = struct.field(pytree_node=False, default=True)
    """Applicants respond strategically to the threshold (False: a static classification task)."""
    gap_window: float = 20.0
    """Effective length (rounds) of the window of the TPR-gap cost."""
    max_steps_in_episode: int = 200
    """Rounds per episode."""


@struct.dataclass
class AdmissionState(environment.EnvState):
    score: jax.Array  # (N,) true scores of the waiting applicants
    group: jax.Array  # (N,) int32
    last_obs: jax.Array  # (5,)
    window_tp: jax.Array  # (2,)
    window_pos: jax.Array  # (2,)
    time: int


class CollegeAdmissionEnv(environment.Environment[AdmissionState, AdmissionParams]):
    """Publish a threshold; applicants game it at a group-dependent cost; admit those above it."""

    def __init__(self, num_applicants: int = 20, num_thresholds: int = 21):
        super().__init__()
        self.num_applicants, self.num_thresholds = num_applicants, num_thresholds

    @property
    def default_params(self) -> AdmissionParams:
        return AdmissionParams()

    def threshold(self, action: jax.Array) -> jax.Array:
        return jnp.asarray(action, jnp.float32) / (self.num_thresholds - 1)

    def _sample(self, key, params: AdmissionParams):
        k_g, k_s = jax.random.split(key)
        group = jax.random.choice(k_g, 2, (self.num_applicants,), p=params.mix_weight).astype(jnp.int32)
        noise = jax.random.normal(k_s, (self.num_applicants,))
        return jnp.clip(params.mu[group] + params.sigma[group] * noise, 0.0, 1.0), group

    def step_env(self, key, state: AdmissionState, action: Any, params: AdmissionParams):
        t = self.threshold(action)
        x, g = state.score, state.group
        eligible = x >= (1.0 + params.true_threshold_factor) * params.mu[g]
        gain_cost = params.group_cost[g] * (t - x)
        manipulated = (x < t) & (gain_cost <= 1.0) & params.gaming
        observed = jnp.where(manipulated, t, x)
        admitted = observed >= t
        reward = ((admitted & eligible).sum() - (admitted & ~eligible).sum()) / self.num_applicants

        member = jax.nn.one_hot(g, 2)  # (N, 2)
        decay = 1.0 - 1.0 / params.gap_window
        window_tp = decay * state.window_tp + (member * (admitted & eligible)[:, None]).sum(0)
        window_pos = decay * state.window_pos + (member * eligible[:, None]).sum(0)
        tpr = windowed_tpr(window_tp, window_pos)
        per_group = jnp.maximum(member.sum(0), 1.0)
        admit_rate = (member * admitted[:, None]).sum(0) / per_group
        precision = (admitted & eligible).sum() / jnp.maximum(admitted.sum(), 1)
        last_obs = jnp.concatenate([t[None], admit_rate, precision[None], manipulated.mean()[None]])

        score, group = self._sample(key, params)
        new_state = AdmissionState(
            score=score,
            group=group,
            last_obs=last_obs.astype(jnp.float32),
            window_tp=window_tp,
            window_pos=window_pos,
            time=state.time + 1,
        )
        info = {
            "group": g,
            "admitted": admitted,
            "eligible": eligible,
            "manipulated": manipulated,
            "burden": jnp.where(manipulated, gain_cost, 0.0),
            # what reaching the threshold would cost, paid or not (Milli et al. 2019's social burden
            # averages it over the eligible: those who cannot afford it are not admitted, yet burdened)
            "required_cost": jnp.where(x < t, gain_cost, 0.0),
            "cost": jnp.abs(tpr[0] - tpr[1]),
        }
        return self.get_obs(new_state, params), new_state, reward.astype(jnp.float32), jnp.asarray(False), info

    def reset_env(self, key, params: AdmissionParams):
        score, group = self._sample(key, params)
        zeros = jnp.zeros(2, jnp.float32)
        state = AdmissionState(
            score=score, group=group, last_obs=jnp.zeros(5, jnp.float32), window_tp=zeros, window_pos=zeros, time=0
        )
        return self.get_obs(state, params), state

    def get_obs(self, state: AdmissionState, params=None, key=None) -> jax.Array:
        return state.last_obs

    def is_terminated(self, state, params) -> jax.Array:
        return jnp.asarray(False)

    def is_terminal(self, state, params) -> jax.Array:
        return self.is_terminated(state, params)

    @property
    def name(self) -> str:
        return "CollegeAdmission-v0"

    @property
    def num_actions(self) -> int:
        return self.num_thresholds

    def action_space(self, params=None) -> spaces.Discrete:
        return spaces.Discrete(self.num_thresholds)

    def observation_space(self, params=None) -> spaces.Box:
        return spaces.Box(0.0, 1.0, (5,), jnp.float32)
