"""Ray features, on one machine (issue 12, item 5): remote env runners equal the local collector bit for bit,
a killed runner is survived, a 4-trial ASHA sweep of PPO on CartPole (`seuseuro sweep` joining the running Ray
with --address) interrupted with Ctrl-C exits 130 and finishes with --resume, writing its table; a killed trial
restarts from its checkpoint and ends as the same trial of the sweep ended; runners spread over a simulated
2-node cluster.

ONE test function on purpose: pytest runs with xdist (`-n auto --dist worksteal`), and Ray tests spread
over several workers would each start a Ray instance on this 2-core machine (~5 s each, fighting over the
same cores and /tmp/ray sockets). One function runs on one worker, starts one `ray.init(num_cpus=2)` and
runs the checks in order (each a named function, so a failure names the feature); the rest of the suite
never starts Ray. Budget: tiny PPO runs (CartPole, 8 one-update chunks of 256 steps). Measured alone (2 cores,
load 4-6 from other work; wall and CPU seconds of the whole process tree, Ray's workers included): 126 s / 91
CPU-s with a warm compile cache, 180 s / 144 CPU-s cold (before one killed trial replaced two twins and Tune
reused trial workers: 179 s / 142 and 218 s / 179). Most of the cold extra is the ASHA sweep compiling one PPO
program per sampled learning rate (PPO's rate is a compile-time constant).
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason='Ray is not installed (pip install "seuseuro[ray]")')


def _tiny_ppo(**overrides):
    from seuseuro.algos import ppo

    base = dict(total_steps=4 * 16 * 3, num_envs=4, num_steps=16, num_epochs=2, num_minibatches=1)
    return ppo.Config(**{**base, **overrides})


def check_remote_runners_equal_local():
    """PPO on Acrobot (a SyncVectorEnv locally): 2 remote runners give the identical state after 3 updates."""
    import jax

    from seuseuro.algos import ppo
    from seuseuro.envs.registry import make
    from seuseuro.scale.remote_envs import RemoteGymnasiumEnv

    env = make("gymnasium:Acrobot-v1")
    states = []
    for e in (env, RemoteGymnasiumEnv.wrap(env, 2, cpus_per_runner=0.5)):
        trainer = ppo.make_train(_tiny_ppo(), e, num_seeds=1, updates_per_chunk=3)
        state, metrics = trainer.run_chunk(trainer.init(jax.random.split(jax.random.PRNGKey(3), 1)), 3)
        states.append(jax.tree.leaves(jax.device_get(state)))
    assert len(states[0]) == len(states[1])
    for a, b in zip(*states, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def check_lost_runner_is_replaced():
    """Kill one of 2 runners mid-episode: the next step replaces it, cuts only its copies, and stepping goes on."""
    from seuseuro.envs.gymnasium import INVALID_INFO_KEY
    from seuseuro.envs.registry import make
    from seuseuro.scale.remote_envs import RemoteGymnasiumEnv

    vec = RemoteGymnasiumEnv.wrap(make("gymnasium:Acrobot-v1"), 2, cpus_per_runner=0.5).make_vec(4, 0)
    obs, _ = vec.reset(seed=0)
    last, _, _, _, info = vec.step(np.zeros(4, np.int64))
    assert not info[INVALID_INFO_KEY].any()
    pid = vec.runner_pids()[1]
    os.kill(pid, signal.SIGKILL)  # the runner's process dies, as on a lost node
    obs, reward, terminated, truncated, info = vec.step(np.zeros(4, np.int64))
    assert vec.restarts == 1
    np.testing.assert_array_equal(info[INVALID_INFO_KEY], [False, False, True, True])
    assert truncated[2:].all() and not truncated[:2].any() and (reward[2:] == 0).all()
    np.testing.assert_array_equal(info["final_obs"][2:], last[2:])  # the cut episodes end where they were
    assert vec.runner_pids()[1] != pid
    for _ in range(3):
        obs, *_ = vec.step(np.ones(4, np.int64))
    assert obs.shape == (4, 6)
    vec.close()


SWEEP_FLAGS = dict(total_steps=2048, num_envs=4, num_steps=64, num_epochs=2)  # 8 updates
# one update per chunk: 8 reports (ASHA rungs at 1, 2, 4) and 8 checkpoints, so that the killed trial below runs
# the sweep's compiled program and still has 6 chunks left when the watcher kills it (with 4 chunks of 2 a loaded
# CI machine could let the trial end before the kill)
CHUNK_UPDATES = 1


def _sweep_cli(*args: str, log) -> subprocess.Popen:
    """`seuseuro sweep ...` in its own session (a terminal's Ctrl-C reaches its whole process group)."""
    cmd = [sys.executable, "-m", "seuseuro.cli", "sweep", *args]
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, text=True)


def check_interrupted_asha_sweep_resumes_and_writes_its_table(tmp_path, address: str) -> tuple[float, Path]:
    """`seuseuro sweep` (4 PPO trials on CartPole, ASHA) joining the running cluster with --address: Ctrl-C once a
    trial has reported exits 130 with one line naming --resume; `--resume` finishes all 4 trials and writes the
    table and plot. Returns a finished trial's sampled learning rate and its final checkpoint (the killed trial
    below reruns it)."""
    from seuseuro.scale.sweep import RESULTS_FILE

    sweep_dir = tmp_path / "asha"
    sets = [f"--set={k}={v}" for k, v in SWEEP_FLAGS.items()]
    log_path = tmp_path / "sweep.log"
    with open(log_path, "w") as log:
        proc = _sweep_cli("ppo", "--env", "CartPole-v1", "--search", "learning_rate=loguniform(1e-4,1e-2)", *sets,
                          "--num-samples", "4", f"--chunk-updates={CHUNK_UPDATES}", "--eval-episodes", "2",
                          "--address", address, "--sweep-dir", str(sweep_dir), log=log)  # fmt: skip
        deadline = time.time() + 240
        while not any(p.stat().st_size for p in sweep_dir.glob("train_trial_*/result.json")):
            assert proc.poll() is None, log_path.read_text()[-3000:]
            assert time.time() < deadline, "no trial reported within 240 s"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
        interrupted_at = time.time()
        rc = proc.wait(timeout=120)
    out = log_path.read_text()
    assert rc == 130, out[-3000:]
    assert time.time() - interrupted_at < 60, "the sweep took over a minute to stop after Ctrl-C"
    assert f"continue with: seuseuro sweep --resume {sweep_dir}" in out, out[-3000:]
    with open(log_path, "w") as log:
        rc = _sweep_cli("--resume", str(sweep_dir), "--address", address, log=log).wait(timeout=300)
    assert rc == 0, log_path.read_text()[-3000:]
    with open(sweep_dir / RESULTS_FILE) as f:
        table = list(csv.DictReader(f))
    assert len(table) == 4 and len({r["trial"] for r in table}) == 4  # each trial once: resumed, not duplicated
    assert {"learning_rate", "episode_return", "eval_return", "eval_ci95_low", "status", "run_dir"} <= set(table[0])
    assert len({r["learning_rate"] for r in table}) == 4  # sampled, not one value
    assert {r["status"] for r in table} <= {"done", "stopped early"}
    done = [r for r in table if r["status"] == "done"]
    assert done and all(np.isfinite(float(r["eval_return"])) for r in done)
    assert (sweep_dir / "plots" / "score_vs_flags.png").stat().st_size > 1000
    for r in table:  # every trial is an ordinary run directory with its chunks logged
        assert (sweep_dir / "runs" / r["trial"] / "config.json").exists()
        assert (sweep_dir / "runs" / r["trial"] / "metrics.csv").exists()
    return float(done[0]["learning_rate"]), sweep_dir / "runs" / done[0]["trial"] / "checkpoints" / "latest.npz"


def _kill_a_worker_after_its_second_checkpoint(sweep_dir, killed: list[str]):
    """Watch Tune's trial directories; SIGKILL the first trial worker once Tune holds its 2nd checkpoint."""
    deadline = time.time() + 180
    while time.time() < deadline and not killed:
        # Tune keeps one checkpoint (num_to_keep=1): checkpoint_000001 may be gone when we look, so any index >= 1
        for tune_dir in sorted(sweep_dir.glob("train_trial_*/checkpoint_*")):
            if tune_dir.name == "checkpoint_000000":
                continue
            trial = tune_dir.parent.name.removeprefix("train_trial_")[:11]  # e.g. 2048a_00000
            pid_file = sweep_dir / "runs" / trial / "worker.pid"
            if pid_file.exists():
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
                killed.append(trial)
                return
        time.sleep(0.02)


def check_killed_trial_restarts_from_its_checkpoint(tmp_path, learning_rate: float, twin: Path):
    """A rerun of a finished trial of the sweep above (same flags, learning rate, seed and chunks: its compiled
    program comes from the cache) whose worker is killed after Tune has its 2nd checkpoint: Tune restarts it from
    that checkpoint (FailureConfig) and it ends with exactly the sweep trial's state (``twin``, its final
    checkpoint). One trial, not two fresh twins: half the worker processes (issue 9); the sweep trial went
    through Ctrl-C and --resume, so a difference would name either restart path."""
    import json

    from seuseuro.core.checkpoint import read_checkpoint_meta
    from seuseuro.scale.sweep import SweepSpec, run_sweep

    spec = SweepSpec(algo="ppo", env="CartPole-v1", sweep_dir=str(tmp_path / "killed"), num_samples=1,
                     scheduler="none", eval_episodes=0, fixed={**SWEEP_FLAGS, "learning_rate": learning_rate},
                     chunk_updates=CHUNK_UPDATES)  # fmt: skip
    killed: list[str] = []
    watcher = threading.Thread(target=_kill_a_worker_after_its_second_checkpoint, args=(spec.path, killed))
    watcher.start()
    rows = run_sweep(spec, verbose=0)
    watcher.join()
    assert killed, "no trial worker was killed"
    assert [r["status"] for r in rows] == ["done"]
    (result_file,) = spec.path.glob(f"train_trial_{killed[0]}*/result.json")
    last = json.loads(result_file.read_text().splitlines()[-1])
    assert last["training_iteration"] == 8 and last["iterations_since_restore"] < 8  # continued, not restarted
    mine = spec.path / "runs" / rows[0]["trial"] / "checkpoints" / "latest.npz"
    assert read_checkpoint_meta(mine)["updates_done"] == read_checkpoint_meta(twin)["updates_done"] == 8
    a, b = np.load(mine), np.load(twin)
    assert sorted(a.files) == sorted(b.files)
    for k in a.files:
        np.testing.assert_array_equal(a[k], b[k])


def check_runners_on_a_simulated_two_node_cluster():
    """Two Ray nodes of one CPU each (``ray.cluster_utils.Cluster``, one machine) and two runners of one CPU
    each: both can only run with one runner per node, and the vector env still equals the local one."""
    from ray.cluster_utils import Cluster

    from seuseuro.envs.registry import make
    from seuseuro.scale.remote_envs import RemoteGymnasiumEnv, make_sync_vector_env

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        cluster.add_node(num_cpus=1)
        ray.init(address=cluster.address, log_to_driver=False)
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2
        env = make("gymnasium:Acrobot-v1")
        remote = RemoteGymnasiumEnv.wrap(env, 2, cpus_per_runner=1.0).make_vec(4, 0)
        local = make_sync_vector_env("Acrobot-v1", {}, 4)
        np.testing.assert_array_equal(remote.reset(seed=7)[0], local.reset(seed=7)[0])
        rng = np.random.default_rng(0)
        for _ in range(20):
            actions = rng.integers(0, 3, 4)
            for x, y in zip(remote.step(actions)[:4], local.step(actions)[:4], strict=True):
                np.testing.assert_array_equal(x, y)
        assert remote.restarts == 0 and len(set(remote.runner_pids())) == 2
        remote.close()
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.mark.slow  # ~2-3 min of one worker: scheduled first (conftest.py) so it never ends the suite alone
@pytest.mark.quick_compile  # tiny runs: compile-bound, so the suite's quick compiler options (conftest.py) ...
def test_ray_features(tmp_path, child_xla_flags, monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", child_xla_flags)  # ... in the sweep CLI and the trial workers too (they inherit it)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        check_remote_runners_equal_local()
        check_lost_runner_is_replaced()
        address = ray.get_runtime_context().gcs_address
        learning_rate, twin = check_interrupted_asha_sweep_resumes_and_writes_its_table(tmp_path, address)
        check_killed_trial_restarts_from_its_checkpoint(tmp_path, learning_rate, twin)
    finally:
        ray.shutdown()
    check_runners_on_a_simulated_two_node_cluster()  # its own Ray instance, after the shared one is gone
