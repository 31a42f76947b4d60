"""Run directories: the lab notebook of every training run (design.md, "Run directory").

```
runs/<algo>-<env>-<time>/
  config.json      algorithm, environment, full config, seeds, library versions
  metrics.csv      one row per logged step (+ TensorBoard events in tb/)
  checkpoints/     latest.npz: the whole TrainState, written atomically after every N chunks;
                   host_state.pkl: the bridge's host environments, when they pickle
  eval.json        final evaluation
  plots/*.png
```
All pillars share this: PPO, PPO-Lagrangian, SFT and GRPO runs all live in one.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import platform
from pathlib import Path
from typing import Any

from seuseuro.core.checkpoint import atomic_write_text
from seuseuro.errors import UserError

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.csv"
EVAL_FILE = "eval.json"
CHECKPOINT_DIR = "checkpoints"
LATEST_CHECKPOINT = "latest.npz"


def library_versions() -> dict[str, str]:
    """Versions of everything a result depends on, stored in config.json for reproduction."""
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for name in ("seuseuro", "jax", "jaxlib", "equinox", "optax", "gymnax", "gymnasium", "numpy"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def config_to_dict(config: Any) -> dict[str, Any]:
    """A (nested) config dataclass as a JSON-friendly dict."""
    if dataclasses.is_dataclass(config):
        return dataclasses.asdict(config)
    return dict(config)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text).strip("-")


@dataclasses.dataclass(frozen=True)
class RunDir:
    """A run directory on disk. Create with :meth:`create`, reopen with :meth:`open`."""

    path: Path

    # --- creation and opening -------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        algo: str,
        env_id: str,
        config: Any,
        root: str | Path = "runs",
        path: str | Path | None = None,
        extra: dict[str, Any] | None = None,
    ) -> RunDir:
        """Make a new run directory and write config.json (algo, env, config, versions)."""
        if path is None:
            stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            path = Path(root) / f"{_slug(algo)}-{_slug(env_id)}-{stamp}"
            i = 1
            while path.exists():
                path = Path(root) / f"{_slug(algo)}-{_slug(env_id)}-{stamp}-{i}"
                i += 1
        path = Path(path)
        if (path / CONFIG_FILE).exists():
            raise UserError(
                f"run directory {path} already holds a run; pass --resume {path} to continue it "
                "or choose another --run-dir"
            )
        (path / CHECKPOINT_DIR).mkdir(parents=True, exist_ok=True)
        (path / "plots").mkdir(exist_ok=True)
        record = {
            "algo": algo,
            "env_id": env_id,
            "config": config_to_dict(config),
            "created": _dt.datetime.now().isoformat(timespec="seconds"),
            "versions": library_versions(),
            **(extra or {}),
        }
        atomic_write_text(path / CONFIG_FILE, json.dumps(record, indent=2, default=str))
        return cls(path)

    @classmethod
    def open(cls, path: str | Path) -> RunDir:
        """Open an existing run directory (for resume, eval, plot); clear error if it is not one."""
        path = Path(path)
        if not path.is_dir():
            raise UserError(f"{path} is not a directory; pass a run directory such as runs/ppo-CartPole-v1-...")
        if not (path / CONFIG_FILE).exists():
            raise UserError(f"{path} has no {CONFIG_FILE}: it is not a seuseuro run directory")
        try:
            json.loads((path / CONFIG_FILE).read_text())
        except json.JSONDecodeError as err:
            raise UserError(f"{path / CONFIG_FILE} is not valid JSON ({err}); the run cannot be reused") from None
        return cls(path)

    @classmethod
    def open_for_resume(cls, path: str | Path, algo: str) -> RunDir:
        """Open a run that ``seuseuro train ALGO --resume`` may continue: same algorithm, a checkpoint."""
        run = cls.open(path)
        if run.algo != algo:
            raise UserError(f"{path} is a {run.algo} run; resume it with `seuseuro train {run.algo}`")
        if not run.latest_checkpoint.exists():
            raise UserError(f"{path} has no checkpoint yet; start it again without --resume")
        return run

    # --- contents -------------------------------------------------------------------------------
    @property
    def record(self) -> dict[str, Any]:
        return json.loads((self.path / CONFIG_FILE).read_text())

    @property
    def algo(self) -> str:
        return self.record["algo"]

    @property
    def env_id(self) -> str:
        return self.record["env_id"]

    @property
    def config_dict(self) -> dict[str, Any]:
        return self.record["config"]

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / CHECKPOINT_DIR

    @property
    def latest_checkpoint(self) -> Path:
        return self.checkpoint_dir / LATEST_CHECKPOINT

    @property
    def plots_dir(self) -> Path:
        d = self.path / "plots"
        d.mkdir(exist_ok=True)
        return d

    def write_json(self, name: str, data: Any) -> Path:
        """Write ``data`` as JSON into the run directory atomically; returns the path."""
        target = self.path / name
        atomic_write_text(target, json.dumps(data, indent=2, default=float))
        return target

    def read_json(self, name: str) -> Any:
        return json.loads((self.path / name).read_text())


def list_runs(root: str | Path = "runs") -> list[RunDir]:
    """Every run directory directly under ``root``, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    runs = [RunDir(p) for p in root.iterdir() if (p / CONFIG_FILE).exists()]
    return sorted(runs, key=lambda r: (r.path / CONFIG_FILE).stat().st_mtime)
