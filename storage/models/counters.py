"""Gap-free reference numbers per series ("INC-2026", "CHG-2026", "LOCAL"); see storage/counters.py."""

from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class Counter(Base):
    """The last number handed out in a series, incremented inside the creating transaction."""

    __tablename__ = "counters"

    series: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)
