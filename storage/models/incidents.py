"""Incidents (process INC): reports, their timeline, regulatory clocks, timers and requested changes.

Timers are rows, not scheduler jobs: each reminder or escalation that may fall due is one row with
its due time and, once sent, the time it went out, so the every-minute job finds what is due with one
indexed query and never sends anything twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UtcDateTime


class Incident(Base):
    """One report, from the first message to closure. ``status`` holds an ``IncidentStatus`` value
    (``workflows/incidents/lifecycle.py``: new, incident, not_incident, closed)."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(20), unique=True)
    year: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    request_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime())
    reporter_id: Mapped[str] = mapped_column(String(128), index=True)
    reporter_name: Mapped[str] = mapped_column(String(200))
    reporter_to: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    noticed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    affected: Mapped[str] = mapped_column(String(200), default="")
    category: Mapped[str | None] = mapped_column(String(40))
    personal_data: Mapped[str | None] = mapped_column(String(8))
    links: Mapped[str] = mapped_column(Text, default="")
    files: Mapped[list[str]] = mapped_column(JSON, default=list)
    source_permalink: Mapped[str | None] = mapped_column(String(500))
    source_author: Mapped[str | None] = mapped_column(String(32))
    severity: Mapped[str | None] = mapped_column(String(2))
    handler_id: Mapped[str | None] = mapped_column(String(64))
    classified_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    classified_by: Mapped[str | None] = mapped_column(String(128))
    not_incident_reason: Mapped[str | None] = mapped_column(Text)
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    escalated_by: Mapped[str | None] = mapped_column(String(128))
    emergency_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_by: Mapped[str | None] = mapped_column(String(128))
    root_cause: Mapped[str | None] = mapped_column(Text)
    lessons: Mapped[str | None] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        UniqueConstraint("year", "number"),
        Index("ix_incidents_reporter_listed", "reporter_id", "id"),
        Index("ix_incidents_reported_at", "reported_at"),
        Index("ix_incidents_closed_at", "closed_at"),
        Index("ix_incidents_status_reported_at", "status", "reported_at"),
        # Cover the period's times to resolve and to triage per severity (migration 0018).
        Index("ix_incidents_closed_severity", "closed_at", "severity", "reported_at"),
        Index("ix_incidents_reported_severity", "reported_at", "severity", "classified_at"),
    )


class IncidentEntry(Base):
    """One line of an incident's timeline (also posted in its triage thread). Never shown to the reporter."""

    __tablename__ = "incident_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)


class IncidentClock(Base):
    """A regulatory deadline (GDPR notification, NIS2 early warning/notification/final report)."""

    __tablename__ = "incident_clocks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    kind: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    notified_by: Mapped[str | None] = mapped_column(String(128))
    notified_note: Mapped[str | None] = mapped_column(Text)
    decision: Mapped[str | None] = mapped_column(String(16))
    """What ended the clock: ``authority``, ``people`` or ``not_notifiable`` (NULL before 0011: authority)."""
    stopped_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        UniqueConstraint("incident_id", "kind"),
        Index(
            "ix_incident_clocks_running",
            "due_at",
            postgresql_where=text("notified_at IS NULL AND stopped_at IS NULL"),
            sqlite_where=text("notified_at IS NULL AND stopped_at IS NULL"),
        ),
    )


class IncidentTimer(Base):
    """A reminder or escalation that falls due at ``due_at``; ``sent_at`` once it went out."""

    __tablename__ = "incident_timers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    kind: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        UniqueConstraint("incident_id", "kind"),
        Index("ix_incident_timers_due", "sent_at", "due_at"),
    )


class IncidentChange(Base):
    """A change requested from an incident (process CHG), and what became of it."""

    __tablename__ = "incident_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    change_ref: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    requested_by: Mapped[str] = mapped_column(String(128))
    state: Mapped[str | None] = mapped_column(String(32))
    result: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
