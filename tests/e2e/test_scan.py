"""`guardian scan`: a read-only audit of an account a new user built with boto3 (the sandbox's clock set
back for what happened yesterday), and `guardian findings` / `guardian snooze` on stored findings."""

import json
import re
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from guardian.aws import AwsClients
from guardian_sandbox import clock
from guardian_sandbox.worlds import run_cluster
from tests.e2e.test_cli import run

ROLE = "arn:aws:iam::123456789012:role/r"


def seed(url: str) -> None:
    sm = boto3.client("sagemaker", region_name="us-east-1", endpoint_url=url)
    emr = boto3.client("emr", region_name="us-east-1", endpoint_url=url)
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1", endpoint_url=url)
    clients = AwsClients(region="us-east-1", endpoint_url=url)
    now = datetime.now(UTC)
    with clock.at(clients, now - timedelta(days=2)):
        domain = sm.create_domain(
            DomainName="team", AuthMode="IAM", SubnetIds=["s"], VpcId="v", DefaultUserSettings={"ExecutionRole": ROLE}
        )["DomainArn"].rsplit("/", 1)[-1]
        profiles = {
            n: sm.create_user_profile(DomainId=domain, UserProfileName=n)["UserProfileArn"] for n in ("alice", "bob")
        }
        spaces = {
            name: sm.create_space(
                DomainId=domain,
                SpaceName=name,
                SpaceSharingSettings={"SharingType": "Private"},
                OwnershipSettings={"OwnerUserProfileName": owner},
                SpaceSettings={"AppType": app_type},
            )["SpaceArn"]
            for name, owner, app_type in (("alice-lab", "alice", "JupyterLab"), ("bob-code", "bob", "CodeEditor"))
        }
        sm.create_app(DomainId=domain, SpaceName="alice-lab", AppType="JupyterLab", AppName="default")
        sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"})
        sm.create_endpoint_config(
            EndpointConfigName="m5",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "m",
                    "InstanceType": "ml.m5.xlarge",
                    "InitialInstanceCount": 1,
                }
            ],
        )
        sm.create_endpoint_config(
            EndpointConfigName="g5",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "m",
                    "InstanceType": "ml.g5.2xlarge",
                    "InitialInstanceCount": 1,
                }
            ],
        )
        sm.create_endpoint_config(
            EndpointConfigName="sls",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "m",
                    "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5},
                }
            ],
        )

        def tags(owner, space=None, **extra):
            found = [{"Key": "sagemaker:user-profile-arn", "Value": profiles[owner]}]
            found += [{"Key": "sagemaker:space-arn", "Value": spaces[space]}] if space else []
            return found + [{"Key": k, "Value": v} for k, v in extra.items()]

        sm.create_endpoint(EndpointName="fraud-xgb", EndpointConfigName="m5", Tags=tags("alice", "alice-lab"))
        sm.create_endpoint(EndpointName="churn-llm", EndpointConfigName="g5", Tags=tags("bob", "bob-code"))
        sm.create_endpoint(EndpointName="busy", EndpointConfigName="m5", Tags=tags("bob", "bob-code"))
        sm.create_endpoint(EndpointName="serverless", EndpointConfigName="sls", Tags=tags("alice", "alice-lab"))
        sm.create_endpoint(
            EndpointName="kept",
            EndpointConfigName="g5",
            Tags=tags("bob", "bob-code", **{"studio-cost-guardian:exempt": "true"}),
        )
        cluster = run_cluster(
            emr,
            "etl",
            Tags=[{"Key": "sagemaker:user-profile-arn", "Value": profiles["bob"]}],
            AutoTerminationPolicy={"IdleTimeout": 7200},
        )["JobFlowId"]
    with clock.at(clients, now - timedelta(hours=20)):
        sm.create_app(DomainId=domain, SpaceName="bob-code", AppType="CodeEditor", AppName="default")
    with clock.at(clients, now - timedelta(hours=3)):
        sm.delete_app(DomainId=domain, SpaceName="alice-lab", AppType="JupyterLab", AppName="default")
    cloudwatch.put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {
                "MetricName": "Invocations",
                "Value": 120.0,
                "Timestamp": now - timedelta(hours=h),
                "Dimensions": [
                    {"Name": "EndpointName", "Value": "busy"},
                    {"Name": "VariantName", "Value": "AllTraffic"},
                ],
            }
            for h in range(1, 20)
        ],
    )
    cloudwatch.put_metric_data(
        Namespace="AWS/ElasticMapReduce",
        MetricData=[
            {
                "MetricName": "IsIdle",
                "Value": 1.0,
                "Timestamp": now - timedelta(minutes=m),
                "Dimensions": [{"Name": "JobFlowId", "Value": cluster}],
            }
            for m in range(5, 60, 5)
        ],
    )


@pytest.fixture
def account(sandbox_url):
    seed(sandbox_url)
    return sandbox_url


def test_scan_reports_waste_with_owners_and_costs_and_nothing_for_busy_serverless_or_exempt(account, capsys):
    # At default settings: the app's DeleteApp, three hours ago, is in CloudTrail's history, so the grace is over.
    status, out, _ = run(capsys, "scan", "--endpoint-url", account, "--format", "json")
    assert status == 0
    findings = {(f["rule"], f["resource_name"]): f for f in json.loads(out)}
    orphan = findings[("orphaned-resource", "fraud-xgb")]
    stopped = datetime.fromisoformat(orphan["condition_since"].replace("Z", "+00:00"))
    assert timedelta(hours=2.9) < datetime.now(UTC) - stopped < timedelta(hours=3.1)
    assert orphan["waste_usd"] > 0
    expected = {
        ("orphaned-resource", "fraud-xgb"): "alice",
        ("idle-endpoint", "churn-llm"): "bob",
        ("idle-emr-cluster", "etl"): "bob",
        ("long-running-app", "default"): "bob",
    }
    for key, owner in expected.items():
        assert findings[key]["owner"] == owner, key
        assert findings[key]["hourly_cost_usd"] and findings[key]["monthly_cost_usd"], key
    assert findings[("idle-endpoint", "churn-llm")]["hourly_cost_usd"] == 1.515
    assert findings[("long-running-app", "default")]["evidence"]["idle_shutdown"] == "off"
    assert not {name for _, name in findings} & {"busy", "serverless", "kept"}
    fields = {
        "id",
        "rule",
        "resource_arn",
        "resource_kind",
        "resource_name",
        "owner",
        "space",
        "domain_id",
        "sharing",
        "status",
        "detected_at",
        "hourly_cost_usd",
        "waste_usd",
        "monthly_cost_usd",
        "evidence",
    }
    assert all(fields <= set(f) for f in findings.values())
    # read-only: nothing tagged, nothing stored
    sm = boto3.client("sagemaker", region_name="us-east-1", endpoint_url=account)
    arn = sm.describe_endpoint(EndpointName="fraud-xgb")["EndpointArn"]
    assert not any(t["Key"].startswith("studio-cost-guardian:owner") for t in sm.list_tags(ResourceArn=arn)["Tags"])
    assert (
        "studio-cost-guardian"
        not in boto3.client("dynamodb", region_name="us-east-1", endpoint_url=account).list_tables()["TableNames"]
    )


def test_exempt_findings_show_when_asked_and_thresholds_change_what_is_found(account, capsys):
    _, out, _ = run(capsys, "scan", "--endpoint-url", account, "--format", "json", "--include-exempt")
    exempt = [f for f in json.loads(out) if f["status"] == "exempt"]
    assert {f["resource_name"] for f in exempt} == {"kept"}
    _, out, _ = run(
        capsys, "scan", "--endpoint-url", account, "--format", "json", "--set", "long_running_app.limit_hours=24"
    )
    assert not any(f["rule"] == "long-running-app" for f in json.loads(out))


def test_scan_is_a_gate_for_pipelines_by_severity_or_monthly_cost(account, capsys):
    _, out, _ = run(capsys, "scan", "--endpoint-url", account, "--format", "json")
    found = json.loads(out)
    highest = max((f["severity"] for f in found), key=["low", "medium", "high"].index)
    costliest = max(f["monthly_cost_usd"] for f in found if f["monthly_cost_usd"] is not None)

    status, _, err = run(capsys, "scan", "--endpoint-url", account, "--fail-on", "low")
    assert status == 1 and "past the bar: exit status 1" in err
    assert run(capsys, "scan", "--endpoint-url", account, "--fail-on", highest)[0] == 1
    if highest != "high":
        assert run(capsys, "scan", "--endpoint-url", account, "--fail-on", "high")[0] == 0
    assert run(capsys, "scan", "--endpoint-url", account, "--min-monthly-usd", str(costliest))[0] == 1
    assert run(capsys, "scan", "--endpoint-url", account, "--min-monthly-usd", str(costliest + 0.01))[0] == 0
    assert run(capsys, "scan", "--endpoint-url", account)[0] == 0  # no bar, no gate


def test_scan_refuses_an_unknown_threshold(account, capsys):
    status, _, err = run(capsys, "scan", "--endpoint-url", account, "--set", "idle_endpoint.lookback=3")
    assert status == 2 and "unknown threshold 'idle_endpoint.lookback'" in err


def test_findings_filter_and_a_snooze_is_recorded(sandbox_url, capsys):
    run(capsys, "demo", "--endpoint-url", sandbox_url)
    status, out, _ = run(capsys, "findings", "--endpoint-url", sandbox_url, "--owner", "bob", "--format", "json")
    bobs = json.loads(out)
    assert status == 0 and bobs and {f["owner"] for f in bobs} == {"bob"}
    idle = next(f for f in bobs if f["rule"] == "idle-endpoint")
    status, out, _ = run(
        capsys,
        "snooze",
        idle["id"],
        "--until",
        "2099-01-31",
        "--reason",
        "load test on Monday",
        "--endpoint-url",
        sandbox_url,
    )
    assert status == 0 and "snoozed until 2099-01-31" in out
    _, out, _ = run(capsys, "findings", "--endpoint-url", sandbox_url, "--status", "snoozed", "--format", "json")
    [snoozed] = json.loads(out)
    assert (snoozed["id"], snoozed["snoozed_until"]) == (idle["id"], "2099-01-31T23:59:59.999999Z")
    status, _, err = run(
        capsys, "snooze", "f-nope", "--until", "2099-01-31", "--reason", "x", "--endpoint-url", sandbox_url
    )
    assert status == 2 and "no finding f-nope" in err
    # `findings show`: the trail, with who snoozed it and why.
    status, out, _ = run(capsys, "findings", "show", idle["id"], "--endpoint-url", sandbox_url)
    assert status == 0
    assert out.startswith(f"{idle['id']}  idle-endpoint on endpoint {idle['resource_name']}")
    trail = out.split("audit trail:\n", 1)[1].splitlines()
    assert re.match(r"  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d opened -> open: ", trail[0]), trail[0]
    assert any(
        " snoozed " in line and line.endswith("until 2099-01-31T23:59:59.999999Z: load test on Monday")
        for line in trail
    )
    assert "attribution:\n  decided by " in out and "cost history:\n  from " in out
    assert f"decided by {idle['attribution']['source']} (confidence {idle['attribution']['confidence']})" in out
    status, out, _ = run(capsys, "findings", "show", idle["id"], "--endpoint-url", sandbox_url, "--format", "json")
    shown = json.loads(out)
    assert shown["id"] == idle["id"] and [e["action"] for e in shown["audit"]][-1] == "snoozed"
    assert shown["attribution"]["owner"] == "bob" and shown["cost_history"]
    # The finding's own attribution: what decided its owner when it was judged, and how far to trust it.
    assert shown["attribution"]["source"] == idle["attribution"]["source"]
    assert shown["attribution"]["confidence"] in ("strong", "weak") and shown["attribution"]["evidence"]
    status, _, err = run(capsys, "findings", "show", "f-nope", "--endpoint-url", sandbox_url)
    assert status == 2 and "no finding f-nope" in err

    # --status open: everything still billing (a snoozed resource still bills), the exact states still there.
    def ids(*args: str) -> set[str]:
        _, out, _ = run(capsys, "findings", "--endpoint-url", sandbox_url, "--format", "json", *args)
        return {f["id"] for f in json.loads(out)}

    billing = ids("--status", "open")
    assert idle["id"] in billing
    assert billing == ids("--status", "new") | ids("--status", "notified") | ids("--status", "snoozed") | ids(
        "--status", "remediation-scheduled"
    )
    assert ids("--status", "notified")  # the demo's alerts went out: "open" is not empty because of it

    # --since DATE: from the start of that day (it used to mean its end, and found nothing).
    everything = json.loads(run(capsys, "findings", "--endpoint-url", sandbox_url, "--format", "json")[1])
    day = min(f["detected_at"] for f in everything)[:10]
    assert ids("--since", day) == {f["id"] for f in everything}
