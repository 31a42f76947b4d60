"""The one exception type that reaches a user.

Everything a user can get wrong (an unknown environment id, an invalid flag value, a corrupt
checkpoint) raises :class:`UserError` with one line that names the problem and the fix. The CLI
prints that line and exits with status 2; library callers can catch it.
"""


class UserError(Exception):
    """Bad input from the user: the message names the problem and how to fix it."""
