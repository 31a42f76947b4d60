"""How the rejax peer scripts time a run: compile ``train`` ahead of time, then run it once, so compilation
and training are reported apart (rejax's own README benchmark does the same)."""

import time

import jax


def compile_then_run(train, args):
    """(output, compile seconds, run seconds) of ``jax.jit(train)(args)``, compiled before the clock for the run starts."""
    t = time.perf_counter()
    compiled = jax.jit(train).lower(args).compile()
    compile_s = time.perf_counter() - t
    t = time.perf_counter()
    output = jax.block_until_ready(compiled(args))
    return output, compile_s, time.perf_counter() - t
