"""`seuseuro plot RUN_DIR [RUN_DIR ...]`: learning curves to PNG.

Each run is one line: the mean over seeds of the episode return against environment steps, with
a shaded 95% t-interval across seeds when the run has several. Episodes end irregularly, so a
seed's curve is forward-filled between updates that finished no episode. ``--pool`` makes one line
of all runs of the same algorithm, environment and hyperparameters (seeds trained as separate
processes, one run each), over the steps they all logged.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import textwrap
import warnings
from pathlib import Path

import numpy as np
import tyro

from seuseuro.core.logging import read_metrics_csv
from seuseuro.core.statistics import t_quantile_975
from seuseuro.errors import UserError
from seuseuro.runs import RunDir

RETURN_KEY = "rollout/episode_return"


@dataclasses.dataclass(frozen=True)
class PlotArgs:
    """Plot learning curves (mean and 95% CI across seeds) of one or more runs, overlaid, to a PNG."""

    run_dirs: tyro.conf.Positional[tuple[Path, ...]]
    """One or more run directories."""
    out: Path | None = None
    """Output PNG (default: plots/learning_curve.png in the first run, or compare.png for several)."""
    metric: str = RETURN_KEY
    """Column of metrics.csv to plot."""
    smooth: int = 1
    """Moving-average window in logged rows (1 = none)."""
    pool: bool = False
    """One curve per algorithm, environment and config: pool the seeds of runs trained separately (one run per seed)."""


def _forward_fill(x: np.ndarray) -> np.ndarray:
    out = x.copy()
    for i in range(1, len(out)):
        if not np.isfinite(out[i]):
            out[i] = out[i - 1]
    return out


def _smooth(x: np.ndarray, window: int) -> np.ndarray:
    if window <= 1:
        return x
    kernel = np.ones(window) / window
    padded = np.concatenate([np.full(window - 1, x[0]), x])
    return np.convolve(padded, kernel, mode="valid")


def run_curves(run: RunDir, metric: str = RETURN_KEY) -> tuple[np.ndarray, np.ndarray]:
    """(steps (U,), values (S, U)) of a run: per-seed columns if present, else the mean column."""
    if not run.metrics_path.exists():
        raise UserError(f"{run.path} has no metrics.csv yet; train it first")
    try:
        rows = read_metrics_csv(run.metrics_path)
    except (UnicodeDecodeError, csv.Error, TypeError) as err:  # TypeError: a row with more cells than the header
        rows, problem = [], f"{type(err).__name__}: {err}"
    else:
        problem = "" if not rows or "step" in rows[0] else "no 'step' column"
    if problem:
        raise UserError(f"{run.metrics_path} is not a seuseuro metrics file ({problem}); restore it or retrain the run")
    if not rows:
        raise UserError(f"{run.metrics_path} is empty; train the run for at least one chunk")
    steps = np.array([r["step"] for r in rows])
    seed_cols = sorted(
        (k for k in rows[0] if k.startswith(metric + "/seed")), key=lambda k: int(k.rsplit("seed", 1)[1])
    )
    cols = seed_cols or [metric]
    if metric not in rows[0] and not seed_cols:
        raise UserError(
            f"{run.metrics_path} has no column {metric!r}; columns: {', '.join(k for k in rows[0] if k != 'step')}"
        )
    values = np.array([[r.get(c, math.nan) for r in rows] for c in cols])
    return steps, np.stack([_forward_fill(v) for v in values])


def pooled_curves(runs: list[RunDir], metric: str = RETURN_KEY) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """(name, detail, steps, values (S, U)) per algorithm, environment and config, the seeds of its runs stacked
    over the steps every one of them logged. Runs whose hyperparameters differ are not pooled: their names
    carry the flags that tell them apart (e.g. ``learning_starts=10000``)."""
    groups: dict[tuple[str, str, str], list[RunDir]] = {}
    for run in runs:
        groups.setdefault((run.algo, run.env_id, json.dumps(run.config_dict, sort_keys=True)), []).append(run)
    out = []
    for (algo, env_id, _), members in groups.items():
        curves = [run_curves(run, metric) for run in members]
        common = curves[0][0]
        for steps, _ in curves[1:]:
            common = np.intersect1d(common, steps)
        if common.size == 0:
            names = ", ".join(r.path.name for r in members)
            raise UserError(f"{algo} {env_id} runs ({names}) share no logged step; plot them without --pool")
        values = np.concatenate([v[:, np.searchsorted(steps, common)] for steps, v in curves])
        mine = members[0].config_dict
        siblings = [group[0].config_dict for (a, e, _), group in groups.items() if (a, e) == (algo, env_id)]
        flags = "".join(f" {k}={v}" for k, v in mine.items() if any(other.get(k) != v for other in siblings))
        detail = f"{len(members)} run{'s' if len(members) > 1 else ''} pooled"
        out.append((f"{algo} {env_id}{flags}", detail, common, values))
    return out


def plot_runs(run_paths, out: Path | str, metric: str = RETURN_KEY, smooth: int = 1, pool: bool = False) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from seuseuro.core.checkpoint import atomic_write_bytes

    runs = [RunDir.open(path) for path in run_paths]
    if pool:
        curves = pooled_curves(runs, metric)
    else:
        curves = [(f"{run.algo} {run.env_id}", run.path.name, *run_curves(run, metric)) for run in runs]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for name, detail, steps, values in curves:
        values = np.stack([_smooth(v, smooth) for v in values])
        with warnings.catch_warnings():  # all-NaN columns before the first episode ends
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(values, axis=0)
        label = f"{name} ({detail}, {values.shape[0]} seed{'s' if values.shape[0] > 1 else ''})"
        (line,) = ax.plot(steps, mean, label=label, lw=1.8)
        if values.shape[0] > 1:
            n = np.sum(np.isfinite(values), axis=0)
            with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
                warnings.simplefilter("ignore", RuntimeWarning)
                sem = np.nanstd(values, axis=0, ddof=1) / np.sqrt(n)
            half = np.array([t_quantile_975(int(k) - 1) for k in n]) * sem
            ax.fill_between(steps, mean - half, mean + half, color=line.get_color(), alpha=0.2, lw=0)
    ax.set_xlabel("environment steps (per seed)")
    ax.set_ylabel(metric.split("/")[-1].replace("_", " "))
    ax.set_title("learning curve (mean, 95% CI across seeds)")
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if max(map(len, labels)) > 60:  # pooled runs named by their flags: below the axes, wrapped, not over the curves
        wrapped = [textwrap.fill(label, 100) for label in labels]
        ax.legend(handles, wrapped, fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.2))
    else:
        ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    out = Path(out)
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(out, buf.getvalue())
    return out


def run_plot(args: PlotArgs) -> int:
    if not args.run_dirs:
        raise UserError("give at least one run directory: seuseuro plot runs/RUN [runs/OTHER ...]")
    runs = [RunDir.open(p) for p in args.run_dirs]
    out = args.out or (runs[0].plots_dir / ("learning_curve.png" if len(runs) == 1 else "compare.png"))
    path = plot_runs([r.path for r in runs], out, args.metric, max(1, args.smooth), args.pool)
    print(path)
    return 0
