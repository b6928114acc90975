"""Internal audits (AUD) and their findings.

An audit is one row whose ``state`` moves planned -> in-progress (at kick-off) -> reported; its next
reminder's time is kept here (``next_reminder_at``, indexed), so a tick reads only the audits that
have something due. A finding belongs to one audit; a nonconformity carries the change request of its
corrective action and closes only when that change is verified. The records log holds the history.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UtcDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")


class Audit(Base):
    """One internal audit of the programme, from the organisation file (``plan_key``) or from chat."""

    __tablename__ = "audits"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ref: Mapped[str] = mapped_column(String(20), unique=True)
    plan_key: Mapped[str | None] = mapped_column(String(60), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    processes: Mapped[str] = mapped_column(String(400))
    """Process ids in scope, comma-separated."""
    controls: Mapped[str] = mapped_column(Text, default="")
    """Control ids in scope, comma-separated."""
    criteria: Mapped[str] = mapped_column(Text)
    auditors: Mapped[str] = mapped_column(Text)
    """Person ids, comma-separated."""
    auditees: Mapped[str] = mapped_column(Text)
    """The owners of the processes in scope when the audit was planned, comma-separated."""
    kickoff: Mapped[date] = mapped_column(Date)
    evidence_due: Mapped[date] = mapped_column(Date)
    report_due: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16))
    planned_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    reported_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    reminder_step: Mapped[int] = mapped_column(Integer, default=0)
    next_reminder_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        Index("ix_audits_next_reminder", "next_reminder_at"),
        Index("ix_audits_state", "state"),
    )

    @property
    def process_ids(self) -> list[str]:
        return _split(self.processes)

    @property
    def control_ids(self) -> list[str]:
        return _split(self.controls)

    @property
    def auditor_ids(self) -> list[str]:
        return _split(self.auditors)

    @property
    def auditee_ids(self) -> list[str]:
        return _split(self.auditees)


class Finding(Base):
    """A nonconformity (major or minor), an observation or an opportunity for improvement."""

    __tablename__ = "audit_findings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ref: Mapped[str] = mapped_column(String(32), unique=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audits.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    clause: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    root_cause: Mapped[str] = mapped_column(Text, default="")
    corrective_action: Mapped[str] = mapped_column(Text, default="")
    change_ref: Mapped[str | None] = mapped_column(String(20))
    change_state: Mapped[str | None] = mapped_column(String(24))
    state: Mapped[str] = mapped_column(String(16))
    raised_by: Mapped[str] = mapped_column(String(128))
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_audit_findings_state_kind", "state", "kind"),)


def _split(value: str) -> list[str]:
    return [part for part in (value or "").split(",") if part]
