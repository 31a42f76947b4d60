"""Compiled chunks of updates: the shape every JAX-native trainer takes for the host driver.

An algorithm supplies ``init_one(key) -> state`` and ``one_update(state) -> (state, metrics)`` for
ONE seed; :func:`make_chunked_trainer` turns them into a :class:`Trainer` whose ``run_chunk`` runs
``updates_per_chunk`` updates in one compiled ``lax.scan``, vmapped over seeds (PureJaxRL's
``make_train``, cut into chunks so the host can log and checkpoint in between).

The last chunk of a run is usually partial: ``n_active`` (not vmapped, so ``lax.cond`` stays a
real branch) skips the surplus updates, which report NaN metrics. One program serves every
chunk, so there is one compilation per run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class Trainer:
    """What the host driver (``seuseuro.driver``) needs; state leaves have a leading seed axis."""

    config: Any
    num_seeds: int
    updates_per_chunk: int
    init: Callable  # (keys (S,)) -> state
    run_chunk: Callable  # (state, n_active: int) -> (state, metrics {name: (S, updates_per_chunk)})
    state_template: Callable  # () -> abstract state (shapes only), for loading checkpoints
    # State kept outside JAX (the Gymnasium bridge's host environments), checkpointed beside the
    # TrainState when it can be pickled: () -> picklable object or None; and object -> None.
    host_state: Callable[[], Any] | None = None
    restore_host_state: Callable[[Any], None] | None = None
    # Called after each checkpoint with (state, updates_done): files kept beside it (an LM run's model.npz).
    after_checkpoint: Callable[[Any, int], None] | None = None
    progress_metric: str = "rollout/episode_return"  # what the host driver's progress bar shows
    progress_digits: int = 1
    log_every_update: bool = True  # False: one metrics row per chunk (its last update)
    num_updates: int = 0  # updates in the whole run
    steps_per_update: int = 0  # environment steps per update and seed (an off-policy algorithm's is
    # its vector envs x steps per update, not its replay sample size)

    def __post_init__(self):
        if self.num_updates < 1 or self.steps_per_update < 1:
            raise ValueError("a Trainer needs num_updates >= 1 and steps_per_update >= 1")

    def run_updates(self, state: Any, updates: int) -> tuple[Any, dict[str, np.ndarray]]:
        """``updates`` updates from ``state``, chunk by chunk (the last one partial): the host driver's
        loop without logging or checkpoints, for scripts and tests. Returns the new state and each
        metric as ``(num_seeds, updates)``. Rebind the state: a donating trainer consumes the one given."""
        done, chunks = 0, []
        while done < updates:
            n = min(self.updates_per_chunk, updates - done)
            state, metrics = self.run_chunk(state, n)
            chunks.append({k: np.asarray(v)[:, :n] for k, v in metrics.items()})
            done += n
        return state, {k: np.concatenate([c[k] for c in chunks], axis=1) for k in (chunks[0] if chunks else {})}


def make_chunked_trainer(
    config: Any,
    init_one: Callable[..., Any],
    one_update: Callable[[Any], tuple[Any, dict[str, jax.Array]]],
    num_seeds: int,
    updates_per_chunk: int,
    build_on_host: Callable[[jax.Array], Any] | None = None,
    *,
    num_updates: int,
    steps_per_update: int,
    donate_state: bool = False,
) -> Trainer:
    """Compile ``one_update`` into vmapped chunks of ``updates_per_chunk`` updates.

    ``build_on_host(key)``, if given, builds part of a seed's state outside of XLA (the networks:
    see ``core.networks.orthogonal_matrix`` for why); ``init_one(key, built)`` gets it, stacked
    over seeds, and builds the rest (environment reset, optimizer state) compiled.

    ``donate_state``: ``run_chunk`` reuses the state's buffers for the new state (the state passed
    in is deleted; callers rebind it, ``state, m = run_chunk(state, n)``). Without donation XLA
    writes the new state into fresh memory, a copy of the whole state per chunk: for an off-policy
    replay buffer of 1M rows x 3 seeds ~180 ms per call, measured (~0.9 ms per update at 200-update
    chunks against 3 us donated; SAC Pendulum ran ~20-40% slower with a 1M buffer than with 20k).
    """

    def chunk_one(state, n_active):
        params, static = eqx.partition(state, eqx.is_array)
        traced: dict[str, Any] = {}

        def body(params, i):
            def run(p):
                new_state, metrics = one_update(eqx.combine(p, static))
                traced["metrics"] = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype), metrics)
                return eqx.filter(new_state, eqx.is_array), metrics

            def skip(p):  # past the end of training: keep the state, report NaN
                # The metric shapes come from tracing ``run`` (lax.cond traces it first); tracing the
                # update a second time just for them cost ~0.2 s of every run's start.
                shapes = traced.get("metrics") or jax.eval_shape(lambda s: one_update(s)[1], state)
                return p, jax.tree.map(lambda s: jnp.full(s.shape, jnp.nan, s.dtype), shapes)

            return jax.lax.cond(i < n_active, run, skip, params)

        params, metrics = jax.lax.scan(body, params, jnp.arange(updates_per_chunk))
        # n_active comes back out so that, donated, its buffer has an output to alias (else JAX
        # warns "Some donated buffers were not usable" at every call)
        return eqx.combine(params, static), metrics, n_active

    run_chunk = eqx.filter_jit(
        jax.vmap(chunk_one, in_axes=(0, None), out_axes=(0, 0, None)), donate="all" if donate_state else "none"
    )
    init_compiled = eqx.filter_jit(jax.vmap(init_one))

    def init(keys):
        if build_on_host is None:
            return init_compiled(keys)
        return init_compiled(keys, stack_on_host([build_on_host(k) for k in keys]))

    def call(state, n_active: int):
        state, metrics, _ = run_chunk(state, jnp.asarray(n_active, jnp.int32))
        return state, metrics

    def template():
        keys = jax.random.split(jax.random.PRNGKey(0), num_seeds)
        if build_on_host is None:
            return jax.eval_shape(init_compiled, keys)
        one = jax.eval_shape(build_on_host, keys[0])
        built = jax.tree.map(lambda x: jax.ShapeDtypeStruct((num_seeds, *x.shape), x.dtype), one)
        return jax.eval_shape(init_compiled, keys, built)

    return Trainer(
        config, num_seeds, updates_per_chunk, init, call, template,
        num_updates=num_updates, steps_per_update=steps_per_update,
    )  # fmt: skip


def stack_on_host(trees: list[Any]) -> Any:
    """Stack per-seed pytrees along a new leading axis in numpy (no XLA op to compile)."""
    arrays = [eqx.filter(t, eqx.is_array) for t in trees]
    static = eqx.partition(trees[0], eqx.is_array)[1]
    stacked = jax.tree.map(lambda *xs: jnp.asarray(np.stack([np.asarray(x) for x in xs])), *arrays)
    return eqx.combine(stacked, static)
