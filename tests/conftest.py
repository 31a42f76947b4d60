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

import jax  # noqa: E402

from seuseuro.core.compile_cache import enable_persistent_cache  # noqa: E402

enable_persistent_cache(min_compile_seconds=0.0)

# Quick compiles for the tests that run their programs for milliseconds (issue 9). Those tests spend
# ~80% of their time in XLA's compiler (measured with jax.monitoring over tests/algos: 168 s compiling
# of 204 s). LLVM at O0 without its expensive passes, and XLA:CPU's older loop emitters instead of its
# MLIR fusion emitters, compile a tiny PPO chunk 3x faster (10.7 -> 3.2 CPU-s; DQN 10.3 -> 2.9) and run
# it ~4x slower. The learning tests (marked slow, minutes of compiled training) keep the library's
# compiler settings, so the seeds and margins measured for them stay valid; so do subprocesses, unless
# a test hands them QUICK_XLA_FLAGS. The results differ in the last bits of float32 (7e-7 on a PPO
# chunk); no test compares a quick-compiled result with a fully optimized one.
QUICK_COMPILE_OPTIONS = {
    "xla_backend_optimization_level": 0,
    "xla_llvm_disable_expensive_passes": True,
    "xla_cpu_use_fusion_emitters": False,
}
QUICK_XLA_FLAGS = " ".join(f"--{k}={str(v).lower()}" for k, v in QUICK_COMPILE_OPTIONS.items())
_quick = {"on": False, "patched": None}  # patched: None until the first test, then True/False


def _patch_compile_options() -> bool:
    """Let the suite switch compile options per test: XLA reads XLA_FLAGS once per process, but JAX
    passes per-compilation overrides (what ``jax.jit(compiler_options=...)`` sets) through
    ``compiler.get_compile_options``. A private JAX function: if it moves, the suite runs unpatched
    (slower, same results). JAX's persistent cache keys include these overrides."""
    try:
        from jax._src import compiler
    except ImportError:
        return False
    original = getattr(compiler, "get_compile_options", None)
    if original is None or jax.default_backend() != "cpu":
        return False

    def get_compile_options(*args, **kwargs):
        if _quick["on"]:
            kwargs["env_options_overrides"] = {**QUICK_COMPILE_OPTIONS, **(kwargs.get("env_options_overrides") or {})}
        return original(*args, **kwargs)

    compiler.get_compile_options = get_compile_options
    return True


@pytest.fixture(autouse=True)
def _compile_mode(request):
    """Quick compiles unless the test is marked slow (and not ``quick_compile``). Switching clears JAX's
    in-memory caches, so that a learning test never reuses a program compiled quick by an earlier test."""
    if _quick["patched"] is None:
        _quick["patched"] = _patch_compile_options()
    quick = request.node.get_closest_marker("slow") is None or request.node.get_closest_marker("quick_compile")
    if _quick["patched"] and bool(quick) != _quick["on"]:
        jax.clear_caches()
        _quick["on"] = bool(quick)
    yield


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


@pytest.fixture
def child_xla_flags() -> str:
    """XLA_FLAGS for a subprocess that must compile as this test does: a test that compares a child's
    result with its own bit for bit hands its children the quick options when it compiles quick."""
    flags = os.environ.get("XLA_FLAGS", "")
    if not _quick["on"]:
        return flags
    kept = [f for f in flags.split() if f.lstrip("-").split("=")[0] not in QUICK_COMPILE_OPTIONS]
    return " ".join([*kept, QUICK_XLA_FLAGS])


@pytest.fixture
def train_until_bar():
    """``run(algo, trainer, state, env, eval_seed, episodes, bar) -> scores``: train chunk by chunk (the
    trainer's ``updates_per_chunk``) up to the whole budget, scoring the first seed's greedy policy
    (``algo.policy_for_eval``, mean return of ``episodes`` evaluation episodes) after each chunk, and stop at the
    first score >= ``bar``. A learning test that asks "reaches X within N steps" (issue 11's wording) then pays
    only for the steps its agent needs (issue 9: SAC crossed -200 on Pendulum after 5-7.5k of its 20k steps),
    and an algorithm whose return swings between chunks is judged where it first got there. The whole budget is
    still the limit, and a broken algorithm scores under the bar at every chunk."""
    from seuseuro.collect.evaluate import evaluate

    def run(algo, trainer, state, env, eval_seed: int, episodes: int, bar: float) -> list[float]:
        done, scores = 0, []
        while done < trainer.num_updates:
            n = min(trainer.updates_per_chunk, trainer.num_updates - done)
            state, _ = trainer.run_chunk(state, n)
            done += n
            act, params = algo.policy_for_eval(trainer.config, jax.tree.map(lambda x: x[0], state))
            scores.append(float(evaluate(act, params, env, eval_seed, episodes).mean()))
            if scores[-1] >= bar:
                break
        return scores

    return run
