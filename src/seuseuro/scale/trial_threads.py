"""Trials sharing a machine must not fight (issue 12, item 2): size each trial process's JAX from its
Ray resources, before JAX starts its backends.

CPU threads. XLA:CPU sizes its intra-op pool (the ``tf_XLAEigen`` threads) from the CPUs the
process may run on (its affinity mask), not from XLA_FLAGS: jaxlib 0.10 has no thread-count flag
(``intra_op_parallelism_threads`` in XLA_FLAGS is rejected). Measured here (2 cores): a plain
process starts 2 ``tf_XLAEigen`` threads, one pinned to one core starts 1. So a trial of ``c`` Ray
CPUs claims a block of ``c`` cores on its node (a lock file per block under the temp dir, held for
the process's life and released by the kernel when it dies, killed or not) and pins itself to it;
a one-CPU trial also turns off Eigen's multithreading inside single ops. Without the pinning, four
one-CPU trials on a 4-core node would start 4 x 4 XLA threads. When every block is taken (fractional
CPUs, or more trials than blocks) the trial runs unpinned: it still gets the single-op setting.

GPU memory. JAX preallocates 75% of a GPU when it starts (anchors.md, "Scaling out: Ray"): two
trials sharing one GPU would fail. A trial with a GPU fraction allocates on demand
(XLA_PYTHON_CLIENT_PREALLOCATE=false) within that fraction of the memory
(XLA_PYTHON_CLIENT_MEM_FRACTION, the allocator's cap), less 5% headroom for the CUDA context.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from seuseuro.core.xla_flags import with_default_flags

_HELD_LOCKS: list[int] = []  # file descriptors of claimed core blocks: kept open for the process's life
_PREPARED: dict[tuple[float, float], dict] = {}  # (cpus, gpus) -> prepare_trial_process's answer in this process


def trial_environment(cpus: float, gpus: float, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment variables a trial of ``cpus`` CPUs and ``gpus`` GPUs sets before importing JAX."""
    threads = max(1, math.floor(cpus))
    env = {name: str(threads) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    flags = environ.get("XLA_FLAGS", "")
    if threads == 1:
        flags = with_default_flags(flags, ("--xla_cpu_multi_thread_eigen=false",))
    env["XLA_FLAGS"] = flags
    if gpus > 0:
        env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
        env["XLA_PYTHON_CLIENT_MEM_FRACTION"] = f"{max(0.05, min(gpus, 1.0) - 0.05):.2f}"
    return env


def core_blocks(available: list[int], cpus: float) -> list[list[int]]:
    """Disjoint blocks of ``floor(cpus)`` cores out of ``available`` (none for fractional trials)."""
    size = math.floor(cpus)
    if size < 1:
        return []
    cores = sorted(available)
    return [cores[i : i + size] for i in range(0, len(cores) - size + 1, size)]


def claim_core_block(cpus: float, lock_dir: Path | None = None) -> list[int] | None:
    """Pin this process to the first block of cores no other live trial holds; the block, or None."""
    import fcntl

    if not hasattr(os, "sched_setaffinity"):
        return None
    lock_dir = lock_dir or Path(tempfile.gettempdir()) / "seuseuro-core-blocks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    for block in core_blocks(list(os.sched_getaffinity(0)), cpus):
        fd = os.open(lock_dir / f"cores-{'-'.join(map(str, block))}.lock", os.O_CREAT | os.O_RDWR, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        _HELD_LOCKS.append(fd)
        os.sched_setaffinity(0, block)
        return block
    return None


def prepare_trial_process(cpus: float, gpus: float) -> dict:
    """Size this (trial worker) process; call before anything imports JAX. Returns what was done, for
    the run's record (``jax_already_started``: the settings came too late to take effect). A worker that
    Tune reuses for a later trial of the same resources (``reuse_actors``) keeps its first sizing: it still
    holds its core block (claiming again would take a second one) and its JAX started with these settings."""
    if (cpus, gpus) in _PREPARED:
        return _PREPARED[(cpus, gpus)]
    started = "jax" in sys.modules  # imported: its backend may have started (XLA reads XLA_FLAGS once)
    env = trial_environment(cpus, gpus, os.environ)
    os.environ.update(env)
    block = claim_core_block(cpus) if gpus == 0 or cpus >= 1 else None
    _PREPARED[(cpus, gpus)] = {"cores": block, "env": env, "jax_already_started": started}
    return _PREPARED[(cpus, gpus)]
