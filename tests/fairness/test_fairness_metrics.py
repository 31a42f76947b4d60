"""Group metrics: parity with fairlearn on the same arrays, hand-computed windows, and bad input."""

import numpy as np
import pytest

from seuseuro.errors import UserError
from seuseuro.fairness import metrics as fm
from seuseuro.fairness.metrics import DecisionLog


def _random_log(seed, n=500, groups=3):
    rng = np.random.default_rng(seed)
    group = rng.integers(0, groups, n)
    outcome = rng.random(n) < 0.3 + 0.15 * group
    decision = rng.random(n) < np.where(outcome, 0.7, 0.3) - 0.1 * group
    return DecisionLog(group=group, decision=decision, outcome=outcome, num_groups=groups)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_static_metrics_equal_fairlearn(seed):
    # imported here, not at the top: fairlearn pulls in scikit-learn and pandas (~3 s of every xdist
    # worker's test collection, issue 9); a missing install still fails the test
    from fairlearn import metrics as fl

    log = _random_log(seed)
    y, p, g = log.outcome.astype(int), log.decision.astype(int), log.group
    kw = {"sensitive_features": g}
    pairs = [
        (fm.demographic_parity_difference, fl.demographic_parity_difference),
        (fm.demographic_parity_ratio, fl.demographic_parity_ratio),
        (fm.equal_opportunity_difference, fl.equal_opportunity_difference),
        (fm.equal_opportunity_ratio, fl.equal_opportunity_ratio),
        (fm.equalized_odds_difference, fl.equalized_odds_difference),
        (fm.equalized_odds_ratio, fl.equalized_odds_ratio),
    ]
    for ours, theirs in pairs:
        assert ours(log) == pytest.approx(theirs(y, p, **kw), abs=1e-12), ours.__name__
    frame = fl.MetricFrame(
        metrics={
            "selection_rate": fl.selection_rate,
            "tpr": fl.true_positive_rate,
            "fpr": fl.false_positive_rate,
        },
        y_true=y,
        y_pred=p,
        sensitive_features=g,
    )
    rates = fm.group_rates(fm.group_counts(log))
    for name in ("selection_rate", "tpr", "fpr"):
        np.testing.assert_allclose(getattr(rates, name), frame.by_group[name].to_numpy(), atol=1e-12)
    from sklearn.metrics import precision_score

    for k in range(3):
        assert rates.precision[k] == pytest.approx(precision_score(y[g == k], p[g == k]))


def test_hand_computed_windows_cumulative_and_outcomes():
    #         t: 0  1  2  3  4  5
    group = [0, 1, 0, 1, 0, 1]
    decision = [1, 0, 0, 1, 1, 1]
    outcome = [1, 1, 1, 1, 0, 0]
    reward = [1.0, 0.0, 0.0, 1.0, -1.0, -1.0]
    log = DecisionLog(group=group, decision=decision, outcome=outcome, reward=reward)
    # windows of 3: [0,1,2] -> TPR g0 = 1/2, g1 = 0/1 ; [3,4,5] -> g0 no positives (NaN), g1 = 1/1
    np.testing.assert_allclose(fm.group_rates(fm.windowed_counts(log, 3)).tpr, [[0.5, 0.0], [np.nan, 1.0]])
    np.testing.assert_allclose(fm.windowed_tpr_gap(log, 3), [0.5, np.nan])
    # cumulative TPR gap: t0 g1 undefined; t1 |1 - 0|; t2 |1/2 - 0|; t3 |1/2 - 1/2|
    np.testing.assert_allclose(fm.cumulative_tpr_gap(log)[:4], [np.nan, 1.0, 0.5, 0.0])
    np.testing.assert_array_equal(fm.cumulative_decisions_per_group(log)[-1], [2, 2])
    np.testing.assert_allclose(fm.cumulative_profit(log), [1, 1, 1, 2, 1, 0])
    # selection rate 2/3 each -> DP gap 0; FPR g0 = 1/1, g1 = 1/1; precision g0 1/2, g1 1/2
    summary = fm.fairness_summary(log)
    assert summary["demographic_parity_difference"] == 0.0
    assert summary["per_group"]["precision"] == [0.5, 0.5]
    assert summary["profit"] == 0.0
    np.testing.assert_allclose(fm.mean_score_change(np.array([[3.0, 2.0], [2.5, 2.75]])), [-0.5, 0.75])


def test_from_info_flattens_and_requires_fields():
    info = {"group": np.zeros((4, 2), int), "lent": np.ones((4, 2)), "repaid": np.ones((4, 2), bool)}
    assert len(DecisionLog.from_info(info)) == 8
    with pytest.raises(UserError, match="lacks \\['repaid'\\]"):
        DecisionLog.from_info({"group": [0], "lent": [1]})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"group": [], "decision": [], "outcome": []}, "empty"),
        ({"group": [0, 1], "decision": [1], "outcome": [1, 0]}, "differ in length"),
        ({"group": [0, 2], "decision": [1, 0], "outcome": [1, 0]}, "unknown group id 2"),
        ({"group": [0, -1], "decision": [1, 0], "outcome": [1, 0]}, "unknown group id -1"),
        ({"group": [0, 1], "decision": [1, 3], "outcome": [1, 0]}, "binary"),
        ({"group": [0.5, 1], "decision": [1, 0], "outcome": [1, 0]}, "integers"),
    ],
)
def test_bad_input_is_a_clear_user_error(kwargs, message):
    with pytest.raises(UserError, match=message):
        DecisionLog(**kwargs)


def test_profit_without_reward_and_bad_window():
    log = DecisionLog(group=[0, 1], decision=[1, 0], outcome=[1, 0])
    with pytest.raises(UserError, match="no reward"):
        fm.cumulative_profit(log)
    with pytest.raises(UserError, match="window"):
        fm.windowed_counts(log, 0)


def test_cumulative_target_tpr_and_mean_abs_gap_by_hand():
    # equal per-step targets for both groups, but group 0's would-repay applicants arrive at steps 0 and
    # 4 (targets .5, .7) and group 1's at steps 1 and 3 (.8, .2): aggregates .6 vs .5 (Simpson's paradox)
    log = fm.DecisionLog(np.array([0, 1, 0, 1, 0]), np.zeros(5, bool), np.array([1, 1, 0, 1, 1], bool))
    step = np.repeat(np.array([0.5, 0.8, 0.9, 0.2, 0.7])[:, None], 2, axis=1)
    target = fm.cumulative_target_tpr(log, step)
    np.testing.assert_allclose(target[:, 0], [0.5, 0.5, 0.5, 0.5, 0.6])
    np.testing.assert_allclose(target[1:, 1], [0.8, 0.8, 0.5, 0.5])
    assert np.isnan(target[0, 1])  # no would-repay applicant of group 1 yet
    np.testing.assert_allclose(fm.mean_abs_gap(np.array([[0.1, -0.2], [-0.3, 0.4]])), [0.2, 0.3])
    with pytest.raises(UserError, match="step_tpr must be"):
        fm.cumulative_target_tpr(log, step[:3])
    with pytest.raises(UserError, match="gaps must be"):
        fm.mean_abs_gap(np.zeros(3))
