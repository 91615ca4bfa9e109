"""Amazon Resource Names: build them from the names events carry, and key the inventory on one spelling.

SageMaker lowercases resource names inside the ARNs it returns (endpoint ``MyEndpoint`` has ARN
``.../endpoint/myendpoint``; app types appear as ``jupyterlab``), while CloudTrail requests carry
names as typed. The inventory is keyed on :func:`canonical`, so every path agrees on one key.

Every function here is total: any string goes in, nothing is raised. A string that is no ARN (``x``,
``arn:aws``, a megabyte of text, a lone surrogate) parses as None, names no kind, no location parts and
no path; :func:`well_formed` says whether a string is an ARN of a resource the guardian tracks.
"""

import re
from dataclasses import dataclass

from guardian.kinds import Kind

_SAGEMAKER_TYPES = {
    "domain": Kind.DOMAIN,
    "user-profile": Kind.USER_PROFILE,
    "space": Kind.SPACE,
    "app": Kind.APP,
    "endpoint": Kind.ENDPOINT,
    "cluster": Kind.HYPERPOD_CLUSTER,
    "mlflow-tracking-server": Kind.MLFLOW_TRACKING_SERVER,
    "notebook-instance": Kind.NOTEBOOK_INSTANCE,
    "partner-app": Kind.PARTNER_APP,  # named by an id (app-...), not its name
    "inference-component": Kind.INFERENCE_COMPONENT,
}
# How many names follow the resource type in the ARN of each kind (app: domain, owner or space, type, name).
_PATH_LENGTH = {
    Kind.DOMAIN: 1,
    Kind.USER_PROFILE: 2,
    Kind.SPACE: 2,
    Kind.APP: 4,
    Kind.ENDPOINT: 1,
    Kind.HYPERPOD_CLUSTER: 1,
    Kind.MLFLOW_TRACKING_SERVER: 1,
    Kind.NOTEBOOK_INSTANCE: 1,
    Kind.EMR_CLUSTER: 1,
    Kind.PARTNER_APP: 1,
    Kind.INFERENCE_COMPONENT: 1,
}

MAX_LENGTH = 2048  # the longest ARN any AWS API accepts
# ARN syntax (any service): arn:partition:service:region:account:resource, region and account may be empty
# (IAM, S3) and the account may be "aws" (AWS managed policies). No whitespace or control characters.
_ARN = re.compile(
    r"arn:(?P<partition>aws(?:-[a-z]+)*):(?P<service>[a-z0-9][a-z0-9-]{0,62}):(?P<region>[a-z0-9-]{0,32}):"
    r"(?P<account>\d{12}|aws|):(?P<resource>[^\s\x00-\x1f\x7f\ud800-\udfff]+)",
    re.ASCII,
)
# A resource the guardian tracks lives in a region and an account, and each name in its path is one
# that SageMaker or EMR would accept (letters, digits, hyphens; dots and underscores tolerated).
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}", re.ASCII)
_ACCOUNT = re.compile(r"\d{12}", re.ASCII)
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,255}", re.ASCII)
# An S3 bucket's name (general purpose buckets: 3 to 63 lower-case letters, digits, dots and hyphens).
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", re.ASCII)


@dataclass(frozen=True)
class Arn:
    """The parts of a syntactically valid ARN."""

    partition: str
    service: str
    region: str
    account: str
    resource: str

    @property
    def resource_type(self) -> str:
        return self.resource.split("/", 1)[0]

    @property
    def path(self) -> list[str]:
        """The parts after the resource type: ``space/d-1/lab`` gives ``["d-1", "lab"]``."""
        return self.resource.split("/")[1:]


def parse(arn: object) -> Arn | None:
    """The parts of an ARN, or None for anything that is not one (including what is not a string)."""
    if not isinstance(arn, str) or len(arn) > MAX_LENGTH:
        return None
    match = _ARN.fullmatch(arn)
    if match is None:
        return None
    return Arn(match["partition"], match["service"], match["region"], match["account"], match["resource"])


@dataclass(frozen=True)
class Location:
    """Where resources live: partition, region and account, as an event or a client knows them."""

    region: str
    account: str
    partition: str = "aws"

    def holds(self, arn: str) -> bool:
        """Whether ``arn`` names something in this account and region."""
        parsed = parse(arn)
        return parsed is not None and (parsed.account, parsed.region) == (self.account, self.region)

    def sagemaker(self, resource: str) -> str:
        return canonical(f"arn:{self.partition}:sagemaker:{self.region}:{self.account}:{resource}")

    def domain(self, domain_id: str) -> str:
        return self.sagemaker(f"domain/{domain_id}")

    def user_profile(self, domain_id: str, name: str) -> str:
        return self.sagemaker(f"user-profile/{domain_id}/{name}")

    def space(self, domain_id: str, name: str) -> str:
        return self.sagemaker(f"space/{domain_id}/{name}")

    def app(self, domain_id: str, owner_or_space: str, app_type: str, app_name: str) -> str:
        return self.sagemaker(f"app/{domain_id}/{owner_or_space}/{app_type}/{app_name}")

    def endpoint(self, name: str) -> str:
        return self.sagemaker(f"endpoint/{name}")

    def notebook_instance(self, name: str) -> str:
        return self.sagemaker(f"notebook-instance/{name}")

    def mlflow_tracking_server(self, name: str) -> str:
        return self.sagemaker(f"mlflow-tracking-server/{name}")

    def emr_cluster(self, cluster_id: str) -> str:
        return f"arn:{self.partition}:elasticmapreduce:{self.region}:{self.account}:cluster/{cluster_id}"

    def s3_bucket(self, name: str) -> str:
        """The inventory's key of a bucket. S3's own ARN (:func:`bucket_arn`) names no region or account, and
        everything the guardian stores carries both: the key spells them, in the form S3 gives regional
        resources (directory buckets, access points)."""
        return f"arn:{self.partition}:s3:{self.region}:{self.account}:bucket/{name}"

    def bucket_arn(self, name: str) -> str:
        return f"arn:{self.partition}:s3:::{name}"


def canonical(arn: str) -> str:
    """The inventory key of an ARN: SageMaker resource parts lowercased, everything else as given
    (a string that is no ARN is its own key, and never matches a well-formed one)."""
    parsed = parse(arn)
    if parsed is None or parsed.service != "sagemaker":
        return arn
    return f"arn:{parsed.partition}:sagemaker:{parsed.region}:{parsed.account}:{parsed.resource.lower()}"


def location_of(arn: str) -> Location:
    """The partition, region and account an ARN names; empty region and account for a string that is
    no ARN (so whatever is built from that location is no well-formed ARN either)."""
    parsed = parse(arn)
    if parsed is None:
        return Location(region="", account="")
    return Location(region=parsed.region, account=parsed.account, partition=parsed.partition)


def kind_of(arn: str) -> Kind | None:
    """The kind of resource an ARN names, or None for a resource the guardian does not track, or for
    a string that is not the well-formed ARN of one (wrong number of names, a name AWS would refuse)."""
    parsed = parse(arn)
    if parsed is not None and parsed.service == "s3":
        return Kind.S3_BUCKET if _bucket_name(parsed) else None
    if parsed is None or not (_REGION.fullmatch(parsed.region) and _ACCOUNT.fullmatch(parsed.account)):
        return None
    kind: Kind | None = None
    if parsed.service == "sagemaker":
        kind = _SAGEMAKER_TYPES.get(parsed.resource_type)
    elif parsed.service == "elasticmapreduce" and parsed.resource_type == "cluster":
        kind = Kind.EMR_CLUSTER
    if kind is None:
        return None
    path = parsed.path
    if len(path) != _PATH_LENGTH[kind] or not all(NAME.fullmatch(name) for name in path):
        return None
    return kind


def _bucket_name(parsed: Arn) -> str | None:
    """The bucket an S3 ARN names, in S3's spelling (``arn:aws:s3:::name``) or the inventory's
    (:meth:`Location.s3_bucket`); None for anything else (an object, an access point, a malformed name)."""
    if not parsed.region and not parsed.account:
        name = parsed.resource
    elif _REGION.fullmatch(parsed.region) and _ACCOUNT.fullmatch(parsed.account) and parsed.resource_type == "bucket":
        name = parsed.resource.partition("/")[2]
    else:
        return None
    return name if BUCKET_NAME.fullmatch(name) else None


def bucket_key(arn: str, location: Location) -> str:
    """The inventory key of an ARN as an API lists it: a bucket's S3 ARN keyed in ``location`` (the region
    whose tags and buckets are being read), any other ARN :func:`canonical`."""
    parsed = parse(arn)
    if parsed is not None and parsed.service == "s3" and not parsed.region and (name := _bucket_name(parsed)):
        return Location(location.region, location.account, parsed.partition).s3_bucket(name)
    return canonical(arn)


def well_formed(arn: str, kind: Kind) -> bool:
    """Whether ``arn`` is the well-formed ARN of a resource of ``kind``."""
    return kind_of(arn) is kind


def resource_path(arn: str) -> list[str]:
    """The parts after the resource type: ``space/d-1/lab`` gives ``["d-1", "lab"]``; empty for a string
    that is no ARN. Index it only for an ARN whose :func:`kind_of` is known (or use :func:`resource_name`)."""
    parsed = parse(arn)
    return parsed.path if parsed else []


def resource_name(arn: str) -> str | None:
    """The last name in an ARN's path (a space's name, a cluster's id), or None if it has none."""
    path = resource_path(arn)
    return path[-1] if path and path[-1] else None
