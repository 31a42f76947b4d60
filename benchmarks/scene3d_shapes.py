"""Held-out accuracy of point-cloud encoders on procedural shape classification (BENCHMARKS.md, "3D scenes").

    python benchmarks/scene3d_shapes.py --encoder pointnet --steps 4000 --num-points 128 --seeds 0 1 2

Every seed trains from scratch on an endless stream of generated clouds and is scored on 2000
held-out clouds (new shapes, scales, rotations and noise). Prints one markdown row per seed and the mean.
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

from seuseuro.envs.scene3d.shapes import ShapeDatasetConfig
from seuseuro.perception.train import ClassifierTrainConfig, train_shape_classifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", choices=["pointnet", "edgeconv"], default="pointnet")
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--num-points", type=int, default=128)
    parser.add_argument("--rotation", choices=["z", "so3", "none"], default="z")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    config = ClassifierTrainConfig(
        encoder=args.encoder,
        steps=args.steps,
        batch_size=args.batch_size,
        data=ShapeDatasetConfig(num_points=args.num_points, rotation=args.rotation),
    )
    print("| encoder | points | rotation | steps x batch | seed | held-out accuracy | train loss | time (s) |")
    print("|---|---|---|---|---|---|---|---|")
    accs = []
    for seed in args.seeds:
        start = time.perf_counter()
        _, result = train_shape_classifier(jax.random.key(seed), config)
        seconds = time.perf_counter() - start
        accs.append(result["eval/accuracy"])
        print(
            f"| {args.encoder} | {args.num_points} | {args.rotation} | {args.steps} x {args.batch_size} | {seed} "
            f"| {100 * result['eval/accuracy']:.1f}% | {result['train/loss']:.3f} | {seconds:.0f} |",
            flush=True,
        )
    if len(accs) > 1:
        print(f"mean {100 * np.mean(accs):.1f}% +- {100 * np.std(accs, ddof=1):.1f} (std over {len(accs)} seeds)")


if __name__ == "__main__":
    main()
