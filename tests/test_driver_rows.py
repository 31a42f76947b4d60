"""The host driver's metrics rows (issue 11): at most MAX_ROWS_PER_CHUNK rows per chunk, each averaging its
updates, with episode statistics weighted by the episodes that ended in each update."""

import math

import numpy as np

from seuseuro.driver import MAX_ROWS_PER_CHUNK, _row_metrics, _row_windows


def test_one_row_per_update_up_to_the_cap_then_equal_windows():
    assert _row_windows(3, True) == [(0, 1), (1, 2), (2, 3)]
    assert _row_windows(3, False) == [(2, 3)]
    windows = _row_windows(5 * MAX_ROWS_PER_CHUNK + 3, True)
    assert len(windows) == MAX_ROWS_PER_CHUNK
    assert windows[0][0] == 0 and windows[-1][1] == 5 * MAX_ROWS_PER_CHUNK + 3
    assert all(a[1] == b[0] for a, b in zip(windows, windows[1:], strict=False))  # contiguous, no update lost


def test_a_window_weights_episode_returns_by_episodes_and_sums_the_count():
    nan = math.nan
    metrics = {  # 2 seeds x 3 updates
        "rollout/episode_return": np.array([[10.0, nan, 40.0], [nan, nan, nan]]),
        "rollout/episode_length": np.array([[5.0, nan, 20.0], [nan, nan, nan]]),
        "rollout/episodes": np.array([[1.0, 0.0, 3.0], [0.0, 0.0, 0.0]]),
        "train/loss": np.array([[1.0, 2.0, nan], [3.0, 4.0, 5.0]]),
    }
    row = _row_metrics(metrics, 0, 3, num_seeds=2)
    assert row["rollout/episode_return"] == (10 * 1 + 40 * 3) / 4  # seed 1 saw no episode: left out
    assert row["rollout/episode_length"] == (5 * 1 + 20 * 3) / 4
    assert row["rollout/episodes"] == (4 + 0) / 2  # per seed, summed over the window; mean over seeds
    assert row["train/loss"] == (1.5 + 4.0) / 2  # finite values per seed, then the seeds' mean
    assert row["rollout/episode_return/seed0"] == 32.5 and math.isnan(row["rollout/episode_return/seed1"])
    one = _row_metrics(metrics, 2, 3, num_seeds=2)  # a one-update row is that update's values
    assert one["rollout/episode_return"] == 40.0 and one["train/loss"] == 5.0 and one["rollout/episodes"] == 1.5
