"""The parts of the Ray features that need no Ray: parsing --search/--set, the sweep record, per-trial thread
sizing, splitting env copies over runners; and that the default install never needs Ray."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from seuseuro.errors import UserError
from seuseuro.scale.remote_envs import split_copies
from seuseuro.scale.sweep import Search, SweepSpec, parse_fixed, parse_search, trial_config
from seuseuro.scale.trial_threads import claim_core_block, core_blocks, trial_environment


def test_parse_search_reads_each_kind():
    assert parse_search("learning-rate=loguniform(1e-4,1e-2)") == Search("learning_rate", "loguniform", (1e-4, 1e-2))
    assert parse_search("num_envs=choice(4,8)") == Search("num_envs", "choice", (4, 8))
    assert parse_search("anneal_lr=grid(True,False)").args == (True, False)
    assert parse_search("num_epochs=randint(2,10)").args == (2, 10)


@pytest.mark.parametrize(
    "text",
    [
        "lr",
        "lr=normal(0,1)",
        "lr=loguniform(0,1)",
        "lr=uniform(2,1)",
        "n=randint(1.5,3)",
        "lr=choice()",
        "lr=uniform(a,b)",
    ],  # fmt: skip
)
def test_parse_search_rejects_bad_input_in_one_line(text):
    with pytest.raises(UserError, match="--search"):
        parse_search(text)


def test_parse_fixed_and_the_trial_config():
    assert parse_fixed("total_steps=5000") == ("total_steps", 5000)
    assert parse_fixed("anneal-lr=False") == ("anneal_lr", False)
    spec = SweepSpec("ppo", "CartPole-v1", "/tmp/x", fixed={"total_steps": 4096})
    config = trial_config(spec, {"learning_rate": 3e-4})
    assert (config.total_steps, config.learning_rate) == (4096, 3e-4)
    with pytest.raises(UserError, match="no flag"):
        trial_config(spec, {"learning_rat": 1e-3})


def test_sweep_spec_round_trips_and_validates():
    spec = SweepSpec("ppo", "CartPole-v1", "/tmp/x", searches=(parse_search("gamma=uniform(0.9,0.999)"),),
                     fixed={"num_envs": 4}, num_samples=3, scheduler="pbt")  # fmt: skip
    assert SweepSpec.from_json(spec.to_json()) == spec
    with pytest.raises(UserError, match="grid"):
        SweepSpec("ppo", "E", "/x", searches=(parse_search("gamma=grid(0.9,0.99)"),), scheduler="pbt")
    with pytest.raises(UserError, match="once"):
        SweepSpec("ppo", "E", "/x", searches=(parse_search("gamma=grid(0.9,0.99)"),), fixed={"gamma": 0.9})


def test_trial_environment_sizes_threads_and_gpu_memory():
    one = trial_environment(1, 0, {"XLA_FLAGS": "--xla_foo=1"})
    assert one["XLA_FLAGS"] == "--xla_foo=1 --xla_cpu_multi_thread_eigen=false" and one["OMP_NUM_THREADS"] == "1"
    assert "XLA_PYTHON_CLIENT_PREALLOCATE" not in one
    four = trial_environment(4, 0.5, {})
    assert four["OMP_NUM_THREADS"] == "4" and "multi_thread_eigen" not in four["XLA_FLAGS"]
    assert four["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false" and four["XLA_PYTHON_CLIENT_MEM_FRACTION"] == "0.45"


def test_core_blocks_are_disjoint():
    assert core_blocks([3, 0, 1, 2], 2) == [[0, 1], [2, 3]]
    assert core_blocks([0, 1, 2], 1.5) == [[0], [1], [2]] and core_blocks([0, 1], 0.5) == []


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this platform")
def test_two_live_trials_never_claim_the_same_cores(tmp_path):
    """A child holds a block; this process then gets another one (or none), never the child's."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys,time; from pathlib import Path; from seuseuro.scale.trial_threads import "
         f"claim_core_block as c; print(c(1, Path({str(tmp_path)!r})), flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        theirs = child.stdout.readline().strip()
        before = os.sched_getaffinity(0)
        mine = claim_core_block(1, tmp_path)
        os.sched_setaffinity(0, before)
        assert theirs not in ("", "None") and str(mine) != theirs
    finally:
        child.kill()
        child.wait()


def test_split_copies():
    assert split_copies(8, 3) == [3, 3, 2]
    with pytest.raises(UserError, match="more than"):
        split_copies(2, 4)


def test_default_install_never_imports_ray():
    """`seuseuro --help` and the sweep/remote modules import without Ray; using them says how to install it."""
    code = (
        "import sys; sys.modules['ray'] = None\n"  # as if Ray were not installed
        "import seuseuro.scale.sweep, seuseuro.scale.remote_envs, seuseuro.cli\n"
        "from seuseuro.scale import require_ray\n"
        "try:\n    require_ray()\nexcept Exception as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert 'pip install "seuseuro[ray]"' in out


class _CutOnce:
    """A SyncVectorEnv that, at its 5th step, cuts copy 0's episode as a lost remote runner does
    (scale/remote_envs.py): truncated, reward 0, flagged in info[INVALID_INFO_KEY] (or, with
    ``flag=False``, an ordinary truncation)."""

    def __init__(self, vec, flag: bool):
        self.vec, self.metadata, self.steps, self.flag = vec, vec.metadata, 0, flag

    def reset(self, **kw):
        return self.vec.reset(**kw)

    def step(self, actions):
        from seuseuro.envs.gymnasium import INVALID_INFO_KEY

        obs, reward, terminated, truncated, info = self.vec.step(actions)
        self.steps += 1
        cut = np.zeros(len(reward), bool)
        if self.steps == 5:
            cut[0], truncated[0], reward[0] = self.flag, True, 0.0
            info = {**info, "final_obs": obs.copy()}
        return obs, reward, terminated, truncated, {**info, INVALID_INFO_KEY: cut}

    def close(self):
        self.vec.close()


def test_the_collector_reports_no_return_for_a_cut_episode():
    """Acrobot's episodes last 500 steps: in 48 steps the only ending is the cut one. Flagged, it is not
    counted; the same truncation unflagged is."""
    import dataclasses

    import jax

    from seuseuro.algos import ppo
    from seuseuro.envs.gymnasium import GymnasiumEnv
    from seuseuro.envs.registry import make

    @dataclasses.dataclass(frozen=True, eq=False)
    class CutEnv(GymnasiumEnv):
        flag: bool = True

        def make_vec(self, num_envs, seed):
            return _CutOnce(GymnasiumEnv.make_vec(self, num_envs, seed), self.flag)

    env = make("gymnasium:Acrobot-v1")
    fields = {f.name: getattr(env, f.name) for f in dataclasses.fields(GymnasiumEnv)}
    config = ppo.Config(total_steps=4 * 16 * 3, num_envs=4, num_steps=16, num_epochs=2, num_minibatches=1)
    for flag, expected in ((True, 0.0), (False, 1.0)):
        trainer = ppo.make_train(config, CutEnv(**fields, flag=flag), num_seeds=1, updates_per_chunk=3)
        _, metrics = trainer.run_chunk(trainer.init(jax.random.split(jax.random.PRNGKey(3), 1)), 3)
        assert np.asarray(metrics["rollout/episodes"]).sum() == expected


def test_a_bad_address_is_one_line_and_exit_2(capsys):
    """A malformed --address, and one where nothing listens (Ray itself would retry for minutes), each give
    one line naming the address and the fix before any Ray starts (issue 12)."""
    import socket

    from seuseuro.cli import main
    from seuseuro.scale.sweep import check_address

    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there now
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = ["sweep", "ppo", "--env", "CartPole-v1", "--search", "learning_rate=loguniform(1e-4,1e-2)"]
    for address, expected in [("nohost", "is not 'auto' or HOST:PORT"), (f"127.0.0.1:{port}", "nothing answers")]:
        assert main([*base, "--address", address]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and expected in err and len(err.splitlines()) == 1, err
        assert "ray start --head" in err
    check_address("auto")  # left to Ray: it finds a local cluster or says there is none
    with pytest.raises(UserError, match="nothing answers"):
        check_address(f"ray://localhost:{port}")


def test_pbt_keeps_every_checkpoint_and_the_table_names_each_trial_by_its_directory(tmp_path):
    """Two PBT bugs seen on a real 4-trial sweep (Ray 2.60): with one checkpoint kept, an exploiting trial
    found its donor's checkpoint deleted and errored after every restart; and the table took a trial's id
    from its last result, which after an exploit is the donor's (the donor's row twice, the trial's lost)."""
    from types import SimpleNamespace

    from seuseuro.scale.sweep import checkpoints_to_keep, results_table

    search = (parse_search("learning_rate=loguniform(1e-4,1e-2)"),)
    pbt = SweepSpec("ppo", "CartPole-v1", str(tmp_path), searches=search, scheduler="pbt")
    assert checkpoints_to_keep(pbt) is None
    assert checkpoints_to_keep(SweepSpec("ppo", "CartPole-v1", str(tmp_path), searches=search)) == 1
    done = {"env_steps": 4096, "total_env_steps": 4096, pbt.metric: 30.0, "eval_return": 40.0}
    grid = [
        SimpleNamespace(path=str(tmp_path / f"train_trial_793c3_0000{i}_{i}_learning_rate={lr}_2026-11-27_02-51-38"),
                        metrics={**done, "trial_id": "793c3_00000"}, config={"learning_rate": lr}, error=None)
        for i, lr in enumerate([1e-3, 2e-3])
    ]  # fmt: skip
    rows = results_table(pbt, grid)
    assert sorted(r["trial"] for r in rows) == ["793c3_00000", "793c3_00001"]
    assert {r["run_dir"] for r in rows} == {str(tmp_path / "runs" / t) for t in ("793c3_00000", "793c3_00001")}
