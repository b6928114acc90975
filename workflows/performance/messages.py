"""What people read from PERF: a metric over its threshold, and the list of metrics."""

from __future__ import annotations

from workflows.kernel.ui import Message
from workflows.performance.metrics import Measurement, Measurements


def breach(measurement: Measurement, period: str) -> Message:
    d = measurement.definition
    return Message(
        text=f"Metric over its threshold: {d.name} is {measurement.shown} in {period} ({measurement.threshold})",
        body=f"Formula: {d.formula}.\nAn improvement suggestion has been recorded for process {d.process}.",
        footer="/isms metrics shows every metric; /isms status PERF the process.",
    )


def metric_list(measurements: Measurements) -> Message:
    lines = []
    for m in measurements.items:
        bound = f" (threshold {m.threshold})" if m.threshold else ""
        flag = "⚠ " if m.crossed else ""
        count = f", n = {m.count}" if m.count else ""
        lines.append(f"{flag}{m.id}: {m.definition.name}: {m.shown}{bound}{count}")
    return Message(
        text=f"Metrics for {measurements.period.label}",
        body="\n".join(lines),
        footer="Formulas: the README's Metrics section. Nonconformities and campaign completion come once "
        "audits and campaigns exist.",
    )
