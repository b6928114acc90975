"""What the bot learned from the directory (Entra ID through Microsoft Graph), cached with its age."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UtcDateTime


class DirectoryPerson(Base):
    """One person as the directory knows them, keyed by e-mail (lower case).

    ``found`` is False when the directory had nobody with that e-mail: the organisation file stands.
    ``roles`` are the roles their (transitive) group memberships grant through ``microsoft365.group_roles``.
    """

    __tablename__ = "directory_people"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    person_id: Mapped[str | None] = mapped_column(String(64), index=True)
    found: Mapped[bool] = mapped_column(Boolean)
    entra_id: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(256))
    department: Mapped[str | None] = mapped_column(String(256))
    manager_email: Mapped[str | None] = mapped_column(String(320))
    roles: Mapped[list[str]] = mapped_column(JSON)
    fetched_at: Mapped[datetime] = mapped_column(UtcDateTime())


class DirectoryConflict(Base):
    """A disagreement between the organisation file and the directory, recorded once while it lasts."""

    __tablename__ = "directory_conflicts"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    person: Mapped[str] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class DirectorySync(Base):
    """The state of the directory cache: when it was last refreshed, and the last failure."""

    __tablename__ = "directory_sync"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    synced_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    attempted_at: Mapped[datetime] = mapped_column(UtcDateTime())
    failures: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
