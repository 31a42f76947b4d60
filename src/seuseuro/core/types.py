"""Typed data contracts shared by every algorithm and collector (ARCHITECTURE.md, "Data contracts").

A rollout of T steps from N environments is a :class:`Transition` whose leaves have leading shape
``(T, N)``. The JAX-native collector (``lax.scan`` over ``act`` + ``env.step``) and the Gymnasium
collector (a host loop) build the same container, and the same jitted update consumes it.
"""

from __future__ import annotations

from typing import NamedTuple

import jax


class Transition(NamedTuple):
    """One step of N environments (leading dims ``(T, N)`` once stacked over a rollout).

    The first six fields every collector fills; the optional ones are ``None`` unless the acting
    function or the environment supplies them (``collect.rollout``, ``collect.host``).
    """

    obs: jax.Array  # (T, N, *obs_shape)  observation the action was chosen from
    action: jax.Array  # (T, N, *action_shape)  as chosen (before clipping to a Box's bounds)
    reward: jax.Array  # (T, N)
    terminated: jax.Array  # (T, N)  true end of the MDP: do not bootstrap
    truncated: jax.Array  # (T, N)  time limit or other cut: bootstrap from next_obs
    next_obs: jax.Array  # (T, N, *obs_shape)  observation after the step, BEFORE any auto-reset
    # (in an invalid step, see below: the reset observation)
    # (T, N) 1 for real transitions, 0 for the steps a next-step auto-reset env spends resetting a
    # finished copy (their action is ignored); None = all real. Losses average over the 1s.
    valid: jax.Array | None = None
    log_prob: jax.Array | None = None  # (T, N)  log pi_old(action | obs), when the act function gives it
    cost: jax.Array | None = None  # (T, N)  a per-step cost from the env's info (constrained RL)


class EpisodeInfo(NamedTuple):
    """Per-step episode statistics emitted by the collectors (leading dims ``(T, N)``)."""

    returned: jax.Array  # (T, N) bool: an episode ended at this step
    episode_return: jax.Array  # (T, N) undiscounted return of the episode that ended (else 0)
    episode_length: jax.Array  # (T, N) its length (else 0)
