"""The HTTP surface: Slack events, health, metrics (and webhooks added by integrations).

A small WSGI router in front of Bolt's WSGI adapter, served by waitress, a production WSGI server
(Bolt's own ``app.start()`` is a single-threaded development server).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from storage.outbox import counts_by_status

log = logging.getLogger(__name__)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class OutboxCollector:
    """Outbox depth by status, read at scrape time (a dead letter should page somebody)."""

    def __init__(self, sessions: sessionmaker[Session]):
        self._sessions = sessions

    def collect(self):  # type: ignore[no-untyped-def]
        gauge = GaugeMetricFamily("isms_outbox_effects", "Outbox effects by status", labels=["status"])
        with self._sessions() as session:
            counts = counts_by_status(session)
        for status in ("pending", "sending", "sent", "dead"):
            gauge.add_metric([status], counts.get(status, 0))
        yield gauge


def _json(start_response: Callable[..., Any], status: str, body: Mapping[str, Any]) -> list[bytes]:
    payload = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]


def make_wsgi(
    bolt_app: App | None,
    engine: Engine,
    sessions: sessionmaker[Session],
    extra_routes: Mapping[tuple[str, str], WsgiApp] | None = None,
) -> WsgiApp:
    """Route by method and path; anything unknown is a 404, never a listener."""
    registry = CollectorRegistry()
    registry.register(OutboxCollector(sessions))
    requests_total = Counter(
        "isms_http_requests", "HTTP requests by route and status", ["route", "status"], registry=registry
    )
    metrics_app = make_wsgi_app(registry)
    routes: dict[tuple[str, str], WsgiApp] = {("GET", "/metrics"): metrics_app}
    if bolt_app is not None:
        routes[("POST", "/slack/events")] = SlackRequestHandler(bolt_app)
    routes.update(extra_routes or {})

    def health(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as error:
            log.warning("health check: database unreachable: %s", type(error).__name__)
            return _json(start_response, "503 Service Unavailable", {"status": "unhealthy", "database": "unreachable"})
        return _json(start_response, "200 OK", {"status": "ok", "database": "ok"})

    routes[("GET", "/healthz")] = health

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        route = (environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/"))
        handler = routes.get(route)
        status_seen: list[str] = []

        def recording_start_response(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            status_seen.append(status.split(" ", 1)[0])
            return start_response(status, headers, *rest)

        if handler is None:
            result = _json(recording_start_response, "404 Not Found", {"error": "not found"})
        else:
            result = handler(environ, recording_start_response)
        requests_total.labels(route[1] if handler else "unknown", status_seen[0] if status_seen else "?").inc()
        return result

    return application
