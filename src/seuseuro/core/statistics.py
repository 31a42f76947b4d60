"""Confidence intervals for reporting results across seeds or episodes.

Student-t interval on the mean: with the handful of seeds RL papers use (3-10), the normal
approximation (1.96) is too narrow (Henderson et al. 2018, "Deep RL that matters"; Agarwal et al.
2021 recommend interval estimates over point estimates).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

# Two-sided 95% Student-t quantiles t_{0.975, df} for df = 1..30; beyond that the normal 1.96.
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t_quantile_975(df: int) -> float:
    if df < 1:
        return math.nan
    return _T975[df - 1] if df <= len(_T975) else 1.96


def mean_ci95(values: Sequence[float] | np.ndarray) -> tuple[float, float, float]:
    """(mean, low, high) of the 95% t-interval of the mean; NaNs ignored; (m, nan, nan) for one value."""
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    if x.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if x.size == 1:
        return mean, math.nan, math.nan
    half = t_quantile_975(x.size - 1) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return mean, mean - half, mean + half
