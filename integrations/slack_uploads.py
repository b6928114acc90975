"""The outbox sender that shares a file in Slack (``slack.upload`` effects, workflows/outreach/files.py)
through Slack's current upload API, exactly once.

Sharing is three steps: ``files.getUploadURLExternal`` gives a file id and an upload URL; the bytes
are POSTed to that URL; ``files.completeUploadExternal`` shares the file in a conversation with the
comment beside it. Only the last step is visible, and it is the one that must not happen twice. An
upload that is never completed is discarded by Slack, so repeating the first two steps is harmless.

So the sender saves its progress in the outbox row (``Effect.save``) once the bytes are with Slack:
the file id. An attempt that finds a saved file id (the earlier attempt failed, lost its answer, or
its dispatcher died) first asks ``files.info`` where that file is shared: shared in the conversation
already, the earlier attempt's share is adopted; otherwise the same file is completed, and only if
Slack no longer knows it (an upload never completed is discarded) does the upload start again.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from integrations.slack_sender import slack_call
from storage.outbox import Effect, RetryLater, Undeliverable
from workflows.outreach.files import content_of

log = logging.getLogger(__name__)

GONE = frozenset({"file_not_found", "file_deleted"})


def _escaped(text: str) -> str:
    """The comment is mrkdwn: only ``&``, ``<`` and ``>`` are escaped, so no mention or link is forged."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _places(info: Mapping[str, Any]) -> set[str]:
    """The conversations a file is shared in, as files.info lists them."""
    places = {*info.get("channels", ()), *info.get("groups", ()), *info.get("ims", ())}
    for shares in (info.get("shares") or {}).values():
        places.update(shares)
    return places


class SlackUploadSender:
    """Sends ``slack.upload`` effects (payload: to, filename, title, comment, content, sha256)."""

    def __init__(self, client: WebClient, channel_for: Callable[[str], str], api_url: str, timeout: float = 60.0):
        self._client = client
        self._channel_for = channel_for
        self._api_host = urlsplit(api_url).hostname or ""
        self._timeout = timeout

    def __call__(self, effect: Effect) -> dict[str, Any]:
        payload = effect.payload
        content = content_of(dict(payload))
        channel = self._conversation(str(payload["to"]))
        saved = (effect.progress or {}).get("file_id")
        if saved:
            info = slack_call(self._info, file_id=str(saved))
            if info is not None and channel in _places(info):
                log.info("upload %s was already shared as %s; adopting it", effect.key, saved)
                return {"file_id": saved, "channel": channel, "permalink": info.get("permalink")}
            shared = self._complete(str(saved), channel, payload, missing_ok=True)
            if shared is not None:
                return shared
            # Slack no longer has the bytes (an upload never completed is discarded): upload again
        file_id = self._upload(str(payload["filename"]), content)
        effect.save({"file_id": file_id})
        shared = self._complete(file_id, channel, payload, missing_ok=False)
        assert shared is not None
        return shared

    def _complete(
        self, file_id: str, channel: str, payload: Mapping[str, Any], *, missing_ok: bool
    ) -> dict[str, Any] | None:
        """Step three: share the uploaded file in ``channel`` with the comment beside it; None when
        Slack does not know the file and ``missing_ok``."""
        try:
            answer = slack_call(
                self._client.files_completeUploadExternal,
                files=[{"id": file_id, "title": str(payload["title"])}],
                channel_id=channel,
                initial_comment=_escaped(str(payload.get("comment") or "")),
            )
        except Undeliverable as refusal:
            if missing_ok and str(refusal).removeprefix("Slack refused: ") in GONE:
                return None
            raise
        shared_file = (answer.get("files") or [{}])[0]
        return {"file_id": file_id, "channel": channel, "permalink": shared_file.get("permalink")}

    def _conversation(self, to: str) -> str:
        """A channel id; a person's DM channel (completeUploadExternal takes conversations, not users)."""
        channel = self._channel_for(to)
        if channel[:1] in ("U", "W"):
            channel = str(slack_call(self._client.conversations_open, users=channel)["channel"]["id"])
        return channel

    def _info(self, file_id: str) -> Mapping[str, Any] | None:
        try:
            return dict(self._client.files_info(file=file_id)["file"])
        except SlackApiError as error:
            if error.response.status_code == 200 and error.response.get("error") in GONE:
                return None
            raise

    def _upload(self, filename: str, content: bytes) -> str:
        """Steps one and two: a file id and an upload URL, then the bytes to that URL."""
        answer = slack_call(self._client.files_getUploadURLExternal, filename=filename, length=len(content))
        url, file_id = str(answer["upload_url"]), str(answer["file_id"])
        host = urlsplit(url).hostname or ""
        if not (host == self._api_host or host == "slack.com" or host.endswith(".slack.com")):
            raise Undeliverable(f"refusing to upload to {host}, which is not Slack")
        request = urllib.request.Request(
            url, data=content, method="POST", headers={"Content-Type": "application/octet-stream"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                response.read()
        except urllib.error.HTTPError as error:
            if error.code == 429:
                retry_after = float(error.headers.get("Retry-After") or 1.0)
                raise RetryLater("Slack is throttling uploads (429)", retry_after, maybe_delivered=False) from None
            # nothing is shared before completeUploadExternal: the next attempt starts a new upload
            raise RetryLater(f"Slack answered HTTP {error.code} to the upload", maybe_delivered=False) from None
        except (urllib.error.URLError, OSError) as error:
            raise RetryLater(f"upload failed: {type(error).__name__}", maybe_delivered=False) from None
        return file_id
