"""The CLI end to end (in-process) and its one-line errors for bad input."""

import json
import os
import shutil
import signal

import jax
import numpy as np
import pytest

from seuseuro.cli import main
from seuseuro.commands.plot import pooled_curves, run_curves
from seuseuro.runs import RunDir

TINY = ["--total-steps", "512", "--num-envs", "4", "--num-steps", "32", "--num-epochs", "2", "--hidden-sizes", "16"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "r"
    rc = main(["train", "ppo", "--env", "CartPole-v1", *TINY, "--num-seeds", "2", "--run-dir", str(run),
               "--no-progress", "--eval-episodes", "3", "--chunk-updates", "2"])  # fmt: skip
    assert rc == 0
    return run


def test_train_writes_a_complete_run_directory(trained_run):
    record = json.loads((trained_run / "config.json").read_text())
    assert record["algo"] == "ppo" and record["env_id"] == "CartPole-v1" and record["num_seeds"] == 2
    assert record["config"]["total_steps"] == 512 and "jax" in record["versions"]
    header = (trained_run / "metrics.csv").read_text().splitlines()[0]
    assert "rollout/episode_return/seed1" in header and "train/policy_loss" in header
    assert len((trained_run / "metrics.csv").read_text().splitlines()) == 1 + 4  # 4 updates
    assert (trained_run / "checkpoints" / "latest.npz").exists()
    assert (trained_run / "plots" / "learning_curve.png").stat().st_size > 10_000
    assert list((trained_run / "tb").glob("events.out.tfevents.*"))
    summary = json.loads((trained_run / "eval.json").read_text())
    assert len(summary["per_seed"]) == 2 and summary["aggregate"]["over"] == "seeds"


def test_eval_and_plot_commands(trained_run, tmp_path, capsys):
    assert main(["eval", str(trained_run), "--episodes", "2", "--no-deterministic"]) == 0
    summary = json.loads((trained_run / "eval.json").read_text())
    assert summary["episodes_per_seed"] == 2 and not summary["deterministic"]
    assert all(len(p["returns"]) == 2 for p in summary["per_seed"])
    out = tmp_path / "cmp.png"
    assert main(["plot", str(trained_run), str(trained_run), "--out", str(out)]) == 0
    assert out.stat().st_size > 10_000
    # --pool: runs of one algorithm and env (seeds trained one run each) become one curve of all their seeds
    assert main(["plot", str(trained_run), str(trained_run), "--pool", "--out", str(tmp_path / "pool.png")]) == 0
    [(name, detail, steps, values)] = pooled_curves([RunDir.open(trained_run)] * 2)
    single_steps, single = run_curves(RunDir.open(trained_run))
    assert (name, detail) == ("ppo CartPole-v1", "2 runs pooled") and values.shape == (4, steps.size)
    np.testing.assert_array_equal(steps, single_steps)
    np.testing.assert_array_equal(values, np.concatenate([single, single]))
    # a run with other hyperparameters is its own curve, named by the flag that differs
    other = tmp_path / "other"
    shutil.copytree(trained_run, other)
    record = json.loads((other / "config.json").read_text())
    record["config"]["learning_rate"] = 0.0123
    (other / "config.json").write_text(json.dumps(record))
    names = [c[0] for c in pooled_curves([RunDir.open(trained_run), RunDir.open(other), RunDir.open(trained_run)])]
    assert len(names) == 2 and names[1] == "ppo CartPole-v1 learning_rate=0.0123" and "learning_rate=" in names[0]


def test_envs_lists_spaces(capsys):
    assert main(["envs", "--filter", "cartpole", "--no-gymnasium"]) == 0
    out = capsys.readouterr().out
    assert "CartPole-v1" in out and "Discrete(2)" in out


def test_help_documents_flags(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "ppo", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--num-seeds" in out and "--gae-lambda" in out and "GAE lambda" in out


def test_help_says_which_hyperparameter_set_is_in_use(capsys):
    for algo, env, expected in (
        ("sac", "Pendulum-v1", "the tuned set for Pendulum-v1"),
        ("dqn", "Lending-v0", "no tuned set for Lending-v0"),
    ):
        with pytest.raises(SystemExit):
            main(["train", algo, "--env", env, "--help"])
        assert expected in " ".join(capsys.readouterr().out.split())


def test_help_into_a_closed_pipe_exits_quietly(monkeypatch, capsys):
    # `seuseuro train sac --help | head -1`: the reader goes away mid-help; no traceback, SIGPIPE's status.
    read_end, write_end = os.pipe()
    os.close(read_end)
    with open(write_end, "w", buffering=1) as closed_pipe:
        monkeypatch.setattr("sys.stdout", closed_pipe)
        assert main(["train", "sac", "--help"]) == 141
    assert "Traceback" not in capsys.readouterr().err


def test_a_broken_pipe_elsewhere_is_not_silenced(monkeypatch):
    # stdout is fine: a BrokenPipeError from a socket or a child process must surface, not exit 141
    def broken(*_args, **_kwargs):
        raise BrokenPipeError("a worker's socket")

    monkeypatch.setattr("seuseuro.cli._usage", broken)
    with pytest.raises(BrokenPipeError):
        main(["--help"])


def _error(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "Traceback" not in err and len(err.splitlines()) == 1
    return err


def test_unknown_env_suggests_close_matches(capsys):
    assert "CartPole-v1" in _error(capsys, ["train", "ppo", "--env", "CartPol-v1"])


def test_unknown_command_and_algorithm(capsys):
    assert "did you mean" in _error(capsys, ["trian"])
    assert "unknown algorithm" in _error(capsys, ["train", "ppq"])


def test_invalid_config_value(capsys):
    assert "divisible" in _error(capsys, ["train", "ppo", "--num-minibatches", "3"])
    assert "gamma" in _error(capsys, ["train", "ppo", "--gamma", "2"])


def test_env_with_unsupported_spaces(capsys):
    assert "Box" in _error(capsys, ["train", "ppo", "--env", "Blackjack-v1"])  # Tuple observations


def test_resume_errors(capsys, tmp_path, trained_run):
    assert "not a directory" in _error(capsys, ["train", "ppo", "--resume", str(tmp_path / "nope")])
    other = tmp_path / "grpo-run"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"algo": "grpo", "env_id": "countdown", "config": {}}))
    assert "grpo run" in _error(capsys, ["train", "ppo", "--resume", str(other)])
    assert "trained on CartPole-v1" in _error(
        capsys, ["train", "ppo", "--resume", str(trained_run), "--env", "Acrobot-v1"]
    )


def test_corrupt_checkpoint(capsys, tmp_path, trained_run):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(trained_run, broken)
    (broken / "checkpoints" / "latest.npz").write_bytes(b"\x00" * 100)
    assert "corrupt" in _error(capsys, ["eval", str(broken)])
    (broken / "checkpoints" / "latest.npz").unlink()
    assert "no checkpoint" in _error(capsys, ["eval", str(broken)])


# --- the host driver: stop and resume ------------------------------------------------------------


def _driver_setup(tmp_path, name, env_id="CartPole-v1"):
    from seuseuro.algos import ppo
    from seuseuro.envs.registry import make
    from seuseuro.runs import RunDir

    config = ppo.Config(total_steps=6 * 128, num_envs=4, num_steps=32, num_epochs=2, hidden_sizes=(16,))
    trainer = ppo.make_train(config, make(env_id), num_seeds=1, updates_per_chunk=2)
    run = RunDir.create("ppo", env_id, config, path=tmp_path / name)
    return trainer, run


# The bridge resumes exactly too when its host environments pickle (CartPole's numpy vector env).
@pytest.mark.parametrize("env_id", ["CartPole-v1", "gymnasium:CartPole-v1"])
def test_resumed_run_ends_with_the_same_parameters(tmp_path, env_id):
    from seuseuro.core.logging import read_metrics_csv
    from seuseuro.driver import run_training

    trainer, run_a = _driver_setup(tmp_path, "a", env_id)
    full = run_training(trainer, run_a, jax.random.PRNGKey(0), progress=False, tensorboard=False)
    trainer, run_b = _driver_setup(tmp_path, "b", env_id)  # a fresh trainer: nothing carried over in memory
    half = run_training(trainer, run_b, jax.random.PRNGKey(0), progress=False, tensorboard=False, stop_after_updates=2)
    assert half.updates_done == 2
    trainer, _ = _driver_setup(tmp_path, "unused", env_id)  # as a new process would
    rest = run_training(trainer, run_b, jax.random.PRNGKey(99), resume=True, progress=False, tensorboard=False)
    assert rest.updates_done == 6
    for x, y in zip(jax.tree.leaves(full.state), jax.tree.leaves(rest.state), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    steps = [r["step"] for r in read_metrics_csv(run_b.metrics_path)]
    assert steps == [128 * (i + 1) for i in range(6)]  # no step logged twice


def test_ctrl_c_finishes_the_chunk_and_checkpoints(tmp_path):
    from seuseuro.core.checkpoint import read_checkpoint_meta
    from seuseuro.driver import run_training

    trainer, run = _driver_setup(tmp_path, "c")
    result = run_training(trainer, run, jax.random.PRNGKey(0), progress=False, tensorboard=False,
                          on_chunk=lambda done, row: signal.raise_signal(signal.SIGINT))  # fmt: skip
    assert result.interrupted and result.updates_done == 2
    assert read_checkpoint_meta(run.latest_checkpoint)["updates_done"] == 2


def test_stop_at_return_ends_training_early(tmp_path):
    from seuseuro.driver import run_training

    trainer, run = _driver_setup(tmp_path, "d")
    result = run_training(trainer, run, jax.random.PRNGKey(0), progress=False, tensorboard=False, stop_at_return=1.0)
    assert result.reached_target and result.updates_done == 2 < trainer.num_updates


def test_environment_that_would_download_is_refused(capsys):
    assert "not available offline" in _error(capsys, ["train", "ppo", "--env", "MNISTBandit-bsuite"])


def test_runs_lists_the_trained_run(trained_run, capsys):
    assert main(["runs", "--root", str(trained_run.parent)]) == 0
    out = capsys.readouterr().out
    assert "ppo" in out and "CartPole-v1" in out and "512" in out


def test_runs_table_prints_scores_readably():
    from seuseuro.commands.listing import _score

    assert [_score(v) for v in (5937.3, -153.24, 41.5, 0.625, None)] == ["5,937", "-153", "41.5", "0.625", "-"]


def test_pointnet_torso_and_episode_video_on_objectnav(tmp_path):
    run = tmp_path / "nav"
    flags = ["--total-steps", "512", "--num-envs", "4", "--num-steps", "32", "--num-epochs", "1", "--torso", "pointnet"]
    assert main(["train", "ppo", "--env", "ObjectNav-Small-v0", *flags, "--run-dir", str(run), "--no-progress",
                 "--eval-episodes", "1"]) == 0  # fmt: skip  # 1 episode, as `eval` below: one program (issue 9)
    assert json.loads((run / "config.json").read_text())["config"]["torso"] == "pointnet"
    assert main(["eval", str(run), "--episodes", "1", "--video"]) == 0
    assert (run / "plots" / "episode-seed0.gif").read_bytes()[:6] == b"GIF89a"


def test_pointnet_torso_needs_point_observations(capsys):
    assert "points, features" in _error(capsys, ["train", "ppo", "--env", "CartPole-v1", "--torso", "pointnet"])


def test_video_needs_a_3d_scene_run(trained_run, capsys):
    assert "3D-scene" in _error(capsys, ["eval", str(trained_run), "--episodes", "1", "--video"])
