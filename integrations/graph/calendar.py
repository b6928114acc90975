"""The outbox sender of ``calendar.event``: create, move and cancel Outlook events on the organiser's
calendar. A create carries a ``transactionId`` derived from the outbox key, so Graph answers a retried
create with the event it already made; a move PATCHes that event; a cancel cancels it (attendees get
the cancellation), and a cancel of an event already gone counts as done."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from integrations.graph.client import GraphClient, GraphError, GraphNotFound
from integrations.graph.errors import for_outbox
from storage.outbox import Effect, RetryLater, Undeliverable

NAMESPACE = uuid.UUID("0b6c3f7e-2d41-4e6a-9d55-8a1f3c2b7e90")


def transaction_id(key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, key))


def _graph_time(text: str) -> dict[str, str]:
    moment = datetime.fromisoformat(text).astimezone(UTC)
    return {"dateTime": moment.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


class GraphCalendarSender:
    def __init__(self, client: GraphClient, organiser: str):
        self._client = client
        self._organiser = organiser

    def __call__(self, effect: Effect) -> dict[str, Any]:
        payload = effect.payload
        try:
            if payload["action"] == "create":
                return self._create(effect.key, payload)
            event_id = self._event_id(effect, payload["event"])
            if payload["action"] == "update":
                try:
                    self._client.request(
                        "PATCH",
                        f"/users/{self._organiser}/events/{event_id}",
                        json={"start": _graph_time(payload["start"]), "end": _graph_time(payload["end"])},
                    )
                except GraphNotFound:
                    raise Undeliverable(f"event {payload['event']} is gone (cancelled?)") from None
                return {"event_id": event_id}
            try:
                self._client.request(
                    "POST",
                    f"/users/{self._organiser}/events/{event_id}/cancel",
                    json={"Comment": payload.get("comment") or ""},
                )
            except GraphNotFound:  # cancelled by an earlier attempt whose answer was lost, or by hand
                return {"event_id": event_id, "cancelled": "already"}
            return {"event_id": event_id, "cancelled": "now"}
        except GraphError as error:
            raise for_outbox(error) from None

    def _event_id(self, effect: Effect, key: str) -> str:
        created = effect.result_of(key)
        if not created or "event_id" not in created:
            raise RetryLater(f"event {key} is not created yet", maybe_delivered=False)
        return str(created["event_id"])

    def _create(self, key: str, payload: dict[str, Any] | Any) -> dict[str, Any]:
        body = {
            "subject": payload["subject"],
            "body": {"contentType": "text", "content": payload.get("body") or ""},
            "start": _graph_time(payload["start"]),
            "end": _graph_time(payload["end"]),
            "attendees": [
                {"emailAddress": {"address": address}, "type": "required"} for address in payload["attendees"]
            ],
            "transactionId": transaction_id(key),
        }
        if payload.get("location"):
            body["location"] = {"displayName": payload["location"]}
        answer = self._client.request("POST", f"/users/{self._organiser}/calendar/events", json=body).json()
        return {"event_id": str(answer["id"])}
