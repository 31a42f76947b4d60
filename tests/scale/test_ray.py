"""Ray features, on one machine (issue 12, item 5): remote env runners equal the local collector bit for bit,
a killed runner is survived, a 4-trial ASHA sweep of PPO on CartPole finishes and writes its table, a killed
trial restarts from its checkpoint and ends as an untouched twin, runners spread over a simulated 2-node cluster.

ONE test function on purpose: pytest runs with xdist (`-n auto --dist worksteal`), and Ray tests spread
over several workers would each start a Ray instance on this 2-core machine (~5 s each, fighting over the
same cores and /tmp/ray sockets). One function runs on one worker, starts one `ray.init(num_cpus=2)` and
runs the checks in order (each a named function, so a failure names the feature); the rest of the suite
never starts Ray. Budget: tiny PPO runs (CartPole, a few chunks of a few hundred steps); ~60-90 s here.
"""

from __future__ import annotations

import csv
import os
import signal
import threading
import time

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


def _sweep_spec(tmp_path, name, **overrides):
    from seuseuro.scale.sweep import SweepSpec, parse_fixed, parse_search

    fixed = dict(parse_fixed(s) for s in ("total_steps=2048", "num_envs=4", "num_steps=64", "num_epochs=2"))
    base = dict(algo="ppo", env="CartPole-v1", sweep_dir=str(tmp_path / name), fixed=fixed, num_samples=4,
                searches=(parse_search("learning_rate=loguniform(1e-4,1e-2)"),), chunk_updates=2, eval_episodes=2)  # fmt: skip
    return SweepSpec(**{**base, **overrides})


def check_asha_sweep_writes_its_table(tmp_path):
    from seuseuro.scale.sweep import RESULTS_FILE, run_sweep

    spec = _sweep_spec(tmp_path, "asha")
    rows = run_sweep(spec, verbose=0)
    assert len(rows) == 4
    with open(spec.path / RESULTS_FILE) as f:
        table = list(csv.DictReader(f))
    assert [r["trial"] for r in table] == [r["trial"] for r in rows]
    assert {"learning_rate", "episode_return", "eval_return", "eval_ci95_low", "status", "run_dir"} <= set(table[0])
    assert len({r["learning_rate"] for r in table}) == 4  # sampled, not one value
    done = [r for r in rows if r["status"] == "done"]
    assert done and all(np.isfinite(r["eval_return"]) for r in done)
    assert (spec.path / "plots" / "score_vs_flags.png").stat().st_size > 1000
    for r in rows:  # every trial is an ordinary run directory with its chunks logged
        assert (tmp_path / "asha" / "runs" / r["trial"] / "config.json").exists()
        assert (tmp_path / "asha" / "runs" / r["trial"] / "metrics.csv").exists()


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


def check_killed_trial_restarts_from_its_checkpoint(tmp_path):
    """Two identical trials (same flags, same seed); one's worker is killed after Tune has its 2nd checkpoint.
    Tune restarts it from that checkpoint (FailureConfig) and it ends with exactly the twin's parameters."""
    import json

    from seuseuro.core.checkpoint import read_checkpoint_meta
    from seuseuro.scale.sweep import run_sweep

    spec = _sweep_spec(tmp_path, "killed", searches=(), num_samples=2, scheduler="none", eval_episodes=0,
                       fixed={"total_steps": 1536, "num_envs": 4, "num_steps": 64, "num_epochs": 2}, chunk_updates=1)  # fmt: skip
    killed: list[str] = []
    watcher = threading.Thread(target=_kill_a_worker_after_its_second_checkpoint, args=(spec.path, killed))
    watcher.start()
    rows = run_sweep(spec, verbose=0)
    watcher.join()
    assert killed, "no trial worker was killed"
    assert [r["status"] for r in rows] == ["done", "done"]
    (result_file,) = spec.path.glob(f"train_trial_{killed[0]}*/result.json")
    last = json.loads(result_file.read_text().splitlines()[-1])
    assert last["training_iteration"] == 6 and last["iterations_since_restore"] < 6  # continued, not restarted
    a, b = (np.load(spec.path / "runs" / r["trial"] / "checkpoints" / "latest.npz") for r in rows)
    assert (
        read_checkpoint_meta(spec.path / "runs" / rows[0]["trial"] / "checkpoints" / "latest.npz")["updates_done"] == 6
    )
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


@pytest.mark.slow  # ~3 min of one worker: scheduled first (conftest.py) so it never ends the suite alone
def test_ray_features(tmp_path):
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        check_remote_runners_equal_local()
        check_lost_runner_is_replaced()
        check_asha_sweep_writes_its_table(tmp_path)
        check_killed_trial_restarts_from_its_checkpoint(tmp_path)
    finally:
        ray.shutdown()
    check_runners_on_a_simulated_two_node_cluster()  # its own Ray instance, after the shared one is gone
