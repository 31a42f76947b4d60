"""Observation encoders ("torsos") by name, for any algorithm's networks.

A torso factory is ``factory(key) -> (module, feature_size)``: the module maps ONE observation to a
feature vector that the algorithm's heads (MLPs) read. ``None`` means flatten the observation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

from seuseuro.core.networks import conv_torso
from seuseuro.errors import UserError
from seuseuro.perception.pointnet import pointnet_torso

TorsoFactory = Callable
TorsoKind = Literal["flatten", "cnn", "pointnet"]


def make_torso_factory(
    kind: TorsoKind,
    obs_shape: tuple[int, ...],
    *,
    cnn_channels: Sequence[int] = (16,),
    pointnet_widths: Sequence[int] = (32, 64),
) -> TorsoFactory | None:
    """The torso ``kind`` for observations of ``obs_shape`` (None = flatten); a one-line UserError
    when the observations do not have the shape the torso reads."""
    if kind == "flatten":
        return None
    if kind == "cnn":
        smallest = 2 * len(cnn_channels) + 1  # each VALID 3x3 convolution trims 2 pixels
        if len(obs_shape) != 3 or min(obs_shape[:2]) < smallest:
            raise UserError(
                f"--torso cnn reads (height, width, channels) images of at least {smallest}x{smallest}; "
                f"this env's observations are {obs_shape}"
            )
        return conv_torso(obs_shape, tuple(cnn_channels))
    if kind == "pointnet":
        if len(obs_shape) != 2:
            raise UserError(f"--torso pointnet reads (points, features) observations; this env's are {obs_shape}")
        return pointnet_torso(obs_shape[-1], tuple(pointnet_widths))
    raise UserError(f"unknown torso {kind!r}; choose flatten, cnn or pointnet")
