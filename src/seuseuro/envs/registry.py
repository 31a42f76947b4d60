"""``make(env_id)``: one entry point for every environment seuseuro can train on.

- gymnax ids (CartPole-v1, Acrobot-v1, MountainCar-v0, MountainCarContinuous-v0, Pendulum-v1, the
  MinAtar games, bsuite, ...) and seuseuro's own environments (fairness, 3D scenes) are
  JAX-native: the whole training loop compiles around them.
- Any other registered Gymnasium id (HalfCheetah-v5, LunarLander-v3, users' own) goes through the
  Gymnasium (``envs/gymnasium.py``): stepped on the host by ``collect.host``, same jitted act/update.
- Where both exist, the prefix ``gymnasium:`` picks Gymnasium (``gymnasium:CartPole-v1``); the
  prefix ``gymnax:`` forces the JAX-native one.
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any

from seuseuro.envs import import_gymnax
from seuseuro.errors import UserError

GYMNASIUM_PREFIX = "gymnasium:"
GYMNAX_PREFIX = "gymnax:"
# gymnax environments that fetch a data set when built: seuseuro never downloads at run time.
NEEDS_DOWNLOAD = {"MNISTBandit-bsuite": "it downloads MNIST when built"}


@dataclasses.dataclass(frozen=True, eq=False)
class JaxEnv:
    """A JAX-native environment under the gymnax protocol, with its parameters."""

    env_id: str
    env: Any
    params: Any
    family: str  # "gymnax", "fairness", "scene3d", ...

    @property
    def observation_space(self):
        return self.env.observation_space(self.params)

    @property
    def action_space(self):
        return self.env.action_space(self.params)

    @property
    def max_episode_steps(self) -> int | None:
        steps = getattr(self.params, "max_steps_in_episode", None)
        return None if steps is None else int(steps)

    is_jax_native = True


def _own_envs() -> dict[str, tuple[str, Any]]:
    """seuseuro's own JAX-native environments, by id -> (family, class)."""
    found: dict[str, tuple[str, Any]] = {}
    try:
        from seuseuro.envs.fairness import FAIRNESS_ENVS

        found.update({k: ("fairness", v) for k, v in FAIRNESS_ENVS.items()})
    except ImportError:
        pass
    try:
        from seuseuro.envs.scene3d import SCENE3D_ENVS

        found.update({k: ("scene3d", v) for k, v in SCENE3D_ENVS.items()})
    except ImportError:
        pass
    return found


def gymnax_ids() -> list[str]:
    return list(import_gymnax().registered_envs)


def own_ids() -> list[str]:
    return list(_own_envs())


def gymnasium_ids() -> list[str]:
    import gymnasium

    return sorted(gymnasium.registry.keys())


def make(env_id: str, **env_kwargs) -> Any:
    """A :class:`JaxEnv` for JAX-native ids, a :class:`GymnasiumEnv` for the Gymnasium bridge."""
    if not isinstance(env_id, str) or not env_id:
        raise UserError("empty environment id; pass --env ID (run `seuseuro envs` for the list)")
    if env_id.startswith(GYMNASIUM_PREFIX):
        return _make_gymnasium(env_id[len(GYMNASIUM_PREFIX) :], **env_kwargs)
    forced_jax = env_id.startswith(GYMNAX_PREFIX)
    bare = env_id[len(GYMNAX_PREFIX) :] if forced_jax else env_id

    import_gymnax()  # first: the own envs import gymnax too
    own = _own_envs()
    if bare in own:
        family, cls = own[bare]
        env = cls(**env_kwargs)
        return JaxEnv(bare, env, env.default_params, family)
    if bare in NEEDS_DOWNLOAD:
        raise UserError(f"{bare} is not available offline: {NEEDS_DOWNLOAD[bare]}; choose another environment")
    if bare in gymnax_ids():
        env, params = import_gymnax().make(bare, **env_kwargs)
        return JaxEnv(bare, env, params, "gymnax")
    if not forced_jax and bare in gymnasium_ids():
        return _make_gymnasium(bare, **env_kwargs)
    _unknown(env_id)


def _make_gymnasium(gym_id: str, **env_kwargs):
    from seuseuro.envs.gymnasium import GymnasiumEnv

    if gym_id not in gymnasium_ids():
        _unknown(GYMNASIUM_PREFIX + gym_id, candidates=[GYMNASIUM_PREFIX + i for i in gymnasium_ids()])
    return GymnasiumEnv.create(gym_id, **env_kwargs)


def _unknown(env_id: str, candidates: list[str] | None = None):
    if candidates is None:
        # dict.fromkeys: an id registered by gymnax and by Gymnasium (CartPole-v1) is suggested once (issue 9)
        candidates = list(dict.fromkeys(own_ids() + gymnax_ids() + gymnasium_ids()))
    close = difflib.get_close_matches(env_id, candidates, n=3, cutoff=0.5)
    if not close:  # case-insensitive substring, e.g. "cartpole" -> CartPole-v1
        close = [c for c in candidates if env_id.lower().split(":")[-1] in c.lower()][:3]
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise UserError(f"unknown environment {env_id!r}{hint} (run `seuseuro envs` for the list)")


def space_summary(space: Any) -> str:
    """'Discrete(2)', 'Box(3,) [-2, 2]' for gymnax and Gymnasium spaces alike."""
    name = type(space).__name__
    if hasattr(space, "n") and not hasattr(space, "shape") or name == "Discrete":
        return f"Discrete({int(space.n)})"
    shape = tuple(getattr(space, "shape", ()))
    low, high = getattr(space, "low", None), getattr(space, "high", None)
    try:
        import numpy as np

        lo, hi = float(np.min(low)), float(np.max(high))
        bounds = f" [{lo:.3g}, {hi:.3g}]" if abs(lo) < 1e30 and abs(hi) < 1e30 else ""
    except (TypeError, ValueError):
        bounds = ""
    return f"{name}{shape}{bounds}"
