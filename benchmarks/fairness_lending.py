"""Reproduce D'Amour et al. 2020 ("Fairness is Not Static", lending): max-utility vs equal-opportunity.

    python benchmarks/fairness_lending.py --steps 20000 --seeds 20 [--json out.json]

Both lenders run on the published LendingEnv (seuseuro.envs.fairness) for ``--steps`` applicants on
``--seeds`` independent populations, compiled and vmapped over seeds. Prints a Markdown table
(mean and 95% t-interval over seeds) for FAIRNESS.md. The published findings to check:

1. the max-utility lender lowers both groups' credit;
2. the equal-opportunity lender lends more to group 2 (index 1) and leaves a wider credit gap than
   max-utility;
3. the aggregate TPR gap does not close under dynamics although TPR is equalized at every step
   (compared with the same lender on a static population, shift = 0).

Also run: equal-opportunity thresholds frozen at the initial population (fair at deployment).

Second table (finding 3 as the paper measures it): the mean over seeds of |aggregate TPR gap| after
T decisions, on the moving and on the static population, for our equal-opportunity lender and for
ml-fairness-gym's protocol (``gym_equal_opportunity_lender``), next to the "target" gap: the aggregate
of each step's expected TPR (the part of the gap that is not decision noise; Simpson's paradox).
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

from seuseuro.core.statistics import mean_ci95
from seuseuro.envs.fairness import lending_params
from seuseuro.envs.fairness.lending import LendingParams, replay_score_dists
from seuseuro.fairness import metrics as fm
from seuseuro.fairness.agents import (
    BASELINE_LENDERS,
    GYM_BURNIN_STEPS,
    equal_opportunity_accept_prob,
    group_tpr,
    gym_equal_opportunity_accept_prob,
    gym_equal_opportunity_lender,
)
from seuseuro.fairness.audit import lending_outcomes
from seuseuro.fairness.rollout import LendingTrace, simulate_lending

# the audit's extra static metrics are not part of the published comparison
_OMIT = ("equal opportunity difference", "demographic parity difference", "equalized odds difference")


def _fmt(values: np.ndarray) -> str:
    mean, low, high = mean_ci95(values)
    return f"{mean:.4g} ± {(high - low) / 2:.2g}"


def step_tpr_targets(trace: LendingTrace, accept_fn, params: LendingParams, burnin: int) -> np.ndarray:
    """(S, T, 2) each group's expected TPR at every step: the policy's lending probabilities on the
    population that step saw (rebuilt from the log), 1 during a lend-to-all burn-in."""

    @jax.jit
    def targets(initial, group, score, repaid, lent):
        dists = replay_score_dists(initial, group, score, repaid, lent, params.shift)  # (T, 2, 7)
        tpr = jax.lax.map(lambda d: group_tpr(accept_fn(d, params), d, params.repay_prob), dists, batch_size=4096)
        return jnp.where(jnp.arange(tpr.shape[0])[:, None] < burnin, 1.0, tpr)

    out = [
        targets(trace.initial_dist[s], trace.group[s], trace.score[s], trace.repaid[s], trace.lent[s])
        for s in range(trace.num_seeds)
    ]
    return np.stack([np.asarray(o) for o in out])


def persistence(trace: LendingTrace, step_tpr: np.ndarray, horizons: list[int]) -> dict[str, np.ndarray]:
    """Per-seed signed gaps (g1 - g2) at each horizon: realized aggregate TPR and the target aggregate."""
    out = {}
    for s in range(trace.num_seeds):
        log = trace.log(s)
        realized = fm.group_rates(fm.cumulative_counts(log)).tpr  # (T, 2)
        target = fm.cumulative_target_tpr(log, step_tpr[s])
        for t in horizons:
            out.setdefault(f"realized gap, T={t}", []).append(realized[t - 1, 0] - realized[t - 1, 1])
            out.setdefault(f"target gap, T={t}", []).append(target[t - 1, 0] - target[t - 1, 1])
    return {k: np.asarray(v) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0, help="base seed of the persistence runs")
    parser.add_argument(
        "--protocols", nargs="+", default=["ours", "ml-fairness-gym"], choices=["ours", "ml-fairness-gym"]
    )
    parser.add_argument("--only-persistence", action="store_true", help="skip the first table")
    parser.add_argument("--json", type=str, default=None, help="also write the per-seed numbers here")
    args = parser.parse_args()
    results = {} if args.only_persistence else baseline_table(args.steps, args.seeds)
    gaps = persistence_table(args.steps, args.seeds, args.seed, args.protocols)
    if args.json:
        with open(args.json, "w") as f:
            dump = {n: {k: np.asarray(v).tolist() for k, v in r.items()} for n, r in {**results, **gaps}.items()}
            json.dump(dump, f, indent=1)


def baseline_table(steps: int, seeds: int) -> dict[str, dict[str, np.ndarray]]:
    """Findings 1-3 with the baselines: prints the Markdown table, returns the per-seed numbers."""
    params = lending_params()
    runs = {name: (policy, params) for name, policy in BASELINE_LENDERS.items()}
    # D'Amour et al.'s control: the same equal-opportunity lender on a population that does not move.
    runs["equal-opportunity, static population"] = (BASELINE_LENDERS["equal-opportunity"], lending_params(shift=0.0))
    results, timing = {}, {}
    for name, (policy, run_params) in runs.items():
        start = time.perf_counter()
        trace = simulate_lending(policy, run_params, num_steps=steps, num_seeds=seeds)
        timing[name] = time.perf_counter() - start
        outcomes = lending_outcomes(trace)
        results[name] = {k: v for k, v in outcomes.items() if k not in _OMIT}

    initial_gap = float(trace.mean_repay[0, 0, 0] - trace.mean_repay[0, 0, 1])
    print(f"{steps} steps x {seeds} seeds; initial credit (mean P(repay)) gap g1-g2 = {initial_gap:.3f}\n")
    names = list(results)
    print("| metric | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for metric in results[names[0]]:
        print(f"| {metric} | " + " | ".join(_fmt(results[name][metric]) for name in names) + " |")
    print(
        "\ntime (compile + run, all seeds): "
        + ", ".join(f"{n} {t:.1f} s ({steps * seeds / t:,.0f} steps/s)" for n, t in timing.items())
    )
    return results


PROTOCOLS = {
    "ours": (BASELINE_LENDERS["equal-opportunity"], equal_opportunity_accept_prob, 0),
    "ml-fairness-gym": (gym_equal_opportunity_lender, gym_equal_opportunity_accept_prob, GYM_BURNIN_STEPS),
}


def persistence_table(steps: int, seeds: int, seed: int, protocols: list[str]) -> dict[str, dict[str, np.ndarray]]:
    """Finding 3 as D'Amour et al. measure it: mean |aggregate gap| over seeds against the horizon."""
    horizons = [t for t in (200, 2000, 20_000, 100_000) if t <= steps]
    gaps, timing = {}, {}
    for proto in protocols:
        policy, accept_fn, burnin = PROTOCOLS[proto]
        for pop, run_params in (("moving", lending_params()), ("static", lending_params(shift=0.0))):
            start = time.perf_counter()
            trace = simulate_lending(policy, run_params, num_steps=steps, num_seeds=seeds, seed=seed)
            targets = step_tpr_targets(trace, accept_fn, run_params, burnin)
            gaps[f"{proto}, {pop}"] = persistence(trace, targets, horizons)
            timing[f"{proto}, {pop}"] = time.perf_counter() - start
    print(
        f"\nmean over {seeds} seeds of |aggregate TPR gap g1 - g2| after T decisions: realized; target (the aggregate "
        "of each step's expected TPR, the Simpson's-paradox part); noise (realized - target, per seed); "
        "± = 95% t-interval half-width over seeds\n"
    )
    print("| lender, population | T | realized | target | signed target | noise |")
    print("|---|---|---|---|---|---|")
    for name, g in gaps.items():
        for t in horizons:
            realized, target = g[f"realized gap, T={t}"], g[f"target gap, T={t}"]
            cells = [_fmt(np.abs(realized)), _fmt(np.abs(target)), _fmt(target), _fmt(np.abs(realized - target))]
            print(f"| {name} | {t} | " + " | ".join(cells) + " |")
    print("\ntime (compile + run + replay, all seeds): " + ", ".join(f"{n} {t:.1f} s" for n, t in timing.items()))
    return gaps


if __name__ == "__main__":
    main()
