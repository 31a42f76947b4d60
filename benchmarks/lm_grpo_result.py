"""The reasoning pillar's result: SFT + GRPO against SFT alone on held-out problems, several seeds.

For each seed, end to end through the CLI (in-process): ``train sft`` a tiny model from scratch,
evaluate it on the test split, ``train grpo --init`` that run, evaluate again on the *same* test
problems. Two evaluation protocols: greedy decoding, and DeepSeek-R1's pass@1 (one sample at
temperature 0.6, top-p 0.95). Per seed: accuracy with a Wilson 95% interval; across seeds: the mean
gain with a t-interval (paired by seed). Wall-clock time of the whole thing is reported.

    python benchmarks/lm_grpo_result.py --task addition --seeds 0 1 2
Results: benchmarks/out/lm_grpo_result.json and a markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

from seuseuro.cli import main as cli

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out"

T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def mean_ci(xs: list[float]) -> tuple[float, float]:
    """Mean and half-width of the 95% t-interval."""
    m = statistics.mean(xs)
    if len(xs) < 2:
        return m, float("nan")
    return m, T_975.get(len(xs) - 1, 1.96) * statistics.stdev(xs) / math.sqrt(len(xs))


def evals(run: Path, n: int, seed: int) -> dict:
    assert cli(["eval", str(run), "--num-problems", str(n), "--seed", str(seed), "--show", "0"]) == 0
    assert cli(["eval", str(run), "--num-problems", str(n), "--seed", str(seed), "--temperature", "0.6",
                "--top-p", "0.95", "--show", "0"]) == 0  # fmt: skip
    data = json.loads((run / "eval.json").read_text())
    return {proto: data[key] for proto, key in (("greedy", next(k for k in data if k.endswith("/t0"))),
                                                  ("t0.6", next(k for k in data if k.endswith("/t0.6"))))}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="addition")
    p.add_argument("--task-option", nargs="*", default=[])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--sft-steps", type=int, default=300)
    p.add_argument("--grpo-steps", type=int, default=150)
    p.add_argument("--grpo-lr", type=float, default=3e-5)
    p.add_argument("--eval-problems", type=int, default=1000)
    p.add_argument("--tag", default="", help="suffix of the output names (keeps earlier results)")
    p.add_argument("--extra-grpo", nargs="*", default=[], help="more `train grpo` flags, e.g. --kl-coef 0.04")
    args = p.parse_args()
    root = OUT / f"lm_runs{args.tag}"
    t0 = time.perf_counter()
    per_seed = []
    for seed in args.seeds:
        sft_dir, grpo_dir = root / f"sft-{args.task}-s{seed}", root / f"grpo-{args.task}-s{seed}"
        opts = ["--task-option", *args.task_option] if args.task_option else []
        t = time.perf_counter()
        assert cli(["train", "sft", "--task", args.task, *opts, "--steps", str(args.sft_steps), "--seed", str(seed),
                    "--run-dir", str(sft_dir), "--eval-problems", "0", "--no-progress"]) == 0  # fmt: skip
        sft_s = time.perf_counter() - t
        t = time.perf_counter()
        assert cli(["train", "grpo", "--init", str(sft_dir), "--steps", str(args.grpo_steps), "--seed", str(seed),
                    "--learning-rate", str(args.grpo_lr), "--run-dir", str(grpo_dir), "--eval-problems", "0",
                    "--no-progress", *args.extra_grpo]) == 0  # fmt: skip
        grpo_s = time.perf_counter() - t
        per_seed.append({"seed": seed, "sft": evals(sft_dir, args.eval_problems, 1000 + seed),
                         "grpo": evals(grpo_dir, args.eval_problems, 1000 + seed), "sft_s": sft_s,
                         "grpo_s": grpo_s})  # fmt: skip
    total = time.perf_counter() - t0
    summary = {"args": vars(args), "total_s": total, "per_seed": per_seed}
    for proto in ("greedy", "t0.6"):
        gains = [s["grpo"][proto]["accuracy"] - s["sft"][proto]["accuracy"] for s in per_seed]
        summary[f"gain_{proto}"] = mean_ci(gains)
        summary[f"sft_{proto}"] = mean_ci([s["sft"][proto]["accuracy"] for s in per_seed])
        summary[f"grpo_{proto}"] = mean_ci([s["grpo"][proto]["accuracy"] for s in per_seed])
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"lm_grpo_result_{args.task}{args.tag}.json").write_text(json.dumps(summary, indent=2))
    print(
        f"\n{args.task}: {len(args.seeds)} seeds, {args.eval_problems} held-out problems each, total {total / 60:.1f} min"
    )
    print("| seed | protocol | SFT accuracy [95% CI] | SFT+GRPO accuracy [95% CI] | gain |")
    print("|---|---|---|---|---|")
    for s in per_seed:
        for proto in ("greedy", "t0.6"):
            a, b = s["sft"][proto], s["grpo"][proto]
            print(f"| {s['seed']} | {proto} | {a['accuracy']:.3f} [{a['ci95'][0]:.3f}, {a['ci95'][1]:.3f}] | "
                  f"{b['accuracy']:.3f} [{b['ci95'][0]:.3f}, {b['ci95'][1]:.3f}] | {b['accuracy'] - a['accuracy']:+.3f} |")  # fmt: skip
    for proto in ("greedy", "t0.6"):
        (ms, hs), (mg, hg), (md, hd) = summary[f"sft_{proto}"], summary[f"grpo_{proto}"], summary[f"gain_{proto}"]
        print(f"| mean | {proto} | {ms:.3f} ± {hs:.3f} | {mg:.3f} ± {hg:.3f} | {md:+.3f} ± {hd:.3f} |")
    print("time per seed (s): " + ", ".join(f"SFT {s['sft_s']:.0f} + GRPO {s['grpo_s']:.0f}" for s in per_seed))


if __name__ == "__main__":
    main()
