"""Reading a Jira issue's fields (REST search results and webhook JSON alike), without the ``jira`` client.

Kept apart from ``integrations/jira_tracker.py`` so the webhook endpoint, which every ``serve`` builds
its routes from, does not import the ``jira`` client and its dependencies on a bot without Jira.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from workflows.changes.tracker import TrackerUpdate

BOT_MARK = "[ISMS]"
"""Starts every comment the bot writes, so its own comments are never read back as a person's."""


def parse_time(value: str) -> datetime:
    """Jira's ``2026-11-23T10:00:00.000+0000``."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")


def human_comment(fields: Mapping[str, Any], latest: Mapping[str, Any] | None = None) -> tuple[str | None, str | None]:
    """The newest comment a person wrote (the bot's own carry ``BOT_MARK``), with its author."""
    comments = list((fields.get("comment") or {}).get("comments") or [])
    if latest:
        comments.append(latest)
    for comment in reversed(comments):
        body = str(comment.get("body") or "").strip()
        if body and not body.startswith(BOT_MARK):
            return body, (comment.get("author") or {}).get("displayName")
    return None, None


def update_from_issue(
    key: str, fields: Mapping[str, Any], latest_comment: Mapping[str, Any] | None = None, author: str | None = None
) -> TrackerUpdate:
    """What an issue's fields (REST or webhook JSON) say, as the workflow's TrackerUpdate."""
    comment, comment_author = human_comment(fields, latest_comment)
    return TrackerUpdate(
        key=key,
        status=str((fields.get("status") or {}).get("name") or ""),
        updated=parse_time(str(fields["updated"])),
        resolution=(fields.get("resolution") or {}).get("name"),
        comment=comment,
        author=author or comment_author,
    )
