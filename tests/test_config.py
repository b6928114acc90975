"""Bad configuration stops the bot with the file, the key and what is wrong (exit code 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bot.cli import app
from config.errors import ConfigError
from config.organisation import Role, load_organisation, role_labels
from config.settings import PACKAGED_EXAMPLE_ORG, load_settings
from tests.support import PROCESS_IDS


def example() -> dict:
    return yaml.safe_load(PACKAGED_EXAMPLE_ORG.read_text())


def write(tmp_path: Path, data: dict | str) -> Path:
    path = tmp_path / "org.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def problems_of(path: Path) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        load_organisation(path, PROCESS_IDS)
    assert caught.value.source == str(path)
    return caught.value.problems


def test_example_organisation_is_valid():
    org = load_organisation(PACKAGED_EXAMPLE_ORG, PROCESS_IDS)
    assert org.name == "Example Ltd" and org.with_role("isms_manager")[0].id == "alice"


def test_unknown_role_names_the_person_key(tmp_path):
    data = example()
    data["people"][2]["roles"] = ["employee", "superuser"]
    assert any(key == "people.2.roles.1" for key, _ in problems_of(write(tmp_path, data)))


def test_unknown_manager_and_process_owner(tmp_path):
    data = example()
    data["people"][0]["manager"] = "nobody"
    data["process_owners"]["XYZ"] = "alice"
    problems = dict(problems_of(write(tmp_path, data)))
    assert problems["people.0.manager"] == "unknown person 'nobody'"
    assert problems["process_owners.XYZ"] == "unknown process 'XYZ'"


def test_bad_timezone_and_missing_channels(tmp_path):
    data = example()
    data["timezone"] = "Mars/Olympus"
    del data["channels"]
    problems = dict(problems_of(write(tmp_path, data)))
    assert "unknown timezone" in problems["timezone"]
    assert "channels" in problems


def test_yaml_syntax_error_names_the_line(tmp_path):
    problems = problems_of(write(tmp_path, "name: x\npeople: [\n  - id: a\n"))
    assert problems[0][0].startswith("line ")


def test_config_check_command_exit_codes(tmp_path):
    runner = CliRunner()
    good = runner.invoke(app, ["config", "check"], env={"ISMS_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert good.exit_code == 0 and "OK" in good.output
    data = example()
    data["people"][1]["email"] = "not-an-address"
    path = write(tmp_path, data)
    bad = runner.invoke(app, ["config", "check"], env={"ISMS_CONFIG": str(path)})
    assert bad.exit_code == 2
    assert str(path) in bad.output and "people.1.email" in bad.output


def test_chat_refuses_to_start_on_bad_config(tmp_path):
    path = write(tmp_path, {"name": "x"})
    result = CliRunner().invoke(
        app, ["chat"], env={"ISMS_CONFIG": str(path), "ISMS_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    )
    assert result.exit_code == 2 and "people" in result.output and str(path) in result.output


def test_bad_environment_value_is_named():
    with pytest.raises(ConfigError) as caught:
        load_settings(ISMS_OUTBOX_MAX_ATTEMPTS="zero")
    assert caught.value.source == "environment"
    assert any("ISMS_OUTBOX_MAX_ATTEMPTS" in key for key, _ in caught.value.problems)


def test_serve_without_slack_tokens_names_the_variables(tmp_path):
    result = CliRunner().invoke(
        app,
        ["serve"],
        env={"ISMS_DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "SLACK_BOT_TOKEN": "", "SLACK_SIGNING_SECRET": ""},
    )
    assert result.exit_code == 2 and "SLACK_SIGNING_SECRET" in result.output


def test_secrets_never_show_in_settings_repr():
    settings = load_settings(SLACK_BOT_TOKEN="xoxb-very-secret-token", JIRA_API_TOKEN="jira-secret-123")
    assert "xoxb-very-secret-token" not in repr(settings) and "jira-secret-123" not in str(settings)


def test_processes_command_prints_the_catalogue():
    result = CliRunner().invoke(app, ["processes"])
    assert result.exit_code == 0
    assert "ISO/IEC TS 27022:2021: 17 processes" in result.output
    for process_id in PROCESS_IDS:
        assert f"│ {process_id} " in result.output


def test_processes_command_loads_another_catalogue():
    other = Path(__file__).parents[1] / "config" / "catalogues" / "ts33052-excerpt.yaml"
    result = CliRunner().invoke(app, ["processes", "--catalogue", str(other)])
    assert result.exit_code == 0 and "TEC.04" in result.output


def test_every_subcommand_has_help():
    runner = CliRunner()
    for command in (
        ["chat"],
        ["serve"],
        ["socket"],
        ["processes"],
        ["db", "upgrade"],
        ["records", "verify"],
        ["records", "export"],
        ["config", "check"],
    ):
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, command


def test_every_role_has_a_label_people_read():
    """A role added to the enum without a label would fail every refusal naming it."""
    assert role_labels(Role) == [
        "auditor",
        "budget owner",
        "DPO",
        "employee",
        "ISMS manager",
        "management",
        "owner",
        "security lead",
        "security team",
    ]
