"""Run directories: the lab notebook of every training run (ARCHITECTURE.md, "Run directory").

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
import typing
from pathlib import Path
from typing import Any

from seuseuro.core.checkpoint import atomic_write_text, read_checkpoint_meta
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
            record = json.loads((path / CONFIG_FILE).read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise UserError(f"{path / CONFIG_FILE} is not valid JSON ({err}); the run cannot be reused") from None
        run = cls(path)
        if not isinstance(record, dict):
            raise UserError(
                f"{path / CONFIG_FILE} holds a {type(record).__name__}, not a run record; the run cannot be reused"
            )
        for key, kind in (("algo", str), ("env_id", str), ("config", dict)):
            run.require(key, kind)
        return run

    @classmethod
    def open_for_resume(cls, path: str | Path, algo: str, require_checkpoint: bool = True) -> RunDir:
        """Open a run that ``seuseuro train ALGO --resume`` may continue: same algorithm, a checkpoint.

        ``require_checkpoint=False``: a run stopped before its first checkpoint (killed while
        compiling, or while writing it: only ``latest.npz.tmp`` exists) is opened too, for trainers
        that then start it from its seed (the host driver); its config.json holds everything needed.
        """
        run = cls.open(path)
        if run.algo != algo:
            raise UserError(f"{path} is a {run.algo} run; resume it with `seuseuro train {run.algo}`")
        if run.latest_checkpoint.exists():
            # a corrupt checkpoint fails here, before the command builds (and announces) anything
            read_checkpoint_meta(run.latest_checkpoint)
        elif require_checkpoint:
            raise UserError(
                f"{path} has no checkpoint yet (it stopped before the first one); delete the directory and "
                "start the run again without --resume"
            )
        return run

    # --- contents -------------------------------------------------------------------------------
    @property
    def record(self) -> dict[str, Any]:
        return json.loads((self.path / CONFIG_FILE).read_text())

    def require(self, key: str, kind: type | tuple[type, ...]) -> Any:
        """``record[key]``, or a UserError when config.json lacks it or holds another type (a record
        edited by hand or written by another version)."""
        record = self.record
        value = record.get(key) if isinstance(record, dict) else None
        if key not in record or not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise UserError(
                f"{self.path / CONFIG_FILE} has no valid {key!r} ({names} expected, got {value!r}): it was edited or "
                "written by another seuseuro version; restore it or start a new run"
            )
        return value

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


def _matches(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a config field's annotation (int, float, bool, str, tuple[X, ...], Literal)."""
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return isinstance(value, list | tuple) and all(_matches(v, item) for v in value)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if dataclasses.is_dataclass(hint):
        return isinstance(value, dict)
    return True  # anything else: the config's own checks decide


def config_from_dict(cls: type, data: Any, source: str | Path) -> Any:
    """Rebuild a config dataclass from its JSON form (``config_to_dict``), checking what JSON cannot:
    unknown or missing fields (a config.json from another version), a value of the wrong type, and
    the config's own validation. Every problem is one UserError naming ``source``."""
    fix = "restore the file, or retrain with this version of seuseuro"
    if not isinstance(data, dict):
        raise UserError(f"{source}: the {cls.__name__} is a {type(data).__name__}, not a mapping; {fix}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown, missing = sorted(set(data) - set(names)), [n for n in names if n not in data]
    if unknown or missing:
        problem = "; ".join(
            part for part in (unknown and f"unknown fields {unknown}", missing and f"missing fields {missing}") if part
        )
        raise UserError(f"{source} comes from another seuseuro version ({cls.__name__}: {problem}); {fix}")
    kwargs = {}
    for name in names:
        value, hint = data[name], hints[name]
        if not _matches(value, hint):
            raise UserError(f"{source}: {cls.__name__}.{name} = {value!r} is not a valid {hint}; {fix}")
        if dataclasses.is_dataclass(hint):
            value = config_from_dict(hint, value, source)
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except UserError as err:
        raise UserError(f"{source}: {err}") from None


def list_runs(root: str | Path = "runs") -> list[RunDir]:
    """Every run directory directly under ``root``, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    runs = [RunDir(p) for p in root.iterdir() if (p / CONFIG_FILE).exists()]
    return sorted(runs, key=lambda r: (r.path / CONFIG_FILE).stat().st_mtime)
