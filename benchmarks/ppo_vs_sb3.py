"""PPO side by side with Stable-Baselines3 on this machine, in one run (issue 2, "Benchmark").

    python benchmarks/ppo_vs_sb3.py --quick     # a few minutes: 1 seed, shorter HalfCheetah, fewer scaling points
    python benchmarks/ppo_vs_sb3.py             # full: 3 seeds, 49k HalfCheetah steps, full scaling sweep
    python benchmarks/ppo_vs_sb3.py --only cartpole   # re-run sections, keep the others in the JSON
    python benchmarks/ppo_vs_sb3.py --replot    # redraw the plot from the JSON

Every measured program runs in a fresh process, so imports and compilation count as a user would
pay them. SB3 runs the peer scripts of ../shared/peers (RL-Zoo CartPole settings; SB3 defaults on
HalfCheetah-v5) with the python of a private virtual environment, benchmarks/.peer-venv, created
here on first use (torch and SB3 are never installed into the project's python). Ours runs as
``python benchmarks/ppo_vs_sb3.py _worker SPEC`` with the project's python; the worker uses the
same pieces as ``seuseuro train ppo`` (envs.make, ppo.make_train, chunks of CLI size, ppo.evaluate)
without the run-directory I/O, and evaluates 20 deterministic episodes like the SB3 peer.

What is measured (same network: separate 64x64 tanh actor and critic; torch uses 1 thread, JAX
its CPU defaults):
1. CartPole-v1, RL-Zoo settings (8 envs x 32 steps, 20 epochs, 1 minibatch, 100k steps), seeds
   interleaved ours / SB3: steps/s after compilation, and the wall time of the whole process
   (start, imports, compile, 100k steps, 20-episode evaluation) of runs whose evaluation reaches
   475. "Cold" = empty JAX compilation cache; "warm" = second run with the persistent cache that
   the CLI enables by default.
2. The same through the Gymnasium bridge (``gymnasium:CartPole-v1``).
3. HalfCheetah-v5 through the bridge vs SB3, same steps, tuned MuJoCo settings on both sides.
4. Scaling of the compiled path: steps/s against num_envs (1-1024, 128 steps per env, 4 epochs x
   4 minibatches) and against num_seeds (1-64, 4 envs each); the bridge against num_envs too.

Writes benchmarks/out/ppo_vs_sb3.json and benchmarks/out/ppo_vs_sb3_scaling.png and prints a
Markdown table of ratios (ours / SB3) against the issue's targets. The machine is shared, so the
load average is recorded next to every section; compare ratios, not absolute numbers.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from seuseuro.core.checkpoint import atomic_write_bytes, atomic_write_text

REPO = Path(__file__).resolve().parents[1]
PEERS = REPO.parent / "shared" / "peers"
PEER_VENV = REPO / "benchmarks" / ".peer-venv"
OUT = REPO / "benchmarks" / "out"
PEER_PACKAGES = ["torch==2.13.0", "stable-baselines3", "gymnasium[classic-control,mujoco]"]
SOLVED = 475.0
# Targets of issue 2, as ours / SB3.
TARGETS = {
    "compiled CartPole steps/s": (">=", 30.0),
    "compiled CartPole wall time to 475": ("<=", 0.2),
    "bridge CartPole steps/s": (">=", 3.0),
    "HalfCheetah-v5 steps/s": (">=", 1.5),
}


# =================================================================================================
# Our side: a worker process (fresh interpreter per measurement)
# =================================================================================================


def worker(spec: dict) -> dict:
    """Run one measurement described by ``spec`` and return its numbers (printed as one JSON line)."""
    t_start = time.perf_counter()
    import jax
    import numpy as np

    if spec.get("cache_dir"):
        from seuseuro.core.compile_cache import enable_persistent_cache

        enable_persistent_cache(spec["cache_dir"])
    from seuseuro.algos import ppo
    from seuseuro.envs.registry import make

    t_import = time.perf_counter() - t_start
    if spec["kind"] == "scaling":
        return {"import_s": t_import, "points": [_scaling_point(p, ppo, make) for p in spec["points"]]}

    env = make(spec["env"])
    config = ppo.tuned_config(spec["env"], **spec.get("overrides", {}))
    chunk = spec.get("chunk_updates") or max(1, math.ceil(config.num_updates / 20))  # the CLI's default
    trainer = ppo.make_train(config, env, num_seeds=1, updates_per_chunk=chunk)
    key = jax.random.PRNGKey(spec["seed"])
    t0 = time.perf_counter()
    state = trainer.init(jax.random.split(key, 1))
    done, chunk_times, crossed_at = 0, [], None
    while done < trainer.num_updates:
        n = min(chunk, trainer.num_updates - done)
        t, c = time.perf_counter(), time.process_time()
        state, metrics = trainer.run_chunk(state, n)
        returns = np.asarray(jax.device_get(metrics["rollout/episode_return"]))[0, :n]  # one sync per chunk
        chunk_times.append((n, time.perf_counter() - t, time.process_time() - c))
        done += n
        finite = returns[np.isfinite(returns)]
        if crossed_at is None and finite.size and finite[-1] >= SOLVED:
            crossed_at = time.perf_counter() - t_start
    train_s = time.perf_counter() - t0
    steps = done * trainer.steps_per_update
    first_n, first_s, _ = chunk_times[0]
    rest_steps = sum(n for n, _, _ in chunk_times[1:]) * trainer.steps_per_update
    rest_s = sum(s for _, s, _ in chunk_times[1:])
    rest_cpu = sum(c for _, _, c in chunk_times[1:])
    sps = rest_steps / rest_s if rest_s else math.nan
    # Compilation ~= first chunk minus what its updates cost at the later chunks' pace.
    compile_s = first_s - first_n * trainer.steps_per_update / sps if rest_s else math.nan
    result = {
        "env": spec["env"],
        "seed": spec["seed"],
        "steps": steps,
        "import_s": t_import,
        "train_s": train_s,
        "first_chunk_s": first_s,
        "compile_s_est": compile_s,
        "sps_after_compile": sps,
        "cpu_per_wall_after_compile": rest_cpu / rest_s if rest_s else math.nan,  # > 1: several threads busy
        "sps_incl_compile": steps / train_s,
        "train_return_crossed_475_at_s": crossed_at,
    }
    if spec.get("eval_episodes"):
        t = time.perf_counter()
        policy = jax.tree.map(lambda x: x[0], state.policy)
        env_state = jax.tree.map(lambda x: x[0], state.env_state)
        returns = ppo.evaluate(
            policy, env_state, env, 1000 + spec["seed"], spec["eval_episodes"],
            normalize_observations=config.normalize_observations,
        )  # fmt: skip
        result.update(eval_return=float(np.mean(returns)), eval_std=float(np.std(returns)),
                      eval_s=time.perf_counter() - t)  # fmt: skip
    result["in_process_s"] = time.perf_counter() - t_start
    return result


def _scaling_point(point: dict, ppo, make) -> dict:
    """Steps/s of one (env, num_envs, num_seeds) setting: compile with one chunk, time the second."""
    import jax

    num_envs, num_seeds, num_steps = point["num_envs"], point["num_seeds"], point["num_steps"]
    per_update = num_envs * num_steps * num_seeds
    updates = max(1, math.ceil(point["target_steps"] / per_update))
    config = ppo.Config(
        num_envs=num_envs, num_steps=num_steps, num_epochs=4, num_minibatches=4, learning_rate=2.5e-4,
        gamma=0.99, gae_lambda=0.95, anneal_clip=False, total_steps=2 * updates * num_envs * num_steps,
    )  # fmt: skip
    env = make(point["env"])
    trainer = ppo.make_train(config, env, num_seeds=num_seeds, updates_per_chunk=updates)
    t0 = time.perf_counter()
    state = trainer.init(jax.random.split(jax.random.PRNGKey(0), num_seeds))
    state, metrics = trainer.run_chunk(state, updates)
    jax.block_until_ready((state, metrics))
    first_s = time.perf_counter() - t0
    t = time.perf_counter()
    state, metrics = trainer.run_chunk(state, updates)
    jax.block_until_ready((state, metrics))
    seconds = time.perf_counter() - t
    return {**point, "updates_timed": updates, "steps_timed": updates * per_update, "seconds": seconds,
            "sps": updates * per_update / seconds, "first_chunk_s": first_s}  # fmt: skip


def run_ours(spec: dict, timeout: float, cache: str | None = None) -> dict:
    """Run a worker in a fresh process; adds the process wall time measured from outside."""
    spec = dict(spec, cache_dir=cache)
    # The library never enables the persistent cache itself; the variable also keeps it off in
    # any code path that would (cold runs), or points it at ``cache`` (warm runs).
    env = dict(os.environ, JAX_PLATFORMS="cpu", SEUSEURO_JAX_CACHE=cache or "off")
    cmd = [sys.executable, str(Path(__file__).resolve()), "_worker", json.dumps(spec)]
    t, cpu = time.perf_counter(), _children_cpu_s()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)
    wall, cpu = time.perf_counter() - t, _children_cpu_s() - cpu
    if proc.returncode != 0:
        raise RuntimeError(f"worker failed ({proc.returncode}): {proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_wall_s"], result["process_cpu_s"] = wall, cpu
    return result


# =================================================================================================
# The peer: Stable-Baselines3 in its own virtual environment
# =================================================================================================


def peer_python() -> Path:
    """benchmarks/.peer-venv/bin/python, creating the venv and installing SB3 on first use."""
    python = PEER_VENV / "bin" / "python"
    probe = [str(python), "-c", "import stable_baselines3, torch, mujoco, gymnasium"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"creating the peer environment {PEER_VENV} ({' '.join(PEER_PACKAGES)}) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)
    return python


def parse_peer_line(line: str) -> dict:
    """``sb3 ppo CartPole-v1 seed=0 steps=100000 train_s=13.70 sps=7300 eval_return=500.0+-0.0`` -> dict."""
    out: dict = {"env": line.split()[2]}
    for token in line.split():
        if "=" not in token:
            continue
        name, value = token.split("=", 1)
        if name == "eval_return":
            mean, std = value.split("+-")
            out.update(eval_return=float(mean), eval_std=float(std))
        else:
            out[name] = float(value)
    return out


def run_peer(python: Path, script: str, args: list, timeout: float) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    t, cpu = time.perf_counter(), _children_cpu_s()
    proc = subprocess.run([str(python), str(PEERS / script), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)  # fmt: skip
    wall, cpu = time.perf_counter() - t, _children_cpu_s() - cpu
    if proc.returncode != 0:
        raise RuntimeError(f"{script} failed ({proc.returncode}): {proc.stderr[-3000:]}")
    lines = [s for s in proc.stdout.splitlines() if s.startswith("sb3 ")]
    result = parse_peer_line(lines[-1])
    result["process_wall_s"], result["process_cpu_s"] = wall, cpu
    return result


# =================================================================================================
# The comparison
# =================================================================================================


def _children_cpu_s() -> float:
    """User + system CPU seconds of finished child processes (all their threads): on a shared machine
    this is steadier than wall time, and it shows when one side uses more than one core."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load_average() -> float:
    return os.getloadavg()[0]


def mean(values) -> float:
    values = [v for v in values if v is not None and math.isfinite(v)]
    return sum(values) / len(values) if values else math.nan


def time_to_solve(runs: list[dict]) -> dict:
    """Mean process wall time over the runs whose evaluation reached 475 (and how many did)."""
    solved = [r for r in runs if r.get("eval_return", -1) >= SOLVED]
    return {
        "solved": f"{len(solved)}/{len(runs)}",
        "mean_wall_s_solved": mean([r["process_wall_s"] for r in solved]),
        "mean_wall_s_all": mean([r["process_wall_s"] for r in runs]),
        "mean_cpu_s_all": mean([r.get("process_cpu_s") for r in runs]),
        "mean_eval_return": mean([r.get("eval_return") for r in runs]),
    }


def cartpole_section(python: Path, seeds: list[int], args) -> dict:
    """Compiled (cold and warm cache) and bridge CartPole, interleaved with SB3, seed by seed."""
    cache = tempfile.mkdtemp(prefix="seuseuro-bench-cache-")
    spec = {"kind": "train", "env": "CartPole-v1", "eval_episodes": 20}
    bridge = {"kind": "train", "env": "gymnasium:CartPole-v1", "eval_episodes": 20}
    runs: dict[str, list] = {"ours_compiled_cold": [], "ours_compiled_warm": [], "ours_bridge": [], "sb3": []}
    load = [load_average()]
    run_ours(dict(spec, seed=99), args.timeout, cache=cache)  # fills the persistent cache (untimed)
    for seed in seeds:
        for name, s, c in (("ours_compiled_cold", spec, None), ("ours_compiled_warm", spec, cache),
                           ("ours_bridge", bridge, None)):  # fmt: skip
            runs[name].append(run_ours(dict(s, seed=seed), args.timeout, cache=c))
            _report(name, runs[name][-1])
        runs["sb3"].append(run_peer(python, "sb3_ppo_cartpole.py", [seed, 100_000], args.timeout))
        _report("sb3", runs["sb3"][-1])
        load.append(load_average())
    summary = {
        name: {"sps": mean([r.get("sps_after_compile", r.get("sps")) for r in rs]), **time_to_solve(rs)}
        for name, rs in runs.items()
    }
    return {"runs": runs, "summary": summary, "load_average": load}


def halfcheetah_section(python: Path, steps: int, args) -> dict:
    load = [load_average()]
    ours = run_ours({"kind": "train", "env": "HalfCheetah-v5", "seed": 0, "chunk_updates": 1,
                     "overrides": {"total_steps": steps}}, args.timeout)  # fmt: skip
    _report("ours HalfCheetah", ours)
    sb3 = run_peer(python, "sb3_ppo_mujoco.py", ["HalfCheetah-v5", steps], args.timeout)
    _report("sb3 HalfCheetah", sb3)
    load.append(load_average())
    return {"ours": ours, "sb3": sb3, "load_average": load}


def scaling_section(args) -> dict:
    envs = [1, 16, 256] if args.quick else [1, 4, 16, 64, 256, 1024]
    seeds = [1, 16] if args.quick else [1, 4, 16, 64]
    bridge_envs = [1, 16] if args.quick else [1, 4, 16, 64, 256]
    target = 2**15 if args.quick else 2**17
    points = [{"env": "CartPole-v1", "num_envs": n, "num_seeds": 1, "num_steps": 128, "target_steps": target}
              for n in envs]  # fmt: skip
    points += [{"env": "CartPole-v1", "num_envs": 4, "num_seeds": s, "num_steps": 128, "target_steps": target}
               for s in seeds if not (s == 1 and 4 in envs)]  # fmt: skip
    points += [{"env": "gymnasium:CartPole-v1", "num_envs": n, "num_seeds": 1, "num_steps": 128,
                "target_steps": target // 4} for n in bridge_envs]  # fmt: skip
    load = [load_average()]
    result = run_ours({"kind": "scaling", "points": points}, args.timeout * 4)
    for p in result["points"]:
        print(f"  scaling {p['env']:>22} envs={p['num_envs']:>5} seeds={p['num_seeds']:>3}: {p['sps']:>10,.0f} steps/s"
              f"  (first chunk incl. compile {p['first_chunk_s']:.1f} s)", flush=True)  # fmt: skip
    load.append(load_average())
    return {**result, "load_average": load}


def _report(name: str, r: dict) -> None:
    sps = r.get("sps_after_compile", r.get("sps"))
    ret = r.get("eval_return")
    print(f"  {name:>20}: {sps:>9,.0f} steps/s, process {r['process_wall_s']:.1f} s wall {r['process_cpu_s']:.1f} s CPU"
          + ("" if ret is None else f", eval return {ret:.1f}"), flush=True)  # fmt: skip


def ratio_table(cart: dict, cheetah: dict, scaling: dict | None) -> list[dict]:
    s = cart["summary"]
    sb3 = s["sb3"]
    rows = [
        ("compiled CartPole steps/s", s["ours_compiled_cold"]["sps"], sb3["sps"]),
        ("compiled CartPole wall time to 475", s["ours_compiled_cold"]["mean_wall_s_solved"], sb3["mean_wall_s_solved"]),
        ("compiled CartPole wall time to 475 (warm compile cache)", s["ours_compiled_warm"]["mean_wall_s_solved"],
         sb3["mean_wall_s_solved"]),
        ("bridge CartPole steps/s", s["ours_bridge"]["sps"], sb3["sps"]),
        ("bridge CartPole wall time to 475", s["ours_bridge"]["mean_wall_s_solved"], sb3["mean_wall_s_solved"]),
        ("HalfCheetah-v5 steps/s", cheetah["ours"]["sps_after_compile"], cheetah["sb3"]["sps"]),
        ("HalfCheetah-v5 steps/s (incl. compile)", cheetah["ours"]["sps_incl_compile"], cheetah["sb3"]["sps"]),
    ]  # fmt: skip
    if scaling is not None:  # other settings than SB3's: what the compiled path does when the update is lighter
        compiled = [p for p in scaling["points"] if p["env"] == "CartPole-v1"]
        purejaxrl = [p for p in compiled if p["num_envs"] == 4 and p["num_seeds"] == 1][:1]
        best = max(compiled, key=lambda p: p["sps"])
        if purejaxrl:
            rows.append(("compiled CartPole steps/s, 4 envs x 128 steps, 4 epochs x 4 minibatches (vs SB3 RL-Zoo)",
                         purejaxrl[0]["sps"], sb3["sps"]))  # fmt: skip
        rows.append((f"compiled CartPole steps/s, best scaling point ({best['num_envs']} envs x {best['num_seeds']} "
                     "seeds, vs SB3 RL-Zoo)", best["sps"], sb3["sps"]))  # fmt: skip
    table = []
    for name, ours, theirs in rows:
        ratio = ours / theirs if theirs and math.isfinite(theirs) else math.nan
        op, target = TARGETS.get(name, (None, None))
        met = None if op is None else (ratio >= target if op == ">=" else ratio <= target)
        table.append({"metric": name, "ours": ours, "sb3": theirs, "ratio": ratio,
                      "target": None if op is None else f"{op} {target:g}", "met": met})  # fmt: skip
    return table


def print_table(table: list[dict]) -> None:
    print("\n| metric | seuseuro | SB3 | ratio ours/SB3 | target | met |")
    print("|---|---:|---:|---:|---|---|")
    for row in table:
        met = "" if row["met"] is None else ("yes" if row["met"] else "**no**")
        print(f"| {row['metric']} | {row['ours']:,.1f} | {row['sb3']:,.1f} | {row['ratio']:.2f} | "
              f"{row['target'] or ''} | {met} |")  # fmt: skip


def plot_scaling(scaling: dict, sb3_cartpole_sps: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = scaling["points"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for env_id, label, style in (("CartPole-v1", "compiled (JAX-native)", "o-"),
                                 ("gymnasium:CartPole-v1", "Gymnasium bridge", "s--")):  # fmt: skip
        by_envs = {p["num_envs"]: p for p in pts if p["env"] == env_id and p["num_seeds"] == 1}
        sel = sorted(by_envs.values(), key=lambda p: p["num_envs"])
        ax1.plot([p["num_envs"] for p in sel], [p["sps"] for p in sel], style, label=label)
    ax1.axhline(sb3_cartpole_sps, color="gray", ls=":", label="SB3 (8 envs, RL-Zoo settings)")
    ax1.set(xscale="log", yscale="log", xlabel="parallel environments (1 seed)", ylabel="env steps / s",
            title="PPO CartPole-v1: steps/s vs environments")  # fmt: skip
    ax1.legend(fontsize=8)
    by_seeds = {p["num_seeds"]: p for p in pts if p["env"] == "CartPole-v1" and p["num_envs"] == 4}
    sel = sorted(by_seeds.values(), key=lambda p: p["num_seeds"])
    ax2.plot([p["num_seeds"] for p in sel], [p["sps"] for p in sel], "o-", label="compiled, 4 envs per seed")
    ax2.axhline(sb3_cartpole_sps, color="gray", ls=":", label="SB3 (1 seed)")
    ax2.set(xscale="log", yscale="log", xlabel="seeds (vmapped in one program)", ylabel="env steps / s (all seeds)",
            title="PPO CartPole-v1: steps/s vs seeds")  # fmt: skip
    ax2.legend(fontsize=8)
    for ax in (ax1, ax2):
        ax.grid(True, which="both", alpha=0.3)
    fig.text(0.01, 0.01, "128 steps per env, 4 epochs x 4 minibatches; 2-core CPU, load average in ppo_vs_sb3.json",
             fontsize=7, color="gray")  # fmt: skip
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def write_json(path: Path, data: dict) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, default=float))


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "_worker":
        print(json.dumps(worker(json.loads(sys.argv[2]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 seed, 20k HalfCheetah steps, fewer scaling points")
    parser.add_argument(
        "--seeds", type=int, default=None, help="seeds for the CartPole comparison (default 3; quick 1)"
    )
    parser.add_argument("--halfcheetah-steps", type=int, default=None, help="default 49152 (quick 20480)")
    parser.add_argument("--only", choices=["cartpole", "halfcheetah", "scaling"], action="append", default=None,
                        help="run only these sections (repeatable)")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per measured process")
    parser.add_argument("--replot", action="store_true", help="only redraw the plot from benchmarks/out's JSON")
    args = parser.parse_args()
    if args.replot:
        saved = json.loads((OUT / "ppo_vs_sb3.json").read_text())
        plot_scaling(saved["scaling"], saved["cartpole"]["summary"]["sb3"]["sps"], OUT / "ppo_vs_sb3_scaling.png")
        return
    seeds = list(range(args.seeds or (1 if args.quick else 3)))
    cheetah_steps = args.halfcheetah_steps or (20_480 if args.quick else 49_152)
    sections = set(args.only or ["cartpole", "halfcheetah", "scaling"])
    OUT.mkdir(parents=True, exist_ok=True)

    python = peer_python()
    import platform

    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    run_info = {
        "mode": "quick" if args.quick else "full",
        "command": " ".join(["python", *sys.argv]),
        "started": started,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "versions": _versions(python),
        "git": _git_state(),
        "uptime": _uptime(),
    }
    result: dict = run_info
    if args.only and (OUT / "ppo_vs_sb3.json").exists():  # re-run some sections, keep the others
        result = json.loads((OUT / "ppo_vs_sb3.json").read_text())
        result.setdefault("reruns", []).append({**run_info, "sections": sorted(sections)})
    print(f"{run_info['mode']} run, {started}, commit {run_info['git']['commit']}; {run_info['uptime']}", flush=True)
    if "cartpole" in sections:
        print(f"CartPole-v1, 100k steps, RL-Zoo settings, seeds {seeds}:", flush=True)
        result["cartpole"] = cartpole_section(python, seeds, args)
    if "halfcheetah" in sections:
        print(f"HalfCheetah-v5, {cheetah_steps} steps:", flush=True)
        result["halfcheetah"] = halfcheetah_section(python, cheetah_steps, args)
    if "scaling" in sections:
        print("scaling (CartPole-v1):", flush=True)
        result["scaling"] = scaling_section(args)
    if "cartpole" in result and "halfcheetah" in result:
        result["ratios"] = ratio_table(result["cartpole"], result["halfcheetah"], result.get("scaling"))
        print_table(result["ratios"])
        _print_cartpole_details(result["cartpole"])
    if "scaling" in result:
        sb3_sps = result["cartpole"]["summary"]["sb3"]["sps"] if "cartpole" in result else 7300.0
        plot_path = OUT / "ppo_vs_sb3_scaling.png"
        plot_scaling(result["scaling"], sb3_sps, plot_path)
        result["scaling_plot"] = str(plot_path.relative_to(REPO))
        print(f"\nscaling plot: {plot_path}")
    result["finished"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    result["uptime_end"] = _uptime()
    result["git_end"] = _git_state()  # other engineers commit during long runs: note if src changed
    write_json(OUT / "ppo_vs_sb3.json", result)
    print(f"results: {OUT / 'ppo_vs_sb3.json'}")


def _print_cartpole_details(cart: dict) -> None:
    print("\n| CartPole-v1 (100k steps) | steps/s | solved (eval >= 475) | mean eval return | mean process wall s "
          "| mean process CPU s |")  # fmt: skip
    print("|---|---:|---|---:|---:|---:|")
    for name, s in cart["summary"].items():
        print(f"| {name} | {s['sps']:,.0f} | {s['solved']} | {s['mean_eval_return']:.1f} | {s['mean_wall_s_all']:.1f} "
              f"| {s.get('mean_cpu_s_all', math.nan):.1f} |")  # fmt: skip
    ours = cart["runs"]["ours_compiled_cold"]
    print(f"ours compiled, cold: import {mean([r['import_s'] for r in ours]):.1f} s, compile ~"
          f"{mean([r['compile_s_est'] for r in ours]):.1f} s, eval {mean([r['eval_s'] for r in ours]):.1f} s")  # fmt: skip


def _git_state() -> dict:
    def git(*cmd):
        return subprocess.run(["git", *cmd], capture_output=True, text=True, cwd=REPO).stdout.strip()

    return {"commit": git("rev-parse", "--short", "HEAD"), "src_changes": git("status", "--short", "src")}


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def _versions(peer: Path) -> dict:
    import jax

    code = "import stable_baselines3, torch, gymnasium; print(stable_baselines3.__version__, torch.__version__, gymnasium.__version__)"  # noqa: E501
    sb3, torch, gym = subprocess.run([str(peer), "-c", code], capture_output=True, text=True).stdout.split()
    return {"jax": jax.__version__, "sb3": sb3, "torch": torch, "peer_gymnasium": gym}


if __name__ == "__main__":
    main()
