"""All tables. Importing this package registers every model on ``Base.metadata`` for Alembic."""

from storage.models.base import Base
from storage.models.changes import Change, LocalTicket, TrackerWatermark
from storage.models.counters import Counter
from storage.models.deliveries import Delivery
from storage.models.directory import DirectoryConflict, DirectoryPerson, DirectorySync
from storage.models.evidence import ActivitySchedule, EvidenceFile, EvidenceRequest, EvidenceSubmission
from storage.models.incidents import (
    Incident,
    IncidentChange,
    IncidentClock,
    IncidentEntry,
    IncidentTimer,
)
from storage.models.intake import IntakeRequest
from storage.models.outbox import OutboxEffect
from storage.models.people import PersonTimezone
from storage.models.periodic import PeriodicRun
from storage.models.records import Record
from storage.models.refusals import Refusal
from storage.models.scheduler import SchedulerLease

__all__ = [
    "ActivitySchedule",
    "Base",
    "Change",
    "Counter",
    "Delivery",
    "DirectoryConflict",
    "DirectoryPerson",
    "DirectorySync",
    "EvidenceFile",
    "EvidenceRequest",
    "EvidenceSubmission",
    "Incident",
    "IncidentChange",
    "IncidentClock",
    "IncidentEntry",
    "IncidentTimer",
    "IntakeRequest",
    "LocalTicket",
    "OutboxEffect",
    "PeriodicRun",
    "PersonTimezone",
    "Record",
    "Refusal",
    "SchedulerLease",
    "TrackerWatermark",
]
