"""Delayed-impact lending (Liu et al. 2018, "Delayed Impact of Fair Machine Learning"; D'Amour et al.
2020, "Fairness is Not Static", ml-fairness-gym's ``DelayedImpactEnv``), as a JAX-native gymnax env.

Each step one applicant arrives: a group g ~ Categorical(group_probs), a credit-score level
s ~ Categorical(score_dist[g]) (7 levels) and a hidden outcome "would repay" ~ Bernoulli(repay_prob[s]).
The agent lends (1) or denies (0). A loan that is repaid earns ``interest_rate * loan_amount`` and moves
``shift`` of group g's probability mass from level s one level up; a default loses ``loan_amount`` and
moves the mass one level down (clipped at the ends; never more mass than the level holds). A denial
changes nothing. Reward is the change in bank cash. The episode terminates when the bank cannot afford
a loan and is truncated at ``max_steps_in_episode``.

Reproduced exactly from ml-fairness-gym: the published repayment probabilities, initial distributions,
the 0.01 mass shift, cash dynamics (interest 1.0 and 10,000 starting cash as in D'Amour et al.'s
experiments). Added for fairness research and constrained RL: ``info`` carries the decided applicant's
group, score and true outcome (also for denied applicants: the simulator knows it) and a cost signal,
the gap in true-positive rate between groups over an exponentially weighted window of recent
applicants. Simplified: applicants are a one-hot score only (no noisy features).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import environment, spaces

NUM_SCORES = 7
NUM_GROUPS = 2

# ml-fairness-gym lending_params.py (after Liu et al. 2018, FICO data bucketed into 7 levels).
REPAY_PROB = (0.1, 0.2, 0.45, 0.6, 0.65, 0.7, 0.7)
INITIAL_SCORE_DIST = (
    (0.0, 0.1, 0.1, 0.2, 0.3, 0.3, 0.0),  # group 0 ("group 1" in the papers): the advantaged group
    (0.1, 0.1, 0.2, 0.3, 0.3, 0.0, 0.0),  # group 1 ("group 2" in the papers)
)


@struct.dataclass
class LendingParams(environment.EnvParams):
    """Parameters of the lending simulation (defaults: D'Amour et al. 2020)."""

    repay_prob: jax.Array = struct.field(default_factory=lambda: jnp.asarray(REPAY_PROB, jnp.float32))
    """(7,) P(repay | score level), non-decreasing in the level."""
    initial_score_dist: jax.Array = struct.field(default_factory=lambda: jnp.asarray(INITIAL_SCORE_DIST, jnp.float32))
    """(2, 7) initial distribution of score levels per group; rows sum to 1."""
    group_probs: jax.Array = struct.field(default_factory=lambda: jnp.asarray((0.5, 0.5), jnp.float32))
    """(2,) probability that an applicant belongs to each group."""
    shift: float = 0.01
    """Probability mass a granted loan moves one level up (repaid) or down (default); 0 freezes the
    population (a static benchmark). Published value 0.01."""
    interest_rate: float = 1.0
    """Cash gained per unit lent when the loan is repaid (D'Amour et al.: 1.0, so lend iff P(repay)>0.5)."""
    loan_amount: float = 1.0
    """Cash lost when a loan defaults."""
    initial_cash: float = 10_000.0
    """Bank cash at reset; the episode terminates when cash < loan_amount."""
    gap_window: float = 500.0
    """Effective length (in applicants) of the exponentially weighted window over which the per-group
    TPRs of the cost signal are measured; larger is smoother but slower to react. Usual 100-2000."""
    max_steps_in_episode: int = 20_000
    """Truncation horizon (D'Amour et al. run 20,000 steps)."""
    observe_group_stats: bool = struct.field(pytree_node=False, default=False)
    """Append running group statistics (windowed TPR and selection rate per group) to the observation,
    so a constrained agent can see the cost it is accumulating. Static: it changes the obs shape."""


@struct.dataclass
class LendingState(environment.EnvState):
    score_dist: jax.Array  # (2, 7) current score distribution per group
    cash: jax.Array  # () bank cash
    group: jax.Array  # () int32, the waiting applicant's group
    score: jax.Array  # () int32, the waiting applicant's score level
    will_repay: jax.Array  # () bool, the waiting applicant's hidden outcome
    window_tp: jax.Array  # (2,) exponentially weighted count of lent-and-would-repay per group
    window_pos: jax.Array  # (2,) exponentially weighted count of would-repay per group
    window_lent: jax.Array  # (2,) exponentially weighted count of loans per group
    window_seen: jax.Array  # (2,) exponentially weighted count of applicants per group
    time: int


def sample_applicant(key: jax.Array, score_dist: jax.Array, params: LendingParams):
    """Draw (group, score, will_repay) from the current population."""
    k_group, k_score, k_repay = jax.random.split(key, 3)
    group = jax.random.choice(k_group, NUM_GROUPS, p=params.group_probs).astype(jnp.int32)
    score = jax.random.choice(k_score, NUM_SCORES, p=score_dist[group]).astype(jnp.int32)
    will_repay = jax.random.uniform(k_repay) < params.repay_prob[score]
    return group, score, will_repay


def shift_score_mass(
    score_dist: jax.Array, group: jax.Array, score: jax.Array, repaid: jax.Array, amount: float
) -> jax.Array:
    """Move ``amount`` of ``group``'s mass from ``score`` one level up (repaid) or down (default).

    As ml-fairness-gym's ``_CreditShift``: the target is clipped to the score range (so the top level
    repaying moves nothing) and no more mass moves than the level holds.
    """
    target = jnp.clip(jnp.where(repaid, score + 1, score - 1), 0, NUM_SCORES - 1)
    moved = jnp.minimum(amount, score_dist[group, score])
    row = score_dist[group].at[score].add(-moved).at[target].add(moved)
    return score_dist.at[group].set(row)


def replay_score_dists(
    initial_dist: jax.Array, group: jax.Array, score: jax.Array, repaid: jax.Array, lent: jax.Array, amount: float
) -> jax.Array:
    """(T, 2, 7) each group's score distribution *before* each of T logged decisions, rebuilt from the log.

    The dynamics are deterministic given the decisions and outcomes, so a decision log and the initial
    distribution are enough to recover the population every decision saw (for instance to ask what
    per-step TPR a threshold policy targeted, without recording it during the rollout).
    """

    def step(dist, decision):
        g, s, repaid_, lent_ = decision
        moved = jnp.where(lent_, shift_score_mass(dist, g, s, repaid_, amount), dist)
        return moved, dist

    _, before = jax.lax.scan(step, initial_dist, (group, score, repaid, lent))
    return before


def windowed_tpr(tp: jax.Array, pos: jax.Array) -> jax.Array:
    """Per-group TPR from window counts; a group with (almost) no positives yet counts as TPR 1
    (nobody wrongly denied), which keeps the cost at 0 before any evidence."""
    return jnp.where(pos > 1e-6, tp / jnp.maximum(pos, 1e-6), 1.0)


class LendingEnv(environment.Environment[LendingState, LendingParams]):
    """Lend-or-deny with delayed impact on each group's credit-score distribution.

    Observation: one-hot group (2) + one-hot score level (7) [+ windowed TPR (2) and selection rate (2)
    per group if ``params.observe_group_stats``]. Action: 0 deny, 1 lend. Reward: change in cash.
    ``info``: ``group``, ``score``, ``repaid`` (true outcome of the decided applicant, whatever the
    decision), ``lent``, ``cost`` (windowed |TPR_0 - TPR_1| after this decision), ``cash``.
    """

    @property
    def default_params(self) -> LendingParams:
        return LendingParams()

    def step_env(
        self, key: jax.Array, state: LendingState, action: Any, params: LendingParams
    ) -> tuple[jax.Array, LendingState, jax.Array, jax.Array, dict[str, Any]]:
        lent = jnp.asarray(action).astype(bool)
        g, s, repay = state.group, state.score, state.will_repay
        gain = jnp.where(repay, params.interest_rate * params.loan_amount, -params.loan_amount)
        reward = jnp.where(lent, gain, 0.0).astype(jnp.float32)
        score_dist = jnp.where(lent, shift_score_mass(state.score_dist, g, s, repay, params.shift), state.score_dist)

        # Exponentially weighted window: every count decays by (1 - 1/W) per applicant.
        decay = 1.0 - 1.0 / params.gap_window
        is_g = jax.nn.one_hot(g, NUM_GROUPS)
        window_tp = decay * state.window_tp + is_g * (lent & repay)
        window_pos = decay * state.window_pos + is_g * repay
        window_lent = decay * state.window_lent + is_g * lent
        window_seen = decay * state.window_seen + is_g
        tpr = windowed_tpr(window_tp, window_pos)
        cost = jnp.abs(tpr[0] - tpr[1])

        new_group, new_score, new_repay = sample_applicant(key, score_dist, params)
        new_state = LendingState(
            score_dist=score_dist,
            cash=state.cash + reward,
            group=new_group,
            score=new_score,
            will_repay=new_repay,
            window_tp=window_tp,
            window_pos=window_pos,
            window_lent=window_lent,
            window_seen=window_seen,
            time=state.time + 1,
        )
        info = {"group": g, "score": s, "repaid": repay, "lent": lent, "cost": cost, "cash": new_state.cash}
        return self.get_obs(new_state, params), new_state, reward, self.is_terminal(new_state, params), info

    def reset_env(self, key: jax.Array, params: LendingParams) -> tuple[jax.Array, LendingState]:
        score_dist = params.initial_score_dist
        group, score, will_repay = sample_applicant(key, score_dist, params)
        zeros = jnp.zeros(NUM_GROUPS, jnp.float32)
        state = LendingState(
            score_dist=score_dist,
            cash=jnp.asarray(params.initial_cash, jnp.float32),
            group=group,
            score=score,
            will_repay=will_repay,
            window_tp=zeros,
            window_pos=zeros,
            window_lent=zeros,
            window_seen=zeros,
            time=0,
        )
        return self.get_obs(state, params), state

    def get_obs(self, state: LendingState, params: LendingParams | None = None, key: Any = None) -> jax.Array:
        params = self.default_params if params is None else params
        parts = [jax.nn.one_hot(state.group, NUM_GROUPS), jax.nn.one_hot(state.score, NUM_SCORES)]
        if params.observe_group_stats:
            selection = jnp.where(
                state.window_seen > 1e-6, state.window_lent / jnp.maximum(state.window_seen, 1e-6), 0.0
            )
            parts += [windowed_tpr(state.window_tp, state.window_pos), selection]
        return jnp.concatenate(parts).astype(jnp.float32)

    def is_terminated(self, state: LendingState, params: LendingParams) -> jax.Array:
        return state.cash < params.loan_amount

    def is_terminal(self, state: LendingState, params: LendingParams) -> jax.Array:
        return self.is_terminated(state, params)

    @property
    def name(self) -> str:
        return "Lending-v0"

    @property
    def num_actions(self) -> int:
        return 2

    def action_space(self, params: LendingParams | None = None) -> spaces.Discrete:
        return spaces.Discrete(2)

    def observation_space(self, params: LendingParams | None = None) -> spaces.Box:
        params = self.default_params if params is None else params
        size = NUM_GROUPS + NUM_SCORES + (2 * NUM_GROUPS if params.observe_group_stats else 0)
        return spaces.Box(0.0, 1.0, (size,), jnp.float32)


def mean_score(score_dist: jax.Array) -> jax.Array:
    """(..., 7) distributions -> (...) mean score level (0-6)."""
    return score_dist @ jnp.arange(NUM_SCORES, dtype=score_dist.dtype)


def mean_repay_prob(score_dist: jax.Array, params: LendingParams) -> jax.Array:
    """(..., 7) distributions -> (...) mean P(repay) of the population ("credit")."""
    return score_dist @ params.repay_prob


def lending_params(**overrides: Any) -> LendingParams:
    """LendingParams with ``overrides``, checked on the host: bad values raise a one-line UserError."""
    import numpy as np

    from seuseuro.errors import UserError

    unknown = set(overrides) - set(LendingParams.__dataclass_fields__)
    if unknown:
        raise UserError(f"unknown LendingParams field(s) {sorted(unknown)}; see LendingParams for the list")
    params = LendingParams(**overrides)
    dist = np.asarray(params.initial_score_dist, np.float64)
    repay = np.asarray(params.repay_prob, np.float64)
    groups = np.asarray(params.group_probs, np.float64)
    shapes = (dist.shape, repay.shape, groups.shape)
    if shapes != ((NUM_GROUPS, NUM_SCORES), (NUM_SCORES,), (NUM_GROUPS,)):
        raise UserError(
            f"initial_score_dist must be (2, 7), repay_prob (7,), group_probs (2,); got "
            f"{dist.shape}, {repay.shape}, {groups.shape}"
        )
    for name, arr in (("initial_score_dist rows", dist), ("group_probs", groups)):
        if (arr < 0).any() or not np.allclose(arr.sum(-1), 1.0, atol=1e-5):
            raise UserError(f"{name} must be non-negative and sum to 1; got {arr.tolist()}")
    if (repay < 0).any() or (repay > 1).any():
        raise UserError(f"repay_prob must lie in [0, 1]; got {repay.tolist()}")
    if not 0.0 <= params.shift <= 1.0:
        raise UserError(f"shift must be in [0, 1] (published 0.01); got {params.shift}")
    if params.gap_window < 1.0:
        raise UserError(f"gap_window must be >= 1 applicant; got {params.gap_window}")
    if params.loan_amount <= 0 or params.interest_rate < 0:
        raise UserError("loan_amount must be > 0 and interest_rate >= 0")
    return params
