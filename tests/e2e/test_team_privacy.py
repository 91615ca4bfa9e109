"""Nobody who owns a private space is named to the team unless the stack allows it: over the demo's data,
no team message (email subjects, bodies and attributes; Slack payloads on the team's webhook) and no team
file (the weekly report's HTML, CSV and JSON, as the report function writes them and as `guardian report
--hide-private` renders them, Cost Explorer's line included) holds a private-space owner's name."""

import contextlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from guardian.actual_cost import actual_cost
from guardian.findings import CostSegment, Finding, Status
from guardian.findings_store import DynamoFindings
from guardian.kinds import Kind
from guardian.period import Period
from guardian.report import UNNAMED, report_for
from guardian_cli.account import Endpoint, TableRef
from guardian_cli.commands import report as report_command
from guardian_cli.commands.report import render
from guardian_sandbox import demo, embedded
from guardian_sandbox.demo import TEAM_EMAIL
from guardian_sandbox.scenario import OWNER_EMAILS, PROFILES
from guardian_sandbox.stack import REPORTS_BUCKET, SandboxStack
from tests.conftest import SlackReceiver

TAG = "studio-cost-guardian:owner"
CE_RESULTS = "http://motoapi.amazonaws.com/moto-api/static/ce/cost-and-usage-results"


@dataclass
class Seen:
    """What the demo's account gave the team and its owners, and who owns a private space there."""

    private_owners: set[str]
    team: dict[str, list[str]] = field(default_factory=dict)  # what the team got, by kind, as text
    owners: list[str] = field(default_factory=list)  # what owners got by email and Slack
    named_report: str = ""  # the report with names allowed: the check must be able to see a name


def _split_slack(original: Any, base: str) -> Any:
    """The demo posts every channel to one webhook: give the team's and each owner's a path of its own."""

    def use_slack(stack: SandboxStack, secret: str) -> None:
        routes = json.loads(secret)
        routes = {"team": f"{base}/team", "owners": {name: f"{base}/owner/{name}" for name in routes["owners"]}}
        original(stack, json.dumps(routes))

    return use_slack


def _cost_explorer_answer() -> dict[str, Any]:
    groups = [
        {"Keys": [f"{TAG}${owner}"], "Metrics": {"UnblendedCost": {"Amount": f"{10 + n}.25", "Unit": "USD"}}}
        for n, owner in enumerate([*PROFILES, ""])
    ]
    return {"ResultsByTime": [{"TimePeriod": {"Start": "2026-01-01", "End": "2026-01-08"}, "Groups": groups}]}


def _team_notifications(original: Any, mode: str) -> Any:
    """The demo's stack with TeamNotifications=``mode``: immediate sends the team each private finding,
    counted, as it opens; digest (the default) only the daily digest."""

    def init(stack: SandboxStack, clients: Any, *args: Any, parameters: dict[str, str] | None = None, **kw: Any):
        original(stack, clients, *args, parameters={**(parameters or {}), "TEAM_NOTIFICATIONS": mode}, **kw)

    return init


@pytest.fixture(scope="module", params=["digest", "immediate"], ids=lambda mode: f"team-{mode}")
def seen(request: pytest.FixtureRequest) -> Iterator[Seen]:
    slack = SlackReceiver()
    with embedded() as clients, pytest.MonkeyPatch.context() as patch:
        patch.setattr(SandboxStack, "use_slack", _split_slack(SandboxStack.use_slack, slack.url))
        patch.setattr(SandboxStack, "__init__", _team_notifications(SandboxStack.__init__, request.param))
        result = demo.run(clients, lambda _line: None, slack_webhook=slack.url)
        spaces = [r for r in result.resources if r.kind is Kind.SPACE]
        seen = Seen({s.owner for s in spaces if s.owner and s.sharing == "Private"})
        mail = list(result.messages)

        # The weekly report, as the function makes it for the week of the demo, with Cost Explorer's line.
        for _ in range(6):  # the function's call, the named report's and the four `guardian report` runs
            requests.post(CE_RESULTS, json={"results": [_cost_explorer_answer()]}, timeout=5)
        stack = SandboxStack(
            clients, parameters={"OWNER_EMAILS": json.dumps(OWNER_EMAILS), "COST_EXPLORER": "true"}
        ).deploy()
        stack.use_slack(json.dumps({"team": slack.url, "owners": dict.fromkeys(PROFILES, slack.url)}))
        year, week, _ = (result.now - timedelta(hours=1)).isocalendar()
        stack.invoke("ReportFunction", {"week": f"{year}-W{week:02d}"})
        mail += stack.mailbox()
        s3 = clients("s3")
        files = [
            s3.get_object(Bucket=REPORTS_BUCKET, Key=o["Key"])["Body"].read().decode()
            for o in s3.list_objects_v2(Bucket=REPORTS_BUCKET)["Contents"]
        ]

        # `guardian report --hide-private --cost-explorer` over the same table: the last 7 days.
        store = DynamoFindings(clients("dynamodb"), stack.table_name)
        period = Period.last_days(result.now, 7)
        named = report_for(store, period, result.now, names=True, actual=actual_cost(clients("ce"), period, TAG))
        ref = TableRef(Endpoint(None, "us-east-1"), stack="unused", table=stack.table_name)
        hidden = {}
        for fmt in ("json", "csv", "html", "table"):
            with contextlib.redirect_stdout(io.StringIO()) as printed:
                assert report_command.run(ref, fmt, hide_private=True, cost_explorer=True) == 0
            hidden[fmt] = printed.getvalue()
    slack.server.shutdown()

    team_mail = [m for m in mail if TEAM_EMAIL in m["to"]]
    assert team_mail and all(m["attributes"].get("audience") == "team" for m in team_mail)
    team_posts = [p["body"] for p in slack.posts if p["path"].endswith("/team")]
    seen.team = {
        "email subjects and bodies": [m["subject"] + "\n" + m["text"] for m in team_mail],
        "email attributes": [json.dumps(m["attributes"]) for m in team_mail],
        "slack payloads": [json.dumps(p) for p in team_posts],
        "weekly report files (html, csv, json)": files,
        "report json": [hidden["json"]],
        "report csv": [hidden["csv"]],
        "report html": [hidden["html"]],
        "report summary": [hidden["table"]],
        "cost explorer line": [json.dumps(json.loads(hidden["json"])["actual_cost"])],
    }
    seen.owners = [m["subject"] + m["text"] for m in mail if m["attributes"].get("audience") == "owner"] + [
        json.dumps(p["body"]) for p in slack.posts if "/owner/" in p["path"]
    ]
    seen.named_report = render(named, "json")
    yield seen


def _names_in(text: str, names: set[str]) -> set[str]:
    """The names ``text`` holds as words (alice, alice-lab, alice@example.com, "alice's"); an IAM user named
    bob.smith is someone else (the unowned notebook's creator, evidence the team needs to find its owner)."""
    return {name for name in names if re.search(rf"(?<![\w.]){re.escape(name)}(?!\w|\.\w)", text, re.IGNORECASE)}


def test_the_demo_has_private_space_owners_and_the_check_can_see_their_names(seen):
    assert seen.private_owners == {"alice", "bob", "dave", "erin"}
    assert _names_in(" ".join(seen.owners), seen.private_owners) == seen.private_owners  # they hear of their own
    assert _names_in(seen.named_report, seen.private_owners) == seen.private_owners  # names allowed: named


CATEGORIES = [
    "email subjects and bodies",
    "email attributes",
    "slack payloads",
    "weekly report files (html, csv, json)",
    "report json",
    "report csv",
    "report html",
    "report summary",
    "cost explorer line",
]


@pytest.mark.parametrize("category", CATEGORIES)
def test_no_team_message_or_file_names_a_private_space_owner(seen, category):
    texts = seen.team[category]
    assert texts, f"the team got no {category}: nothing was checked"
    for text in texts:
        assert not _names_in(text, seen.private_owners), text[:2000]


def test_team_email_carries_no_owner_attribute(seen):
    for attributes in map(json.loads, seen.team["email attributes"]):
        assert "owner" not in attributes and attributes["audience"] == "team"


def test_cost_explorer_counts_what_it_cannot_name(seen):
    [line] = map(json.loads, seen.team["cost explorer line"])
    assert UNNAMED in line["by_owner"] and "untagged" in line["by_owner"]
    assert line["total_usd"] == pytest.approx(sum(line["by_owner"].values()), abs=0.01)


def test_cost_explorer_does_not_name_a_private_space_owner_whose_only_finding_is_shared(capsys):
    """frank owns a private space where nothing is wasted, and an idle endpoint in a shared space, so the
    only finding that names him is not private; Cost Explorer's cost of his tag mixes both. `guardian report
    --hide-private` learns he owns a private space from the inventory, as the weekly report function does."""
    role = "arn:aws:iam::123456789012:role/frank"
    with embedded() as clients:
        stack = SandboxStack(clients).deploy()
        sm = clients("sagemaker")
        domain = sm.create_domain(
            DomainName="d", AuthMode="IAM", SubnetIds=["s"], VpcId="v", DefaultUserSettings={"ExecutionRole": role}
        )["DomainArn"].rsplit("/", 1)[-1]
        sm.create_user_profile(DomainId=domain, UserProfileName="frank")
        sm.create_space(
            DomainId=domain,
            SpaceName="frank-lab",
            SpaceSharingSettings={"SharingType": "Private"},
            OwnershipSettings={"OwnerUserProfileName": "frank"},
        )
        stack.invoke("SweepFunction", {})
        capsys.readouterr()  # the sweep's log lines
        shared_endpoint = Finding(
            id="f-frank",
            rule="idle-endpoint",
            resource_arn="arn:aws:sagemaker:us-east-1:123456789012:endpoint/team-ranker",
            resource_kind="endpoint",
            resource_name="team-ranker",
            owner="frank",
            sharing="Shared",
            region="us-east-1",
            account="123456789012",
            status=Status.OPEN,
            detected_at=datetime.now(UTC) - timedelta(days=2),
            condition_since=datetime.now(UTC) - timedelta(days=2),
            summary="idle",
            severity="low",
            segments=[CostSegment(start=datetime.now(UTC) - timedelta(days=2), hourly=0.23)],
        )
        DynamoFindings(clients("dynamodb"), stack.table_name).put(shared_endpoint, [])
        cost = {"Keys": [f"{TAG}$frank"], "Metrics": {"UnblendedCost": {"Amount": "12.50", "Unit": "USD"}}}
        answer = {"ResultsByTime": [{"TimePeriod": {"Start": "2026-01-01", "End": "2026-01-08"}, "Groups": [cost]}]}
        requests.post(CE_RESULTS, json={"results": [answer]}, timeout=5)
        ref = TableRef(Endpoint(None, "us-east-1"), stack="unused", table=stack.table_name)
        assert report_command.run(ref, "json", hide_private=True, cost_explorer=True) == 0
    printed = capsys.readouterr().out
    report = json.loads(printed)
    assert [row["owner"] for row in report["by_owner"]] == ["frank"]  # his shared endpoint's waste is named
    assert report["actual_cost"]["by_owner"] == {UNNAMED: 12.5}  # his tag's cost includes his private space
