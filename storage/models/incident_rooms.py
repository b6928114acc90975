"""Incident channels (process INC): the private Slack channel a serious incident is worked in.

One row per incident at most (the unique ``incident_id`` makes a second room impossible, whatever
races). The channel itself is created by an outbox effect; a tick copies Slack's channel id here once
the effect was sent, and the same tick queues the archiving when ``archive_at`` has come.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UtcDateTime


class IncidentRoom(Base):
    """The incident's channel: its name at once, its Slack id once created, when it is archived."""

    __tablename__ = "incident_rooms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    opened_by: Mapped[str] = mapped_column(String(128))
    channel_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    """Slack's id of the channel, copied from the create effect's answer (NULL until it was sent)."""
    error: Mapped[str | None] = mapped_column(Text)
    """Why Slack refused to create the channel, when it did."""
    archive_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    archived_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        # The tick's two questions: rooms whose channel id is not copied yet, and rooms due for archiving.
        Index("ix_incident_rooms_waiting", "channel_id", "error"),
        Index("ix_incident_rooms_archive", "archived_at", "archive_at"),
    )
