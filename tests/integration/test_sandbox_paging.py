"""The sandbox pages as AWS does, so call counts are what AWS would bill: a page of the real default size when
a request names none (SageMaker's 10, not moto's 50-100), the largest page the service model allows when a
request asks for it, and a refusal beyond; and the guardian asks every list call for its largest page."""

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError

from guardian.collectors import COLLECTORS
from guardian.tagging import tagged_resources
from guardian_sandbox.paging import PAGE_SIZES

_session = botocore.session.get_session()


def model_max(service: str, operation: str) -> int | None:
    """The service model's documented maximum for the operation's page size (None: it takes none)."""
    members = _session.get_service_model(service).operation_model(operation).input_shape.members
    size = members.get("MaxResults") or members.get("ResourcesPerPage") or members.get("MaxBuckets")
    return None if size is None else size.metadata.get("max")


def operation_name(method: str) -> str:
    return "".join(word.title() for word in method.split("_"))


@pytest.mark.parametrize(("service", "operation"), sorted(PAGE_SIZES))
def test_the_sandbox_maxima_are_the_service_models(service, operation):
    documented = model_max(service, operation)
    if documented is not None:
        assert PAGE_SIZES[(service, operation)].most == documented
    assert PAGE_SIZES[(service, operation)].default <= PAGE_SIZES[(service, operation)].most


@pytest.mark.parametrize("collector", COLLECTORS, ids=lambda c: c.kind.value)
def test_every_list_call_asks_for_the_largest_page_the_api_allows(collector):
    operation = operation_name(collector.operation)
    # S3's ListBuckets: without MaxBuckets, its largest page (guardian_sandbox.paging).
    largest = collector.page_size or PAGE_SIZES[(collector.service, operation)].most
    assert largest == model_max(collector.service, operation) or collector.service == "emr"
    assert (collector.service, operation) in PAGE_SIZES


def endpoints(count: int) -> boto3.client:
    sm = boto3.client("sagemaker", region_name="us-east-1")
    sm.create_model(ModelName="m", ExecutionRoleArn="arn:aws:iam::123456789012:role/r", PrimaryContainer={"Image": "i"})
    sm.create_endpoint_config(
        EndpointConfigName="c",
        ProductionVariants=[
            {"VariantName": "v", "ModelName": "m", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
        ],
    )
    for i in range(count):
        sm.create_endpoint(EndpointName=f"ep-{i}", EndpointConfigName="c", Tags=[{"Key": "k", "Value": str(i)}])
    return sm


def test_sagemaker_pages_ten_by_default_up_to_a_hundred_and_refuses_more(sandbox):
    sm = endpoints(120)
    first = sm.list_endpoints()
    assert len(first["Endpoints"]) == 10 and first["NextToken"]
    assert len(sm.list_endpoints(MaxResults=100)["Endpoints"]) == 100
    with pytest.raises(ClientError, match="ValidationException"):
        sm.list_endpoints(MaxResults=101)
    # The Studio APIs (the sandbox's own) alike.
    role = {"ExecutionRole": "arn:aws:iam::123456789012:role/r"}
    domain = sm.create_domain(DomainName="d", AuthMode="IAM", SubnetIds=["s"], VpcId="v", DefaultUserSettings=role)[
        "DomainArn"
    ]
    for i in range(12):
        sm.create_user_profile(DomainId=domain.rsplit("/", 1)[-1], UserProfileName=f"u-{i}")
    page = sm.list_user_profiles()
    assert len(page["UserProfiles"]) == 10 and page["NextToken"]
    with pytest.raises(ClientError, match="ValidationException"):
        sm.list_user_profiles(MaxResults=101)


def test_emr_pages_fifty_clusters(sandbox):
    emr = boto3.client("emr", region_name="us-east-1")
    for i in range(55):
        emr.run_job_flow(
            Name=f"c-{i}",
            ReleaseLabel="emr-7.2.0",
            JobFlowRole="r",
            ServiceRole="s",
            Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
        )
    first = emr.list_clusters()
    assert len(first["Clusters"]) == 50 and first["Marker"]
    assert len(emr.list_clusters(Marker=first["Marker"])["Clusters"]) == 5


def test_tags_come_a_hundred_resources_a_page_however_many_tags_each_has(sandbox, guardian):
    endpoints(150)
    from guardian_sandbox.calls import recording

    with recording() as calls:
        tagged = list(tagged_resources(guardian.clients, [c.kind for c in COLLECTORS if c.kind.value == "endpoint"]))
    assert len(tagged) == 150
    assert calls.counts["resourcegroupstaggingapi:GetResources"] == 2
