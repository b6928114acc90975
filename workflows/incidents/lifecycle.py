"""An incident's states, the moves between them, and who takes the steps: what ``run_step`` checks.

A report starts ``new``; triage decides it is an ``incident`` or ``not_incident`` (and may change its
mind either way while it is open); only an incident is ``closed``, and a closed one stays closed.
The reporter may withdraw a report while nobody has triaged it (``withdrawn`` is final).
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.organisation import Role
from storage.db import is_postgresql
from storage.models.incidents import Incident
from workflows.kernel.steps import Items, Lifecycle


class IncidentStatus(StrEnum):
    NEW = "new"
    INCIDENT = "incident"
    NOT_INCIDENT = "not_incident"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"

    @property
    def spoken(self) -> str:
        """As a sentence says it: "INC-2026-0001 is not incident"."""
        return self.value.replace("_", " ")


OPEN = frozenset({IncidentStatus.NEW, IncidentStatus.INCIDENT})
"""Triage still works on it: severity, handler, escalation, the reporter's details."""

LIFECYCLE = Lifecycle[IncidentStatus](
    {
        IncidentStatus.NEW: frozenset({IncidentStatus.INCIDENT, IncidentStatus.NOT_INCIDENT, IncidentStatus.WITHDRAWN}),
        IncidentStatus.INCIDENT: frozenset({IncidentStatus.NOT_INCIDENT, IncidentStatus.CLOSED}),
        IncidentStatus.NOT_INCIDENT: frozenset({IncidentStatus.INCIDENT}),
    }
)

TRIAGE_ROLES = frozenset({Role.SECURITY_TEAM, Role.SECURITY_LEAD, Role.ISMS_MANAGER})
"""Who triages and works incidents; a handler must hold one of these roles."""
NOTIFIER_ROLES = TRIAGE_ROLES | {Role.DPO}
"""Who records a notification to an authority."""
VIEWER_ROLES = TRIAGE_ROLES | {Role.AUDITOR, Role.DPO}
"""Who sees every incident, not only their own reports."""
ESCALATION_ROLES = (Role.SECURITY_LEAD, Role.ISMS_MANAGER)
"""Who hears of an escalation, a missed target or a P1 (when no emergency contacts are named)."""


def status_of(incident: Incident) -> IncidentStatus:
    return IncidentStatus(incident.status)


def _load(session: Session, ref: str, lock: bool) -> Incident | None:
    query = select(Incident).where(Incident.ref == ref.strip())
    if lock and is_postgresql(session):
        query = query.with_for_update()
    return session.scalar(query)


def _not_now(session: Session, incident: Incident) -> str:
    return f"{incident.ref} is {status_of(incident).spoken}; this is no longer possible."


INCIDENTS = Items[Incident](
    kind="incident",
    process="INC",
    load=_load,
    lifecycle=LIFECYCLE,
    state_field="status",
    missing=lambda ref: f"There is no incident {ref}.",
    not_now=_not_now,
)
