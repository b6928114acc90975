"""What Jira's webhook sends, read without the bot: the shared-secret check and the issue update.

The HTTP endpoint that uses these is ``bot/jira_webhook.py``. The secret arrives either as the
``secret`` query parameter of the webhook URL, or as Jira Cloud's signed webhooks send it,
``X-Hub-Signature: sha256=<HMAC-SHA256 of the body>``; both are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qs

from integrations.jira_issues import update_from_issue
from workflows.changes.tracker import TrackerUpdate


def authentic(secret: bytes, query: str, signature: str, body: bytes) -> bool:
    """True if the query's ``secret`` or the body's HMAC signature matches the shared secret."""
    given = parse_qs(query).get("secret", [""])[0].encode()
    if given and hmac.compare_digest(given, secret):
        return True
    scheme, _, digest = signature.partition("=")
    if scheme.strip().lower() != "sha256" or not digest:
        return False
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(digest.strip().lower().encode("latin-1", "replace"), expected.encode())


def parse_update(payload: Any) -> TrackerUpdate | None:
    """The issue update in a webhook's JSON, or None when it is not an issue event Jira could mean."""
    try:
        issue = payload["issue"]
        return update_from_issue(
            str(issue["key"]),
            issue["fields"],
            payload.get("comment"),
            (payload.get("user") or {}).get("displayName"),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
