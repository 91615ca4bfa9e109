"""What resources cost per hour: from their shape and the published prices; unknown is None, never 0."""

from decimal import Decimal

import pytest

from guardian.cost import hourly_cost
from guardian.kinds import Kind
from guardian.pricing import BundledPrices
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
