"""The input pack of a management review: every input ISO/IEC 27001:2022 clause 9.3.2 asks top
management to consider, gathered from the records log and the process tables for the time since the
previous review, then rendered to Markdown and HTML from the organisation's templates.

The inputs, in our words (the clause's letters are kept so a reader can map them):

a) what became of the actions earlier reviews decided;
b) what changed in the issues inside and outside the organisation that shape the ISMS;
c) what changed in what interested parties need and expect;
d) how information security performs: nonconformities and corrective actions, monitoring and
   measurement results, audit results, and whether the security objectives are met;
e) what interested parties told us;
f) where risk assessment and risk treatment stand;
g) where the ISMS could improve;
plus the incidents and changes of the period, and evidence still missing after every reminder.

Several processes (AUD, IMPR, the registers) are read only through the record kinds they write, so
the pack fills up as soon as they record anything. An input without data says so in one line instead
of disappearing: an auditor must see that it was looked at.
"""

from __future__ import annotations

import calendar
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models.changes import Change
from storage.models.incidents import Incident
from storage.models.records import Record
from storage.models.reviews import Review, ReviewAction
from workflows.changes import service as changes
from workflows.changes.lifecycle import ChangeState
from workflows.changes.messages import state_label
from workflows.communication.reports import Table
from workflows.evidence.service import items_for_management_review
from workflows.incidents import service as incidents
from workflows.kernel.paging import clip
from workflows.kernel.people import person_name, plural, when
from workflows.kernel.work import Context
from workflows.performance import metrics
from workflows.performance.periods import Period
from workflows.review.lifecycle import ReviewState

SHOWN = 15
"""Records an input lists (newest first) below its counts; the records export has them all."""
REGISTER_KINDS = ("item-imported", "item-changed")
TREATMENT_KINDS = ("risk-accepted", "acceptance-expired", "treatment-planned", "treatment-change")
"""What the risk owner's steps record under RT (``workflows/registers/risks.py``, ``scheduled.py``)."""


@dataclass(frozen=True)
class Input:
    """One input of the pack: its item of clause 9.3.2 ("a", "d) 1"; empty for the extra inputs),
    heading, lines, and the line said when it has none."""

    key: str
    clause: str
    title: str
    lines: list[str]
    empty: str
    table: Table | None = None

    @property
    def has_data(self) -> bool:
        return bool(self.lines) or bool(self.table and self.table.rows)


@dataclass(frozen=True)
class Pack:
    ref: str
    title: str
    organisation: str
    starts: str
    location: str
    chair: str
    attendees: list[str]
    period: str
    previous: str | None
    generated: str
    inputs: list[Input]

    @property
    def summary(self) -> list[str]:
        with_data = [i for i in self.inputs if i.has_data]
        return [
            f"{len(with_data)} of {len(self.inputs)} inputs have data since {self.period}.",
            *(f"No data: {i.title}" for i in self.inputs if not i.has_data),
        ]


@dataclass(frozen=True)
class Rendered:
    markdown: str
    html: str
    sha256: str
    """SHA-256 of the Markdown text, as stored in the ``pack-assembled`` record."""


def assemble(session: Session, ctx: Context, review: Review, now: datetime) -> Pack:
    """Everything the pack of ``review`` shows, read in the caller's session at ``now``."""
    previous = session.scalar(
        select(Review)
        .where(Review.starts_at < review.starts_at, Review.id != review.id, Review.state != ReviewState.CANCELLED)
        .order_by(Review.starts_at.desc())
    )
    months = ctx.org.reviews.every_months or 12
    local_start = review.starts_at.astimezone(ctx.org.zone)
    since = previous.starts_at if previous is not None else add_months(local_start, -months)
    period = Period(f"since {when(since, ctx.org.zone)}", since, now, ctx.org.zone)
    last = f"since the last review ({previous.ref})" if previous else f"in the {months} months before this review"
    found = _Records(session, since, now)
    measured = metrics.measure(session, ctx.org, period, now)
    inputs = [
        _earlier_actions(session, ctx, review),
        found.input(
            "issues",
            "b",
            "Changes in external and internal issues",
            [("REQ", REGISTER_KINDS)],
            f"No changes in external or internal issues recorded {last}.",
        ),
        found.input(
            "parties",
            "c",
            "Changes in needs and expectations of interested parties",
            [("CRM", REGISTER_KINDS)],
            f"No changes in interested parties' needs recorded {last}.",
        ),
        found.input(
            "nonconformities",
            "d) 1",
            "Nonconformities and corrective actions",
            [("AUD", ("finding-raised", "finding-closed"))],
            f"No nonconformities or corrective actions recorded {last}.",
            only=lambda action, data: action == "finding-closed" or data.get("kind") in ("major", "minor"),
            extra=_corrective_changes(session, since, now),
        ),
        _measurements(measured),
        found.input(
            "audits",
            "d) 3",
            "Audit results",
            [("AUD", ("audit-planned", "audit-reported", "finding-raised"))],
            f"No audit results recorded {last}.",
        ),
        _objectives(measured),
        found.input(
            "feedback",
            "e",
            "Feedback from interested parties",
            [("CRM", None)],
            f"No feedback from interested parties recorded {last}.",
            only=lambda action, data: action not in REGISTER_KINDS,
        ),
        found.input(
            "risks",
            "f",
            "Risk assessment results and risk treatment status",
            [
                ("RA", (*REGISTER_KINDS, "change-risk-evaluated", "incident-on-asset")),
                ("RT", (*REGISTER_KINDS, *TREATMENT_KINDS)),
            ],
            f"No risk assessment or treatment results recorded {last}.",
        ),
        found.input(
            "improvement",
            "g",
            "Opportunities for continual improvement",
            [("IMPR", ("suggestion-made", "suggestion-accepted", "suggestion-declined")), ("AUD", ("finding-raised",))],
            f"No opportunities for improvement recorded {last}.",
            only=lambda action, data: not action.startswith("finding") or data.get("kind") == "opportunity",
        ),
        _incidents(session, since, now, last),
        _changes(session, since, now, last),
        _missing_evidence(ctx),
    ]
    people = review.people
    return Pack(
        ref=review.ref,
        title=f"Management review {review.ref}: input pack",
        organisation=ctx.org.name,
        starts=when(review.starts_at, ctx.org.zone),
        location=review.location,
        chair=person_name(ctx.org, review.chair),
        attendees=[person_name(ctx.org, person) for person in people],
        period=when(since, ctx.org.zone),
        previous=previous.ref if previous else None,
        generated=when(now, ctx.org.zone),
        inputs=inputs,
    )


def add_months(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` later (or earlier), the day cut to the month's last."""
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def render(ctx: Context, pack: Pack) -> Rendered:
    """The pack through the organisation's templates (``review_pack.md.j2``, ``review_pack.html``)."""
    markdown = ctx.templates.text("review_pack.md.j2", pack=pack) + "\n"
    html = ctx.templates.html("review_pack.html", pack=pack)
    return Rendered(markdown, html, hashlib.sha256(markdown.encode("utf-8")).hexdigest())


# -- the inputs ---------------------------------------------------------------------------------------


class _Records:
    """Records of other processes in the review period, counted by kind and listed newest first."""

    def __init__(self, session: Session, since: datetime, until: datetime) -> None:
        self.session, self.since, self.until = session, since, until

    def input(
        self,
        key: str,
        clause: str,
        title: str,
        kinds: Sequence[tuple[str, Iterable[str] | None]],
        empty: str,
        *,
        only: Callable[[str, dict[str, Any]], bool] | None = None,
        extra: list[str] | None = None,
    ) -> Input:
        """``kinds``: (process, record kinds or None for all of them); ``only(action, data)`` keeps a
        record by its data (a finding's kind).

        Each process is read on its own, over the records index by (process, time): without ``only``
        the counts are grouped in SQL and only its newest ``SHOWN`` records are read, so a register
        with thousands of changes costs two indexed queries; with it, the process's records of the
        period are streamed (findings and feedback are few)."""
        counts: dict[tuple[str, str], int] = {}
        found: list[tuple[datetime, int, str]] = []
        for process, actions in kinds:
            where = [Record.process == process, Record.at >= self.since, Record.at < self.until]
            if actions is not None:
                where.append(Record.action.in_(tuple(actions)))
            newest = (
                select(Record.at, Record.seq, Record.action, Record.subject_type, Record.subject_id, Record.data)
                .where(*where)
                .order_by(Record.at.desc(), Record.seq.desc())
            )
            if only is None:
                grouped = (
                    select(Record.subject_type, Record.action, func.count())
                    .where(*where)
                    .group_by(Record.subject_type, Record.action)
                )
                for subject_type, action, count in self.session.execute(grouped):
                    counts[(subject_type, action)] = counts.get((subject_type, action), 0) + int(count)
                rows = self.session.execute(newest.limit(SHOWN))
            else:
                rows = self.session.execute(newest.execution_options(yield_per=500))
            kept = 0
            for at, seq, action, subject_type, subject, raw in rows:
                data = json.loads(raw) if raw else {}
                if only is not None:
                    if not only(action, data):
                        continue
                    counts[(subject_type, action)] = counts.get((subject_type, action), 0) + 1
                if kept < SHOWN:
                    line = f"{at:%Y-%m-%d} {subject_type} {subject} {_done(subject_type, action)}{_described(data)}"
                    found.append((at, seq, line))
                    kept += 1
        lines = [line for _, _, line in sorted(found, reverse=True)[:SHOWN]]
        total = sum(counts.values())
        said = sorted(_counted(subject_type, action, count) for (subject_type, action), count in counts.items())
        head = [", ".join(said)] if said else []
        more = [f"…and {total - SHOWN:,} more in the records log."] if total > SHOWN else []
        return Input(key, clause, title, [*head, *lines, *more, *(extra or [])], empty)


def _done(subject_type: str, action: str) -> str:
    """What a record kind says happened to its subject, in words: ``item-changed`` on a risk is
    "changed", ``finding-raised`` on a finding "raised", ``suggestion-made`` on an improvement
    "suggestion made" (the subject's type is said once, before its id)."""
    words = action.split("-")
    return " ".join(words[1:] if len(words) > 1 and words[0] in (subject_type, "item") else words)


def _counted(subject_type: str, action: str, count: int) -> str:
    """A count first, for top management: "3 risks imported", "2 findings raised"."""
    many = subject_type[:-1] + "ies" if subject_type.endswith("y") else None
    return f"{plural(count, subject_type, many)} {_done(subject_type, action)}"


def _described(data: dict[str, Any]) -> str:
    """A few telling fields of a record's data (erased data shows nothing)."""
    shown = []
    for name in ("title", "kind", "clause", "field", "old", "new", "text", "score", "state", "reason"):
        value = data.get(name)
        if value not in (None, ""):
            shown.append(f"{name} {str(value)[:120]}")
    return (": " + "; ".join(shown)) if shown else ""


def _earlier_actions(session: Session, ctx: Context, review: Review) -> Input:
    """a) Every action earlier reviews raised, with the state of its change as CHG last reported it."""
    rows = session.scalars(
        select(ReviewAction)
        .join(Review, Review.ref == ReviewAction.review_ref)
        .where(Review.starts_at < review.starts_at)
        .order_by(Review.starts_at, ReviewAction.number)
    ).all()
    table = Table(
        "Actions from earlier reviews",
        ("action", "owner", "due", "change", "state"),
        [
            {
                "action": f"{action.review_ref}/{action.number} {action.text}",
                "owner": person_name(ctx.org, action.owner),
                "due": action.due.isoformat(),
                "change": action.change_ref,
                "state": state_label(action.change_state),
            }
            for action in rows
        ],
    )
    done = sum(1 for action in rows if action.change_state == ChangeState.VERIFIED)
    lines = [f"{plural(len(rows), 'action')} from earlier reviews, {done} verified as done."] if rows else []
    return Input(
        "actions", "a", "Status of actions from earlier reviews", lines, "No actions from earlier reviews.", table
    )


def _corrective_changes(session: Session, since: datetime, until: datetime) -> list[str]:
    """Corrective actions: the changes audits and improvement asked for, by state."""
    rows = session.execute(
        select(Change.state, func.count())
        .where(Change.origin_process.in_(("AUD", "IMPR")), Change.created_at >= since, Change.created_at < until)
        .group_by(Change.state)
    ).all()
    if not rows:
        return []
    return ["Corrective changes: " + ", ".join(f"{state_label(state).lower()} {count}" for state, count in rows)]


def _measurements(measured: metrics.Measurements) -> Input:
    """d2) The metrics the bot computes, each with its value over the period."""
    shown = [m for m in metrics.worth_showing(measured) if m.value is not None]
    lines = [
        f"{m.definition.name}: {m.shown} (n = {m.count})" + (f", target {m.threshold}" if m.threshold else "")
        for m in shown
    ]
    return Input(
        "measurement", "d) 2", "Monitoring and measurement results", lines, "Nothing was measured in this period."
    )


def _objectives(measured: metrics.Measurements) -> Input:
    """d4) The objectives with a measurable target (the organisation's metric thresholds): met or not."""
    targeted = [m for m in measured.items if m.threshold is not None]
    lines = [
        f"{m.definition.name}: target {m.threshold}, "
        + ("no data" if m.value is None else f"{m.shown}, {'missed' if m.crossed else 'met'}")
        for m in targeted
    ]
    return Input(
        "objectives",
        "d) 4",
        "Fulfilment of information security objectives",
        lines,
        "No information security objectives with a measurable target are set (metrics.thresholds).",
    )


def _incidents(session: Session, since: datetime, until: datetime, last: str) -> Input:
    """The period's incident counts, then its newest reports (the register has them all)."""
    counts = incidents.period_counts(session, since, until)
    rows = session.execute(
        select(Incident.ref, Incident.severity, Incident.status, Incident.summary)
        .where(Incident.reported_at >= since, Incident.reported_at < until)
        .order_by(Incident.id.desc())
        .limit(SHOWN)
    ).all()
    if not rows and not any(counts.values()):
        return Input("incidents", "", "Incidents", [], f"No incidents reported {last}.")
    head = f"Reported {counts['reported']}, closed {counts['closed']}, not incidents {counts['not incidents']}."
    lines = [f"{ref} {severity or '-'} {status}: {clip(summary, 150)}" for ref, severity, status, summary in rows]
    return Input("incidents", "", "Incidents", [head, *lines], "")


def _changes(session: Session, since: datetime, until: datetime, last: str) -> Input:
    """The period's change counts, then its newest requests with where they came from."""
    counts = changes.period_counts(session, since, until)
    rows = session.execute(
        select(Change.ref, Change.state, Change.title, Change.origin_process, Change.origin_ref)
        .where(Change.created_at >= since, Change.created_at < until)
        .order_by(Change.id.desc())
        .limit(SHOWN)
    ).all()
    if not rows and not any(counts.values()):
        return Input("changes", "", "Changes", [], f"No changes requested {last}.")
    head = (
        f"Requested {counts['requested']}, verified {counts['verified']}, "
        f"failed or declined {counts['failed or declined']}."
    )
    lines = [
        f"{ref} {state_label(state).lower()}: {clip(title, 150)} (from {process} {origin})"
        for ref, state, title, process, origin in rows
    ]
    return Input("changes", "", "Changes", [head, *lines], "")


def _missing_evidence(ctx: Context) -> Input:
    listed = items_for_management_review(ctx)
    lines = [
        f"{item.ref} {item.process} {item.title} ({item.period}), owner {person_name(ctx.org, item.owner_id)}, "
        f"due {when(item.due_at, ctx.org.zone)}"
        for item in listed[:SHOWN]
    ]
    return Input(
        "evidence",
        "",
        "Evidence still missing after every reminder",
        lines,
        "No evidence request is open past its escalation.",
    )
