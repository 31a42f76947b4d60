"""The one exception type that reaches a user.

Everything a user can get wrong (an unknown environment id, an invalid flag value, a corrupt
checkpoint) raises :class:`UserError` with one line that names the problem and the fix. The CLI
prints that line and exits with status 2; library callers can catch it.
"""

from typing import Any


class UserError(Exception):
    """Bad input from the user: the message names the problem and how to fix it."""


def require_finite(config: object) -> None:
    """UserError naming the first float field of a config dataclass that is NaN or infinite.

    Comparisons with NaN are all false, so ``lr <= 0`` lets ``--learning-rate nan`` through to a
    training run that silently produces NaN parameters (issue 9); every Config calls this first.
    """
    import dataclasses
    import math

    for field in dataclasses.fields(config):  # type: ignore[arg-type]
        value = getattr(config, field.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise UserError(f"--{field.name.replace('_', '-')} must be a finite number, got {value}")


def require_at_least_one(config: Any, names: tuple[str, ...]) -> None:
    """UserError naming the first of the integer fields ``names`` that is below 1."""
    for name in names:
        if getattr(config, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be >= 1 (got {getattr(config, name)})")


def require_in_unit_interval(config: Any, names: tuple[str, ...]) -> None:
    """UserError naming the first of the float fields ``names`` outside [0, 1]."""
    for name in names:
        if not 0.0 <= getattr(config, name) <= 1.0:
            raise UserError(f"--{name.replace('_', '-')} must be in [0, 1] (got {getattr(config, name)})")


def require_actor_critic_schedule(c: Any) -> None:
    """The checks SAC and TD3 share: a learning start inside the run, a buffer that holds one round,
    a run of at least one round (``num_envs * num_steps``), discount and Polyak rates in range, and
    hidden widths. ``c`` is a Config with those fields and a ``steps_per_update`` property."""
    if c.learning_starts < 0:
        raise UserError(f"--learning-starts must be >= 0 (got {c.learning_starts})")
    if c.buffer_size < c.num_envs:
        raise UserError(f"--buffer-size {c.buffer_size} is smaller than --num-envs {c.num_envs}")
    if not 0.0 <= c.gamma <= 1.0 or not 0.0 < c.tau <= 1.0:
        raise UserError(f"--gamma must be in [0, 1] and --tau in (0, 1] (got {c.gamma}, {c.tau})")
    if c.total_steps < c.steps_per_update:
        raise UserError(
            f"--total-steps {c.total_steps} is less than one round ({c.steps_per_update} = "
            "num_envs * num_steps); raise --total-steps or lower --num-envs / --num-steps"
        )
    if c.learning_starts >= c.total_steps:
        raise UserError(
            f"--learning-starts {c.learning_starts} >= --total-steps {c.total_steps}: no gradient step "
            "would run; lower --learning-starts"
        )
    if not c.hidden_sizes or min(c.hidden_sizes) < 1:
        raise UserError("--hidden-sizes needs at least one positive width, e.g. --hidden-sizes 256 256")
