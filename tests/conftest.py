import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
# pytest-xdist runs one worker per core: on a GPU each would otherwise grab 75% of its memory.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
# The suite spends most of its CPU in XLA compilation (a tiny CartPole PPO run: ~4 s compiling its chunk
# and init programs for ~0.2 s of training): LLVM's O1 instead of its default O2 compiles them ~30% faster
# with bit-identical results (same parameters after training, measured on jaxlib 0.10.2) and no measurable
# loss of speed at the suite's sizes (issue 9). The library's own default stays O2 (7% more steps/s on
# long runs). Subprocesses (crash-safety, CLI) inherit it.
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_backend_optimization_level=1".strip()
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


def pytest_collection_modifyitems(config, items):
    """The slow learning tests first (a stable sort), so that pytest-xdist's workers end together on the
    short tests instead of one worker idling while the other finishes a 100-s learning test (issue 9)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
