"""A local HTTP double of the Jira REST API v2, driven through the real ``jira.JIRA`` client.

Mocking ``jira.JIRA`` method by method would only test our assumptions about the client. This
double instead answers on a real socket, so contract and end-to-end tests exercise the client's
actual wire behaviour: which endpoints it calls, how it pages searches (``startAt`` on Server,
``nextPageToken`` on Cloud), how it turns error bodies into ``JIRAError`` and when it retries.
It also lets tests inject the failures a production Jira produces (outages, rate limits,
responses that arrive after the client gave up, eventually consistent search) and change issues
"from Jira's side" as a human in the Jira UI would.

Only what the ISMS bot needs is modelled: one project, a small workflow and a JQL subset. Anything
outside that answers with Jira's error JSON rather than a guess, so a test that strays from the
supported surface fails loudly instead of passing against fiction.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

JsonDict = dict[str, Any]

_API_PREFIX = re.compile(r"^/rest/api/(?:2|latest)(?P<rest>/.*)$")
_CUSTOM_FIELD = re.compile(r"^customfield_\d+$")
# System fields the double stores verbatim on create and edit without further validation.
_PASSTHROUGH_FIELDS = frozenset({"assignee", "duedate", "environment", "reporter"})
_PRIORITIES = {"1": "Highest", "2": "High", "3": "Medium", "4": "Low", "5": "Lowest"}
_DEFAULT_PRIORITY = "Medium"
_RESOLUTIONS = {"10000": "Done", "10001": "Won't Do", "10002": "Duplicate"}
_UNAUTHENTICATED = "You are not authenticated. Authentication required to perform this operation."
_BOT_DISPLAY_NAME = "ISMS Bot"


def format_jira_timestamp(moment: datetime) -> str:
    """Render ``moment`` the way Jira renders ``created``/``updated`` (``2026-11-23T10:00:00.000+0000``).

    Exposed so tests can build expected values in exactly the format the bot has to parse.
    """
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Transition:
    """One workflow transition, offered while an issue is in one of ``from_statuses``."""

    id: str
    name: str
    to_status: str
    from_statuses: frozenset[str]


DEFAULT_WORKFLOW: tuple[Transition, ...] = (
    Transition("11", "Start Progress", "In Progress", frozenset({"To Do"})),
    Transition("21", "Done", "Done", frozenset({"In Progress"})),
)


@dataclass(frozen=True)
class RecordedRequest:
    """A request as the double received it, so tests can assert on the client's wire behaviour.

    ``at`` is ``time.monotonic()`` because tests use it to measure gaps between retries.
    Header names are lower-cased so lookups do not depend on how the client spelled them.
    ``body`` is the parsed JSON, the raw text when the body is not JSON, or ``None`` when empty.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    at: float


class _JiraError(Exception):
    """Raised inside request handlers; becomes a response with Jira's error JSON."""

    def __init__(
        self,
        status: int,
        messages: Sequence[str] = (),
        errors: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status, messages, errors)
        self.response = _Response(
            status,
            {"errorMessages": list(messages), "errors": dict(errors or {})},
            dict(headers or {}),
        )


@dataclass
class _Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: Any

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def json_object(self) -> JsonDict:
        """Return the body as a JSON object or fail the way Jira does for unparseable bodies."""
        if not isinstance(self.body, dict):
            raise _JiraError(400, ["Can not deserialize the request body: expected a JSON object."])
        return self.body


@dataclass
class _FailureRule:
    path_substring: str
    method: str | None
    status: int
    remaining: int
    retry_after: int | None


@dataclass
class _StoredIssue:
    id: str
    key: str
    fields: JsonDict
    status: str
    resolution: str | None
    resolution_date: datetime | None
    created: datetime
    updated: datetime
    visible_to_search_from: float
    comments: list[JsonDict] = field(default_factory=list)
    properties: JsonDict = field(default_factory=dict)
    # What the most recent change was, for webhook_payload(): event type name, acting user,
    # changelog items and/or the added comment.
    last_change: JsonDict = field(default_factory=dict)


@dataclass(frozen=True)
class _JqlQuery:
    predicates: tuple[Callable[[_StoredIssue], bool], ...]
    order_field: str | None
    descending: bool


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Callable[..., _Response]
    authenticated: bool = True


class _Server(ThreadingHTTPServer):
    """Carries the double so the per-request handler can reach it."""

    daemon_threads = True

    def __init__(self, double: JiraDouble) -> None:
        self.double = double
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        response = self.server.double._handle(self.command, self.path, dict(self.headers.items()), raw)
        payload = b"" if response.body is None else json.dumps(response.body).encode()
        try:
            self.send_response(response.status)
            if response.body is not None:
                self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            # The client stopped waiting (delay_after_create): exactly the situation being simulated.
            pass

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean; ``JiraDouble.requests`` is the log that matters."""


class JiraDouble:
    """An in-process Jira REST API v2 server for one project.

    Credentials: Basic ``email:api_token`` (Cloud style; Server accepts username:password the same
    way) or ``Bearer <pat>`` (Server/Data Center personal access token). ``serverInfo`` is
    anonymous, as in Jira, so ``jira.JIRA(...)`` constructs fine with wrong credentials and the
    401 only surfaces on the first authenticated call.

    Times are UTC, including JQL date literals (real Jira reads them in the user's time zone).
    """

    def __init__(
        self,
        deployment: str = "Server",
        project_key: str = "ISMS",
        *,
        email: str = "isms-bot@example.com",
        api_token: str = "api-token",
        pat: str | None = "personal-access-token",
        issue_types: Sequence[str] = ("Task",),
        workflow: Sequence[Transition] = DEFAULT_WORKFLOW,
        initial_status: str = "To Do",
        done_statuses: Collection[str] = ("Done",),
        custom_fields: Mapping[str, str] | None = None,
        max_results_limit: int = 100,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        """Configure the fake instance.

        ``custom_fields`` maps ``customfield_NNNNN`` ids to display names for ``GET /field``; any
        ``customfield_N`` value is stored on create/edit either way. ``max_results_limit`` caps
        page sizes like Jira's server-side limit does, which is how tests force the client to page.
        ``clock`` stamps ``created``/``updated`` so tests can pin timestamps used in JQL.
        """
        if deployment not in ("Server", "Cloud"):
            raise ValueError(f"deployment must be 'Server' or 'Cloud', not {deployment!r}")
        self.deployment = deployment
        self.project_key = project_key
        self.project_id = "10000"
        self._email = email
        self._api_token = api_token
        self._pat = pat
        self._issue_types = {str(10001 + index): name for index, name in enumerate(issue_types)}
        self._workflow = tuple(workflow)
        self._initial_status = initial_status
        self._done_statuses = frozenset(done_statuses)
        self._custom_fields = dict(custom_fields or {})
        self._max_results_limit = max_results_limit
        self._clock = clock
        self._resolutions = dict(_RESOLUTIONS)

        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._base_url: str | None = None
        self._thread: threading.Thread | None = None
        self._issues: dict[str, _StoredIssue] = {}
        self._requests: list[RecordedRequest] = []
        self._failures: list[_FailureRule] = []
        self._outage_status: int | None = None
        self._create_delays: list[float] = []
        self._search_lag_seconds = 0.0
        self._page_tokens: dict[str, tuple[str, int]] = {}
        self._ids = itertools.count(10001)
        self._status_ids: dict[str, str] = {}
        for name in (initial_status, *(t.to_status for t in self._workflow)):
            self._status_id(name)
        self._routes = self._build_routes()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> JiraDouble:
        """Bind an ephemeral port on 127.0.0.1 and serve from a daemon thread."""
        if self._server is not None:
            raise RuntimeError("JiraDouble is already running")
        self._stopping.clear()
        self._server = _Server(self)
        self._base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        # A short poll interval keeps stop() (and so every test teardown) from waiting half a second.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="jira-double", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; interrupts handlers that are sleeping in ``delay_after_create``."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> JiraDouble:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL to hand to ``jira.JIRA(server=...)``; kept after stop() so snapshots still render."""
        if self._base_url is None:
            raise RuntimeError("JiraDouble was never started; call start() or use it as a context manager")
        return self._base_url

    # ------------------------------------------------------------------ test controls

    @property
    def issues(self) -> dict[str, JsonDict]:
        """Snapshot of every issue, keyed by issue key, as ``GET /issue/{key}`` would return it."""
        with self._lock:
            return {key: self._issue_json(issue) for key, issue in self._issues.items()}

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order (including injected failures)."""
        with self._lock:
            return list(self._requests)

    def fail_next(
        self,
        path_substring: str,
        status: int = 503,
        times: int = 1,
        retry_after: int | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests whose path contains ``path_substring`` with ``status``.

        Applies before authentication, like a proxy or rate limiter in front of Jira.
        ``retry_after`` adds a ``Retry-After`` header, which is what makes the jira client retry a 503.
        """
        with self._lock:
            self._failures.append(
                _FailureRule(path_substring, method.upper() if method else None, status, times, retry_after)
            )

    def outage(self, status: int = 503) -> None:
        """Fail every authenticated call with ``status`` until ``recover()``; serverInfo stays up."""
        with self._lock:
            self._outage_status = status

    def recover(self) -> None:
        """End an ``outage()``."""
        with self._lock:
            self._outage_status = None

    def delay_after_create(self, seconds: float, times: int = 1) -> None:
        """For the next ``times`` creates: store the issue, then wait ``seconds`` before answering.

        Models "Jira created the issue but the response came too late": the client times out
        although the issue exists, which is what an idempotent create path must survive.
        """
        with self._lock:
            self._create_delays.extend([seconds] * times)

    def search_lag(self, seconds: float) -> None:
        """Hide issues created from now on from JQL search for ``seconds`` (Cloud's index lag)."""
        with self._lock:
            self._search_lag_seconds = seconds

    def set_status(
        self, key: str, status_name: str, resolution: str | None = None, *, author: str = "Jira Administrator"
    ) -> None:
        """Move an issue to any status as a Jira user or automation would, bypassing the workflow.

        ``resolution`` is set exactly as given (``None`` clears it), so tests can also build the
        inconsistent states real Jira instances contain, e.g. "Done" without a resolution.
        ``author`` becomes the webhook's ``user``, which is how the bot tells others' changes from its own.
        """
        with self._lock:
            issue = self._issue(key)
            self._status_id(status_name)
            if resolution is not None and resolution not in self._resolutions.values():
                self._resolutions[str(10000 + len(self._resolutions))] = resolution
            self._apply_status(issue, status_name, resolution, self._user_json(author))

    def add_comment(self, key: str, body: str, author: str) -> JsonDict:
        """Add a comment written by ``author`` (a display name) in Jira; returns the comment JSON."""
        with self._lock:
            return self._add_comment(self._issue(key), body, self._user_json(author))

    def webhook_payload(self, key: str, event: str = "jira:issue_updated") -> JsonDict:
        """Build the JSON Jira would POST to a webhook for ``key``'s most recent change.

        Carries ``changelog.items`` for field changes (status/resolution/labels...) and ``comment``
        for comments, alongside the issue's current fields, as Jira's issue webhooks do.
        """
        with self._lock:
            issue = self._issue(key)
            change = issue.last_change
            payload: JsonDict = {
                "timestamp": _millis(self._clock()),
                "webhookEvent": event,
                "issue_event_type_name": change["issue_event_type_name"],
                "user": change["user"],
                "issue": self._issue_json(issue),
            }
            if change.get("items"):
                payload["changelog"] = {"id": change["changelog_id"], "items": copy.deepcopy(change["items"])}
            if "comment" in change:
                payload["comment"] = copy.deepcopy(change["comment"])
            return payload

    # ------------------------------------------------------------------ request pipeline

    def _handle(self, method: str, target: str, headers: dict[str, str], raw_body: bytes) -> _Response:
        """Record, inject faults, authenticate and route one request; sleeps outside the lock."""
        split = urlsplit(target)
        body = _decode_body(raw_body)
        lowered = {name.lower(): value for name, value in headers.items()}
        request = _Request(method, split.path, parse_qs(split.query, keep_blank_values=True), lowered, body)
        with self._lock:
            self._requests.append(RecordedRequest(method, split.path, request.query, lowered, body, time.monotonic()))
            try:
                response = self._route(request)
            except _JiraError as error:
                response = error.response
            except Exception as error:  # a bug in the double: answer like Jira's 500 instead of dropping the socket
                response = _JiraError(500, [f"Jira double internal error: {error!r}"]).response
        if response.delay_seconds:
            self._stopping.wait(response.delay_seconds)
        return response

    def _route(self, request: _Request) -> _Response:
        self._inject_failure(request)
        match = _API_PREFIX.match(request.path)
        if match is None:
            raise _JiraError(404, [f"null for uri: {self.url}{request.path}"])
        rest = match["rest"]
        for route in self._routes:
            params = route.pattern.fullmatch(rest)
            if params is None or route.method != request.method:
                continue
            if route.authenticated:
                if self._outage_status is not None:
                    raise _JiraError(self._outage_status, [HTTPStatus(self._outage_status).phrase])
                self._authenticate(request.headers)
            return route.handler(request, **params.groupdict())
        raise _JiraError(404, [f"null for uri: {self.url}{request.path}"])

    def _inject_failure(self, request: _Request) -> None:
        for rule in self._failures:
            if rule.path_substring in request.path and rule.method in (None, request.method):
                rule.remaining -= 1
                if rule.remaining == 0:
                    self._failures.remove(rule)
                headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else None
                raise _JiraError(rule.status, [HTTPStatus(rule.status).phrase], headers=headers)

    def _authenticate(self, headers: Mapping[str, str]) -> None:
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            expected = base64.b64encode(f"{self._email}:{self._api_token}".encode()).decode()
            if credentials == expected:
                return
        elif scheme.lower() == "bearer" and self._pat is not None and credentials == self._pat:
            return
        raise _JiraError(401, [_UNAUTHENTICATED], headers={"X-Seraph-LoginReason": "AUTHENTICATED_FAILED"})

    def _build_routes(self) -> tuple[_Route, ...]:
        def route(method: str, pattern: str, handler: Callable[..., _Response], authenticated: bool = True) -> _Route:
            return _Route(method, re.compile(pattern), handler, authenticated)

        issue = r"/issue/(?P<key>[^/]+)"
        return (
            route("GET", r"/serverInfo", self._get_server_info, authenticated=False),
            route("GET", r"/myself", self._get_myself),
            route("GET", r"/project/(?P<project>[^/]+)", self._get_project),
            route("GET", r"/issuetype", self._get_issue_types),
            route("GET", r"/field", self._get_fields),
            route("GET", r"/issue/createmeta/(?P<project>[^/]+)/issuetypes", self._get_createmeta_issue_types),
            route(
                "GET",
                r"/issue/createmeta/(?P<project>[^/]+)/issuetypes/(?P<type_id>[^/]+)",
                self._get_createmeta_fields,
            ),
            route("POST", r"/issue", self._create_issue),
            route("GET", issue, self._get_issue),
            route("PUT", issue, self._edit_issue),
            route("GET", issue + r"/transitions", self._get_transitions),
            route("POST", issue + r"/transitions", self._do_transition),
            route("GET", issue + r"/comment", self._get_comments),
            route("POST", issue + r"/comment", self._post_comment),
            route("GET", issue + r"/properties", self._get_property_keys),
            route("GET", issue + r"/properties/(?P<prop>[^/]+)", self._get_property),
            route("PUT", issue + r"/properties/(?P<prop>[^/]+)", self._put_property),
            route("GET", r"/search", self._search_server),
            route("POST", r"/search", self._search_server),
            route("GET", r"/search/jql", self._search_cloud),
            route("POST", r"/search/jql", self._search_cloud),
        )

    # ------------------------------------------------------------------ metadata endpoints

    def _get_server_info(self, request: _Request) -> _Response:
        cloud = self.deployment == "Cloud"
        version = [1001, 0, 0] if cloud else [9, 12, 15]
        return _Response(
            200,
            {
                "baseUrl": self.url,
                "version": ".".join(map(str, version)) + ("-SNAPSHOT" if cloud else ""),
                "versionNumbers": version,
                "deploymentType": self.deployment,
                "buildNumber": 100000 if cloud else 9120015,
                "serverTime": format_jira_timestamp(self._clock()),
                "serverTitle": "Jira",
            },
        )

    def _get_myself(self, request: _Request) -> _Response:
        return _Response(200, self._bot_user())

    def _get_project(self, request: _Request, project: str) -> _Response:
        self._require_project(project)
        body = self._project_json()
        body["issueTypes"] = [self._issue_type_json(type_id) for type_id in self._issue_types]
        return _Response(200, body)

    def _get_issue_types(self, request: _Request) -> _Response:
        return _Response(200, [self._issue_type_json(type_id) for type_id in self._issue_types])

    def _get_fields(self, request: _Request) -> _Response:
        system = {
            "summary": "Summary",
            "description": "Description",
            "issuetype": "Issue Type",
            "project": "Project",
            "labels": "Labels",
            "priority": "Priority",
            "components": "Component/s",
            "status": "Status",
            "resolution": "Resolution",
            "created": "Created",
            "updated": "Updated",
            "comment": "Comment",
        }
        fields = [
            {"id": field_id, "key": field_id, "name": name, "custom": False, "clauseNames": [field_id]}
            for field_id, name in system.items()
        ]
        fields += [
            {
                "id": field_id,
                "key": field_id,
                "name": name,
                "custom": True,
                "clauseNames": [f"cf[{field_id.removeprefix('customfield_')}]", name],
            }
            for field_id, name in self._custom_fields.items()
        ]
        return _Response(200, fields)

    def _get_createmeta_issue_types(self, request: _Request, project: str) -> _Response:
        self._require_project(project)
        values = [self._issue_type_json(type_id) for type_id in self._issue_types]
        return _Response(200, self._page(values, request))

    def _get_createmeta_fields(self, request: _Request, project: str, type_id: str) -> _Response:
        self._require_project(project)
        if type_id not in self._issue_types:
            raise _JiraError(404, [f"Issue type with id '{type_id}' does not exist."])
        values = [
            {"fieldId": "project", "name": "Project", "required": True, "schema": {"type": "project"}},
            {"fieldId": "issuetype", "name": "Issue Type", "required": True, "schema": {"type": "issuetype"}},
            {"fieldId": "summary", "name": "Summary", "required": True, "schema": {"type": "string"}},
            {"fieldId": "description", "name": "Description", "required": False, "schema": {"type": "string"}},
            {"fieldId": "labels", "name": "Labels", "required": False, "schema": {"type": "array", "items": "string"}},
            {"fieldId": "priority", "name": "Priority", "required": False, "schema": {"type": "priority"}},
            {
                "fieldId": "components",
                "name": "Component/s",
                "required": False,
                "schema": {"type": "array", "items": "component"},
            },
        ] + [
            {"fieldId": field_id, "name": name, "required": False, "schema": {"type": "any"}}
            for field_id, name in self._custom_fields.items()
        ]
        return _Response(200, self._page(values, request))

    def _page(self, values: list[JsonDict], request: _Request) -> JsonDict:
        """Server's ``startAt``/``maxResults`` page envelope for the createmeta endpoints."""
        start = int(request.param("startAt") or 0)
        size = min(int(request.param("maxResults") or 50), self._max_results_limit)
        chunk = values[start : start + size]
        return {
            "startAt": start,
            "maxResults": size,
            "total": len(values),
            "isLast": start + len(chunk) >= len(values),
            "values": chunk,
        }

    # ------------------------------------------------------------------ issues

    def _create_issue(self, request: _Request) -> _Response:
        fields = request.json_object().get("fields")
        if not isinstance(fields, dict):
            raise _JiraError(400, ["Issue fields are required."])
        stored, errors = self._validate_fields(fields, creating=True)
        if errors:
            raise _JiraError(400, errors=errors)
        now = self._clock()
        issue_id = str(next(self._ids))
        key = f"{self.project_key}-{len(self._issues) + 1}"
        issue = _StoredIssue(
            id=issue_id,
            key=key,
            fields=stored,
            status=self._initial_status,
            resolution=None,
            resolution_date=None,
            created=now,
            updated=now,
            visible_to_search_from=time.monotonic() + self._search_lag_seconds,
        )
        issue.last_change = {
            "issue_event_type_name": "issue_created",
            "user": self._bot_user(),
        }
        self._issues[key] = issue
        delay = self._create_delays.pop(0) if self._create_delays else 0.0
        return _Response(201, {"id": issue_id, "key": key, "self": self._issue_url(issue)}, delay_seconds=delay)

    def _get_issue(self, request: _Request, key: str) -> _Response:
        issue = self._issue(key)
        return _Response(200, self._issue_json(issue, _field_list(request.query.get("fields"))))

    def _edit_issue(self, request: _Request, key: str) -> _Response:
        issue = self._issue(key)
        body = request.json_object()
        stored, errors = self._validate_fields(body.get("fields") or {}, creating=False)
        new_fields = {**issue.fields, **stored}
        comments: list[str] = []
        for field_id, operations in (body.get("update") or {}).items():
            for operation in operations:
                self._apply_update_operation(field_id, operation, new_fields, comments, errors)
        if errors:
            raise _JiraError(400, errors=errors)
        items = [
            _changelog_item(field_id, issue.fields.get(field_id), value)
            for field_id, value in new_fields.items()
            if issue.fields.get(field_id) != value
        ]
        user = self._bot_user()
        if items:
            issue.fields = new_fields
            self._touch(issue, "issue_updated", user, items)
        for comment in comments:
            self._add_comment(issue, comment, user)
        return _Response(204)

    def _apply_update_operation(
        self,
        field_id: str,
        operation: JsonDict,
        fields: JsonDict,
        comments: list[str],
        errors: dict[str, str],
    ) -> None:
        """Apply one ``update`` verb: labels support add/remove/set, comment supports add."""
        if not isinstance(operation, dict) or len(operation) != 1:
            errors[field_id] = "Each update operation must be an object with exactly one verb."
            return
        verb, value = next(iter(operation.items()))
        if field_id == "labels":
            labels: list[str] = list(fields.get("labels", []))
            if verb == "add" and value not in labels:
                labels.append(value)
            elif verb == "remove" and value in labels:
                labels.remove(value)
            elif verb == "set":
                labels = list(value)
            elif verb not in ("add", "remove"):
                errors["labels"] = f"Operation '{verb}' is not supported for labels."
                return
            label_error = _label_error(labels)
            if label_error:
                errors["labels"] = label_error
            fields["labels"] = labels
        elif field_id == "comment" and verb == "add" and isinstance(value, dict):
            comments.append(str(value.get("body", "")))
        else:
            errors[field_id] = f"Field '{field_id}' cannot be set. It is not on the appropriate screen, or unknown."

    def _validate_fields(self, fields: JsonDict, creating: bool) -> tuple[JsonDict, dict[str, str]]:
        """Check fields the way Jira's create/edit screens do; returns (values to store, errors)."""
        stored: JsonDict = {}
        errors: dict[str, str] = {}
        if creating:
            project = fields.get("project")
            if not project:
                errors["project"] = "project is required"
            elif not isinstance(project, dict) or not (
                project.get("key") == self.project_key or str(project.get("id")) == self.project_id
            ):
                errors["project"] = "valid project is required"
            issuetype = fields.get("issuetype")
            type_name = self._resolve_issue_type(issuetype)
            if not issuetype:
                errors["issuetype"] = "issue type is required"
            elif type_name is None:
                errors["issuetype"] = "valid issue type is required"
            else:
                stored["issuetype"] = type_name
            if "summary" not in fields:
                errors["summary"] = "You must specify a summary of the issue."
            # Defaults Jira fills in when the create screen leaves these out.
            stored.update(priority=_DEFAULT_PRIORITY, labels=[], components=[], description=None)
        for field_id, value in fields.items():
            if creating and field_id in ("project", "issuetype"):
                continue
            error = self._field_error(field_id, value)
            if error:
                errors[field_id] = error
            elif field_id == "priority":
                stored["priority"] = value.get("name") or _PRIORITIES[str(value["id"])]
            else:
                stored[field_id] = value
        return stored, errors

    def _field_error(self, field_id: str, value: Any) -> str | None:
        if field_id == "summary":
            if not isinstance(value, str) or not value.strip():
                return "You must specify a summary of the issue."
            if "\n" in value or "\r" in value:
                return "The summary is invalid because it contains newline characters."
            if len(value) > 255:
                return "Summary must be less than 255 characters."
            return None
        if field_id == "description":
            return None if value is None or isinstance(value, str) else "Operation value must be a string"
        if field_id == "labels":
            return _label_error(value)
        if field_id == "priority":
            valid = isinstance(value, dict) and (
                value.get("name") in _PRIORITIES.values() or str(value.get("id")) in _PRIORITIES
            )
            return None if valid else "Specify a valid 'id' or 'name' for Priority"
        if field_id == "components":
            valid = isinstance(value, list) and all(isinstance(c, dict) and ("name" in c or "id" in c) for c in value)
            return None if valid else "Components must be a list of objects with 'name' or 'id'."
        if _CUSTOM_FIELD.match(field_id) or field_id in _PASSTHROUGH_FIELDS:
            return None
        return f"Field '{field_id}' cannot be set. It is not on the appropriate screen, or unknown."

    def _resolve_issue_type(self, reference: Any) -> str | None:
        if not isinstance(reference, dict):
            return None
        if "id" in reference:
            return self._issue_types.get(str(reference["id"]))
        name = reference.get("name")
        return name if name in self._issue_types.values() else None

    # ------------------------------------------------------------------ workflow

    def _available_transitions(self, issue: _StoredIssue) -> list[Transition]:
        return [t for t in self._workflow if issue.status in t.from_statuses]

    def _get_transitions(self, request: _Request, key: str) -> _Response:
        issue = self._issue(key)
        transitions = [
            {
                "id": t.id,
                "name": t.name,
                "to": self._status_json(t.to_status),
                "hasScreen": False,
                "isGlobal": False,
                "isInitial": False,
                "isConditional": False,
            }
            for t in self._available_transitions(issue)
        ]
        return _Response(200, {"expand": "transitions", "transitions": transitions})

    def _do_transition(self, request: _Request, key: str) -> _Response:
        issue = self._issue(key)
        body = request.json_object()
        transition_id = str((body.get("transition") or {}).get("id"))
        transition = next((t for t in self._available_transitions(issue) if t.id == transition_id), None)
        if transition is None:
            raise _JiraError(400, [f"Transition id '{transition_id}' is not valid for this issue."])
        entering_done = transition.to_status in self._done_statuses
        resolution: str | None = "Done" if entering_done else None
        errors: dict[str, str] = {}
        for field_id, value in (body.get("fields") or {}).items():
            if field_id == "resolution" and entering_done and isinstance(value, dict):
                resolution = value.get("name") or self._resolutions.get(str(value.get("id")))
                if resolution not in self._resolutions.values():
                    errors["resolution"] = "Resolution is not valid."
            else:
                errors[field_id] = f"Field '{field_id}' cannot be set. It is not on the appropriate screen, or unknown."
        if errors:
            raise _JiraError(400, errors=errors)
        user = self._bot_user()
        self._apply_status(issue, transition.to_status, resolution, user)
        for operation in (body.get("update") or {}).get("comment", []):
            self._add_comment(issue, operation["add"]["body"], user)
        return _Response(204)

    def _apply_status(self, issue: _StoredIssue, status: str, resolution: str | None, user: JsonDict) -> None:
        items = []
        if issue.status != status:
            item = _changelog_item("status", issue.status, status)
            item.update({"from": self._status_id(issue.status), "to": self._status_id(status)})
            items.append(item)
        if issue.resolution != resolution:
            items.append(_changelog_item("resolution", issue.resolution, resolution))
            issue.resolution_date = self._clock() if resolution else None
        issue.status = status
        issue.resolution = resolution
        self._touch(issue, "issue_generic", user, items)

    # ------------------------------------------------------------------ comments and properties

    def _get_comments(self, request: _Request, key: str) -> _Response:
        return _Response(200, _comment_page(self._issue(key).comments))

    def _post_comment(self, request: _Request, key: str) -> _Response:
        issue = self._issue(key)
        body = request.json_object().get("body")
        if not isinstance(body, str) or not body.strip():
            raise _JiraError(400, errors={"comment": "Comment body can not be empty!"})
        return _Response(201, self._add_comment(issue, body, self._bot_user()))

    def _add_comment(self, issue: _StoredIssue, body: str, author: JsonDict) -> JsonDict:
        now = format_jira_timestamp(self._clock())
        comment_id = str(next(self._ids))
        comment = {
            "self": f"{self._issue_url(issue)}/comment/{comment_id}",
            "id": comment_id,
            "author": author,
            "updateAuthor": author,
            "body": body,
            "created": now,
            "updated": now,
        }
        issue.comments.append(comment)
        self._touch(issue, "issue_commented", author, [])
        issue.last_change["comment"] = comment
        return copy.deepcopy(comment)

    def _get_property_keys(self, request: _Request, key: str) -> _Response:
        issue = self._issue(key)
        keys = [{"self": f"{self._issue_url(issue)}/properties/{name}", "key": name} for name in issue.properties]
        return _Response(200, {"keys": keys})

    def _get_property(self, request: _Request, key: str, prop: str) -> _Response:
        issue = self._issue(key)
        if prop not in issue.properties:
            raise _JiraError(404, [f"The property with key '{prop}' does not exist."])
        return _Response(200, {"key": prop, "value": copy.deepcopy(issue.properties[prop])})

    def _put_property(self, request: _Request, key: str, prop: str) -> _Response:
        issue = self._issue(key)
        if request.body is None or isinstance(request.body, str):
            raise _JiraError(400, ["The property value must be valid JSON."])
        existed = prop in issue.properties
        issue.properties[prop] = copy.deepcopy(request.body)
        return _Response(200 if existed else 201)

    # ------------------------------------------------------------------ search

    def _search_server(self, request: _Request) -> _Response:
        """``/search``: Server pages with ``startAt``/``maxResults``/``total``; Cloud removed it."""
        if self.deployment == "Cloud":
            raise _JiraError(
                410,
                ["The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."],
            )
        params = _search_params(request)
        matches = self._run_jql(str(params.get("jql") or ""))
        start = int(params.get("startAt") or 0)
        size = min(int(params.get("maxResults") or 50), self._max_results_limit)
        requested = _field_list(params.get("fields"))
        return _Response(
            200,
            {
                "expand": "schema,names",
                "startAt": start,
                "maxResults": size,
                "total": len(matches),
                "issues": [self._issue_json(issue, requested) for issue in matches[start : start + size]],
            },
        )

    def _search_cloud(self, request: _Request) -> _Response:
        """``/search/jql``: Cloud's token-paged search without ``total``; unknown on Server."""
        if self.deployment != "Cloud":
            raise _JiraError(404, [f"null for uri: {self.url}{request.path}"])
        params = _search_params(request)
        jql = str(params.get("jql") or "")
        start = 0
        token = params.get("nextPageToken")
        if token:
            if self._page_tokens.get(str(token), ("", 0))[0] != jql:
                raise _JiraError(400, ["The provided next page token is invalid or expired."])
            start = self._page_tokens[str(token)][1]
        matches = self._run_jql(jql)
        size = min(int(params.get("maxResults") or 50), self._max_results_limit)
        requested = _field_list(params.get("fields"))
        page = matches[start : start + size]
        # Cloud returns only issue ids unless fields are requested.
        body: JsonDict = {
            "issues": [self._issue_json(issue, requested) if requested else {"id": issue.id} for issue in page],
            "isLast": start + size >= len(matches),
        }
        if not body["isLast"]:
            next_token = f"page-{len(self._page_tokens) + 1}"
            self._page_tokens[next_token] = (jql, start + size)
            body["nextPageToken"] = next_token
        return _Response(200, body)

    def _run_jql(self, jql: str) -> list[_StoredIssue]:
        query = self._parse_jql(jql)
        now = time.monotonic()
        matches = [
            issue
            for issue in self._issues.values()
            if issue.visible_to_search_from <= now and all(p(issue) for p in query.predicates)
        ]
        if query.order_field is not None:
            sort_keys: dict[str, Callable[[_StoredIssue], Any]] = {
                "updated": lambda issue: issue.updated,
                "created": lambda issue: issue.created,
                "key": lambda issue: int(issue.key.rsplit("-", 1)[1]),
            }
            matches.sort(key=sort_keys[query.order_field], reverse=query.descending)
        return matches

    def _parse_jql(self, jql: str) -> _JqlQuery:
        """Parse the supported subset: ``labels =``, ``project =``, ``updated|created <op>``, AND, ORDER BY."""
        tokens = list(_tokenize_jql(jql))
        predicates: list[Callable[[_StoredIssue], bool]] = []
        position = 0

        def take() -> tuple[str, str]:
            nonlocal position
            if position >= len(tokens):
                raise _jql_error(jql, "the query ended unexpectedly")
            position += 1
            return tokens[position - 1]

        while position < len(tokens):
            kind, word = take()
            if kind == "word" and word.lower() == "order":
                return self._parse_order_by(jql, tokens[position:], tuple(predicates))
            if kind != "word":
                raise _jql_error(jql, f"expected a field name but got '{word}'")
            _, operator = take()
            value_kind, value = take()
            if value_kind == "op":
                raise _jql_error(jql, f"expected a value but got '{value}'")
            predicates.append(self._clause(jql, word.lower(), operator, value))
            if position < len(tokens):
                kind, word = tokens[position]
                if kind == "word" and word.lower() == "and":
                    position += 1
                    if position >= len(tokens):
                        raise _jql_error(jql, "expected a clause after AND")
                elif not (kind == "word" and word.lower() == "order"):
                    raise _jql_error(jql, f"only AND and ORDER BY are supported, got '{word}'")
        return _JqlQuery(tuple(predicates), None, False)

    def _parse_order_by(
        self,
        jql: str,
        tokens: list[tuple[str, str]],
        predicates: tuple[Callable[[_StoredIssue], bool], ...],
    ) -> _JqlQuery:
        words = [word.lower() for _, word in tokens]
        if len(words) not in (2, 3) or words[0] != "by" or words[1] not in ("updated", "created", "key"):
            raise _jql_error(jql, "ORDER BY supports one of updated, created, key")
        direction = words[2] if len(words) == 3 else "asc"
        if direction not in ("asc", "desc"):
            raise _jql_error(jql, f"expected ASC or DESC but got '{direction}'")
        return _JqlQuery(predicates, words[1], direction == "desc")

    def _clause(self, jql: str, field_name: str, operator: str, value: str) -> Callable[[_StoredIssue], bool]:
        if field_name == "labels" and operator == "=":
            return lambda issue: value in issue.fields.get("labels", [])
        if field_name == "project" and operator == "=":
            if value.upper() != self.project_key and value != self.project_id:
                raise _JiraError(400, [f"The value '{value}' does not exist for the field 'project'."])
            return lambda issue: True
        if field_name in ("updated", "created") and operator in _COMPARISONS:
            bound = _parse_jql_date(field_name, value)
            compare = _COMPARISONS[operator]
            return lambda issue: compare(getattr(issue, field_name), bound)
        if field_name not in ("labels", "project", "updated", "created"):
            raise _JiraError(400, [f"Field '{field_name}' does not exist or you do not have permission to view it."])
        raise _jql_error(jql, f"operator '{operator}' is not supported for field '{field_name}'")

    # ------------------------------------------------------------------ rendering

    def _issue(self, key_or_id: str) -> _StoredIssue:
        issue = self._issues.get(key_or_id.upper()) or next(
            (i for i in self._issues.values() if i.id == key_or_id), None
        )
        if issue is None:
            raise _JiraError(404, ["Issue Does Not Exist"])
        return issue

    def _require_project(self, project: str) -> None:
        if project.upper() != self.project_key and project != self.project_id:
            raise _JiraError(404, [f"No project could be found with key '{project}'."])

    def _touch(self, issue: _StoredIssue, event_type: str, user: JsonDict, items: list[JsonDict]) -> None:
        """Bump ``updated`` and remember the change for ``webhook_payload``."""
        issue.updated = self._clock()
        issue.last_change = {
            "issue_event_type_name": event_type,
            "user": user,
            "changelog_id": str(next(self._ids)),
            "items": items,
        }

    def _api_url(self, path: str) -> str:
        return f"{self.url}/rest/api/2/{path}"

    def _issue_url(self, issue: _StoredIssue) -> str:
        return self._api_url(f"issue/{issue.id}")

    def _issue_json(self, issue: _StoredIssue, requested: list[str] | None = None) -> JsonDict:
        stored = issue.fields
        fields: JsonDict = {
            **copy.deepcopy(stored),
            "issuetype": self._issue_type_json(
                next(type_id for type_id, name in self._issue_types.items() if name == stored["issuetype"])
            ),
            "project": self._project_json(),
            "priority": self._priority_json(stored["priority"]),
            "status": self._status_json(issue.status),
            "resolution": self._resolution_json(issue.resolution),
            "resolutiondate": format_jira_timestamp(issue.resolution_date) if issue.resolution_date else None,
            "created": format_jira_timestamp(issue.created),
            "updated": format_jira_timestamp(issue.updated),
            "comment": _comment_page(issue.comments),
        }
        fields.setdefault("reporter", self._bot_user())
        fields.setdefault("assignee", None)
        if requested is not None and not {"*all", "*navigable"} & set(requested):
            fields = {name: value for name, value in fields.items() if name in requested}
        for name in requested or ():
            if name.startswith("-"):
                fields.pop(name[1:], None)
        return {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
            "id": issue.id,
            "self": self._issue_url(issue),
            "key": issue.key,
            "fields": fields,
        }

    def _project_json(self) -> JsonDict:
        return {
            "self": self._api_url(f"project/{self.project_id}"),
            "id": self.project_id,
            "key": self.project_key,
            "name": self.project_key,
            "projectTypeKey": "software",
        }

    def _issue_type_json(self, type_id: str) -> JsonDict:
        return {
            "self": self._api_url(f"issuetype/{type_id}"),
            "id": type_id,
            "name": self._issue_types[type_id],
            "description": "",
            "subtask": False,
        }

    def _priority_json(self, name: str) -> JsonDict:
        priority_id = next(pid for pid, pname in _PRIORITIES.items() if pname == name)
        return {"self": self._api_url(f"priority/{priority_id}"), "id": priority_id, "name": name}

    def _status_id(self, name: str) -> str:
        return self._status_ids.setdefault(name, str(10000 + len(self._status_ids)))

    def _status_json(self, name: str) -> JsonDict:
        if name in self._done_statuses:
            category = {"id": 3, "key": "done", "name": "Done", "colorName": "green"}
        elif name == self._initial_status:
            category = {"id": 2, "key": "new", "name": "To Do", "colorName": "blue-gray"}
        else:
            category = {"id": 4, "key": "indeterminate", "name": "In Progress", "colorName": "yellow"}
        status_id = self._status_id(name)
        return {
            "self": self._api_url(f"status/{status_id}"),
            "id": status_id,
            "name": name,
            "statusCategory": {"self": self._api_url(f"statuscategory/{category['id']}"), **category},
        }

    def _resolution_json(self, name: str | None) -> JsonDict | None:
        if name is None:
            return None
        resolution_id = next(rid for rid, rname in self._resolutions.items() if rname == name)
        return {"self": self._api_url(f"resolution/{resolution_id}"), "id": resolution_id, "name": name}

    def _bot_user(self) -> JsonDict:
        return self._user_json(_BOT_DISPLAY_NAME, email=self._email)

    def _user_json(self, display_name: str, email: str | None = None) -> JsonDict:
        """Server identifies users by ``name``/``key``, Cloud by ``accountId`` only (GDPR mode)."""
        identity = email or display_name
        account_id = hashlib.sha1(identity.encode()).hexdigest()[:24]
        user: JsonDict = (
            {"accountId": account_id, "accountType": "atlassian"}
            if self.deployment == "Cloud"
            else {"name": identity, "key": identity}
        )
        user.update({"displayName": display_name, "active": True, "timeZone": "UTC"})
        if email is not None:
            user["emailAddress"] = email
        return user


# ---------------------------------------------------------------------- helpers


def _decode_body(raw: bytes) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _field_list(value: Any) -> list[str] | None:
    """Normalise ``fields`` from repeated query params, comma lists or a JSON array."""
    if value is None:
        return None
    values = [value] if isinstance(value, str) else list(value)
    names = [name.strip() for item in values for name in str(item).split(",") if name.strip()]
    return names or None


def _search_params(request: _Request) -> JsonDict:
    """Search takes query parameters on GET and a JSON body on POST (the client's ``use_post``)."""
    if request.method == "POST":
        return request.json_object()
    params: JsonDict = {name: values[0] for name, values in request.query.items()}
    if "fields" in request.query:
        params["fields"] = request.query["fields"]
    return params


def _label_error(labels: Any) -> str | None:
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        return "Labels must be a list of strings."
    for label in labels:
        if not label or re.search(r"\s", label):
            return f"The label '{label}' contains spaces which is invalid."
        if len(label) > 255:
            return "The label must not exceed 255 characters."
    return None


def _display(value: Any) -> str | None:
    """How Jira's changelog renders a value in ``fromString``/``toString``."""
    if value is None:
        return None
    if isinstance(value, list):
        return " ".join(filter(None, (_display(item) for item in value)))
    if isinstance(value, dict):
        return str(value.get("name") or value.get("value") or value.get("key") or value)
    return str(value)


def _changelog_item(field_id: str, old: Any, new: Any) -> JsonDict:
    return {
        "field": field_id,
        "fieldtype": "custom" if _CUSTOM_FIELD.match(field_id) else "jira",
        "fieldId": field_id,
        "from": None,
        "fromString": _display(old),
        "to": None,
        "toString": _display(new),
    }


def _comment_page(comments: list[JsonDict]) -> JsonDict:
    return {
        "comments": copy.deepcopy(comments),
        "maxResults": len(comments),
        "total": len(comments),
        "startAt": 0,
    }


_JQL_TOKEN = re.compile(
    r"""\s*(?:(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<op>>=|<=|!=|=|>|<)|(?P<word>[^\s"'=!<>(),]+))"""
)

_COMPARISONS: dict[str, Callable[[datetime, datetime], bool]] = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
}

_JQL_DATE_FORMATS = ("%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y-%m-%d")


def _tokenize_jql(jql: str) -> Iterator[tuple[str, str]]:
    """Yield (kind, text) tokens; quoted strings come back unquoted and unescaped."""
    position = 0
    stripped = jql.rstrip()
    while position < len(stripped):
        match = _JQL_TOKEN.match(stripped, position)
        if match is None or match.end() == position:
            raise _jql_error(jql, f"unexpected character '{stripped[position:].lstrip()[:1]}'")
        position = match.end()
        if match["string"] is not None:
            yield "string", re.sub(r"\\(.)", r"\1", match["string"][1:-1])
        elif match["op"] is not None:
            yield "op", match["op"]
        else:
            yield "word", match["word"]


def _parse_jql_date(field_name: str, value: str) -> datetime:
    if value.isdigit():
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    for date_format in _JQL_DATE_FORMATS:
        try:
            return datetime.strptime(value, date_format).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise _JiraError(
        400,
        [
            f"Date value '{value}' for field '{field_name}' is invalid. Valid formats include: "
            "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format "
            "e.g. '-5d', '4w 2d'."
        ],
    )


def _jql_error(jql: str, reason: str) -> _JiraError:
    return _JiraError(400, [f"Error in the JQL Query: {reason} (the Jira double supports only a subset). Query: {jql}"])
