"""Group fairness metrics over a decision log, statically and over time.

A :class:`DecisionLog` is what an agent did, step by step: the applicant's group, the decision
(1 = the favourable one: lend, admit, patrol), the true outcome (1 = would repay / qualified; the
simulator knows it also for denied applicants, a real lender does not) and, optionally, the reward.

Static metrics (selection rate, TPR, FPR, precision per group; demographic parity, equal opportunity
and equalized odds as gaps and ratios) follow fairlearn's definitions and give the same numbers as
``fairlearn.metrics`` on the same arrays (tests/fairness/test_fairness_metrics.py). What fairlearn has
no notion of, and this module adds: the same rates over consecutive time windows and cumulatively at
every step, so that a gap that opens or closes *under dynamics* (D'Amour et al. 2020) is visible, and
outcome metrics (decisions per group over time, profit, change of each group's mean score).

Everything is counts first, rates second: a rate is a ratio of two counts, so windowed and cumulative
rates are the static formula applied to windowed or cumulated counts. A rate with an empty
denominator (no positives in a group, say) is NaN, and any gap or ratio involving it is NaN: a metric
that cannot be measured is reported as such, never as 0. (This is the one deliberate difference from
fairlearn, whose scikit-learn rates return 0 for an empty denominator.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from seuseuro.errors import UserError

RATE_NAMES = ("selection_rate", "tpr", "fpr", "precision")


# --- the log --------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class DecisionLog:
    """One decision per row, in time order. Arrays are validated and converted on construction."""

    group: np.ndarray
    """(N,) int group id in [0, num_groups)."""
    decision: np.ndarray
    """(N,) bool, True = favourable decision (lend)."""
    outcome: np.ndarray
    """(N,) bool, True = positive true outcome (would repay)."""
    reward: np.ndarray | None = None
    """(N,) float reward of each decision (profit), optional."""
    num_groups: int = 2
    """Number of groups; group ids outside [0, num_groups) are an error, absent groups are allowed."""

    def __post_init__(self) -> None:
        arrays = {"group": self.group, "decision": self.decision, "outcome": self.outcome}
        if self.reward is not None:
            arrays["reward"] = self.reward
        converted = {name: np.asarray(a) for name, a in arrays.items()}
        for name, a in converted.items():
            if a.ndim != 1:
                raise UserError(f"decision log field {name!r} must be 1-D (one entry per decision); got {a.shape}")
        lengths = {name: len(a) for name, a in converted.items()}
        if len(set(lengths.values())) > 1:
            raise UserError(f"decision log arrays differ in length {lengths}; pass one entry per decision")
        if lengths["group"] == 0:
            raise UserError("decision log is empty; run the policy for at least one step before measuring it")
        if self.num_groups < 1:
            raise UserError(f"num_groups must be >= 1; got {self.num_groups}")
        group = converted["group"]
        if not np.issubdtype(group.dtype, np.integer):
            if not np.all(np.equal(np.mod(group, 1), 0)):
                raise UserError("group ids must be integers 0..num_groups-1; map group labels to ids first")
            group = group.astype(np.int64)
        bad = group[(group < 0) | (group >= self.num_groups)]
        if bad.size:
            raise UserError(
                f"unknown group id {int(bad[0])}: ids must be in 0..{self.num_groups - 1}; pass num_groups="
                f"{int(group.max()) + 1} if there are more groups"
            )
        for name in ("decision", "outcome"):
            a = converted[name]
            if a.dtype != bool and not np.isin(a, (0, 1)).all():
                raise UserError(f"decision log field {name!r} must be binary (0/1 or bool)")
            converted[name] = a.astype(bool)
        object.__setattr__(self, "group", group)
        object.__setattr__(self, "decision", converted["decision"])
        object.__setattr__(self, "outcome", converted["outcome"])
        if self.reward is not None:
            object.__setattr__(self, "reward", converted["reward"].astype(np.float64))

    def __len__(self) -> int:
        return len(self.group)

    @classmethod
    def from_info(
        cls,
        info: Mapping[str, Any],
        *,
        decision_key: str = "lent",
        outcome_key: str = "repaid",
        reward: Any = None,
        num_groups: int = 2,
    ) -> DecisionLog:
        """A log from a fairness env's per-step ``info`` (arrays stacked over time, flattened)."""
        needed = ("group", decision_key, outcome_key)
        missing = [k for k in needed if k not in info]
        if missing:
            raise UserError(
                f"the environment's info lacks {missing}: fairness metrics need the group, the decision and "
                "the true outcome of every step (a seuseuro fairness env reports them)"
            )
        flat = lambda x: np.asarray(x).reshape(-1)
        return cls(
            group=flat(info["group"]),
            decision=flat(info[decision_key]),
            outcome=flat(info[outcome_key]),
            reward=None if reward is None else flat(reward),
            num_groups=num_groups,
        )


# --- counts ---------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class GroupCounts:
    """Confusion counts per group; every field has shape (..., num_groups)."""

    n: np.ndarray
    selected: np.ndarray
    positives: np.ndarray
    negatives: np.ndarray
    true_positives: np.ndarray
    false_positives: np.ndarray


def _indicator_columns(log: DecisionLog) -> dict[str, np.ndarray]:
    """(N, G) 0/1 indicators whose sums over rows are the counts."""
    member = np.eye(log.num_groups, dtype=np.float64)[log.group]
    d, y = log.decision[:, None], log.outcome[:, None]
    return {
        "n": member,
        "selected": member * d,
        "positives": member * y,
        "negatives": member * ~y,
        "true_positives": member * (d & y),
        "false_positives": member * (d & ~y),
    }


def group_counts(log: DecisionLog) -> GroupCounts:
    """(G,) counts over the whole log."""
    return GroupCounts(**{k: v.sum(0) for k, v in _indicator_columns(log).items()})


def cumulative_counts(log: DecisionLog) -> GroupCounts:
    """(N, G) counts over the first t+1 decisions, for every t."""
    return GroupCounts(**{k: v.cumsum(0) for k, v in _indicator_columns(log).items()})


def windowed_counts(log: DecisionLog, window: int) -> GroupCounts:
    """(K, G) counts over consecutive windows of ``window`` decisions (the last may be shorter)."""
    if window < 1:
        raise UserError(f"window must be >= 1 decision; got {window}")
    starts = np.arange(0, len(log), window)
    return GroupCounts(**{k: np.add.reduceat(v, starts, axis=0) for k, v in _indicator_columns(log).items()})


# --- rates ----------------------------------------------------------------------------------------
def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


@dataclasses.dataclass(frozen=True)
class GroupRates:
    """Rates per group, shape (..., num_groups); NaN where the denominator is empty."""

    selection_rate: np.ndarray
    """P(decision = 1 | group)."""
    tpr: np.ndarray
    """P(decision = 1 | outcome = 1, group): equal opportunity compares these."""
    fpr: np.ndarray
    """P(decision = 1 | outcome = 0, group)."""
    precision: np.ndarray
    """P(outcome = 1 | decision = 1, group)."""


def group_rates(counts: GroupCounts) -> GroupRates:
    return GroupRates(
        selection_rate=_ratio(counts.selected, counts.n),
        tpr=_ratio(counts.true_positives, counts.positives),
        fpr=_ratio(counts.false_positives, counts.negatives),
        precision=_ratio(counts.true_positives, counts.selected),
    )


def gap(rates: np.ndarray) -> np.ndarray:
    """max - min over groups (last axis); NaN if any group's rate is NaN (fairlearn's "between_groups")."""
    return rates.max(-1) - rates.min(-1)


def ratio(rates: np.ndarray) -> np.ndarray:
    """min / max over groups (last axis); 1 is parity; NaN if max is 0 (as fairlearn) or any rate is NaN."""
    return _ratio(rates.min(-1), rates.max(-1))


# --- the named criteria (static, over the whole log) ----------------------------------------------
def demographic_parity_difference(log: DecisionLog) -> float:
    """Largest gap in selection rate between groups."""
    return float(gap(group_rates(group_counts(log)).selection_rate))


def demographic_parity_ratio(log: DecisionLog) -> float:
    return float(ratio(group_rates(group_counts(log)).selection_rate))


def equal_opportunity_difference(log: DecisionLog) -> float:
    """Largest gap in true-positive rate between groups (Hardt et al. 2016)."""
    return float(gap(group_rates(group_counts(log)).tpr))


def equal_opportunity_ratio(log: DecisionLog) -> float:
    return float(ratio(group_rates(group_counts(log)).tpr))


def equalized_odds_difference(log: DecisionLog) -> float:
    """max(TPR gap, FPR gap), as fairlearn's default ``agg="worst_case"``."""
    rates = group_rates(group_counts(log))
    return float(np.maximum(gap(rates.tpr), gap(rates.fpr)))


def equalized_odds_ratio(log: DecisionLog) -> float:
    """min(TPR ratio, FPR ratio)."""
    rates = group_rates(group_counts(log))
    return float(np.minimum(ratio(rates.tpr), ratio(rates.fpr)))


# --- over time and outcomes -----------------------------------------------------------------------
def cumulative_tpr_gap(log: DecisionLog) -> np.ndarray:
    """(N,) TPR gap of all decisions so far, at every step (the "aggregate" gap of D'Amour et al.)."""
    return gap(group_rates(cumulative_counts(log)).tpr)


def windowed_tpr_gap(log: DecisionLog, window: int) -> np.ndarray:
    """(K,) TPR gap within each consecutive window of ``window`` decisions."""
    return gap(group_rates(windowed_counts(log, window)).tpr)


def cumulative_target_tpr(log: DecisionLog, step_tpr: np.ndarray) -> np.ndarray:
    """(N, G) aggregate TPR the policy *aimed at* over the first t+1 decisions: each group's per-step
    expected TPR ``step_tpr`` (N, G) averaged over that group's would-repay applicants so far.

    The realized aggregate TPR (:func:`cumulative_tpr_gap`'s rates) is this plus zero-mean noise from
    the randomized decisions and score draws, which shrinks like 1/sqrt(N). When the per-step targets
    are equal across groups but change over time, this average still differs between groups whenever
    their would-repay applicants arrive at different times: D'Amour et al. 2020's Simpson's paradox,
    the part of the aggregate gap that does not shrink with more decisions. Constant targets (a static
    population) make it exactly equal across groups.
    """
    target = np.asarray(step_tpr, np.float64)
    if target.shape != (len(log), log.num_groups):
        raise UserError(f"step_tpr must be (decisions, groups) = {(len(log), log.num_groups)}; got {target.shape}")
    positives = _indicator_columns(log)["positives"]
    return _ratio(np.cumsum(positives * target, 0), np.cumsum(positives, 0))


def mean_abs_gap(gaps: np.ndarray) -> np.ndarray:
    """(S, N) signed per-seed gaps over time -> (N,) mean |gap| over seeds: the curve of ml-fairness-gym's
    ``plot_cumulative_recall_differences`` (D'Amour et al. 2020's recall-gap figure, 100 seeds). Unlike
    the mean signed gap, it does not cancel gaps whose sign differs from seed to seed."""
    arr = np.asarray(gaps, np.float64)
    if arr.ndim != 2:
        raise UserError(f"gaps must be (seeds, steps); got {arr.shape}")
    return np.abs(arr).mean(0)


def cumulative_decisions_per_group(log: DecisionLog) -> np.ndarray:
    """(N, G) number of favourable decisions (loans) each group received so far."""
    return cumulative_counts(log).selected


def cumulative_profit(log: DecisionLog) -> np.ndarray:
    """(N,) cumulative reward; needs the log's ``reward``."""
    if log.reward is None:
        raise UserError("this decision log has no reward; pass reward=... to measure profit")
    return np.cumsum(log.reward)


def mean_score_change(mean_score_over_time: np.ndarray) -> np.ndarray:
    """(T, G) each group's mean score at each step -> (G,) change from the first to the last step."""
    arr = np.asarray(mean_score_over_time, np.float64)
    if arr.ndim != 2 or arr.shape[0] < 1:
        raise UserError(f"mean scores must be (T, num_groups) with T >= 1; got {arr.shape}")
    return arr[-1] - arr[0]


def fairness_summary(log: DecisionLog) -> dict[str, Any]:
    """Every static metric of a log as a JSON-friendly dict (NaN where undefined)."""
    counts = group_counts(log)
    rates = group_rates(counts)
    tolist = lambda a: [float(x) for x in np.asarray(a)]
    summary: dict[str, Any] = {
        "decisions": len(log),
        "per_group": {
            "count": tolist(counts.n),
            "selected": tolist(counts.selected),
            **{name: tolist(getattr(rates, name)) for name in RATE_NAMES},
        },
        "demographic_parity_difference": demographic_parity_difference(log),
        "demographic_parity_ratio": demographic_parity_ratio(log),
        "equal_opportunity_difference": equal_opportunity_difference(log),
        "equal_opportunity_ratio": equal_opportunity_ratio(log),
        "equalized_odds_difference": equalized_odds_difference(log),
        "equalized_odds_ratio": equalized_odds_ratio(log),
    }
    if log.reward is not None:
        summary["profit"] = float(log.reward.sum())
    return summary


# --- attention allocation: sites instead of groups ------------------------------------------------
# ml-fairness-gym's attention-allocation metrics (metrics/value_tracking_metrics.py summing the env's
# ``incidents_occurred`` / ``incidents_seen`` per location) and D'Amour et al. 2020 section 5.2 /
# Elzayn et al. 2019: a site is treated fairly when the share of its incidents that get discovered is
# the same as elsewhere. A site where nothing occurred has no discovery rate (NaN) and is left out of
# the gap, as in the environment's cost (``envs.fairness.attention.discovery_rate_gap``).
def site_discovery_rates(discovered: np.ndarray, occurred: np.ndarray) -> np.ndarray:
    """(..., T, K) incidents per step and site -> (..., K) discovered / occurred over all steps; NaN
    at a site where nothing occurred."""
    return _ratio(np.asarray(discovered, np.float64).sum(-2), np.asarray(occurred, np.float64).sum(-2))


def site_gap(rates: np.ndarray) -> np.ndarray:
    """max - min over sites (last axis) of the defined rates; NaN when fewer than two are defined."""
    arr = np.asarray(rates, np.float64)
    defined = np.isfinite(arr)
    hi = np.where(defined, arr, -np.inf).max(-1)
    lo = np.where(defined, arr, np.inf).min(-1)
    return np.where(defined.sum(-1) >= 2, hi - lo, np.nan)


def discovery_rate_gap(discovered: np.ndarray, occurred: np.ndarray) -> np.ndarray:
    """Largest gap in discovery rate between sites over all steps: the attention audit's headline."""
    return site_gap(site_discovery_rates(discovered, occurred))


def cumulative_discovery_rate_gap(discovered: np.ndarray, occurred: np.ndarray) -> np.ndarray:
    """(T, K) per step -> (T,) the discovery-rate gap of all steps so far, at every step."""
    rates = _ratio(np.cumsum(np.asarray(discovered, np.float64), 0), np.cumsum(np.asarray(occurred, np.float64), 0))
    return site_gap(rates)


def allocation_incident_mismatch(allocation: np.ndarray, occurred: np.ndarray) -> np.ndarray:
    """(..., T, K) units and incidents per step and site -> (...) total-variation distance between the
    share of attention each site got and its share of the incidents (0 = attention proportional to
    incidents, Elzayn et al. 2019's proportional allocation; 1 = all attention where nothing occurs)."""
    units = np.asarray(allocation, np.float64).sum(-2)
    incidents = np.asarray(occurred, np.float64).sum(-2)
    unit_share = _ratio(units, units.sum(-1, keepdims=True))
    incident_share = _ratio(incidents, incidents.sum(-1, keepdims=True))
    return 0.5 * np.abs(unit_share - incident_share).sum(-1)


# --- strategic admission: per-group means of per-applicant quantities -----------------------------
def group_mean(values: np.ndarray, group: np.ndarray, num_groups: int = 2, where: np.ndarray | None = None):
    """(G,) mean of ``values`` over each group's entries (only those with ``where`` True); NaN for a
    group with none. Manipulation rate: values = manipulated. Milli et al. 2019's social burden: values
    = the cost an applicant paid to be admitted, where = eligible (what qualified applicants pay)."""
    v = np.asarray(values, np.float64).reshape(-1)
    g = np.asarray(group).reshape(-1)
    keep = np.ones_like(v, bool) if where is None else np.asarray(where, bool).reshape(-1)
    member = np.eye(num_groups, dtype=np.float64)[g] * keep[:, None]  # (N, G)
    return _ratio(member.T @ v, member.sum(0))
