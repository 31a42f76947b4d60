"""`seuseuro runs`: the run directories under a root, newest last, with how far each got."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class ListRunsArgs:
    """List run directories: algorithm, environment, steps trained, seeds and evaluation result."""

    root: Path = Path("runs")
    """Directory that holds the runs."""


def run_summary(run) -> dict:
    """What `seuseuro runs` shows of one run (steps from the checkpoint, return from eval.json)."""
    from seuseuro.core.checkpoint import read_checkpoint_meta
    from seuseuro.errors import UserError

    try:
        record = run.record
    except (json.JSONDecodeError, UnicodeDecodeError):  # an edited or torn config.json: list the run anyway
        record = {}
    record = record if isinstance(record, dict) else {}
    row = {"path": str(run.path), "algo": record.get("algo", "?"), "env": record.get("env_id", "?")}
    row["seeds"] = record.get("num_seeds", 1)
    try:
        row["env_steps"] = read_checkpoint_meta(run.latest_checkpoint).get("env_steps")
    except UserError:
        row["env_steps"] = None
    eval_path = run.path / "eval.json"
    if eval_path.exists():
        try:
            row["eval"] = json.loads(eval_path.read_text()).get("aggregate", {})
        except json.JSONDecodeError:
            row["eval"] = {}
    return row


def _score(value) -> str:
    """An eval score for the table: returns of MuJoCo size in full (5,937, not 5.94e+03), small ones to 3 digits."""
    if not isinstance(value, int | float):
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def run_list_runs(args: ListRunsArgs) -> int:
    from rich.console import Console
    from rich.table import Table

    from seuseuro.runs import list_runs

    runs = list_runs(args.root)
    if not runs:
        Console().print(f"no runs under {args.root} (train one: seuseuro train ppo --env CartPole-v1)")
        return 0
    table = Table(title=f"runs under {args.root}")
    for col in ("run", "algo", "env", "seeds", "env steps", "eval"):
        table.add_column(col)
    for run in runs:
        row = run_summary(run)
        ev = row.get("eval") or {}
        value = next((ev[k] for k in ("mean_return", "accuracy", "mean") if k in ev), None)
        table.add_row(
            Path(row["path"]).name,
            row["algo"],
            row["env"],
            str(row["seeds"]),
            "-" if row["env_steps"] is None else f"{row['env_steps']:,}",
            _score(value),
        )
    Console().print(table)
    return 0
