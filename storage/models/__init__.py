"""All tables. Importing this package registers every model on ``Base.metadata`` for Alembic."""

from storage.models.audits import Audit, Finding
from storage.models.awareness import Campaign, CampaignAssignment, Policy, PolicyVersion
from storage.models.base import Base
from storage.models.changes import Change, LocalTicket, TrackerWatermark
from storage.models.counters import Counter
from storage.models.deliveries import Delivery
from storage.models.directory import DirectoryConflict, DirectoryPerson, DirectorySync
from storage.models.evidence import ActivitySchedule, EvidenceFile, EvidenceRequest, EvidenceSubmission
from storage.models.improvement import Improvement
from storage.models.incident_rooms import IncidentRoom
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
from storage.models.registers import RegisterItem
from storage.models.reviews import Review, ReviewAction
from storage.models.scheduler import SchedulerLease

__all__ = [
    "ActivitySchedule",
    "Audit",
    "Base",
    "Campaign",
    "CampaignAssignment",
    "Change",
    "Counter",
    "Delivery",
    "DirectoryConflict",
    "DirectoryPerson",
    "DirectorySync",
    "EvidenceFile",
    "EvidenceRequest",
    "EvidenceSubmission",
    "Finding",
    "Improvement",
    "Incident",
    "IncidentChange",
    "IncidentClock",
    "IncidentEntry",
    "IncidentRoom",
    "IncidentTimer",
    "IntakeRequest",
    "LocalTicket",
    "OutboxEffect",
    "PeriodicRun",
    "PersonTimezone",
    "Policy",
    "PolicyVersion",
    "Record",
    "Refusal",
    "RegisterItem",
    "Review",
    "ReviewAction",
    "SchedulerLease",
    "TrackerWatermark",
]
