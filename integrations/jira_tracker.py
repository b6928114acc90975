"""The tracker senders for Jira (Cloud with e-mail + API token, Data Center with a personal access token).

Exactly one issue per change, whatever fails in between: before creating, the issue is searched by
the label carrying the change reference, and the outbox row stays the truth until the issue is
linked. The ``jira`` client's own retries are switched off (``max_retries=0``), because its session
retries even a POST after a connection error; the outbox retries instead, with backoff and
Retry-After. A create whose answer never arrived (timeout, dropped connection) may still have
reached Jira, so its retry waits ``SETTLE_SECONDS`` for Jira Cloud's search index to show the issue.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import requests
from jira import JIRA, JIRAError

from config.errors import ConfigError
from config.settings import Settings
from integrations.jira_issues import BOT_MARK, update_from_issue
from storage.outbox import Effect, RetryLater, Sender, Undeliverable
from workflows.changes import tracker as change_tracker
from workflows.changes.flows import apply_tracker_update, link_tracker, tracker_delayed
from workflows.changes.service import tracker_key_of
from workflows.kernel.actors import SYSTEM
from workflows.kernel.work import Context

TIMEOUT_SECONDS = 20.0
SETTLE_SECONDS = 30.0
TRANSIENT = frozenset({408, 409, 425, 429})  # besides 5xx; any other 4xx is a mistake no retry fixes
SEARCH_FIELDS = "status,resolution,updated,comment,labels"


def jira_auth(settings: Settings) -> dict[str, Any]:
    """Data Center: ``token_auth`` with the personal access token; Cloud: ``basic_auth`` e-mail + API token."""
    if settings.jira_pat is not None:
        return {"token_auth": settings.jira_pat.get_secret_value()}
    if settings.jira_email and settings.jira_api_token is not None:
        return {"basic_auth": (settings.jira_email, settings.jira_api_token.get_secret_value())}
    raise ConfigError("environment", [("JIRA_EMAIL", "is required with JIRA_API_TOKEN (or set JIRA_PAT instead)")])


def connect(settings: Settings, *, timeout: float = TIMEOUT_SECONDS) -> JIRA:
    """A client with the retry policy left to the outbox; construction reads serverInfo (anonymous)."""
    return JIRA(server=settings.jira_url, max_retries=0, timeout=timeout, **jira_auth(settings))


@contextmanager
def jira_errors(what: str) -> Iterator[None]:
    """Translate the client's failures into the outbox's terms; error texts never carry credentials."""
    try:
        yield
    except JIRAError as error:
        status = error.status_code or 0
        if status in TRANSIENT or status >= 500 or status == 0:
            retry_after = _retry_after(error)
            raise RetryLater(f"Jira answered {status or 'nothing'} to {what}", retry_after) from None
        raise Undeliverable(f"Jira refused {what}: {status} {_first_message(error)}") from None
    except requests.RequestException as error:
        raise RetryLater(f"Jira unreachable for {what}: {type(error).__name__}") from None


def _retry_after(error: JIRAError) -> float | None:
    headers = getattr(error.response, "headers", None) or {}
    value = headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _first_message(error: JIRAError) -> str:
    return " ".join(str(error.text or "").split())[:300]


class JiraTracker:
    """The ``tracker.*`` senders against Jira. The client is built lazily, so a Jira that is down at
    start-up only delays issues instead of stopping the bot."""

    def __init__(self, settings: Settings, ctx: Context, client_factory: Callable[[], JIRA] | None = None):
        jira_auth(settings)  # a credentials mistake stops start-up instead of failing every issue later
        self._settings = settings
        self._ctx = ctx
        self._factory = client_factory or (lambda: connect(settings))
        self._client: JIRA | None = None

    def senders(self) -> dict[str, Sender]:
        return {
            change_tracker.CREATE: self.create,
            change_tracker.COMMENT: self.comment,
            change_tracker.POLL: self.poll,
        }

    def client(self) -> JIRA:
        if self._client is None:
            with jira_errors("connecting"):
                self._client = self._factory()
        return self._client

    def create(self, effect: Effect) -> dict[str, Any]:
        payload = effect.payload
        ref = str(payload["ref"])
        try:
            key = self._find(str(payload["label"])) or self._create(payload)
        except RetryLater as delay:
            if effect.attempt == 1:
                with self._ctx.work(SYSTEM) as work:
                    tracker_delayed(work, ref, str(delay))
            raise
        with self._ctx.work(SYSTEM) as work:
            link_tracker(work, ref, key, tracker=change_tracker.JIRA, url=self.browse_url(key))
        return {"key": key}

    def browse_url(self, key: str) -> str:
        return f"{(self._settings.jira_url or '').rstrip('/')}/browse/{key}"

    def _find(self, label: str) -> str | None:
        with jira_errors("the search for an existing issue"):
            found = self.client().search_issues(f'labels = "{label}"', maxResults=1, fields="labels")
        return found[0].key if found else None

    def _create(self, payload: Mapping[str, Any]) -> str:
        fields: dict[str, Any] = {
            "project": {"key": payload.get("project") or self._settings.jira_project},
            "issuetype": {"name": payload["issue_type"]},
            "summary": payload["summary"],
            "description": payload["description"],
            "labels": list(payload["labels"]),
            "priority": {"name": payload["priority"]},
            **dict(payload.get("custom_fields") or {}),
        }
        if payload.get("components"):
            fields["components"] = [{"name": name} for name in payload["components"]]
        client = self.client()
        with jira_errors("creating the issue"):
            try:
                return str(client.create_issue(fields=fields, prefetch=False).key)
            except (requests.Timeout, requests.ConnectionError) as error:
                # The request may have reached Jira: let its search index catch up before looking again.
                raise RetryLater(
                    f"no answer from Jira to the create ({type(error).__name__})", SETTLE_SECONDS
                ) from None

    def comment(self, effect: Effect) -> dict[str, Any]:
        """Comment once: a retried comment finds its text already there."""
        key = tracker_key_of(self._ctx, str(effect.payload["ref"]))
        if key is None:
            raise RetryLater("the change has no tracker issue yet")
        body = f"{BOT_MARK} {effect.payload['body']}"
        with jira_errors("adding a comment"):
            client = self.client()
            if not any(comment.body == body for comment in client.comments(key)):
                client.add_comment(key, body)
        return {"key": key}

    def poll(self, effect: Effect) -> dict[str, Any]:
        """Fetch issues updated since the watermark and apply each; then advance the watermark."""
        started = self._ctx.clock()
        since = change_tracker.watermark(self._ctx)
        jql = f'labels = "{effect.payload["label"]}"'
        if since is not None:
            jql += f" AND updated >= {int(since.timestamp() * 1000)}"
        with jira_errors("polling for updates"):
            issues = self.client().search_issues(jql + " ORDER BY updated ASC", maxResults=False, fields=SEARCH_FIELDS)
        applied = 0
        with self._ctx.work(SYSTEM) as work:
            for issue in issues:
                applied += apply_tracker_update(work, update_from_issue(issue.key, issue.raw["fields"]))
            change_tracker.advance_watermark(work, started)
        return {"seen": len(issues), "applied": applied}
