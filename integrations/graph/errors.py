"""Graph failures in the outbox's terms: wait and retry, or give up for good."""

from __future__ import annotations

from integrations.graph.client import (
    GraphAuthError,
    GraphError,
    GraphNotFound,
    GraphRefused,
    GraphThrottled,
    GraphUnavailable,
)
from storage.outbox import RetryLater, Undeliverable


def for_outbox(error: GraphError) -> RetryLater | Undeliverable:
    """A 429 or a refused sign-in proves nothing was done; a 5xx, a timeout or a dropped connection
    may have been acted on (``maybe_delivered``), so the next attempt looks before it sends again."""
    if isinstance(error, GraphThrottled):
        return RetryLater(str(error), error.retry_after, maybe_delivered=False)
    if isinstance(error, GraphUnavailable):
        return RetryLater(str(error), error.retry_after, maybe_delivered=error.maybe_acted)
    if isinstance(error, GraphAuthError):
        return RetryLater(f"Microsoft 365 sign-in refused: {error}", maybe_delivered=False)
    if isinstance(error, GraphNotFound | GraphRefused):
        return Undeliverable(str(error))
    return RetryLater(str(error))
