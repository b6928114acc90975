"""What a start of the HTTP bot loads: a fresh database is still migrated, but a bot without Jira
never imports the ``jira`` client, a database already at the newest schema is checked without
alembic, and neither openpyxl (spreadsheets) nor msal (Microsoft 365 sign-in) loads until a file is
read or written or Microsoft is asked (all cost start-up time and memory; issue 10)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect

from bot.runtime import prepare_database
from config.errors import ConfigError
from storage import migrate
from storage.db import make_engine
from tests.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.doubles.graph_api import GraphDouble
from tests.doubles.slack_api import SlackApiDouble

ROOT = Path(__file__).resolve().parents[1]

# A process of its own, so the modules it reports are the ones a start loads, not the test run's.
START = """
import json, sys, urllib.request
from bot.server import BotServer
from config.settings import load_settings

with BotServer(load_settings()) as server:
    health = urllib.request.urlopen(server.url + "/healthz", timeout=10).status
    print(json.dumps({"health": health, "loaded": sorted({"jira", "alembic", "openpyxl", "msal"} & set(sys.modules))}))
"""


# What a bot needs the libraries for, after a start: an export and an import of a register as XLSX,
# then an access token from the sign-in service (the Graph double, trusted through its CA file).
USE = """
import json, sys, tempfile
from pathlib import Path
import requests
import bot.cli, bot.server

before = sorted({"openpyxl", "msal"} & set(sys.modules))
from integrations.graph.client import GraphClient
from workflows.registers import files
from workflows.registers.kinds import KINDS

kind = KINDS["supplier"]
path = Path(tempfile.mkdtemp()) / "suppliers.xlsx"
path.write_bytes(files.write_table(kind, [], "xlsx"))
headings = files.read_sheet(path)[0]
session = requests.Session()
session.trust_env = False
session.verify = sys.argv[1]
graph = GraphClient(
    tenant=sys.argv[2], client_id=sys.argv[3], credential=sys.argv[4], authority=sys.argv[5],
    graph_url=sys.argv[6], session=session,
)
token = graph.token()
after = sorted({"openpyxl", "msal"} & set(sys.modules))
print(json.dumps({"before": before, "after": after, "headings": headings == list(kind.headings), "token": bool(token)}))
"""


def start_bot(database_url: str, slack: SlackApiDouble, **extra: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ISMS_", "SLACK_", "JIRA_", "MSGRAPH_"))}
    env = {
        **clean,
        "ISMS_DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.base_url,
        **extra,
    }
    result = subprocess.run(
        [sys.executable, "-c", START], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    answer: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


def test_a_start_without_jira_migrates_a_fresh_database_and_never_imports_jira(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    with SlackApiDouble(token=BOT_TOKEN) as slack:
        first = start_bot(url, slack)
        again = start_bot(url, slack)
    assert first == {"health": 200, "loaded": ["alembic"]}  # the fresh database needed alembic
    assert again == {"health": 200, "loaded": []}  # at the newest schema: neither
    engine = make_engine(url)
    assert migrate.current_heads(engine) == migrate.script_heads()
    assert {"records", "outbox", "incidents", "changes"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_a_start_with_jira_configured_loads_its_client(db_url):
    jira = {"JIRA_URL": "https://jira.example.org", "JIRA_PROJECT": "ISMS", "JIRA_PAT": "a-token"}
    with SlackApiDouble(token=BOT_TOKEN) as slack:
        answer = start_bot(db_url, slack, **jira)
    assert answer == {"health": 200, "loaded": ["jira"]}


def test_the_quick_head_check_agrees_with_alembic():
    assert migrate.shipped_heads() == migrate.script_heads()


def test_a_database_behind_is_not_taken_for_one_at_head(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'behind.db'}")
    assert not migrate.at_head(engine)  # never migrated
    migrate.upgrade(engine, "0009")
    assert not migrate.at_head(engine)
    prepare_database(engine)  # SQLite: brought to the newest schema on start, as before
    assert migrate.at_head(engine)
    assert migrate.current_heads(engine) == migrate.script_heads()
    engine.dispose()


def test_postgresql_behind_still_refuses_to_start(postgres_url):
    engine = make_engine(postgres_url)
    migrate.upgrade(engine, "0009")
    with pytest.raises(ConfigError, match="isms-bot db upgrade"):
        prepare_database(engine)
    assert migrate.current_heads(engine) == {"0009"}  # left as it was: upgrading is deliberate
    engine.dispose()


def test_spreadsheets_and_the_microsoft_sign_in_load_their_libraries_when_used():
    with GraphDouble(client_secret="a-secret") as graph:
        argv = [str(graph.ca_file), graph.tenant, graph.client_id, "a-secret", graph.authority, graph.graph_url]
        result = subprocess.run(
            [sys.executable, "-c", USE, *argv], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer == {"before": [], "after": ["msal", "openpyxl"], "headings": True, "token": True}
