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
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from seuseuro.core.statistics import mean_ci95
from seuseuro.envs.fairness import lending_params
from seuseuro.fairness.agents import BASELINE_LENDERS
from seuseuro.fairness.audit import lending_outcomes
from seuseuro.fairness.rollout import simulate_lending

# the audit's extra static metrics are not part of the published comparison
_OMIT = ("equal opportunity difference", "demographic parity difference", "equalized odds difference")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--json", type=str, default=None, help="also write the per-seed numbers here")
    args = parser.parse_args()

    params = lending_params()
    runs = {name: (policy, params) for name, policy in BASELINE_LENDERS.items()}
    # D'Amour et al.'s control: the same equal-opportunity lender on a population that does not move.
    runs["equal-opportunity, static population"] = (BASELINE_LENDERS["equal-opportunity"], lending_params(shift=0.0))
    results, timing = {}, {}
    for name, (policy, run_params) in runs.items():
        start = time.perf_counter()
        trace = simulate_lending(policy, run_params, num_steps=args.steps, num_seeds=args.seeds)
        timing[name] = time.perf_counter() - start
        outcomes = lending_outcomes(trace)
        results[name] = {k: v for k, v in outcomes.items() if k not in _OMIT}

    initial_gap = float(trace.mean_repay[0, 0, 0] - trace.mean_repay[0, 0, 1])
    print(f"{args.steps} steps x {args.seeds} seeds; initial credit (mean P(repay)) gap g1-g2 = {initial_gap:.3f}\n")
    names = list(results)
    print("| metric | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for metric in results[names[0]]:
        cells = []
        for name in names:
            mean, low, high = mean_ci95(results[name][metric])
            cells.append(f"{mean:.4g} ± {(high - low) / 2:.2g}")
        print(f"| {metric} | " + " | ".join(cells) + " |")
    print(
        "\ntime (compile + run, all seeds): "
        + ", ".join(f"{n} {t:.1f} s ({args.steps * args.seeds / t:,.0f} steps/s)" for n, t in timing.items())
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({n: {k: np.asarray(v).tolist() for k, v in r.items()} for n, r in results.items()}, f, indent=1)


if __name__ == "__main__":
    main()
