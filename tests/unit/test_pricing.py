"""The AWS Price List API (request and response shapes checked by botocore's Stubber against the service
model), cached per type, with the bundled table behind it."""

import json
from decimal import Decimal

import boto3
from botocore.stub import Stubber

from guardian.pricing import BundledPrices, PriceListPrices, Usage


def product(usagetype: str, usd: str) -> str:
    return json.dumps(
        {
            "product": {"productFamily": "ML Instance", "attributes": {"usagetype": usagetype, "instanceName": "x"}},
            "terms": {
                "OnDemand": {
                    "SKU.TERM": {
                        "priceDimensions": {
                            "SKU.TERM.DIM": {"unit": "Hrs", "pricePerUnit": {"USD": usd}, "description": "hourly"}
                        }
                    }
                }
            },
        }
    )


def stubbed():
    client = boto3.client("pricing", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return client, Stubber(client)


def sagemaker_request(instance_type: str) -> dict:
    return {
        "ServiceCode": "AmazonSageMaker",
        "FormatVersion": "aws_v1",
        "Filters": [
            {"Type": "TERM_MATCH", "Field": "instanceName", "Value": instance_type},
            {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "eu-west-1"},
        ],
    }


def test_the_hosting_price_is_read_from_the_price_list_once_and_remembered():
    client, stub = stubbed()
    stub.add_response(
        "get_products",
        {
            "PriceList": [product("EUW1-Training:ml.m5.xlarge", "0.257"), product("EUW1-Host:ml.m5.xlarge", "0.2576")],
            "FormatVersion": "aws_v1",
        },
        sagemaker_request("ml.m5.xlarge"),
    )
    prices = PriceListPrices(lambda: client)
    with stub:
        assert prices.price(Usage.HOSTING, "ml.m5.xlarge", "eu-west-1") == Decimal("0.2576")
        assert prices.price(Usage.HOSTING, "ml.m5.xlarge", "eu-west-1") == Decimal("0.2576")  # no second call
    stub.assert_no_pending_responses()
    assert prices.source(Usage.HOSTING, "ml.m5.xlarge", "eu-west-1") == "AWS Price List API (eu-west-1)"


def test_when_the_price_list_fails_the_bundled_table_answers_and_says_so():
    client, stub = stubbed()
    stub.add_client_error(
        "get_products",
        "ThrottlingException",
        expected_params={
            "ServiceCode": "AmazonSageMaker",
            "FormatVersion": "aws_v1",
            "Filters": [
                {"Type": "TERM_MATCH", "Field": "instanceName", "Value": "ml.g5.xlarge"},
                {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"},
            ],
        },
    )
    prices = PriceListPrices(lambda: client)
    with stub:
        assert prices.price(Usage.HOSTING, "ml.g5.xlarge", "us-east-1") == Decimal("1.408")
    assert prices.source(Usage.HOSTING, "ml.g5.xlarge", "us-east-1").startswith("bundled table")


def test_a_type_nobody_prices_is_none():
    client, stub = stubbed()
    stub.add_response("get_products", {"PriceList": [], "FormatVersion": "aws_v1"}, sagemaker_request("ml.x9.huge"))
    with stub:
        assert PriceListPrices(lambda: client).price(Usage.HOSTING, "ml.x9.huge", "eu-west-1") is None


def test_ec2_prices_ask_for_shared_linux_capacity():
    client, stub = stubbed()
    filters = {
        "instanceType": "m5.xlarge",
        "regionCode": "us-east-1",
        "operatingSystem": "Linux",
        "tenancy": "Shared",
        "preInstalledSw": "NA",
        "capacitystatus": "Used",
    }
    stub.add_response(
        "get_products",
        {"PriceList": [product("BoxUsage:m5.xlarge", "0.192")], "FormatVersion": "aws_v1"},
        {
            "ServiceCode": "AmazonEC2",
            "FormatVersion": "aws_v1",
            "Filters": [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in filters.items()],
        },
    )
    with stub:
        assert PriceListPrices(lambda: client).price(Usage.EC2, "m5.xlarge", "us-east-1") == Decimal("0.192")


def test_the_bundled_table_is_only_for_the_region_it_was_published_for():
    assert BundledPrices().price(Usage.EC2, "m5.xlarge", "us-east-1") == Decimal("0.192")
    assert BundledPrices().price(Usage.EC2, "m5.xlarge", "ap-south-1") is None


def hyperpod_request(instance_type: str, region: str) -> dict:
    return {
        "ServiceCode": "AmazonSageMaker",
        "FormatVersion": "aws_v1",
        "Filters": [
            {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
            {"Type": "CONTAINS", "Field": "usagetype", "Value": f"-Cluster:{instance_type}"},
        ],
    }


def test_a_hyperpod_price_is_its_cluster_usage_type_not_reserved_capacity():
    client, stub = stubbed()
    stub.add_response(
        "get_products",
        {
            "PriceList": [
                product("USW2-ReservedCluster:ml.p5.48xlarge", "12.00"),  # reserved capacity: another offer
                product("USW2-Cluster:ml.p5.48xlarge", "63.30"),
            ],
            "FormatVersion": "aws_v1",
        },
        hyperpod_request("ml.p5.48xlarge", "us-west-2"),
    )
    prices = PriceListPrices(lambda: client)
    with stub:
        assert prices.price(Usage.HYPERPOD, "ml.p5.48xlarge", "us-west-2") == Decimal("63.30")
    assert prices.source(Usage.HYPERPOD, "ml.p5.48xlarge", "us-west-2") == "AWS Price List API (us-west-2)"


def test_a_hyperpod_type_the_price_list_lacks_falls_back_to_the_bundled_table():
    client, stub = stubbed()
    stub.add_response(
        "get_products", {"PriceList": [], "FormatVersion": "aws_v1"}, hyperpod_request("ml.g5.8xlarge", "us-east-1")
    )
    prices = PriceListPrices(lambda: client)
    with stub:
        assert prices.price(Usage.HYPERPOD, "ml.g5.8xlarge", "us-east-1") == Decimal("3.06")
    assert prices.source(Usage.HYPERPOD, "ml.g5.8xlarge", "us-east-1").startswith("bundled table")


def mlflow_request(spelling: str, region: str) -> dict:
    return {
        "ServiceCode": "AmazonSageMaker",
        "FormatVersion": "aws_v1",
        "Filters": [
            {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
            {"Type": "CONTAINS", "Field": "usagetype", "Value": spelling},
        ],
    }


def test_an_mlflow_server_is_priced_by_the_product_that_names_its_size():
    client, stub = stubbed()
    stub.add_response(
        "get_products", {"PriceList": [], "FormatVersion": "aws_v1"}, mlflow_request("MLflow", "eu-west-1")
    )
    stub.add_response(
        "get_products",
        {
            "PriceList": [
                product("EUW1-Mlflow-TrackingServer-Small-Hrs", "0.66"),
                product("EUW1-Mlflow-TrackingServer-Medium-Hrs", "1.14"),
            ],
            "FormatVersion": "aws_v1",
        },
        mlflow_request("Mlflow", "eu-west-1"),
    )
    prices = PriceListPrices(lambda: client)
    with stub:
        assert prices.price(Usage.MLFLOW, "Medium", "eu-west-1") == Decimal("1.14")
    stub.assert_no_pending_responses()


def test_when_no_mlflow_product_is_found_the_bundled_table_answers():
    client, stub = stubbed()
    for spelling in ("MLflow", "Mlflow", "mlflow", "MLFlow"):
        stub.add_response(
            "get_products", {"PriceList": [], "FormatVersion": "aws_v1"}, mlflow_request(spelling, "us-east-1")
        )
    prices = PriceListPrices(lambda: client)
    with stub:
        assert prices.price(Usage.MLFLOW, "Small", "us-east-1") == Decimal("0.6")
        assert prices.price(Usage.MLFLOW, "Small", "us-east-1") == Decimal("0.6")  # remembered: no more calls
    assert prices.source(Usage.MLFLOW, "Small", "us-east-1").startswith("bundled table")
