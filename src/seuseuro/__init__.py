"""seuseuro (스스로, "by itself"): agents that think and judge for themselves.

Four pillars on one JAX core: deep reinforcement learning (``seuseuro.algos``, ``seuseuro.envs``),
3D scene understanding (``seuseuro.envs.scene3d``, ``seuseuro.perception``), reasoning with language
models (``seuseuro.lm``, ``seuseuro.envs.text``) and bias and fairness (``seuseuro.fairness``,
``seuseuro.envs.fairness``).
"""

__version__ = "0.1.0"
