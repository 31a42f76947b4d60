"""Fairness audit of a lending policy: run it over seeds and steps, measure, plot, report.

``audit_lending(policy, params, ...)`` simulates (compiled, vmapped over seeds), measures the group
metrics of every seed's decision log (``fairness.metrics``) and the delayed impact on each group's
credit, and returns a JSON-friendly summary. ``write_audit(out_dir, ...)`` writes audit.json, the
PNG plots and one self-contained HTML report (plots inlined as base64) that can be sent to a reviewer.

The headline number, the one ``--max-gap`` gates on, is the equal-opportunity gap of the whole run:
|TPR_g1 - TPR_g2| over all decisions of a seed, averaged over seeds (with a 95% t-interval).

The report and the files are shared with the other environments' audits (``fairness.attention_audit``,
``fairness.admission_audit``): a summary with ``gap``, ``gap_metric``, ``metrics`` and the gate's
verdict, a trace, and the environment's own ``plot`` function.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import html
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from seuseuro.core.checkpoint import atomic_write_bytes, atomic_write_text
from seuseuro.core.statistics import mean_ci95
from seuseuro.envs.fairness.lending import LendingParams
from seuseuro.fairness import metrics as fm
from seuseuro.fairness.agents import LendingPolicy
from seuseuro.fairness.rollout import LendingTrace, simulate_lending

GAP_METRIC = "equal-opportunity gap |TPR_g1 - TPR_g2| over all decisions of a run, mean over seeds"
GROUP_NAMES = ("group 1", "group 2")


# --- measuring ------------------------------------------------------------------------------------
def lending_outcomes(trace: LendingTrace) -> dict[str, np.ndarray]:
    """Per-seed (S,) fairness and delayed-impact numbers of one lending rollout."""
    logs = [trace.log(s) for s in range(trace.num_seeds)]
    rates = [fm.group_rates(fm.group_counts(log)) for log in logs]
    tpr = np.array([r.tpr for r in rates])  # (S, 2)
    credit0, credit1 = trace.mean_repay[:, 0], trace.mean_repay[:, -1]  # (S, 2)
    return {
        "score change g1": trace.mean_score[:, -1, 0] - trace.mean_score[:, 0, 0],
        "score change g2": trace.mean_score[:, -1, 1] - trace.mean_score[:, 0, 1],
        "credit change g1": credit1[:, 0] - credit0[:, 0],
        "credit change g2": credit1[:, 1] - credit0[:, 1],
        "final credit gap (g1-g2)": credit1[:, 0] - credit1[:, 1],
        "loans g1": (trace.lent & (trace.group == 0)).sum(1).astype(np.float64),
        "loans g2": (trace.lent & (trace.group == 1)).sum(1).astype(np.float64),
        "aggregate TPR g1": tpr[:, 0],
        "aggregate TPR g2": tpr[:, 1],
        "aggregate TPR gap (g1-g2)": tpr[:, 0] - tpr[:, 1],
        "equal opportunity difference": np.array([fm.equal_opportunity_difference(log) for log in logs]),
        "demographic parity difference": np.array([fm.demographic_parity_difference(log) for log in logs]),
        "equalized odds difference": np.array([fm.equalized_odds_difference(log) for log in logs]),
        "profit": trace.reward.sum(1).astype(np.float64),
    }


def seed_stat(values: np.ndarray) -> dict[str, Any]:
    mean, low, high = mean_ci95(values)
    return {"mean": mean, "ci95": [low, high], "per_seed": [float(v) for v in values]}


def audit_lending(
    policy: LendingPolicy,
    params: LendingParams,
    *,
    num_steps: int,
    num_seeds: int,
    seed: int = 0,
    max_gap: float | None = None,
    description: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], LendingTrace]:
    """Simulate ``policy`` and measure it; returns (summary for audit.json, the trace for plots)."""
    trace = simulate_lending(policy, params, num_steps=num_steps, num_seeds=num_seeds, seed=seed)
    outcomes = lending_outcomes(trace)
    gap = seed_stat(outcomes["equal opportunity difference"])
    summary = {
        "created": _dt.datetime.now().isoformat(timespec="seconds"),
        "agent": description or {},
        "env": "Lending-v0",
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
        "score_distribution": {
            "initial": trace.initial_dist.mean(0).tolist(),
            "final": trace.final_dist.mean(0).tolist(),
        },
    }
    return summary, trace


def params_dict(params: Any) -> dict[str, Any]:
    """Any environment's parameter dataclass as JSON-friendly values (arrays as lists)."""
    out = {}
    for field in dataclasses.fields(params):
        value = getattr(params, field.name)
        out[field.name] = np.asarray(value).tolist() if hasattr(value, "shape") else value
    return out


# --- plots ----------------------------------------------------------------------------------------
def plot_band(ax, x, values, label, color):
    """Mean over seeds with a 95% t-band; ``values`` (S, T). Early steps may be NaN (rate undefined)."""
    import warnings

    from seuseuro.core.statistics import t_quantile_975

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns before a group has positives
        mean = np.nanmean(values, 0)
        if values.shape[0] > 1:
            half = t_quantile_975(values.shape[0] - 1) * np.nanstd(values, 0, ddof=1) / np.sqrt(values.shape[0])
            ax.fill_between(x, mean - half, mean + half, color=color, alpha=0.2, linewidth=0)
    ax.plot(x, mean, color=color, label=label)


def save_figure(fig, path: Path, title: str) -> Path:
    """Title, lay out and write ``fig`` as a PNG at ``path`` (atomically), then close it."""
    import matplotlib.pyplot as plt

    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=110, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())  # fsynced, like every file of a run directory
    return path


def plot_audit(trace: LendingTrace, summary: dict[str, Any], plots_dir: Path) -> dict[str, Path]:
    """Write the audit's PNGs; returns {name: path}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots_dir.mkdir(parents=True, exist_ok=True)
    colors = ("tab:blue", "tab:orange")
    steps = trace.group.shape[1]
    stride = max(1, steps // 400)  # ~400 points per curve keeps the PNGs small and readable
    x = np.arange(1, steps + 1)[stride - 1 :: stride]
    title = f"{summary['agent'].get('name', 'agent')} on {summary['env']} ({trace.num_seeds} seeds)"
    paths: dict[str, Path] = {}

    def save(fig, name):
        paths[name] = save_figure(fig, plots_dir / f"{name}.png", title)

    # 1. score distribution per group, start vs end
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
    levels = np.arange(trace.initial_dist.shape[-1])
    for g, ax in enumerate(axes):
        ax.bar(levels - 0.2, trace.initial_dist[:, g].mean(0), 0.4, label="start", color="0.7")
        ax.bar(levels + 0.2, trace.final_dist[:, g].mean(0), 0.4, label=f"after {steps} steps", color=colors[g])
        ax.set_title(GROUP_NAMES[g])
        ax.set_xlabel("credit-score level")
        ax.set_xticks(levels)
    axes[0].set_ylabel("share of group")
    axes[0].legend(frameon=False)
    save(fig, "score_distribution")

    # 2. cumulative loans per group
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for g in range(2):
        loans = np.cumsum(trace.lent & (trace.group == g), axis=1)[:, stride - 1 :: stride]
        plot_band(ax, x, loans.astype(float), GROUP_NAMES[g], colors[g])
    ax.set_xlabel("step")
    ax.set_ylabel("loans granted so far")
    ax.legend(frameon=False)
    save(fig, "cumulative_loans")

    # 3. TPR gap over time: cumulative (the aggregate) and within the env's sliding window
    fig, ax = plt.subplots(figsize=(6, 3.4))
    cumulative = np.stack([fm.cumulative_tpr_gap(trace.log(s)) for s in range(trace.num_seeds)])
    plot_band(ax, x, cumulative[:, stride - 1 :: stride], "cumulative |TPR g1 - TPR g2|", "tab:red")
    plot_band(ax, x, trace.cost[:, stride - 1 :: stride], "recent window (env cost signal)", "tab:purple")
    if summary.get("max_gap") is not None:
        ax.axhline(summary["max_gap"], color="k", linestyle="--", linewidth=1, label=f"--max-gap {summary['max_gap']}")
    ax.set_xlabel("step")
    ax.set_ylabel("TPR gap")
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False, fontsize=8)
    save(fig, "tpr_gap")

    # 4. profit, and 5. each group's credit over time
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
    plot_band(ax1, x, np.cumsum(trace.reward, axis=1)[:, stride - 1 :: stride], "cumulative profit", "tab:green")
    ax1.set_xlabel("step")
    ax1.set_ylabel("bank profit (cash - start)")
    for g in range(2):
        plot_band(ax2, x, trace.mean_repay[:, 1:][:, stride - 1 :: stride, g], GROUP_NAMES[g], colors[g])
    ax2.set_xlabel("step")
    ax2.set_ylabel("mean P(repay) of group")
    ax2.legend(frameon=False)
    save(fig, "profit_and_credit")
    return paths


# --- report ---------------------------------------------------------------------------------------
def render_html(summary: dict[str, Any], plots: dict[str, Path]) -> str:
    """One self-contained HTML page: verdict, metric table, plots inlined as base64 PNGs."""
    agent = summary["agent"]
    esc = html.escape
    if summary["passed"] is None:
        verdict = f"Measured gap {summary['gap']:.4f} (no --max-gap given)."
        verdict_class = "info"
    else:
        word = "PASS" if summary["passed"] else "FAIL"
        verdict = f"{word}: gap {summary['gap']:.4f} {'<=' if summary['passed'] else '>'} max gap {summary['max_gap']}"
        verdict_class = "pass" if summary["passed"] else "fail"
    rows = []
    for name, stat in summary["metrics"].items():
        low, high = stat["ci95"]
        ci = "" if not np.isfinite(low) else f"[{low:.4g}, {high:.4g}]"
        rows.append(f"<tr><td>{esc(name)}</td><td>{stat['mean']:.4g}</td><td>{ci}</td></tr>")
    images = []
    for name, path in plots.items():
        data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
        images.append(f'<figure><img alt="{esc(name)}" src="data:image/png;base64,{data}"/></figure>')
    params = esc(json.dumps(summary["env_params"]))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>seuseuro fairness audit: {esc(agent.get("name", ""))}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 980px; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; }} td, th {{ padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
.verdict {{ padding: 0.6em 1em; font-weight: bold; border-radius: 4px; }}
.pass {{ background: #e3f4e3; }} .fail {{ background: #fbe3e3; }} .info {{ background: #eef; }}
img {{ max-width: 100%; }} code {{ font-size: 0.85em; }}
</style></head><body>
<h1>Fairness audit: {esc(agent.get("name", "agent"))} on {esc(summary["env"])}</h1>
<p>{esc(agent.get("rule", ""))} {esc(agent.get("source", ""))}</p>
<p class="verdict {verdict_class}">{esc(verdict)}</p>
<p>Gap metric: {esc(summary["gap_metric"])}; 95% t-interval [{summary["gap_ci95"][0]:.4g}, {summary["gap_ci95"][1]:.4g}].
{summary["steps"]} steps &times; {summary["seeds"]} seeds (seed {summary["seed"]}), created {esc(summary["created"])}.</p>
<h2>Metrics (mean over seeds, 95% CI)</h2>
<table><tr><th>metric</th><th>mean</th><th>95% CI</th></tr>
{"".join(rows)}
</table>
<h2>Plots</h2>
{"".join(images)}
<h2>Environment parameters</h2>
<p><code>{params}</code></p>
<p>Generated by <code>seuseuro audit</code>. {esc(summary.get("index_note", "Group 1 is index 0 in audit.json."))}</p>
</body></html>
"""


def write_audit(
    out_dir: Path,
    summary: dict[str, Any],
    trace: Any,
    plot: Callable[[Any, dict[str, Any], Path], dict[str, Path]] | None = None,
) -> dict[str, Path]:
    """audit.json, plots/*.png and report.html in ``out_dir`` (each written atomically); ``plot(trace,
    summary, plots_dir)`` draws the environment's plots (default: the lending audit's)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = (plot or plot_audit)(trace, summary, out_dir / "plots")
    summary = {**summary, "plots": {k: str(p.relative_to(out_dir)) for k, p in plots.items()}}
    atomic_write_text(out_dir / "audit.json", json.dumps(summary, indent=2, default=float))
    atomic_write_bytes(out_dir / "report.html", render_html(summary, plots).encode("utf-8"))
    return {"audit.json": out_dir / "audit.json", "report.html": out_dir / "report.html", **plots}
