"""Pages as AWS sizes them, so the sandbox bills the calls AWS would (moto pages at 50-100 by default).

Each list call the guardian makes, with its page size when the request names none, and the most it takes
(a larger MaxResults is refused: guardian_sandbox.request_shapes holds every request to the model's
``max``). Sources: the service model's documentation (SageMaker's ListDomains, ListUserProfiles, ListSpaces,
ListApps and ListEndpoints: "defaults to 10"; CloudTrail's LookupEvents: "the default is 50"), the API
reference (EMR's ListClusters "returns a maximum of 50 clusters ... per call"; HyperPod's ListClusters:
"the default is 10 results, and the maximum allowed page size is 100"), and, where neither says, SageMaker's
common default of 10. tests/integration/test_sandbox_paging.py holds the maxima to the model.
"""

from dataclasses import dataclass
from typing import Any

from moto.core.utils import get_pagination_model
from moto.resourcegroupstaggingapi.models import ResourceGroupsTaggingAPIBackend
from moto.sagemaker import models as sagemaker_models


@dataclass(frozen=True)
class PageSize:
    default: int  # items a page when the request names no size
    most: int  # the largest page a request may ask for (or the fixed size, where it may not ask)


SAGEMAKER_DEFAULT = 10
# (service, operation) -> its pages on AWS.
PAGE_SIZES: dict[tuple[str, str], PageSize] = {
    ("sagemaker", "ListDomains"): PageSize(10, 100),
    ("sagemaker", "ListUserProfiles"): PageSize(10, 100),
    ("sagemaker", "ListSpaces"): PageSize(10, 100),
    ("sagemaker", "ListApps"): PageSize(10, 100),
    ("sagemaker", "ListEndpoints"): PageSize(10, 100),
    ("sagemaker", "ListClusters"): PageSize(10, 100),
    ("sagemaker", "ListMlflowTrackingServers"): PageSize(10, 100),
    ("sagemaker", "ListNotebookInstances"): PageSize(10, 100),
    ("sagemaker", "ListPartnerApps"): PageSize(10, 100),
    ("sagemaker", "ListInferenceComponents"): PageSize(10, 100),
    # Without MaxBuckets, one response lists up to 10,000 buckets (the API reference), moto's all of them.
    ("s3", "ListBuckets"): PageSize(10_000, 10_000),
    ("emr", "ListClusters"): PageSize(50, 50),  # no page size in the request
    ("emr", "ListInstanceGroups"): PageSize(50, 50),
    ("emr", "ListInstanceFleets"): PageSize(50, 50),
    ("resourcegroupstaggingapi", "GetResources"): PageSize(100, 100),
    ("cloudtrail", "LookupEvents"): PageSize(50, 50),
}
# moto's own SageMaker backends (the Studio APIs are the sandbox's: guardian_sandbox.studio pages them).
_MOTO_SAGEMAKER = {
    "ListDomains": "list_domains",
    "ListEndpoints": "list_endpoints",
    "ListClusters": "list_clusters",
    "ListNotebookInstances": "list_notebook_instances",
}


def default_page(service: str, operation: str) -> int:
    return PAGE_SIZES[(service, operation)].default if (service, operation) in PAGE_SIZES else SAGEMAKER_DEFAULT


def _one_page_limit(original: Any) -> Any:
    """GetResources pages by ResourcesPerPage alone (moto also ends a page at 100 tags, which AWS does only
    when a request asks for TagsPerPage, which the guardian never does)."""

    def get_resources(self: ResourceGroupsTaggingAPIBackend, *args: Any, **kwargs: Any) -> Any:
        kwargs["tags_per_page"] = 10**9
        return original(self, *args, **kwargs)

    get_resources._sandbox_paging = True  # type: ignore[attr-defined]
    return get_resources


def install() -> None:
    """Page as AWS does (idempotent)."""
    for operation, method in _MOTO_SAGEMAKER.items():
        sagemaker_models.PAGINATION_MODEL[method]["limit_default"] = PAGE_SIZES[("sagemaker", operation)].default
    emr = get_pagination_model("emr")  # cached: what moto's EMR responses page by
    for operation in ("ListClusters", "ListInstanceGroups", "ListInstanceFleets"):
        emr[operation]["limit_default"] = PAGE_SIZES[("emr", operation)].default
    current = ResourceGroupsTaggingAPIBackend.get_resources
    if not getattr(current, "_sandbox_paging", False):
        ResourceGroupsTaggingAPIBackend.get_resources = _one_page_limit(current)  # type: ignore[method-assign]
