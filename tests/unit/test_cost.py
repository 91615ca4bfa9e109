"""What resources cost per hour: from their shape and the published prices; unknown is None, never 0."""

from datetime import timedelta
from decimal import Decimal

import pytest

from guardian.cost import hourly_cost
from guardian.kinds import Kind
from guardian.pricing import BundledPrices, Usage
from guardian.resource import InstanceGroup, Resource

PRICES = BundledPrices()
P = "arn:aws:sagemaker:us-east-1:123456789012"


def group(name, instance_type, count, role=None, market=None, serverless=False) -> InstanceGroup:
    return InstanceGroup(
        name=name, instance_type=instance_type, instance_count=count, role=role, market=market, serverless=serverless
    )


def test_an_endpoint_costs_its_instances_at_the_hosting_price():
    endpoint = Resource(
        arn=f"{P}:endpoint/e",
        kind=Kind.ENDPOINT,
        instance_count=2,
        groups={"AllTraffic": group("AllTraffic", "ml.c5.xlarge", 2)},
    )
    cost = hourly_cost(endpoint, PRICES)
    assert cost.hourly == Decimal("0.408")  # 2 x $0.204
    assert cost.monthly == Decimal("297.840")
    assert "2 x ml.c5.xlarge hosting @ $0.204/h" in cost.basis


def test_variants_of_different_types_add_up():
    endpoint = Resource(
        arn=f"{P}:endpoint/e",
        kind=Kind.ENDPOINT,
        instance_count=3,
        groups={"a": group("a", "ml.m5.large", 1), "b": group("b", "ml.g5.xlarge", 2)},
    )
    assert hourly_cost(endpoint, PRICES).hourly == Decimal("0.115") + 2 * Decimal("1.408")


@pytest.mark.parametrize("changes", [{"serverless": True}, {"instance_count": 0}])
def test_serverless_and_scaled_to_zero_endpoints_cost_nothing_idle(changes):
    endpoint = Resource(arn=f"{P}:endpoint/e", kind=Kind.ENDPOINT, **changes)
    assert hourly_cost(endpoint, PRICES).hourly == 0


def test_an_unknown_type_or_region_has_no_price_not_a_zero_one():
    unknown_type = Resource(
        arn=f"{P}:endpoint/e", kind=Kind.ENDPOINT, instance_count=1, groups={"v": group("v", "ml.x99.huge", 1)}
    )
    assert hourly_cost(unknown_type, PRICES).hourly is None
    other_region = Resource(
        arn="arn:aws:sagemaker:eu-west-3:123456789012:endpoint/e",
        kind=Kind.ENDPOINT,
        instance_count=1,
        groups={"v": group("v", "ml.m5.xlarge", 1)},
    )
    assert hourly_cost(other_region, PRICES).hourly is None
    not_yet_read = Resource(arn=f"{P}:endpoint/e", kind=Kind.ENDPOINT, instance_count=1)
    assert hourly_cost(not_yet_read, PRICES).hourly is None


def test_an_emr_cluster_costs_ec2_plus_the_emr_uplift_for_every_group():
    cluster = Resource(
        arn="arn:aws:elasticmapreduce:us-east-1:123456789012:cluster/j-1",
        kind=Kind.EMR_CLUSTER,
        groups={
            "m": group("m", "m5.xlarge", 1, "MASTER"),
            "c": group("c", "m5.2xlarge", 2, "CORE"),
            "t": group("t", "m5.2xlarge", 3, "TASK", "SPOT"),
        },
    )
    cost = hourly_cost(cluster, PRICES)
    # master 0.192 + 0.048; core 2 x (0.384 + 0.096); task 3 x (0.384 + 0.096), spot priced at on-demand
    assert cost.hourly == Decimal("0.240") + 5 * Decimal("0.480")
    assert "spot, priced at on-demand" in cost.basis


def test_studio_apps_cost_their_instance_canvas_its_session_and_system_apps_nothing():
    jupyter = Resource(
        arn=f"{P}:app/d/s/jupyterlab/default", kind=Kind.APP, app_type="JupyterLab", instance_type="ml.t3.medium"
    )
    assert hourly_cost(jupyter, PRICES).hourly == Decimal("0.05")
    canvas = Resource(arn=f"{P}:app/d/u/canvas/default", kind=Kind.APP, app_type="Canvas", instance_type="system")
    assert hourly_cost(canvas, PRICES).hourly == Decimal("1.9")
    system = Resource(
        arn=f"{P}:app/d/u/jupyterserver/default", kind=Kind.APP, app_type="JupyterServer", instance_type="system"
    )
    assert hourly_cost(system, PRICES).hourly == 0


def test_a_spaces_volume_costs_its_gigabytes_by_the_month():
    space = Resource(arn=f"{P}:space/d/s", kind=Kind.SPACE, storage_gb=73)
    assert hourly_cost(space, PRICES).hourly == Decimal("0.14") * 73 / 730  # $0.014/h


def test_every_bundled_price_names_its_source_and_date():
    from guardian.pricing import _bundled_rows

    for (usage, instance_type, region), row in _bundled_rows().items():
        assert row["source"].startswith("https://aws.amazon.com/"), (usage, instance_type)
        assert row["quoted_by"] and row["retrieved"] and row["usd"] > 0 and region == "us-east-1"


def _opened(resource: Resource):
    """The finding a rule would open on this resource now, priced from the bundled table."""
    from datetime import UTC, datetime

    from guardian import findings as lifecycle
    from guardian.rules import Detection

    since = datetime(2026, 11, 23, 9, tzinfo=UTC)
    detection = Detection("orphaned-resource", resource, since, "still billing", {})
    finding, _ = lifecycle.opened(detection, hourly_cost(resource, PRICES), lifecycle.Exemption(False), since)
    return finding


@pytest.mark.parametrize(("size", "hourly"), [("Small", 0.6), ("Medium", 1.04), ("Large", 1.91)])
def test_an_mlflow_tracking_server_costs_its_size(size, hourly):
    server = Resource(arn=f"{P}:mlflow-tracking-server/t", kind=Kind.MLFLOW_TRACKING_SERVER, tracking_server_size=size)
    finding = _opened(server)
    assert finding.hourly_cost_usd == hourly and finding.monthly_cost_usd == round(hourly * 730, 2)
    assert f"MLflow tracking server ({size})" in finding.cost_basis


def test_an_mlflow_server_whose_size_was_never_reported_is_priced_at_the_default_and_says_so():
    server = Resource(arn=f"{P}:mlflow-tracking-server/t", kind=Kind.MLFLOW_TRACKING_SERVER)
    cost = hourly_cost(server, PRICES)
    assert cost.hourly == Decimal("0.6") and "Small, the default size" in cost.basis


def test_a_hyperpod_cluster_costs_its_nodes_at_the_hyperpod_price():
    cluster = Resource(
        arn=f"{P}:cluster/abcdefghijkl",
        kind=Kind.HYPERPOD_CLUSTER,
        groups={"workers": group("workers", "ml.g5.8xlarge", 2)},
    )
    finding = _opened(cluster)
    assert finding.hourly_cost_usd == 6.12  # 2 x $3.06, the Cluster usage type
    assert "2 x ml.g5.8xlarge HyperPod @ $3.06/h" in finding.cost_basis


def test_a_hyperpod_type_no_source_prices_is_unknown_not_a_hosting_price():
    """ml.p5.48xlarge has no HyperPod price we could source (the bundled table lists it as unpriced, with why):
    it stays unknown offline, never borrowed from hosting or EC2, and the Price List prices it when deployed."""
    from guardian.pricing import _bundled_document

    cluster = Resource(
        arn=f"{P}:cluster/abcdefghijkl",
        kind=Kind.HYPERPOD_CLUSTER,
        groups={"gpu": group("gpu", "ml.p5.48xlarge", 16), "head": group("head", "ml.g5.8xlarge", 1)},
    )
    finding = _opened(cluster)
    assert finding.hourly_cost_usd is None and finding.waste_usd(finding.condition_since + timedelta(hours=3)) is None
    unpriced = {t for entry in _bundled_document()["unpriced"] for t in entry["types"]}
    assert "ml.p5.48xlarge" in unpriced


def test_s3_standard_storage_is_priced_per_gigabyte_month():
    assert PRICES.price(Usage.S3, "gb-month", "us-east-1") == Decimal("0.023")
    assert (
        PRICES.source(Usage.S3, "gb-month", "us-east-1")
        == "bundled table: https://aws.amazon.com/s3/pricing/ (2026-12-03)"
    )


def test_partner_ai_apps_have_no_published_price_and_say_why():
    from guardian.pricing import _bundled_document

    assert PRICES.price(Usage.PARTNER_APP, "comet", "us-east-1") is None
    why = next(e for e in _bundled_document()["unpriced"] if e["usage"] == Usage.PARTNER_APP.value)
    assert "comet" in why["types"] and why["why"] and why["checked"]
