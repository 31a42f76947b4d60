"""What an agent needs to know of an action space, for gymnax and Gymnasium spaces alike."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from seuseuro.errors import UserError


class ActionSpec(NamedTuple):
    dim: int  # number of discrete actions, or the Box's dimension
    discrete: bool
    low: np.ndarray | None  # (dim,) bounds of a Box, None for Discrete
    high: np.ndarray | None


def action_spec(action_space, algo: str = "this algorithm", allow: tuple[str, ...] = ("Discrete", "Box")) -> ActionSpec:
    """The :class:`ActionSpec` of a gymnax or Gymnasium space; a one-line UserError for a space ``algo``
    cannot act in (``allow``: the kinds it can, "Discrete" and/or "Box" (1-D))."""
    name = type(action_space).__name__
    if name == "Discrete" and "Discrete" in allow:
        return ActionSpec(int(action_space.n), True, None, None)
    if name == "Box" and len(action_space.shape) == 1 and "Box" in allow:
        low = np.broadcast_to(np.asarray(action_space.low, np.float32), action_space.shape)
        high = np.broadcast_to(np.asarray(action_space.high, np.float32), action_space.shape)
        return ActionSpec(int(action_space.shape[0]), False, low, high)
    kinds = " or ".join("1-D Box" if k == "Box" else k for k in allow)
    fix = (
        "wrap it to flatten or discretize its actions"
        if len(allow) == 2
        else f"choose an environment with {kinds} actions or an algorithm that acts in {name} spaces"
    )
    raise UserError(
        f"{algo} acts in {kinds} action spaces; this environment has {action_space}. {fix[0].upper()}{fix[1:]}"
    )
