"""Logging that never shows a secret: every configured secret value is masked in every log line."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from config.settings import Settings

MASK = "[secret]"


class SecretMask(logging.Filter):
    """Replace secret values wherever they appear in a formatted log message (and its exception)."""

    def __init__(self, secrets: list[str]):
        super().__init__()
        self._secrets = [s for s in secrets if len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        for secret in self._secrets:
            message = message.replace(secret, MASK)
            if record.exc_text:
                record.exc_text = record.exc_text.replace(secret, MASK)
        record.msg, record.args = message, None
        return True


def secret_values(settings: Settings) -> list[str]:
    fields = (
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "jira_api_token",
        "jira_pat",
        "jira_webhook_secret",
        "msgraph_client_secret",
        "records_key",
    )
    values = [getattr(settings, name) for name in fields]
    return [value.get_secret_value() for value in values if value is not None]


class CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of each line, not the one at start-up: a
    test runner or an embedding program that swaps (and closes) stderr never breaks logging."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        """StreamHandler's constructor sets a stream; the current stderr is always used instead."""


def configure_logging(settings: Settings, level: int = logging.INFO) -> None:
    handler = CurrentStderr()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(SecretMask(secret_values(settings)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
