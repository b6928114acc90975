"""Microsoft 365 through the real msal client and requests, against the HTTPS Graph double:
sign-in and token reuse, bad credentials at start, the directory (nested and paged groups to roles,
managers, departments, conflicts with the organisation file), throttling, mail and calendar events
through the outbox, exactly once under lost answers."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from sqlalchemy import select

from bot.runtime import build_runtime
from config.errors import ConfigError
from config.organisation import Role, load_organisation
from config.settings import PACKAGED_EXAMPLE_ORG, Settings, load_settings
from integrations.graph import start
from integrations.graph.client import GraphAuthError, GraphClient
from storage.models import DirectoryConflict, DirectoryPerson, OutboxEffect, Record
from tests.doubles.graph_api import GraphDouble
from tests.support import PROCESS_IDS, FakeClock
from tests.world import Chat, World
from workflows.directory.flows import sync
from workflows.directory.service import cache_age, department, manager_chain, with_directory_roles
from workflows.kernel.actors import SYSTEM, resolve_actor
from workflows.kernel.process import run_due_work
from workflows.kernel.recipients import Recipient
from workflows.kernel.ui import Button, Message
from workflows.outreach.calendar import cancel_event, reschedule_event, schedule_event
from workflows.outreach.mail import reach, send_mail

G_SEC = "11111111-1111-4111-8111-111111111111"
G_INNER = "22222222-2222-4222-8222-222222222222"
G_AUD = "33333333-3333-4333-8333-333333333333"
SECRET = "graph-secret-value-1"


@pytest.fixture
def graph() -> Iterator[GraphDouble]:
    with GraphDouble(client_secret=SECRET) as double:
        for user_id, mail, department_name in (
            ("u-alice", "alice@example.org", "ISMS"),
            ("u-sam", "sam@example.org", "Security"),
            ("u-hana", "hana@example.org", "Security"),
            ("u-erin", "erin@example.org", "Finance"),
            ("u-olga", "olga@example.org", "Finance"),
            ("u-dora", "dora@example.org", "Legal"),
            ("u-aldo", "aldo@example.org", "Audit"),
            ("u-newbie", "newbie@example.org", "Security"),
            ("u-xena", "xena@auditfirm.example", None),
            ("u-boss", "boss@auditfirm.example", None),
        ):
            double.add_user(user_id, mail, user_id.removeprefix("u-").title(), department=department_name)
        double.set_manager("u-erin", "u-olga")  # as the file says
        double.set_manager("u-hana", "u-alice")  # the file says sam
        double.set_manager("u-xena", "u-boss")  # the file names no manager
        double.add_group(G_SEC, "ISMS Security Team", ["u-hana", G_INNER])
        double.add_group(G_INNER, "SOC", ["u-sam", "u-newbie"])
        double.add_group(G_AUD, "Auditors", ["u-xena"])
        yield double


def graph_org(tmp_path: Path, **microsoft365: Any) -> Path:
    org = yaml.safe_load(PACKAGED_EXAMPLE_ORG.read_text(encoding="utf-8"))
    org["people"].append(
        {"id": "xena", "name": "Xena External", "email": "xena@auditfirm.example", "roles": ["auditor"]}
    )
    org["microsoft365"] = {
        "group_roles": {G_SEC: ["security_team"], G_AUD: ["auditor"]},
        "refresh_minutes": 60,
        "mailbox": "alice",
        **microsoft365,
    }
    path = tmp_path / "org-graph.yaml"
    path.write_text(yaml.safe_dump(org, sort_keys=False), encoding="utf-8")
    return path


def graph_settings(settings: Settings, graph: GraphDouble, org: Path, **overrides: str) -> Settings:
    values = {
        "MSGRAPH_TENANT_ID": graph.tenant,
        "MSGRAPH_CLIENT_ID": graph.client_id,
        "MSGRAPH_CLIENT_SECRET": SECRET,
        "MSGRAPH_AUTHORITY": graph.authority,
        "MSGRAPH_URL": graph.graph_url,
        **overrides,
    }
    loaded = load_settings(**{k: v for k, v in values.items()})
    return settings.model_copy(
        update={
            "config_path": org,
            "msgraph_tenant_id": loaded.msgraph_tenant_id,
            "msgraph_client_id": loaded.msgraph_client_id,
            "msgraph_client_secret": loaded.msgraph_client_secret,
            "msgraph_authority": loaded.msgraph_authority,
            "msgraph_url": loaded.msgraph_url,
        }
    )


def trusting(graph: GraphDouble) -> requests.Session:
    """The one HTTP session, trusting the double's CA only (REQUESTS_CA_BUNDLE is ignored)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = str(graph.ca_file)
    return session


@pytest.fixture
def world(settings: Settings, clock: FakeClock, graph: GraphDouble, tmp_path: Path) -> Iterator[World]:
    configured = graph_settings(settings, graph, graph_org(tmp_path))
    chat = Chat()
    m365 = start(configured, trusting(graph))
    built = World(build_runtime(configured, chat, clock=clock, microsoft365=m365), chat, clock)
    yield built
    built.runtime.engine.dispose()


def client(graph: GraphDouble, secret: str = SECRET, tenant: str | None = None) -> GraphClient:
    return GraphClient(
        tenant=tenant or graph.tenant,
        client_id=graph.client_id,
        credential=secret,
        authority=graph.authority,
        graph_url=graph.graph_url,
        session=trusting(graph),
        sleep=lambda seconds: None,
    )


# -- sign-in ---------------------------------------------------------------------------------------


def test_a_token_is_fetched_once_and_reused_until_it_nearly_expires(graph: GraphDouble):
    reader = client(graph)
    for _ in range(3):
        reader.get("/users/u-alice")
    assert graph.token_requests == 1
    graph.token_lifetime = 120  # under msal's 5 minutes: refetched before every use
    short = client(graph)
    short.get("/users/u-alice")
    short.get("/users/u-alice")
    assert graph.token_requests == 3


def test_a_wrong_secret_or_tenant_names_the_setting_and_microsofts_code(graph: GraphDouble):
    with pytest.raises(GraphAuthError) as wrong_secret:
        client(graph, secret="not-the-secret").check()
    assert (wrong_secret.value.setting, wrong_secret.value.code) == ("MSGRAPH_CLIENT_SECRET", "AADSTS7000215")
    with pytest.raises(GraphAuthError) as wrong_tenant:
        client(graph, tenant="fabrikam").check()
    assert (wrong_tenant.value.setting, wrong_tenant.value.code) == ("MSGRAPH_TENANT_ID", "AADSTS90002")
    assert "not-the-secret" not in str(wrong_secret.value)


def test_bad_credentials_at_start_give_one_line_and_the_bot_runs_on_without_the_directory(
    settings: Settings, clock: FakeClock, graph: GraphDouble, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    wrong = "wrong-secret-value-42"
    configured = graph_settings(settings, graph, graph_org(tmp_path), MSGRAPH_CLIENT_SECRET=wrong)
    with caplog.at_level(logging.INFO):
        world = World(
            build_runtime(configured, Chat(), clock=clock, microsoft365=start(configured, trusting(graph))),
            Chat(),
            clock,
        )
    lines = [r.getMessage() for r in caplog.records if "Microsoft 365" in r.getMessage()]
    assert len(lines) == 1
    assert "MSGRAPH_CLIENT_SECRET" in lines[0] and "AADSTS7000215" in lines[0]
    assert wrong not in caplog.text
    assert world.ctx.directory is None
    assert sync(world.ctx).lines()[0].startswith("Microsoft 365 is off")
    with world.ctx.work(SYSTEM) as work:  # mail waits (and says why) instead of being lost
        send_mail(work, Recipient.person("xena"), Message(text="Evidence request"), "mail:test:1")
    world.deliver()
    with world.ctx.read() as session:
        effect = session.scalar(select(OutboxEffect).where(OutboxEffect.key == "mail:test:1"))
        assert effect is not None and effect.status == "pending"
        assert "AADSTS7000215" in (effect.last_error or "")
    world.runtime.engine.dispose()


# -- directory -------------------------------------------------------------------------------------


def test_sync_maps_nested_paged_groups_to_roles_and_records_each_conflict_once(world: World, graph: GraphDouble):
    report = sync(world.ctx)
    assert report.error is None
    with world.ctx.read() as session:
        rows = {row.email: row for row in session.scalars(select(DirectoryPerson))}
    assert rows["sam@example.org"].roles == ["security_team"]  # through the nested group
    assert rows["newbie@example.org"].roles == ["security_team"]  # not in the file, in a mapped group
    assert rows["newbie@example.org"].person_id is None
    assert rows["xena@auditfirm.example"].roles == ["auditor"]
    assert rows["mia@example.org"].found is False
    assert any("/groups/" in path and "skiptoken" in path for _, path in graph.requests)  # paged
    conflicts = sorted(report.conflicts)
    assert any(
        "aldo" in c and "auditor" in c and "file wins" in c for c in conflicts
    )  # file names a role no group grants
    assert any("hana" in c and "manager" in c for c in conflicts)
    assert any("mia" in c and "not in the directory" in c for c in conflicts)
    assert len(conflicts) == 3

    again = sync(world.ctx)
    assert again.conflicts == [] and again.changes == []
    with world.ctx.read() as session:
        actions = [r.action for r in session.scalars(select(Record).where(Record.process == "RES"))]
        assert actions.count("directory-conflict") == 2
        assert actions.count("directory-missing-person") == 1
        assert session.scalar(select(DirectoryConflict).where(DirectoryConflict.kind == "missing")) is not None

    newbie = with_directory_roles(world.ctx, resolve_actor(world.ctx.org, email="newbie@example.org"))
    assert Role.SECURITY_TEAM in newbie.roles
    aldo = with_directory_roles(world.ctx, world.actor("aldo"))
    assert Role.AUDITOR in aldo.roles  # the file wins for the roles it names
    assert manager_chain(world.ctx, "xena") == [Recipient("email", "boss@auditfirm.example")]
    assert manager_chain(world.ctx, "hana") == [
        Recipient.person("sam"),
        Recipient.person("alice"),
        Recipient.person("mia"),
    ]
    assert department(world.ctx, "erin") == "Finance"

    graph.add_user("u-mia", "mia@example.org", "Mia", department="Board")  # mia appears: conflict resolved
    graph.members[G_INNER].remove("u-newbie")
    later = sync(world.ctx)
    assert any("mia@example.org" in line and "resolved" in line for line in later.changes)
    assert "newbie@example.org: no longer followed" in later.changes


def test_the_scheduler_refreshes_a_stale_cache_and_a_throttled_directory_keeps_the_cache_with_its_age(
    world: World, graph: GraphDouble
):
    run_due_work(world.ctx)  # never read: refreshed now
    with world.ctx.read() as session:
        assert cache_age(world.ctx, session).age == timedelta(0)
    world.clock.advance(minutes=30)
    requests_before = len(graph.requests)
    run_due_work(world.ctx)  # fresh for 60 minutes: nothing asked
    assert len(graph.requests) == requests_before

    graph.fail("GET", "/users", 429, times=1, retry_after=0)  # a short Retry-After is waited out in place
    assert sync(world.ctx).error is None

    world.clock.advance(minutes=40)
    graph.fail("GET", "/users", 429, times=50, retry_after=30)
    run_due_work(world.ctx)
    report = sync(world.ctx)
    assert report.error is not None and "429" in report.error
    assert "directory data as of 40 min ago" in report.lines()[0]
    with world.ctx.read() as session:
        assert session.get(DirectoryPerson, "sam@example.org").roles == ["security_team"]  # type: ignore[union-attr]


# -- mail ------------------------------------------------------------------------------------------


def test_mail_has_a_text_and_an_escaped_html_part_and_goes_out_once_under_a_lost_answer(
    world: World, graph: GraphDouble
):
    graph.lose_answer("POST", "/users/alice@example.org/sendMail")
    with world.ctx.work(SYSTEM) as work:
        how = reach(
            work,
            "xena",
            Message(text="Evidence request: access review", body="Please send <b>the</b> list & sign-off."),
            "mail:ev:1",
        )
    assert how == "mail"
    world.deliver()  # the answer is lost: tried again after the backoff
    world.clock.advance(seconds=1)
    world.deliver()
    sent = graph.mailbox("u-alice").sent
    assert len(sent) == 1
    mail = sent[0]
    assert mail["toRecipients"] == [{"emailAddress": {"address": "xena@auditfirm.example"}}]
    assert "&lt;b&gt;the&lt;/b&gt; list &amp; sign-off" in mail["body"]["content"]
    assert "Please send <b>the</b> list & sign-off." in mail["text"]
    assert mail["headers"]["X-ISMS-Outbox-Key"] == "mail:ev:1"
    assert mail["replyTo"] == []  # nothing to answer: no reply address
    with world.ctx.read() as session:
        effect = session.scalar(select(OutboxEffect).where(OutboxEffect.key == "mail:ev:1"))
        assert effect is not None and effect.status == "sent" and "sent_item" in effect.result


def test_a_mail_that_asks_for_an_answer_says_to_reply_and_replies_reach_the_isms_manager(
    world: World, graph: GraphDouble
):
    request = Message(
        text="Evidence request: supplier certificate",
        body="Please send your current ISO/IEC 27001 certificate.",
        buttons=(Button("evidence.submit", "Submit evidence", "1"),),
    )
    with world.ctx.work(SYSTEM) as work:
        assert reach(work, "xena", request, "mail:ev:answer") == "mail"
    world.deliver()
    (mail,) = graph.mailbox("u-alice").sent
    manager = next(p for p in world.ctx.org.people if Role.ISMS_MANAGER in p.roles and p.email)
    assert mail["replyTo"] == [{"emailAddress": {"address": str(manager.email)}}]
    for part in (mail["text"], mail["body"]["content"]):
        assert f"reply to this mail: your reply goes to {manager.name}" in part
        assert "Submit evidence" not in part  # a mail reader has no buttons to press


def test_a_mail_not_yet_in_sent_items_waits_before_it_is_sent_again(world: World, graph: GraphDouble):
    graph.lose_answer("POST", "/users/alice@example.org/sendMail")
    graph.sent_items_lag = 1  # Exchange has not filed the copy yet
    with world.ctx.work(SYSTEM) as work:
        send_mail(work, Recipient("email", "ext@supplier.example"), Message(text="Hello"), "mail:ev:2")
    world.deliver()
    world.clock.advance(seconds=1)
    world.deliver()
    assert len(graph.mailbox("u-alice").sent) == 1
    graph.sent_items_lag = 0
    world.clock.advance(minutes=3)
    world.deliver()
    assert len(graph.mailbox("u-alice").sent) == 1
    with world.ctx.read() as session:
        effect = session.scalar(select(OutboxEffect).where(OutboxEffect.key == "mail:ev:2"))
        assert effect is not None and effect.status == "sent"


def test_graph_down_keeps_mail_in_the_outbox_until_it_answers(world: World, graph: GraphDouble):
    graph.fail("POST", "/users/alice@example.org/sendMail", 503)
    with world.ctx.work(SYSTEM) as work:
        send_mail(work, Recipient.person("erin"), Message(text="Reminder"), "mail:ev:3")
    world.deliver()  # a 503: Graph may have sent it, so the next attempt looks in Sent Items first
    world.clock.advance(seconds=1)
    world.deliver()  # not there yet, and Exchange may still be filing it: wait
    assert graph.mailbox("u-alice").sent == []
    with world.ctx.read() as session:
        effect = session.scalar(select(OutboxEffect).where(OutboxEffect.key == "mail:ev:3"))
        assert effect is not None and effect.status == "pending"
    world.clock.advance(minutes=3)
    world.deliver()
    assert len(graph.mailbox("u-alice").sent) == 1


# -- calendar --------------------------------------------------------------------------------------


def test_an_event_is_created_once_moved_and_cancelled(world: World, graph: GraphDouble):
    start_at = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
    graph.lose_answer("POST", "/users/alice@example.org/calendar/events")
    with world.ctx.work(SYSTEM) as work:
        schedule_event(
            work,
            "aud:2026:review",
            subject="Management review 2026",
            start=start_at,
            end=start_at + timedelta(hours=2),
            attendees=[Recipient.person("mia"), Recipient.person("alice"), Recipient.person("xena")],
        )
    world.deliver()
    world.clock.advance(seconds=1)
    world.deliver()
    events = graph.mailbox("u-alice").events
    assert len(events) == 1
    event = next(iter(events.values()))
    assert {a["emailAddress"]["address"] for a in event["attendees"]} == {
        "mia@example.org",
        "alice@example.org",
        "xena@auditfirm.example",
    }
    with world.ctx.work(SYSTEM) as work:
        reschedule_event(
            work, "aud:2026:review", start=start_at + timedelta(days=1), end=start_at + timedelta(days=1, hours=2)
        )
    world.deliver()
    assert len(events) == 1 and event["start"] == {"dateTime": "2026-12-11T09:00:00", "timeZone": "UTC"}
    graph.lose_answer("POST", f"/users/alice@example.org/events/{event['id']}/cancel")
    with world.ctx.work(SYSTEM) as work:
        cancel_event(work, "aud:2026:review", "Moved to January")
    world.deliver()
    world.clock.advance(seconds=1)
    world.deliver()
    assert event["isCancelled"] is True and event["cancellationComment"] == "Moved to January"
    with world.ctx.read() as session:
        statuses = {
            e.key: e.status for e in session.scalars(select(OutboxEffect).where(OutboxEffect.kind == "calendar.event"))
        }
    assert set(statuses.values()) == {"sent"} and len(statuses) == 3


# -- without Microsoft 365 and bad configuration ----------------------------------------------------


def test_without_microsoft_365_nothing_changes(settings: Settings, clock: FakeClock):
    world = World(build_runtime(settings, Chat(), clock=clock), Chat(), clock)
    assert world.ctx.directory is None
    run_due_work(world.ctx)
    assert sync(world.ctx).configured is False
    assert with_directory_roles(world.ctx, world.actor("aldo")).roles == frozenset({Role.AUDITOR})
    with world.ctx.work(SYSTEM) as work:
        send_mail(work, Recipient.person("erin"), Message(text="Hi"), "mail:none:1")
    world.deliver()
    with world.ctx.read() as session:
        effect = session.scalar(select(OutboxEffect).where(OutboxEffect.key == "mail:none:1"))
        assert effect is not None and effect.status == "dead" and "not configured" in (effect.last_error or "")
    world.runtime.engine.dispose()


def test_a_bad_group_map_names_the_file_and_the_key(tmp_path: Path):
    path = graph_org(tmp_path, group_roles={"not-a-guid": ["security_team"]})
    with pytest.raises(ConfigError) as error:
        load_organisation(path, PROCESS_IDS)
    text = error.value.describe()
    assert str(path) in text and "microsoft365.group_roles" in text and "not-a-guid" in text
    wizard = graph_org(tmp_path, group_roles={G_AUD: ["wizard"]})
    with pytest.raises(ConfigError) as role_error:
        load_organisation(wizard, PROCESS_IDS)
    assert f"microsoft365.group_roles.{G_AUD}" in role_error.value.describe()
    bad_mailbox = graph_org(tmp_path, mailbox="nobody")
    with pytest.raises(ConfigError) as mailbox_error:
        load_organisation(bad_mailbox, PROCESS_IDS)
    assert "microsoft365.mailbox" in mailbox_error.value.describe()


def test_roles_from_a_mapped_group_admit_a_person_and_isms_directory_shows_the_cache(world: World, graph: GraphDouble):
    graph.add_user("u-carol", "carol@example.org", "Carol", department="Audit")
    graph.members[G_AUD].append("u-carol")
    before = world.command("carol", "directory")
    assert before.reply is not None and "auditor" in before.reply.text and "only" in before.reply.text
    sync(world.ctx)
    world.clock.advance(minutes=15)
    after = world.command("carol", "directory")
    assert after.reply is not None
    assert after.reply.text == "Entra ID directory: directory data as of 15 min ago"
    assert "aldo" in after.reply.body and "file wins" in after.reply.body


# -- the command line -------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def isms_bot(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ISMS_", "SLACK_", "JIRA_", "MSGRAPH_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


def graph_env(graph: GraphDouble, db_url: str, org: Path, secret: str = SECRET) -> dict[str, str]:
    return {
        "ISMS_DATABASE_URL": db_url,
        "ISMS_CONFIG": str(org),
        "MSGRAPH_TENANT_ID": graph.tenant,
        "MSGRAPH_CLIENT_ID": graph.client_id,
        "MSGRAPH_CLIENT_SECRET": secret,
        "MSGRAPH_AUTHORITY": graph.authority,
        "MSGRAPH_URL": graph.graph_url,
        "REQUESTS_CA_BUNDLE": str(graph.ca_file),
    }


def test_directory_sync_prints_what_changed_and_then_nothing(graph: GraphDouble, db_url: str, tmp_path: Path):
    env = graph_env(graph, db_url, graph_org(tmp_path))
    first = isms_bot("directory", "sync", **env)
    assert first.returncode == 0, first.stderr
    assert "Directory refreshed:" in first.stdout
    assert "sam@example.org: found (security_team; department Security; manager -)" in first.stdout
    assert "conflict: mia@example.org: mia is not in the directory" in first.stdout
    again = isms_bot("directory", "sync", **env)
    assert again.stdout.splitlines() == ["Directory refreshed: 0 changes, 0 new conflicts."]


def test_a_wrong_secret_is_one_line_and_sync_changes_nothing(graph: GraphDouble, db_url: str, tmp_path: Path):
    wrong = "wrong-secret-value-42"
    result = isms_bot("directory", "sync", **graph_env(graph, db_url, graph_org(tmp_path), secret=wrong))
    assert result.returncode == 0
    lines = [line for line in result.stderr.splitlines() if "Microsoft 365" in line]
    assert len(lines) == 1 and "MSGRAPH_CLIENT_SECRET" in lines[0] and "AADSTS7000215" in lines[0]
    assert wrong not in result.stderr + result.stdout
    assert result.stdout.startswith("Microsoft 365 is off")


def test_config_check_lists_active_integrations_and_missing_settings(graph: GraphDouble, db_url: str, tmp_path: Path):
    bare = isms_bot("config", "check", ISMS_DATABASE_URL=db_url)
    assert bare.returncode == 0, bare.stderr
    assert "Microsoft 365: not in use" in bare.stdout and "MSGRAPH_TENANT_ID, MSGRAPH_CLIENT_ID" in bare.stdout
    assert "Jira: not in use" in bare.stdout
    configured = isms_bot("config", "check", **graph_env(graph, db_url, graph_org(tmp_path)))
    assert f"Microsoft 365: active (tenant {graph.tenant}" in configured.stdout
    assert G_SEC not in configured.stdout


def test_a_certificate_signs_in_instead_of_a_secret(settings: Settings, tmp_path: Path):
    import trustme

    app_cert = trustme.CA(key_type=trustme.KeyType.RSA).issue_cert("isms-bot-app", key_type=trustme.KeyType.RSA)
    pem = tmp_path / "app.pem"
    pem.write_bytes(app_cert.private_key_pem.bytes() + app_cert.cert_chain_pems[0].bytes())
    with GraphDouble(certificate_pem=app_cert.cert_chain_pems[0].bytes()) as double:
        double.add_user("u-alice", "alice@example.org", "Alice")
        configured = settings.model_copy(
            update={
                "msgraph_tenant_id": double.tenant,
                "msgraph_client_id": double.client_id,
                "msgraph_client_certificate": pem,
                "msgraph_authority": double.authority,
                "msgraph_url": double.graph_url,
            }
        )
        m365 = start(configured, trusting(double))
        assert m365.active and double.token_requests == 1
        other = trustme.CA(key_type=trustme.KeyType.RSA).issue_cert("someone-else", key_type=trustme.KeyType.RSA)
        wrong = tmp_path / "wrong.pem"
        wrong.write_bytes(other.private_key_pem.bytes() + other.cert_chain_pems[0].bytes())
        refused = start(configured.model_copy(update={"msgraph_client_certificate": wrong}), trusting(double))
        assert refused.problem is not None and not refused.active
        assert refused.problem.startswith("MSGRAPH_CLIENT_CERTIFICATE") and "AADSTS700027" in refused.problem
