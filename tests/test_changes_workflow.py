"""Change requests (CHG) and their verification (IMP) at the workflow level, with the local tracker."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.runtime import Runtime, build_runtime
from config.errors import ConfigError
from config.settings import Settings
from storage.models import Change, LocalTicket, OutboxEffect, Record
from tests.support import FakeClock
from tests.world import (
    Chat,
    actions,
    actor,
    change,
    listen_as_origin,
    org_file,
    records_about,
    with_org,
)
from workflows.changes.flows import ChangeInputError, decide, find, request_change
from workflows.changes.service import home_items
from workflows.kernel.actors import SYSTEM
from workflows.kernel.routing import Request

INCIDENT = ("INC", "INC-2026-0007")


@pytest.fixture
def inbox() -> Chat:
    return Chat()


@pytest.fixture
def runtime(settings: Settings, clock: FakeClock, inbox: Chat) -> Iterator[Runtime]:
    built = build_runtime(settings, inbox, clock=clock)
    yield built
    built.engine.dispose()


def ask(runtime: Runtime, person: str, **fields: object) -> str:
    """Request a change as ``person`` from code, as another process would, and deliver the messages."""
    values: dict[str, object] = {
        "title": "Block USB storage",
        "description": "Disable USB mass storage on laptops",
        "reason": "Malware came in on a USB stick",
        "origin": INCIDENT,
    }
    values.update(fields)
    with runtime.ctx.work(actor(runtime.ctx, person)) as work:
        ref = request_change(work, **values)  # type: ignore[arg-type]
    runtime.dispatcher.drain()
    return ref


def press(runtime: Runtime, person: str, action_id: str, value: str, key: str = "") -> str:
    """Click a button as ``person``; returns the text of the reply (or the form's title)."""
    request = Request(actor(runtime.ctx, person), key or f"{action_id}:{value}:{person}", text=value)
    outcome = runtime.router.action(runtime.ctx, action_id, request)
    runtime.dispatcher.drain()
    if outcome.form is not None:
        return outcome.form.title
    assert outcome.reply is not None
    return outcome.reply.text


def submit(
    runtime: Runtime, person: str, form: str, metadata: str, key: str = "", **values: str
) -> str | dict[str, str]:
    request = Request(
        actor(runtime.ctx, person), key or f"{form}:{metadata}:{person}", values=values, metadata=metadata
    )
    outcome = runtime.router.submit_form(runtime.ctx, form, request)
    runtime.dispatcher.drain()
    if outcome.errors:
        return outcome.errors
    assert outcome.reply is not None
    return outcome.reply.text


def count(runtime: Runtime, model: type) -> int:
    with runtime.ctx.read() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_references_are_gap_free_even_when_a_request_is_rolled_back(runtime, clock):
    first = ask(runtime, "sam")
    with pytest.raises(RuntimeError), runtime.ctx.work(actor(runtime.ctx, "sam")) as work:
        request_change(work, title="Lost", description="d", reason="r", origin=INCIDENT)
        raise RuntimeError("the caller's step failed after asking")
    second = ask(runtime, "sam")
    clock.set(datetime(2026, 12, 31, 23, 30, tzinfo=UTC))  # already 2027 in Berlin, the organisation's zone
    next_year = ask(runtime, "sam")

    assert (first, second, next_year) == ("CHG-2026-0001", "CHG-2026-0002", "CHG-2027-0001")
    assert count(runtime, Change) == 3


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"title": "  "}, {"title": "Please fill in this field."}),
        ({"reason": ""}, {"reason": "Please fill in this field."}),
        ({"description": "x" * 3001}, {"description": "At most 3,000 characters, please (this has 3,001)."}),
        ({"title": "two\nlines"}, {"title": "The title must be one line."}),
        ({"priority": "urgent"}, {"priority": "Priority must be one of low, medium, high, critical."}),
        (
            {"origin": ("XYZ", "X-1")},
            {"origin": "Unknown process 'XYZ': the origin must be a process of the catalogue."},
        ),
        (
            {"origin": ("AUD", " ")},
            {"origin": "The origin needs the reference of the request there (up to 64 characters)."},
        ),
    ],
)
def test_a_bad_request_from_code_stores_nothing(runtime, fields, errors):
    with pytest.raises(ChangeInputError) as raised:
        ask(runtime, "sam", **fields)

    assert raised.value.errors == errors
    assert count(runtime, Change) == 0
    assert count(runtime, Record) == 0


def test_a_request_is_recorded_with_its_origin_and_goes_to_the_approver(runtime, inbox):
    ref = ask(
        runtime, "sam", element="control: A.8.7", plan="GPO on all laptops", fallback="Remove the GPO", priority="high"
    )

    assert records_about(runtime.ctx, ref)[0] == (
        "sam",
        "CHG",
        "requested",
        {
            "title": "Block USB storage",
            "description": "Disable USB mass storage on laptops",
            "reason": "Malware came in on a USB stick",
            "origin": {"process": "INC", "ref": "INC-2026-0007"},
            "element": "control: A.8.7",
            "plan": "GPO on all laptops",
            "fallback": "Remove the GPO",
            "priority": "high",
            "significant": False,
        },
    )
    approval = inbox.to("alice")[-1]
    assert approval.text == f"Change {ref} waits for your decision: Block USB storage"
    assert ("Origin", "INC-2026-0007") in approval.fields and ("Requested by", "Sam Shah") in approval.fields
    assert "Fall-back: Remove the GPO" in approval.body
    assert [b.label for b in approval.buttons] == ["Approve", "Decline"]
    assert inbox.texts("sam") == [f"Your request for change {ref} is recorded: Block USB storage"]
    assert change(runtime.ctx, ref).state == "awaiting-approval"


def test_a_significant_change_is_rated_by_the_risk_owner_before_approval(runtime, inbox):
    ref = ask(runtime, "sam", significant=True)
    assert change(runtime.ctx, ref).state == "risk-evaluation"
    assert inbox.texts("olga") == [f"Please evaluate the risk of change {ref}: Block USB storage"]
    assert inbox.to("alice") == []

    refused = press(runtime, "erin", "change.risk", ref)
    title = press(runtime, "olga", "change.risk", inbox.button("olga", "change.risk"))
    errors = submit(runtime, "olga", "change.risk", ref, likelihood="9", impact="2")
    reply = submit(runtime, "olga", "change.risk", ref, likelihood="4", impact="3", comment="Touches every laptop")

    assert refused == (
        f"Sorry, the risk evaluation of {ref} is for Olga Ortiz (the owner) only. This attempt has been recorded."
    )
    assert title == f"Risk of {ref}"
    assert errors == {"likelihood": "Pick a rating from 1 to 5."}
    assert reply == f"Thank you: the risk of {ref} is recorded and the change goes to approval."
    assert (
        "olga",
        "RA",
        "change-risk-evaluated",
        {"likelihood": 4, "impact": 3, "score": 12, "comment": "Touches every laptop"},
    ) in records_about(runtime.ctx, ref)
    assert "Risk: likelihood 4/5, impact 3/5. Touches every laptop" in inbox.to("alice")[-1].body
    assert change(runtime.ctx, ref).state == "awaiting-approval"


def test_an_employee_cannot_approve_and_the_attempt_is_recorded(runtime):
    ref = ask(runtime, "sam")

    reply = press(runtime, "erin", "change.approve", ref)
    also_by_form = submit(runtime, "erin", "change.approve", ref, reason="looks fine")

    expected = "Sorry, deciding on changes is for ISMS manager only. This attempt has been recorded."
    assert reply == also_by_form == expected
    assert [r[:3] for r in records_about(runtime.ctx, ref) if r[2] == "access-denied"] == [
        ("erin", "CHG", "access-denied"),  # the second, identical attempt is counted, not recorded again
    ]
    assert change(runtime.ctx, ref).state == "awaiting-approval"


def test_a_decision_needs_a_reason(runtime):
    ref = ask(runtime, "sam")

    assert press(runtime, "alice", "change.decline", ref) == f"Decline {ref}"
    assert submit(runtime, "alice", "change.decline", ref, reason="   ") == {
        "reason": "Please fill in the reason for your decision."
    }
    assert submit(runtime, "alice", "change.decline", ref, reason="x" * 1001) == {
        "reason": "At most 1,000 characters, please (this has 1,001)."
    }
    assert change(runtime.ctx, ref).state == "awaiting-approval"


def test_a_declined_change_is_closed_and_the_origin_is_told(runtime, inbox, monkeypatch):
    origin = listen_as_origin(monkeypatch)
    ref = ask(runtime, "sam")

    reply = submit(runtime, "alice", "change.decline", ref, reason="Breaks the label printers")
    again = submit(runtime, "alice", "change.approve", ref, key="second-click", reason="changed my mind")

    assert reply == f"{ref} is declined."
    assert again == f"{ref} is not waiting for a decision (it is declined)."
    finished = origin.named("change-finished")
    assert [(e.source, e.target, e.subject_ref, e.data) for e in finished] == [
        (
            "CHG",
            "INC",
            "INC-2026-0007",
            {"change": ref, "state": "declined", "result": "Declined: Breaks the label printers", "jira_key": None},
        )
    ]
    assert inbox.texts("sam")[-1] == f"Change {ref} was declined. Block USB storage"
    assert actions(runtime.ctx, ref) == ["CHG requested", "CHG declined", "CHG closed"]
    assert [
        (process, action, data["interface"]) for _, process, action, data in records_about(runtime.ctx, INCIDENT[1])
    ] == [
        ("CHG", "sent-to-INC", "change-status"),
        ("CHG", "sent-to-INC", "change-finished"),
    ]
    assert count(runtime, LocalTicket) == 0


def test_the_whole_lifecycle_with_the_local_tracker_reports_to_the_origin(runtime, inbox, monkeypatch):
    origin = listen_as_origin(monkeypatch)
    ref = ask(runtime, "sam")

    submit(runtime, "alice", "change.approve", ref, reason="Needed after INC-2026-0007")
    assert change(runtime.ctx, ref).tracker_key == "LOCAL-1"
    assert change(runtime.ctx, ref).state == "in-implementation"
    early = press(runtime, "sam", "change.verify", ref, key="too-early")
    moved = runtime.router.command(
        runtime.ctx,
        "/isms",
        Request(actor(runtime.ctx, "alice"), "move-1", text="ticket LOCAL-1 done GPO rolled out to 40 laptops"),
    )
    runtime.dispatcher.drain()
    question = inbox.to("sam")[-1]
    verified = press(runtime, "sam", "change.verify", inbox.button("sam", "change.verify"))

    assert early == f"{ref} is not waiting for verification (it is in-implementation)."
    assert moved.reply is not None and moved.reply.text == f"LOCAL-1 ({ref}) is now Done (resolution: Done)."
    assert question.text == f"Change {ref} is implemented (LOCAL-1). Does it work as intended?"
    assert "GPO rolled out to 40 laptops" in question.body
    assert verified == f"Thank you: {ref} is verified."
    assert [e.data["state"] for e in origin.named("change-status")] == [
        "approved",
        "in-implementation",
        "implemented",
        "verified",
    ]
    assert origin.named("change-finished")[0].data == {
        "change": ref,
        "state": "verified",
        "jira_key": "LOCAL-1",
        "result": "Done\nGPO rolled out to 40 laptops\nVerified by Sam Shah: Works as intended.",
    }
    assert [a for a in actions(runtime.ctx, ref) if not a.endswith("sent-to-INC")] == [
        "CHG requested",
        "CHG approved",
        "CHG tracker-linked",
        "IMP implementation-started",
        "CHG tracker-updated",
        "IMP implemented",
        "IMP verification-requested",
        "IMP verified",
        "CHG closed",
    ]
    with runtime.ctx.read() as session:
        ticket = session.scalar(select(LocalTicket))
    assert ticket.comment == "\n".join(
        ["Alice Adams: GPO rolled out to 40 laptops", "Verified by Sam Shah: Works as intended."]
    )


def test_a_change_that_does_not_work_fails_with_the_requesters_result(runtime, inbox, monkeypatch):
    origin = listen_as_origin(monkeypatch)
    ref = ask(runtime, "sam")
    submit(runtime, "alice", "change.approve", ref, reason="ok")
    runtime.router.command(runtime.ctx, "/isms", Request(actor(runtime.ctx, "alice"), "m", text="ticket LOCAL-1 done"))
    runtime.dispatcher.drain()

    refused = press(runtime, "erin", "change.fail", ref)
    title = press(runtime, "sam", "change.fail", ref)
    empty = submit(runtime, "sam", "change.fail", ref, result="")
    reply = submit(runtime, "sam", "change.fail", ref, result="USB keyboards stopped working too")

    assert refused == (
        f"Sorry, the verification of {ref} is for Sam Shah (the owner) or ISMS manager only. "
        "This attempt has been recorded."
    )
    assert title == f"Failed: {ref}"
    assert empty == {"result": "Please fill in this field."}
    assert reply == f"Thank you: {ref} is failed."
    finished = origin.named("change-finished")[0].data
    assert finished["state"] == "failed"
    assert finished["result"].endswith("Failed verification (Sam Shah): USB keyboards stopped working too")
    assert inbox.texts("sam")[-1] == f"Change {ref} failed. Block USB storage"


def test_wont_do_in_the_tracker_fails_the_change(runtime, monkeypatch):
    origin = listen_as_origin(monkeypatch)
    ref = ask(runtime, "sam")
    submit(runtime, "alice", "change.approve", ref, reason="ok")

    runtime.router.command(
        runtime.ctx,
        "/isms",
        Request(actor(runtime.ctx, "alice"), "m", text="ticket LOCAL-1 wontdo Vendor cannot support it"),
    )

    assert change(runtime.ctx, ref).state == "failed"
    assert origin.named("change-finished")[0].data["result"] == "Won't Do\nVendor cannot support it"


def test_the_tracker_issue_can_be_opened_on_creation(settings, clock, inbox, tmp_path):
    path = org_file(tmp_path, live_programme=False, changes={"create_on": "created"})
    runtime = build_runtime(with_org(settings, path), inbox, clock=clock)
    try:
        ref = ask(runtime, "sam")
        assert change(runtime.ctx, ref).tracker_key == "LOCAL-1"
        assert change(runtime.ctx, ref).state == "awaiting-approval"

        runtime.router.command(
            runtime.ctx,
            "/isms",
            Request(actor(runtime.ctx, "alice"), "m", text="ticket LOCAL-1 done worked on it already"),
        )
        assert change(runtime.ctx, ref).state == "awaiting-approval"  # not approved: the tracker cannot close it
        submit(runtime, "alice", "change.approve", ref, reason="ok")

        assert change(runtime.ctx, ref).state == "implemented"
        assert inbox.to("sam")[-1].text == f"Change {ref} is implemented (LOCAL-1). Does it work as intended?"
    finally:
        runtime.engine.dispose()


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"priorities": {"urgent": "Highest"}}, "changes.priorities"),
        ({"labels": ["two words"]}, "changes.labels"),
        ({"issue_types": {"INC": "Bug"}}, "changes.issue_types"),
        ({"statuses": {"Done": "closed"}}, "changes.statuses.Done"),
        ({"create_on": "later"}, "changes.create_on"),
    ],
)
def test_a_bad_changes_section_stops_start_up_naming_the_key(settings, clock, inbox, tmp_path, section, key):
    path = org_file(tmp_path, live_programme=False, changes=section)

    with pytest.raises(ConfigError) as raised:
        build_runtime(with_org(settings, path), inbox, clock=clock)

    assert str(path) in str(raised.value) and key in str(raised.value)


def test_the_list_of_open_changes_depends_on_the_role(runtime):
    mine = ask(runtime, "erin", title="Rotate the VPN certificate")
    ask(runtime, "sam")
    submit(runtime, "alice", "change.approve", mine, reason="ok")

    def listing(person: str) -> str:
        outcome = runtime.router.command(runtime.ctx, "/isms", Request(actor(runtime.ctx, person), "l", text="changes"))
        assert outcome.reply is not None
        return f"{outcome.reply.text}\n{outcome.reply.body}"

    assert listing("alice") == (
        "2 open changes\n"
        "CHG-2026-0001 In implementation: Rotate the VPN certificate (LOCAL-1, medium priority)\n"
        "CHG-2026-0002 Waiting for approval: Block USB storage (no tracker issue yet, medium priority)"
    )
    assert listing("erin") == (
        "1 open change you requested\n"
        "CHG-2026-0001 In implementation: Rotate the VPN certificate (LOCAL-1, medium priority)"
    )
    assert listing("dora") == "You have no open changes.\n"


def test_moving_local_tickets_is_for_the_isms_manager(runtime):
    ask(runtime, "sam")

    def move(person: str, text: str) -> str:
        outcome = runtime.router.command(runtime.ctx, "/isms", Request(actor(runtime.ctx, person), text, text=text))
        assert outcome.reply is not None
        return outcome.reply.text

    assert move("erin", "ticket LOCAL-1 done") == (
        "Sorry, moving local tickets is for ISMS manager only. This attempt has been recorded."
    )
    assert move("alice", "ticket LOCAL-1 finished") == (
        "Usage: /isms ticket LOCAL-<n> todo|progress|done|wontdo [comment]"
    )
    assert move("alice", "ticket LOCAL-9 done") == (
        "There is no local ticket LOCAL-9. /isms changes lists changes with their tickets."
    )
    with runtime.ctx.read() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(OutboxEffect).where(OutboxEffect.kind.startswith("tracker."))
            )
            == 0
        )


def test_a_repeated_ticket_move_acts_once_and_bad_input_is_refused_before_it_is_explained(runtime):
    ref = ask(runtime, "sam")
    submit(runtime, "alice", "change.approve", ref, reason="ok")

    def move(person: str, text: str, key: str) -> str:
        outcome = runtime.router.command(runtime.ctx, "/isms", Request(actor(runtime.ctx, person), key, text=text))
        assert outcome.reply is not None
        return outcome.reply.text

    first = move("alice", "ticket LOCAL-1 progress", "same-key")
    again = move("alice", "ticket LOCAL-1 progress", "same-key")
    nonsense = move("erin", "ticket LOCAL-1 finished", "erin-1")

    assert first == f"LOCAL-1 ({ref}) is now In Progress."
    assert again == "LOCAL-1 was already moved."
    assert nonsense == "Sorry, moving local tickets is for ISMS manager only. This attempt has been recorded."
    assert actions(runtime.ctx, ref).count("CHG tracker-updated") == 1


def test_a_move_the_lifecycle_does_not_allow_stores_nothing(runtime):
    ref = ask(runtime, "sam")
    submit(runtime, "alice", "change.decline", ref, reason="Not now")
    before = actions(runtime.ctx, ref)

    with (
        pytest.raises(RuntimeError, match="cannot move from declined to approved"),
        runtime.ctx.work(actor(runtime.ctx, "alice")) as work,
    ):
        decide(work, find(work, ref), approve=True, reason="changed my mind")

    assert change(runtime.ctx, ref).state == "declined"
    assert actions(runtime.ctx, ref) == before


def test_simultaneous_requests_get_consecutive_unique_references(runtime):
    start = threading.Barrier(12)

    def one(index: int) -> str:
        start.wait()  # all twelve take their first number of a new series at the same moment
        with runtime.ctx.work(actor(runtime.ctx, "sam")) as work:
            return request_change(work, title=f"Change {index}", description="d", reason="r", origin=INCIDENT)

    with ThreadPoolExecutor(12) as pool:
        refs = list(pool.map(one, range(12)))

    assert sorted(refs) == [f"CHG-2026-{n:04d}" for n in range(1, 13)]
    with runtime.ctx.read() as session:
        titles = {c.ref: c.title for c in session.scalars(select(Change))}
    assert {ref: titles[ref] for ref in refs} == {ref: f"Change {i}" for i, ref in enumerate(refs)}


def test_home_shows_what_waits_for_each_person(runtime):
    decision = ask(runtime, "sam", title="Needs a decision")
    rating = ask(runtime, "sam", title="Needs a rating", significant=True)
    implemented = ask(runtime, "erin", title="Needs a verification")
    submit(runtime, "alice", "change.approve", implemented, reason="ok")
    runtime.router.command(runtime.ctx, "/isms", Request(actor(runtime.ctx, "alice"), "m", text="ticket LOCAL-1 done"))

    def items(person: str) -> list[tuple[str, tuple[str, ...]]]:
        return [
            (m.text, tuple(b.action_id for b in m.buttons)) for m in home_items(runtime.ctx, actor(runtime.ctx, person))
        ]

    assert items("alice") == [
        (f"Change {decision} waits for your decision: Needs a decision", ("change.approve", "change.decline"))
    ]
    assert items("olga") == [(f"Change {rating} waits for your risk evaluation: Needs a rating", ("change.risk",))]
    assert items("erin") == [
        (f"Change {implemented} is implemented: does it work? Needs a verification", ("change.verify", "change.fail"))
    ]
    assert items("dora") == []


def test_a_change_from_scheduled_work_is_followed_by_the_owner_of_the_requesting_process(runtime, inbox):
    with runtime.ctx.work(SYSTEM) as work:
        ref = request_change(
            work,
            title="Fix the finding of audit AUD-2026-01",
            description="Missing MFA on the VPN",
            reason="Nonconformity NC-3",
            origin=("AUD", "AUD-2026-01-NC-3"),
        )
    runtime.dispatcher.drain()

    assert change(runtime.ctx, ref).requester == "aldo"  # the AUD process owner in the example organisation
    assert inbox.texts("aldo") == [f"Your request for change {ref} is recorded: Fix the finding of audit AUD-2026-01"]
    assert records_about(runtime.ctx, ref)[0][:3] == ("system", "CHG", "requested")
