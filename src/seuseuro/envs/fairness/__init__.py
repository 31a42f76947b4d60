"""Fairness environments: decisions whose effects feed back into the population decided on.

``FAIRNESS_ENVS`` maps env ids to classes; ``seuseuro.envs.registry`` reads it.
"""

from seuseuro.envs import import_gymnax

import_gymnax()  # before the environments below import gymnax: see seuseuro.envs

from seuseuro.envs.fairness.admission import AdmissionParams, CollegeAdmissionEnv  # noqa: E402
from seuseuro.envs.fairness.attention import AttentionAllocationEnv, AttentionParams, attention_params  # noqa: E402
from seuseuro.envs.fairness.lending import LendingEnv, LendingParams, LendingState, lending_params  # noqa: E402

FAIRNESS_ENVS = {
    "Lending-v0": LendingEnv,
    "AttentionAllocation-v0": AttentionAllocationEnv,
    "CollegeAdmission-v0": CollegeAdmissionEnv,
}

__all__ = [
    "FAIRNESS_ENVS",
    "AdmissionParams",
    "AttentionAllocationEnv",
    "AttentionParams",
    "CollegeAdmissionEnv",
    "LendingEnv",
    "LendingParams",
    "LendingState",
    "attention_params",
    "lending_params",
]
