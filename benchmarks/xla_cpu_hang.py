"""Hunt for the XLA:CPU hang (issue 9): build and run multi-seed programs in fresh processes.

Each trial is a fresh ``python`` subprocess (compilation cache off: ``SEUSEURO_JAX_CACHE=off``)
running one workload under a timeout. A trial that outlives the timeout is a hang; before killing
it, its native stacks are dumped with ``py-spy dump --native`` (if ``--py-spy`` points at one) or
gdb, so the report says where XLA's threads sleep.

Workloads (``--workload``):
- ``qr``: a jitted, vmapped ``jnp.linalg.qr`` over several seeds (the orthogonal initializers that
  once built networks inside the compiled program).
- ``init``: the PPO actor-critic with a PointNet torso built inside ``jit(vmap(...))`` over seeds.
- ``pointnet``: ``ppo.make_train`` on ObjectNav-Small-v0 with the PointNet torso, several seeds:
  init and one chunk, as ``seuseuro train ppo --torso pointnet --num-seeds 4`` runs it.

Usage::

    python benchmarks/xla_cpu_hang.py --workload pointnet --trials 20 --timeout 120 \
        --xla-flags= --xla-flags=--xla_cpu_enable_concurrency_optimized_scheduler=false

Each ``--xla-flags`` value is one arm; arms alternate trial by trial (ABAB) so load on the shared
machine hits every arm alike. ``--no-default-flags`` sets ``SEUSEURO_XLA_DEFAULTS=off`` in the
children so the library's own default flag (see ``seuseuro/__init__.py``) is not added.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path


def child(workload: str, num_seeds: int) -> None:
    import faulthandler

    faulthandler.dump_traceback_later(600, exit=False)  # Python frames if nobody kills us first
    import jax
    import jax.numpy as jnp

    keys = jax.random.split(jax.random.PRNGKey(int(time.time_ns()) % 2**31), num_seeds)
    if workload == "qr":

        def init(key):
            shapes = [(64, 3), (128, 64), (64, 128), (64, 64), (4, 64), (1, 64)]
            ks = jax.random.split(key, len(shapes))
            return [
                jax.nn.initializers.orthogonal(scale=1.4)(k, s, jnp.float32) for k, s in zip(ks, shapes, strict=True)
            ]

        out = jax.jit(jax.vmap(init))(keys)
        jax.block_until_ready(out)
    elif workload == "init":
        import equinox as eqx

        from seuseuro.algos import ppo
        from seuseuro.envs.registry import make

        env = make("ObjectNav-Small-v0")
        config = ppo.Config(torso="pointnet", num_envs=4, num_steps=32, num_epochs=1, total_steps=4 * 32 * 20)
        obs_shape = tuple(env.observation_space.shape)
        from seuseuro.envs.spaces import action_spec

        action_dim, discrete, _, _ = action_spec(env.action_space)
        factory = ppo.make_torso(config, obs_shape)
        build = eqx.filter_jit(jax.vmap(lambda k: ppo.ActorCritic(k, obs_shape, action_dim, discrete, config, factory)))
        jax.block_until_ready(eqx.filter(build(keys), eqx.is_array))
    elif workload == "pointnet":
        from seuseuro.algos import ppo
        from seuseuro.envs.registry import make

        env = make("ObjectNav-Small-v0")
        config = ppo.Config(torso="pointnet", num_envs=4, num_steps=32, num_epochs=2, total_steps=4 * 32 * 20)
        trainer = ppo.make_train(config, env, num_seeds=num_seeds, updates_per_chunk=2)
        state = trainer.init(keys)
        for _ in range(2):
            state, metrics = trainer.run_chunk(state, 2)
        jax.block_until_ready(metrics)
    else:
        raise SystemExit(f"unknown workload {workload!r}")
    print("XLA_FLAGS=" + os.environ.get("XLA_FLAGS", ""), flush=True)


def native_stacks(pid: int, py_spy: str | None) -> str:
    """Native stacks of every thread of ``pid`` (py-spy if given, else gdb), for the report."""
    if py_spy:
        cmd = [py_spy, "dump", "--native", "--pid", str(pid)]
    elif shutil.which("gdb"):
        cmd = ["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt 25"]
    else:
        return "(no py-spy or gdb)"
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        return done.stdout + done.stderr
    except subprocess.TimeoutExpired:
        return "(stack dump timed out)"


def trial(args, xla_flags: str, out_dir: Path, index: int) -> dict:
    env = dict(os.environ, SEUSEURO_JAX_CACHE="off", JAX_PLATFORMS="cpu", XLA_FLAGS=xla_flags)
    if args.no_default_flags:
        env["SEUSEURO_XLA_DEFAULTS"] = "off"
    cmd = [sys.executable, __file__, "--child", args.workload, "--num-seeds", str(args.num_seeds)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = proc.communicate(timeout=args.timeout)
        result = "ok" if proc.returncode == 0 else f"error rc={proc.returncode}"
    except subprocess.TimeoutExpired:
        result_kind = "HANG"
        if args.stack_dumps > 0:  # gdb on a hung process takes a minute on a loaded machine: a few suffice
            args.stack_dumps -= 1
            stacks = native_stacks(proc.pid, args.py_spy)
            (out_dir / f"{args.workload}_hang_{index:03d}.txt").write_text(f"XLA_FLAGS={xla_flags!r}\n\n{stacks}")
            # A loaded machine can still be compiling at the timeout: the stacks tell a slow compile
            # (main thread in CompileAndLoad) from the pool deadlock (workers in ParallelBatchMap).
            if "CompileAndLoad" in stacks:
                result_kind = "TIMEOUT (still compiling)"
            elif "ParallelBatchMap" in stacks:
                result_kind = "HANG (LAPACK pool deadlock)"
        proc.kill()
        output, _ = proc.communicate()
        result = result_kind
    seconds = time.perf_counter() - start
    tail = (output or "")[-2000:] if result.startswith("error") else ""
    return {"trial": index, "xla_flags": xla_flags, "result": result, "seconds": round(seconds, 1), "tail": tail}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--workload", default="pointnet", choices=["qr", "init", "pointnet"])
    parser.add_argument("--num-seeds", type=int, default=4)
    parser.add_argument("--trials", type=int, default=10, help="trials per arm")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds before a trial counts as a hang")
    parser.add_argument("--xla-flags", action="append", help="one arm's XLA_FLAGS (repeat for more arms)")
    parser.add_argument("--no-default-flags", action="store_true", help="children skip seuseuro's default flags")
    parser.add_argument("--py-spy", help="path to a py-spy binary for native stacks of a hung trial")
    parser.add_argument("--stack-dumps", type=int, default=2, help="dump native stacks of at most this many hangs")
    parser.add_argument("--out", default="benchmarks/out/xla_cpu_hang", help="folder for results and stacks")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.num_seeds)
        return
    arms = args.xla_flags or [os.environ.get("XLA_FLAGS", "")]
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for i in range(args.trials * len(arms)):
        record = trial(args, arms[i % len(arms)], out_dir, i)
        results.append(record)
        print(json.dumps(record), flush=True)
    summary = {
        flags: {
            "hangs": sum(r["result"].startswith("HANG") for r in results if r["xla_flags"] == flags),
            "trials": sum(r["xla_flags"] == flags for r in results),
        }
        for flags in arms
    }
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (out_dir / f"{args.workload}_{stamp}.json").write_text(
        json.dumps({"summary": summary, "trials": results}, indent=1)
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
