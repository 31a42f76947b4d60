"""Acting and collecting, algorithm-free (issue 10).

- :mod:`seuseuro.collect.rollout`: the compiled rollout, a ``lax.scan`` of ``act`` + ``env.step`` over
  a JAX-native vector env;
- :mod:`seuseuro.collect.host`: the host collector, a loop over a Gymnasium vector env that calls the
  same kind of jitted ``act``;
- :mod:`seuseuro.collect.evaluate`: full evaluation episodes with any act function, on either kind.

Both collectors return :class:`seuseuro.core.types.Transition` blocks, so an algorithm's update
never knows which one filled them. Nothing here imports an algorithm.
"""
