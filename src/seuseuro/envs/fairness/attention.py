"""Attention allocation (D'Amour et al. 2020, section 5.2; ml-fairness-gym ``LocationAllocationEnv``).

Incidents arise at K sites at rates the agent does not know. Each step the agent allocates a fixed
number of units over the sites; an incident at a site with k units is discovered with probability
1 - miss_prob^k (units search "with replacement", ml-fairness-gym's ``attention_replacement=True``),
else it is missed. Rates move with the allocation (``dynamic_rate``): an unattended site's rate grows,
an attended site's rate shrinks by ``dynamic_rate`` per unit, never below 0. Reward: incidents
discovered. Observation: incidents discovered per site in the last step (what a real agent sees;
occurred counts stay hidden).

Defaults follow the anchors: 5 sites, rates (8, 6, 4, 3, 1.5), 6 units, miss probability 0.2.
Simplified: the action is one of the C(K+U-1, U) allocations (Discrete(210) by default), so PPO's
categorical policy applies as is; no location features, no reported (unattended) incidents.
``info`` carries occurred / discovered / missed per site, the allocation and a cost: the gap between
the highest and lowest discovery rate (discovered / occurred) across sites over an exponentially
weighted window (D'Amour et al.'s fairness measure for this task).
"""

from __future__ import annotations

import itertools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import environment, spaces

from seuseuro.errors import UserError


def all_allocations(num_sites: int, num_units: int) -> np.ndarray:
    """(A, K) every way to put ``num_units`` identical units on ``num_sites`` sites, in a fixed order."""
    rows = [c for c in itertools.product(range(num_units + 1), repeat=num_sites) if sum(c) == num_units]
    return np.asarray(rows, np.int32)


@struct.dataclass
class AttentionParams(environment.EnvParams):
    """Parameters of attention allocation (defaults: anchors / D'Amour et al. 2020)."""

    initial_rates: jax.Array = struct.field(default_factory=lambda: jnp.asarray((8.0, 6.0, 4.0, 3.0, 1.5)))
    """(K,) Poisson incident rate of each site at reset."""
    num_units: int = struct.field(pytree_node=False, default=6)
    """Units allocated every step (static: it sets the action space)."""
    miss_prob: float = 0.2
    """Probability that one unit misses a given incident at its site."""
    dynamic_rate: float = 0.1
    """Rate increase of an unattended site / decrease per unit of an attended one, per step. 0 = static."""
    gap_window: float = 100.0
    """Effective length (steps) of the window of the discovery-rate gap cost."""
    max_steps_in_episode: int = 1000
    """Truncation horizon."""


@struct.dataclass
class AttentionState(environment.EnvState):
    rates: jax.Array  # (K,) current incident rates
    last_discovered: jax.Array  # (K,) discovered in the last step (the observation)
    window_occurred: jax.Array  # (K,) exponentially weighted counts
    window_discovered: jax.Array  # (K,)
    time: int


class AttentionAllocationEnv(environment.Environment[AttentionState, AttentionParams]):
    """Allocate units over sites; discover incidents; rates react to where attention goes."""

    def __init__(self, num_sites: int = 5, num_units: int = 6):
        super().__init__()
        self.num_sites, self.num_units = num_sites, num_units
        self.allocations = jnp.asarray(all_allocations(num_sites, num_units))

    @property
    def default_params(self) -> AttentionParams:
        if self.num_sites == 5:
            return AttentionParams(num_units=self.num_units)
        return AttentionParams(initial_rates=jnp.full((self.num_sites,), 4.0), num_units=self.num_units)

    def step_env(self, key, state: AttentionState, action: Any, params: AttentionParams):
        allocation = self.allocations[action]
        k_occ, k_seen = jax.random.split(key)
        occurred = jax.random.poisson(k_occ, state.rates).astype(jnp.float32)
        discover_prob = 1.0 - params.miss_prob ** allocation.astype(jnp.float32)
        discovered = jax.random.binomial(k_seen, occurred, discover_prob).astype(jnp.float32)
        attended = allocation > 0
        rates = jnp.where(
            attended,
            jnp.maximum(0.0, state.rates - params.dynamic_rate * allocation),
            state.rates + params.dynamic_rate,
        )
        decay = 1.0 - 1.0 / params.gap_window
        window_occurred = decay * state.window_occurred + occurred
        window_discovered = decay * state.window_discovered + discovered
        cost = discovery_rate_gap(window_discovered, window_occurred)
        new_state = AttentionState(
            rates=rates,
            last_discovered=discovered,
            window_occurred=window_occurred,
            window_discovered=window_discovered,
            time=state.time + 1,
        )
        info = {
            "allocation": allocation,
            "occurred": occurred,
            "discovered": discovered,
            "missed": occurred - discovered,
            "cost": cost,
        }
        reward = discovered.sum()
        return self.get_obs(new_state, params), new_state, reward, jnp.asarray(False), info

    def reset_env(self, key, params: AttentionParams):
        zeros = jnp.zeros_like(params.initial_rates, dtype=jnp.float32)
        state = AttentionState(
            rates=params.initial_rates.astype(jnp.float32),
            last_discovered=zeros,
            window_occurred=zeros,
            window_discovered=zeros,
            time=0,
        )
        return self.get_obs(state, params), state

    def get_obs(self, state: AttentionState, params=None, key=None) -> jax.Array:
        return state.last_discovered

    def is_terminated(self, state, params) -> jax.Array:
        return jnp.asarray(False)

    def is_terminal(self, state, params) -> jax.Array:
        return self.is_terminated(state, params)

    @property
    def name(self) -> str:
        return "AttentionAllocation-v0"

    @property
    def num_actions(self) -> int:
        return int(self.allocations.shape[0])

    def action_space(self, params=None) -> spaces.Discrete:
        return spaces.Discrete(self.num_actions)

    def observation_space(self, params=None) -> spaces.Box:
        return spaces.Box(0.0, jnp.inf, (self.num_sites,), jnp.float32)


def discovery_rate_gap(discovered: jax.Array, occurred: jax.Array) -> jax.Array:
    """max - min over sites of discovered / occurred, over sites where something occurred (0 if < 2)."""
    has = occurred > 1e-6
    rate = discovered / jnp.maximum(occurred, 1e-6)
    hi = jnp.max(jnp.where(has, rate, -jnp.inf))
    lo = jnp.min(jnp.where(has, rate, jnp.inf))
    return jnp.where(has.sum() >= 2, hi - lo, 0.0)


def attention_params(env: AttentionAllocationEnv, **overrides: Any) -> AttentionParams:
    """AttentionParams for ``env`` with ``overrides``, checked on the host (UserError on bad values)."""
    params = env.default_params.replace(**overrides)
    rates = np.asarray(params.initial_rates)
    if rates.shape != (env.num_sites,) or (rates < 0).any():
        raise UserError(f"initial_rates must be {env.num_sites} non-negative rates; got {rates.tolist()}")
    if params.num_units != env.num_units:
        raise UserError(f"num_units is fixed by the env (AttentionAllocationEnv(num_units={params.num_units}))")
    if not 0.0 <= params.miss_prob <= 1.0 or params.dynamic_rate < 0 or params.gap_window < 1:
        raise UserError("miss_prob must be in [0, 1], dynamic_rate >= 0 and gap_window >= 1")
    return params
