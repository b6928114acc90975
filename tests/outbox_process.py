"""One process draining the outbox into Slack, for the crash tests and bench/outbox_restart.py: the
real dispatcher and Slack sender on the database given, with the lease given. Prints ``ready`` once it
is sending; runs until killed.

Usage: python -m tests.outbox_process DATABASE_URL SLACK_BASE_URL LEASE_SECONDS CONCURRENCY
"""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime, timedelta

from bot.slack.blocks import fallback_text, message_blocks
from config.catalogue import load_catalogue
from config.organisation import load_organisation
from config.settings import PACKAGED_EXAMPLE_ORG
from integrations.slack_sender import SlackChatSender, make_web_client
from storage.db import make_engine, make_sessions
from storage.outbox import Backoff, Dispatcher


def main(url: str, slack_url: str, lease: str, concurrency: str) -> None:
    org = load_organisation(PACKAGED_EXAMPLE_ORG, set(load_catalogue().ids))
    sender = SlackChatSender(make_web_client("xoxb-test", slack_url, timeout=30), org, message_blocks, fallback_text)
    dispatcher = Dispatcher(
        make_sessions(make_engine(url)),
        {"chat.message": sender},
        lambda: datetime.now(UTC),
        lease=timedelta(seconds=float(lease)),
        backoff=Backoff(base=0.05, cap=0.2),
        concurrency=int(concurrency),
    )
    print("ready", flush=True)
    dispatcher.run_forever(threading.Event(), idle=0.05)


if __name__ == "__main__":
    main(*sys.argv[1:5])
