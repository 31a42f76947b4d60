"""Fairness audit of an admissions officer (CollegeAdmission-v0): run it, measure per group, plot.

What is measured follows ml-fairness-gym's college-admission experiments and Milli et al. 2019 ("The
Social Cost of Strategic Classification"): per group, the admission rate, the true-positive rate
(eligible applicants admitted / eligible applicants), the false-positive rate, the share of applicants
who gamed the published threshold (manipulation rate), the social burden (Milli et al.'s measure:
the mean cost an *eligible* applicant must pay to reach the threshold, whether they can afford it or
not; what a robust classifier costs the qualified) and the cost eligible applicants actually paid. The headline number, the one ``--max-gap`` gates on, is the **equal-opportunity gap**
|TPR_g1 - TPR_g2| over all applicants of a seed, averaged over seeds (95% t-interval): the quantity the
environment's cost signal tracks over a window.

Simplified: one long episode per seed (no truncation), as the lending audit.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from pathlib import Path
from typing import Any

import numpy as np

from seuseuro.envs.fairness.admission import AdmissionParams, CollegeAdmissionEnv
from seuseuro.fairness import metrics as fm
from seuseuro.fairness.agents import AdmissionPolicy
from seuseuro.fairness.audit import GROUP_NAMES, params_dict, plot_band, save_figure, seed_stat
from seuseuro.fairness.metrics import DecisionLog
from seuseuro.fairness.rollout import simulate_env

ENV_ID = "CollegeAdmission-v0"
GAP_METRIC = "equal-opportunity gap |TPR_g1 - TPR_g2| over all applicants of a run, mean over seeds"


@dataclasses.dataclass(frozen=True)
class AdmissionTrace:
    """Host arrays of one rollout; leading dims (S seeds, T rounds), N applicants per round."""

    group: np.ndarray  # (S, T, N) int
    admitted: np.ndarray  # (S, T, N) bool
    eligible: np.ndarray  # (S, T, N) bool, the true outcome
    manipulated: np.ndarray  # (S, T, N) bool, raised their observed score to the threshold
    burden: np.ndarray  # (S, T, N) cost paid to game (0 if they did not)
    required_cost: np.ndarray  # (S, T, N) cost of reaching the threshold, paid or not (0 if above it)
    threshold: np.ndarray  # (S, T) published threshold
    reward: np.ndarray  # (S, T) (admitted eligible - admitted ineligible) / N
    cost: np.ndarray  # (S, T) the env's windowed TPR gap

    @property
    def num_seeds(self) -> int:
        return self.group.shape[0]

    def log(self, seed: int) -> DecisionLog:
        """Every applicant of one seed, in order: group, admitted, eligible."""
        flat = lambda a: a[seed].reshape(-1)
        return DecisionLog(flat(self.group), flat(self.admitted), flat(self.eligible))


def simulate_admission(
    policy: AdmissionPolicy,
    env: CollegeAdmissionEnv,
    params: AdmissionParams,
    *,
    num_steps: int,
    num_seeds: int,
    seed: int = 0,
) -> AdmissionTrace:
    """Run ``policy`` for ``num_steps`` rounds on ``num_seeds`` independent episodes (compiled, vmapped)."""
    out = simulate_env(policy, env, params, num_steps=num_steps, num_seeds=num_seeds, seed=seed)
    return AdmissionTrace(
        group=out["group"],
        admitted=out["admitted"],
        eligible=out["eligible"],
        manipulated=out["manipulated"],
        burden=out["burden"],
        required_cost=out["required_cost"],
        threshold=np.asarray(env.threshold(out["action"])),
        reward=out["reward"],
        cost=out["cost"],
    )


def admission_outcomes(trace: AdmissionTrace) -> dict[str, np.ndarray]:
    """Per-seed (S,) numbers of one rollout."""
    logs = [trace.log(s) for s in range(trace.num_seeds)]
    rates = [fm.group_rates(fm.group_counts(log)) for log in logs]
    per_group = {
        "admission rate": np.array([r.selection_rate for r in rates]),  # (S, 2)
        "TPR": np.array([r.tpr for r in rates]),
        "FPR": np.array([r.fpr for r in rates]),
        "manipulation rate": np.array(
            [fm.group_mean(trace.manipulated[s], trace.group[s]) for s in range(trace.num_seeds)]
        ),
        "social burden": np.array(
            [
                fm.group_mean(trace.required_cost[s], trace.group[s], where=trace.eligible[s])
                for s in range(trace.num_seeds)
            ]
        ),
        "cost paid by the eligible": np.array(
            [fm.group_mean(trace.burden[s], trace.group[s], where=trace.eligible[s]) for s in range(trace.num_seeds)]
        ),
    }
    out: dict[str, np.ndarray] = {
        "equal opportunity difference": np.array([fm.equal_opportunity_difference(log) for log in logs]),
        "demographic parity difference": np.array([fm.demographic_parity_difference(log) for log in logs]),
        "equalized odds difference": np.array([fm.equalized_odds_difference(log) for log in logs]),
    }
    for name, values in per_group.items():
        out[f"{name} g1"], out[f"{name} g2"] = values[:, 0], values[:, 1]
    out["manipulation rate gap (g1-g2)"] = per_group["manipulation rate"][:, 0] - per_group["manipulation rate"][:, 1]
    out["mean threshold"] = trace.threshold.mean(1)
    out["reward per applicant"] = trace.reward.mean(1)
    return {name: np.asarray(v, np.float64) for name, v in out.items()}


def audit_admission(
    policy: AdmissionPolicy,
    env: CollegeAdmissionEnv,
    params: AdmissionParams,
    *,
    num_steps: int,
    num_seeds: int,
    seed: int = 0,
    max_gap: float | None = None,
    description: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], AdmissionTrace]:
    """Simulate ``policy`` and measure it; returns (summary for audit.json, the trace for plots)."""
    trace = simulate_admission(policy, env, params, num_steps=num_steps, num_seeds=num_seeds, seed=seed)
    outcomes = admission_outcomes(trace)
    gap = seed_stat(outcomes["equal opportunity difference"])
    summary = {
        "created": _dt.datetime.now().isoformat(timespec="seconds"),
        "agent": description or {},
        "env": ENV_ID,
        "env_params": params_dict(params),
        "steps": num_steps,
        "seeds": num_seeds,
        "seed": seed,
        "gap_metric": GAP_METRIC,
        "gap": gap["mean"],
        "gap_ci95": gap["ci95"],
        "max_gap": max_gap,
        "passed": None if max_gap is None else bool(gap["mean"] <= max_gap),
        "metrics": {name: seed_stat(values) for name, values in outcomes.items()},
        "per_seed_fairness": [fm.fairness_summary(trace.log(s)) for s in range(num_seeds)],
    }
    return summary, trace


def plot_admission(trace: AdmissionTrace, summary: dict[str, Any], plots_dir: Path) -> dict[str, Path]:
    """Write the admission audit's PNGs; returns {name: path}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots_dir.mkdir(parents=True, exist_ok=True)
    colors = ("tab:blue", "tab:orange")
    rounds = trace.threshold.shape[1]
    stride = max(1, rounds // 400)  # ~400 points per curve keeps the PNGs small and readable
    x = np.arange(1, rounds + 1)[stride - 1 :: stride]
    title = f"{summary['agent'].get('name', 'agent')} on {summary['env']} ({trace.num_seeds} seeds)"
    paths: dict[str, Path] = {}

    # 1. per-group rates side by side: admission, TPR, manipulation; and the social burden
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4), gridspec_kw={"width_ratios": (3, 1)})
    m = summary["metrics"]
    names = ("admission rate", "TPR", "FPR", "manipulation rate")
    where = np.arange(len(names))
    for g in range(2):
        means = [m[f"{name} g{g + 1}"]["mean"] for name in names]
        ax1.bar(where + (g - 0.5) * 0.4, means, 0.4, label=GROUP_NAMES[g], color=colors[g])
    ax1.set_xticks(where, names)
    ax1.set_ylim(0, 1)
    ax1.legend(frameon=False, fontsize=8)
    burden = [m[f"social burden g{g + 1}"]["mean"] for g in range(2)]
    ax2.bar((0, 1), np.nan_to_num(burden), color=colors)
    ax2.set_xticks((0, 1), ("g1", "g2"))
    ax2.set_ylabel("social burden")
    paths["group_rates"] = save_figure(fig, plots_dir / "group_rates.png", title)

    # 2. TPR gap over time: cumulative over applicants (sampled at round ends) and the env's window
    fig, ax = plt.subplots(figsize=(6, 3.4))
    per_round = trace.group.shape[2]
    cumulative = np.stack(
        [fm.cumulative_tpr_gap(trace.log(s))[per_round - 1 :: per_round] for s in range(trace.num_seeds)]
    )
    plot_band(ax, x, cumulative[:, stride - 1 :: stride], "cumulative |TPR g1 - TPR g2|", "tab:red")
    plot_band(ax, x, trace.cost[:, stride - 1 :: stride], "recent window (env cost signal)", "tab:purple")
    if summary.get("max_gap") is not None:
        ax.axhline(summary["max_gap"], color="k", linestyle="--", linewidth=1, label=f"--max-gap {summary['max_gap']}")
    ax.set_xlabel("round")
    ax.set_ylabel("TPR gap")
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False, fontsize=8)
    paths["tpr_gap"] = save_figure(fig, plots_dir / "tpr_gap.png", title)

    # 3. the published threshold and who games it, round by round
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
    plot_band(ax1, x, trace.threshold[:, stride - 1 :: stride], "published threshold", "k")
    ax1.set_xlabel("round")
    ax1.set_ylabel("threshold")
    ax1.set_ylim(0, 1.05)
    for g in range(2):
        member = trace.group == g
        share = np.cumsum((trace.manipulated & member).sum(-1), 1) / np.maximum(np.cumsum(member.sum(-1), 1), 1)
        plot_band(ax2, x, share[:, stride - 1 :: stride], GROUP_NAMES[g], colors[g])
    ax2.set_xlabel("round")
    ax2.set_ylabel("share who gamed, so far")
    ax2.legend(frameon=False, fontsize=8)
    paths["threshold_and_gaming"] = save_figure(fig, plots_dir / "threshold_and_gaming.png", title)
    return paths
