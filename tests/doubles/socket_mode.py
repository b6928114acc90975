"""A Socket Mode double: the WebSocket end of Slack that a Socket Mode app connects to.

It speaks Slack's envelope protocol: on connect it sends ``hello``; each request (slash command,
interaction, event) is an envelope with an ``envelope_id`` that the app must acknowledge by sending
back ``{"envelope_id": ...}`` (with an optional ``payload``) within 3 seconds.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve


class SocketModeDouble:
    """Accepts one app connection at a time; tests push envelopes and wait for acknowledgements."""

    def __init__(self) -> None:
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._connection: ServerConnection | None = None
        self._cond = threading.Condition()
        self.acks: dict[str, dict[str, Any]] = {}

    def start(self) -> SocketModeDouble:
        self._server = serve(self._serve, "127.0.0.1", 0)
        self._thread = threading.Thread(target=self._server.serve_forever, name="socket-mode-double", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def __enter__(self) -> SocketModeDouble:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}/link/?ticket={uuid.uuid4().hex}"

    def _serve(self, connection: ServerConnection) -> None:
        connection.send(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "connection_info": {"app_id": "A000TEST"},
                    "debug_info": {"host": "double", "approximate_connection_time": 3600},
                }
            )
        )
        with self._cond:
            self._connection = connection
            self._cond.notify_all()
        try:
            for raw in connection:
                message = json.loads(raw)
                if "envelope_id" in message:
                    with self._cond:
                        self.acks[message["envelope_id"]] = message
                        self._cond.notify_all()
        except ConnectionClosed:
            pass

    def wait_connected(self, timeout: float = 10.0) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: self._connection is not None, timeout):
                raise AssertionError("no Socket Mode client connected")

    def send(self, kind: str, payload: dict[str, Any]) -> str:
        """Push one envelope (``slash_commands``, ``interactive`` or ``events_api``); returns its id."""
        envelope_id = str(uuid.uuid4())
        self.wait_connected()
        assert self._connection is not None
        self._connection.send(
            json.dumps(
                {
                    "envelope_id": envelope_id,
                    "type": kind,
                    "payload": payload,
                    "accepts_response_payload": kind != "events_api",
                    "retry_attempt": 0,
                    "retry_reason": "",
                }
            )
        )
        return envelope_id

    def wait_ack(self, envelope_id: str, timeout: float = 3.0) -> dict[str, Any]:
        """The app's acknowledgement; Slack's deadline is 3 seconds, so that is the default wait."""
        with self._cond:
            if not self._cond.wait_for(lambda: envelope_id in self.acks, timeout):
                raise AssertionError(f"envelope {envelope_id} was not acknowledged within {timeout} s")
            return self.acks[envelope_id]
