"""The event path end to end in the sandbox: events in, owned and tagged resources out."""

from datetime import UTC, datetime, timedelta

import boto3

from guardian.arns import Location
from guardian.dynamo_inventory import DynamoInventory
from guardian.inventory import Conflict, apply
from guardian.kinds import Kind
from guardian.resource import Observation
from guardian_sandbox.eventfactory import Caller, EventFactory
from guardian_sandbox.stack import SANDBOX_ACCOUNT
from tests.conftest import sample

LOCATION = Location(region="us-east-1", account=SANDBOX_ACCOUNT)
T0 = datetime(2026, 11, 20, 8, tzinfo=UTC)
BOB = Caller(role="AmazonSageMaker-ExecutionRole-Default", source_identity="bob")


def make_endpoint(clients, name="churn", instance_type="ml.g5.2xlarge", tags=()):
    sm = clients("sagemaker")
    sm.create_model(
        ModelName=f"{name}-model",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
        PrimaryContainer={"Image": "image"},
    )
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{name}-model",
                "InstanceType": instance_type,
                "InitialInstanceCount": 1,
            }
        ],
    )
    return sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config", Tags=list(tags))["EndpointArn"]


def test_an_endpoint_made_from_a_notebook_is_owned_sized_and_tagged(stack):
    arn = make_endpoint(stack.clients)
    event = EventFactory(LOCATION).api_call(
        "CreateEndpoint", T0, BOB, {"endpointName": "churn", "endpointConfigName": "churn-config"}, {"endpointArn": arn}
    )
    [delivery] = stack.deliver(event)
    [outcome] = delivery.result["resources"]
    assert (outcome["owner"], outcome["attribution"], outcome["state"]) == ("bob", "source-identity", "Creating")
    tags = {t["Key"]: t["Value"] for t in stack.clients("sagemaker").list_tags(ResourceArn=arn)["Tags"]}
    assert tags["studio-cost-guardian:owner"] == "bob"
    assert tags["studio-cost-guardian:attribution"] == "source-identity"
    record = DynamoInventory(stack.clients("dynamodb"), stack.table_name).get(arn.lower())
    assert (record.instance_type, record.serverless) == ("ml.g5.2xlarge", False)  # read from the endpoint config
    assert record.creator.role_arn.endswith("role/service-role/AmazonSageMaker-ExecutionRole-Default")


def test_a_resource_already_tagged_by_the_guardian_is_not_tagged_again(stack):
    arn = make_endpoint(stack.clients)
    event = EventFactory(LOCATION).api_call(
        "CreateEndpoint", T0, BOB, {"endpointName": "churn", "endpointConfigName": "churn-config"}, {"endpointArn": arn}
    )
    stack.deliver(event)
    in_service = EventFactory(LOCATION).endpoint_state(
        T0 + timedelta(minutes=9), "churn", arn, "IN_SERVICE", "churn-config", [], T0
    )
    [delivery] = stack.deliver(in_service)
    assert delivery.result["resources"][0]["tagged"] == []


def test_the_owner_of_a_stopped_space_is_known_and_the_space_is_stopped(stack):
    for name in ("cloudtrail_CreateUserProfile.json", "cloudtrail_CreateSpace.json", "cloudtrail_CreateApp.json"):
        stack.deliver(sample(name))
    inventory = DynamoInventory(stack.clients("dynamodb"), stack.table_name)
    space_arn = "arn:aws:sagemaker:us-east-1:123456789012:space/d-studio/alice-lab"
    assert inventory.get(space_arn).running is True
    stack.deliver(sample("cloudtrail_DeleteApp.json"))
    space = inventory.get(space_arn)
    assert (space.running, space.activity_at) == (False, datetime(2026, 11, 20, 17, tzinfo=UTC))
    assert (space.owner, space.sharing, space.instance_type) == ("alice", "Private", "ml.g5.xlarge")


def test_an_app_event_for_a_space_not_yet_known_starts_its_record(stack):
    stack.deliver(sample("cloudtrail_CreateApp.json"))
    space = DynamoInventory(stack.clients("dynamodb"), stack.table_name).get(
        "arn:aws:sagemaker:us-east-1:123456789012:space/d-studio/alice-lab"
    )
    assert (space.name, space.domain_id, space.running) == ("alice-lab", "d-studio", True)


def test_a_hyperpod_cluster_deleted_by_name_is_found_by_its_id_arn(stack):
    stack.deliver(sample("cloudtrail_CreateCluster_hyperpod.json"))
    delete = EventFactory(LOCATION).api_call(
        "DeleteCluster", T0 + timedelta(hours=5), BOB, {"clusterName": "llm-train"}
    )
    [delivery] = stack.deliver(delete)
    [outcome] = delivery.result["resources"]
    assert outcome["arn"] == "arn:aws:sagemaker:us-east-1:123456789012:cluster/p2kq8x7zm1ab"
    assert outcome["state"] == "Deleting"


class RacingInventory(DynamoInventory):
    """Another writer commits between this writer's read and its write, once."""

    def __init__(self, client, table, rival: Observation):
        super().__init__(client, table)
        self.rival = rival

    def get(self, arn):
        record = super().get(arn)
        if self.rival is not None:
            rival, self.rival = self.rival, None
            apply(DynamoInventory(self._client, self._table), rival)
        return record


def test_concurrent_updates_of_one_item_retry_and_keep_both(stack):
    arn = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/race"

    def seen(minutes, source_id, fields):
        return Observation(
            arn=arn,
            kind=Kind.ENDPOINT,
            observed_at=T0 + timedelta(minutes=minutes),
            source_id=source_id,
            origin="test",
            fields=fields,
        )

    client = stack.clients("dynamodb")
    apply(DynamoInventory(client, stack.table_name), seen(0, "a", {"name": "race", "state": "Creating"}))
    racing = RacingInventory(client, stack.table_name, rival=seen(5, "rival", {"instance_count": 4}))
    applied = apply(racing, seen(10, "b", {"state": "InService"}))
    record = DynamoInventory(client, stack.table_name).get(arn)
    assert (record.state, record.instance_count, record.revision) == ("InService", 4, 3)
    assert applied.after.revision == 3


def test_a_stale_write_is_refused_by_the_table(stack):
    inventory = DynamoInventory(stack.clients("dynamodb"), stack.table_name)
    observation = Observation(
        arn="arn:aws:sagemaker:us-east-1:123456789012:endpoint/x",
        kind=Kind.ENDPOINT,
        observed_at=T0,
        source_id="a",
        origin="test",
        fields={"state": "Creating"},
    )
    applied = apply(inventory, observation)
    stale = applied.after.model_copy(update={"state": "Failed"})
    try:
        inventory.put(stale, expected_revision=0, history=None)
    except Conflict:
        pass
    else:
        raise AssertionError("a write based on an old revision must be refused")
    assert inventory.get(observation.arn).state == "Creating"


def test_ownership_tags_are_written_with_the_guardians_prefix_only(stack):
    arn = make_endpoint(
        stack.clients, tags=[{"Key": "sagemaker:user-profile-arn", "Value": LOCATION.user_profile("d-1", "carol")}]
    )
    event = EventFactory(LOCATION).api_call(
        "CreateEndpoint", T0, BOB, {"endpointName": "churn", "endpointConfigName": "churn-config"}, {"endpointArn": arn}
    )
    stack.deliver(event)
    tags = boto3.client("sagemaker", region_name="us-east-1").list_tags(ResourceArn=arn)["Tags"]
    written = {t["Key"] for t in tags} - {"sagemaker:user-profile-arn"}
    assert written and all(key.startswith("studio-cost-guardian:") for key in written)
