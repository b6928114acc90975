"""Refused attempts, counted: the first refusal of a person, action and subject is a record, the rest a count."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UtcDateTime


class Refusal(Base):
    """One person refused one action on one subject, ``count`` times between ``first_at`` and ``last_at``."""

    __tablename__ = "refusals"

    actor: Mapped[str] = mapped_column(String(64), primary_key=True)
    process: Mapped[str] = mapped_column(String(16), primary_key=True)
    attempted: Mapped[str] = mapped_column(String(200), primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_at: Mapped[datetime] = mapped_column(UtcDateTime())
