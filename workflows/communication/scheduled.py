"""COM's due work: the weekly digest and the monthly ISMS report to the ``isms_reports`` channel, the
monthly report with its HTML file shared beside it (workflows/outreach/files.py).

Each goes out once per period, even with two runtimes on one database: the period is claimed in
``periodic_runs`` in the same transaction that queues the message (storage/periodic.py), and the
outbox key names the period too. A tick before the configured weekday and time does nothing; a tick
after downtime sends the one that is due (not every missed one).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from workflows.communication import digests, reports
from workflows.kernel.access import Refused
from workflows.kernel.periodic import once_per_period
from workflows.kernel.recipients import Recipient
from workflows.kernel.ui import Message
from workflows.kernel.work import Context, Work
from workflows.outreach.files import share_file
from workflows.performance import periods

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DIGEST, MONTHLY = "com.weekly-digest", "com.monthly-report"


def weekly_digest(ctx: Context) -> None:
    settings = ctx.org.reports.weekly_digest
    now = ctx.clock()
    week = periods.week_of(now, ctx.org.zone)
    send_at = week.start.astimezone(ctx.org.zone) + timedelta(days=WEEKDAYS.index(settings.weekday))
    send_at = send_at.replace(hour=settings.at.hour, minute=settings.at.minute)
    if not settings.enabled or now < send_at:
        return
    _once(ctx, DIGEST, week.label, now, lambda: digests.weekly(ctx, now, week))


def monthly_report(ctx: Context) -> None:
    settings = ctx.org.reports.monthly_report
    now = ctx.clock()
    last_month = periods.previous_month_due(now, ctx.org.zone, settings.day, settings.at)
    if not settings.enabled or last_month is None:
        return
    _once(
        ctx,
        MONTHLY,
        last_month.label,
        now,
        lambda: digests.monthly(ctx, now, last_month),
        lambda: reports.html_file(ctx, "monthly", last_month, now),
    )


def _once(
    ctx: Context,
    name: str,
    period: str,
    now: datetime,
    build: digests.Builder,
    attach: Callable[[], reports.ReportFile] | None = None,
) -> None:
    """Post the message (and share the file ``attach`` builds beside it) once for ``period``."""

    def gather() -> tuple[Message, reports.ReportFile | None]:
        return build(), attach() if attach is not None else None

    def send(work: Work, gathered: tuple[Message, reports.ReportFile | None]) -> None:
        message, file = gathered
        channel = Recipient.channel("isms_reports")
        work.notify(channel, message, f"{name}:{period}")
        data = {"to": "isms_reports", "headline": message.text}
        if file is not None:
            comment = f"{file.title}: the full report with charts (HTML, prints on A4)."
            try:
                digest = share_file(
                    work,
                    channel,
                    f"{name}:{period}:file",
                    filename=file.filename,
                    content=file.content,
                    title=file.title,
                    comment=comment,
                )
                data.update(file=file.filename, sha256=digest)
            except Refused as refusal:  # too large to share: the summary still goes, and says so here
                data.update(file=file.filename, not_shared=str(refusal))
        work.record("COM", "report-sent", (name, period), data)

    once_per_period(ctx, name, period, now, gather, send)
