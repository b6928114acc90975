"""A file shared in chat as an outbox effect, for any process: the monthly ISMS report in the reports
channel, a report a person asked for in their DMs, and later the audit report, the post-incident
report and the management review pack.

``share_file`` queues one ``slack.upload`` effect in the caller's unit of work; the bytes ride in the
effect (fixed when the step commits, like a mail's body), so what is shared is exactly what was
recorded. The Slack sender (``integrations/slack_uploads.py``) shares it once; the console prints it.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from workflows.kernel.access import Refused
from workflows.kernel.recipients import Recipient
from workflows.kernel.work import Work

log = logging.getLogger(__name__)

UPLOAD_KIND = "slack.upload"
MAX_BYTES = 5 * 1024 * 1024
"""The largest file queued (its bytes wait in the outbox row, base64-encoded)."""
COMMENT_LIMIT = 3000


def share_file(
    work: Work, to: Recipient, key: str, *, filename: str, content: bytes, title: str, comment: str = ""
) -> str:
    """Queue sharing ``content`` as ``filename`` with ``to`` (a channel by role or a person's DMs),
    with ``title`` and ``comment`` (the message beside the file), once for ``key``. Returns the
    SHA-256 of the bytes, for the caller's record."""
    if not content:
        raise Refused(f"{filename} is empty; there is nothing to share.")
    if len(content) > MAX_BYTES:
        raise Refused(f"{filename} has {len(content):,} bytes, more than the {MAX_BYTES:,} the bot shares in chat.")
    digest = hashlib.sha256(content).hexdigest()
    work.effect(
        UPLOAD_KIND,
        key,
        {
            "to": str(to),
            "filename": filename[:200],
            "title": title[:250],
            "comment": comment[:COMMENT_LIMIT],
            "size": len(content),
            "sha256": digest,
            "content": base64.b64encode(content).decode("ascii"),
        },
    )
    return digest


def share_each(
    work: Work,
    recipients: Iterable[tuple[Recipient, str]],
    *,
    filename: str,
    content: bytes,
    title: str,
    comment: str = "",
) -> str | None:
    """Share one file with each (recipient, outbox key): a report beside the messages that announce it.
    Returns the SHA-256, or None with nothing shared when the file cannot go to chat (too large): the
    step that wrote the report still stores it and posts its summary, it is not refused for the file."""
    digest = None
    try:
        for to, key in recipients:
            digest = share_file(work, to, key, filename=filename, content=content, title=title, comment=comment)
    except Refused as refusal:
        log.warning("not shared in chat: %s", refusal)
        return None
    return digest


def dated_name(what: str, ref: str, moment: datetime, zone: ZoneInfo, suffix: str) -> str:
    """A shared file's name: what it is, the reference and the organisation's date, so files kept side
    by side in a download folder say which report of which day each is (``audit-report-AUD-2026-01-
    2026-11-23.html``). Anything but letters, digits, dots and dashes becomes a dash."""
    name = f"{what}-{ref}-{moment.astimezone(zone).date().isoformat()}.{suffix}"
    return re.sub(r"[^A-Za-z0-9.-]+", "-", name)


def content_of(payload: dict[str, object]) -> bytes:
    """The bytes of a queued file, checked against the hash taken when it was queued."""
    content = base64.b64decode(str(payload["content"]))
    if hashlib.sha256(content).hexdigest() != payload["sha256"]:
        raise ValueError("the queued file does not match its hash")
    return content
