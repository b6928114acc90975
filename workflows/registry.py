"""The one list of process packages the bot runs. A new process is a new package with a
``process.py`` descriptor, and one line here (see workflows/README.md)."""

from __future__ import annotations

from workflows.audits.process import PROCESS as AUDITS
from workflows.awareness.process import PROCESS as AWARENESS
from workflows.changes.process import PROCESS as CHANGES
from workflows.common.process import PROCESS as COMMON
from workflows.communication.process import PROCESS as COMMUNICATION
from workflows.directory.process import PROCESS as DIRECTORY
from workflows.evidence.process import PROCESS as EVIDENCE
from workflows.improvement.process import PROCESS as IMPROVEMENT
from workflows.incidents.process import PROCESS as INCIDENTS
from workflows.kernel.process import Process
from workflows.performance.process import PROCESS as PERFORMANCE
from workflows.policies.process import PROCESS as POLICIES
from workflows.records.process import PROCESS as RECORDS
from workflows.registers.process import ASSESSMENT as RISK_ASSESSMENT
from workflows.registers.process import PROCESS as REGISTERS
from workflows.review.process import PROCESS as REVIEW

PROCESSES: tuple[Process, ...] = (
    COMMON,
    INCIDENTS,
    CHANGES,
    EVIDENCE,
    RECORDS,
    COMMUNICATION,
    PERFORMANCE,
    DIRECTORY,
    AUDITS,
    IMPROVEMENT,
    AWARENESS,
    POLICIES,
    RISK_ASSESSMENT,
    REGISTERS,
    REVIEW,
)
