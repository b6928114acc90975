"""The auditor's evidence bundle: one zip with the records of a period, the evidence the bot holds,
the registers, a manifest of SHA-256 sums and the chain head, and a README saying how to check it
with standard tools (``unzip``, ``sha256sum -c``, ``python3 tools/verify_records.py``).

The bot keeps no copy of files shared in Slack (it fetches each once to hash it): the evidence
register lists every file's Slack id and SHA-256, so a file the auditor gets is checked against it.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from storage import records

MANIFEST = "SHA256SUMS"

README = """Evidence bundle of {organisation}, period {period}
Made {made} by the ISMS bot. Chain head at that time: {head}

Contents
  records.jsonl      the records of the period, one JSON object a line, with their hashes
                     (and the seals of the whole chain, "type": "seal")
  registers/*.csv    incident register, evidence register (with file SHA-256), change register
  evidence/EV-*/     what owners handed in as text, links or numbers, one file per answer
  HEAD               the chain head (SEQ:HASH) when the bundle was made
  SHA256SUMS         the SHA-256 of every file above

How to check it
  1. unzip bundle.zip -d bundle && cd bundle
  2. sha256sum -c SHA256SUMS          every line must say OK; one changed byte fails
  3. Compare HEAD with a head published in the reports channel or the heads file
     (`isms-bot records verify --expect-head SEQ:HASH` checks the live log against it).
  4. Each record carries its own hash and its predecessor's; recompute them as docs/records.md says,
     or run python3 tools/verify_records.py on a full export (`isms-bot records export`).
Files shared in Slack are not in the bundle: registers/evidence.csv lists each with its SHA-256.
"""


def write(
    path: Path,
    *,
    session: Session,
    organisation: str,
    period: str,
    since: datetime,
    until: datetime,
    made: datetime,
    registers: Iterable[tuple[str, Iterator[str]]],
    answers: Iterable[tuple[str, int, str]],
) -> tuple[int, str]:
    """Write the bundle; returns (records in it, SHA-256 of the zip)."""
    sums: list[tuple[str, str]] = []
    count = 0
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as bundle:

        def add(name: str, chunks: Iterable[str]) -> None:
            digest = hashlib.sha256()
            with bundle.open(name, "w") as handle:
                for chunk in chunks:
                    data = chunk.encode("utf-8")
                    digest.update(data)
                    handle.write(data)
            sums.append((digest.hexdigest(), name))

        def record_lines() -> Iterator[str]:
            nonlocal count
            for row in records.export_rows(session, since=since, until=until):
                count += 1
                yield json.dumps(row, ensure_ascii=False) + "\n"
            for seal in records.export_seals(session):
                yield json.dumps(seal) + "\n"

        add("records.jsonl", record_lines())
        for name, chunks in registers:
            add(f"registers/{name}.csv", chunks)
        for ref, round_, text in answers:
            add(f"evidence/{ref}/answer-round-{round_}.txt", [text])
        head = str(records.head(session))
        add("HEAD", [head + "\n"])
        add("README.txt", [README.format(organisation=organisation, period=period, made=made.isoformat(), head=head)])
        bundle.writestr(MANIFEST, "".join(f"{digest}  {name}\n" for digest, name in sums))
    return count, hashlib.sha256(path.read_bytes()).hexdigest()
