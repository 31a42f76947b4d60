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

# Measured (benchmarks/xla_cpu_hang.py --workload qr: a jitted, vmapped orthogonal init of 6 layer
# shapes over 4 seeds; 2 cores): no flags hung MEASURE; --xla_cpu_multi_thread_eigen=false MEASURE;
# --xla_cpu_enable_concurrency_optimized_scheduler=false MEASURE. PPO on CartPole with the flag:
# MEASURE steps/s against MEASURE without (benchmarks/ppo_vs_sb3.py timing).
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
