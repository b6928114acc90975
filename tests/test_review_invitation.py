"""A management review's calendar invitation (.ics, RFC 5545) and its input pack as HTML: the .ics
parses with the RFC's own rules (CRLF, folded lines of at most 75 octets, escaped text), its UID stays
the same when the review moves (SEQUENCE goes up), and the pack opens in headless Chromium."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from config.organisation import load_organisation
from config.settings import PACKAGED_EXAMPLE_ORG
from storage.models import Review
from tests.browser import dom_of, screenshot
from tests.support import PROCESS_IDS
from tests.test_reports import chromium
from tests.test_review_pack import review_org, seed_other_processes
from tests.world import World, berlin, make_world
from workflows.review import invitation


@pytest.fixture
def world(settings, clock, tmp_path) -> Iterator[World]:
    world = make_world(settings, clock, review_org(tmp_path, location="Board room; 3rd floor, \\ east wing"))
    yield world
    world.close()


def parse_ics(text: str) -> list[tuple[str, dict[str, str], str]]:
    """(name, parameters, value) of every content line, after checking line ends and folding."""
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    physical = text.split("\r\n")[:-1]
    assert all(len(line.encode("utf-8")) <= 75 for line in physical), [line for line in physical if len(line) > 75]
    unfolded: list[str] = []
    for line in physical:
        if line.startswith(" "):
            unfolded[-1] += line[1:]
        else:
            unfolded.append(line)
    parsed = []
    for line in unfolded:
        match = re.match(r'^([A-Z-]+)((?:;[A-Z-]+=(?:"[^"]*"|[^;:]*))*):(.*)$', line)
        assert match, line
        params = dict((name, value.strip('"')) for name, value in re.findall(r';([A-Z-]+)=("[^"]*"|[^;:]*)', match[2]))
        parsed.append((match[1], params, match[3]))
    return parsed


def unescape(value: str) -> str:
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m[1] in "nN" else m[1], value)


def latest_ics(world: World) -> str:
    return str(world.records("review-scheduled", "GOV")[-1][3]["ics"])


def test_the_invitation_parses_with_uid_start_and_attendees(world):
    world.tick()
    lines = parse_ics(latest_ics(world))

    names = [name for name, _, _ in lines]
    assert names[:2] == ["BEGIN", "VERSION"] and names[-1] == "END"
    assert names.count("BEGIN") == names.count("END") == 2
    props = {name: value for name, _, value in lines}
    assert props["UID"] == "rev-2027-01@isms-bot"
    assert props["DTSTART"] == "20270315T090000Z"  # 10:00 in Berlin
    assert props["DTEND"] == "20270315T110000Z"
    assert props["SEQUENCE"] == "0" and props["METHOD"] == "REQUEST"
    assert unescape(props["LOCATION"]) == "Board room; 3rd floor, \\ east wing"
    assert unescape(props["SUMMARY"]) == "Management review (REV-2027-01)"
    attendees = {value: params for name, params, value in lines if name == "ATTENDEE"}
    assert set(attendees) == {f"mailto:{p}@example.org" for p in ("mia", "alice", "olga", "sam")}
    assert attendees["mailto:mia@example.org"]["ROLE"] == "CHAIR"
    assert attendees["mailto:olga@example.org"]["CN"] == "Olga Ortiz"
    organiser = next((params, value) for name, params, value in lines if name == "ORGANIZER")
    assert organiser == ({"CN": "Mia Moreau"}, "mailto:mia@example.org")


def test_moving_a_review_keeps_its_uid_and_raises_the_sequence(world):
    world.tick()
    refused = world.command("alice", "review move REV-2027-01 2026-01-05 10:00")
    assert refused.reply is not None and refused.reply.text == "That time has passed: pick a time in the future."
    nonsense = world.command("alice", "review move REV-2027-01 next week")
    assert nonsense.reply is not None and nonsense.reply.text.startswith("Usage: /isms review move")
    employee = world.command("erin", "review move REV-2027-01 2027-03-22 14:00")
    assert employee.reply is not None and "is for ISMS manager only" in employee.reply.text

    moved = world.command("alice", "review move REV-2027-01 2027-03-22 14:00")
    world.deliver()

    assert moved.reply is not None and moved.reply.text == (
        "REV-2027-01 moved to Mon 22 Mar 2027, 14:00 (Europe/Berlin); the attendees are told."
    )
    props = {name: value for name, _, value in parse_ics(latest_ics(world))}
    assert (props["UID"], props["SEQUENCE"], props["DTSTART"]) == ("rev-2027-01@isms-bot", "1", "20270322T130000Z")
    with world.ctx.read() as session:
        review = session.scalars(select(Review)).one()
    assert review.pack_due_at == berlin(2027, 3, 15, 14, 0)
    assert "Moved: Management review REV-2027-01, Mon 22 Mar 2027, 14:00 (Europe/Berlin)" in world.chat.texts("olga")
    told = next(m for m in world.chat.to("olga") if m.text.startswith("Moved:"))
    assert "clause 9.3) comes Mon 15 Mar 2027, 14:00 (Europe/Berlin)." in told.body  # the pack's own time
    world.tick()
    assert len(world.records("review-scheduled", "GOV")) == 2  # the planned occurrence is not scheduled again

    world.at(berlin(2027, 3, 15, 14, 0))  # the pack goes out; a later move keeps that pack
    world.command("alice", "review move REV-2027-01 2027-03-23 09:00")
    world.deliver()
    told = [m for m in world.chat.to("olga") if m.text.startswith("Moved:")][-1]
    assert "Mar 2027, 09:00" in told.text and "was already sent to you; it stays as it was." in told.body


def test_cancelling_a_review_sends_the_cancellation_of_the_same_event_and_no_pack(world):
    world.tick()
    usage = world.command("alice", "review cancel REV-2027-01")
    assert (
        usage.reply is not None
        and usage.reply.text == "Usage: /isms review cancel REV-<year>-<n> <why it is cancelled>"
    )
    employee = world.command("erin", "review cancel REV-2027-01 Budget freeze")
    assert employee.reply is not None and "is for ISMS manager only" in employee.reply.text

    cancelled = world.command("alice", "review cancel REV-2027-01 The board meets in April instead")
    world.deliver()

    assert cancelled.reply is not None and cancelled.reply.text == "REV-2027-01 is cancelled; the attendees are told."
    (record,) = world.records("review-cancelled", "GOV")
    assert (record[3]["reason"], record[3]["from"]) == ("The board meets in April instead", "scheduled")
    props = {name: value for name, _, value in parse_ics(str(record[3]["ics"]))}
    assert (props["METHOD"], props["STATUS"], props["UID"], props["SEQUENCE"]) == (
        "CANCEL",
        "CANCELLED",
        "rev-2027-01@isms-bot",
        "1",
    )
    told = next(m for m in world.chat.to("olga") if m.text.startswith("Cancelled:"))
    assert told.text == "Cancelled: Management review REV-2027-01, Mon 15 Mar 2027, 10:00 (Europe/Berlin)"
    assert told.body == "Reason: The board meets in April instead"
    shared = world.chat.files("person:olga")[-1]
    assert shared.filename.endswith(".ics") and "METHOD:CANCEL" in shared.content.decode()
    world.at(berlin(2027, 3, 15, 14, 0))  # past the time the pack would have gone out
    assert world.records("pack-assembled", "GOV") == []
    again = world.command("alice", "review cancel REV-2027-01 once more")
    assert again.reply is not None and again.reply.text == "REV-2027-01 was cancelled."
    move = world.command("alice", "review move REV-2027-01 2027-03-22 14:00")
    assert move.reply is not None and move.reply.text == "REV-2027-01 was cancelled."
    decide = world.command("alice", "review decide REV-2027-01")  # no form for a review that will not meet
    assert decide.form is None and decide.reply is not None and decide.reply.text == "REV-2027-01 was cancelled."


def test_text_is_escaped_and_long_lines_folded_inside_characters():
    review = Review(
        ref="REV-2027-02",
        title="Überprüfung, Teil; 2 " + "ä" * 60,
        starts_at=datetime(2027, 5, 1, 8, 0, tzinfo=UTC),
        ends_at=datetime(2027, 5, 1, 9, 0, tzinfo=UTC),
        chair="mia",
        attendees="mia",
        location="",
        sequence=3,
    )
    org = load_organisation(PACKAGED_EXAMPLE_ORG, PROCESS_IDS)
    text = invitation.ics(org, review, datetime(2027, 4, 1, tzinfo=UTC), description="Line one\nLine two")
    props = {name: value for name, _, value in parse_ics(text)}
    assert unescape(props["SUMMARY"]) == f"{review.title} (REV-2027-02)"
    assert unescape(props["DESCRIPTION"]) == "Line one\nLine two"
    assert props["SEQUENCE"] == "3" and props["DTSTAMP"] == "20270401T000000Z"


def test_the_html_pack_is_self_contained_escaped_and_renders_in_chromium(world, tmp_path):
    binary = chromium()
    world.tick()
    with world.ctx.work(world.actor("alice")) as work:
        work.record("IMPR", "suggestion-made", ("suggestion", "IMPR-9"), {"text": "<script>alert(1)</script> & co"})
    seed_other_processes(world)
    world.at(berlin(2027, 3, 8, 10, 0))
    with world.ctx.read() as session:
        html = session.scalars(select(Review.pack_html)).one()
    assert html is not None and "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html
    page = tmp_path / "pack.html"
    page.write_text(html, encoding="utf-8")
    dom = dom_of(binary, page)
    inputs = dict(re.findall(r'data-input="([^"]+)" data-has-data="(yes|no)"', dom))
    assert len(inputs) == 13
    assert inputs["audits"] == "yes" and inputs["issues"] == "no"
    assert "No changes in external or internal issues recorded" in dom
    shot = screenshot(binary, page, tmp_path / "pack.png")
    assert shot.exists() and shot.stat().st_size > 10_000


def test_the_cli_writes_the_stored_pack_and_the_invitation(world, db_url, tmp_path):
    world.tick()
    runner = CliRunner()
    env = {"ISMS_DATABASE_URL": db_url, "ISMS_CONFIG": str(world.runtime.settings.config_path)}
    early = runner.invoke(app, ["review", "REV-2027-01", "--format", "md", "--out", str(tmp_path / "p.md")], env=env)
    assert early.exit_code == 2 and "The input pack of REV-2027-01 is not assembled yet." in early.output
    unknown = runner.invoke(app, ["review", "REV-1999-09", "--out", str(tmp_path / "x")], env=env)
    assert unknown.exit_code == 2 and "There is no management review REV-1999-09" in unknown.output

    world.at(berlin(2027, 3, 8, 10, 0))
    wrote = runner.invoke(app, ["review", "rev-2027-01", "--format", "md", "--out", str(tmp_path / "p.md")], env=env)
    assert wrote.exit_code == 0, wrote.output
    stored = world.records("pack-assembled", "GOV")[0][3]
    assert hashlib.sha256((tmp_path / "p.md").read_bytes()).hexdigest() == stored["sha256"]
    ics = runner.invoke(app, ["review", "REV-2027-01", "--format", "ics", "--out", str(tmp_path / "r.ics")], env=env)
    assert ics.exit_code == 0, ics.output
    props = {name: value for name, _, value in parse_ics((tmp_path / "r.ics").read_bytes().decode("utf-8"))}
    assert props["UID"] == "rev-2027-01@isms-bot" and props["DTSTART"] == "20270315T090000Z"
