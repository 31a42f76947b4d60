"""The host driver: runs a trainer's compiled chunks of updates and does everything around them.

ARCHITECTURE.md, "How a training run flows": between chunks the host shows progress, writes metrics and
checkpoints; inside a chunk everything is compiled. A trainer is anything with

    init(keys) -> state                        # leading axis = seeds
    run_chunk(state, n_active) -> (state, metrics {name: (seeds, updates_per_chunk)})
    state_template() -> abstract state        # for loading checkpoints
    num_updates, steps_per_update, updates_per_chunk, num_seeds

(``core.chunked.Trainer``: every RL algorithm's ``make_train`` builds one, and the LM trainers of
``lm/sft.py`` and ``algos/grpo.py`` too).

Stopping and resuming: Ctrl-C (SIGINT) lets the running chunk finish, writes a checkpoint and
returns; a second Ctrl-C aborts at once (the last checkpoint is intact: files are renamed into
place). Resuming from ``checkpoints/latest.npz`` continues with the same keys and counters, so a
run stopped half-way ends with the same parameters as an uninterrupted one. The same holds for a
process killed outright (SIGKILL, out of memory) at any moment, mid-chunk or mid-checkpoint
(tests/test_crash_safety.py); a run killed before its first checkpoint resumes from its seed.
"""

from __future__ import annotations

import dataclasses
import math
import pickle
import signal
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from seuseuro.core.checkpoint import atomic_write_bytes, load_checkpoint, save_checkpoint
from seuseuro.core.logging import MetricsLogger
from seuseuro.errors import UserError
from seuseuro.runs import RunDir

RETURN_KEY = "rollout/episode_return"


@dataclasses.dataclass
class DriverResult:
    state: Any
    updates_done: int
    interrupted: bool
    seconds: float  # wall time of this invocation's training (compile included)
    steps_per_second: float  # env steps / s after the first (compiling) chunk
    recent_return: float  # mean over seeds of the last finite episode return
    reached_target: bool = False  # stopped early by stop_at_return


class _StopFlag:
    """First SIGINT: finish the chunk, checkpoint, stop. Second: raise KeyboardInterrupt."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not in the main thread (e.g. a Ray worker): no handler
            self._previous = None
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def preimport_in_background(tensorboard: bool = True) -> threading.Thread:
    """Import tensorboardX and matplotlib in a thread while the main thread compiles.

    XLA compilation releases the GIL, so on a 2-core laptop the ~1-3 s these imports cost is
    hidden behind the first chunk instead of added to the wall time before training starts.
    """

    def work():
        if tensorboard:
            from seuseuro.core.logging import import_summary_writer

            import_summary_writer()
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot  # noqa: F401

    thread = threading.Thread(target=work, name="seuseuro-preimport", daemon=True)
    thread.start()
    return thread


def checkpoint_meta(run: RunDir, updates_done: int, trainer) -> dict:
    return {
        "algo": run.algo,
        "env_id": run.env_id,
        "updates_done": updates_done,
        "env_steps": updates_done * trainer.steps_per_update,
        "num_seeds": trainer.num_seeds,
        "updates_per_chunk": trainer.updates_per_chunk,
    }


HOST_STATE_FILE = "host_state.pkl"


def resume_state(trainer, run: RunDir, restore_host: bool = False) -> tuple[Any, int]:
    """Load ``checkpoints/latest.npz`` into the trainer's state structure; returns (state, updates_done).

    With ``restore_host`` (training resumes), a trainer with host state (the Gymnasium bridge) gets
    it back from ``host_state.pkl`` when that file was written with the same checkpoint; otherwise
    its host environments start afresh. The file is a pickle: resume only run directories you trust.
    Evaluation and audits never read it.
    """
    template = trainer.state_template()
    state, meta = load_checkpoint(run.latest_checkpoint, template)
    done = meta.get("updates_done")
    if isinstance(done, bool) or not isinstance(done, int) or done < 0:
        raise UserError(
            f"checkpoint {run.latest_checkpoint} does not record its update count; it is not a training checkpoint"
        )
    host_file = run.latest_checkpoint.parent / HOST_STATE_FILE
    if restore_host and getattr(trainer, "restore_host_state", None) is not None and host_file.exists():
        try:
            saved = pickle.loads(host_file.read_bytes())
        except Exception:  # unreadable (another gymnasium version, a truncated copy): start fresh episodes
            saved = None
        if isinstance(saved, dict) and saved.get("updates_done") == done:
            trainer.restore_host_state(saved["state"])
    return state, done


def save_host_state(trainer, run: RunDir, done: int) -> None:
    """Pickle the trainer's host state (if any) beside the checkpoint, atomically. Host state that
    does not pickle (a Gymnasium SyncVectorEnv holds a generator) is skipped: a resumed run then
    starts fresh episodes."""
    if getattr(trainer, "host_state", None) is None:
        return
    host = trainer.host_state()
    if host is None:
        return
    try:
        data = pickle.dumps({"updates_done": done, "state": host})
    except Exception:
        return
    path = run.latest_checkpoint.parent / HOST_STATE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data)


# A chunk logs at most this many rows: an off-policy run makes one update per env step (DQN on
# Breakout-MinAtar: 5M updates), and a row per update was a 5M-row metrics.csv (issue 11).
MAX_ROWS_PER_CHUNK = 200
EPISODES_KEY = "rollout/episodes"
EPISODE_MEANS = ("rollout/episode_return", "rollout/episode_length")  # means over the episodes that ended


def _row_metrics(metrics: dict[str, np.ndarray], lo: int, hi: int, num_seeds: int) -> dict[str, float]:
    """One CSV row for updates ``lo..hi-1`` of a chunk: each metric averaged over those updates and the
    seeds (finite values only). Episode statistics are weighted by the episodes that ended in each
    update and ``rollout/episodes`` is summed, so a row of many updates reports the episodes it saw.
    Also the return of each seed."""
    counts = metrics.get(EPISODES_KEY)
    window = None if counts is None else np.nan_to_num(counts[:, lo:hi])
    per_seed_return = None
    row: dict[str, float] = {}
    for name, values in metrics.items():
        block = values[:, lo:hi]
        if name == EPISODES_KEY:
            row[name] = float(np.nan_to_num(block).sum(axis=1).mean())
            continue
        if window is not None and name in EPISODE_MEANS:
            total = window.sum(axis=1)
            weighted = np.where(window > 0, np.nan_to_num(block) * window, 0.0).sum(axis=1)
            per_seed = np.where(total > 0, weighted / np.maximum(total, 1e-12), np.nan)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a seed with no finite value: NaN
                per_seed = np.nanmean(block, axis=1)
        finite = per_seed[np.isfinite(per_seed)]
        row[name] = float(finite.mean()) if finite.size else math.nan
        if name == RETURN_KEY:
            per_seed_return = per_seed
    if num_seeds > 1 and per_seed_return is not None:
        for s in range(num_seeds):
            row[f"{RETURN_KEY}/seed{s}"] = float(per_seed_return[s])
    return row


def _row_windows(n_active: int, every_update: bool) -> list[tuple[int, int]]:
    """The (lo, hi) update ranges of a chunk's rows: one per update up to MAX_ROWS_PER_CHUNK, else
    that many equal windows; just the last update for trainers that log once per chunk."""
    if not every_update:
        return [(n_active - 1, n_active)]
    rows = min(n_active, MAX_ROWS_PER_CHUNK)
    edges = [round(i * n_active / rows) for i in range(rows + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


def run_training(
    trainer,
    run: RunDir,
    key: jax.Array,
    *,
    resume: bool = False,
    checkpoint_every: int = 1,
    progress: bool = True,
    tensorboard: bool = True,
    stop_after_updates: int | None = None,
    stop_at_return: float | None = None,
    on_chunk: Callable[[int, dict[str, float]], None] | None = None,
    on_checkpoint: Callable[[int, dict[str, float]], None] | None = None,
) -> DriverResult:
    """Train to ``trainer.num_updates`` (or ``stop_after_updates``), logging into ``run``.

    ``stop_at_return``: stop early once the training return, averaged over seeds and over the
    episodes of the last chunk, reaches this value ("time to solve" measurements).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    preimport_in_background(tensorboard)
    if resume and run.latest_checkpoint.exists():
        state, done = resume_state(trainer, run, restore_host=True)
    else:
        state, done = trainer.init(jax.random.split(key, trainer.num_seeds)), 0
    logger = MetricsLogger.for_run(run.path, resume_step=done * trainer.steps_per_update, tensorboard=tensorboard)
    target = trainer.num_updates if stop_after_updates is None else min(trainer.num_updates, stop_after_updates)
    total_steps = trainer.num_updates * trainer.steps_per_update
    recent = math.nan
    start = time.perf_counter()
    timed_steps, timed_seconds, chunks = 0, 0.0, 0
    interrupted = solved = False
    chunk_return = math.nan

    shown = trainer.progress_metric  # the metric the bar shows (RL: the recent training return)
    label = shown.rsplit("/", 1)[-1].removeprefix("episode_")
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("steps  {task.fields[sps]:>9} steps/s  " + label + " {task.fields[ret]:>8}"),
        TimeRemainingColumn(),
    ]
    with _StopFlag() as stop, Progress(*columns, disable=not progress, transient=False) as bar:
        task = bar.add_task(f"{run.algo} {run.env_id}", total=total_steps, completed=done * trainer.steps_per_update,
                            sps="-", ret="-")  # fmt: skip
        while done < target:
            n_active = min(trainer.updates_per_chunk, target - done)
            t0 = time.perf_counter()
            state, metrics = trainer.run_chunk(state, n_active)
            metrics = jax.tree.map(np.asarray, jax.device_get(metrics))  # one host sync per chunk
            dt = time.perf_counter() - t0
            chunks += 1
            if chunks > 1:  # the first chunk includes compilation
                timed_steps += n_active * trainer.steps_per_update * trainer.num_seeds
                timed_seconds += dt
            sps = (
                (timed_steps / timed_seconds)
                if timed_seconds
                else n_active * trainer.steps_per_update * trainer.num_seeds / dt
            )
            if RETURN_KEY in metrics:
                finite = metrics[RETURN_KEY][:, :n_active]
                finite = finite[np.isfinite(finite)]
                chunk_return = float(finite.mean()) if finite.size else math.nan
            # Trainers that log one row per chunk (the LM trainers' --log-every) skip the other rows.
            for lo, hi in _row_windows(n_active, trainer.log_every_update):
                row = _row_metrics(metrics, lo, hi, trainer.num_seeds)
                if math.isfinite(row.get(shown, math.nan)):
                    recent = row[shown]
                step = (done + hi) * trainer.steps_per_update
                if hi == n_active:
                    row["time/steps_per_second"] = sps
                    row["time/elapsed"] = time.perf_counter() - start
                logger.log(step, row)
            done += n_active
            bar.update(
                task,
                completed=done * trainer.steps_per_update,
                sps=f"{sps:,.0f}",
                ret=f"{recent:.{trainer.progress_digits}f}",
            )
            if on_chunk is not None:
                on_chunk(done, row)
            reached = stop_at_return is not None and chunk_return >= stop_at_return
            if chunks % checkpoint_every == 0 or done >= target or stop.requested or reached:
                logger.sync()  # the rows up to `done` reach the disk before the checkpoint that names them
                save_host_state(trainer, run, done)  # first: resume_state matches it to the checkpoint
                save_checkpoint(run.latest_checkpoint, state, checkpoint_meta(run, done, trainer))
                if trainer.after_checkpoint is not None:  # e.g. an LM run's model.npz beside it
                    trainer.after_checkpoint(state, done)
                if on_checkpoint is not None:  # e.g. a sweep trial reports it to Ray Tune (scale/sweep.py)
                    on_checkpoint(done, row)
            if stop.requested:
                interrupted = True
                break
            if reached:
                solved = True
                break
    logger.close()
    seconds = time.perf_counter() - start
    sps = timed_steps / timed_seconds if timed_seconds else math.nan
    return DriverResult(state, done, interrupted, seconds, sps, recent, solved)
