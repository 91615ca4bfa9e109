"""EventBridge delivers at least once and in any order: any permutation of a day's events, with
duplicates, leaves the same inventory as the events delivered once, in order (DynamoDB in the sandbox).

Ownership tags are off here: whether a resource gets tagged before it is deleted depends on delivery
order by nature (it is a side effect on the resource); tagging has its own tests."""

from datetime import UTC, datetime, timedelta
from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardian.arns import Location
from guardian.dynamo_inventory import DynamoInventory
from guardian.ingest import ingest_event
from guardian.kinds import Kind
from guardian.observability import metrics
from guardian.runtime import from_env
from guardian_sandbox import embedded
from guardian_sandbox.eventfactory import Caller, EventFactory
from guardian_sandbox.stack import SANDBOX_ACCOUNT, SandboxStack

START = datetime(2026, 11, 20, 8, tzinfo=UTC)
NOW = datetime(2026, 11, 21, 8, tzinfo=UTC)
LOCATION = Location(region="us-east-1", account=SANDBOX_ACCOUNT)
ALICE = Caller(role="AmazonSageMaker-ExecutionRole-alice", source_identity="alice")


def at(hours: float) -> datetime:
    return START + timedelta(hours=hours)


def day_of_events() -> list[dict]:
    f = EventFactory(LOCATION)
    endpoint_arn = f"arn:aws:sagemaker:us-east-1:{SANDBOX_ACCOUNT}:endpoint/fraud"
    auto_tags = {
        "sagemaker:user-profile-arn": LOCATION.user_profile("d-studio", "alice"),
        "sagemaker:space-arn": LOCATION.space("d-studio", "alice-lab"),
    }
    one = [{"VariantName": "AllTraffic", "CurrentInstanceCount": 1.0, "DesiredInstanceCount": 1.0}]
    two = [{"VariantName": "AllTraffic", "CurrentInstanceCount": 2.0, "DesiredInstanceCount": 2.0}]
    app = {"domainId": "d-studio", "spaceName": "alice-lab", "appType": "JupyterLab", "appName": "default"}
    groups = [
        {"name": "Primary", "instanceRole": "MASTER", "instanceType": "m5.xlarge", "instanceCount": 1},
        {"name": "Core", "instanceRole": "CORE", "instanceType": "m5.2xlarge", "instanceCount": 2},
    ]
    return [
        f.api_call(
            "CreateUserProfile",
            at(-2),
            Caller(iam_user="admin"),
            {
                "domainId": "d-studio",
                "userProfileName": "alice",
                "userSettings": {"executionRole": "arn:aws:iam::123456789012:role/AmazonSageMaker-ExecutionRole-alice"},
            },
        ),
        f.api_call(
            "CreateSpace",
            at(-1),
            ALICE,
            {
                "domainId": "d-studio",
                "spaceName": "alice-lab",
                "ownershipSettings": {"ownerUserProfileName": "alice"},
                "spaceSharingSettings": {"sharingType": "Private"},
            },
        ),
        f.api_call("CreateApp", at(0), ALICE, app | {"resourceSpec": {"instanceType": "ml.g5.xlarge"}}),
        f.api_call(
            "CreateEndpoint",
            at(1),
            ALICE,
            {"endpointName": "fraud", "endpointConfigName": "fraud-1"},
            {"endpointArn": endpoint_arn},
        ),
        f.endpoint_state(at(1.01), "fraud", endpoint_arn, "CREATING", "fraud-1", one, at(1), auto_tags),
        f.endpoint_state(at(1.2), "fraud", endpoint_arn, "IN_SERVICE", "fraud-1", one, at(1), auto_tags),
        f.api_call("UpdateEndpoint", at(2), ALICE, {"endpointName": "fraud", "endpointConfigName": "fraud-2"}),
        f.endpoint_state(at(2.3), "fraud", endpoint_arn, "IN_SERVICE", "fraud-2", two, at(1), auto_tags),
        f.api_call(
            "RunJobFlow", at(3), ALICE, {"name": "etl", "instances": {"instanceGroups": groups}}, {"jobFlowId": "j-ETL"}
        ),
        f.emr_state(at(3.01), "j-ETL", "etl", "STARTING"),
        f.emr_state(at(3.2), "j-ETL", "etl", "WAITING"),
        f.api_call("DeleteApp", at(5), ALICE, app),
        f.api_call("TerminateJobFlows", at(6), ALICE, {"jobFlowIds": ["j-ETL"]}),
        f.emr_state(at(6.1), "j-ETL", "etl", "TERMINATED", "USER_REQUEST"),
        f.api_call("CreateApp", at(7), ALICE, app | {"resourceSpec": {"instanceType": "ml.g5.xlarge"}}),
        f.api_call("DeleteEndpoint", at(8), ALICE, {"endpointName": "fraud"}),
    ]


EVENTS = day_of_events()


def final_inventory(order: list[int]) -> dict[str, dict]:
    with embedded() as clients:
        stack = SandboxStack(clients).deploy()
        sagemaker = clients("sagemaker")
        sagemaker.create_model(
            ModelName="m", ExecutionRoleArn="arn:aws:iam::123456789012:role/r", PrimaryContainer={"Image": "image"}
        )
        for config, instance_type in (("fraud-1", "ml.m5.xlarge"), ("fraud-2", "ml.m5.2xlarge")):
            sagemaker.create_endpoint_config(
                EndpointConfigName=config,
                ProductionVariants=[
                    {
                        "VariantName": "AllTraffic",
                        "ModelName": "m",
                        "InstanceType": instance_type,
                        "InitialInstanceCount": 1,
                    }
                ],
            )
        guardian = from_env(stack.environment("IngestFunction") | {"WRITE_TAGS": "false"}, clients=clients)
        for index in order:
            ingest_event(EVENTS[index], guardian, now=NOW)
        metrics.clear_metrics()  # called outside a handler: nothing flushes them
        inventory = DynamoInventory(clients("dynamodb"), stack.table_name)
        return {r.arn: r.model_dump(exclude={"revision", "versions"}) for kind in Kind for r in inventory.by_kind(kind)}


@cache
def in_order() -> dict[str, dict]:
    """The day delivered once, in order: made when first asked (not at import, in every xdist worker)."""
    return final_inventory(list(range(len(EVENTS))))


def test_in_order_the_day_ends_as_it_happened():
    by_name = {record["name"]: record for record in in_order().values()}
    assert by_name["fraud"]["state"] == "Deleting"
    assert by_name["fraud"]["instance_count"] == 2
    assert by_name["fraud"]["instance_type"] == "ml.m5.2xlarge"
    assert by_name["fraud"]["attribution"]["owner"] == "alice"
    assert by_name["etl"]["state"] == "TERMINATED"
    assert by_name["alice-lab"]["running"] is True  # restarted after it stopped


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.permutations(range(len(EVENTS))), st.lists(st.integers(0, len(EVENTS) - 1), max_size=6), st.randoms())
def test_any_order_with_duplicates_gives_the_same_inventory(permutation, duplicates, random):
    order = list(permutation)
    for index in duplicates:
        order.insert(random.randint(0, len(order)), index)
    assert final_inventory(order) == in_order()
