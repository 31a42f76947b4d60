"""DQN and SAC side by side with Stable-Baselines3, sbx and rejax on this machine, in one run (issue 11, item 6).

    python benchmarks/offpolicy_vs_peers.py                   # all sections, 3 seeds (~30-40 min on 2 loaded cores)
    python benchmarks/offpolicy_vs_peers.py --only sac        # re-run sections (dqn, sac, scaling), keep the others
    python benchmarks/offpolicy_vs_peers.py --replot          # redraw the plot from the JSON

Every measured program runs in a fresh process under ``nice -n 10`` (so imports and compilation
count as a user pays them), seeds interleaved ours / SB3 / sbx / rejax. The peers run with the
python of their own virtual environment (``--venvs``, default /work/peer-venvs/{sb3,sbx,rejax}; each
created with its ``PEER_PACKAGES`` on first use; nothing is installed into the project's python).
SB3 runs the reference scripts of ../shared/peers as they are; sbx and rejax run
benchmarks/peers/*.py, written to the same settings and printing the same one-line format.

Settings (the same on every side as far as each library allows; differences in BENCHMARKS.md):
1. DQN, CartPole-v1, RL-Zoo's set (the SB3 script): 256x256 ReLU, 50k steps, batch 64, buffer 100k,
   learning starts 1000, 128 gradient steps every 256 env steps, target copied after each round,
   lr 2.3e-3, epsilon 1 -> 0.04 over 16%, Huber loss, grad-norm clip 10. Ours compiled (JAX-native
   CartPole) and through the Gymnasium collector (``gymnasium:CartPole-v1``). rejax has no train
   frequency: 2 envs x 1 step and 1 gradient step per round is the same 0.5 gradient steps per env step.
   Measured: steps/s (ours and rejax also after compilation) and the whole process's wall time,
   for runs whose 10-episode greedy evaluation reaches 475.
2. SAC, Pendulum-v1, RL-Zoo's set (the SB3 script: SB3's defaults, lr 1e-3): 256x256, batch 256,
   buffer 1M, learning starts 100, one gradient step per env step, automatic temperature from 1.
   Short runs (``--sac-steps``, default 3000): steps/s only.
3. Seeds vmapped in one program, ours and rejax: DQN CartPole with CleanRL's lighter set (120x84,
   1 gradient step of batch 128 every 10 env steps, as 10 envs x 1 step) so that the env and replay, not one big
   gradient step, set the pace; steps/s of all seeds together, after compilation.
4. ``split``: where a DQN env step's time goes, ours (compiled and collector), SB3 and sbx: set 1 with epsilon
   held at 0.04, ``--split-steps`` env steps timed with training and as many with collection only (no
   gradient steps; the peers' ``gradient_steps=0``), after a warm-up past learning_starts. The difference is
   the update's share per env step.
5. ``sac_mujoco``: SAC on HalfCheetah-v5 through the Gymnasium collector vs SB3 and sbx (RL-Zoo's set = SB3's
   defaults: 256x256, batch 256, lr 3e-4, one gradient step per env step), learning from step 100 so that
   short runs (``--mujoco-steps``) time learning steps; steps/s after the first chunk / 200 steps.

Writes benchmarks/out/offpolicy_vs_peers.json and benchmarks/out/offpolicy_vs_peers_seeds.png and
prints a Markdown table of ratios against the issue's targets (compiled >= 10x SB3 and >= 1x rejax;
Gymnasium collector >= 1.5x sbx). The machine is shared: the load average is recorded per section;
read the ratios, not absolute numbers.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

from seuseuro.core.checkpoint import atomic_write_bytes, atomic_write_text

REPO = Path(__file__).resolve().parents[1]
# shared/ sits beside the repository (/work/main -> /work/shared), or two levels up from a worktree
SHARED_PEERS = next((p / "shared" / "peers" for p in (REPO.parent, REPO.parent.parent) if (p / "shared").is_dir()),
                    REPO.parent / "shared" / "peers")  # fmt: skip
OUR_PEERS = REPO / "benchmarks" / "peers"
OUT = REPO / "benchmarks" / "out"
SOLVED = 475.0
PEER_PACKAGES = {
    "sb3": ["stable-baselines3==2.9.2", "torch==2.13.0", "gymnasium[mujoco]", "mujoco==4.0.0"],
    "sbx": ["sbx-rl==0.28.0", "gymnasium[mujoco]", "mujoco==4.0.0"],
    "rejax": ["rejax==0.1.3", "gymnax==0.0.9"],  # gymnax 1.0 changed step()'s outputs: rejax 0.1.3 fails on it
}
PEER_SCRIPTS = {  # (library, task) -> script
    ("sb3", "dqn"): SHARED_PEERS / "sb3_dqn_cartpole.py",
    ("sb3", "sac"): SHARED_PEERS / "sb3_sac_pendulum.py",
    ("sbx", "dqn"): OUR_PEERS / "sbx_dqn_cartpole.py",
    ("sbx", "sac"): OUR_PEERS / "sb3_family_sac.py",
    ("rejax", "dqn"): OUR_PEERS / "rejax_dqn_cartpole.py",
    ("rejax", "sac"): OUR_PEERS / "rejax_sac_pendulum.py",
    ("rejax", "scaling"): OUR_PEERS / "rejax_seeds_scaling.py",
    ("sb3", "dqn_split"): OUR_PEERS / "sb3_family_dqn_split.py",
    ("sbx", "dqn_split"): OUR_PEERS / "sb3_family_dqn_split.py",
    ("sb3", "sac_mujoco"): OUR_PEERS / "sb3_family_sac.py",
    ("sbx", "sac_mujoco"): OUR_PEERS / "sb3_family_sac.py",
}

# RL-Zoo's CartPole DQN set, as the SB3 reference script has it (see the module docstring).
DQN_RLZOO = dict(
    total_steps=50_000, num_envs=1, num_steps=256, gradient_steps=128, batch_size=64, buffer_size=100_000,
    learning_starts=1_000, learning_rate=2.3e-3, gamma=0.99, target_update_period=256, tau=1.0,
    end_epsilon=0.04, exploration_fraction=0.16, loss="huber", hidden_sizes=(256, 256), max_grad_norm=10.0,
)  # fmt: skip
# RL-Zoo's Pendulum SAC set = SB3's defaults with lr 1e-3 (the SB3 reference script).
SAC_RLZOO = dict(
    num_envs=1, num_steps=1, gradient_steps=1, buffer_size=1_000_000, batch_size=256, learning_starts=100,
    gamma=0.99, tau=0.005, actor_lr=1e-3, critic_lr=1e-3, policy_frequency=1, autotune=True, alpha=1.0,
    hidden_sizes=(256, 256),
)  # fmt: skip
# CleanRL's CartPole DQN set (our default), for the seeds sweep.
# 10 envs x 1 step (not 1 x 10) because rejax steps every env once per round.
DQN_LIGHT = dict(num_envs=10, num_steps=1, gradient_steps=1, batch_size=128, buffer_size=10_000,
                 learning_starts=1_000, hidden_sizes=(120, 84))  # fmt: skip
TARGETS = {"SB3": 10.0, "rejax": 1.0, "sbx": 1.5}


# =================================================================================================
# Our side: a worker process (fresh interpreter per measurement)
# =================================================================================================


def worker(spec: dict) -> dict:
    """One measurement of ours, described by ``spec``; returns its numbers (printed as one JSON line)."""
    t_start = time.perf_counter()
    import jax
    import numpy as np

    from seuseuro.algos import dqn, sac
    from seuseuro.collect.evaluate import evaluate
    from seuseuro.envs.registry import make

    if spec["kind"] == "scaling":
        return {"points": [_scaling_point(p, dqn, make) for p in spec["points"]]}
    if spec["kind"] == "split":
        return _split_point(spec, dqn, make)
    module = {"dqn": dqn, "sac": sac}[spec["algo"]]
    config = module.Config(**{**spec["config"], "hidden_sizes": tuple(spec["config"]["hidden_sizes"])})
    env = make(spec["env"])
    chunk = spec["chunk_updates"]
    trainer = module.make_train(config, env, num_seeds=1, updates_per_chunk=chunk)
    t0 = time.perf_counter()
    state = trainer.init(jax.random.split(jax.random.PRNGKey(spec["seed"]), 1))
    done, chunks = 0, []
    while done < trainer.num_updates:
        n = min(chunk, trainer.num_updates - done)
        t = time.perf_counter()
        state, metrics = trainer.run_chunk(state, n)
        jax.block_until_ready(state)
        chunks.append((n, time.perf_counter() - t))
        done += n
    train_s = time.perf_counter() - t0
    steps = done * trainer.steps_per_update
    # after compilation: every chunk but the first (full chunks only; the last may be partial)
    rest = [(n, s) for n, s in chunks[1:] if n == chunk] or chunks[1:]
    rest_steps, rest_s = sum(n for n, _ in rest) * trainer.steps_per_update, sum(s for _, s in rest)
    result = {"algo": spec["algo"], "env": spec["env"], "seed": spec["seed"], "steps": steps, "train_s": train_s,
              "sps": steps / train_s, "sps_after_compile": rest_steps / rest_s if rest_s else math.nan,
              "first_chunk_s": chunks[0][1]}  # fmt: skip
    if spec.get("eval_episodes"):
        act, params = module.policy_for_eval(config, jax.tree.map(lambda x: x[0], state))
        returns = evaluate(act, params, env, 1000 + spec["seed"], spec["eval_episodes"])
        result["eval_return"] = float(np.mean(returns))
    result["in_process_s"] = time.perf_counter() - t_start
    return result


def _scaling_point(point: dict, dqn, make) -> dict:
    """Steps/s of all seeds together at one seed count: compile with a first chunk, time the second."""
    import jax

    seeds, updates = point["num_seeds"], point["updates"]
    config = dqn.Config(**{**DQN_LIGHT, "total_steps": 2 * updates * 10, "learning_starts": 0})
    trainer = dqn.make_train(config, make("CartPole-v1"), num_seeds=seeds, updates_per_chunk=updates)
    t0 = time.perf_counter()
    state = trainer.init(jax.random.split(jax.random.PRNGKey(0), seeds))
    state, _ = trainer.run_chunk(state, updates)
    jax.block_until_ready(state)
    first_s = time.perf_counter() - t0
    t = time.perf_counter()
    state, _ = trainer.run_chunk(state, updates)
    jax.block_until_ready(state)
    seconds = time.perf_counter() - t
    steps = updates * trainer.steps_per_update * seeds
    return {"num_seeds": seeds, "steps_timed": steps, "seconds": seconds, "sps": steps / seconds,
            "first_chunk_s": first_s}  # fmt: skip


def _split_point(spec: dict, dqn, make) -> dict:
    """DQN (RL-Zoo set, epsilon held at 0.04) timed with training and with collection only (learning never
    starts), each after a compiling warm-up chunk: where an env step's time goes."""
    import jax

    steps = spec["steps"]
    out = {"algo": "dqn", "env": spec["env"], "seed": spec["seed"], "steps": steps}
    for name, starts in (("train", 1_000), ("collect", 10**9)):
        config = dqn.Config(**{**DQN_RLZOO, "hidden_sizes": tuple(DQN_RLZOO["hidden_sizes"]), "total_steps": 10**9,
                               "start_epsilon": 0.04, "learning_starts": starts})  # fmt: skip
        trainer = dqn.make_train(config, make(spec["env"]), num_seeds=1, updates_per_chunk=8)
        state = trainer.init(jax.random.split(jax.random.PRNGKey(spec["seed"]), 1))
        state, _ = trainer.run_chunk(state, 8)  # 2048 steps: compiles, and passes learning_starts
        jax.block_until_ready(state)
        n = steps // trainer.steps_per_update
        t = time.perf_counter()
        state, _ = _run_updates(trainer, state, n)
        seconds = time.perf_counter() - t
        key = "sps" if name == "train" else "collect_sps"
        out[key] = n * trainer.steps_per_update / seconds
        out[key.replace("sps", "us_per_step")] = seconds / (n * trainer.steps_per_update) * 1e6
    return out


def _run_updates(trainer, state, n: int):
    import jax

    done, metrics = 0, None
    while done < n:
        k = min(8, n - done)
        state, metrics = trainer.run_chunk(state, k)
        done += k
    jax.block_until_ready(state)
    return state, metrics


def run_ours(spec: dict, timeout: float) -> dict:
    env = dict(os.environ, JAX_PLATFORMS="cpu", SEUSEURO_JAX_CACHE="off", PYTHONPATH=str(REPO / "src"))
    cmd = ["nice", "-n", "10", sys.executable, str(Path(__file__).resolve()), "_worker", json.dumps(spec)]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"worker failed ({proc.returncode}): {proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = wall
    return result


# =================================================================================================
# The peers, each in its own virtual environment
# =================================================================================================


def peer_python(venvs: Path, lib: str) -> Path:
    """``venvs/lib/bin/python``, creating the venv with ``PEER_PACKAGES[lib]`` on first use."""
    python = venvs / lib / "bin" / "python"
    modules = {"sb3": "stable_baselines3, mujoco", "sbx": "sbx, mujoco", "rejax": "rejax"}[lib]
    if (
        python.exists()
        and subprocess.run([str(python), "-c", f"import {modules}"], capture_output=True).returncode == 0
    ):
        return python
    print(f"creating the peer environment {venvs / lib} ({' '.join(PEER_PACKAGES[lib])}) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venvs / lib)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES[lib]], check=True)
    return python


def parse_peer_line(line: str) -> dict:
    """``sb3 dqn cartpole seed=0 steps=50000 train_s=91.2 sps=548 eval_return=500.0`` -> dict."""
    out: dict = {"lib": line.split()[0]}
    for token in line.split():
        if "=" in token:
            name, value = token.split("=", 1)
            out[name] = float(value)
    return out


def run_peer(python: Path, lib: str, task: str, args: list, timeout: float) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", JAX_PLATFORMS="cpu")
    env.pop("PYTHONPATH", None)
    cmd = ["nice", "-n", "10", str(python), str(PEER_SCRIPTS[(lib, task)]), *map(str, args)]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{lib} {task} failed ({proc.returncode}): {proc.stderr[-3000:]}")
    if task == "scaling":
        return json.loads(proc.stdout.strip().splitlines()[-1])
    lines = [s for s in proc.stdout.splitlines() if s.startswith(f"{lib} ")]
    result = parse_peer_line(lines[-1])
    result["process_wall_s"] = wall
    return result


# =================================================================================================
# The sections
# =================================================================================================


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def mean(values) -> float:
    values = [v for v in values if v is not None and math.isfinite(v)]
    return sum(values) / len(values) if values else math.nan


def _safe(fn, *args) -> dict:
    """One measurement; a failure is recorded (and printed) instead of ending the whole run."""
    try:
        return fn(*args)
    except Exception as error:  # noqa: BLE001 - a benchmark keeps going past one failed program
        print(f"  FAILED: {str(error)[-600:]}", flush=True)
        return {"error": str(error)[-3000:], "sps": math.nan, "process_wall_s": math.nan}


def _report(name: str, r: dict) -> None:
    if "error" in r:
        return
    extra = f", after compile {r['sps_after_compile']:,.0f}" if "sps_after_compile" in r else ""
    ret = f", eval return {r['eval_return']:.1f}" if "eval_return" in r else ""
    print(f"  {name:>16} seed {int(r.get('seed', 0))}: {r['sps']:>8,.0f} steps/s{extra}, "
          f"process {r['process_wall_s']:.1f} s{ret}  (load {load_average()})", flush=True)  # fmt: skip


def summarize(runs: dict[str, list]) -> dict:
    out = {}
    for name, rs in runs.items():
        solved = [r for r in rs if r.get("eval_return", -math.inf) >= SOLVED]
        out[name] = {
            "sps": mean([r["sps"] for r in rs]),
            "sps_after_compile": mean([r.get("sps_after_compile") for r in rs]),
            # after compilation where the side compiles (ours, sbx's SAC, rejax), else the whole run (SB3)
            "sps_steady": mean([r.get("sps_after_compile", r["sps"]) for r in rs]),
            "mean_wall_s": mean([r["process_wall_s"] for r in rs]),
            "solved": f"{len(solved)}/{len(rs)}" if any("eval_return" in r for r in rs) else None,
            "mean_wall_s_solved": mean([r["process_wall_s"] for r in solved]),
            "eval_returns": [r.get("eval_return") for r in rs],
        }
    return out


def dqn_section(pythons: dict, seeds: list[int], args) -> dict:
    steps = DQN_RLZOO["total_steps"]
    ours = {"kind": "train", "algo": "dqn", "config": DQN_RLZOO, "chunk_updates": 10, "eval_episodes": 10}
    runs: dict[str, list] = {"ours_compiled": [], "ours_collector": [], "sb3": [], "sbx": [], "rejax": []}
    load = [load_average()]
    for seed in seeds:
        for name, env_id in (("ours_compiled", "CartPole-v1"), ("ours_collector", "gymnasium:CartPole-v1")):
            runs[name].append(_safe(run_ours, dict(ours, env=env_id, seed=seed), args.timeout))
            _report(name, runs[name][-1])
        for lib in ("sb3", "sbx", "rejax"):
            runs[lib].append(_safe(run_peer, pythons[lib], lib, "dqn", [seed, steps], args.timeout))
            _report(lib, runs[lib][-1])
        load.append(load_average())
    return {"runs": runs, "summary": summarize(runs), "load_average": load}


def sac_section(pythons: dict, seeds: list[int], args) -> dict:
    steps = args.sac_steps
    ours = {"kind": "train", "algo": "sac", "config": dict(SAC_RLZOO, total_steps=steps), "chunk_updates": 100}
    runs: dict[str, list] = {"ours_compiled": [], "ours_collector": [], "sb3": [], "sbx": [], "rejax": []}
    load = [load_average()]
    for seed in seeds:
        for name, env_id in (("ours_compiled", "Pendulum-v1"), ("ours_collector", "gymnasium:Pendulum-v1")):
            runs[name].append(_safe(run_ours, dict(ours, env=env_id, seed=seed), args.timeout))
            _report(name, runs[name][-1])
        for lib in ("sb3", "sbx", "rejax"):
            # SB3 and rejax: SEED STEPS; sbx runs the SB3-family script, which takes the env and learning rate too
            peer_args = ["sbx", "Pendulum-v1", seed, steps, SAC_RLZOO["actor_lr"]] if lib == "sbx" else [seed, steps]
            runs[lib].append(_safe(run_peer, pythons[lib], lib, "sac", peer_args, args.timeout))
            _report(lib, runs[lib][-1])
        load.append(load_average())
    return {"runs": runs, "summary": summarize(runs), "load_average": load}


def split_section(pythons: dict, seeds: list[int], args) -> dict:
    """DQN CartPole (RL-Zoo set): microseconds per env step with training and with collection only."""
    steps = args.split_steps
    runs: dict[str, list] = {"ours_compiled": [], "ours_collector": [], "sb3": [], "sbx": []}
    load = [load_average()]
    for seed in seeds:
        for name, env_id in (("ours_compiled", "CartPole-v1"), ("ours_collector", "gymnasium:CartPole-v1")):
            runs[name].append(_safe(run_ours, {"kind": "split", "env": env_id, "seed": seed, "steps": steps},
                                    args.timeout))  # fmt: skip
        for lib in ("sb3", "sbx"):
            runs[lib].append(_safe(run_peer, pythons[lib], lib, "dqn_split", [lib, seed, steps], args.timeout))
        for name, rs in runs.items():
            r = rs[-1]
            if "error" not in r:
                print(f"  {name:>16} seed {seed}: {r['us_per_step']:7.0f} us per env step training, "
                      f"{r['collect_us_per_step']:7.0f} collecting only  (load {load_average()})", flush=True)  # fmt: skip
        load.append(load_average())
    summary = {
        name: {k: mean([r.get(k) for r in rs]) for k in ("us_per_step", "collect_us_per_step", "sps", "collect_sps")}
        for name, rs in runs.items()
    }
    for v in summary.values():
        v["update_us_per_step"] = v["us_per_step"] - v["collect_us_per_step"]
    return {"runs": runs, "summary": summary, "load_average": load, "steps": steps}


def sac_mujoco_section(pythons: dict, seeds: list[int], args) -> dict:
    """SAC on HalfCheetah-v5 through the Gymnasium collector vs SB3 and sbx: steps/s of short runs."""
    steps, env_id = args.mujoco_steps, "HalfCheetah-v5"
    config = dict(SAC_RLZOO, total_steps=steps, actor_lr=3e-4, critic_lr=3e-4)  # RL-Zoo HalfCheetah = SB3 defaults
    ours = {"kind": "train", "algo": "sac", "config": config, "chunk_updates": 100, "env": f"gymnasium:{env_id}"}
    runs: dict[str, list] = {"ours_collector": [], "sb3": [], "sbx": []}
    load = [load_average()]
    for seed in seeds:
        runs["ours_collector"].append(_safe(run_ours, dict(ours, seed=seed), args.timeout))
        _report("ours_collector", runs["ours_collector"][-1])
        for lib in ("sb3", "sbx"):
            peer_args = [lib, env_id, seed, steps, config["actor_lr"]]
            runs[lib].append(_safe(run_peer, pythons[lib], lib, "sac_mujoco", peer_args, args.timeout))
            _report(lib, runs[lib][-1])
        load.append(load_average())
    return {"runs": runs, "summary": summarize(runs), "load_average": load, "steps": steps}


def scaling_section(pythons: dict, args) -> dict:
    seeds = [1, 4, 16, 64]
    updates = args.scaling_updates
    points = [{"num_seeds": s, "updates": updates} for s in seeds]
    load = [load_average()]
    ours, rejax = [], []
    for p in points:  # interleaved point by point
        ours += _safe(run_ours, {"kind": "scaling", "points": [p]}, args.timeout).get("points", [dict(p, sps=math.nan)])
        rejax.append(
            _safe(run_peer, pythons["rejax"], "rejax", "scaling", [p["num_seeds"], updates * 10], args.timeout)
        )
        print(f"  seeds {p['num_seeds']:>3}: ours {ours[-1]['sps']:>10,.0f} steps/s, rejax {rejax[-1]['sps']:>10,.0f}"
              f"  (load {load_average()})", flush=True)  # fmt: skip
        load.append(load_average())
    return {"ours": ours, "rejax": rejax, "load_average": load, "setting": DQN_LIGHT}


# =================================================================================================
# Ratios, table, plot
# =================================================================================================


def ratio_table(results: dict) -> list[dict]:
    rows = []

    def add(metric, ours, peer, peer_value, lower_is_better=False):
        ratio = (peer_value / ours if lower_is_better else ours / peer_value) if ours and peer_value else math.nan
        target = TARGETS.get(peer)
        rows.append({"metric": metric, "ours": ours, "peer": peer, "peer_value": peer_value, "ratio": ratio,
                     "target": target, "met": None if target is None or math.isnan(ratio) else ratio >= target})  # fmt: skip

    for task, title in (("dqn", "DQN CartPole"), ("sac", "SAC Pendulum")):
        if task not in results:
            continue
        s = results[task]["summary"]
        # DQN: whole 50k-step runs, compilation included on every side; SAC: short runs, after compilation
        rate = "sps" if task == "dqn" else "sps_steady"
        how = "whole run incl. compilation" if task == "dqn" else "after compilation"
        for peer, name in (("sb3", "SB3"), ("rejax", "rejax"), ("sbx", "sbx (compiled vs)")):
            add(f"{title} steps/s ({how}), compiled vs {name}", s["ours_compiled"][rate], name.split()[0],
                s[peer][rate])  # fmt: skip
        if task == "dqn":
            add(f"{title} steps/s after compilation, compiled vs rejax", s["ours_compiled"]["sps_after_compile"],
                "rejax", s["rejax"]["sps_after_compile"])  # fmt: skip
        add(f"{title} steps/s ({how}), Gymnasium collector vs sbx", s["ours_collector"][rate], "sbx", s["sbx"][rate])
        add(f"{title} steps/s ({how}), Gymnasium collector vs SB3", s["ours_collector"][rate], "SB3 (collector)",
            s["sb3"][rate])  # fmt: skip
        if task == "dqn":
            for peer, name in (("sb3", "SB3"), ("sbx", "sbx"), ("rejax", "rejax")):
                add(f"DQN CartPole process wall time to 475 (SB3/ours: speed-up), compiled vs {name}",
                    s["ours_compiled"]["mean_wall_s_solved"], name + " (wall)", s[peer]["mean_wall_s_solved"],
                    lower_is_better=True)  # fmt: skip
    if "split" in results:
        s = results["split"]["summary"]
        for part, key in (("whole step", "us_per_step"), ("collection only", "collect_us_per_step"),
                          ("update share", "update_us_per_step")):  # fmt: skip
            for peer, name in (("sbx", "sbx"), ("sb3", "SB3 (collector)")):
                add(f"DQN CartPole us per env step, {part} (speed-up), Gymnasium collector vs {name}",
                    s["ours_collector"][key], name + " (split)", s[peer][key], lower_is_better=True)  # fmt: skip
    if "sac_mujoco" in results:
        s = results["sac_mujoco"]["summary"]
        add("SAC HalfCheetah-v5 steps/s after compilation, Gymnasium collector vs sbx", s["ours_collector"]["sps_steady"],
            "sbx", s["sbx"]["sps_steady"])  # fmt: skip
        add("SAC HalfCheetah-v5 steps/s after compilation, Gymnasium collector vs SB3", s["ours_collector"]["sps_steady"],
            "SB3 (collector)", s["sb3"]["sps_steady"])  # fmt: skip
    if "scaling" in results:
        for o, r in zip(results["scaling"]["ours"], results["scaling"]["rejax"], strict=True):
            add(f"DQN CartPole (CleanRL set) steps/s at {o['num_seeds']} seeds vmapped", o["sps"], "rejax", r["sps"])
    return rows


def print_table(rows: list[dict]) -> None:
    print("\n| metric | seuseuro | peer | peer's | ratio | target | met |")
    print("|---|---:|---|---:|---:|---|---|")
    for r in rows:
        met = "" if r["met"] is None else ("yes" if r["met"] else "**no**")
        target = "" if r["target"] is None else f">= {r['target']:g}"
        print(f"| {r['metric']} | {r['ours']:,.1f} | {r['peer']} | {r['peer_value']:,.1f} | {r['ratio']:.2f} | "
              f"{target} | {met} |")  # fmt: skip


def plot_scaling(scaling: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2))
    for points, label, style in ((scaling["ours"], "seuseuro (compiled)", "o-"), (scaling["rejax"], "rejax", "s--")):
        points = [p for p in points if "num_seeds" in p and math.isfinite(p["sps"])]
        ax.plot([p["num_seeds"] for p in points], [p["sps"] for p in points], style, label=label)
    ax.set(xscale="log", yscale="log", xlabel="seeds (vmapped in one program)", ylabel="env steps / s (all seeds)",
           title="DQN CartPole-v1 (CleanRL set): steps/s vs seeds")  # fmt: skip
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.text(0.01, 0.01, f"2-core shared CPU, load {scaling['load_average']}; after compilation", fontsize=7,
             color="gray")  # fmt: skip
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def write_json(path: Path, data: dict) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, default=float))


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "_worker":
        print(json.dumps(worker(json.loads(sys.argv[2]))), flush=True)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--only", nargs="+", choices=["dqn", "sac", "scaling", "split", "sac_mujoco"],
                        default=["scaling", "sac", "dqn", "split", "sac_mujoco"])  # fmt: skip
    parser.add_argument("--sac-steps", type=int, default=3_000)
    parser.add_argument("--split-steps", type=int, default=10_240, help="env steps timed per part of the DQN split")
    parser.add_argument("--mujoco-steps", type=int, default=1_200, help="SAC HalfCheetah-v5 steps per run")
    parser.add_argument("--scaling-updates", type=int, default=200, help="updates (10 env steps each) per seed timed")
    parser.add_argument("--venvs", type=Path, default=Path("/work/peer-venvs"))
    parser.add_argument("--timeout", type=float, default=1_800)
    parser.add_argument("--replot", action="store_true")
    parser.add_argument("--out", type=Path, default=OUT / "offpolicy_vs_peers.json", help="JSON results (merged)")
    args = parser.parse_args()
    path = args.out
    results = json.loads(path.read_text()) if path.exists() else {}
    if not args.replot:
        pythons = {lib: peer_python(args.venvs, lib) for lib in PEER_PACKAGES}
        sections = {"dqn": lambda: dqn_section(pythons, args.seeds, args),
                    "sac": lambda: sac_section(pythons, args.seeds, args),
                    "scaling": lambda: scaling_section(pythons, args),
                    "split": lambda: split_section(pythons, args.seeds, args),
                    "sac_mujoco": lambda: sac_mujoco_section(pythons, args.seeds, args)}  # fmt: skip
        OUT.mkdir(parents=True, exist_ok=True)
        for name in args.only:
            print(f"== {name}", flush=True)
            results[name] = {**sections[name](), "measured_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}
            results["ratios"] = ratio_table(results)
            write_json(path, results)
    rows = ratio_table(results)
    print_table(rows)
    if "scaling" in results:
        plot_scaling(results["scaling"], OUT / "offpolicy_vs_peers_seeds.png")


if __name__ == "__main__":
    main()
