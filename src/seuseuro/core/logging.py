"""Metric sinks. Library code returns metrics; only the host driver hands them to these sinks
(ARCHITECTURE.md). Metric names are namespaced: ``train/``, ``rollout/``, ``eval/``,
``time/``, ``fairness/``.

- :class:`CsvSink` appends one row per logged step to metrics.csv. The header is fixed by the first
  row; rows are flushed at once so an interrupted run keeps every logged row. On resume, rows past
  the resumed step are dropped so the file never holds a step twice, and so is a torn last line
  (a process killed mid-write); kept rows are copied as text, never re-formatted.
- :class:`TensorBoardSink` writes TensorBoard event files with tensorboardX.
- :class:`MetricsLogger` fans out to several sinks.
"""

from __future__ import annotations

import csv
import io
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
            header, rows = _read_complete_rows(self.path)
            if resume_step is not None:
                rows = [r for r in rows if float(r[0]) <= resume_step]
            self.fields = header[1:] if header else None
            # Rewritten as the strings that were read: parsing and re-formatting with %.6g turned a
            # step such as 1234567 into 1.23457e+06 on every resume.
            text = io.StringIO(newline="")
            csv.writer(text).writerows([header, *rows] if header else [])
            from seuseuro.core.checkpoint import atomic_write_text

            atomic_write_text(self.path, text.getvalue())
        self._file = open(self.path, "a", newline="")  # noqa: SIM115 (kept open across writes)

    def write(self, step: int, metrics: Mapping[str, float]) -> None:
        if self.fields is None:
            self.fields = list(metrics)
            csv.writer(self._file).writerow(["step", *self.fields])
        row = [str(int(step))] + [_fmt(_as_float(metrics[k])) if k in metrics else "" for k in self.fields]
        csv.writer(self._file).writerow(row)
        self._file.flush()

    def sync(self) -> None:
        """Flush the rows to disk; the driver calls it before each checkpoint, so that a checkpoint
        that survives a power cut never has steps past the end of metrics.csv."""
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def _read_complete_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of a metrics.csv as strings, keeping only whole rows: a last line without its
    newline (the writer was killed in the middle of it) and rows whose step is not a number or
    whose length differs from the header's are dropped. An empty or torn header gives ``([], [])``."""
    data = path.read_bytes()
    complete = data[: data.rfind(b"\n") + 1].decode("utf-8", errors="replace")
    lines = list(csv.reader(io.StringIO(complete, newline="")))
    if not lines or not lines[0] or lines[0][0] != "step":
        return [], []
    header, rows = lines[0], []
    for row in lines[1:]:
        if len(row) == len(header) and _is_number(row[0]):
            rows.append(row)
    return header, rows


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _fmt(x) -> str:
    if isinstance(x, str):
        return x
    x = float(x)
    return "" if math.isnan(x) else f"{x:.6g}"


def read_metrics_csv(path: str | os.PathLike, with_fields: bool = False):
    """Read metrics.csv as a list of dicts of floats (empty cells become NaN)."""
    header, raw_rows = _read_complete_rows(Path(path))
    rows: list[dict[str, float]] = []
    for raw in raw_rows:
        try:
            rows.append({k: (float(v) if v != "" else math.nan) for k, v in zip(header, raw, strict=True)})
        except ValueError:
            continue  # a cell that is not a number (a file edited by hand): skip the row
    fields = header[1:]
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

    def sync(self) -> None:
        """Make every logged row durable, in the sinks that can (metrics.csv)."""
        for sink in self.sinks:
            if hasattr(sink, "sync"):
                sink.sync()

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
