"""`seuseuro audit` end to end on a short run, the --max-gap gate, and bad input."""

import json

import pytest

from seuseuro.cli import main


def test_audit_baseline_end_to_end_and_gate(tmp_path):
    out = tmp_path / "mu"
    argv = ["audit", "--agent", "max-utility", "--env", "lending", "--out", str(out), "--steps", "400", "--seeds", "2"]
    assert main([*argv, "--max-gap", "1.0"]) == 0
    audit = json.loads((out / "audit.json").read_text())
    assert audit["passed"] is True and audit["seeds"] == 2 and audit["steps"] == 400
    assert 0.0 < audit["gap"] < 1.0
    assert len(audit["metrics"]["equal opportunity difference"]["per_seed"]) == 2
    assert sum(audit["metrics"]["loans g1"]["per_seed"]) > 0
    for name in ("score_distribution", "cumulative_loans", "tpr_gap", "profit_and_credit"):
        png = out / "plots" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 4 and 'src="plots/' not in html  # self-contained
    assert "PASS" in html
    # the same policy fails a gate tighter than its measured gap: exit status 1, FAIL in the report
    assert main([*argv, "--max-gap", "0.0"]) == 1
    assert json.loads((out / "audit.json").read_text())["passed"] is False
    assert "FAIL" in (out / "report.html").read_text()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["audit"], "exactly one policy"),
        (["audit", "somewhere", "--agent", "max-utility"], "exactly one policy"),
        (["audit", "--agent", "max-utility", "--max-gap", "2"], "max-gap"),
        (["audit", "--agent", "max-utility", "--steps", "0"], "--steps"),
    ],
)
def test_audit_bad_input(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_audit_run_dir_without_the_needed_info(tmp_path, capsys):
    from seuseuro.runs import RunDir

    run = RunDir.create("ppo", "CartPole-v1", {"total_steps": 1}, path=tmp_path / "cartpole")
    assert main(["audit", str(run.path)]) == 2
    assert "Lending-v0" in capsys.readouterr().err
    assert main(["audit", str(tmp_path / "missing")]) == 2


def test_train_ppo_lagrangian_then_audit_the_run_dir(tmp_path):
    run_dir = tmp_path / "plag"
    argv = ["train", "ppo-lagrangian", "--total-steps", "512", "--num-envs", "4", "--num-steps", "32"]
    # --chunk-updates 2: the resume test's chunk program, compiled once for both (issue 9)
    argv += ["--num-epochs", "1", "--chunk-updates", "2", "--audit-steps", "0", "--run-dir", str(run_dir)]
    assert main([*argv, "--no-progress", "--no-tensorboard"]) == 0
    assert (run_dir / "checkpoints" / "latest.npz").exists()
    assert main(["audit", str(run_dir), "--steps", "200", "--seeds", "2"]) == 0
    audit = json.loads((run_dir / "audit" / "audit.json").read_text())
    assert audit["agent"]["name"].startswith("ppo-lagrangian") and audit["steps"] == 200
    assert (run_dir / "audit" / "report.html").exists()
    # the run can be evaluated and resumed like a PPO run (a finished run resumes to no more updates)
    assert main(["eval", str(run_dir), "--episodes", "2"]) == 0
    assert len(json.loads((run_dir / "eval.json").read_text())["per_seed"]) == 1
    assert main(["train", "ppo-lagrangian", "--resume", str(run_dir), "--audit-steps", "0", "--no-progress"]) == 0


def test_ppo_lagrangian_resumed_half_way_ends_with_the_same_parameters(tmp_path):
    import jax
    import numpy as np

    from seuseuro.driver import run_training
    from seuseuro.experiment import load_trained_state, rebuild_run
    from seuseuro.runs import RunDir

    argv = ["train", "ppo-lagrangian", "--total-steps", "512", "--num-envs", "4", "--num-steps", "32"]
    argv += ["--num-epochs", "1", "--chunk-updates", "2", "--audit-steps", "0", "--no-progress", "--no-tensorboard"]
    assert main([*argv, "--run-dir", str(tmp_path / "full")]) == 0  # 4 updates
    full = RunDir.open(tmp_path / "full")
    config, _, trainer = rebuild_run(full)
    extra = {k: full.record[k] for k in ("seed", "num_seeds", "updates_per_chunk", "env_overrides")}
    half = RunDir.create("ppo-lagrangian", full.env_id, config, path=tmp_path / "half", extra=extra)
    run_training(trainer, half, jax.random.PRNGKey(0), progress=False, tensorboard=False, stop_after_updates=2)
    assert main(["train", "ppo-lagrangian", "--resume", str(half.path), "--audit-steps", "0", "--no-progress"]) == 0
    a, b = load_trained_state(full)[3], load_trained_state(RunDir.open(half.path))[3]
    assert int(b.update_step[0]) == 4
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
