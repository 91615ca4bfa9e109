"""The tagging APIs behind one adapter, each call with the IAM actions it needs declared beside it.

SageMaker and EMR each tag their own resources, and name them differently (an ARN, a cluster id); the
Resource Groups Tagging API reads the tags of every resource type at once. Callers say what they want
(write these tags, read those) and need not know which API serves which kind. guardian.permissions
grants each function the actions of the calls its modules make.
"""

from collections.abc import Iterable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from guardian.arns import resource_path
from guardian.aws import AwsClients
from guardian.kinds import Kind
from guardian.resource import Resource

Tags = dict[str, str]

# S3 has no "add tags": PutBucketTagging replaces the whole set, so the set is read first and merged.
BUCKET_TAGS_PERMISSIONS = ("s3:GetBucketTagging", "s3:PutBucketTagging")

# Resource types the Resource Groups Tagging API reports tags for, in bulk.
TAGGING_API_TYPES: dict[Kind, str] = {
    Kind.DOMAIN: "sagemaker:domain",
    Kind.USER_PROFILE: "sagemaker:user-profile",
    Kind.SPACE: "sagemaker:space",
    Kind.APP: "sagemaker:app",
    Kind.ENDPOINT: "sagemaker:endpoint",
    Kind.HYPERPOD_CLUSTER: "sagemaker:cluster",
    Kind.MLFLOW_TRACKING_SERVER: "sagemaker:mlflow-tracking-server",
    Kind.NOTEBOOK_INSTANCE: "sagemaker:notebook-instance",
    Kind.EMR_CLUSTER: "elasticmapreduce:cluster",
    Kind.PARTNER_APP: "sagemaker:partner-app",
    Kind.INFERENCE_COMPONENT: "sagemaker:inference-component",
    Kind.S3_BUCKET: "s3:bucket",  # listed by S3's own ARN (arn:aws:s3:::name): guardian.arns.bucket_key
}

ADD_TAGS_PERMISSIONS = ("sagemaker:AddTags", "elasticmapreduce:AddTags", *BUCKET_TAGS_PERMISSIONS)


def add_tags(clients: AwsClients, resource: Resource, tags: Tags) -> None:
    """Add ``tags`` to a resource (a key it already has takes the new value). Raises the API's ClientError."""
    tag_list = [{"Key": key, "Value": value} for key, value in sorted(tags.items())]
    if resource.kind is Kind.EMR_CLUSTER:
        # EMR names a cluster by its id, the last part of its ARN.
        clients("emr").add_tags(ResourceId=resource_path(resource.arn)[-1], Tags=tag_list)
    elif resource.kind is Kind.S3_BUCKET:
        _add_bucket_tags(clients, resource.name, tags)
    else:
        # The ARN the API spells (api_arn), where it differs from the guardian's canonical one.
        clients("sagemaker").add_tags(ResourceArn=resource.api_arn or resource.arn, Tags=tag_list)


def _add_bucket_tags(clients: AwsClients, bucket: str, tags: Tags) -> None:
    """The bucket's tags with ``tags`` added: every tag its owner set is kept (a key both have takes ours).
    Read and written back in one step: a tag someone adds in between is lost, as with any S3 tag writer."""
    s3 = clients("s3")
    try:
        held = _as_dict(s3.get_bucket_tagging(Bucket=bucket).get("TagSet", []))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "NoSuchTagSet":
            raise
        held = {}
    merged = held | tags
    if merged == held:
        return
    tag_set = [{"Key": key, "Value": value} for key, value in sorted(merged.items())]
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tag_set})


SAGEMAKER_TAGS_PERMISSIONS = ("sagemaker:ListTags",)


def sagemaker_tags(clients: AwsClients, arn: str) -> list[dict[str, str]]:
    """The tags of a SageMaker resource as the API lists them: Key/Value pairs, what a Create* call takes back."""
    tags: list[dict[str, str]] = clients("sagemaker").list_tags(ResourceArn=arn).get("Tags", [])
    return tags


TAGGED_RESOURCES_PERMISSIONS = ("tag:GetResources",)


def tagged_resources(clients: AwsClients, kinds: Iterable[Kind]) -> Iterator[tuple[str, Tags]]:
    """(ARN as listed, tags) of every tagged resource of these kinds, a page of up to 100 resources per call.

    Lazy: the API's errors are raised while iterating."""
    types = sorted({TAGGING_API_TYPES[kind] for kind in kinds})
    pages = (
        clients("resourcegroupstaggingapi")
        .get_paginator("get_resources")
        .paginate(ResourceTypeFilters=types, ResourcesPerPage=100)
    )
    for page in pages:
        for mapping in page["ResourceTagMappingList"]:
            yield mapping["ResourceARN"], _as_dict(mapping.get("Tags", []))


def _as_dict(tag_list: list[dict[str, Any]]) -> Tags:
    return {tag["Key"]: tag["Value"] for tag in tag_list}
