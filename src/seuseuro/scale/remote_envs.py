"""Remote Gymnasium env runners: a vector env whose copies are stepped by N Ray actors (``--env-runners N``).

RLlib's EnvRunner design (anchors.md, "Scaling out: Ray"), reduced to what the host collector needs:
each :class:`EnvRunner` actor owns a Gymnasium ``SyncVectorEnv`` over a contiguous block of the
copies; :class:`RemoteVectorEnv` looks like one vector env to ``collect.host.HostCollector`` (same
``reset``/``step`` contract, same-step auto-reset with ``info["final_obs"]``), sends each runner its
block of actions and gathers their blocks. The learner never leaves the driver process; only actions
go out and observations come back, so no weights are broadcast.

Same result as the local collector: copy ``i`` of a ``SyncVectorEnv`` reset with ``seed`` is seeded
``seed + i``; runner ``k`` holding copies ``[o_k, o_k + n_k)`` resets with ``seed + o_k``, so every copy
sees the same random stream as it would locally, and the run is bit for bit the local one wherever the
local collector also steps a ``SyncVectorEnv`` (every env without a batched numpy implementation:
Acrobot, Pendulum, MuJoCo, Box2D; ``tests/scale``). CartPole's batched implementation draws every
copy from one generator, which cannot be split across processes: remote CartPole runs step copies
(a different, equally valid stream).

A runner that dies (its node lost, killed, out of memory) is replaced by a fresh actor and the run goes
on: its copies' in-flight episodes are cut. That step is reported as a time-limit truncation with
reward 0 whose final observation is the last one the copies showed (so the one cut transition
bootstraps from its own state: one transition per copy per failure), and ``info[INVALID_INFO_KEY]``
flags the copies so that the collector neither reports the cut episodes' returns nor, in a masked
(next-step) rollout, learns from the step. Nothing else is lost: the other runners' copies continue.

Runners never import JAX (only Gymnasium): they take no accelerator memory, and Ray gives actors
without GPUs an empty CUDA_VISIBLE_DEVICES anyway.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np

from seuseuro.envs.gymnasium import INVALID_INFO_KEY, GymnasiumEnv
from seuseuro.errors import UserError
from seuseuro.scale import require_ray

# A replacement runner's copies are reseeded apart from every stream of the run: the seed of copy i
# after r replacements is seed + i + RESEED_STRIDE * r.
RESEED_STRIDE = 1_000_003


def split_copies(num_envs: int, num_runners: int) -> list[int]:
    """Copies per runner: as even as possible, the first runners taking one more."""
    if num_runners < 1:
        raise UserError("--env-runners must be >= 1")
    if num_runners > num_envs:
        raise UserError(
            f"--env-runners {num_runners} is more than the {num_envs} env copies to step; use fewer runners"
        )
    base, extra = divmod(num_envs, num_runners)
    return [base + (k < extra) for k in range(num_runners)]


def make_sync_vector_env(env_id: str, kwargs: dict, num_envs: int):
    """A SyncVectorEnv with same-step auto-reset: what every runner steps, and what the local collector
    steps for envs without a batched implementation (``GymnasiumEnv.make_vec``)."""
    import gymnasium

    return gymnasium.make_vec(
        env_id,
        num_envs=num_envs,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": gymnasium.vector.AutoresetMode.SAME_STEP},
        **kwargs,
    )


class EnvRunner:
    """A Ray actor's body: one block of env copies. Methods return numpy arrays only."""

    def __init__(self, env_id: str, kwargs: dict, num_envs: int):
        self.vec = make_sync_vector_env(env_id, kwargs, num_envs)
        self.num_envs = num_envs

    def pid(self) -> int:
        return os.getpid()

    def reset(self, seed: int) -> np.ndarray:
        obs, _ = self.vec.reset(seed=seed)
        return obs

    def step(self, actions: np.ndarray):
        """(obs, reward, terminated, truncated, final_obs, numeric info arrays of shape (num_envs,))."""
        obs, reward, terminated, truncated, info = self.vec.step(actions)
        final = obs.copy()
        done = np.logical_or(terminated, truncated)
        if done.any() and "final_obs" in info:
            for i in np.flatnonzero(done):
                final[i] = info["final_obs"][i]
        extras = {
            k: np.asarray(v)
            for k, v in info.items()
            if not k.startswith("_")
            and k not in ("final_obs", "final_info")
            and isinstance(v, np.ndarray)
            and v.shape[:1] == (self.num_envs,)
            and v.dtype.kind in "biuf"
        }
        return obs, reward, terminated, truncated, final, extras


class RemoteVectorEnv:
    """One vector env of ``num_envs`` copies, stepped by ``num_runners`` Ray actors (module docstring)."""

    def __init__(self, env: GymnasiumEnv, num_envs: int, num_runners: int, cpus_per_runner: float = 1.0):
        import gymnasium

        ray = require_ray()
        if not ray.is_initialized():  # RAY_ADDRESS, when set, joins that cluster; else a local Ray
            ray.init(log_to_driver=False)
        self._ray = ray
        self._actor = ray.remote(num_cpus=cpus_per_runner, max_restarts=0)(EnvRunner)
        self.env = env
        self.num_envs = num_envs
        self.sizes = split_copies(num_envs, num_runners)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).tolist()
        self.metadata = {"autoreset_mode": gymnasium.vector.AutoresetMode.SAME_STEP}
        self.single_observation_space, self.single_action_space = env.observation_space, env.action_space
        self.restarts = 0  # runners replaced so far
        self._seed = 0
        self._last_obs: np.ndarray | None = None
        self.runners = [self._actor.remote(env.env_id, env.kwargs, n) for n in self.sizes]

    def __reduce__(self):  # actors do not pickle: the driver then skips host state (fresh episodes on resume)
        raise TypeError("a RemoteVectorEnv holds Ray actors and does not pickle")

    def _block(self, k: int) -> slice:
        return slice(self.offsets[k], self.offsets[k + 1])

    def reset(self, seed: int | None = None, options: Any = None):
        self._seed = 0 if seed is None else int(seed)
        refs = [r.reset.remote(self._seed + self.offsets[k]) for k, r in enumerate(self.runners)]
        self._last_obs = np.concatenate(self._ray.get(refs))
        return self._last_obs.copy(), {}

    def _replace_runner(self, k: int):
        """A fresh actor for block ``k``, reset on a new stream; the step result of its cut episodes."""
        self._ray.kill(self.runners[k], no_restart=True)
        self.restarts += 1
        n = self.sizes[k]
        self.runners[k] = self._actor.remote(self.env.env_id, self.env.kwargs, n)
        seed = self._seed + self.offsets[k] + RESEED_STRIDE * self.restarts
        obs = self._ray.get(self.runners[k].reset.remote(seed))
        final = self._last_obs[self._block(k)]
        cut = np.ones(n, bool)
        return obs, np.zeros(n), np.zeros(n, bool), cut, final, {}

    def step(self, actions):
        ray = self._ray
        actions = np.asarray(actions)
        refs = [r.step.remote(actions[self._block(k)]) for k, r in enumerate(self.runners)]
        invalid = np.zeros(self.num_envs, bool)
        try:
            blocks = ray.get(refs)
        except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError):
            blocks = []
            for k, ref in enumerate(refs):
                try:
                    blocks.append(ray.get(ref))
                except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError):
                    blocks.append(self._replace_runner(k))
                    invalid[self._block(k)] = True
        obs, reward, terminated, truncated, final = (np.concatenate([b[i] for b in blocks]) for i in range(5))
        info: dict[str, Any] = {"final_obs": final, INVALID_INFO_KEY: invalid}
        for key in set.intersection(*(set(b[5]) for b in blocks)) if all(b[5] for b in blocks) else ():
            info[key] = np.concatenate([b[5][key] for b in blocks])
        self._last_obs = obs
        return obs, reward, terminated, truncated, info

    def runner_pids(self) -> list[int]:
        return self._ray.get([r.pid.remote() for r in self.runners])

    def close(self):
        for r in self.runners:
            self._ray.kill(r, no_restart=True)
        self.runners = []


@dataclasses.dataclass(frozen=True, eq=False)
class RemoteGymnasiumEnv(GymnasiumEnv):
    """A Gymnasium env whose host vector env is stepped by ``env_runners`` Ray actors: hand it to any
    algorithm's ``make_train`` in place of the :class:`GymnasiumEnv` (nothing else changes)."""

    env_runners: int = 1
    cpus_per_runner: float = 1.0

    @classmethod
    def wrap(cls, env: GymnasiumEnv, env_runners: int, cpus_per_runner: float = 1.0) -> RemoteGymnasiumEnv:
        if getattr(env, "is_jax_native", False) or not isinstance(env, GymnasiumEnv):
            raise UserError(
                f"--env-runners steps Gymnasium environments; {env.env_id} is JAX-native (compiled, "
                "no host stepping to spread): drop --env-runners or use gymnasium:ID"
            )
        if cpus_per_runner <= 0:
            raise UserError("--cpus-per-runner must be > 0")
        fields = {f.name: getattr(env, f.name) for f in dataclasses.fields(GymnasiumEnv)}
        return cls(**fields, env_runners=env_runners, cpus_per_runner=cpus_per_runner)

    def make_vec(self, num_envs: int, seed: int):
        split_copies(num_envs, self.env_runners)  # a clear error before any actor starts
        return RemoteVectorEnv(self, num_envs, self.env_runners, self.cpus_per_runner)
