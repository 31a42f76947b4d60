"""Profit against fairness: plain PPO vs PPO-Lagrangian at several TPR-gap limits on LendingEnv.

    python benchmarks/fairness_tradeoff.py --seeds 5 --steps 102400 --limits 0.05 0.1 0.15

Every configuration trains ``--seeds`` agents at once (vmapped, compiled) on LendingEnv with
1,000-applicant episodes and the running group statistics in the observation; each trained agent is
then evaluated on ``--eval-populations`` fresh populations of 1,000 applicants (actions sampled).
Reported per configuration, mean and 95% t-interval over training seeds: profit per applicant,
the measured equal-opportunity gap |TPR_g1 - TPR_g2| of the evaluation episodes, and the mean
windowed gap (the env's cost signal). The max-utility and equal-opportunity lenders are the
references. Prints a Markdown table for FAIRNESS.md.
"""

from __future__ import annotations

import argparse
import time

import equinox as eqx
import jax
import numpy as np

from seuseuro.algos import ppo
from seuseuro.algos import ppo_lagrangian as pl
from seuseuro.core.statistics import mean_ci95
from seuseuro.envs.fairness import LendingEnv, lending_params
from seuseuro.envs.registry import JaxEnv
from seuseuro.fairness import metrics as fm
from seuseuro.fairness.agents import BASELINE_LENDERS
from seuseuro.fairness.rollout import simulate_lending

HORIZON = 1000


def evaluate_stacked(actor_critics, params, populations: int, seed: int):
    """(S, P) profit per step, TPR gap and mean cost of S stacked policies on P populations each."""
    env = LendingEnv()

    @eqx.filter_jit
    def run(actor_critics, keys):
        def one(policy, key):
            obs, state = env.reset_env(key, params)

            def step(carry, k):
                obs, state = carry
                k_act, k_env = jax.random.split(k)
                action, _ = ppo.sample_action(policy, obs[None], k_act)
                obs, state, reward, _, info = env.step_env(k_env, state, action[0], params)
                return (obs, state), (info["group"], info["lent"], info["repaid"], reward, info["cost"])

            return jax.lax.scan(step, (obs, state), jax.random.split(key, HORIZON))[1]

        per_policy = lambda policy, ks: jax.vmap(lambda k: one(policy, k))(ks)
        return jax.vmap(per_policy)(actor_critics, keys)

    num = jax.tree.leaves(actor_critics)[0].shape[0]
    keys = jax.random.split(jax.random.PRNGKey(seed), num * populations).reshape(num, populations, 2)
    group, lent, repaid, reward, cost = (np.asarray(x) for x in run(actor_critics, keys))
    gaps = np.array(
        [[fm.equal_opportunity_difference(fm.DecisionLog(group[s, p], lent[s, p], repaid[s, p])) for p in range(populations)] for s in range(num)]
    )  # fmt: skip
    return reward.mean(-1), gaps, cost.mean(-1)


def train(config, env, seeds: int, lagrangian: bool):
    make = pl.make_train if lagrangian else ppo.make_train
    chunk = 10
    trainer = make(config, env, num_seeds=seeds, updates_per_chunk=chunk)
    state = trainer.init(jax.random.split(jax.random.PRNGKey(0), seeds))
    for done in range(0, config.num_updates, chunk):
        state, _ = trainer.run_chunk(state, min(chunk, config.num_updates - done))
    return state.agent.actor_critic if lagrangian else state.policy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=102_400, help="training steps per seed")
    parser.add_argument("--limits", type=float, nargs="*", default=[0.05, 0.1, 0.15])
    parser.add_argument("--multiplier-lr", type=float, default=1.0)
    parser.add_argument("--eval-populations", type=int, default=4)
    parser.add_argument("--no-references", action="store_true", help="skip the baseline lenders")
    parser.add_argument("--no-ppo", action="store_true", help="skip plain PPO (e.g. to run limits separately)")
    parser.add_argument("--no-header", action="store_true", help="print table rows only (to join runs)")
    args = parser.parse_args()

    params = lending_params(observe_group_stats=True, max_steps_in_episode=HORIZON)
    env = JaxEnv("Lending-v0", LendingEnv(), params, "fairness")
    ppo_config = ppo.Config(**{**pl.LENDING_PPO, "total_steps": args.steps})

    rows = []
    for name, policy in BASELINE_LENDERS.items():
        if args.no_references or name == "equal-opportunity-frozen":
            continue
        trace = simulate_lending(policy, params, num_steps=HORIZON, num_seeds=args.seeds * args.eval_populations)
        gaps = [fm.equal_opportunity_difference(trace.log(s)) for s in range(trace.num_seeds)]
        rows.append((f"{name} (reference)", trace.reward.mean(1), np.asarray(gaps), trace.cost.mean(1), None))

    configs = ([] if args.no_ppo else [("PPO", None)]) + [(f"PPO-Lagrangian, limit {d}", d) for d in args.limits]
    for name, limit in configs:
        start = time.perf_counter()
        if limit is None:
            policy = train(ppo_config, env, args.seeds, lagrangian=False)
        else:
            config = pl.Config(ppo=ppo_config, cost_limit=limit, multiplier_lr=args.multiplier_lr)
            policy = train(config, env, args.seeds, lagrangian=True)
        seconds = time.perf_counter() - start
        profit, gaps, cost = evaluate_stacked(policy, params, args.eval_populations, seed=1000)
        # the unit of replication is the training seed: average its evaluation populations first
        rows.append((name, profit.mean(1), gaps.mean(1), cost.mean(1), seconds))

    if not args.no_header:
        print(f"LendingEnv, {HORIZON}-applicant episodes; {args.seeds} training seeds x {args.steps:,} steps; "
              f"evaluation: {args.eval_populations} populations x {HORIZON} applicants per seed\n")  # fmt: skip
        print("| agent | profit per applicant | equal-opportunity gap | mean windowed gap (cost) | train time |")
        print("|---|---|---|---|---|")
    for name, profit, gap, cost, seconds in rows:
        cells = []
        for values in (profit, gap, cost):
            mean, low, high = mean_ci95(values)
            cells.append(f"{mean:.3f} ± {(high - low) / 2:.3f}")
        t = "-" if seconds is None else f"{seconds:.0f} s"
        print(f"| {name} | " + " | ".join(cells) + f" | {t} |")


if __name__ == "__main__":
    main()
