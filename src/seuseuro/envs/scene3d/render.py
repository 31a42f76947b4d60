"""Pictures of a 3D scene (``seuseuro render``, commands/render.py).

Writes three PNGs: a top-down map (room, objects in their colours, the agent and its heading, the
goal objects ringed, the lidar hits), the agent's depth image beside its per-pixel semantic
labels, and the scene's point cloud (depth camera + lidar, coloured by surface) in 3D.
The same drawing functions serve ``eval --video`` frames (:func:`draw_top_down`).
"""

from __future__ import annotations

import io
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from seuseuro.core.checkpoint import atomic_write_bytes
from seuseuro.envs.scene3d.scene import COLOUR_RGB, SHAPE_CLASSES, Scene
from seuseuro.envs.scene3d.sensor import (
    NUM_LABELS,
    CameraConfig,
    LidarConfig,
    depth_point_cloud,
    render_depth,
    scan_lidar,
)
from seuseuro.errors import UserError

LABEL_NAMES = (*SHAPE_CLASSES, "floor", "wall")


def draw_top_down(ax, scene: Scene, position=None, heading=None, goal=None, path=None, hits=None) -> None:
    """Draw a room from above on a matplotlib axis: objects, agent, goal rings, path, lidar hits."""
    import matplotlib.patches as mpatches

    half = float(scene.half_extent)
    ax.add_patch(mpatches.Rectangle((-half, -half), 2 * half, 2 * half, fill=True, fc="0.92", ec="k", lw=2))
    shape, pos, size = np.asarray(scene.shape), np.asarray(scene.position), np.asarray(scene.size)
    heading_obj, colour, mask = np.asarray(scene.heading), np.asarray(scene.colour), np.asarray(scene.mask)
    for i in np.flatnonzero(mask):
        rgb = np.asarray(COLOUR_RGB[colour[i]])
        name = SHAPE_CLASSES[int(shape[i])]
        if name == "box":
            c, s = np.cos(heading_obj[i]), np.sin(heading_obj[i])
            corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * size[i, :2]
            corners = corners @ np.array([[c, s], [-s, c]]) + pos[i, :2]
            patch = mpatches.Polygon(corners, fc=rgb, ec="k")
        else:
            patch = mpatches.Circle(pos[i, :2], size[i, 0], fc=rgb, ec="k")
        ax.add_patch(patch)
        marker = {"box": "s", "sphere": "o", "cylinder": "c", "cone": "^"}[name]
        ax.annotate(f"{i}{marker}", pos[i, :2], ha="center", va="center", fontsize=7)
        if goal is not None and int(shape[i]) == int(goal):
            ax.add_patch(mpatches.Circle(pos[i, :2], size[i, 0] + 0.5, fill=False, ec="tab:green", ls="--"))
    if hits is not None:
        ax.scatter(hits[:, 0], hits[:, 1], s=3, c="tab:red", zorder=3)
    if path is not None and len(path) > 1:
        path = np.asarray(path)
        ax.plot(path[:, 0], path[:, 1], "-", color="tab:blue", lw=1.5, zorder=4)
    if position is not None:
        p = np.asarray(position)
        ax.add_patch(mpatches.Circle(p, 0.15, fc="tab:blue", ec="k", zorder=5))
        if heading is not None:
            h = float(heading)
            ax.arrow(p[0], p[1], 0.35 * np.cos(h), 0.35 * np.sin(h), width=0.04, color="k", zorder=6)
    ax.set_xlim(-half - 0.2, half + 0.2)
    ax.set_ylim(-half - 0.2, half + 0.2)
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def render_env(env_id: str, seed: int, out: Path, width: int = 96, height: int = 72) -> list[Path]:
    """Reset ``env_id`` with ``seed`` and write top_down / depth / point_cloud PNGs into ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from seuseuro.envs.registry import make

    env = make(env_id)
    if getattr(env, "family", None) != "scene3d":
        raise UserError(f"{env_id!r} is not a 3D-scene environment; try ObjectNav-v0")
    _, state = jax.jit(env.env.reset_env)(jax.random.key(seed), env.params)
    # turn the agent to face the room centre, so the pictures show the room rather than a wall
    state = state.replace(heading=jnp.arctan2(-state.position[1], -state.position[0]))
    scene = state.scene
    eye = jnp.append(state.position, 1.0)
    camera = CameraConfig(width=width, height=height, fov_y=60.0, max_range=10.0)
    image = render_depth(scene, eye, state.heading, jnp.asarray(-0.25), camera)
    lidar = scan_lidar(scene, jnp.append(state.position, env.env.sensor_height), state.heading, env.env.lidar)
    stem = f"{env_id}-seed{seed}"
    goal_name = SHAPE_CLASSES[int(state.goal)]
    written = []

    fig, ax = plt.subplots(figsize=(6, 6))
    hits = np.asarray(lidar.xyz)[np.asarray(lidar.mask)]
    draw_top_down(ax, scene, state.position, state.heading, state.goal, hits=hits)
    ax.set_title(f"{env_id} seed {seed}: goal {goal_name} (dashed rings), agent facing the centre, lidar hits red")
    written.append(out / f"{stem}-top_down.png")
    _save(fig, written[-1])

    fig, (ax_d, ax_l) = plt.subplots(1, 2, figsize=(11, 4))
    shown = ax_d.imshow(np.asarray(image.depth), cmap="viridis")
    fig.colorbar(shown, ax=ax_d, label="depth (m)")
    ax_d.set_title("depth camera (1 m high, pitched 14 deg down)")
    labels = np.asarray(image.hits.label)
    cmap = plt.get_cmap("tab10", NUM_LABELS + 1)
    shown = ax_l.imshow(np.where(labels < 0, NUM_LABELS, labels), cmap=cmap, vmin=-0.5, vmax=NUM_LABELS + 0.5)
    bar = fig.colorbar(shown, ax=ax_l, ticks=range(NUM_LABELS + 1))
    bar.ax.set_yticklabels([*LABEL_NAMES, "nothing"])
    ax_l.set_title("per-pixel semantic class")
    for ax in (ax_d, ax_l):
        ax.set_xticks([])
        ax.set_yticks([])
    written.append(out / f"{stem}-depth.png")
    _save(fig, written[-1])

    cloud = depth_point_cloud(scene, image)
    full_lidar = scan_lidar(
        scene, eye, state.heading, LidarConfig(num_azimuth=180, elevations=tuple(range(-40, 31, 5)), max_range=10.0)
    )
    xyz = np.concatenate(
        [np.asarray(cloud.xyz)[np.asarray(cloud.mask)], np.asarray(full_lidar.xyz)[np.asarray(full_lidar.mask)]]
    )
    rgb = np.concatenate(
        [np.asarray(cloud.rgb)[np.asarray(cloud.mask)], np.asarray(full_lidar.rgb)[np.asarray(full_lidar.mask)]]
    )
    fig = plt.figure(figsize=(7, 6))
    ax3 = fig.add_subplot(projection="3d")
    ax3.scatter(xyz[:, 0], xyz[:, 1], xyz[:, 2], c=rgb, s=2, depthshade=False)
    ax3.set_box_aspect((1, 1, 0.45))
    ax3.view_init(elev=35, azim=-60)
    ax3.set_title(f"point cloud: depth camera + 360-degree lidar from the agent ({len(xyz)} points)")
    written.append(out / f"{stem}-point_cloud.png")
    _save(fig, written[-1])
    return written


def record_episode(act, env, params, key: jax.Array) -> dict[str, np.ndarray]:
    """One ObjectNav episode with ``act(obs (1, ...), key) -> action (1,)``: per-step positions,
    headings, actions and the final success / SPL (host arrays; stops at the episode's end)."""
    reset_key, key = jax.random.split(key)
    obs, state = jax.jit(env.reset_env)(reset_key, params)
    step = jax.jit(lambda k, s, a: env.step_env(k, s, a, params))
    act = jax.jit(act)
    positions, headings, actions = [np.asarray(state.position)], [float(state.heading)], []
    first = state
    success = spl = 0.0
    for _ in range(int(params.max_steps_in_episode)):
        key, act_key, step_key = jax.random.split(key, 3)
        action = int(act(obs[None], act_key)[0])
        obs, state, _, done, info = step(step_key, state, action)
        positions.append(np.asarray(state.position))
        headings.append(float(state.heading))
        actions.append(action)
        success, spl = float(info["success"]), float(info["spl"])
        if bool(done):
            break
    return {"first_state": first, "positions": np.stack(positions), "headings": np.array(headings),
            "actions": np.array(actions), "success": success, "spl": spl}  # fmt: skip


def write_episode_gif(path: Path, act, env, params, key: jax.Array, fps: int = 4) -> dict[str, float]:
    """A GIF of one ObjectNav episode: the top-down map with the agent's path beside its depth view.

    ``act`` is a batched policy ``(obs (B, ...), key) -> actions (B,)``. Returns the episode's
    success and SPL.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    episode = record_episode(act, env, params, key)
    state = episode["first_state"]
    camera = CameraConfig(width=64, height=48, fov_y=60.0, max_range=8.0)
    # the scene an argument, not a closed-over constant: every episode of a room config then shares one
    # compiled (and persistently cached) program instead of compiling one per scene (issue 9)
    depth = jax.jit(lambda s, p, h: render_depth(s, jnp.append(p, 0.6), h, jnp.asarray(-0.2), camera).depth)
    frames = []
    goal_name = SHAPE_CLASSES[int(state.goal)]
    for t in range(len(episode["positions"])):
        fig, (ax_map, ax_depth) = plt.subplots(1, 2, figsize=(9, 4.2))
        draw_top_down(ax_map, state.scene, episode["positions"][t], episode["headings"][t], state.goal,
                      path=episode["positions"][: t + 1])  # fmt: skip
        ax_map.set_title(f"goal: {goal_name}   step {t}")
        ax_depth.imshow(np.asarray(depth(state.scene, episode["positions"][t], episode["headings"][t])), cmap="viridis")
        ax_depth.set_axis_off()
        action = "" if t == 0 else ("forward", "left", "right", "stop")[episode["actions"][t - 1]]
        ax_depth.set_title(f"depth view   last action: {action}")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=70)
        plt.close(fig)
        buffer.seek(0)
        frames.append(Image.open(buffer).convert("P", palette=Image.Palette.ADAPTIVE))
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=1000 // fps, loop=0)
    atomic_write_bytes(path, out.getvalue())
    return {"success": episode["success"], "spl": episode["spl"]}
