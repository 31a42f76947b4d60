import math

from seuseuro.core.logging import CsvSink, MetricsLogger, read_metrics_csv


def test_csv_rows_and_resume_drops_rows_past_the_checkpoint(tmp_path):
    path = tmp_path / "metrics.csv"
    sink = CsvSink(path)
    for step in (10, 20, 30):
        sink.write(step, {"a": step / 10, "b": float("nan")})
    sink.close()
    rows = read_metrics_csv(path)
    assert [r["step"] for r in rows] == [10, 20, 30] and rows[1]["a"] == 2.0 and math.isnan(rows[0]["b"])
    sink = CsvSink(path, resume_step=20)  # the run resumes from the checkpoint at step 20
    sink.write(30, {"a": 9.0})
    sink.close()
    rows = read_metrics_csv(path)
    assert [r["step"] for r in rows] == [10, 20, 30] and rows[-1]["a"] == 9.0


def test_logger_writes_tensorboard_events(tmp_path):
    logger = MetricsLogger.for_run(tmp_path)
    logger.log(1, {"train/loss": 0.5})
    logger.close()
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    assert read_metrics_csv(tmp_path / "metrics.csv")[0]["train/loss"] == 0.5
