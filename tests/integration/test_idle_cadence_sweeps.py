"""Hourly sweeps on the sandbox's stack: an endpoint in use is not asked about again while its latest busy hour
is inside the lookback (guardian.invocations keeps it in the table), an idle one is asked every sweep, and
each finding opens at the very sweep that asking for the whole lookback every time would open it."""

from datetime import UTC, datetime, timedelta

from guardian.findings import Status
from guardian.findings_store import DynamoFindings
from guardian_sandbox import clock
from guardian_sandbox.stack import SandboxStack
from tests.conftest import sample

ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-alice"
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=12)
LAST_CALL = T0 + timedelta(hours=1, minutes=25)  # the busy endpoint's last invocation


def world(stack: SandboxStack) -> None:
    sm, cloudwatch = stack.clients("sagemaker"), stack.clients("cloudwatch")
    with clock.at(stack.clients, T0 - timedelta(days=3)):
        sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"})
        variant = {"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "ml.m5.large"}
        sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[variant | {"InitialInstanceCount": 1}])
        for name in ("busy", "quiet"):
            sm.create_endpoint(EndpointName=name, EndpointConfigName="c")
    calls = [T0 - timedelta(hours=2, minutes=55) + timedelta(minutes=10 * i) for i in range(27)]
    assert calls[-1] == LAST_CALL
    cloudwatch.put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {
                "MetricName": "Invocations",
                "Value": 1.0,
                "Timestamp": at,
                "Dimensions": [
                    {"Name": "EndpointName", "Value": "busy"},
                    {"Name": "VariantName", "Value": "AllTraffic"},
                ],
            }
            for at in calls
        ],
    )


def idle(stack: SandboxStack) -> set[str]:
    store = DynamoFindings(stack.clients("dynamodb"), stack.table_name)
    return {f.resource_name for f in store.with_status(Status.OPEN) if f.rule == "idle-endpoint"}


def test_an_endpoint_in_use_is_asked_about_once_its_last_busy_hour_leaves_the_window(sandbox):
    stack = SandboxStack(sandbox, parameters={"IDLE_ENDPOINT_LOOKBACK_HOURS": "2", "WRITE_TAGS": "false"}).deploy()
    world(stack)
    asked, found = [], []
    for hour in range(6):
        with clock.at(stack.clients, T0 + timedelta(hours=hour, minutes=5)):
            result = stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))
        asked.append(result["evaluation"]["metric_queries"])
        found.append(idle(stack))
    # busy: asked, then known for as long as the hour it was last seen busy is in the 2 h window; asked again
    # once that hour left (busy in a later one: known again), then idle, asked every sweep as quiet is.
    assert asked == [2, 1, 2, 1, 2, 2]
    # Asking for the whole lookback every time: busy's last call (T0+1:25) leaves the window at T0+3:25.
    assert found == [{"quiet"}] * 4 + [{"quiet", "busy"}] * 2
