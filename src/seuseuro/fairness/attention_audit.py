"""Fairness audit of an attention allocator (AttentionAllocation-v0): run it, measure per site, plot.

What is measured follows ml-fairness-gym's attention-allocation experiments (incidents occurred and
discovered, summed per location) and the fairness notion of Elzayn et al. 2019 / D'Amour et al. 2020
section 5.2: every site's incidents should be equally likely to be discovered. The headline number,
the one ``--max-gap`` gates on, is the **discovery-rate gap**: max - min over sites of discovered /
occurred over all steps of a seed, averaged over seeds (95% t-interval). Also reported: incidents
occurred, discovered and the discovery rate per site, units per step per site, the mismatch between
the share of attention and the share of incidents each site has (total variation), incidents
discovered and missed in all, and each site's true incident rate at the end (rates react to
attention, so a neglected site's rate grows).

Simplified: one long episode per seed (no truncation), as the lending audit.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from pathlib import Path
from typing import Any

import numpy as np

from seuseuro.envs.fairness.attention import AttentionAllocationEnv, AttentionParams
from seuseuro.fairness import metrics as fm
from seuseuro.fairness.agents import AttentionPolicy
from seuseuro.fairness.audit import params_dict, plot_band, save_figure, seed_stat
from seuseuro.fairness.rollout import simulate_env

ENV_ID = "AttentionAllocation-v0"
GAP_METRIC = "discovery-rate gap: max - min over sites of discovered / occurred incidents over a run, mean over seeds"


@dataclasses.dataclass(frozen=True)
class AttentionTrace:
    """Host arrays of one rollout; leading dims (S seeds, T steps), K sites."""

    allocation: np.ndarray  # (S, T, K) units per site
    occurred: np.ndarray  # (S, T, K) incidents that occurred
    discovered: np.ndarray  # (S, T, K) incidents discovered
    rates: np.ndarray  # (S, T, K) true incident rates when the allocation was chosen
    reward: np.ndarray  # (S, T) incidents discovered in the step
    cost: np.ndarray  # (S, T) the env's windowed discovery-rate gap

    @property
    def num_seeds(self) -> int:
        return self.allocation.shape[0]

    @property
    def num_sites(self) -> int:
        return self.allocation.shape[-1]


def simulate_attention(
    policy: AttentionPolicy,
    env: AttentionAllocationEnv,
    params: AttentionParams,
    *,
    num_steps: int,
    num_seeds: int,
    seed: int = 0,
) -> AttentionTrace:
    """Run ``policy`` for ``num_steps`` on ``num_seeds`` independent episodes (compiled, vmapped)."""
    out = simulate_env(
        policy,
        env,
        params,
        num_steps=num_steps,
        num_seeds=num_seeds,
        seed=seed,
        state_record=_true_rates,
    )
    return AttentionTrace(
        allocation=out["allocation"],
        occurred=out["occurred"],
        discovered=out["discovered"],
        rates=out["rates"],
        reward=out["reward"],
        cost=out["cost"],
    )


def _true_rates(state) -> dict[str, Any]:
    return {"rates": state.rates}


def attention_outcomes(trace: AttentionTrace) -> dict[str, np.ndarray]:
    """Per-seed (S,) numbers of one rollout; sites are numbered from 1 as in the report."""
    rates = fm.site_discovery_rates(trace.discovered, trace.occurred)  # (S, K)
    out: dict[str, np.ndarray] = {"discovery rate gap (max - min over sites)": fm.site_gap(rates)}
    for k in range(trace.num_sites):
        out[f"occurred site {k + 1}"] = trace.occurred[:, :, k].sum(1)
        out[f"discovered site {k + 1}"] = trace.discovered[:, :, k].sum(1)
        out[f"discovery rate site {k + 1}"] = rates[:, k]
        out[f"units per step site {k + 1}"] = trace.allocation[:, :, k].mean(1)
        out[f"final incident rate site {k + 1}"] = trace.rates[:, -1, k]
    out["attention vs incident share (total variation)"] = fm.allocation_incident_mismatch(
        trace.allocation, trace.occurred
    )
    out["incidents discovered"] = trace.discovered.sum((1, 2))
    out["incidents missed"] = (trace.occurred - trace.discovered).sum((1, 2))
    out["share discovered"] = out["incidents discovered"] / np.maximum(trace.occurred.sum((1, 2)), 1)
    return {name: np.asarray(v, np.float64) for name, v in out.items()}


def audit_attention(
    policy: AttentionPolicy,
    env: AttentionAllocationEnv,
    params: AttentionParams,
    *,
    num_steps: int,
    num_seeds: int,
    seed: int = 0,
    max_gap: float | None = None,
    description: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], AttentionTrace]:
    """Simulate ``policy`` and measure it; returns (summary for audit.json, the trace for plots)."""
    trace = simulate_attention(policy, env, params, num_steps=num_steps, num_seeds=num_seeds, seed=seed)
    outcomes = attention_outcomes(trace)
    gap = seed_stat(outcomes["discovery rate gap (max - min over sites)"])
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
        "index_note": "Site 1 is index 0 in the per-site lists of audit.json.",
    }
    return summary, trace


def plot_attention(trace: AttentionTrace, summary: dict[str, Any], plots_dir: Path) -> dict[str, Path]:
    """Write the attention audit's PNGs; returns {name: path}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots_dir.mkdir(parents=True, exist_ok=True)
    steps, sites = trace.allocation.shape[1], np.arange(1, trace.num_sites + 1)
    stride = max(1, steps // 400)  # ~400 points per curve keeps the PNGs small and readable
    x = np.arange(1, steps + 1)[stride - 1 :: stride]
    title = f"{summary['agent'].get('name', 'agent')} on {summary['env']} ({trace.num_seeds} seeds)"
    colors = plt.get_cmap("tab10").colors
    paths: dict[str, Path] = {}

    # 1. discovery rate per site; share of attention vs share of incidents per site
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
    rates = fm.site_discovery_rates(trace.discovered, trace.occurred)  # (S, K)
    ax1.bar(sites, np.nanmean(rates, 0), color=[colors[k] for k in range(trace.num_sites)])
    ax1.set_xlabel("site")
    ax1.set_ylabel("discovered / occurred")
    ax1.set_ylim(0, 1)
    ax1.set_xticks(sites)
    units, incidents = trace.allocation.sum((0, 1)).astype(float), trace.occurred.sum((0, 1))
    ax2.bar(sites - 0.2, units / units.sum(), 0.4, label="share of units", color="0.4")
    ax2.bar(sites + 0.2, incidents / max(incidents.sum(), 1), 0.4, label="share of incidents", color="tab:red")
    ax2.set_xlabel("site")
    ax2.set_xticks(sites)
    ax2.legend(frameon=False, fontsize=8)
    paths["discovery_by_site"] = save_figure(fig, plots_dir / "discovery_by_site.png", title)

    # 2. discovery-rate gap over time: cumulative and within the env's window, with the gate
    fig, ax = plt.subplots(figsize=(6, 3.4))
    cumulative = np.stack(
        [fm.cumulative_discovery_rate_gap(trace.discovered[s], trace.occurred[s]) for s in range(trace.num_seeds)]
    )
    plot_band(ax, x, cumulative[:, stride - 1 :: stride], "cumulative discovery-rate gap", "tab:red")
    plot_band(ax, x, trace.cost[:, stride - 1 :: stride], "recent window (env cost signal)", "tab:purple")
    if summary.get("max_gap") is not None:
        ax.axhline(summary["max_gap"], color="k", linestyle="--", linewidth=1, label=f"--max-gap {summary['max_gap']}")
    ax.set_xlabel("step")
    ax.set_ylabel("max - min discovery rate")
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False, fontsize=8)
    paths["discovery_gap"] = save_figure(fig, plots_dir / "discovery_gap.png", title)

    # 3. true incident rate per site over time (they react to where the units go)
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for k in range(trace.num_sites):
        plot_band(ax, x, trace.rates[:, stride - 1 :: stride, k], f"site {k + 1}", colors[k])
    ax.set_xlabel("step")
    ax.set_ylabel("true incident rate")
    ax.legend(frameon=False, fontsize=8)
    paths["incident_rates"] = save_figure(fig, plots_dir / "incident_rates.png", title)

    # 4. incidents discovered and missed so far
    fig, ax = plt.subplots(figsize=(6, 3.4))
    discovered = np.cumsum(trace.discovered.sum(-1), 1)[:, stride - 1 :: stride]
    missed = np.cumsum((trace.occurred - trace.discovered).sum(-1), 1)[:, stride - 1 :: stride]
    plot_band(ax, x, discovered, "discovered", "tab:green")
    plot_band(ax, x, missed, "missed", "tab:gray")
    ax.set_xlabel("step")
    ax.set_ylabel("incidents so far")
    ax.legend(frameon=False)
    paths["incidents"] = save_figure(fig, plots_dir / "incidents.png", title)
    return paths
