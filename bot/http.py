"""The HTTP surface: Slack events, the Jira webhook, health, metrics.

A small WSGI router in front of the endpoints, served by waitress, a production WSGI server
(Bolt's own ``app.start()`` is a single-threaded development server). Every route's body is capped
at ``MAX_BODY`` here, before any endpoint reads it (waitress is told the same limit, so it refuses a
larger body before buffering it).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from storage.outbox import counts_by_status

log = logging.getLogger(__name__)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
MAX_BODY = 1_000_000  # bytes; Slack sends at most a few hundred KB, Jira's issue events less


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


class RefusalLog:
    """One warning for the first refused request, then at most one a minute with the count since."""

    def __init__(self, what: str, every: float = 60.0):
        self._what = what
        self._every = every
        self._lock = threading.Lock()
        self._count = 0
        self._last = -every

    def refused(self) -> None:
        with self._lock:
            self._count += 1
            now = time.monotonic()
            if now - self._last < self._every:
                return
            count, self._count, self._last = self._count, 0, now
        log.warning("refused %d %s", count, self._what)


def body_problem(environ: dict[str, Any]) -> tuple[str, str] | None:
    """The status and reason to refuse a request's body with, before anything reads it."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return "400 Bad Request", "bad Content-Length"
    if length < 0:
        return "400 Bad Request", "bad Content-Length"
    if length > MAX_BODY:
        return "413 Content Too Large", f"body over {MAX_BODY} bytes"
    return None


def make_wsgi(
    slack: WsgiApp | None,
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
    if slack is not None:
        routes[("POST", "/slack/events")] = slack
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

        refusal = body_problem(environ)
        result: Iterable[bytes]
        if refusal is not None:
            result = _json(recording_start_response, refusal[0], {"error": refusal[1]})
        elif handler is None:
            result = _json(recording_start_response, "404 Not Found", {"error": "not found"})
        else:
            result = handler(environ, recording_start_response)
        requests_total.labels(route[1] if handler else "unknown", status_seen[0] if status_seen else "?").inc()
        return result

    return application
