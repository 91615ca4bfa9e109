"""The CLI as a user runs it: the demo, a sandbox server any AWS client can use, inventory, replay."""

import json
from pathlib import Path

import boto3
import pytest

from guardian_cli.main import main
from tests.conftest import EVENTS, REFERENCE, load, reference, sample


def run(capsys, *argv) -> tuple[int, str, str]:
    status = main(list(argv))
    out = capsys.readouterr()
    return status, out.out, out.err


def test_the_demo_shows_an_owned_tagged_inventory(capsys):
    status, out, _ = run(capsys, "demo")
    assert status == 0
    rows = {line.split()[1]: line for line in out.splitlines() if line.startswith(("endpoint ", "emr-cluster "))}
    assert "alice" in rows["fraud-xgb"] and "auto-tag" in rows["fraud-xgb"] and rows["fraud-xgb"].endswith("yes")
    assert "bob" in rows["churn-llm"] and "source-identity" in rows["churn-llm"]
    assert "carol" in rows["carol-batch"] and "execution-role" in rows["carol-batch"]
    assert "dave" in rows["adhoc-presto"] and "guardian-tag" in rows["adhoc-presto"]
    assert "unattributed" in rows["legacy-scoring"]
    assert "REJECTED and parked" in out
    assert "duplicate, nothing changed" in out


def test_a_new_user_sees_what_they_made_in_the_sandbox_with_the_right_owner(sandbox_url, capsys):
    sm = boto3.client("sagemaker", region_name="us-east-1", endpoint_url=sandbox_url)
    domain_id = sm.create_domain(
        DomainName="team",
        AuthMode="IAM",
        SubnetIds=["s"],
        VpcId="v",
        DefaultUserSettings={"ExecutionRole": "arn:aws:iam::123456789012:role/r"},
    )["DomainArn"].rsplit("/", 1)[-1]
    profile = sm.create_user_profile(DomainId=domain_id, UserProfileName="maria")["UserProfileArn"]
    space = sm.create_space(
        DomainId=domain_id,
        SpaceName="maria-lab",
        SpaceSharingSettings={"SharingType": "Private"},
        OwnershipSettings={"OwnerUserProfileName": "maria"},
    )["SpaceArn"]
    sm.create_app(DomainId=domain_id, SpaceName="maria-lab", AppType="JupyterLab", AppName="default")
    sm.create_model(ModelName="m", ExecutionRoleArn="arn:aws:iam::123456789012:role/r", PrimaryContainer={"Image": "i"})
    sm.create_endpoint_config(
        EndpointConfigName="c",
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "ml.g5.xlarge", "InitialInstanceCount": 1}
        ],
    )
    sm.create_endpoint(
        EndpointName="maria-llm",
        EndpointConfigName="c",
        Tags=[{"Key": "sagemaker:user-profile-arn", "Value": profile}, {"Key": "sagemaker:space-arn", "Value": space}],
    )

    status, out, _ = run(capsys, "inventory", "--endpoint-url", sandbox_url, "--format", "json")
    assert status == 0
    by_kind = {(r["kind"], r["name"]): r for r in json.loads(out)}
    endpoint = by_kind[("endpoint", "maria-llm")]
    assert (endpoint["owner"], endpoint["space"], endpoint["attribution"]) == ("maria", "maria-lab", "auto-tag")
    assert (endpoint["instance_type"], endpoint["instance_count"], endpoint["domain_id"]) == (
        "ml.g5.xlarge",
        1,
        domain_id,
    )
    assert by_kind[("space", "maria-lab")]["sharing"] == "Private"
    assert by_kind[("app", "default")]["owner"] == "maria"
    fields = {
        "arn",
        "kind",
        "name",
        "state",
        "owner",
        "space",
        "domain_id",
        "sharing",
        "instance_type",
        "instance_count",
        "attribution",
    }
    assert all(fields <= set(record) for record in by_kind.values())
    # read-only: nothing was tagged
    assert all(
        not t["Key"].startswith("studio-cost-guardian") for t in sm.list_tags(ResourceArn=endpoint["arn"])["Tags"]
    )


def test_inventory_prints_csv_and_tables(sandbox_url, capsys):
    boto3.client("sagemaker", region_name="us-east-1", endpoint_url=sandbox_url).create_notebook_instance(
        NotebookInstanceName="nb", InstanceType="ml.t3.medium", RoleArn="arn:aws:iam::123456789012:role/r"
    )
    status, out, _ = run(capsys, "inventory", "--endpoint-url", sandbox_url, "--format", "csv")
    assert status == 0
    header, row = out.splitlines()
    assert header == "arn,kind,name,state,owner,space,domain_id,sharing,instance_type,instance_count,attribution"
    assert ",notebook-instance,nb," in row and row.endswith(",unattributed")
    status, out, _ = run(capsys, "inventory", "--endpoint-url", sandbox_url)
    assert status == 0
    assert out.splitlines()[0].split()[:3] == ["ARN", "KIND", "NAME"]


def test_the_demo_leaves_its_state_in_a_running_sandbox(sandbox_url, capsys):
    status, _, _ = run(capsys, "demo", "--endpoint-url", sandbox_url)
    assert status == 0
    items = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=sandbox_url).scan(
        TableName="studio-cost-guardian", Select="COUNT"
    )["Count"]
    assert items > 20
    status, out, _ = run(capsys, "inventory", "--endpoint-url", sandbox_url, "--format", "json")
    owners = {r["name"]: r["owner"] for r in json.loads(out)}
    assert owners["fraud-xgb"] == "alice" and owners["spark-etl"] == "alice"


def test_replay_reads_objects_arrays_json_lines_cloudtrail_files_and_parked_records(tmp_path, capsys):
    single = tmp_path / "one.json"
    single.write_text(json.dumps(sample("cloudtrail_CreateUserProfile.json")))
    array = tmp_path / "many.json"
    array.write_text(json.dumps([sample("cloudtrail_CreateSpace.json"), sample("cloudtrail_CreateApp.json")]))
    lines = tmp_path / "events.jsonl"
    lines.write_text(
        "\n".join(json.dumps(sample(n)) for n in ("cloudtrail_DeleteApp.json", "cloudtrail_RunJobFlow.json"))
    )
    parked = tmp_path / "parked.json"
    parked.write_text(
        json.dumps(
            {
                "requestPayload": sample("emr_cluster_state_change_WAITING.json"),
                "responsePayload": {"errorMessage": "throttled"},
            }
        )
    )
    status, out, _ = run(
        capsys,
        "replay",
        str(single),
        str(array),
        str(lines),
        str(parked),
        str(REFERENCE / "cloudtrail_emr_RunJobFlow_IAMUser_awsdocs.json"),  # from 2018: played at its moment
    )
    assert status == 0, out
    assert "7 events, 7 recorded, 0 rejected or unmatched" in out
    assert "space alice-lab Deleting" not in out
    assert "IngestFunction/SageMakerApiCalls" in out and "IngestFunction/EmrStateChanges" in out


def test_replay_reports_per_event_and_fails_on_invalid_events(tmp_path, capsys):
    bad = reference("eb_emr_cluster_state_change_WAITING_awsdocs.json")
    bad["detail"]["stateChangeReason"] = "{nope"
    path = tmp_path / "mixed.json"
    path.write_text(
        json.dumps(
            [sample("cloudtrail_CreateEndpoint.json"), bad, reference("eb_emr_step_status_change_FAILED_awsdocs.json")]
        )
    )
    status, out, _ = run(capsys, "replay", str(path), "--format", "json")
    assert status == 1
    report = json.loads(out)
    assert "error" not in report[0]
    assert "stateChangeReason is not JSON" in report[1]["error"]
    assert report[2]["error"] == "no rule in template.yaml matches this event"


@pytest.mark.parametrize(("content", "message"), [("{not json", "not JSON"), ("[1, 2]", "expected JSON objects")])
def test_replay_refuses_input_that_is_not_events(tmp_path, capsys, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    status, _, err = run(capsys, "replay", str(path))
    assert status == 2
    assert message in err and str(path) in err


def test_replay_prints_only_json_on_stdout_however_many_events(tmp_path, capsys):
    """Powertools prints a metric to stdout once it holds 100 values: past 100 events, stdout was not JSON."""
    event = sample("cloudtrail_CreateEndpoint.json")
    path = tmp_path / "many.json"
    path.write_text(json.dumps([event | {"id": f"event-{n}"} for n in range(120)]))
    status, out, err = run(capsys, "replay", str(path), "--format", "json")
    assert status == 0, err
    assert [entry["event"] for entry in json.loads(out)] == list(range(1, 121))
    assert "_aws" not in out and '"level"' not in out
    assert all(line.startswith("{") for line in err.splitlines())  # the core's log lines, on stderr


JUNK = {
    "not JSON": (b"{not json", "not JSON"),
    "JSON lines, one of them not JSON": (b'{"source": "aws.sagemaker"}\n{oops\n', ":2: not JSON"),
    "binary": (bytes(range(256)) * 4, "not text"),
    "an image": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not text"),
    "a number": (b"42", "expected JSON objects, found a number"),
    "a string": (b'"CreateEndpoint"', "expected JSON objects, found a string"),
    "null": (b"null", "expected JSON objects, found null"),
    "arrays in an array": (b"[[{}]]", "expected JSON objects, found an array"),
    "an object that is no event": (b'{"name": "fraud-xgb"}', "expected EventBridge events"),
    "CloudTrail records that are not objects": (b'{"Records": [1, "two"]}', "expected CloudTrail records"),
    "Records that are not a list": (b'{"Records": "all of them"}', "expected EventBridge events"),
    "a parked record whose payload is no event": (b'{"requestPayload": 7}', "expected JSON objects"),
    "nested past the stack": (b"[" * 100_000, "not JSON"),
    "a number too long to read": (b'{"source": 1' + b"2" * 5000 + b"}", "not JSON"),
    "an empty array": (b"[]", "holds no events"),
    "an empty CloudTrail log": (b'{"Records": []}', "holds no events"),
    "empty": (b"", "empty file"),
    "blank lines": (b"  \n\n\t\n", "empty file"),
}


@pytest.mark.parametrize(("content", "message"), JUNK.values(), ids=JUNK.keys())
def test_replay_refuses_a_junk_file_in_one_line_naming_it(tmp_path, capsys, content, message):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(sample("cloudtrail_CreateEndpoint.json")))
    junk = tmp_path / "junk.json"
    junk.write_bytes(content)
    for fmt in ("text", "json"):
        status, out, err = run(capsys, "replay", str(good), str(junk), "--format", fmt)
        assert status == 2
        assert out == ""  # refused before anything was replayed
        assert len(err.splitlines()) == 1, err
        assert err.startswith(f"guardian replay: {junk}") and message in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "message"), [(b"", "empty file"), (bytes(range(256)), "not text"), (b"{no", "not JSON")]
)
def test_invoke_refuses_a_junk_file_in_one_line_naming_it(tmp_path, capsys, content, message):
    junk = tmp_path / "junk.json"
    junk.write_bytes(content)
    status, out, err = run(capsys, "invoke", "ingest", str(junk))
    assert (status, out) == (2, "")
    assert err == f"guardian invoke: {junk}: {err.split(': ', 2)[2]}" and message in err and len(err.splitlines()) == 1


def test_invoke_runs_a_function_on_its_sample_events(capsys):
    status, out, _ = run(capsys, "invoke", "ingest", str(EVENTS / "ingest" / "cloudtrail_CreateSpace.json"))
    assert status == 0
    assert json.loads(out)["resources"][0]["owner"] == "alice"
    status, _, err = run(capsys, "invoke", "nope", str(EVENTS / "ingest" / "cloudtrail_CreateSpace.json"))
    assert status == 2 and "no function 'nope'" in err


def test_every_sample_path_exists():
    assert load(Path(EVENTS / "sweep" / "scheduled.json"))["source"] == "aws.scheduler"
