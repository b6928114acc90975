"""Evidence requests of recurring activities, their answers and files, and each activity's next due date.

Every reminder's and request's due time lives here, not in APScheduler: 10,000 reminders are 10,000
rows with an indexed ``next_action_at``, which one tick reads, instead of 10,000 pickled jobs.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UtcDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")
UNDECIDED = text("decision IS NULL")


class ActivitySchedule(Base):
    """The next due date of one recurring activity; what makes a missed period catch up exactly once."""

    __tablename__ = "activity_schedule"

    activity_key: Mapped[str] = mapped_column(String(120), primary_key=True)
    cadence: Mapped[str] = mapped_column(String(160))
    next_due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class EvidenceRequest(Base):
    """One activity, one period: somebody is asked for evidence that it was done."""

    __tablename__ = "evidence_requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    activity_key: Mapped[str] = mapped_column(String(120))
    period: Mapped[str] = mapped_column(String(32))
    process: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    clause: Mapped[str | None] = mapped_column(String(64))
    evidence_kind: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    owner_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="open")
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    asked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    round: Mapped[int] = mapped_column(Integer, default=0)
    step: Mapped[int] = mapped_column(Integer, default=0)
    next_action_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    snoozed_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    delegations: Mapped[int] = mapped_column(Integer, default=0)
    listed_for_review_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    first_answer_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    """When the first answer of any round was handed in: set once, with that submission. The on-time
    rate and the status counts read it from an index instead of probing the submissions per request."""

    __table_args__ = (
        UniqueConstraint("activity_key", "period", name="uq_evidence_requests_activity_period"),
        Index("ix_evidence_requests_next_action", "next_action_at"),
        Index("ix_evidence_requests_owner_status", "owner_id", "status"),
        Index("ix_evidence_requests_status", "status"),
        Index("ix_evidence_requests_process_due", "process", "due_at", "id"),
        Index("ix_evidence_requests_due_at", "due_at"),
        Index("ix_evidence_requests_status_process_due", "status", "process", "due_at"),
        # Covers the period's health per process and the on-time rate per owner (migration 0018).
        Index("ix_evidence_requests_period", "process", "due_at", "owner_id", "status", "first_answer_at"),
    )

    @property
    def ref(self) -> str:
        return f"EV-{self.id}"


class EvidenceSubmission(Base):
    """What the owner handed in (or why it does not apply) and the ISMS manager's decision on it."""

    __tablename__ = "evidence_submissions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("evidence_requests.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    submitted_by: Mapped[str] = mapped_column(String(128))
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime())
    not_applicable: Mapped[bool] = mapped_column(Boolean, default=False)
    text: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(2000))
    number: Mapped[float | None] = mapped_column(Float)
    approved: Mapped[bool | None] = mapped_column(Boolean)
    covers_from: Mapped[date | None] = mapped_column(Date)
    covers_to: Mapped[date | None] = mapped_column(Date)
    decision: Mapped[str | None] = mapped_column(String(16))
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    comment: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        # Answers waiting for the ISMS manager's decision (status counts, migration 0018).
        Index("ix_evidence_submissions_undecided", "request_id", postgresql_where=UNDECIDED, sqlite_where=UNDECIDED),
    )


class EvidenceFile(Base):
    """A file shared in Slack as evidence; its SHA-256 is filled in once the outbox has fetched it."""

    __tablename__ = "evidence_files"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("evidence_submissions.id"), index=True)
    slack_file_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    fetched_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    fetch_error: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        Index(
            "ix_evidence_files_unfetched",
            "id",
            postgresql_where=text("fetched_at IS NULL AND fetch_error IS NULL"),
            sqlite_where=text("fetched_at IS NULL AND fetch_error IS NULL"),
        ),
    )
