"""The tracker port of change management: what the workflow asks of Jira (or the local tracker).

The workflow never talks to a tracker. It queues effects in its own transaction and the senders in
integrations/ carry them out:
- ``tracker.create``: open the issue for a change (key ``tracker-create:<ref>``, so once per change);
- ``tracker.comment``: add a comment (decisions and verification results, for people working in Jira);
- ``tracker.poll``: fetch issues updated since the stored watermark (for when webhooks are not set up;
  queued by scheduled.py).
All three share the ``tracker`` service prefix, so a 429 pauses them together.

The issue's fields are resolved here from the organisation's mapping and rendered from a template at
queue time, so a sender is a thin translation to the tracker's API and the local tracker shows the
same text as Jira.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from storage.models.changes import Change, TrackerWatermark
from workflows.kernel.people import person_name
from workflows.kernel.work import Context, Work

CREATE, COMMENT, POLL = "tracker.create", "tracker.comment", "tracker.poll"
JIRA = "jira"  # the tracker whose updates must be fetched; the local tracker applies its own at once
COMMON_LABEL = "isms-change"
WATERMARK = "tracker"
# Re-read a little before the watermark: clocks differ and Jira stamps ``updated`` at its side.
# Re-reading is harmless because updates are applied only when newer than the last applied one.
POLL_OVERLAP = timedelta(minutes=2)


@dataclass(frozen=True)
class TrackerUpdate:
    """What the tracker says about one issue now (from a webhook, a poll or the local tracker)."""

    key: str
    status: str
    updated: datetime
    resolution: str | None = None
    comment: str | None = None
    author: str | None = None


def label_of(ref: str) -> str:
    """The label carrying the change reference: how a retried create finds the issue it already made."""
    return "isms-" + ref.lower()


def record_link(work: Work, ref: str) -> str:
    url = work.ctx.org.changes.record_url
    return url.replace("{ref}", ref) if url else ""


def issue_payload(work: Work, change: Change) -> dict[str, Any]:
    """Everything a sender needs to open the issue, resolved from the organisation's mapping."""
    settings = work.ctx.org.changes
    description = work.ctx.templates.text(
        settings.description_template,
        change=change,
        requester=person_name(work.ctx.org, change.requester),
        link=record_link(work, change.ref),
    )
    summary = " ".join(f"{change.ref}: {change.title}".split())[:255]
    labels = list(dict.fromkeys([*settings.labels, COMMON_LABEL, label_of(change.ref)]))
    return {
        "ref": change.ref,
        "label": label_of(change.ref),
        "project": settings.project,
        "issue_type": settings.issue_type_for(change.origin_process),
        "summary": summary,
        "description": description,
        "priority": settings.priority_for(change.priority),
        "labels": labels,
        "components": list(settings.components),
        "custom_fields": dict(settings.custom_fields),
    }


def queue_issue(work: Work, change: Change) -> None:
    work.effect(CREATE, f"tracker-create:{change.ref}", issue_payload(work, change))


def queue_comment(work: Work, change: Change, event: str, text: str) -> None:
    """Comment on the change's issue; before the issue exists the sender waits for it (RetryLater)."""
    work.effect(COMMENT, f"tracker-comment:{change.ref}:{event}", {"ref": change.ref, "body": text})


def watermark(ctx: Context) -> datetime | None:
    """Updates older than this were already fetched by a poll (minus ``POLL_OVERLAP``)."""
    with ctx.read() as session:
        row = session.get(TrackerWatermark, WATERMARK)
        return row.at - POLL_OVERLAP if row is not None else None


def advance_watermark(work: Work, at: datetime) -> None:
    row = work.session.get(TrackerWatermark, WATERMARK, with_for_update=True)
    if row is None:
        work.session.add(TrackerWatermark(name=WATERMARK, at=at))
    elif at > row.at:
        row.at = at
