"""One bot process for the PostgreSQL scheduler tests: the real runtime, scheduler and outbox
dispatcher, on a clock the test controls through a file, sending chat messages by appending their
outbox keys to a file. It prints ``leader`` or ``standby`` whenever its role changes.

Usage: python -m tests.scheduler_process DATABASE_URL ORG_FILE CLOCK_FILE SENT_FILE
"""

from __future__ import annotations

import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.runtime import build_runtime
from bot.scheduler import BotScheduler
from config.settings import load_settings
from storage.outbox import Effect
from workflows.kernel.work import Context


def main(url: str, org: str, clock_file: str, sent_file: str) -> None:
    def clock() -> datetime:
        return datetime.fromisoformat(Path(clock_file).read_text(encoding="utf-8").strip())

    def chat(ctx: Context):  # type: ignore[no-untyped-def]
        def send(effect: Effect) -> dict[str, Any]:
            with open(sent_file, "a", encoding="utf-8") as sent:
                sent.write(effect.key + "\n")
            return {"channel": effect.payload["to"], "ts": effect.key}

        return send

    runtime = build_runtime(load_settings(ISMS_DATABASE_URL=url, ISMS_CONFIG=org), chat, clock=clock)
    threading.Thread(target=runtime.dispatcher.run_forever, args=(threading.Event(), 0.05), daemon=True).start()
    scheduler = BotScheduler(runtime.ctx, runtime.engine, tick_seconds=0.2, recheck_seconds=0.2).start()
    leading: bool | None = None
    while True:
        if scheduler.is_leader != leading:
            leading = scheduler.is_leader
            print("leader" if leading else "standby", flush=True)
        time.sleep(0.05)


if __name__ == "__main__":
    main(*sys.argv[1:5])
