"""All tables. Importing this package registers every model on ``Base.metadata`` for Alembic."""

from storage.models.base import Base
from storage.models.changes import Change, ChangeCounter, LocalTicket, TrackerWatermark
from storage.models.deliveries import Delivery
from storage.models.evidence import (
    ActivitySchedule, EvidenceFile, EvidenceRequest, EvidenceSubmission, PersonTimezone, SchedulerLease,
)
from storage.models.incidents import (
    Incident, IncidentChange, IncidentClock, IncidentCounter, IncidentEntry, IncidentTimer,
)
from storage.models.outbox import OutboxEffect
from storage.models.records import Record

__all__ = ["Base", "Change", "ChangeCounter", "LocalTicket", "TrackerWatermark", "Delivery", "OutboxEffect", "Record",
           "Incident", "IncidentChange", "IncidentClock", "IncidentCounter", "IncidentEntry", "IncidentTimer",
           "ActivitySchedule", "EvidenceFile", "EvidenceRequest", "EvidenceSubmission", "PersonTimezone", "SchedulerLease"]
