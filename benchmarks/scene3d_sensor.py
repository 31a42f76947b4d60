"""Ray-casting speed: seuseuro's JAX sensor vs MuJoCo's mj_multiRay, side by side (BENCHMARKS.md, "3D scenes").

    nice -n 10 python benchmarks/scene3d_sensor.py --batch-sizes 1 4 16 64 256 1024
    nice -n 10 python benchmarks/scene3d_sensor.py --versions 35af7e7 07d7ce8   # + earlier casters

Each of B environments holds its own random room (3-8 boxes, spheres, cylinders + floor and walls)
and casts a 32x32 depth image (1024 rays) from a free point. JAX: one jitted, vmapped call for all B
rooms returning distances and object ids, as mj_multiRay does (compile time excluded). MuJoCo: B
compiled models (build time excluded), one mj_multiRay call per room from Python, as a user would
batch it. All calls alternate, best of --repeats each. Both answers agree to 1e-4 m
(tests/envs/scene3d/test_sensor.py). Reports rays/s and the JAX/MuJoCo ratio; ``--versions`` adds the
sensor.py of earlier git commits as further columns (what each change bought, in the same run).
"""

from __future__ import annotations

import argparse
import importlib.util
import pathlib
import subprocess
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

from seuseuro.envs.scene3d.mujoco_reference import MujocoRayCaster
from seuseuro.envs.scene3d.scene import SceneConfig, footprint_distance, generate_scene
from seuseuro.envs.scene3d.sensor import CameraConfig, camera_directions, cast_rays, sensor_to_world


def best_of_interleaved(fns: list, repeats: int) -> list[float]:
    """Best wall time of each function, calling them in turn so that both see the same machine load
    (the machine is shared: a ratio measured this way holds better than either rate)."""
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, out in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return [min(t) for t in times]


def sensor_at(commit: str):
    """The sensor module as it was at a git commit (it imports today's scene.py, unchanged since)."""
    root = pathlib.Path(__file__).resolve().parents[1]
    source = subprocess.run(
        ["git", "show", f"{commit}:src/seuseuro/envs/scene3d/sensor.py"], cwd=root, check=True, capture_output=True
    ).stdout
    path = pathlib.Path(tempfile.mkdtemp()) / f"sensor_{commit}.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location(f"sensor_{commit}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4, 16, 64, 256, 1024])
    parser.add_argument("--side", type=int, default=32, help="depth image side: side^2 rays per environment")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--versions", nargs="*", default=[], help="git commits whose sensor.py is timed too")
    args = parser.parse_args()
    config = SceneConfig(shapes=("box", "sphere", "cylinder"))
    camera = CameraConfig(width=args.side, height=args.side, fov_y=90.0, max_range=20.0)
    rays = args.side * args.side
    largest = max(args.batch_sizes)
    scenes = jax.jit(jax.vmap(lambda k: generate_scene(k, config)))(jax.random.split(jax.random.key(0), largest))
    # a free eye at 1 m per room, looking at the room centre
    rng = np.random.default_rng(0)
    eyes = np.zeros((largest, 3))
    for b in range(largest):
        scene = jax.tree.map(lambda x, b=b: x[b], scenes)
        while True:
            xy = rng.uniform(-2.5, 2.5, 2)
            if float(jnp.min(footprint_distance(jnp.array(xy), scene))) > 0.2:
                break
        eyes[b] = (*xy, 1.0)
    yaw = np.arctan2(-eyes[:, 1], -eyes[:, 0])
    directions = np.asarray(
        jax.vmap(lambda y: camera_directions(camera).reshape(-1, 3) @ sensor_to_world(y, jnp.zeros(())).T)(
            jnp.array(yaw)
        )
    )
    casters = [MujocoRayCaster(jax.tree.map(lambda x, b=b: x[b], scenes)) for b in range(largest)]

    def batched(cast):
        return jax.jit(jax.vmap(lambda o, d, s: (lambda h: (h.distance, h.object_id))(cast(o, d, s, 20.0))))

    cast_batch = batched(cast_rays)
    earlier = [batched(sensor_at(commit).cast_rays) for commit in args.versions]

    print(f"{rays} rays per environment ({args.side}x{args.side} depth image), best of {args.repeats}, interleaved")
    extra = "".join(f" {c} rays/s (x MuJoCo) |" for c in args.versions)
    print(f"| environments | JAX rays/s | MuJoCo rays/s | JAX / MuJoCo |{extra}")
    print("|---|---|---|---|" + "---|" * len(args.versions))
    for b in args.batch_sizes:
        sub = jax.tree.map(lambda x, b=b: x[:b], scenes)
        o, d = jnp.asarray(eyes[:b], jnp.float32), jnp.asarray(directions[:b], jnp.float32)
        for cast in [cast_batch, *earlier]:
            jax.block_until_ready(cast(o, d, sub))  # compile

        def mujoco_all(b=b):
            for i in range(b):
                casters[i].distances(eyes[i], directions[i], 20.0)

        calls = [lambda cast=cast, o=o, d=d, sub=sub: jax.block_until_ready(cast(o, d, sub)) for cast in earlier]
        t_jax, t_mj, *t_earlier = best_of_interleaved(
            [lambda o=o, d=d, sub=sub: jax.block_until_ready(cast_batch(o, d, sub)), mujoco_all, *calls],
            args.repeats,
        )
        jax_rate, mj_rate = b * rays / t_jax, b * rays / t_mj
        cells = "".join(f" {b * rays / t / 1e6:.2f}M ({t_mj / t:.2f}) |" for t in t_earlier)
        print(f"| {b} | {jax_rate:,.0f} | {mj_rate:,.0f} | {jax_rate / mj_rate:.2f} |{cells}", flush=True)


if __name__ == "__main__":
    main()
