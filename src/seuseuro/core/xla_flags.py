"""XLA flags seuseuro sets by default, before JAX starts its CPU backend (issue 9, item 4).

The hang: on jaxlib 0.10.x a compiled program that runs several *batched* LAPACK kernels at once
(QR, LU, Cholesky, eigh...: what ``jnp.linalg`` lowers to ``lapack_*_ffi``; e.g. a vmapped
``jax.nn.initializers.orthogonal`` over seeds for several layers) can hang for good, every thread
asleep. gdb on hung processes (benchmarks/xla_cpu_hang.py) shows both ``tf_XLAEigen`` workers of
XLA:CPU's intra-op pool (one per core; two here) in ``jax::ParallelBatchMap`` ->
``absl::BlockingCounter::Wait``, one under ``lapack_sgeqrf_ffi``, the other under
``lapack_sorgqr_ffi`` of another layer; the main thread waits in ``BlockUntilReady``. Each kernel
runs *on* a pool worker, queues its batch chunks on the same pool and blocks until they finish:
once as many kernels run at once as the pool has threads, no thread is left to run a chunk.
Upstream: jaxlib 0.10's lapack_kernels.cc fans batches out with ParallelBatchMap (described in
https://github.com/jax-ml/jax/issues/39292 and https://github.com/jax-ml/jax/pull/39383, which say
later open-source builds run batches serially); the same pool re-entry through ducc0's FFT, with
the same all-workers-in-a-wait stacks: https://github.com/PyAutoLabs/PyAutoFit/issues/1530.

The flag: ``--xla_cpu_enable_concurrency_optimized_scheduler=false`` keeps XLA's default (memory-
minimizing) schedule; the concurrency-optimized one orders the program so that independent
custom calls, like several layers' QRs, run at the same time. It does not remove the blocking wait
in jaxlib, so it lowers the odds rather than proving the hang impossible; a jaxlib whose LAPACK
kernels no longer wait on the pool is the real fix. ``--xla_cpu_multi_thread_eigen=false`` does
NOT help: it hung with the identical stacks. Numbers: see ``DEFAULT_FLAGS``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# Measured on this 2-core machine, load average ~11 from other jobs, fresh processes, no compilation
# cache (benchmarks/xla_cpu_hang.py --workload qr: a jitted, vmapped orthogonal init of 6 layer
# shapes over 4 seeds, i.e. the test's program): no flags 3 of 3 hung (gdb: the stacks above);
# --xla_cpu_multi_thread_eigen=false 2 of 2 hung (the one dumped: same stacks); this flag 0 of 7, 21-49 s
# each. PPO on CartPole (8 envs x 32 steps, 4 epochs x 4 minibatches, steps/s after compilation,
# benchmarks/ppo_vs_sb3.py's scaling worker, two A/B pairs at load ~10-12, so +-2x noise):
# 1 seed 9.4k and 19.2k steps/s with the flag against 18.3k and 42.6k without; 8 seeds 38.4k and
# 25.0k against 34.9k and 38.3k. Possibly slower, not settled: re-measure on a quiet machine; if it
# costs that much, drop the default once jaxlib no longer waits on the pool (SEUSEURO_XLA_DEFAULTS=off
# turns it off meanwhile).
DEFAULT_FLAGS: tuple[str, ...] = ("--xla_cpu_enable_concurrency_optimized_scheduler=false",)

OPT_OUT_VARIABLE = "SEUSEURO_XLA_DEFAULTS"
"""Set to ``off`` to keep XLA_FLAGS exactly as the user left it."""


def flag_name(flag: str) -> str:
    """``--xla_foo=bar`` -> ``--xla_foo``."""
    return flag.split("=", 1)[0]


def with_default_flags(current: str, defaults: Sequence[str] = DEFAULT_FLAGS) -> str:
    """``current`` XLA_FLAGS plus each default whose flag the user has not set (user values win)."""
    present = {flag_name(f) for f in current.split()}
    extra = [f for f in defaults if flag_name(f) not in present]
    return " ".join([*current.split(), *extra]) if extra else current


def xla_flags_for(environ: Mapping[str, str]) -> str | None:
    """The XLA_FLAGS seuseuro wants in ``environ``, or None to leave it alone (opted out)."""
    if environ.get(OPT_OUT_VARIABLE, "").lower() in ("off", "0", "false"):
        return None
    return with_default_flags(environ.get("XLA_FLAGS", ""))
