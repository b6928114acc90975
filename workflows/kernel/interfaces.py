"""Process interfaces (PRM.md "→ X") as events between workflows, inside the same transaction.

A process that produces a result for another process publishes it here; the receiving process names
a handler in its descriptor (``Process.receives``), which the context carries from the registry.
Because both run in the caller's unit of work, the result and its effect on the receiving process
are stored together or not at all. Publishing what nobody receives is an error, not a silent no-op:
a result that goes nowhere is a bug in the process map.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workflows.kernel.work import Work


@dataclass(frozen=True)
class Interface:
    """One result travelling from one process to another, e.g. CHG -> INC "change finished"."""

    source: str
    target: str
    name: str
    subject_ref: str
    data: dict[str, Any] = field(default_factory=dict)


Receiver = Callable[[Work, Interface], None]


class Unreceived(LookupError):
    """An interface was published that no process receives."""


def publish(work: Work, event: Interface) -> None:
    """Deliver to the target process's receiver in this transaction.

    The hand-over itself is recorded under the source process so an auditor can follow the edge.
    """
    receiver = next(
        (p.receives[event.name] for p in work.ctx.processes if p.id == event.target and event.name in p.receives),
        None,
    )
    if receiver is None:
        raise Unreceived(f"{event.source} published {event.name!r} to {event.target}, which receives no such thing")
    work.record(
        event.source,
        f"sent-to-{event.target}",
        ("interface", event.subject_ref),
        {"interface": event.name, **event.data},
    )
    receiver(work, event)
