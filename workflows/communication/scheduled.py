"""COM's due work: the weekly digest and the monthly ISMS report to the ``isms_reports`` channel.

Each goes out once per period, even with two runtimes on one database: the period is claimed in
``periodic_runs`` in the same transaction that queues the message (storage/periodic.py), and the
outbox key names the period too. A tick before the configured weekday and time does nothing; a tick
after downtime sends the one that is due (not every missed one).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from workflows.communication import digests
from workflows.kernel.periodic import once_per_period
from workflows.kernel.recipients import Recipient
from workflows.kernel.ui import Message
from workflows.kernel.work import Context, Work
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
    _once(ctx, MONTHLY, last_month.label, now, lambda: digests.monthly(ctx, now, last_month))


def _once(ctx: Context, name: str, period: str, now: datetime, build: digests.Builder) -> None:
    def send(work: Work, message: Message) -> None:
        work.notify(Recipient.channel("isms_reports"), message, f"{name}:{period}")
        work.record("COM", "report-sent", (name, period), {"to": "isms_reports", "headline": message.text})

    once_per_period(ctx, name, period, now, build, send)
