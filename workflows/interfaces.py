"""Process interfaces (PRM.md "→ X") as events between workflows, inside the same transaction.

A process that produces a result for another process publishes it here; the receiving process
subscribes a handler. Because both run in the caller's unit of work, the result and its effect on
the receiving process are stored together or not at all. Handlers are registered at import time by
the receiving workflow module (see ``subscribe``), so the sender never imports the receiver.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workflows.context import Work


@dataclass(frozen=True)
class Interface:
    """One result travelling from one process to another, e.g. CHG -> INC "change finished"."""

    source: str
    target: str
    name: str
    subject_ref: str
    data: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Work, Interface], None]
_handlers: dict[tuple[str, str], list[Handler]] = defaultdict(list)


def subscribe(target: str, name: str, handler: Handler) -> None:
    if handler not in _handlers[(target, name)]:
        _handlers[(target, name)].append(handler)


def publish(work: Work, event: Interface) -> int:
    """Deliver to the target's handlers in this transaction; returns how many handled it.

    The hand-over itself is recorded under the source process so an auditor can follow the edge.
    """
    work.record(
        event.source,
        f"sent-to-{event.target}",
        ("interface", event.subject_ref),
        {"interface": event.name, **event.data},
    )
    handlers = _handlers.get((event.target, event.name), [])
    for handler in handlers:
        handler(work, event)
    return len(handlers)
