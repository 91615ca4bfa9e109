"""What a sweep costs in AWS calls: list pages, describes of what is new or changed, tagging-API pages and
one GetMetricData call per 500 metric queries, within 20% of that minimum; for what did not change, only
the rolling re-describe's bounded share of what no list shows, never a call per resource. (Wall times are
measured by `make bench`, not asserted here.)"""

from datetime import UTC, datetime, timedelta
from math import ceil

import boto3

from guardian.metric_data import MetricQuery, fetch
from guardian.reconcile import REDESCRIBE_SWEEPS
from guardian_sandbox.calls import recording
from guardian_sandbox.stack import SandboxStack
from guardian_sandbox.worlds import Scale, seed
from tests.conftest import sample

SCALE = Scale(endpoints=230, spaces=60, profiles=120, emr_clusters=60)
STUDIO_PAGE, ENDPOINT_PAGE, EMR_PAGE, TAGS_PER_PAGE = 100, 100, 50, 100  # the largest pages the calls allow
LIST_OPERATIONS = 9  # domains, profiles, spaces, apps, endpoints, EMR, HyperPod, MLflow, notebook instances


def aws_calls(recorder) -> int:
    return sum(n for call, n in recorder.counts.items() if not call.startswith("dynamodb:"))


def test_a_sweep_costs_what_it_must_and_a_steady_one_only_pages(sandbox):
    seed(sandbox, SCALE)
    stack = SandboxStack(sandbox, parameters={"WRITE_TAGS": "false"}).deploy()
    list_pages = (
        1  # domains
        + ceil(SCALE.profiles / STUDIO_PAGE)
        + 2 * ceil(SCALE.spaces / STUDIO_PAGE)  # spaces, and one app each
        + ceil(SCALE.endpoints / ENDPOINT_PAGE)
        + ceil(SCALE.emr_clusters / EMR_PAGE)
        + 3  # HyperPod, MLflow, notebook instances: one (empty) page each
    )
    tag_pages = ceil(SCALE.endpoints // 2 / TAGS_PER_PAGE)  # half the endpoints carry Studio tags
    # Each endpoint, and each of the four endpoint configurations once (a sweep describes a shared one once).
    describes = 1 + SCALE.profiles + SCALE.spaces + SCALE.endpoints + 4 + 3 * SCALE.emr_clusters
    metric_calls = ceil(SCALE.endpoints / 500) + ceil(SCALE.emr_clusters / 500)  # two windows
    with recording() as first:
        stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))
    minimum = list_pages + tag_pages + describes + metric_calls
    assert minimum <= aws_calls(first) <= 1.2 * minimum, first.counts
    with recording() as second:
        stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))
    # And the rolling re-describe of what no list shows: a sixth of the endpoints (one call each) and of the
    # EMR clusters (three each), so each is described again within REDESCRIBE_SWEEPS sweeps.
    rolling = ceil(SCALE.endpoints / REDESCRIBE_SWEEPS) + 3 * ceil(SCALE.emr_clusters / REDESCRIBE_SWEEPS)
    steady = list_pages + tag_pages + metric_calls + rolling
    assert steady <= aws_calls(second) <= 1.2 * steady, second.counts
    assert aws_calls(second) < SCALE.resources / 4  # pages and a bounded share, not a call per resource


def test_metric_queries_go_in_batches_of_five_hundred(sandbox):
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    cloudwatch.put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {
                "MetricName": "Invocations",
                "Value": 7.0,
                "Timestamp": now - timedelta(hours=1),
                "Dimensions": [
                    {"Name": "EndpointName", "Value": "e-42"},
                    {"Name": "VariantName", "Value": "AllTraffic"},
                ],
            }
        ],
    )
    queries = [
        MetricQuery(
            f"e-{i}",
            "AWS/SageMaker",
            "Invocations",
            (("EndpointName", f"e-{i}"), ("VariantName", "AllTraffic")),
            "Sum",
            86400,
            now - timedelta(days=1),
            now,
        )
        for i in range(1100)
    ]
    queries += [
        MetricQuery(
            f"j-{i}",
            "AWS/ElasticMapReduce",
            "IsIdle",
            (("JobFlowId", f"j-{i}"),),
            "Minimum",
            300,
            now - timedelta(hours=1),
            now,
        )
        for i in range(10)
    ]
    with recording() as calls:
        from guardian.aws import AwsClients

        results = fetch(AwsClients(region="us-east-1")("cloudwatch"), queries)
    assert calls.counts["cloudwatch:GetMetricData"] == ceil(1100 / 500) + 1  # per window, 500 at a time
    assert sum(value for _, value in results["e-42"]) == 7.0
    assert results["e-41"] == [] and len(results) == 1110
