"""Start-up errors a person can act on: one line naming the setting and the problem, exit 2, no
traceback unless ``--debug``; and the rule for PostgreSQL-only tests when PostgreSQL is not there."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.doubles.slack_api import SlackApiDouble

ROOT = Path(__file__).resolve().parents[1]
UNREACHABLE = "127.0.0.1:1"  # nothing listens on port 1


def isms_bot(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ISMS_", "SLACK_", "JIRA_", "MSGRAPH_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def the_one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "╭" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("Cannot start")]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def slack_double() -> Iterator[SlackApiDouble]:
    with SlackApiDouble(token=BOT_TOKEN) as double:
        yield double


@pytest.fixture
def slack_env(tmp_path: Path, slack_double: SlackApiDouble) -> dict[str, str]:
    return {
        "ISMS_DATABASE_URL": f"sqlite:///{tmp_path / 'isms.db'}",
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_double.base_url,
    }


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url at all", "ISMS_DATABASE_URL: is not a database URL"),
        ("mysql+nosuchdriver://u@h/db", "ISMS_DATABASE_URL: unknown kind of database"),
        (f"postgresql://isms:hunter2-pw@{UNREACHABLE}/isms", "ISMS_DATABASE_URL: cannot use the database"),
        ("sqlite:////no/such/folder/isms.db", "ISMS_DATABASE_URL: cannot use the database"),
    ],
)
def test_a_bad_database_url_is_one_line_and_exit_2(slack_env, url, expected):
    line = the_one_line(isms_bot("serve", "--port", "0", **{**slack_env, "ISMS_DATABASE_URL": url}))
    assert expected in line and "hunter2-pw" not in line


def test_an_invalid_slack_token_is_one_line_and_exit_2(slack_env):
    line = the_one_line(isms_bot("serve", "--port", "0", **{**slack_env, "SLACK_BOT_TOKEN": "xoxb-revoked"}))
    assert "SLACK_BOT_TOKEN: Slack refused the token (invalid_auth)" in line
    assert "xoxb-revoked" not in line


def test_an_unreachable_slack_is_one_line_and_exit_2(slack_env):
    line = the_one_line(
        isms_bot("serve", "--port", "0", **{**slack_env, "SLACK_API_URL": f"http://{UNREACHABLE}/api/"})
    )
    assert "SLACK_API_URL: Slack is unreachable" in line and "Connection refused" in line


def test_a_port_in_use_is_one_line_and_exit_2(slack_env):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        line = the_one_line(isms_bot("serve", "--port", port, **slack_env))
    assert f"--host/--port: cannot listen on 127.0.0.1:{port}" in line


def test_debug_shows_the_traceback(slack_env):
    result = isms_bot("--debug", "serve", "--port", "0", **{**slack_env, "SLACK_API_URL": f"http://{UNREACHABLE}/api/"})
    assert result.returncode == 2 and "Traceback" in result.stderr and "Cannot start: SLACK_API_URL" in result.stderr


def test_socket_mode_does_not_need_the_signing_secret(slack_env):
    env = {**slack_env, "SLACK_APP_TOKEN": "xapp-test", "SLACK_API_URL": f"http://{UNREACHABLE}/api/"}
    del env["SLACK_SIGNING_SECRET"]
    line = the_one_line(isms_bot("socket", **env))
    assert "SLACK_SIGNING_SECRET" not in line and "SLACK_API_URL" in line  # it got as far as calling Slack


def test_http_mode_still_needs_the_signing_secret(slack_env):
    env = {k: v for k, v in slack_env.items() if k != "SLACK_SIGNING_SECRET"}
    result = isms_bot("serve", "--port", "0", **env)
    assert result.returncode == 2 and "SLACK_SIGNING_SECRET" in result.stderr and "Traceback" not in result.stderr


# -- the rule for PostgreSQL-only tests ---------------------------------------------------------------

POSTGRES_ONLY_TEST = "tests/test_migrations.py::test_empty_postgresql_upgrades_to_the_models"


def pytest_run(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("ISMS_TEST_DATABASE", "ISMS_TEST_POSTGRES_URL")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", POSTGRES_ONLY_TEST],
        cwd=ROOT,
        env={**clean, "ISMS_TEST_POSTGRES_URL": f"postgresql+psycopg://postgres@{UNREACHABLE}/test", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_postgresql_only_tests_fail_with_one_reason_when_it_is_not_reachable():
    result = pytest_run()
    assert result.returncode == 1, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert "1 error" in summary and "skipped" not in summary  # fails in its fixture, never skips
    assert "is not reachable" in result.stdout and "the tests need PostgreSQL" in result.stdout


def test_with_isms_test_database_postgresql_an_unreachable_postgresql_fails_loudly():
    result = pytest_run(ISMS_TEST_DATABASE="postgresql")
    assert result.returncode not in (0, 5), result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "ISMS_TEST_DATABASE=postgresql, but PostgreSQL" in output and "is not reachable" in output
