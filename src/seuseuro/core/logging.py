"""Metric sinks. Library code returns metrics; only the host driver hands them to these sinks
(style.md, principle 6). Metric names are namespaced: ``train/``, ``rollout/``, ``eval/``,
``time/``, ``fairness/``.

- :class:`CsvSink` appends one row per logged step to metrics.csv. The header is fixed by the first
  row; rows are flushed at once so an interrupted run keeps every logged row. On resume, rows past
  the resumed step are dropped so the file never holds a step twice.
- :class:`TensorBoardSink` writes TensorBoard event files with tensorboardX.
- :class:`MetricsLogger` fans out to several sinks.
"""

from __future__ import annotations

import csv
import math
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import numpy as np


class MetricSink(Protocol):
    def write(self, step: int, metrics: Mapping[str, float]) -> None: ...

    def close(self) -> None: ...


def _as_float(value) -> float:
    return float(np.asarray(value).mean())


class CsvSink:
    """metrics.csv: column ``step`` then the metric names of the first row, in order."""

    def __init__(self, path: str | os.PathLike, resume_step: int | None = None):
        self.path = Path(path)
        self.fields: list[str] | None = None
        if self.path.exists():
            rows, fields = read_metrics_csv(self.path, with_fields=True)
            if resume_step is not None:
                rows = [r for r in rows if r["step"] <= resume_step]
            if fields:
                self.fields = fields
                tmp = self.path.with_name(self.path.name + ".tmp")
                with open(tmp, "w", newline="") as f:
                    writer = csv.DictWriter(f, fieldnames=["step", *fields])
                    writer.writeheader()
                    for r in rows:
                        writer.writerow({k: _fmt(r.get(k, math.nan)) for k in ["step", *fields]})
                os.replace(tmp, self.path)
        self._file = open(self.path, "a", newline="")  # noqa: SIM115 (kept open across writes)

    def write(self, step: int, metrics: Mapping[str, float]) -> None:
        if self.fields is None:
            self.fields = list(metrics)
            csv.writer(self._file).writerow(["step", *self.fields])
        row = [str(int(step))] + [_fmt(_as_float(metrics[k])) if k in metrics else "" for k in self.fields]
        csv.writer(self._file).writerow(row)
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _fmt(x) -> str:
    if isinstance(x, str):
        return x
    x = float(x)
    return "" if math.isnan(x) else f"{x:.6g}"


def read_metrics_csv(path: str | os.PathLike, with_fields: bool = False):
    """Read metrics.csv as a list of dicts of floats (empty cells become NaN)."""
    path = Path(path)
    rows: list[dict[str, float]] = []
    fields: list[str] = []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        fields = [k for k in (reader.fieldnames or []) if k != "step"]
        for raw in reader:
            try:
                row = {k: (float(v) if v not in ("", None) else math.nan) for k, v in raw.items()}
            except ValueError:
                continue  # a torn last line from a crash: skip it
            rows.append(row)
    return (rows, fields) if with_fields else rows


def import_summary_writer():
    """``tensorboardX.SummaryWriter`` without importing PyTorch.

    tensorboardX's writer imports torch only to accept torch tensors (``numpy_compatible``); with
    torch installed that costs ~1-2 s of start-up for a run that logs float scalars. If torch is
    not imported yet, it is hidden for the duration of this import and restored right after.
    """
    if "torch" in sys.modules:
        from tensorboardX import SummaryWriter

        return SummaryWriter
    sys.modules["torch"] = None  # type: ignore[assignment]  # `import torch` raises ImportError
    try:
        from tensorboardX import SummaryWriter
    finally:
        del sys.modules["torch"]
    return SummaryWriter


class TensorBoardSink:
    """TensorBoard event files under ``<run>/tb``. The writer is created at the first write, so
    the import overlaps with compilation when the driver pre-imports it in a thread."""

    def __init__(self, logdir: str | os.PathLike, purge_step: int | None = None):
        self.logdir, self.purge_step, self.writer = str(logdir), purge_step, None

    def write(self, step: int, metrics: Mapping[str, float]) -> None:
        if self.writer is None:
            self.writer = import_summary_writer()(logdir=self.logdir, purge_step=self.purge_step)
        for name, value in metrics.items():
            v = _as_float(value)
            if math.isfinite(v):
                self.writer.add_scalar(name, v, global_step=int(step))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()


class MetricsLogger:
    """Fan-out to several sinks; ``log(step, metrics)``."""

    def __init__(self, sinks: list[MetricSink]):
        self.sinks = sinks

    @classmethod
    def for_run(cls, run_path: str | os.PathLike, resume_step: int | None = None, tensorboard: bool = True):
        run_path = Path(run_path)
        sinks: list[MetricSink] = [CsvSink(run_path / "metrics.csv", resume_step=resume_step)]
        if tensorboard:
            sinks.append(TensorBoardSink(run_path / "tb", purge_step=resume_step))
        return cls(sinks)

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        for sink in self.sinks:
            sink.write(step, metrics)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
