import math

import pytest

from seuseuro.core.statistics import mean_ci95


def test_t_interval_by_hand():
    # values 1, 2, 3: mean 2, sd 1, sem 1/sqrt(3), t(0.975, 2) = 4.303
    m, lo, hi = mean_ci95([1.0, 2.0, 3.0])
    half = 4.303 / math.sqrt(3)
    assert (m, lo, hi) == pytest.approx((2.0, 2.0 - half, 2.0 + half))


def test_single_value_and_nans():
    m, lo, hi = mean_ci95([5.0, float("nan")])
    assert m == 5.0 and math.isnan(lo) and math.isnan(hi)
