"""The embedded default end to end in the console chat: a change request through the local tracker,
from the form to the requester's verification, with every message printed to its recipient."""

from __future__ import annotations

from bot.runtime import build_runtime
from tests.test_console import scripted
from tests.world import change

REQUEST = [
    "/isms change",
    "Enforce MFA on the VPN",
    "Require MFA for every VPN login",
    "Phished VPN password",
    "",
    "A.8.5 Secure authentication",
    "Enable in the IdP",
    "Switch the policy off",
    "3",
    "2",
]


def test_a_significant_change_through_risk_approval_local_ticket_and_verification(settings, clock):
    # Buttons are numbered in the order the console printed them: [1] Evaluate risk (to Olga),
    # [2] Approve and [3] Decline (to Alice), [4] It works and [5] It does not work (to Erin).
    console, output = scripted(
        [
            *REQUEST,
            "/as olga@example.org",
            "1",
            "4",
            "3",
            "Only VPN users are affected",
            "/as alice@example.org",
            "/isms changes",
            "2",
            "Mandatory after the phishing incident",
            "/isms ticket LOCAL-1 progress",
            "/isms ticket LOCAL-1 done MFA enforced for all 52 VPN users",
            "/as erin@example.org",
            "4",
            "/isms changes",
            "/quit",
        ]
    )
    runtime = build_runtime(settings, console.deliver, clock=clock)
    console.attach(runtime, "erin@example.org")

    console.run()

    text = "\n".join(output)
    # One message about the request, the answer to the form (issue 13), not an answer and a DM.
    assert text.count("change CHG-2026-0001 is recorded") == 1
    assert (
        "Your request for change CHG-2026-0001 is recorded: Enforce MFA on the VPN\n"
        "Next: risk evaluation by Olga Ortiz, then approval." in text
    )
    assert "[to Erin Evans] Your request for change" not in text
    assert "[to Olga Ortiz] Please evaluate the risk of change CHG-2026-0001: Enforce MFA on the VPN" in text
    assert "Thank you: the risk of CHG-2026-0001 is recorded and the change goes to approval." in text
    assert "Risk: likelihood 4/5, impact 3/5. Only VPN users are affected" in text
    assert "CHG-2026-0001 Waiting for approval: Enforce MFA on the VPN (no tracker issue yet, high priority)" in text
    assert "[awaiting-approval]" not in text
    assert "[to Erin Evans] Change CHG-2026-0001 now has tracker issue LOCAL-1." in text
    assert "LOCAL-1 (CHG-2026-0001) is now In Progress." in text
    assert "[to Erin Evans] Change CHG-2026-0001 is implemented (LOCAL-1). Does it work as intended?" in text
    assert "Thank you: CHG-2026-0001 is verified." in text
    assert "[to Erin Evans] Change CHG-2026-0001 is done: verified. Enforce MFA on the VPN" in text
    assert text.rstrip().endswith("You have no open changes.")
    assert change(runtime.ctx, "CHG-2026-0001").risk_owner == "olga"
    runtime.engine.dispose()


def test_a_form_error_is_asked_again_in_the_console(settings, clock):
    console, output = scripted(["/isms change", "", "What", "Why", "", "", "", "", "", "", "A real title", "/quit"])
    runtime = build_runtime(settings, console.deliver, clock=clock)
    console.attach(runtime, "erin@example.org")

    console.run()

    text = "\n".join(output)
    assert "! Title: Please fill in this field." in text
    assert "Your request for change CHG-2026-0001 is recorded" in text
    assert change(runtime.ctx, "CHG-2026-0001").title == "A real title"
    runtime.engine.dispose()
