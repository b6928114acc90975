"""The outbox sender that fetches a file shared in Slack as evidence and hashes its content.

files.info gives the name, size and private download address; the content is downloaded with the
bot token (Slack needs the ``files:read`` scope) and hashed while it streams, so a large file never
sits in memory. Slack answers a download without a valid token with its login page and HTTP 200, so
an HTML answer for a file that is not HTML is refused instead of being hashed as evidence. The token
is only ever sent to Slack's own hosts.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from slack_sdk import WebClient

from integrations.slack_sender import slack_call
from storage.outbox import Effect, RetryLater, Undeliverable

CHUNK = 64 * 1024


class SlackFileSender:
    """Sends ``slack.file`` effects (payload: ``file_id``, ``max_bytes``); answers name, size, SHA-256."""

    def __init__(self, client: WebClient, token: str, api_url: str, timeout: float = 30.0):
        self._client = client
        self._token = token
        self._api_host = urlsplit(api_url).hostname or ""
        self._timeout = timeout

    def __call__(self, effect: Effect) -> dict[str, Any]:
        max_bytes = int(effect.payload["max_bytes"])
        info = slack_call(self._client.files_info, file=effect.payload["file_id"])["file"]
        name, size = info.get("name"), info.get("size")
        if isinstance(size, int) and size > max_bytes:
            raise Undeliverable(f"{name} has {size} bytes, more than the {max_bytes} allowed")
        url = info.get("url_private_download") or info.get("url_private")
        if not url:
            raise Undeliverable("Slack gave no download address for the file")
        digest, length = self._download(url, max_bytes, info.get("mimetype") or "")
        return {"name": name, "size": length, "sha256": digest, "mimetype": info.get("mimetype")}

    def _trusted(self, url: str) -> bool:
        host = urlsplit(url).hostname or ""
        return host == self._api_host or host == "slack.com" or host.endswith(".slack.com")

    def _download(self, url: str, max_bytes: int, mimetype: str) -> tuple[str, int]:
        if not self._trusted(url):
            raise Undeliverable(f"refusing to send the bot token to {urlsplit(url).hostname}")
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {self._token}"})
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                served = response.headers.get_content_type()
                if served == "text/html" and not mimetype.startswith("text/html"):
                    raise Undeliverable("Slack answered with its login page: the bot token lacks files:read")
                digest, length = hashlib.sha256(), 0
                while chunk := response.read(CHUNK):
                    length += len(chunk)
                    if length > max_bytes:
                        raise Undeliverable(f"the file is larger than the {max_bytes} bytes allowed")
                    digest.update(chunk)
        except urllib.error.HTTPError as error:
            if error.code == 429:
                retry_after = float(error.headers.get("Retry-After") or 1.0)
                raise RetryLater("Slack is throttling downloads (429)", retry_after) from None
            if error.code in (401, 403, 404, 410):
                raise Undeliverable(f"Slack refused the download: HTTP {error.code}") from None
            raise RetryLater(f"Slack answered HTTP {error.code} to the download") from None
        except (urllib.error.URLError, OSError) as error:
            raise RetryLater(f"download failed: {type(error).__name__}") from None
        return digest.hexdigest(), length
