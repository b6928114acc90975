"""What the bot learns about people from outside the organisation file."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UtcDateTime


class PersonTimezone(Base):
    """A person's timezone as Slack reports it (users.info ``tz``), cached for quiet hours."""

    __tablename__ = "person_timezones"

    person_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tz: Mapped[str] = mapped_column(String(64))
    fetched_at: Mapped[datetime] = mapped_column(UtcDateTime())
