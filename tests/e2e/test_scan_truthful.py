"""`guardian scan` on an account the guardian never watched tells what the deployed stack would: when a
space stopped and who made what come from CloudTrail's event history (the sandbox keeps the calls made to
it and serves LookupEvents), and without that history the scan still completes and says what it does not
know ("stopped before <time>") instead of inventing it."""

import io
import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto.cloudtrail.responses import CloudTrailResponse
from moto.core.exceptions import ServiceException

from guardian.aws import AwsClients
from guardian_cli.output import ProgressLine
from guardian_sandbox import clock, cloudtrail
from guardian_sandbox.eventfactory import Caller
from tests.e2e.test_cli import run

ACCOUNT, REGION = "123456789012", "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/team-role"
BOB_ROLE = f"arn:aws:iam::{ACCOUNT}:role/bob-role"


def seed(url: str) -> dict[str, datetime]:
    """A team's account, made with boto3 over two days: alice's space stopped an hour ago, leaving two
    endpoints she made from it (one auto-tagged, one known only from CloudTrail: her session's source
    identity); bob's endpoint, made by his own execution role with no source identity, idle for a day."""
    sm = boto3.client("sagemaker", region_name=REGION, endpoint_url=url)
    clients = AwsClients(region=REGION, endpoint_url=url)
    # Who made a call: the sandbox signs every call with one key, so the sessions are said (CloudTrail records them).
    bob = cloudtrail.calls_by(Caller(role="bob-role").user_identity(ACCOUNT))
    alices_session = cloudtrail.calls_by(Caller(role="team-role", source_identity="alice").user_identity(ACCOUNT))
    now = datetime.now(UTC)
    with clock.at(clients, now - timedelta(days=2)):
        domain = sm.create_domain(
            DomainName="team", AuthMode="IAM", SubnetIds=["s"], VpcId="v", DefaultUserSettings={"ExecutionRole": ROLE}
        )["DomainArn"].rsplit("/", 1)[-1]
        alice = sm.create_user_profile(DomainId=domain, UserProfileName="alice")["UserProfileArn"]
        sm.create_user_profile(DomainId=domain, UserProfileName="bob", UserSettings={"ExecutionRole": BOB_ROLE})
        space = sm.create_space(
            DomainId=domain,
            SpaceName="alice-lab",
            SpaceSharingSettings={"SharingType": "Private"},
            OwnershipSettings={"OwnerUserProfileName": "alice"},
            SpaceSettings={"AppType": "JupyterLab"},
        )["SpaceArn"]
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
        with bob:
            sm.create_endpoint(EndpointName="bob-scoring", EndpointConfigName="m5")
    with clock.at(clients, now - timedelta(hours=20)), alices_session:
        sm.create_endpoint(
            EndpointName="fraud-xgb",
            EndpointConfigName="m5",
            Tags=[
                {"Key": "sagemaker:user-profile-arn", "Value": alice},
                {"Key": "sagemaker:space-arn", "Value": space},
            ],
        )
        sm.create_endpoint(EndpointName="alice-llm", EndpointConfigName="m5")
    stopped = now - timedelta(hours=1)
    with clock.at(clients, stopped):
        sm.delete_app(DomainId=domain, SpaceName="alice-lab", AppType="JupyterLab", AppName="default")
    return {"stopped": stopped.replace(microsecond=0), "now": now}


@pytest.fixture
def account(sandbox_url):
    return sandbox_url, seed(sandbox_url)


def scan_json(capsys, url: str, *args: str) -> tuple[int, dict[tuple[str, str], dict], str]:
    status, out, err = run(capsys, "scan", "--endpoint-url", url, "--format", "json", *args)
    return status, {(f["rule"], f["resource_name"]): f for f in json.loads(out)}, err


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_scan_dates_the_stop_and_names_the_owner_from_cloudtrail_history(account, capsys):
    url, times = account
    status, found, err = scan_json(capsys, url)
    assert status == 0 and "warning" not in err

    # The orphan the deployed stack would find, at default settings: stopped when its DeleteApp says.
    tagged = found[("orphaned-resource", "fraud-xgb")]
    assert tagged["owner"] == "alice" and tagged["space"] == "alice-lab"
    assert abs(at(tagged["condition_since"]) - times["stopped"]) <= timedelta(seconds=1)
    assert tagged["summary"] == "still billing since space alice-lab stopped"
    assert tagged["waste_usd"] > 0 and tagged["waste_usd"] == pytest.approx(0.23, abs=0.02)  # an hour of $0.23/h
    assert tagged["attribution"]["source"] == "auto-tag" and tagged["attribution"]["confidence"] == "strong"

    # No tag names alice on this one: her session's source identity, in its CreateEndpoint's record, does.
    made = found[("orphaned-resource", "alice-llm")]
    assert made["owner"] == "alice"
    assert abs(at(made["condition_since"]) - times["stopped"]) <= timedelta(seconds=1)
    assert made["waste_usd"] > 0
    assert made["attribution"]["source"] == "source-identity" and made["attribution"]["confidence"] == "strong"
    assert "source-identity: alice" in made["attribution"]["evidence"]
    assert any(
        e.startswith("cloudtrail: CreateEndpoint by arn:aws:sts::") and e.endswith("source identity alice")
        for e in made["attribution"]["evidence"]
    )

    # Bob's execution role is his alone: weak evidence, and said to be.
    idle = found[("idle-endpoint", "bob-scoring")]
    assert idle["owner"] == "bob"
    assert idle["attribution"]["source"] == "execution-role" and idle["attribution"]["confidence"] == "weak"
    assert "execution-role: bob-role belongs to bob only" in idle["attribution"]["evidence"]

    status, _, err = run(capsys, "scan", "--endpoint-url", url, "--fail-on", "low")
    assert status == 1 and "past the bar: exit status 1" in err


def test_a_scan_on_a_terminal_shows_its_progress_through_the_history_and_wipes_it(account, capsys, monkeypatch):
    url, _ = account

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr("guardian_cli.progress.ProgressLine", lambda _stream: ProgressLine(terminal))
    status, _, err = run(capsys, "scan", "--endpoint-url", url)
    assert status == 0 and "CloudTrail" not in err  # a pipe or a log gets no progress line
    shown = terminal.getvalue()
    assert "CloudTrail history: 1 of at most 120 LookupEvents calls (2/s)" in shown
    assert shown.endswith("\r\x1b[K")  # the line is gone once the findings print


class AccessDeniedException(ServiceException):
    code = "AccessDeniedException"


def test_without_cloudtrail_history_the_scan_completes_and_says_what_it_does_not_know(account, capsys, monkeypatch):
    url, times = account

    def denied(self):
        raise AccessDeniedException("User is not authorized to perform: cloudtrail:LookupEvents")

    monkeypatch.setattr(CloudTrailResponse, "lookup_events", denied)
    status, found, err = scan_json(capsys, url)
    assert status == 0
    assert "warning: CloudTrail history incomplete (LookupEvents: " in err and "AccessDeniedException" in err
    assert "A scan needs cloudtrail:LookupEvents." in err

    # The orphan is still found, and says its stop is known only to be before the scan: nothing invented.
    orphan = found[("orphaned-resource", "fraud-xgb")]
    scanned = at(orphan["detected_at"])
    assert scanned >= times["now"] and at(orphan["condition_since"]) == scanned
    assert orphan["summary"] == f"still billing since space alice-lab stopped before {orphan['detected_at']}"
    assert orphan["evidence"]["time_is_upper_bound"] is True
    # Only CloudTrail named alice as alice-llm's creator: without it, nobody is.
    assert ("orphaned-resource", "alice-llm") not in found
    assert found[("unattributed-resource", "alice-llm")]["attribution"]["confidence"] == "none"
