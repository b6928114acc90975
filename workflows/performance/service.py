"""``/isms metrics [PERIOD]``: every metric the bot computes, for overseers."""

from __future__ import annotations

from workflows.communication.service import OVERSEERS, record_auditor_access
from workflows.kernel.access import require
from workflows.kernel.actors import Actor
from workflows.kernel.ui import Outcome
from workflows.kernel.work import Context
from workflows.performance import messages, metrics, periods


def metric_list(ctx: Context, actor: Actor, period_text: str = "") -> Outcome:
    require(ctx, actor, OVERSEERS, process="PERF", what="the metrics")
    now = ctx.clock()
    period = (
        periods.parse(period_text, ctx.org.zone, now) if period_text.strip() else periods.quarter_of(now, ctx.org.zone)
    )
    with ctx.read() as session:
        measured = metrics.measure(session, ctx.org, period, now)
    record_auditor_access(ctx, actor, f"/isms metrics {period.label}", "metrics")
    return Outcome(reply=messages.metric_list(measured))
