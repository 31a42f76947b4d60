"""A pytest plugin that writes, per test, its wall and CPU seconds and JAX's tracing, lowering and XLA
backend-compile seconds (from ``jax.monitoring``): where the suite's time goes (issue 9).

    PYTHONPATH=benchmarks SEUSEURO_JAX_CACHE=$(mktemp -d) pytest -n 0 -p suite_compile_profile tests/algos
    sort -t$'\\t' -k2 -rn suite_compile_profile.tsv | column -t -s$'\\t'

Columns: test, wall, cpu, trace, lower, compile (seconds), compiles. Set SUITE_PROFILE_OUT for another file.
Measured with it (2026-11-26, 2 cores): the short tests of tests/algos/test_ppo.py + test_dqn.py spent 168 s
of 204 s in XLA's backend compile at the library's settings, 70 s of 121 s with the suite's quick options.
"""

from __future__ import annotations

import collections
import os
import time

import pytest

EVENTS = {
    "trace": "/jax/core/compile/jaxpr_trace_duration",
    "lower": "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "compile": "/jax/core/compile/backend_compile_duration",
}
_seconds: collections.Counter = collections.Counter()
_counts: collections.Counter = collections.Counter()
_listening = False


def _listener(event: str, duration: float, **_) -> None:
    _seconds[event] += duration
    _counts[event] += 1


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    global _listening
    if not _listening:
        import jax

        jax.monitoring.register_event_duration_secs_listener(_listener)
        _listening = True
    _seconds.clear()
    _counts.clear()
    wall, cpu = time.time(), time.process_time()
    yield
    wall, cpu = time.time() - wall, time.process_time() - cpu
    phases = "\t".join(f"{_seconds.get(e, 0.0):.2f}" for e in EVENTS.values())
    with open(os.environ.get("SUITE_PROFILE_OUT", "suite_compile_profile.tsv"), "a") as f:
        f.write(f"{item.nodeid}\t{wall:.2f}\t{cpu:.2f}\t{phases}\t{_counts.get(EVENTS['compile'], 0)}\n")
