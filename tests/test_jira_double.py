"""Drive the Jira double through the real ``jira`` client.

These tests pin down two things at once: that the double answers the way Jira does for every call
the bot makes, and what the installed client actually puts on the wire (which endpoints, how many
requests, when it retries). If a client upgrade changes that behaviour, these tests say so.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import jira
import pytest
import requests

from tests.doubles.jira_api import JiraDouble, format_jira_timestamp
from tests.support import FakeClock, eventually

EMAIL = "isms-bot@example.com"
API_TOKEN = "api-token"
PAT = "personal-access-token"
LABEL = "CHG-2026-0001"


def connect(double: JiraDouble, **overrides: object) -> jira.JIRA:
    options: dict[str, object] = {"basic_auth": (EMAIL, API_TOKEN), "max_retries": 0, "timeout": 5}
    options.update(overrides)
    return jira.JIRA(server=double.url, **options)  # type: ignore[arg-type]


def new_issue_fields(label: str = LABEL, summary: str = "Change CHG-2026-0001") -> dict[str, object]:
    return {
        "project": {"key": "ISMS"},
        "summary": summary,
        "issuetype": {"name": "Task"},
        "labels": [label],
        "priority": {"name": "High"},
        "description": "Rotate the TLS certificate of the VPN gateway.",
        "customfield_10010": "CHG-2026-0001",
    }


def paths_after(double: JiraDouble, start: int) -> list[str]:
    return [f"{r.method} {r.path}" for r in double.requests[start:]]


@pytest.fixture
def server() -> Iterator[JiraDouble]:
    with JiraDouble(deployment="Server") as double:
        yield double


@pytest.fixture(params=["Server", "Cloud"])
def any_deployment(request: pytest.FixtureRequest) -> Iterator[JiraDouble]:
    with JiraDouble(deployment=request.param) as double:
        yield double


def test_create_issue_with_issuetype_by_name_stores_fields_and_makes_two_calls(server: JiraDouble) -> None:
    client = connect(server)
    before = len(server.requests)

    issue = client.create_issue(fields=new_issue_fields())

    # issuetype/project given as objects: no metadata lookups, just POST and the prefetch GET.
    assert paths_after(server, before) == ["POST /rest/api/2/issue", "GET /rest/api/2/issue/ISMS-1"]
    assert issue.key == "ISMS-1"
    assert issue.fields.labels == [LABEL]
    assert issue.fields.priority.name == "High"
    assert issue.fields.issuetype.name == "Task"
    assert issue.fields.status.name == "To Do"
    assert issue.fields.resolution is None
    assert issue.fields.customfield_10010 == "CHG-2026-0001"
    stored = server.issues["ISMS-1"]["fields"]
    assert stored["description"] == "Rotate the TLS certificate of the VPN gateway."
    assert stored["updated"] == stored["created"]
    datetime.strptime(stored["updated"], "%Y-%m-%dT%H:%M:%S.%f%z")


def test_create_issue_with_plain_string_project_and_type_looks_both_up(server: JiraDouble) -> None:
    client = connect(server)
    before = len(server.requests)

    issue = client.create_issue(project="ISMS", summary="Plain strings", issuetype="Task")

    assert issue.key == "ISMS-1"
    assert paths_after(server, before) == [
        "GET /rest/api/2/project/ISMS",
        "GET /rest/api/2/project/10000",  # by id, with expand=issueTypes
        "POST /rest/api/2/issue",
        "GET /rest/api/2/issue/ISMS-1",
    ]


def test_createmeta_issue_types_and_fields_on_server_but_refused_by_the_client_on_cloud() -> None:
    with JiraDouble(issue_types=("Task", "Bug"), custom_fields={"customfield_10010": "Change ID"}) as double:
        client = connect(double)
        types = client.project_issue_types("ISMS")
        fields = client.project_issue_fields("ISMS", types[0].id)
        field_ids = {f["id"] for f in client.fields()}

    assert [t.name for t in types] == ["Task", "Bug"]
    assert {f.fieldId for f in fields} >= {"summary", "labels", "priority", "customfield_10010"}
    assert "customfield_10010" in field_ids
    with (
        JiraDouble(deployment="Cloud") as cloud,
        pytest.raises(jira.JIRAError, match="Unsupported JIRA deployment type"),
    ):
        connect(cloud).project_issue_types("ISMS")


def test_create_issue_rejects_missing_summary_and_unknown_issue_type(server: JiraDouble) -> None:
    client = connect(server)

    with pytest.raises(jira.JIRAError) as raised:
        client.create_issue(fields={"project": {"key": "ISMS"}, "issuetype": {"name": "Epic"}})

    assert raised.value.status_code == 400
    assert "You must specify a summary of the issue." in raised.value.text
    assert "valid issue type is required" in raised.value.text
    assert server.issues == {}


def test_search_by_label_finds_the_issue_on_each_deployment(any_deployment: JiraDouble) -> None:
    client = connect(any_deployment)
    client.create_issue(fields=new_issue_fields())
    client.create_issue(fields=new_issue_fields(label="CHG-2026-0002"))
    before = len(any_deployment.requests)

    found = client.search_issues(f'labels = "{LABEL}"')

    assert [issue.key for issue in found] == ["ISMS-1"]
    assert found[0].fields.labels == [LABEL]
    search_path = "search/jql" if any_deployment.deployment == "Cloud" else "search"
    # The client loads the field list before every search (to translate JQL names).
    assert paths_after(any_deployment, before) == ["GET /rest/api/2/field", f"GET /rest/api/2/{search_path}"]


def test_cloud_rejects_the_removed_search_endpoint() -> None:
    with JiraDouble(deployment="Cloud") as double:
        response = requests.get(f"{double.url}/rest/api/2/search", auth=(EMAIL, API_TOKEN), timeout=5)

    assert response.status_code == 410
    assert response.json()["errorMessages"]


@pytest.mark.parametrize("deployment", ["Server", "Cloud"])
def test_fetching_all_results_pages_the_way_each_deployment_expects(deployment: str) -> None:
    with JiraDouble(deployment=deployment, max_results_limit=2) as double:
        client = connect(double)
        for _ in range(5):
            client.create_issue(fields=new_issue_fields())
        before = len(double.requests)

        found = client.search_issues("project = ISMS ORDER BY updated ASC", maxResults=False)

        assert [issue.key for issue in found] == [f"ISMS-{n}" for n in range(1, 6)]
        searches = [r for r in double.requests[before:] if "/search" in r.path]
        assert len(searches) == 3
        if deployment == "Cloud":
            assert [r.query.get("nextPageToken") for r in searches] == [None, ["page-1"], ["page-2"]]
        else:
            assert [r.query.get("startAt") for r in searches] == [["0"], ["2"], ["4"]]


def test_jql_filters_on_updated_and_orders_by_updated() -> None:
    clock = FakeClock(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    with JiraDouble(clock=clock) as double:
        client = connect(double)
        client.create_issue(fields=new_issue_fields())
        clock.advance(hours=1)
        client.create_issue(fields=new_issue_fields())
        clock.advance(hours=1)
        double.add_comment("ISMS-1", "Approved by the CAB.", author="Alice Auditor")

        recent = client.search_issues(
            f'labels = {LABEL} AND project = ISMS AND updated >= "2026/11/23 10:30" ORDER BY updated ASC'
        )
        half_past_eleven = int(datetime(2026, 11, 23, 11, 30, tzinfo=UTC).timestamp() * 1000)
        since_millis = client.search_issues(f"updated >= {half_past_eleven}")

    assert [issue.key for issue in recent] == ["ISMS-2", "ISMS-1"]
    assert recent[1].fields.updated == "2026-11-23T12:00:00.000+0000"
    assert [issue.key for issue in since_millis] == ["ISMS-1"]


@pytest.mark.parametrize(
    ("jql", "message"),
    [
        ("status = Done", "Field 'status' does not exist"),
        ("project = NOPE", "The value 'NOPE' does not exist for the field 'project'."),
        ('updated >= "yesterday"', "Date value 'yesterday' for field 'updated' is invalid."),
        ("labels = A OR labels = B", "Error in the JQL Query"),
    ],
)
def test_unsupported_or_invalid_jql_is_a_400_with_error_messages(server: JiraDouble, jql: str, message: str) -> None:
    client = connect(server)

    with pytest.raises(jira.JIRAError) as raised:
        client.search_issues(jql)

    assert raised.value.status_code == 400
    assert message in raised.value.text


def test_transition_to_done_sets_status_and_resolution(server: JiraDouble) -> None:
    client = connect(server)
    issue = client.create_issue(fields=new_issue_fields())

    assert [t["name"] for t in client.transitions(issue)] == ["Start Progress"]
    with pytest.raises(jira.JIRAError) as raised:
        client.transition_issue(issue, "21")  # Done is not reachable from To Do
    assert raised.value.status_code == 400

    client.transition_issue(issue, "Start Progress")
    client.transition_issue(issue, "Done", comment="Implemented and verified.")

    done = client.issue("ISMS-1")
    assert done.fields.status.name == "Done"
    assert done.fields.status.statusCategory.key == "done"
    assert done.fields.resolution.name == "Done"
    assert [c.body for c in client.comments(done)] == ["Implemented and verified."]


def test_comments_from_the_bot_and_from_jira_users(server: JiraDouble) -> None:
    client = connect(server)
    issue = client.create_issue(fields=new_issue_fields())

    mine = client.add_comment(issue, "Change scheduled for Friday.")
    server.add_comment("ISMS-1", "Please attach the rollback plan.", author="Alice Auditor")

    comments = client.comments("ISMS-1")
    assert mine.body == "Change scheduled for Friday."
    assert mine.author.emailAddress == EMAIL
    assert [(c.author.displayName, c.body) for c in comments] == [
        ("ISMS Bot", "Change scheduled for Friday."),
        ("Alice Auditor", "Please attach the rollback plan."),
    ]


def test_edit_labels_and_issue_properties(server: JiraDouble) -> None:
    client = connect(server)
    issue = client.create_issue(fields=new_issue_fields())

    issue.update(fields={"labels": [LABEL, "isms-bot"]})
    issue.add_field_value("labels", "approved")
    client.add_issue_property("ISMS-1", "isms.change", {"id": "CHG-2026-0001", "revision": 2})

    assert client.issue("ISMS-1").fields.labels == [LABEL, "isms-bot", "approved"]
    assert client.issue_property("ISMS-1", "isms.change").value.revision == 2
    with pytest.raises(jira.JIRAError) as raised:
        client.issue_property("ISMS-1", "missing")
    assert raised.value.status_code == 404


def test_token_auth_uses_bearer_pat(server: JiraDouble) -> None:
    client = connect(server, basic_auth=None, token_auth=PAT)

    assert client.myself()["emailAddress"] == EMAIL
    assert server.requests[-1].headers["authorization"] == f"Bearer {PAT}"


@pytest.mark.parametrize(
    "credentials",
    [{"basic_auth": (EMAIL, "wrong-token")}, {"basic_auth": None, "token_auth": "wrong-pat"}],
)
def test_wrong_credentials_are_a_401_on_the_first_authenticated_call(
    server: JiraDouble, credentials: dict[str, object]
) -> None:
    client = connect(server, **credentials)  # serverInfo is anonymous, so construction succeeds

    with pytest.raises(jira.JIRAError) as raised:
        client.myself()

    assert raised.value.status_code == 401
    assert "You are not authenticated" in raised.value.text


def test_fail_next_503_surfaces_without_retry_when_max_retries_is_zero(server: JiraDouble) -> None:
    client = connect(server)
    server.fail_next("/rest/api/2/issue", status=503, method="POST")
    before = len(server.requests)

    with pytest.raises(jira.JIRAError) as raised:
        client.create_issue(fields=new_issue_fields())

    assert raised.value.status_code == 503
    assert paths_after(server, before) == ["POST /rest/api/2/issue"]
    assert client.create_issue(fields=new_issue_fields()).key == "ISMS-1"


def test_503_is_retried_only_when_retry_after_is_present(server: JiraDouble) -> None:
    client = connect(server, max_retries=1)
    server.fail_next("/myself", status=503)
    with pytest.raises(jira.JIRAError):
        client.myself()  # no Retry-After: the client does not retry a 503

    server.fail_next("/myself", status=503, retry_after=1)
    assert client.myself()["displayName"] == "ISMS Bot"
    retried = [r.at for r in server.requests if r.path.endswith("/myself")][-2:]
    assert retried[1] - retried[0] >= 0.9  # waits 2 * Retry-After * jitter(0.5..1.0)


def test_outage_fails_authenticated_calls_until_recover(server: JiraDouble) -> None:
    client = connect(server)
    server.outage(status=502)

    with pytest.raises(jira.JIRAError) as raised:
        client.myself()
    assert raised.value.status_code == 502
    assert connect(server).server_info()["deploymentType"] == "Server"

    server.recover()
    assert client.myself()["displayName"] == "ISMS Bot"


def test_delay_after_create_times_out_the_client_but_the_issue_exists(server: JiraDouble) -> None:
    client = connect(server, timeout=0.5)
    server.delay_after_create(3)

    with pytest.raises(requests.exceptions.ReadTimeout):
        client.create_issue(fields=new_issue_fields())

    assert list(server.issues) == ["ISMS-1"]
    assert [i.key for i in client.search_issues(f'labels = "{LABEL}"')] == ["ISMS-1"]


def test_search_lag_hides_new_issues_for_a_while() -> None:
    with JiraDouble(deployment="Cloud") as double:
        client = connect(double)
        double.search_lag(0.5)
        client.create_issue(fields=new_issue_fields())

        assert client.search_issues(f'labels = "{LABEL}"') == []
        assert client.issue("ISMS-1").key == "ISMS-1"  # direct reads are consistent
        found = eventually(lambda: client.search_issues(f'labels = "{LABEL}"'))
        assert [i.key for i in found] == ["ISMS-1"]


def test_set_status_from_jira_side_and_webhook_payload() -> None:
    clock = FakeClock(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    with JiraDouble(clock=clock) as double:
        client = connect(double)
        client.create_issue(fields=new_issue_fields())
        clock.advance(minutes=5)

        double.set_status("ISMS-1", "Done", resolution="Won't Do")
        payload = double.webhook_payload("ISMS-1")

        assert client.issue("ISMS-1").fields.resolution.name == "Won't Do"

    assert payload["webhookEvent"] == "jira:issue_updated"
    assert payload["timestamp"] == int(clock().timestamp() * 1000)
    assert payload["issue"]["key"] == "ISMS-1"
    assert payload["user"]["displayName"] == "Jira Administrator"
    fields = payload["issue"]["fields"]
    assert fields["status"]["name"] == "Done"
    assert fields["resolution"]["name"] == "Won't Do"
    assert fields["labels"] == [LABEL]
    assert fields["updated"] == format_jira_timestamp(clock())
    status_change = [item for item in payload["changelog"]["items"] if item["field"] == "status"]
    assert [(i["fromString"], i["toString"]) for i in status_change] == [("To Do", "Done")]
