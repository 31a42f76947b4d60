"""seuseuro beyond one process, on Ray (issue 12; the optional extra ``seuseuro[ray]``).

- ``sweep.py``: hyperparameter sweeps and many seeds on Ray Tune; each trial an ordinary run directory.
- ``trial_threads.py``: sizing each trial's JAX thread pools and GPU memory from its Ray resources.
- ``remote_envs.py``: Gymnasium vector envs stepped by Ray actors (``--env-runners N``).

Nothing here imports Ray at module level: the default install never needs it (:func:`require_ray`).
"""

from __future__ import annotations

from seuseuro.errors import UserError

INSTALL_HINT = 'this needs Ray, which is not installed: pip install "seuseuro[ray]"'


def require_ray():
    """The ``ray`` module, or a one-line UserError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    return ray
