"""seuseuro (스스로, "by itself"): agents that think and judge for themselves.

Four pillars on one JAX core: deep reinforcement learning (``seuseuro.algos``, ``seuseuro.envs``),
3D scene understanding (``seuseuro.envs.scene3d``, ``seuseuro.perception``), reasoning with language
models (``seuseuro.lm``, ``seuseuro.envs.text``) and bias and fairness (``seuseuro.fairness``,
``seuseuro.envs.fairness``).
"""

import os as _os

from seuseuro.core.xla_flags import xla_flags_for as _xla_flags_for

# Before anything imports JAX's backend: XLA reads XLA_FLAGS once, when the first computation starts
# the CPU client, so this must run on ``import seuseuro`` (which the CLI and every submodule import
# does first), not in the CLI. It only appends flags the user has not set. Why the flag: a batched
# LAPACK call in a compiled program can deadlock XLA:CPU's thread pool (core/xla_flags.py, issue 9).
_flags = _xla_flags_for(_os.environ)
if _flags is not None:
    _os.environ["XLA_FLAGS"] = _flags

__version__ = "0.1.0"
