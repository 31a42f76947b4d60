"""Crash safety (issue 9): a training process killed with SIGKILL at any moment leaves a run directory
that ``seuseuro eval`` reads and ``seuseuro train ppo --resume`` continues to the same parameters,
bit for bit, and the same metrics.csv rows as an uninterrupted run.

The kills go to real ``python -m seuseuro`` processes: one during the first checkpoint write (only
``latest.npz.tmp`` exists: the run has no checkpoint yet), two at random moments after a checkpoint
(mid-chunk, mid-logging or mid-write, wherever they land), one during a later checkpoint write. To
land a kill inside the atomic write, the test puts a ``sitecustomize.py`` on the child's PYTHONPATH
that stalls ``os.replace`` of ``latest.npz.tmp`` (after the data is written and fsynced, before the
rename) and signals the test through a marker file; library code has no test hooks.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from seuseuro.cli import main
from seuseuro.core.checkpoint import read_checkpoint_meta
from seuseuro.core.logging import read_metrics_csv

STEPS_PER_UPDATE = 8 * 16  # CartPole's default 8 envs x --num-steps 16
NUM_UPDATES = 48
# 24 chunks of 2 updates, a checkpoint after each: many moments to kill at, still a few seconds of training.
FLAGS = [
    "--env", "CartPole-v1", "--total-steps", str(NUM_UPDATES * STEPS_PER_UPDATE), "--num-steps", "16",
    "--chunk-updates", "2", "--eval-episodes", "0", "--no-progress", "--no-tensorboard",
]  # fmt: skip
WAIT_LIMIT_S = 300  # a hung child fails the test instead of hanging it (not a timing assertion)

SITECUSTOMIZE = """
import os, time

_spec = os.environ.get("SEUSEURO_TEST_STALL_REPLACE")  # "<source suffix>|<nth call>|<marker file>"
if _spec:
    _suffix, _nth, _marker = _spec.split("|")
    _real_replace, _calls = os.replace, [0]

    def _stalling_replace(src, dst, *args, **kwargs):
        if os.fspath(src).endswith(_suffix):
            _calls[0] += 1
            if _calls[0] == int(_nth):
                open(_marker, "w").close()
                time.sleep(3600)  # the test kills the process here
        return _real_replace(src, dst, *args, **kwargs)

    os.replace = _stalling_replace
"""


def _start(
    args: list[str], workdir: Path, xla_flags: str, stall_nth: int | None = None
) -> tuple[subprocess.Popen, Path]:
    hooks = workdir / "hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)
    marker = workdir / f"stalled-{time.monotonic_ns()}"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(hooks), env.get("PYTHONPATH")) if p)
    env["SEUSEURO_JAX_CACHE"] = os.environ["SEUSEURO_JAX_CACHE"]  # the suite's compile cache (conftest.py)
    env["MPLBACKEND"] = "Agg"
    env["XLA_FLAGS"] = xla_flags  # compiled as the in-process reference run is (conftest.py)
    if stall_nth is not None:
        env["SEUSEURO_TEST_STALL_REPLACE"] = f"latest.npz.tmp|{stall_nth}|{marker}"
    with open(workdir / f"child-{time.monotonic_ns()}.log", "wb") as log:
        command = [sys.executable, "-m", "seuseuro", "train", "ppo", *args]
        proc = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=log)
    return proc, marker


def _wait_until(condition, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + WAIT_LIMIT_S
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"the child exited with {proc.returncode} before {what}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the child did not reach {what}")
        time.sleep(0.01)


def _kill(proc: subprocess.Popen) -> None:
    assert proc.poll() is None, "the child finished before it was killed: the scenario did not happen"
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _updates_done(run: Path) -> int:
    ckpt = run / "checkpoints" / "latest.npz"
    return int(read_checkpoint_meta(ckpt)["updates_done"]) if ckpt.exists() else 0


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def test_sigkill_anywhere_then_resume_matches_uninterrupted_run(tmp_path, child_xla_flags):
    rng = random.Random(9)
    reference, crashed = tmp_path / "reference", tmp_path / "crashed"
    assert main(["train", "ppo", *FLAGS, "--run-dir", str(reference)]) == 0

    # 1. Killed inside the first checkpoint write: only latest.npz.tmp exists.
    proc, marker = _start([*FLAGS, "--run-dir", str(crashed)], tmp_path, child_xla_flags, stall_nth=1)
    _wait_until(marker.exists, proc, "the first checkpoint write")
    _kill(proc)
    assert (crashed / "checkpoints" / "latest.npz.tmp").exists()
    assert not (crashed / "checkpoints" / "latest.npz").exists()
    assert main(["eval", str(crashed), "--episodes", "1"]) == 2  # a clear error, not a traceback

    # 2. Resumed (from scratch: no checkpoint) and killed at random moments after some progress.
    for _ in range(2):
        before = _updates_done(crashed)
        proc, _ = _start([*FLAGS, "--resume", str(crashed)], tmp_path, child_xla_flags)
        _wait_until(lambda before=before: _updates_done(crashed) > before, proc, "a new checkpoint")
        time.sleep(rng.uniform(0.0, 0.1))
        _kill(proc)
    assert 0 < _updates_done(crashed) < NUM_UPDATES

    # 3. Killed inside a later checkpoint write: the previous checkpoint stays, and eval reads it.
    proc, marker = _start([*FLAGS, "--resume", str(crashed)], tmp_path, child_xla_flags, stall_nth=2)
    _wait_until(marker.exists, proc, "the second checkpoint write")
    before = _updates_done(crashed)
    _kill(proc)
    assert (crashed / "checkpoints" / "latest.npz.tmp").exists()
    assert _updates_done(crashed) == before
    assert main(["eval", str(crashed), "--episodes", "1"]) == 0
    assert json.loads((crashed / "eval.json").read_text())["per_seed"][0]["returns"]

    # 4. Resumed to the end: the same checkpoint, bit for bit, as the uninterrupted run.
    assert main(["train", "ppo", *FLAGS, "--resume", str(crashed)]) == 0
    got = _arrays(crashed / "checkpoints" / "latest.npz")
    want = _arrays(reference / "checkpoints" / "latest.npz")
    assert got.keys() == want.keys()
    for name in want:
        assert got[name].dtype == want[name].dtype and np.array_equal(got[name], want[name]), name

    # metrics.csv: every step once, in order, with the uninterrupted run's values (timings aside).
    rows, fields = read_metrics_csv(crashed / "metrics.csv", with_fields=True)
    ref_rows, ref_fields = read_metrics_csv(reference / "metrics.csv", with_fields=True)
    assert fields == ref_fields
    assert [r["step"] for r in rows] == [STEPS_PER_UPDATE * (u + 1) for u in range(NUM_UPDATES)]
    for row, ref in zip(rows, ref_rows, strict=True):
        for name in fields:
            if not name.startswith("time/"):
                assert np.array_equal(row[name], ref[name], equal_nan=True), (row["step"], name)
    # Every file was renamed into place: no temporary file is left once the run has finished.
    assert not [p for p in crashed.rglob("*.tmp")]


def test_metrics_csv_resume_drops_torn_line_and_keeps_steps_verbatim(tmp_path):
    from seuseuro.core.logging import CsvSink

    path = tmp_path / "metrics.csv"
    sink = CsvSink(path)
    for step in (1_234_567, 2_469_134, 3_703_701):
        sink.write(step, {"train/loss": 0.5})
    sink.close()
    with open(path, "ab") as f:
        f.write(b"4938268,0.2")  # a row cut off by a kill: no newline, a plausible-looking number
    sink = CsvSink(path, resume_step=2_469_134)
    sink.write(3_703_701, {"train/loss": 0.25})
    sink.close()
    # Before: the resume rewrite formatted steps with %.6g (1234567 -> 1.23457e+06) and the torn row
    # parsed as step 4938268 with a truncated value.
    assert path.read_text().splitlines() == ["step,train/loss", "1234567,0.5", "2469134,0.5", "3703701,0.25"]
