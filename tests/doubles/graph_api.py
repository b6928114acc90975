"""A local HTTPS double of Microsoft's sign-in service and of Microsoft Graph, for the real ``msal``.

It answers on 127.0.0.1 with a certificate from a trustme CA, so ``msal`` (which insists on https)
and ``requests`` talk to it as they would to Microsoft: OpenID discovery of the tenant, the client
credentials grant at ``/{tenant}/oauth2/v2.0/token`` (with AADSTS errors for an unknown tenant, an
unknown app or a wrong secret), and the Graph calls the bot makes, paged by ``@odata.nextLink``.
Tests inject throttling (429 with Retry-After), outages (503) and lost answers (the request is carried
out, then the connection is closed without a reply).
"""

from __future__ import annotations

import base64
import email
import email.policy
import itertools
import json
import re
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes

JsonDict = dict[str, Any]

GRAPH_PREFIX = "/v1.0"
_USER = re.compile(r"^/users/(?P<user>[^/]+)(?P<rest>/.*)?$")
_GROUP_MEMBERS = re.compile(r"^/groups/(?P<group>[^/]+)/transitiveMembers$")
_MAIL_FILTER = re.compile(r"^mail eq '(?P<mail>(?:[^']|'')*)'$")
_MESSAGE_ID_FILTER = re.compile(r"^internetMessageId eq '(?P<id>[^']*)'$")


@dataclass
class Fault:
    """An injected failure for requests whose method and Graph path match."""

    method: str
    path: str
    status: int  # 0: carry the request out, then drop the connection without an answer
    times: int
    retry_after: float | None = None


@dataclass
class Mailbox:
    sent: list[JsonDict] = field(default_factory=list)
    events: dict[str, JsonDict] = field(default_factory=dict)


class GraphDouble:
    """Start with ``with GraphDouble() as graph:``; ``graph.authority``, ``graph.graph_url`` and
    ``graph.ca_file`` are what the bot's settings and HTTP session need."""

    def __init__(
        self,
        *,
        tenant: str = "contoso-tenant",
        client_id: str = "isms-bot-app",
        client_secret: str = "graph-secret-value-1",
        page_size: int = 2,
        token_lifetime: int = 3600,
        certificate_pem: bytes | None = None,
    ):
        self.tenant = tenant
        self.client_id = client_id
        self.client_secret = client_secret
        self.page_size = page_size
        self.certificate_pem = certificate_pem
        """The app's registered certificate: a client assertion must be signed by its key."""
        self.token_lifetime = token_lifetime
        self.users: dict[str, JsonDict] = {}
        self.managers: dict[str, str] = {}
        self.groups: dict[str, JsonDict] = {}
        self.members: dict[str, list[str]] = {}
        self.mailboxes: dict[str, Mailbox] = {}
        self.tokens: dict[str, float] = {}
        self.token_requests = 0
        self.requests: list[tuple[str, str]] = []
        self.faults: list[Fault] = []
        self.sent_items_lag = 0
        """How many of the newest sent mails are not yet in Sent Items (Exchange files them a little later)."""
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._ca = trustme.CA()
        self._cert = self._ca.issue_cert("127.0.0.1", "localhost")
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.ca_file: Path | None = None
        self._tmp: Any = None

    # -- directory contents --------------------------------------------------------------------

    def add_user(
        self, user_id: str, mail: str | None, name: str = "", *, department: str | None = None, upn: str | None = None
    ) -> None:
        with self._lock:
            self.users[user_id] = {
                "id": user_id,
                "displayName": name or (mail or user_id),
                "mail": mail,
                "userPrincipalName": upn or mail or f"{user_id}@contoso.onmicrosoft.com",
                "department": department,
            }

    def set_manager(self, user_id: str, manager_id: str) -> None:
        self.managers[user_id] = manager_id

    def add_group(self, group_id: str, name: str, members: list[str]) -> None:
        with self._lock:
            self.groups[group_id] = {"id": group_id, "displayName": name}
            self.members[group_id] = list(members)

    def mailbox(self, user_id: str) -> Mailbox:
        return self.mailboxes.setdefault(self._user(user_id)["id"] if self._user(user_id) else user_id, Mailbox())

    # -- faults --------------------------------------------------------------------------------

    def fail(self, method: str, path: str, status: int, times: int = 1, retry_after: float | None = None) -> None:
        """The next ``times`` requests ``method path`` (a Graph path prefix, or a sign-in path) answer ``status``."""
        self.faults.append(Fault(method.upper(), path, status, times, retry_after))

    def lose_answer(self, method: str, path: str, times: int = 1) -> None:
        """The next ``times`` matching requests are carried out, then the connection closes unanswered."""
        self.fail(method, path, 0, times)

    def _fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.method == method and path.startswith(fault.path) and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    # -- server --------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    @property
    def authority(self) -> str:
        return self.base_url

    @property
    def graph_url(self) -> str:
        return f"{self.base_url}{GRAPH_PREFIX}"

    def __enter__(self) -> GraphDouble:
        import tempfile

        self._tmp = tempfile.TemporaryDirectory()
        self.ca_file = Path(self._tmp.name) / "ca.pem"
        self._ca.cert_pem.write_to_path(str(self.ca_file))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._cert.configure_cert(context)
        double = self

        class Handler(_Handler):
            graph = double

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
        self._tmp.cleanup()

    # -- behaviour -----------------------------------------------------------------------------

    def _user(self, key: str) -> JsonDict | None:
        with self._lock:
            if key in self.users:
                return self.users[key]
            lowered = key.lower()
            for user in self.users.values():
                if str(user["userPrincipalName"]).lower() == lowered:
                    return user
        return None

    def _transitive_members(self, group_id: str) -> list[JsonDict]:
        seen: set[str] = set()
        found: list[JsonDict] = []
        stack = list(self.members.get(group_id, ()))
        while stack:
            member = stack.pop(0)
            if member in seen:
                continue
            seen.add(member)
            if member in self.groups:
                found.append({"@odata.type": "#microsoft.graph.group", **self.groups[member]})
                stack.extend(self.members.get(member, ()))
            elif member in self.users:
                found.append({"@odata.type": "#microsoft.graph.user", **self.users[member]})
        return found

    def _member_of(self, user_id: str) -> list[JsonDict]:
        return [
            {"@odata.type": "#microsoft.graph.group", **group}
            for group_id, group in self.groups.items()
            if any(m["id"] == user_id for m in self._transitive_members(group_id))
        ]


def _valid_assertion(form: dict[str, str], certificate_pem: bytes | None, audience: str, client_id: str) -> bool:
    """A client assertion (RFC 7523) signed by the registered certificate's key, for this app and endpoint."""
    if certificate_pem is None:
        return False
    if form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
        return False
    certificate = x509.load_pem_x509_certificate(certificate_pem)
    thumbprint = base64.urlsafe_b64encode(certificate.fingerprint(hashes.SHA256())).rstrip(b"=").decode()
    try:
        header = jwt.get_unverified_header(form["client_assertion"])
        claims = jwt.decode(
            form["client_assertion"],
            certificate.public_key(),  # type: ignore[arg-type]
            algorithms=["PS256", "RS256"],
            audience=audience,
            issuer=client_id,
        )
    except jwt.PyJWTError:
        return False
    return str(header.get("x5t#S256", "")).rstrip("=") == thumbprint and claims.get("sub") == client_id


def _from_mime(body: bytes) -> JsonDict:
    """A sendMail body in MIME (base64), as Graph accepts it with ``Content-Type: text/plain``."""
    mail = email.message_from_bytes(base64.b64decode(body), policy=email.policy.default)
    parts: JsonDict = {}
    for part in mail.walk():
        if part.get_content_type() in ("text/plain", "text/html") and not part.is_multipart():
            parts[part.get_content_type()] = part.get_content()
    return {
        "internetMessageId": str(mail["Message-ID"] or ""),
        "subject": str(mail["Subject"] or ""),
        "from": str(mail["From"] or ""),
        "toRecipients": [
            {"emailAddress": {"address": a.strip()}} for a in str(mail["To"] or "").split(",") if a.strip()
        ],
        "replyTo": [
            {"emailAddress": {"address": a.strip()}} for a in str(mail["Reply-To"] or "").split(",") if a.strip()
        ],
        "headers": {k: str(v) for k, v in mail.items()},
        "body": {"contentType": "html", "content": parts.get("text/html", "")},
        "text": parts.get("text/plain", ""),
    }


def _error(status: int, code: str, message: str) -> tuple[int, JsonDict]:
    return status, {"error": {"code": code, "message": message}}


def _aad_error(status: int, error: str, number: int, text: str) -> tuple[int, JsonDict]:
    return status, {
        "error": error,
        "error_description": f"AADSTS{number}: {text} Trace ID: {uuid.uuid4()}",
        "error_codes": [number],
    }


class _Handler(BaseHTTPRequestHandler):
    graph: GraphDouble
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _answer(self, status: int, body: JsonDict | None, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        split = urlsplit(self.path)
        path, query = split.path, parse_qs(split.query)
        body = self._body()
        graph = self.graph
        with graph._lock:
            graph.requests.append((method, self.path))
        fault = graph._fault(method, path.removeprefix(GRAPH_PREFIX) if path.startswith(GRAPH_PREFIX) else path)
        if fault is not None and fault.status:
            headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
            code = "TooManyRequests" if fault.status == 429 else "ServiceUnavailable"
            self._answer(fault.status, {"error": {"code": code, "message": "injected"}}, headers)
            return
        if path.startswith(GRAPH_PREFIX):
            status, answer, headers = self._graph(method, path.removeprefix(GRAPH_PREFIX), query, body)
        else:
            status, answer = self._login(method, path, body)
            headers = {}
        if fault is not None:  # a lost answer: carried out, never told
            self.close_connection = True
            self.connection.close()
            return
        self._answer(status, answer, headers)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    # -- sign-in ---------------------------------------------------------------------------------

    def _login(self, method: str, path: str, body: bytes) -> tuple[int, JsonDict]:
        graph = self.graph
        parts = path.strip("/").split("/")
        tenant = parts[0] if parts else ""
        if tenant != graph.tenant:
            return _aad_error(
                400,
                "invalid_tenant",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID.",
            )
        base = f"{graph.base_url}/{tenant}"
        if path == f"/{tenant}/v2.0/.well-known/openid-configuration" and method == "GET":
            return 200, {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "issuer": f"{base}/v2.0",
            }
        if path == f"/{tenant}/oauth2/v2.0/token" and method == "POST":
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            if form.get("grant_type") != "client_credentials":
                return _aad_error(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
            if form.get("client_id") != graph.client_id:
                return _aad_error(
                    400,
                    "unauthorized_client",
                    700016,
                    f"Application with identifier '{form.get('client_id')}' was not found.",
                )
            if "client_assertion" in form:
                if not _valid_assertion(form, graph.certificate_pem, f"{base}/oauth2/v2.0/token", graph.client_id):
                    return _aad_error(401, "invalid_client", 700027, "Client assertion failed signature validation.")
            elif form.get("client_secret") != graph.client_secret:
                return _aad_error(401, "invalid_client", 7000215, "Invalid client secret provided.")
            if not str(form.get("scope", "")).endswith("/.default"):
                return _aad_error(400, "invalid_scope", 1002012, "The provided value for scope is not valid.")
            with graph._lock:
                graph.token_requests += 1
                token = f"token-{next(graph._ids)}-{uuid.uuid4().hex}"
                graph.tokens[token] = time.time() + graph.token_lifetime
            return 200, {"token_type": "Bearer", "expires_in": graph.token_lifetime, "access_token": token}
        return _aad_error(404, "not_found", 90027, f"No sign-in endpoint at {path}.")

    # -- Graph -----------------------------------------------------------------------------------

    def _graph(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes
    ) -> tuple[int, JsonDict | None, dict[str, str]]:
        graph = self.graph
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        if graph.tokens.get(token, 0) < time.time():
            status, answer = _error(401, "InvalidAuthenticationToken", "Access token is empty or expired.")
            return status, answer, {}
        is_json = (self.headers.get("Content-Type") or "").startswith("application/json")
        payload = json.loads(body) if body and is_json else {}
        one = lambda key: (query.get(key) or [""])[0]  # noqa: E731
        if method == "GET" and path == "/users":
            found = _MAIL_FILTER.match(one("$filter"))
            if not found:
                status, answer = _error(400, "BadRequest", "Only $filter=mail eq '...' is supported by the double.")
                return status, answer, {}
            mail = found.group("mail").replace("''", "'").lower()
            users = [u for u in graph.users.values() if (u.get("mail") or "").lower() == mail]
            return 200, {"value": users}, {}
        group = _GROUP_MEMBERS.match(path)
        if group and method == "GET":
            if group.group("group") not in graph.groups:
                return (*_error(404, "Request_ResourceNotFound", "Group not found."), {})
            return 200, self._page(graph._transitive_members(group.group("group")), one("$skiptoken")), {}
        user_match = _USER.match(path)
        if not user_match:
            return (*_error(400, "BadRequest", f"Unsupported path {path}"), {})
        user = graph._user(user_match.group("user"))
        if user is None:
            return (
                *_error(404, "Request_ResourceNotFound", f"Resource '{user_match.group('user')}' does not exist."),
                {},
            )
        rest = user_match.group("rest") or ""
        box = graph.mailboxes.setdefault(user["id"], Mailbox())
        if method == "GET" and rest == "":
            return 200, user, {}
        if method == "GET" and rest == "/manager":
            manager = graph.managers.get(user["id"])
            if manager is None:
                return (*_error(404, "Request_ResourceNotFound", "Resource 'manager' does not exist."), {})
            return 200, graph.users[manager], {}
        if method == "GET" and rest == "/transitiveMemberOf":
            return 200, self._page(graph._member_of(user["id"]), one("$skiptoken")), {}
        if method == "POST" and rest == "/sendMail":
            if (self.headers.get("Content-Type") or "").startswith("text/plain"):
                message = _from_mime(body)
            else:
                message = json.loads(body).get("message") or {} if body else {}
            if not message.get("toRecipients") or "body" not in message:
                return (*_error(400, "ErrorInvalidRecipients", "At least one recipient and a body are required."), {})
            with graph._lock:
                box.sent.append({"id": f"msg-{next(graph._ids)}", **message})
            return 202, None, {}
        if method == "GET" and rest == "/mailFolders/sentitems/messages":
            found = _MESSAGE_ID_FILTER.match(one("$filter"))
            if not found:
                return (*_error(400, "BadRequest", "Only an internetMessageId filter is supported."), {})
            hits = [
                {"id": m["id"]}
                for m in box.sent[: max(len(box.sent) - graph.sent_items_lag, 0)]
                if m.get("internetMessageId") == found.group("id")
            ]
            return 200, {"value": hits}, {}
        if method == "POST" and rest == "/calendar/events":
            with graph._lock:
                transaction = payload.get("transactionId")
                for event in box.events.values():
                    if transaction and event.get("transactionId") == transaction:
                        return 201, event, {}
                event = {"id": f"event-{next(graph._ids)}", "isCancelled": False, **payload}
                box.events[event["id"]] = event
            return 201, event, {}
        event_match = re.match(r"^/(?:calendar/)?events/(?P<id>[^/]+)(?P<action>/cancel)?$", rest)
        if event_match:
            event = box.events.get(event_match.group("id"))
            if event is None or event.get("isCancelled"):
                return (*_error(404, "ErrorItemNotFound", "The specified object was not found in the store."), {})
            if method == "GET" and not event_match.group("action"):
                return 200, event, {}
            if method == "PATCH" and not event_match.group("action"):
                with graph._lock:
                    event.update(payload)
                return 200, event, {}
            if method == "POST" and event_match.group("action"):
                with graph._lock:
                    event["isCancelled"] = True
                    event["cancellationComment"] = payload.get("Comment") or payload.get("comment")
                return 202, None, {}
        return (*_error(400, "BadRequest", f"Unsupported {method} {path}"), {})

    def _page(self, items: list[JsonDict], skiptoken: str) -> JsonDict:
        start = int(skiptoken or 0)
        size = self.graph.page_size
        page: JsonDict = {"value": items[start : start + size]}
        if start + size < len(items):
            path = urlsplit(self.path).path
            page["@odata.nextLink"] = f"{self.graph.base_url}{path}?$skiptoken={start + size}"
        return page
