"""Fairness environments: decisions whose effects feed back into the population decided on.

``FAIRNESS_ENVS`` maps env ids to classes; ``seuseuro.envs.registry`` reads it.
"""

from seuseuro.envs.fairness.lending import LendingEnv, LendingParams, LendingState, lending_params

FAIRNESS_ENVS = {
    "Lending-v0": LendingEnv,
}

__all__ = ["FAIRNESS_ENVS", "LendingEnv", "LendingParams", "LendingState", "lending_params"]
