"""seuseuro's default XLA flags: set on import, never clobbering the user's (core/xla_flags.py)."""

import os
import subprocess
import sys
import textwrap

import pytest

from seuseuro.core.xla_flags import DEFAULT_FLAGS, with_default_flags, xla_flags_for

FLAG = "--xla_cpu_enable_concurrency_optimized_scheduler=false"


def test_the_flag_that_avoids_the_lapack_pool_deadlock_is_a_default():
    assert FLAG in DEFAULT_FLAGS


def test_defaults_are_appended_and_user_flags_kept():
    assert with_default_flags("") == FLAG
    assert with_default_flags("--xla_dump_to=/tmp/x") == f"--xla_dump_to=/tmp/x {FLAG}"


def test_a_flag_the_user_set_is_never_overridden():
    user = "--xla_cpu_enable_concurrency_optimized_scheduler=true --xla_force_host_platform_device_count=2"
    assert with_default_flags(user) == user


def test_opting_out_leaves_xla_flags_alone():
    assert xla_flags_for({"SEUSEURO_XLA_DEFAULTS": "off", "XLA_FLAGS": "--a=1"}) is None
    assert xla_flags_for({"XLA_FLAGS": "--a=1"}) == f"--a=1 {FLAG}"


def _fresh_python(code: str, timeout: float, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "SEUSEURO_XLA_DEFAULTS")}
    environ.update(env, JAX_PLATFORMS="cpu", SEUSEURO_JAX_CACHE="off")
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=environ, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.timeout(120)
def test_import_sets_the_flag_in_a_fresh_process_and_keeps_user_flags():
    code = "import os, seuseuro; print(os.environ['XLA_FLAGS'])"
    assert _fresh_python(code, 100).stdout.split() == [FLAG]
    kept = _fresh_python(code, 100, XLA_FLAGS="--xla_dump_to=/tmp/x").stdout.split()
    assert kept == ["--xla_dump_to=/tmp/x", FLAG]
    mine = "--xla_cpu_enable_concurrency_optimized_scheduler=true"
    assert _fresh_python(code, 100, XLA_FLAGS=mine).stdout.split() == [mine]


# The orthogonal init of six layers over four seeds in one compiled program: six independent batched
# QRs (geqrf then orgqr). Without the flag, XLA runs several at once, each on a worker of the
# intra-op pool (one per core) that then blocks waiting for its batch chunks queued on the same,
# exhausted pool (jax::ParallelBatchMap, jaxlib 0.10). On a 2-core machine this very program hung in
# every fresh process we ran without the flag (benchmarks/xla_cpu_hang.py --workload qr).
_BATCHED_QR = """
import seuseuro  # sets the default XLA flags before JAX starts its backend
import jax, jax.numpy as jnp

def init(key):
    shapes = [(64, 3), (128, 64), (64, 128), (64, 64), (4, 64), (1, 64)]
    keys = jax.random.split(key, len(shapes))
    return [jax.nn.initializers.orthogonal(1.4)(k, s, jnp.float32) for k, s in zip(keys, shapes)]

jax.block_until_ready(jax.jit(jax.vmap(init))(jax.random.split(jax.random.PRNGKey(0), 4)))
print("done")
"""


@pytest.mark.timeout(300)
def test_vmapped_qr_over_seeds_in_a_compiled_program_does_not_hang():
    try:
        done = _fresh_python(_BATCHED_QR, timeout=240)
    except subprocess.TimeoutExpired:
        pytest.fail("a jitted, vmapped QR over seeds hung: XLA:CPU's pool deadlock is back (core/xla_flags.py)")
    assert done.stdout.strip() == "done", done.stderr[-2000:]
