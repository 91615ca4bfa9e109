"""Where the guardian does not know, it says so rather than guess: a space whose deletion failed still bills,
an endpoint whose variants are unknown is not called idle on a guessed "AllTraffic", and a space's last
activity comes from evidence (its last app stop, CloudTrail's DeleteApp), never from its creation date,
which is all that is left once AWS forgets a deleted app (after about a day)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from moto.sagemaker.models import sagemaker_backends

from guardian.arns import Location
from guardian.cost import hourly_cost
from guardian.dynamo_inventory import DynamoInventory
from guardian.findings import Finding, Status
from guardian.findings_store import DynamoFindings
from guardian.kinds import Kind, is_billing, is_gone
from guardian.resource import Resource
from guardian.runtime import Guardian
from guardian.table import resource_key
from guardian_sandbox import clock, studio
from guardian_sandbox.eventfactory import Caller, EventFactory
from guardian_sandbox.stack import SANDBOX_ACCOUNT, SandboxStack
from tests.conftest import sample
from tests.integration.test_reconcile import failing

ROLE = f"arn:aws:iam::{SANDBOX_ACCOUNT}:role/service-role/AmazonSageMaker-ExecutionRole-alice"
LOCATION = Location(region="us-east-1", account=SANDBOX_ACCOUNT)
UNNAMED = [{"CurrentInstanceCount": 1.0, "DesiredInstanceCount": 1.0}]  # as in AWS's own sample: no VariantName
ALICE = Caller(role="AmazonSageMaker-ExecutionRole-alice", source_identity="alice")


def sweep_at(stack: SandboxStack, at: datetime) -> dict:
    with clock.at(stack.clients, at):
        return stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))


def record(stack: SandboxStack, kind: Kind, name: str) -> Resource:
    [found] = [r for r in DynamoInventory(stack.clients("dynamodb"), stack.table_name).by_kind(kind) if r.name == name]
    return found


def findings(stack: SandboxStack, rule: str) -> list[Finding]:
    store = DynamoFindings(stack.clients("dynamodb"), stack.table_name)
    return [f for status in Status for f in store.with_status(status) if f.rule == rule]


def alices_space(stack: SandboxStack, made: datetime, storage_gb: int = 50) -> str:
    """alice's private space, made at ``made``; returns the domain id."""
    sm = stack.clients("sagemaker")
    with clock.at(stack.clients, made):
        domain = sm.create_domain(
            DomainName="lab", AuthMode="IAM", SubnetIds=["s"], VpcId="v", DefaultUserSettings={"ExecutionRole": ROLE}
        )["DomainArn"].rsplit("/", 1)[-1]
        sm.create_user_profile(DomainId=domain, UserProfileName="alice")
        sm.create_space(
            DomainId=domain,
            SpaceName="alice-lab",
            SpaceSharingSettings={"SharingType": "Private"},
            OwnershipSettings={"OwnerUserProfileName": "alice"},
            SpaceSettings={
                "AppType": "JupyterLab",
                "SpaceStorageSettings": {"EbsStorageSettings": {"EbsVolumeSizeInGb": storage_gb}},
            },
        )
    return domain


def use_app(stack: SandboxStack, domain: str, started: datetime, stopped: datetime) -> datetime:
    """An app in alice-lab from ``started`` to ``stopped`` (to the second, as CloudTrail stamps); no event of
    it reaches the guardian."""
    sm = stack.clients("sagemaker")
    app = {"DomainId": domain, "SpaceName": "alice-lab", "AppType": "JupyterLab", "AppName": "default"}
    with clock.at(stack.clients, started):
        sm.create_app(**app)
    stopped = stopped.replace(microsecond=0)
    with clock.at(stack.clients, stopped):
        sm.delete_app(**app)
    return stopped


# --- Delete_Failed: not gone ---------------------------------------------------------------------------


def test_a_space_whose_deletion_failed_still_bills_with_its_volume(stack: SandboxStack, guardian: Guardian):
    now = datetime.now(UTC)
    domain = alices_space(stack, now - timedelta(days=3))
    sweep_at(stack, now - timedelta(hours=2))
    delete = EventFactory(LOCATION).api_call(
        "DeleteSpace", now - timedelta(hours=1), ALICE, {"domainId": domain, "spaceName": "alice-lab"}
    )
    stack.deliver(delete)
    assert is_gone(record(stack, Kind.SPACE, "alice-lab").state)  # as far as the event says
    backend = studio.studio(sagemaker_backends[SANDBOX_ACCOUNT]["us-east-1"])
    backend.spaces[(domain, "alice-lab")].life.move("Delete_Failed", "Delete_Failed")
    sweep_at(stack, now)
    space = record(stack, Kind.SPACE, "alice-lab")
    assert space.state == "Delete_Failed"
    assert is_billing(Kind.SPACE, space.state) and not is_gone(space.state)
    assert hourly_cost(space, guardian.prices).hourly == Decimal("0.14") * 50 / 730  # the 50 GB volume
    item = stack.clients("dynamodb").get_item(TableName=stack.table_name, Key=resource_key(space.arn))["Item"]
    assert "expires_at" not in item  # kept: not on its way out of the table like a deleted one


# --- No variant known: no guess -------------------------------------------------------------------------


def test_an_endpoint_whose_variants_are_unknown_is_not_called_idle_on_a_guessed_all_traffic(stack: SandboxStack):
    """Its one variant is "Blue", busy. Known only by its events (its config and the endpoint itself could not
    be read), the old rule asked CloudWatch for "AllTraffic", found nothing, and called it idle."""
    now = datetime.now(UTC)
    sm = stack.clients("sagemaker")
    with clock.at(stack.clients, now - timedelta(days=2)):
        sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"})
        sm.create_endpoint_config(
            EndpointConfigName="blue",
            ProductionVariants=[
                {"VariantName": "Blue", "ModelName": "m", "InstanceType": "ml.m5.xlarge", "InitialInstanceCount": 1}
            ],
        )
        arn = sm.create_endpoint(EndpointName="fraud", EndpointConfigName="blue")["EndpointArn"]
    created = now - timedelta(days=2)
    stack.clients("cloudwatch").put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {
                "MetricName": "Invocations",
                "Dimensions": [{"Name": "EndpointName", "Value": "fraud"}, {"Name": "VariantName", "Value": "Blue"}],
                "Timestamp": now - timedelta(hours=3),
                "Value": 40.0,
            }
        ],
    )
    factory = EventFactory(LOCATION)
    request = {"endpointName": "fraud", "endpointConfigName": "blue"}
    with failing("DescribeEndpointConfig", {}), failing("DescribeEndpoint", {}):
        stack.deliver(factory.api_call("CreateEndpoint", created, ALICE, request, {"endpointArn": arn}))
        stack.deliver(
            factory.endpoint_state(created + timedelta(minutes=9), "fraud", arn, "IN_SERVICE", "blue", UNNAMED, created)
        )
        result = sweep_at(stack, now)
    endpoint = record(stack, Kind.ENDPOINT, "fraud")
    assert (endpoint.groups, endpoint.state, endpoint.instance_count) == ({}, "InService", 1)  # which variant?
    assert findings(stack, "idle-endpoint") == []
    assert result["evaluation"]["unjudged"] >= 1
    sweep_at(stack, now + timedelta(minutes=5))  # the endpoint can be read again: its variant is known
    assert list(record(stack, Kind.ENDPOINT, "fraud").groups) == ["Blue"]
    assert findings(stack, "idle-endpoint") == []  # and it is busy


# --- Last activity from evidence, or unknown --------------------------------------------------------------


def test_a_space_made_long_ago_and_used_two_days_ago_is_dated_by_cloudtrail_not_by_its_creation(stack):
    now = datetime.now(UTC)
    domain = alices_space(stack, now - timedelta(days=45))
    stopped = use_app(stack, domain, now - timedelta(days=3), now - timedelta(days=2))
    sweep_at(stack, now)  # the guardian's first look: AWS no longer lists the app
    space = record(stack, Kind.SPACE, "alice-lab")
    assert (space.running, space.activity_at) == (False, stopped)  # CloudTrail's DeleteApp
    assert findings(stack, "stale-space-storage") == []  # not "no app for 45 days"
    sweep_at(stack, stopped + timedelta(days=30, hours=1))
    [stale] = findings(stack, "stale-space-storage")
    assert stale.summary == "no app for 30 days or more, 50 GB volume still billed"
    assert stale.condition_since == stopped + timedelta(days=30)
    assert stale.evidence["last_app_at"] == stopped.isoformat().replace("+00:00", "Z")


def test_with_no_evidence_the_last_activity_is_unknown_and_staleness_unproven_until_the_guardian_has_seen_it(
    stack,
):
    """The app went 100 days ago: AWS forgot it, and CloudTrail keeps 90 days. Nothing says when the space was
    last used; the guardian does not invent its creation date. After 30 days of its own sweeps seeing no app,
    the condition is proven, and the finding says the last activity is unknown."""
    now = datetime.now(UTC)
    domain = alices_space(stack, now - timedelta(days=120))
    use_app(stack, domain, now - timedelta(days=101), now - timedelta(days=100))
    first = now.replace(microsecond=0)
    sweep_at(stack, first)
    space = record(stack, Kind.SPACE, "alice-lab")
    assert (space.running, space.activity_at) == (False, None)
    assert findings(stack, "stale-space-storage") == []  # unproven
    sweep_at(stack, first + timedelta(days=29))
    assert findings(stack, "stale-space-storage") == []
    sweep_at(stack, first + timedelta(days=30, hours=1))
    [stale] = findings(stack, "stale-space-storage")
    assert stale.summary == "no app seen for 30 days or more (last activity unknown), 50 GB volume still billed"
    assert stale.evidence["last_app_at"] is None
    assert stale.evidence["idle_since_evidence"] == "no app seen by the guardian since"
    assert abs(stale.condition_since - (first + timedelta(days=30))) < timedelta(seconds=1)
