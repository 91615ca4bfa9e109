"""`guardian simulate`, as an admin runs it: the shipped examples give the lines a user expects, enforce
mode never acts on what it must not, and a scenario with a mistake is one line naming the step, exit 2.

Each example runs once for the module (a simulated day or two of the whole stack takes a while)."""

import contextlib
import io
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from guardian_cli.main import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# The output's fields, exactly as the README documents them.
FIELDS = {
    "finding": {"at", "kind", "id", "rule", "resource_name", "owner", "status", "hourly_cost_usd", "waste_usd"},
    "message": {"at", "kind", "channel", "audience", "to", "subject", "resources", "delivered"},
    "action": {"at", "kind", "action", "resource_name", "mode", "outcome"},
    "skipped": {"at", "kind", "resource_name", "reason"},
    "summary": {
        "kind",
        "start",
        "until",
        "findings",
        "messages",
        "messages_delivered",
        "actions",
        "acted",
        "skipped",
        "failed_runs",
    },
}


def simulate(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["simulate", *argv])
    return status, out.getvalue(), err.getvalue()


def lines_of(*argv: str) -> list[dict]:
    status, out, err = simulate(*argv)
    assert status == 0, err
    return [json.loads(line) for line in out.splitlines()]


def at(line: dict) -> datetime:
    return datetime.fromisoformat(line["at"].replace("Z", "+00:00"))


def of(lines: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [
        line
        for line in lines
        if line["kind"] == kind and (name is None or name in (line.get("resource_name"), *line.get("resources", [])))
    ]


@pytest.fixture(scope="module")
def enforce_safety() -> list[dict]:
    return lines_of(str(EXAMPLES / "enforce-safety.yaml"))


@pytest.fixture(scope="module")
def webhook_failure() -> list[dict]:
    return lines_of(str(EXAMPLES / "webhook-failure.yaml"))


@pytest.fixture(scope="module")
def demo_day() -> list[dict]:
    return lines_of(str(EXAMPLES / "demo-day.yaml"))


# --- enforce mode: what it acts on, and what it never does ----------------------------------------------


@pytest.mark.slow
def test_enforce_deletes_the_plain_orphan_once_after_its_grace_with_one_reminder(enforce_safety):
    done = [a for a in of(enforce_safety, "action") if a["outcome"] == "done"]
    assert [(a["resource_name"], a["action"], a["mode"]) for a in done] == [
        ("alice-orphan", "delete endpoint", "enforce")
    ]
    reached = [m for m in of(enforce_safety, "message", "alice-orphan") if m["audience"] == "owner" and m["delivered"]]
    grace = timedelta(hours=6)  # the example's RemediationGraceHours
    assert at(done[0]) >= at(reached[0]) + grace, "acted before the grace after the first delivered notice ended"
    before = [m for m in reached if at(m) < at(done[0])]
    assert len(before) == 2, f"expected the alert and one reminder, got {[m['subject'] for m in before]}"
    scheduled = [a for a in of(enforce_safety, "action", "alice-orphan") if a["outcome"].startswith("scheduled")]
    assert len(scheduled) == 1 and at(scheduled[0]) == at(before[1]), "the reminder is sent when it is scheduled"
    statuses = [f["status"] for f in of(enforce_safety, "finding", "alice-orphan")]
    assert statuses[-2:] == ["remediated", "resolved"]


@pytest.mark.slow
@pytest.mark.parametrize("survivor", ["bob-orphan", "team-scoring", "alice-exempt", "dave-snoozed"])
def test_enforce_never_acts_on_the_unreachable_the_shared_the_exempt_or_the_snoozed(enforce_safety, survivor):
    assert of(enforce_safety, "finding", survivor), f"{survivor} should have findings (it is waste)"
    assert not of(enforce_safety, "action", survivor)
    assert not {"remediated", "resolved"} & {f["status"] for f in of(enforce_safety, "finding", survivor)}


@pytest.mark.slow
def test_the_owner_without_any_address_is_named_to_the_team_not_messaged(enforce_safety):
    to_bob = [m for m in of(enforce_safety, "message", "bob-orphan") if m["audience"] == "owner"]
    assert all(not m["delivered"] for m in to_bob)
    team = [m for m in of(enforce_safety, "message") if m["audience"] == "team" and m["delivered"]]
    assert any("no address" in m["subject"] for m in team), "the team hears at once that an owner has no address"


@pytest.mark.slow
def test_an_email_is_delivered_only_once_its_subscription_is_confirmed(enforce_safety):
    confirmed = datetime.fromisoformat("2026-11-02T10:30:00+00:00")  # the example's confirm_subscription steps
    to_alice = [m for m in of(enforce_safety, "message") if m["channel"] == "email" and m["audience"] == "owner"]
    assert to_alice and all(at(m) >= confirmed for m in to_alice if m["delivered"])
    assert all(m["to"] for m in to_alice if m["delivered"])


# --- a webhook that starts refusing --------------------------------------------------------------------------


@pytest.mark.slow
def test_when_slack_refuses_the_owner_is_not_reached_and_nothing_is_acted_on(webhook_failure):
    slack = [m for m in of(webhook_failure, "message") if m["channel"] == "slack"]
    first = next(m for m in slack if "classic-nb" in m["resources"])
    assert first["delivered"], "before the 404 the team's webhook took the alert"
    to_alice = [m for m in slack if m["audience"] == "owner" and "alice-endpoint" in m["resources"]]
    assert to_alice and not any(m["delivered"] for m in to_alice)
    assert of(webhook_failure, "action") == []
    assert of(webhook_failure, "skipped", "alice-endpoint"), "the reason it is not acted on is shown"
    assert webhook_failure[-1]["acted"] == 0


# --- the demo's day -----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_demo_day_finds_what_the_demo_finds(demo_day):
    opened = {(f["resource_name"], f["rule"]): f for f in of(demo_day, "finding")}
    assert opened[("fraud-xgb", "orphaned-resource")]["owner"] == "alice"
    assert opened[("spark-etl", "orphaned-resource")]["owner"] == "alice"
    assert opened[("spark-etl", "idle-emr-cluster")]["owner"] == "alice"
    assert opened[("churn-llm", "idle-endpoint")]["owner"] == "bob"
    assert opened[("llm-train", "orphaned-resource")]["owner"] == "dave"
    assert opened[("classic-nb", "unattributed-resource")]["owner"] is None
    assert {f["status"] for f in of(demo_day, "finding", "legacy-scoring")} == {"exempt"}
    assert not of(demo_day, "finding", "carol-batch"), "a busy endpoint is not waste"
    assert not of(demo_day, "action"), "remediation is off, as in the demo"


@pytest.mark.slow
def test_erin_gets_one_grouped_message_for_her_two_endpoints_then_their_resolution(demo_day):
    to_erin = [m for m in of(demo_day, "message") if m["channel"] == "email" and m["to"] == ["erin@example.com"]]
    grouped = [m for m in to_erin if set(m["resources"]) == {"sentiment-a", "sentiment-b"}]
    assert len(grouped) == 1 and grouped[0]["delivered"]
    resolved = [m for m in to_erin if at(m) > at(grouped[0])]
    assert {name for m in resolved for name in m["resources"]} == {"sentiment-a", "sentiment-b"}


@pytest.mark.slow
def test_private_space_findings_reach_the_team_counted_not_named(demo_day):
    private = {"fraud-xgb", "spark-etl", "churn-llm", "sentiment-a", "sentiment-b"}
    for message in of(demo_day, "message"):
        if message["audience"] == "team":
            assert not private & set(message["resources"]), message["subject"]


# --- the output format --------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("example", ["enforce_safety", "webhook_failure", "demo_day"])
def test_every_line_is_json_with_exactly_the_documented_fields_in_time_order(example, request):
    lines = request.getfixturevalue(example)
    assert lines[-1]["kind"] == "summary" and [line["kind"] for line in lines].count("summary") == 1
    for line in lines:
        assert set(line) == FIELDS[line["kind"]], line
    moments = [at(line) for line in lines[:-1]]
    assert moments == sorted(moments)
    summary = lines[-1]
    assert summary["messages"] == len(of(lines, "message"))
    assert summary["messages_delivered"] == sum(m["delivered"] for m in of(lines, "message"))
    assert summary["actions"] == len(of(lines, "action"))
    assert summary["skipped"] == len(of(lines, "skipped"))
    assert summary["findings"] == len({f["id"] for f in of(lines, "finding")})
    for message in of(lines, "message"):
        assert message["channel"] in ("email", "slack") and message["audience"] in ("owner", "team")
    for action in of(lines, "action"):
        assert action["mode"] in ("dry-run", "enforce")


# --- scenarios written by hand --------------------------------------------------------------------------

DOMAIN = {
    "at": "+0m",
    "aws": "sagemaker.create_domain",
    "args": {
        "DomainName": "d",
        "AuthMode": "IAM",
        "SubnetIds": ["subnet-1"],
        "VpcId": "vpc-1",
        "DefaultUserSettings": {"ExecutionRole": "arn:aws:iam::123456789012:role/r"},
    },
}


def scenario(tmp_path: Path, steps: list[dict], **top: object) -> str:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump({"start": "2026-11-02T08:00:00Z", "until": "+2h", **top, "steps": steps}))
    return str(path)


def test_a_whole_string_placeholder_keeps_its_type_and_one_inside_a_string_is_written_in(tmp_path):
    """The count comes back as a number (botocore refuses the string "2"), the name is written into a
    longer string, and the last step finds the endpoint config only if both were substituted."""
    variant = {"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "ml.m5.large", "InitialInstanceCount": 2}
    path = scenario(
        tmp_path,
        [
            {
                "at": "+0m",
                "aws": "sagemaker.create_model",
                "args": {
                    "ModelName": "m",
                    "ExecutionRoleArn": "arn:aws:iam::123456789012:role/r",
                    "PrimaryContainer": {"Image": "i"},
                },
            },
            {
                "at": "+0m",
                "aws": "sagemaker.create_endpoint_config",
                "args": {"EndpointConfigName": "base", "ProductionVariants": [variant]},
            },
            {
                "at": "+1m",
                "aws": "sagemaker.describe_endpoint_config",
                "as": "base",
                "args": {"EndpointConfigName": "base"},
            },
            {
                "at": "+2m",
                "aws": "sagemaker.create_endpoint_config",
                "args": {
                    "EndpointConfigName": "copy-of-${base.EndpointConfigName}",
                    "ProductionVariants": [
                        variant | {"InitialInstanceCount": "${base.ProductionVariants[0].InitialInstanceCount}"}
                    ],
                },
            },
            {"at": "+3m", "aws": "sagemaker.describe_endpoint_config", "args": {"EndpointConfigName": "copy-of-base"}},
        ],
    )
    status, out, err = simulate(path)
    assert status == 0, err
    assert json.loads(out.splitlines()[-1])["kind"] == "summary"


@pytest.mark.parametrize(
    ("steps", "named", "says"),
    [
        ([DOMAIN, {"at": "+1h", "aws": "sagemaker.fly_to_the_moon"}], "step 2 (at +1h)", "no method"),
        ([DOMAIN, {"at": "+1h", "slack_status": 404, "metric": {"Namespace": "x"}}], "step 2 (at +1h)", "exactly one"),
        (
            [DOMAIN, {"at": "+1h", "aws": "sagemaker.list_apps", "args": {"DomainIdEquals": "${nothing.Id}"}}],
            "step 2 (at +1h)",
            "nothing",
        ),
        (
            [DOMAIN, {"at": "+1h", "aws": "sagemaker.describe_endpoint", "args": {"EndpointName": "absent"}}],
            "step 2 (at +1h)",
            "describe_endpoint",
        ),
        (
            [{**DOMAIN, "at": "+1h"}, {"at": "+30m", "aws": "sagemaker.list_domains"}],
            "step 2 (at +30m)",
            "forward in time",
        ),
        ([DOMAIN, {"at": "+1 hour", "aws": "sagemaker.list_domains"}], "step 2 (at +1 hour)", "offset"),
        (
            [DOMAIN, {"at": "+1h", "snooze": {"resource": "ghost", "until": "+1d"}}],
            "step 2 (at +1h)",
            "no active finding",
        ),
        ([DOMAIN, {"at": "+1h", "slack_status": 404}], "step 2 (at +1h)", "no Slack"),
    ],
)
def test_a_bad_step_is_one_line_naming_it_and_exit_status_2(tmp_path, steps, named, says):
    status, _, err = simulate(scenario(tmp_path, steps))
    assert status == 2
    message = err.strip().splitlines()[-1]
    assert message.startswith(f"guardian simulate: {named}: ") and says in message, message
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--param", "RemediationMode=sometimes"], "RemediationMode"),
        (["--param", "NoSuchParameter=1"], "unknown parameter 'NoSuchParameter'"),
        (["--set", "orphaned_resource.no_such=1"], "unknown threshold"),
        (["--param", "RemediationMode"], "Name=Value"),
    ],
)
def test_bad_parameters_and_thresholds_exit_2_naming_them(tmp_path, argv, says):
    status, _, err = simulate(scenario(tmp_path, [DOMAIN]), *argv)
    assert status == 2 and says in err, err


def test_a_file_that_is_not_a_scenario_exits_2(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    status, _, err = simulate(str(broken))
    assert status == 2 and "not JSON" in err
    status, _, err = simulate(str(tmp_path / "missing.yaml"))
    assert status == 2 and "missing.yaml" in err


def test_the_table_format_reads_as_a_table_with_the_summary_last(tmp_path):
    status, out, err = simulate(scenario(tmp_path, [DOMAIN]), "--format", "table")
    assert status == 0, err
    assert out.splitlines()[0].split() == ["AT", "KIND", "RESOURCE", "WHO", "WHAT", "DETAIL"]
    assert "0 findings" in out.splitlines()[-1]


# --- dry-run: what enforce would have done ------------------------------------------------------------------

STUDIO = {"role": "AmazonSageMaker-ExecutionRole-Default", "source_identity": "alice"}
DOMAIN_ID = "${domains.Domains[0].DomainId}"
ORPHAN_STORY = [
    DOMAIN | {"args": DOMAIN["args"] | {"DomainSettings": {"ExecutionRoleIdentityConfig": "USER_PROFILE_NAME"}}},
    {"at": "+0m", "aws": "sagemaker.list_domains", "as": "domains"},
    {
        "at": "+1m",
        "aws": "sagemaker.create_user_profile",
        "as": "alice",
        "args": {"DomainId": DOMAIN_ID, "UserProfileName": "alice"},
    },
    {
        "at": "+2m",
        "aws": "sagemaker.create_space",
        "as": "lab",
        "identity": STUDIO,
        "args": {
            "DomainId": DOMAIN_ID,
            "SpaceName": "alice-lab",
            "OwnershipSettings": {"OwnerUserProfileName": "alice"},
            "SpaceSharingSettings": {"SharingType": "Private"},
            "SpaceSettings": {"AppType": "JupyterLab"},
        },
    },
    {
        "at": "+5m",
        "aws": "sagemaker.create_app",
        "identity": STUDIO,
        "args": {"DomainId": DOMAIN_ID, "SpaceName": "alice-lab", "AppType": "JupyterLab", "AppName": "default"},
    },
    {
        "at": "+10m",
        "aws": "sagemaker.create_model",
        "args": {
            "ModelName": "m",
            "ExecutionRoleArn": "arn:aws:iam::123456789012:role/r",
            "PrimaryContainer": {"Image": "i"},
        },
    },
    {
        "at": "+10m",
        "aws": "sagemaker.create_endpoint_config",
        "args": {
            "EndpointConfigName": "c",
            "ProductionVariants": [
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "m",
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
        },
    },
    {
        "at": "+15m",
        "aws": "sagemaker.create_endpoint",
        "identity": STUDIO,
        "args": {
            "EndpointName": "alice-llm",
            "EndpointConfigName": "c",
            "Tags": [
                {"Key": "sagemaker:user-profile-arn", "Value": "${alice.UserProfileArn}"},
                {"Key": "sagemaker:space-arn", "Value": "${lab.SpaceArn}"},
            ],
        },
    },
    {
        "at": "+1h",
        "aws": "sagemaker.delete_app",
        "identity": STUDIO,
        "args": {"DomainId": DOMAIN_ID, "SpaceName": "alice-lab", "AppType": "JupyterLab", "AppName": "default"},
    },
]


@pytest.mark.slow
def test_dry_run_says_what_enforce_would_do_and_does_nothing_and_enforce_does_it(tmp_path):
    path = scenario(
        tmp_path,
        ORPHAN_STORY,
        until="+6h",
        parameters={
            "RemediationMode": "dry-run",
            "RemediationGraceHours": 1,
            "OwnerEmails": '{"alice": "alice@example.com"}',
        },
        confirm_subscriptions="auto",
    )
    dry = lines_of(path)
    would = of(dry, "action", "alice-llm")
    assert [(a["mode"], a["action"]) for a in would] == [("dry-run", "delete endpoint")]
    assert would[0]["outcome"].startswith("would act at ")
    assert not {"remediated", "resolved"} & {f["status"] for f in of(dry, "finding", "alice-llm")}
    assert dry[-1]["acted"] == 1
    enforced = lines_of(path, "--param", "RemediationMode=enforce")
    done = [a for a in of(enforced, "action", "alice-llm") if a["outcome"] == "done"]
    assert len(done) == 1 and done[0]["mode"] == "enforce"
    assert of(enforced, "finding", "alice-llm")[-1]["status"] == "resolved"


@pytest.mark.slow
def test_a_scenario_gives_the_same_lines_on_every_run(tmp_path):
    path = scenario(
        tmp_path,
        ORPHAN_STORY,
        until="+4h",
        parameters={
            "RemediationMode": "enforce",
            "RemediationGraceHours": 1,
            "OwnerEmails": '{"alice": "alice@example.com"}',
        },
        confirm_subscriptions="auto",
    )
    first = lines_of(path)
    assert of(first, "action"), "something happens worth comparing"
    assert lines_of(path) == first
