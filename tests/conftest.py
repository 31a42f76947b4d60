import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
# pytest-xdist runs one worker per core: on a GPU each would otherwise grab 75% of its memory.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
# One compilation cache for the whole suite: tests that build the same program compile it once.
os.environ.setdefault("SEUSEURO_JAX_CACHE", str(Path(__file__).resolve().parent.parent / ".jax_cache"))

from seuseuro.core.compile_cache import enable_persistent_cache  # noqa: E402

enable_persistent_cache(min_compile_seconds=0.0)


@pytest.fixture
def learning_seed() -> int:
    """Training seed of the slow learning tests: SEUSEURO_TEST_SEED overrides it for local seed sweeps (issue 9).

    CI leaves it at 0; a sweep runs e.g. `SEUSEURO_TEST_SEED=3 pytest -m slow tests/test_learning.py`.
    """
    return int(os.environ.get("SEUSEURO_TEST_SEED", "0"))
