"""The one list of process packages the bot runs. A new process is a new package with a
``process.py`` descriptor, and one line here (see workflows/README.md)."""

from __future__ import annotations

from workflows.changes.process import PROCESS as CHANGES
from workflows.common.process import PROCESS as COMMON
from workflows.communication.process import PROCESS as COMMUNICATION
from workflows.directory.process import PROCESS as DIRECTORY
from workflows.evidence.process import PROCESS as EVIDENCE
from workflows.incidents.process import PROCESS as INCIDENTS
from workflows.kernel.process import Process
from workflows.performance.process import PROCESS as PERFORMANCE
from workflows.records.process import PROCESS as RECORDS
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
    REVIEW,
)
