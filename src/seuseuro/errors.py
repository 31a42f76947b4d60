"""The one exception type that reaches a user.

Everything a user can get wrong (an unknown environment id, an invalid flag value, a corrupt
checkpoint) raises :class:`UserError` with one line that names the problem and the fix. The CLI
prints that line and exits with status 2; library callers can catch it.
"""


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
