"""Partner AI App and inference component calls, as the sandbox's CloudTrail recorded them, with any of their
fields dropped (AWS sends partial events): each is either refused as malformed or says a subset of what the whole
event says, about the same resource. So merged into the record, a partial event never crashes the event path
and never corrupts a field (it may only say less)."""

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardian.events import InvalidEvent, from_cloudtrail_record, translate
from guardian.inventory import merge
from guardian.resource import Observation
from guardian_sandbox import clock, cloudtrail
from guardian_sandbox.eventfactory import Caller
from guardian_sandbox.stack import SANDBOX_ACCOUNT, SandboxStack

ROLE = f"arn:aws:iam::{SANDBOX_ACCOUNT}:role/service-role/AmazonSageMaker-ExecutionRole-Default"
ALICE = Caller(role="AmazonSageMaker-ExecutionRole-alice", source_identity="alice")
CALLS = {
    "CreatePartnerApp",
    "UpdatePartnerApp",
    "DeletePartnerApp",
    "CreateInferenceComponent",
    "UpdateInferenceComponent",
    "UpdateInferenceComponentRuntimeConfig",
    "DeleteInferenceComponent",
}
Path = tuple[str, ...]


def _recorded(stack: SandboxStack) -> list[dict[str, Any]]:
    """One of each call, made by Alice from her notebook, as the sandbox's CloudTrail recorded them."""
    sm = stack.clients("sagemaker")
    with (
        clock.at(stack.clients, datetime.now(UTC) - timedelta(hours=1)),
        cloudtrail.calls_by(ALICE.user_identity(SANDBOX_ACCOUNT)),
    ):
        arn = sm.create_partner_app(
            Name="evals",
            Type="comet",
            ExecutionRoleArn=ROLE,
            Tier="small",
            AuthType="IAM",
            Tags=[{"Key": "t", "Value": "v"}],
        )["Arn"]
        sm.update_partner_app(Arn=arn, Tier="large")
        sm.delete_partner_app(Arn=arn)
        sm.create_model(ModelName="base", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"})
        sm.create_endpoint_config(
            EndpointConfigName="c",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "base",
                    "InstanceType": "ml.g5.2xlarge",
                    "InitialInstanceCount": 1,
                }
            ],
        )
        sm.create_endpoint(EndpointName="llm", EndpointConfigName="c")
        spec = {"ModelName": "base", "ComputeResourceRequirements": {"MinMemoryRequiredInMb": 1024}}
        sm.create_inference_component(
            InferenceComponentName="chat", EndpointName="llm", Specification=spec, RuntimeConfig={"CopyCount": 1}
        )
        sm.update_inference_component(InferenceComponentName="chat", RuntimeConfig={"CopyCount": 2})
        sm.update_inference_component_runtime_config(
            InferenceComponentName="chat", DesiredRuntimeConfig={"CopyCount": 1}
        )
        sm.delete_inference_component(InferenceComponentName="chat")
    records = [r for r in cloudtrail.events_of(SANDBOX_ACCOUNT, "us-east-1") if r["eventName"] in CALLS]
    assert {r["eventName"] for r in records} == CALLS
    return records


def _paths(value: Any, prefix: Path = ()) -> list[Path]:
    if not isinstance(value, dict):
        return []
    return [p for key, item in value.items() for p in [(*prefix, key), *_paths(item, (*prefix, key))]]


def _without(record: dict[str, Any], dropped: set[Path]) -> dict[str, Any]:
    def strip(value: Any, prefix: Path) -> Any:
        if not isinstance(value, dict):
            return value
        return {k: strip(v, (*prefix, k)) for k, v in value.items() if (*prefix, k) not in dropped}

    stripped: dict[str, Any] = strip(record, ())
    return stripped


def _said(record: dict[str, Any]) -> list[Observation] | None:
    try:
        return translate(from_cloudtrail_record(record)).observations
    except InvalidEvent:
        return None


def test_a_partial_call_is_refused_or_says_a_subset_of_what_the_whole_call_says(stack: SandboxStack):
    records = _recorded(stack)
    whole = {r["eventID"]: _said(r) for r in records}
    assert all(whole.values())  # every whole call is understood

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def partial(data: st.DataObject) -> None:
        record = data.draw(st.sampled_from(records))
        dropped = data.draw(st.sets(st.sampled_from(_paths(record)), min_size=1, max_size=6))
        observed = _said(_without(record, dropped))  # InvalidEvent is the designed refusal; nothing else escapes
        if observed is None:
            return
        full = {o.arn: o for o in whole[record["eventID"]] or []}
        for observation in observed:
            assert observation.arn in full, f"a partial {record['eventName']} names another resource"
            complete = full[observation.arn]
            for name, value in observation.fields.items():
                if name == "creator":  # a weaker identity may be all that is left: never a different one
                    known = {k: v for k, v in value.model_dump().items() if v is not None}
                    assert known.items() <= complete.fields["creator"].model_dump().items()
                else:
                    assert complete.fields.get(name) == value, (record["eventName"], name, dropped)
            assert (observation.tags or {}).items() <= (complete.tags or {}).items()
            # Merged over what the whole call recorded, it changes no field to a value the call did not say.
            before = merge(None, complete)
            after = merge(before, observation)
            for name in ("name", "app_type", "instance_type", "endpoint_name", "kind", "api_arn"):
                assert getattr(after, name) == getattr(before, name), (record["eventName"], name, dropped)

    partial()
