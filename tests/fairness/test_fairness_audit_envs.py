"""`seuseuro audit --env attention|admission` end to end, the gate, bad input, a trained run on each
environment, and the attention / admission metrics and baselines against numbers worked out by hand."""

import json
import typing

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seuseuro.cli import main
from seuseuro.fairness import agents
from seuseuro.fairness import metrics as fm

PNG = b"\x89PNG\r\n\x1a\n"


def _audit(tmp_path, agent, env, *extra):
    out = tmp_path / f"{env}-{agent}"
    argv = ["audit", "--agent", agent, "--env", env, "--out", str(out), "--steps", "300", "--seeds", "2", *extra]
    return main(argv), out


def _check_files(out, plots):
    audit = json.loads((out / "audit.json").read_text())
    assert sorted(audit["plots"]) == sorted(plots)
    for name in plots:
        assert (out / "plots" / f"{name}.png").read_bytes()[:8] == PNG
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(plots) and 'src="plots/' not in html  # self-contained
    return audit, html


def test_attention_audit_end_to_end_and_gate(tmp_path):
    rc, out = _audit(tmp_path, "greedy", "attention", "--max-gap", "1.0")
    assert rc == 0
    audit, html = _check_files(out, ("discovery_by_site", "discovery_gap", "incident_rates", "incidents"))
    assert audit["env"] == "AttentionAllocation-v0" and audit["steps"] == 300 and audit["passed"] is True
    assert "discovery-rate gap" in audit["gap_metric"] and "PASS" in html
    m = audit["metrics"]
    assert audit["gap"] == m["discovery rate gap (max - min over sites)"]["mean"] and 0.0 < audit["gap"] <= 1.0
    for s in range(2):  # the per-site counts add up to the totals, seed by seed
        occurred = sum(m[f"occurred site {k}"]["per_seed"][s] for k in range(1, 6))
        found = sum(m[f"discovered site {k}"]["per_seed"][s] for k in range(1, 6))
        assert found == m["incidents discovered"]["per_seed"][s]
        assert occurred - found == m["incidents missed"]["per_seed"][s]
        assert sum(m[f"units per step site {k}"]["per_seed"][s] for k in range(1, 6)) == pytest.approx(6.0)
    # the gap measured is above 0, so a gate at 0 fails: exit status 1, FAIL in the report
    rc, out = _audit(tmp_path, "greedy", "attention", "--max-gap", "0.0")
    assert rc == 1 and json.loads((out / "audit.json").read_text())["passed"] is False
    assert "FAIL" in (out / "report.html").read_text()


def test_admission_audit_end_to_end_and_gate(tmp_path):
    rc, out = _audit(tmp_path, "fixed-threshold", "admission", "--max-gap", "1.0")
    assert rc == 0
    audit, _ = _check_files(out, ("group_rates", "tpr_gap", "threshold_and_gaming"))
    m = audit["metrics"]
    assert audit["env"] == "CollegeAdmission-v0" and audit["gap"] == m["equal opportunity difference"]["mean"]
    assert m["mean threshold"]["mean"] == pytest.approx(0.9)  # the naive optimum (see the hand check below)
    # the cheap-to-game group games more, and every eligible group-1 applicant is admitted
    assert m["manipulation rate g1"]["mean"] > m["manipulation rate g2"]["mean"]
    assert m["TPR g1"]["mean"] == 1.0 and m["TPR g2"]["mean"] < 0.8
    rc, out = _audit(tmp_path, "fixed-threshold", "admission", "--max-gap", "0.1")
    assert rc == 1 and json.loads((out / "audit.json").read_text())["passed"] is False


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["audit", "--agent", "greedy"], "not a baseline of --env lending"),
        (["audit", "--agent", "max-utility", "--env", "admission"], "fixed-threshold, robust-threshold"),
        (["audit", "--agent", "robust-threshold", "--env", "attention"], "uniform, greedy"),
        (["audit", "--agent", "uniform", "--env", "parking"], "--env"),
        (["audit", "--agent", "greedy", "--env", "attention", "--max-gap", "-0.1"], "max-gap"),
    ],
)
def test_audit_bad_input_per_env(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_agent_names_of_the_command_match_the_baselines():
    from seuseuro.commands.audit import AGENTS_BY_ENV, AgentName

    assert AGENTS_BY_ENV == agents.BASELINES_BY_ENV
    assert set(typing.get_args(AgentName)) == {a for names in AGENTS_BY_ENV.values() for a in names}


@pytest.mark.parametrize(
    ("env_id", "env_name"), [("AttentionAllocation-v0", "attention"), ("CollegeAdmission-v0", "admission")]
)
def test_train_then_audit_a_run_on_each_env(env_id, env_name, tmp_path, capsys):
    run_dir = tmp_path / env_name
    argv = ["train", "ppo", "--env", env_id, "--total-steps", "256", "--num-envs", "4", "--num-steps", "32"]
    argv += [
        "--num-epochs",
        "1",
        "--hidden-sizes",
        "16",
        "--run-dir",
        str(run_dir),
        "--no-progress",
        "--no-tensorboard",
        "--eval-episodes",  # the audit is what is tested: no evaluation program to compile (issue 9)
        "0",
    ]
    assert main(argv) == 0
    assert main(["audit", str(run_dir), "--steps", "100", "--seeds", "2", "--max-gap", "1.0"]) == 0
    audit = json.loads((run_dir / "audit" / "audit.json").read_text())
    assert audit["env"] == env_id and audit["agent"]["name"].startswith("ppo") and audit["passed"] is True
    assert (run_dir / "audit" / "report.html").exists()
    capsys.readouterr()
    # --env that is not the run's: one line, exit 2
    assert main(["audit", str(run_dir), "--env", "lending", "--steps", "10", "--seeds", "1"]) == 2
    assert f"trained on {env_id}, not on --env lending" in capsys.readouterr().err


# --- metrics by hand ------------------------------------------------------------------------------
def test_site_discovery_rates_and_gaps_by_hand():
    # 2 steps x 3 sites; site 2 has no incident in step 1
    discovered = np.array([[1, 0, 2], [1, 1, 0]])
    occurred = np.array([[2, 0, 2], [2, 2, 0]])
    np.testing.assert_allclose(fm.site_discovery_rates(discovered, occurred), [2 / 4, 1 / 2, 2 / 2])
    assert fm.discovery_rate_gap(discovered, occurred) == pytest.approx(1.0 - 0.5)
    # step 1 alone: rates (1/2, undefined, 1): the undefined site is left out, gap 0.5; after step 2 still 0.5
    np.testing.assert_allclose(fm.cumulative_discovery_rate_gap(discovered, occurred), [0.5, 0.5])
    # fewer than two sites with incidents: no gap can be measured
    assert np.isnan(fm.site_gap(np.array([0.3, np.nan, np.nan])))
    np.testing.assert_allclose(fm.site_gap(np.array([[0.2, 0.9], [0.5, 0.5]])), [0.7, 0.0])
    # units (2, 2, 2) per step = shares (1/3 each) vs incidents (4, 2, 2) / 8: TV = (1/6 + 1/12 + 1/12) / 2
    units = np.full((2, 3), 2)
    assert fm.allocation_incident_mismatch(units, occurred) == pytest.approx(1 / 6)
    assert fm.allocation_incident_mismatch(occurred, occurred) == pytest.approx(0.0)


def test_group_mean_by_hand():
    group = np.array([0, 0, 1, 1, 1])
    np.testing.assert_allclose(fm.group_mean([1, 0, 1, 1, 0], group), [1 / 2, 2 / 3])
    # social burden: only the eligible count; group 1 has no eligible applicant -> NaN, not 0
    cost = np.array([0.2, 0.6, 1.5, 0.0, 0.3])
    eligible = np.array([True, True, False, False, False])
    burden = fm.group_mean(cost, group, where=eligible)
    assert burden[0] == pytest.approx(0.4) and np.isnan(burden[1])


# --- baselines by hand ----------------------------------------------------------------------------
def test_greedy_and_uniform_allocations_by_hand():
    from seuseuro.envs.fairness import AttentionAllocationEnv

    env = AttentionAllocationEnv()
    # marginal gains rate * 0.2^n * 0.8: 6.4, 4.8, 3.2, 2.4, then site 1's second unit 1.28 > site 5's 1.2
    counts = agents.greedy_counts(jnp.array([8.0, 6.0, 4.0, 3.0, 1.5]), 6, 0.2, jax.random.PRNGKey(0))
    np.testing.assert_array_equal(counts, [2, 1, 1, 1, 1])
    np.testing.assert_array_equal(env.allocations[agents.allocation_action(env.allocations, counts)], counts)
    for seed in range(5):
        even = np.asarray(agents.even_counts(jax.random.PRNGKey(seed), 5, 6))
        assert even.sum() == 6 and sorted(even.tolist()) == [1, 1, 1, 1, 2]
    # a site never seen to have incidents gets no unit from the greedy allocator (explores only with epsilon)
    state = env.reset_env(jax.random.PRNGKey(0), env.default_params)[1]
    state = state.replace(window_discovered=jnp.array([5.0, 4.0, 3.0, 2.0, 0.0]))
    greedy = agents.greedy_allocator(env, epsilon=0.0)
    action = greedy(jax.random.PRNGKey(1), None, state, env.default_params)
    assert int(env.allocations[action][4]) == 0


def test_expected_admission_reward_by_hand():
    from seuseuro.envs.fairness import AdmissionParams

    # both groups N(0.5, 0.1), eligible iff x >= 0.5 (factor 0), gaming cost 10 = reach 0.1
    params = AdmissionParams(
        mix_weight=jnp.array([0.5, 0.5]),
        mu=jnp.array([0.5, 0.5]),
        sigma=jnp.array([0.1, 0.1]),
        true_threshold_factor=0.0,
        group_cost=jnp.array([10.0, 10.0]),
    )
    t = jnp.array([0.5])
    # truthful: admitted = eligible = P(x >= 0.5) = 0.5
    assert float(agents.expected_admission_reward(t, params, strategic=False)[0]) == pytest.approx(0.5, abs=1e-6)
    # gaming: admitted iff x >= 0.4, P = Phi(1) = 0.8413; the ineligible admitted 0.3413 count against
    assert float(agents.expected_admission_reward(t, params, strategic=True)[0]) == pytest.approx(
        0.5 - 0.34134, abs=1e-4
    )
    # clipping: a cutoff at or below 0 admits everyone, one above 1 nobody
    np.testing.assert_allclose(agents._prob_score_at_least(jnp.array([0.0, 1.01]), 0.5, 0.1), [1.0, 0.0])


def test_robust_officer_raises_the_threshold_and_the_env_reports_the_required_cost():
    from seuseuro.envs.fairness import CollegeAdmissionEnv
    from seuseuro.envs.fairness.admission import AdmissionState

    env = CollegeAdmissionEnv(num_applicants=4)
    params = env.default_params
    fixed = int(agents.fixed_threshold_officer(env)(None, None, None, params))
    robust = int(agents.robust_threshold_officer(env)(None, None, None, params))
    assert (fixed, robust) == (18, 20)  # 0.9 if nobody games; 1.0 when group 1 can game up to 1/5
    # threshold 0.8: required cost = cost_g * (0.8 - x) below it, paid or not: 5 * 0.3, 10 * 0.05, 0, 0
    state = AdmissionState(
        score=jnp.array([0.5, 0.75, 0.85, 0.95]),
        group=jnp.array([0, 1, 0, 1], jnp.int32),
        last_obs=jnp.zeros(5),
        window_tp=jnp.zeros(2),
        window_pos=jnp.zeros(2),
        time=0,
    )
    info = env.step_env(jax.random.PRNGKey(0), state, 16, params)[4]
    np.testing.assert_allclose(info["required_cost"], [1.5, 0.5, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(info["burden"], [0.0, 0.5, 0.0, 0.0], atol=1e-6)  # only applicant 1 paid it
