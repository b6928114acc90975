"""PERF's due work: once a day, the month so far against the thresholds of the organisation file.
A metric over its threshold tells the owner of its process (else the ISMS managers) and records an
improvement suggestion (IMPR, which puts it in its register for the ISMS manager's decision), once per
metric and month, even with two runtimes on one database."""

from __future__ import annotations

from config.organisation import Role
from storage import periodic
from workflows.kernel.actors import SYSTEM
from workflows.kernel.interfaces import Interface, publish
from workflows.kernel.people import with_role
from workflows.kernel.recipients import Recipient
from workflows.kernel.work import Context
from workflows.performance import messages, metrics, periods

CHECK = "perf.thresholds"


def check_thresholds(ctx: Context) -> None:
    if not ctx.org.metrics.thresholds:
        return
    now = ctx.clock()
    day = now.astimezone(ctx.org.zone).date().isoformat()
    month = periods.month_of(now, ctx.org.zone)
    with ctx.read() as session:
        if periodic.done(session, CHECK, day):
            return
        crossed = metrics.measure(session, ctx.org, month, now).crossed
    with ctx.work(SYSTEM) as work:
        if not periodic.claim(work.session, CHECK, day, now):
            return
        for measurement in crossed:
            if not periodic.claim(work.session, f"perf.breach:{measurement.id}"[:120], month.label, now):
                continue
            owner = ctx.org.process_owners.get(measurement.definition.process)
            to = [owner] if owner else with_role(ctx.org, Role.ISMS_MANAGER)
            for person in to:
                work.notify(
                    Recipient.person(person),
                    messages.breach(measurement, month.label),
                    f"perf:breach:{measurement.id}:{month.label}:{person}",
                )
            work.record(
                "IMPR",
                "suggestion",
                ("metric", measurement.id),
                {
                    "period": month.label,
                    "metric": measurement.definition.name,
                    "value": measurement.value,
                    "threshold": str(measurement.threshold),
                    "told": to,
                    "source": "PERF",
                },
            )
            breach = {"text": messages.breach(measurement, month.label).text, "told": to}
            publish(work, Interface("PERF", "IMPR", "metric-breach", f"{measurement.id}:{month.label}"[:64], breach))
