"""Endpoints hosting inference components: the components reach the inventory (by their calls, delivered as a
trail delivers them, and by the sweep) with the endpoint they are on, and the idle-endpoint rule judges such an
endpoint by each component's own Invocations (dimension InferenceComponentName), not its variant's: one busy
component keeps it in use and the idle one is named in a finding of its own; all idle, the endpoint is idle and
its finding names them. Deleting a component resolves its finding. Remediation only reports such an endpoint:
recreating it from its config would not bring its components back. The sandbox emulates components (moto has
none) as the service model says, with their in-between states."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from guardian.findings import Finding, Status
from guardian.kinds import Kind
from guardian.remediation.actions import action_for
from guardian.remediation.live import read
from guardian.resource import Resource, Source
from guardian_sandbox import clock, cloudtrail, studio
from guardian_sandbox.eventfactory import Caller
from guardian_sandbox.simulation.bus import CloudTrailBus
from guardian_sandbox.stack import SANDBOX_ACCOUNT, SandboxStack
from tests.conftest import deliver_recorded, sample, stored_finding, stored_record

ROLE = f"arn:aws:iam::{SANDBOX_ACCOUNT}:role/service-role/AmazonSageMaker-ExecutionRole-Default"
ALICE = Caller(role="AmazonSageMaker-ExecutionRole-alice", source_identity="alice")
IDLE = "idle-endpoint"
EVENT_LAG = timedelta(seconds=30)


@dataclass
class Hosting:
    """Endpoint "llm" (1 x ml.g5.2xlarge), made two days ago by Alice from her notebook, and its components."""

    stack: SandboxStack
    bus: CloudTrailBus
    now: datetime
    endpoint_arn: str

    @property
    def sagemaker(self) -> Any:
        return self.stack.clients("sagemaker")

    def record(self, arn: str) -> Resource:
        return stored_record(self.stack, arn)

    def finding(self, arn: str) -> Finding | None:
        return stored_finding(self.stack, IDLE, arn)

    @contextmanager
    def as_alice(self, at: datetime) -> Iterator[None]:
        """Calls made at ``at`` from Alice's notebook (her execution role's session, with her source identity)."""
        with clock.at(self.stack.clients, at), cloudtrail.calls_by(ALICE.user_identity(SANDBOX_ACCOUNT)):
            yield

    def component(self, name: str, at: datetime) -> str:
        with self.as_alice(at):
            arn: str = self.sagemaker.create_inference_component(
                InferenceComponentName=name,
                EndpointName="llm",
                Specification={"ModelName": "base", "ComputeResourceRequirements": {"MinMemoryRequiredInMb": 1024}},
                RuntimeConfig={"CopyCount": 1},
            )["InferenceComponentArn"]
        return arn

    def calls(self, name: str, count: float) -> None:
        self.stack.clients("cloudwatch").put_metric_data(
            Namespace="AWS/SageMaker",
            MetricData=[
                {
                    "MetricName": "Invocations",
                    "Dimensions": [{"Name": "InferenceComponentName", "Value": name}],
                    "Timestamp": self.now - timedelta(hours=3),
                    "Value": count,
                }
            ],
        )

    def deliver_calls(self, at: datetime) -> list[str]:
        delivered = deliver_recorded(self.stack, self.bus, at)
        return [event["detail"]["eventName"] for event, _ in delivered if event["detail"].get("eventName")]

    def sweep(self, at: datetime | None = None) -> None:
        with clock.at(self.stack.clients, at or self.now):
            self.stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))


def status(finding: Finding | None) -> Status:
    assert finding is not None
    return finding.status


@pytest.fixture
def hosting(stack: SandboxStack) -> Iterator[Hosting]:
    now = datetime.now(UTC).replace(microsecond=0)
    made = now - timedelta(days=2)
    bus = CloudTrailBus(SANDBOX_ACCOUNT, "us-east-1")
    sm = stack.clients("sagemaker")
    with clock.at(stack.clients, made - timedelta(hours=1)):
        domain = sm.create_domain(
            DomainName="lab", AuthMode="IAM", SubnetIds=["s"], VpcId="v", DefaultUserSettings={"ExecutionRole": ROLE}
        )["DomainArn"].rsplit("/", 1)[-1]
        sm.create_user_profile(DomainId=domain, UserProfileName="alice")
    hosting = Hosting(stack, bus, now, "")
    with hosting.as_alice(made):
        sm.create_model(ModelName="base", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"})
        sm.create_endpoint_config(
            EndpointConfigName="llm-config",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "base",
                    "InstanceType": "ml.g5.2xlarge",
                    "InitialInstanceCount": 1,
                }
            ],
        )
        hosting.endpoint_arn = sm.create_endpoint(EndpointName="llm", EndpointConfigName="llm-config")["EndpointArn"]
    hosting.deliver_calls(made + EVENT_LAG)
    yield hosting


def test_components_reach_the_inventory_by_their_calls_with_their_endpoint_and_maker(hosting: Hosting):
    made = hosting.now - timedelta(days=2) + timedelta(minutes=5)
    arn = hosting.component("chat", made)
    assert hosting.deliver_calls(made + EVENT_LAG) == ["CreateInferenceComponent"]
    chat = hosting.record(arn)
    assert (chat.kind, chat.name, chat.endpoint_name, chat.state) == (
        Kind.INFERENCE_COMPONENT,
        "chat",
        "llm",
        "Creating",
    )
    assert (chat.owner, chat.attribution.source) == ("alice", Source.SOURCE_IDENTITY)
    hosting.sweep()
    assert hosting.record(arn).state == "InService"


def test_an_endpoint_with_one_busy_and_one_idle_component_is_in_use_and_the_idle_one_is_named(hosting: Hosting):
    made = hosting.now - timedelta(days=2) + timedelta(minutes=5)
    chat, summarize = hosting.component("chat", made), hosting.component("summarize", made)
    hosting.deliver_calls(made + EVENT_LAG)
    hosting.calls("chat", 40.0)  # the variant itself reports no Invocations: judged by it, the endpoint read idle
    hosting.sweep()
    assert hosting.finding(hosting.endpoint_arn) is None
    assert hosting.finding(chat) is None
    idle = hosting.finding(summarize)
    assert idle is not None and idle.status is Status.OPEN
    assert (idle.resource_name, idle.owner) == ("summarize", "alice")
    assert idle.evidence["idle_components"] == ["summarize"] and "llm" in idle.summary
    assert idle.hourly_cost_usd is None  # a share of the endpoint's instances: not apportioned, never $0

    gone_at = hosting.now + timedelta(minutes=10)
    with hosting.as_alice(gone_at):
        hosting.sagemaker.delete_inference_component(InferenceComponentName="summarize")
    assert hosting.deliver_calls(gone_at + EVENT_LAG) == ["DeleteInferenceComponent"]
    assert status(hosting.finding(summarize)) is Status.RESOLVED


def test_an_endpoint_whose_components_are_all_idle_is_idle_and_its_finding_names_them(hosting: Hosting):
    made = hosting.now - timedelta(days=2) + timedelta(minutes=5)
    components = [hosting.component(name, made) for name in ("chat", "summarize")]
    hosting.deliver_calls(made + EVENT_LAG)
    hosting.sweep()
    finding = hosting.finding(hosting.endpoint_arn)
    assert finding is not None and finding.status is Status.OPEN
    assert finding.evidence["idle_components"] == ["chat", "summarize"]
    assert "chat" in finding.summary and "summarize" in finding.summary
    assert finding.hourly_cost_usd and finding.hourly_cost_usd > 0  # the endpoint's instances: its real cost
    assert all(hosting.finding(arn) is None for arn in components)  # counted once, on the endpoint

    hosting.calls("chat", 3.0)
    hosting.sweep(hosting.now + timedelta(minutes=5))
    assert status(hosting.finding(hosting.endpoint_arn)) is Status.RESOLVED  # one call: in use again


def test_a_component_too_new_to_judge_keeps_its_endpoint_from_being_called_idle(hosting: Hosting):
    hosting.component("chat", hosting.now - timedelta(days=2) + timedelta(minutes=5))
    fresh = hosting.component("fresh", hosting.now - timedelta(hours=2))
    hosting.deliver_calls(hosting.now - timedelta(hours=2) + EVENT_LAG)
    hosting.sweep()
    assert hosting.finding(hosting.endpoint_arn) is None
    assert hosting.finding(fresh) is None


def test_the_sweep_finds_components_whose_calls_were_missed(hosting: Hosting):
    arn = hosting.component("chat", hosting.now - timedelta(days=1))
    hosting.bus.new_events()  # never delivered
    hosting.sweep()
    chat = hosting.record(arn)
    assert (chat.endpoint_name, chat.state) == ("llm", "InService")
    with hosting.as_alice(hosting.now + timedelta(minutes=1)):
        hosting.sagemaker.delete_inference_component(InferenceComponentName="chat")
    hosting.bus.new_events()
    hosting.sweep(hosting.now + timedelta(minutes=10))
    assert hosting.record(arn).state == "Deleted"


def test_remediation_does_not_delete_an_endpoint_that_hosts_components(hosting: Hosting):
    hosting.component("chat", hosting.now - timedelta(days=1))
    hosting.sweep()
    endpoint = hosting.record(hosting.endpoint_arn)
    with clock.at(hosting.stack.clients, hosting.now):
        live = read(hosting.stack.clients, endpoint, hosting.now)
    assert live.shape["inference_components"] == ["chat"]
    assert action_for(endpoint, live) is None  # its restore plan could not bring "chat" back


def test_the_sandbox_passes_through_creating_and_refuses_changes_meanwhile(
    hosting: Hosting, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(studio.settings, "transition_seconds", 60.0)
    sm = hosting.sagemaker
    start = hosting.now
    hosting.component("chat", start)
    with clock.at(hosting.stack.clients, start):
        assert sm.describe_inference_component(InferenceComponentName="chat")["InferenceComponentStatus"] == "Creating"
        with pytest.raises(ClientError) as changing:
            sm.update_inference_component_runtime_config(
                InferenceComponentName="chat", DesiredRuntimeConfig={"CopyCount": 2}
            )
        assert changing.value.response["Error"]["Code"] == "ValidationException"
    with clock.at(hosting.stack.clients, start + timedelta(seconds=61)):
        described = sm.describe_inference_component(InferenceComponentName="chat")
        assert (described["InferenceComponentStatus"], described["RuntimeConfig"]["CurrentCopyCount"]) == (
            "InService",
            1,
        )
        sm.update_inference_component_runtime_config(
            InferenceComponentName="chat", DesiredRuntimeConfig={"CopyCount": 2}
        )
        listed = sm.list_inference_components(EndpointNameEquals="llm")["InferenceComponents"]
        assert [c["InferenceComponentStatus"] for c in listed] == ["Updating"]
        assert sm.list_inference_components(EndpointNameEquals="other")["InferenceComponents"] == []
    with clock.at(hosting.stack.clients, start + timedelta(seconds=122)):
        described = sm.describe_inference_component(InferenceComponentName="chat")
        assert described["RuntimeConfig"] == {"DesiredCopyCount": 2, "CurrentCopyCount": 2}
        sm.delete_inference_component(InferenceComponentName="chat")
    with clock.at(hosting.stack.clients, start + timedelta(seconds=183)):
        with pytest.raises(ClientError) as gone:
            sm.describe_inference_component(InferenceComponentName="chat")
        assert gone.value.response["Error"]["Code"] == "ValidationException"
