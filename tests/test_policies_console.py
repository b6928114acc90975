"""A policy version in the console chat, as its people read it: the author naming themself as approver
is asked again on that field, the author pressing Approve is refused (and it is recorded), the
approver finds the version on their home and approves it, the reports channel hears of it, the
audience is asked to read and accept it at the next tick, and an owner acknowledges it (twice)."""

from __future__ import annotations

from pathlib import Path

from tests.awareness_support import awareness_org
from tests.support import FakeClock
from tests.test_console import run_ticking
from tests.world import records_about, with_org

NEW_VERSION = [
    "/isms policy new",
    "POL-ACCESS",
    "Access control",
    "1.0",
    "https://intranet.example.org/policies/access-control-1.0.pdf",
    "",  # no file shared
    "",  # no SHA-256 typed
    "",  # the owner: the author
    "alice@example.org",  # herself as approver: asked again after the last field
    "2027-06-30",
    "2",  # a role
    "owner",
    "mia@example.org",  # the approver, asked again
]


def test_a_policy_version_is_approved_by_another_person_published_and_acknowledged(
    settings, clock: FakeClock, tmp_path: Path
) -> None:
    runtime, text = run_ticking(
        with_org(settings, awareness_org(tmp_path)),
        clock,
        [
            *NEW_VERSION,
            "1",  # Alice presses Approve on the request shown to Mia
            "/as mia@example.org",
            "/isms home",
            "1",  # Approve and publish
            "1",  # again
            "/as erin@example.org",  # the prompt ticks: the acknowledgement DMs go out
            "3",  # Erin: I have read and accept it
            "3",  # again
            "/as alice@example.org",
            "/isms policies POL-ACCESS",
        ],
        "alice@example.org",
    )

    assert "! Approver: You are writing this version, so somebody else must approve it." in text
    assert "POL-ACCESS “Access control” version 1.0 is with Mia Moreau for approval." in text
    request = text.split("[to Mia Moreau] Policy POL-ACCESS “Access control” version 1.0 waits for your approval")[1]
    assert "Audience: everyone with the role owner" in request
    assert "role:owner" not in text
    assert "[1] Approve and publish" in request and "[2] Reject" in request
    assert (
        "You wrote version 1.0 of POL-ACCESS, so you cannot approve it: Mia Moreau does. "
        "This attempt has been recorded."
    ) in text
    home = text.split("You are Mia Moreau")[1].split("Approved and published")[0]  # her /isms home
    assert "Policy POL-ACCESS “Access control” version 1.0 waits for your approval" in home
    assert (
        "Approved and published: POL-ACCESS “Access control” version 1.0; "
        "campaign AWR-0001 asks its audience to acknowledge it."
    ) in text
    assert "[to #isms_reports] Policy published: POL-ACCESS “Access control” version 1.0" in text
    assert "Approved by: Mia Moreau" in text
    assert "Version 1.0 of POL-ACCESS was already approved by Mia Moreau" in text
    assert "[to Erin Evans] Please read and accept the policy “Access control”, version 1.0" in text
    assert "[to Olga Ortiz] Please read and accept the policy “Access control”, version 1.0" in text
    assert "[to Sam Shah] Please read and accept" not in text  # not an owner
    erin_dm = text.split("[to Erin Evans] Please read and accept the policy")[1].split("[to ")[0]
    assert "[3] I have read and accept it" in erin_dm
    assert (
        "Thank you: recorded that you have read and accepted the policy “Access control”, version 1.0 on "
        "Mon 23 Nov 2026, 10:00 (Europe/Berlin)."
    ) in text
    assert "You already confirmed “Access control”" in text
    assert (
        "version 1.0: approved by Mia Moreau on Mon 23 Nov 2026, 10:00 (Europe/Berlin); written by Alice Adams; "
        "acknowledged 1 of 2 (50%) (AWR-0001)"
    ) in text

    about = [(actor, process, action) for actor, process, action, _ in records_about(runtime.ctx, "POL-ACCESS")]
    assert about[:2] == [("alice", "POL", "version-submitted"), ("alice", "POL", "decision-refused")]
    assert ("mia", "POL", "version-approved") in about and ("mia", "POL", "published") in about
    runtime.engine.dispose()
