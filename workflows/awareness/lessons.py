"""The monthly awareness digest: the lessons learned from incidents closed last month (INC records
them for AWR as "lesson" records when an incident closes), posted to the channel the organisation
file names (``awareness.lessons_digest``), on its day and time, about the month before.

It goes out once per month even with two runtimes on one database: the month is claimed in
``periodic_runs`` in the transaction that queues the post, and the outbox key names the month too. A
tick after downtime sends the digest that is due, not every missed one.
"""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models.records import Record
from workflows.awareness.lifecycle import PROCESS_ID
from workflows.kernel.paging import clip
from workflows.kernel.people import plural
from workflows.kernel.periodic import once_per_period
from workflows.kernel.recipients import Recipient
from workflows.kernel.ui import Message
from workflows.kernel.work import Context, Work
from workflows.performance import periods
from workflows.performance.periods import Period

NAME = "awr.lessons-digest"
SHOWN = 15
"""Lessons in one post; the rest are counted (the post must fit Slack's limits)."""


def lessons_digest(ctx: Context) -> None:
    settings = ctx.org.awareness.lessons_digest
    now = ctx.clock()
    last_month = periods.previous_month_due(now, ctx.org.zone, settings.day, settings.at)
    if not settings.enabled or last_month is None:
        return
    to = Recipient("slack", settings.channel) if settings.channel else Recipient.channel("isms_reports")

    def gather() -> list[tuple[str, dict[str, str]]]:
        with ctx.read() as session:
            return _lessons(session, last_month)

    def send(work: Work, lessons: list[tuple[str, dict[str, str]]]) -> None:
        if lessons:
            work.notify(to, digest(ctx, last_month, lessons), f"{NAME}:{last_month.label}")
        work.record(
            PROCESS_ID,
            "lessons-digest",
            ("digest", last_month.label),
            {"to": str(to), "lessons": len(lessons), "incidents": [ref for ref, _ in lessons]},
        )

    once_per_period(ctx, NAME, last_month.label, now, gather, send)


def _lessons(session: Session, month: Period) -> list[tuple[str, dict[str, str]]]:
    """(incident ref, lesson data) of every lesson recorded in ``month``, oldest first; erased ones
    (past their retention) are left out."""
    rows = session.execute(
        select(Record.subject_id, Record.data)
        .where(
            Record.process == PROCESS_ID,
            Record.at >= month.start,
            Record.at < month.end,
            Record.action == "lesson",
        )
        .order_by(Record.seq)
    )
    return [(ref, json.loads(data)) for ref, data in rows if data]


def digest(ctx: Context, month: Period, lessons: list[tuple[str, dict[str, str]]]) -> Message:
    categories = ctx.org.incidents.categories
    lines = [
        clip(f"• {ref} ({categories.get(lesson.get('category') or '', 'other')}): {lesson.get('lessons', '')}")
        for ref, lesson in lessons[:SHOWN]
    ]
    if len(lessons) > SHOWN:
        lines.append(f"… and {plural(len(lessons) - SHOWN, 'more lesson')}, in the records log.")
    return Message(
        text=f"Lessons learned in {month.label}: {plural(len(lessons), 'closed incident')}",
        body="\n".join(lines),
        footer="What we learned from incidents, so the same thing does not happen to you.",
    )
