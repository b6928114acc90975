"""Evidence requests reach people outside Slack by mail (Microsoft 365, against the Graph double): an
external auditor listed with an e-mail and no Slack id gets the request, reminders and the overdue
notice by mail, once each; escalations go to the directory's manager when the file names none, and
the record says where the manager came from; a DM Slack refuses for good because of the person (the
Slack double: ``account_inactive``, ``users_not_found``) goes out as one mail instead, recorded."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from bot.runtime import build_runtime
from bot.slack.blocks import fallback_text, message_blocks
from config.settings import PACKAGED_EXAMPLE_ORG, Settings
from integrations.graph import start
from integrations.slack_sender import SlackChatSender, make_web_client
from storage.models import OutboxEffect
from tests.doubles.graph_api import GraphDouble
from tests.doubles.slack_api import SlackApiDouble
from tests.support import FakeClock
from tests.test_graph import G_AUD, G_SEC, graph_settings, trusting
from tests.world import EVIDENCE, Chat, World, berlin, programme_world
from workflows.directory.flows import sync
from workflows.kernel.actors import SYSTEM
from workflows.kernel.recipients import Recipient
from workflows.kernel.ui import Message
from workflows.kernel.work import Context
from workflows.outreach.mail import fallback_key

TOKEN = "xoxb-test"
SECRET = "graph-secret-value-1"


@pytest.fixture
def graph() -> Iterator[GraphDouble]:
    with GraphDouble(client_secret=SECRET) as double:
        for user_id, mail in (
            ("u-alice", "alice@example.org"),
            ("u-olga", "olga@example.org"),
            ("u-mia", "mia@example.org"),
            ("u-erin", "erin@example.org"),
            ("u-xena", "xena@auditfirm.example"),
            ("u-boss", "boss@auditfirm.example"),
        ):
            double.add_user(user_id, mail, user_id.removeprefix("u-").title())
        double.set_manager("u-olga", "u-alice")  # the file says mia, and wins
        double.set_manager("u-xena", "u-boss")  # the file names no manager
        double.add_group(G_AUD, "Auditors", ["u-xena"])
        yield double


def org_with(tmp_path: Path, programme: list[dict[str, Any]]) -> Path:
    org = yaml.safe_load(PACKAGED_EXAMPLE_ORG.read_text(encoding="utf-8"))
    org["activities"].pop("start")
    org["activities"]["programme"] = programme
    org["people"].append(  # an external auditor: an e-mail, no Slack id, no manager in the file
        {"id": "xena", "name": "Xena External", "email": "xena@auditfirm.example", "roles": ["auditor"]}
    )
    org["microsoft365"] = {
        "group_roles": {G_SEC: ["security_team"], G_AUD: ["auditor"]},
        "mailbox": "alice",
        "refresh_minutes": 10080,
    }
    path = tmp_path / f"org-mail-{len(programme)}-{programme[0].get('owner', 'default')}.yaml"
    path.write_text(yaml.safe_dump(org, sort_keys=False), encoding="utf-8")
    return path


def graph_world(
    settings: Settings, clock: FakeClock, graph: GraphDouble, tmp_path: Path, programme: list[dict[str, Any]]
) -> World:
    configured = graph_settings(settings, graph, org_with(tmp_path, programme))
    chat = Chat()
    return World(
        build_runtime(configured, chat, clock=clock, microsoft365=start(configured, trusting(graph))), chat, clock
    )


def mails(graph: GraphDouble) -> list[tuple[str, str]]:
    return [
        (",".join(r["emailAddress"]["address"] for r in mail["toRecipients"]), mail["subject"])
        for mail in graph.mailbox("u-alice").sent
    ]


LADDER = (  # a request due Thu 31 Dec 2026 17:00: the ask, 3 reminders, overdue, manager, ISMS manager, review
    berlin(2026, 12, 17, 17, 0),
    berlin(2026, 12, 24, 9, 0),
    berlin(2026, 12, 30, 9, 0),
    berlin(2026, 12, 31, 9, 0),
    berlin(2027, 1, 1, 9, 0),
    berlin(2027, 1, 4, 8, 0),
    berlin(2027, 1, 7, 9, 0),
    berlin(2027, 1, 14, 9, 0),
)


def climb(world: World) -> None:
    for moment in LADDER:
        world.at(moment)


@pytest.fixture
def xena_world(settings: Settings, clock: FakeClock, graph: GraphDouble, tmp_path: Path) -> Iterator[World]:
    world = graph_world(settings, clock, graph, tmp_path, [{"activity": "RA/risk-review", "owner": "xena"}])
    yield world
    world.runtime.engine.dispose()


def test_an_external_auditor_gets_the_evidence_request_by_mail_once_and_the_directory_manager_is_escalated_to(
    xena_world: World, graph: GraphDouble
):
    world = xena_world
    sync(world.ctx)
    assert world.at(berlin(2026, 12, 17, 17, 0)) == []  # nothing in chat: xena has no Slack
    assert mails(graph) == [("xena@auditfirm.example", "Evidence needed: Review the risks you own")]
    world.at(berlin(2026, 12, 17, 17, 5))
    world.deliver()
    assert len(mails(graph)) == 1  # once

    climb(world)
    sent = Counter(to for to, _ in mails(graph))
    # ask, 3 reminders, the owner's overdue notice; the manager rung goes to the directory's manager
    assert sent == {"xena@auditfirm.example": 5, "boss@auditfirm.example": 1}
    assert [to for to, _ in world.chat.everything() if not to.startswith("channel:")] == ["alice"]  # the ISMS rung

    records = world.records(subjects=EVIDENCE)
    asked = [data for _, action, _, data in records if action == "asked"]
    assert asked[0]["by_mail"] == ["xena"]
    escalated = [data for _, action, _, data in records if action == "escalated"]
    manager = [data for data in escalated if "manager_source" in data]
    assert len(manager) == 1
    assert manager[0]["manager_source"] == "directory"
    assert manager[0]["to"] == ["boss@auditfirm.example"] and manager[0]["by_mail"] == ["boss@auditfirm.example"]
    with world.ctx.read() as session:
        keys = list(session.scalars(select(OutboxEffect.key).where(OutboxEffect.kind == "mail.send")))
        assert len(keys) == len(set(keys)) == 6
        assert {e.status for e in session.scalars(select(OutboxEffect).where(OutboxEffect.kind == "mail.send"))} == {
            "sent"
        }


def test_the_files_manager_wins_with_microsoft_365_on_and_is_recorded_as_such(
    settings: Settings, clock: FakeClock, graph: GraphDouble, tmp_path: Path
):
    world = graph_world(settings, clock, graph, tmp_path, [{"activity": "RA/risk-review"}])  # olga, manager mia
    try:
        sync(world.ctx)
        climb(world)
        escalated = [data for _, action, _, data in world.records("escalated", subjects=EVIDENCE)]
        manager = [data for data in escalated if "manager_source" in data]
        assert [(data["to"], data["manager_source"]) for data in manager] == [(["mia"], "organisation file")]
        assert any(to == "mia" for to, _ in world.chat.everything())
        assert mails(graph) == []  # everybody here is in Slack
    finally:
        world.runtime.engine.dispose()


def test_without_microsoft_365_the_files_manager_is_used_and_recorded(settings: Settings, clock: FakeClock, tmp_path):
    world = programme_world(settings, clock, tmp_path, [{"activity": "RA/risk-review"}])
    try:
        assert world.ctx.directory is None
        climb(world)
        manager = [data for _, _, _, data in world.records("escalated", subjects=EVIDENCE) if "manager_source" in data]
        assert [(data["to"], data["manager_source"]) for data in manager] == [(["mia"], "organisation file")]
    finally:
        world.runtime.engine.dispose()


# -- a DM Slack refuses for good becomes one mail ----------------------------------------------------


@pytest.fixture
def slack(clock: FakeClock) -> Iterator[SlackApiDouble]:
    with SlackApiDouble(token=TOKEN, clock=lambda: clock().timestamp()) as double:
        yield double


@pytest.fixture
def slack_world(
    settings: Settings, clock: FakeClock, graph: GraphDouble, slack: SlackApiDouble, tmp_path: Path
) -> Iterator[World]:
    configured = graph_settings(settings, graph, org_with(tmp_path, [{"activity": "RA/risk-review"}]))

    def sender(ctx: Context) -> SlackChatSender:
        return SlackChatSender(
            make_web_client(TOKEN, slack.base_url, timeout=2), ctx.org, message_blocks, fallback_text
        )

    world = World(
        build_runtime(configured, sender, clock=clock, microsoft365=start(configured, trusting(graph))), Chat(), clock
    )
    yield world
    world.runtime.engine.dispose()


def effect(world: World, key: str) -> OutboxEffect:
    with world.ctx.read() as session:
        found = session.scalar(select(OutboxEffect).where(OutboxEffect.key == key))
    assert found is not None, key
    return found


def test_a_dm_to_an_inactive_account_goes_out_as_one_mail_recorded(
    slack_world: World, slack: SlackApiDouble, graph: GraphDouble
):
    world = slack_world
    slack.fail_next("chat.postMessage", 200, error="account_inactive")
    with world.ctx.work(SYSTEM) as work:
        work.notify(Recipient.person("erin"), Message(text="Evidence needed: access review", body="Please."), "dm:1")
    world.deliver()
    world.clock.advance(seconds=5)
    world.deliver()

    assert effect(world, "dm:1").status == "dead"
    mail = effect(world, fallback_key("dm:1"))
    assert (mail.kind, mail.status) == ("mail.send", "sent")
    assert mails(graph) == [("erin@example.org", "Evidence needed: access review")]
    fallbacks = world.records("mailed-instead", process="REC")
    assert len(fallbacks) == 1
    assert fallbacks[0][3]["to"] == "erin" and "account_inactive" in fallbacks[0][3]["why"]


def test_a_person_slack_does_not_know_gets_a_mail_and_other_refusals_none(
    slack_world: World, slack: SlackApiDouble, graph: GraphDouble
):
    world = slack_world
    slack.fail_next("chat.postMessage", 200, error="invalid_blocks")  # about the message, not the person
    with world.ctx.work(SYSTEM) as work:
        work.notify(Recipient.person("erin"), Message(text="Broken"), "dm:bad")
    world.deliver()
    with world.ctx.work(SYSTEM) as work:  # no Slack id, and Slack has nobody with her e-mail
        work.notify(Recipient.person("xena"), Message(text="Evidence needed: sample"), "dm:xena")
        work.notify(Recipient.channel("no_such_channel"), Message(text="Nowhere"), "post:nowhere")
    world.deliver()
    world.deliver()

    assert effect(world, "dm:bad").status == "dead" and effect(world, "dm:xena").status == "dead"
    assert "users_not_found" in (effect(world, "dm:xena").last_error or "")
    assert mails(graph) == [("xena@auditfirm.example", "Evidence needed: sample")]
    assert [data["to"] for _, _, _, data in world.records("mailed-instead", process="REC")] == ["xena"]
