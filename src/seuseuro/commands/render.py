"""`seuseuro render`: PNGs of a 3D scene (top-down map, depth and labels, point cloud)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from seuseuro.errors import UserError


@dataclasses.dataclass(frozen=True)
class RenderArgs:
    """Render a 3D-scene environment's first observation as PNGs (top-down map, depth, point cloud)."""

    env: str = "ObjectNav-v0"
    """Environment id of a 3D-scene environment (run `seuseuro envs` for the list)."""
    seed: int = 0
    """Seed of the scene (the environment's reset key)."""
    out: Path = Path("renders")
    """Directory the PNGs are written to (created if missing)."""
    width: int = 96
    """Width of the depth image, pixels."""
    height: int = 72
    """Height of the depth image, pixels."""


def run_render(args: RenderArgs) -> int:
    if args.width < 1 or args.height < 1:
        raise UserError(f"--width and --height must be >= 1 (zero rays), got {args.width}x{args.height}")
    from seuseuro.envs.scene3d.render import render_env

    for path in render_env(args.env, args.seed, Path(args.out), args.width, args.height):
        print(path)
    return 0
