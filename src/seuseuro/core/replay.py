"""A functional circular replay buffer that lives in the train state (ARCHITECTURE.md, "core").

What it reproduces: the uniform replay of DQN (Mnih et al. 2015) and SAC/TD3, with
- storage of a ``(N, ...)`` block of transitions per call, one row per step of N vectorized envs;
  each env keeps its own time-ordered stream ``data[row, env]`` so consecutive rows of one env are
  consecutive steps (the layout of flashbax's trajectory buffer);
- ``terminated`` kept apart from ``truncated`` and ``next_obs`` the true final observation, so a
  time limit bootstraps (Pardo et al. 2018; SB3's ``handle_timeout_termination``);
- a ``valid`` mask: the step a Gymnasium >= 1.0 vector env spends resetting a finished copy
  (next-step auto-reset, ``Transition.valid == 0``) is stored but never sampled, nor are unwritten rows;
- optional n-step returns built at sampling time from the following rows of the same env, stopping
  at a termination or truncation (bootstrap from that step's ``next_obs``; none after a termination),
  at an invalid row, or at the newest row written (a shorter return, as SB3's n-step buffer does);
- optional proportional prioritized replay (Schaul et al. 2016, section 3.3 and Algorithm 1):
  ``P(i) = p_i^alpha / sum_k p_k^alpha`` with ``p_i = |delta_i| + eps``, new transitions at the
  largest priority seen so far, stratified sampling (one draw per equal segment of the total mass),
  importance weights ``(N P(i))^-beta`` divided by their maximum over the buffer (OpenAI baselines'
  reading of "normalize by max_i w_i").

What it simplifies:
- Uniform sampling (the default) is O(batch): candidates among the written rows, the first valid one
  kept (see ``_sample_uniform_valid``: a batch element whose 8 candidates are all reset steps comes
  with weight 0, so multiply per-sample losses by ``weight``).
- Prioritized sampling is O(capacity) per call, not a sum tree's O(log capacity): a two-level
  cumulative sum (sqrt(capacity) blocks of sqrt(capacity) rows) then two binary searches. One level
  in float32 loses precision at 1e6 rows: measured, the float32 cumsum of 1e6 uniform(0, 1)
  priorities is off by up to 0.11, a fifth of a mean priority; two levels keep every partial sum
  over ~1e3 terms. A sum tree's update of a batch of leaves with shared ancestors needs a sequential
  or sort-based pass under jit, which is why we did not write one. Measured, jitted, batch 256,
  4-float observations, on this project's shared 2-core CPU at load ~12 (so upper bounds, noisy):
  ``sample`` 1e6 rows uniform 0.4 ms, prioritized 12-21 ms (1e4 rows: ~1 ms); ``add`` 0.2-0.4 ms;
  ``update_priorities`` < 1 ms. Prioritized replay at 1e6 rows with an update every step is
  therefore CPU-bound here; a sum tree is the next step if that case matters (not measured on a GPU).
- Observations are stored twice (``obs`` and ``next_obs``): simple and exact across auto-resets,
  but twice the memory of SB3's ``optimize_memory_usage``; fine for vector observations, too much
  for 1e6 Atari frames.
- Raw observations are stored; normalization is the caller's, at sampling.

Why not flashbax (PyPI 0.1.3): it pulls flax, chex, orbax and tensorstore into our dependencies,
its buffers have no notion of a ``valid`` mask or of terminated-vs-truncated n-step bootstrapping
(the caller slices sequences and must mask them), and its state is a flax dataclass rather than an
Equinox module; the pieces we need fit in this file.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from seuseuro.errors import UserError


class ReplayBuffer(eqx.Module):
    """Buffer state: arrays only (checkpointable), with its configuration as static fields."""

    data: Any  # a Transition whose leaves are (rows, num_envs, ...) and whose ``valid`` is None
    valid: jax.Array  # (rows, num_envs) bool: row written and a real transition
    priority: jax.Array  # (rows, num_envs) float32: p_i^alpha (unused without prioritization)
    max_priority: jax.Array  # () float32: p^alpha given to new transitions
    cursor: jax.Array  # () int32: the row the next ``add`` writes
    rows_added: jax.Array  # () int32: rows written so far (saturates at rows)
    n_step: int = eqx.field(static=True)
    gamma: float = eqx.field(static=True)
    prioritized: bool = eqx.field(static=True)
    alpha: float = eqx.field(static=True)
    priority_eps: float = eqx.field(static=True)

    @property
    def rows(self) -> int:
        return self.valid.shape[0]

    @property
    def num_envs(self) -> int:
        return self.valid.shape[1]


class ReplaySample(NamedTuple):
    """A sampled batch; with n-step returns the fields describe the whole n-step segment."""

    obs: jax.Array  # (B, *obs_shape)  raw observation of the first step
    action: jax.Array  # (B, *action_shape)
    reward: jax.Array  # (B,)  sum_{k<n} gamma^k r_{t+k} over the steps used
    discount: jax.Array  # (B,)  gamma^n_used * (1 - terminated at the last step used): the bootstrap factor
    next_obs: jax.Array  # (B, *obs_shape)  observation to bootstrap from (the last step's next_obs)
    weight: jax.Array  # (B,)  importance weight (1 when uniform); 0 for a draw that is not a valid row
    index: jax.Array  # (B,) int32  flat index row * num_envs + env, for update_priorities


def init(
    capacity: int,
    example_transition: Any,
    *,
    n_step: int = 1,
    gamma: float = 0.99,
    prioritized: bool = False,
    alpha: float = 0.6,
    priority_eps: float = 1e-6,
) -> ReplayBuffer:
    """An empty buffer holding ``capacity`` transitions, shaped after ``example_transition``.

    ``example_transition`` is one call's worth of data: a :class:`~seuseuro.core.types.Transition`
    whose leaves have a leading ``(num_envs,)`` axis (its values are ignored). The buffer keeps
    ``capacity // num_envs`` rows per env. ``alpha`` is Schaul et al.'s priority exponent (0.6 for
    their proportional variant); ``n_step`` and ``gamma`` shape the returned ``reward``/``discount``.
    """
    num_envs = int(jnp.shape(example_transition.reward)[0]) if jnp.ndim(example_transition.reward) else 0
    if num_envs < 1:
        raise UserError("replay init: example_transition.reward must have a leading (num_envs,) axis")
    if capacity < num_envs:
        raise UserError(f"replay capacity {capacity} is smaller than num_envs {num_envs}; raise buffer_size")
    if n_step < 1:
        raise UserError(f"replay n_step must be >= 1, got {n_step}")
    if not 0.0 <= gamma <= 1.0:
        raise UserError(f"replay gamma must be in [0, 1], got {gamma}")
    rows = capacity // num_envs
    example = example_transition._replace(valid=None)
    data = jax.tree.map(lambda x: jnp.zeros((rows, *jnp.shape(x)), jnp.asarray(x).dtype), example)
    return ReplayBuffer(
        data=data,
        valid=jnp.zeros((rows, num_envs), bool),
        priority=jnp.zeros((rows, num_envs), jnp.float32),
        max_priority=jnp.asarray(1.0, jnp.float32),
        cursor=jnp.asarray(0, jnp.int32),
        rows_added=jnp.asarray(0, jnp.int32),
        n_step=n_step,
        gamma=float(gamma),
        prioritized=prioritized,
        alpha=float(alpha),
        priority_eps=float(priority_eps),
    )


def add(buffer: ReplayBuffer, transition: Any) -> ReplayBuffer:
    """Write one step of ``num_envs`` transitions (leaves ``(num_envs, ...)``) over the oldest row."""
    row = buffer.cursor
    valid = jnp.ones((buffer.num_envs,), bool) if transition.valid is None else transition.valid.astype(bool)
    new_data = jax.tree.map(
        lambda store, x: store.at[row].set(jnp.asarray(x, store.dtype)), buffer.data, transition._replace(valid=None)
    )
    return eqx.tree_at(
        lambda b: (b.data, b.valid, b.priority, b.cursor, b.rows_added),
        buffer,
        (
            new_data,
            buffer.valid.at[row].set(valid),
            buffer.priority.at[row].set(buffer.max_priority),
            (row + 1) % buffer.rows,
            jnp.minimum(buffer.rows_added + 1, buffer.rows),
        ),
    )


def add_rollout(buffer: ReplayBuffer, rollout: Any) -> ReplayBuffer:
    """:func:`add` each step of ``rollout`` (leaves ``(T, num_envs, ...)``) in order."""
    buffer, _ = jax.lax.scan(lambda b, x: (add(b, x), None), buffer, rollout)
    return buffer


def sample(buffer: ReplayBuffer, key: jax.Array, batch_size: int, beta: float | jax.Array = 0.4) -> ReplaySample:
    """Draw ``batch_size`` valid transitions (uniformly, or proportionally to priority^alpha).

    ``beta`` is the importance-sampling exponent of prioritized replay (Schaul et al. anneal it
    from 0.4 to 1 over training); it is ignored by uniform replay. Multiply per-sample losses by
    ``weight``: it is 0 for a draw that found no valid row (all of an empty buffer's, rare uniform ones).
    """
    if buffer.prioritized:
        mass = jnp.where(buffer.valid, buffer.priority, 0.0).reshape(-1)
        flat = _sample_proportional(key, mass, batch_size)
    else:
        flat = _sample_uniform_valid(key, buffer, batch_size)
    row, env = flat // buffer.num_envs, flat % buffer.num_envs
    reward, discount, last_row = _n_step_segment(buffer, row, env)

    if buffer.prioritized:
        # (N P(i))^-beta / max_j (N P(j))^-beta = (P(i) / min_j P(j))^-beta: N and the total cancel
        min_mass = jnp.min(jnp.where(mass > 0, mass, jnp.inf))
        weight = (mass[flat] / min_mass) ** -beta
    else:
        weight = jnp.ones((batch_size,), jnp.float32)
    weight = jnp.where(buffer.valid[row, env], weight, 0.0)
    return ReplaySample(
        obs=buffer.data.obs[row, env],
        action=buffer.data.action[row, env],
        reward=reward,
        discount=discount,
        next_obs=buffer.data.next_obs[last_row, env],
        weight=weight,
        index=flat.astype(jnp.int32),
    )


def update_priorities(buffer: ReplayBuffer, index: jax.Array, td_error: jax.Array) -> ReplayBuffer:
    """Set ``p_i^alpha = (|td_error_i| + eps)^alpha`` for the sampled ``index`` (Schaul et al., Alg. 1)."""
    new = (jnp.abs(td_error).astype(jnp.float32) + buffer.priority_eps) ** buffer.alpha
    # Duplicated indices in one batch carry the same transition; whichever write wins is fine.
    priority = buffer.priority.reshape(-1).at[index].set(new).reshape(buffer.priority.shape)
    return eqx.tree_at(
        lambda b: (b.priority, b.max_priority), buffer, (priority, jnp.maximum(buffer.max_priority, new.max()))
    )


def _n_step_segment(buffer: ReplayBuffer, row: jax.Array, env: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """n-step return, bootstrap discount and last row used, for the segments starting at ``(row, env)``.

        G = sum_{k<m} gamma^k r_{t+k},  discount = gamma^m (1 - terminated_{t+m-1}),  bootstrap from next_obs_{t+m-1}

    where m <= n stops after the first terminated/truncated step, before an invalid or not-yet-written row.
    """
    data = buffer.data
    # rows written after `row` in this env's stream: the look-ahead may not pass the newest row
    rows_after = (buffer.cursor - 1 - row) % buffer.rows
    ret = jnp.zeros(row.shape, jnp.float32)
    discount = jnp.ones(row.shape, jnp.float32)
    last = row
    alive = jnp.ones(row.shape, bool)
    for k in range(buffer.n_step):  # n is small and static: unrolled
        r_k = (row + k) % buffer.rows
        if k > 0:
            prev = last
            ended = data.terminated[prev, env] | data.truncated[prev, env]
            alive = alive & ~ended & (k <= rows_after) & buffer.valid[r_k, env]
        ret = ret + jnp.where(alive, discount * data.reward[r_k, env], 0.0)
        discount = jnp.where(alive, discount * buffer.gamma, discount)
        last = jnp.where(alive, r_k, last)
    discount = discount * (1.0 - data.terminated[last, env].astype(jnp.float32))
    return ret, discount, last


def _sample_uniform_valid(key: jax.Array, buffer: ReplayBuffer, batch_size: int, tries: int = 8) -> jax.Array:
    """Uniform draws over the valid rows in O(batch): ``tries`` uniform candidates among the written rows
    (rows fill from 0, so they are the first ``rows_added`` rows), keep the first valid one.

    The first valid candidate of i.i.d. uniform candidates is uniform over the valid rows. If all are
    invalid (probability f^tries for a fraction f of reset steps: 4e-3 at f = 1/2, i.e. 1-step
    episodes, 1e-8 at f = 1/10) the draw is an invalid row that ``sample`` gives weight 0.
    """
    written = buffer.rows_added * buffer.num_envs
    candidates = jax.random.randint(key, (batch_size, tries), 0, jnp.maximum(written, 1))
    ok = buffer.valid.reshape(-1)[candidates]
    return jnp.take_along_axis(candidates, jnp.argmax(ok, axis=1)[:, None], axis=1)[:, 0]


def _sample_proportional(key: jax.Array, mass: jax.Array, batch_size: int) -> jax.Array:
    """Stratified draws of indices with probability ``mass_i / sum(mass)``; zero mass is never drawn.

    Two-level cumulative sum: pick a block by its total, then a slot inside it (see module docstring).
    """
    size = mass.shape[0]
    block = max(1, math.isqrt(size - 1) + 1)  # ceil(sqrt(size))
    num_blocks = -(-size // block)
    grid = jnp.pad(mass, (0, num_blocks * block - size)).reshape(num_blocks, block)
    block_mass = grid.sum(axis=1)
    block_cdf = jnp.cumsum(block_mass)
    total = block_cdf[-1]
    # one uniform draw in each of batch_size equal segments of the mass (Schaul et al., appendix B.2.1)
    u = (jnp.arange(batch_size) + jax.random.uniform(key, (batch_size,))) / batch_size * total
    # side="right": the first cdf entry > u, so a zero-mass entry (equal cdf to its left) is skipped;
    # rounding can push u past the last positive entry, hence the clamps to the last positive one.
    b = jnp.searchsorted(block_cdf, u, side="right")
    b = jnp.minimum(b, _last_positive(block_mass))
    u_in = u - (block_cdf[b] - block_mass[b])
    rows = grid[b]  # (batch, block)
    j = jax.vmap(lambda c, x: jnp.searchsorted(c, x, side="right"))(jnp.cumsum(rows, axis=1), u_in)
    j = jnp.minimum(j, jax.vmap(_last_positive)(rows))
    return b * block + j


def _last_positive(x: jax.Array) -> jax.Array:
    """Index of the last positive entry of a 1-D array (0 if none)."""
    return x.shape[0] - 1 - jnp.argmax(x[::-1] > 0)
