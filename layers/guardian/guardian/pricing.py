"""Hourly on-demand prices: the AWS Price List API when deployed (cached), a bundled table of
published us-east-1 prices offline and as a fallback. A price nobody knows is None, never 0.

How the AmazonSageMaker offer names what the guardian prices (each product's attributes):
- hosting, notebook instances, Studio apps: ``instanceName`` is the type ("ml.m5.xlarge"), ``usagetype``
  "<REGION>-Host:ml.m5.xlarge", "-Notebk:", "-Studio:" (``component`` "Hosting", "studio-jupyterlab", ...);
- HyperPod: ``usagetype`` "<REGION>-Cluster:ml.g5.8xlarge", ``component`` "Cluster", ``instanceType``
  "ml.g5.8xlarge-Cluster"; "-ReservedCluster:" is a different (reserved) offer and is never taken;
- MLflow tracking servers: not documented anywhere we could read; products whose ``usagetype`` mentions
  MLflow are searched and the one naming the server's size (Small, Medium, Large) is taken, so a rename
  leaves the bundled table answering rather than a wrong price.
"""

import json
import re
from collections.abc import Callable
from decimal import Decimal
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from guardian.observability import logger

PRICE_LIST_REGION = "us-east-1"  # the Price List API answers from here for every region
PERMISSIONS = ("pricing:GetProducts",)


class Usage(StrEnum):
    """What an instance hour is bought as: the same type costs differently per use."""

    HOSTING = "sagemaker-hosting"
    STUDIO = "sagemaker-studio"
    NOTEBOOK = "sagemaker-notebook"
    CANVAS = "sagemaker-canvas"
    HYPERPOD = "sagemaker-hyperpod"
    MLFLOW = "sagemaker-mlflow"  # per tracking server, by size: Small, Medium, Large
    PARTNER_APP = "sagemaker-partner-app"  # per app, by tier: no published price (see the bundled table)
    STORAGE = "sagemaker-storage"  # per GB-month
    S3 = "s3-standard"  # per GB-month, S3 Standard's first tier
    EC2 = "ec2"
    EMR = "emr-uplift"


class PriceBook(Protocol):
    def price(self, usage: Usage, instance_type: str, region: str) -> Decimal | None: ...

    def source(self, usage: Usage, instance_type: str, region: str) -> str | None: ...


@cache
def _bundled_document() -> dict[str, Any]:
    """guardian/data's table: "prices", each row with its source and date; "unpriced", what no source priced."""
    document: dict[str, Any] = json.loads(
        resources.files("guardian").joinpath("data/prices_us_east_1.json").read_text()
    )
    return document


@cache
def _bundled_rows() -> dict[tuple[str, str, str], dict[str, Any]]:
    document = _bundled_document()
    return {(row["usage"], row["type"], document["region"]): row for row in document["prices"]}


class BundledPrices:
    """Published prices for the common types in us-east-1 (guardian/data), each row with its source."""

    def price(self, usage: Usage, instance_type: str, region: str) -> Decimal | None:
        row = _bundled_rows().get((usage.value, instance_type, region))
        return Decimal(str(row["usd"])) if row else None

    def source(self, usage: Usage, instance_type: str, region: str) -> str | None:
        row = _bundled_rows().get((usage.value, instance_type, region))
        return f"bundled table: {row['source']} ({row['retrieved']})" if row else None


# How each use shows in the SageMaker offer's usage types (e.g. "USE1-Host:ml.m5.xlarge").
_SAGEMAKER_USAGE_FAMILIES = {
    Usage.HOSTING: ("Host",),
    Usage.NOTEBOOK: ("Notebk",),
    Usage.STUDIO: ("Studio",),
    Usage.HYPERPOD: ("Cluster",),
}
# How MLflow may be spelled in a usage type: CONTAINS is case-sensitive, so each is asked in turn.
_MLFLOW_SPELLINGS = ("MLflow", "Mlflow", "mlflow", "MLFlow")


class PriceListPrices:
    """GetProducts, one call per (use, type, region), remembered for the life of the function."""

    def __init__(self, client_factory: Callable[[], Any], fallback: PriceBook | None = None) -> None:
        self._client = client_factory
        self._fallback = fallback or BundledPrices()
        self._found: dict[tuple[Usage, str, str], tuple[Decimal | None, str | None]] = {}

    def price(self, usage: Usage, instance_type: str, region: str) -> Decimal | None:
        return self._lookup(usage, instance_type, region)[0]

    def source(self, usage: Usage, instance_type: str, region: str) -> str | None:
        return self._lookup(usage, instance_type, region)[1]

    def _lookup(self, usage: Usage, instance_type: str, region: str) -> tuple[Decimal | None, str | None]:
        key = (usage, instance_type, region)
        if key not in self._found:
            try:
                price = self._query(usage, instance_type, region)
            except (ClientError, BotoCoreError) as error:
                logger.warning(
                    "price list unavailable", extra={"usage": usage.value, "type": instance_type, "error": str(error)}
                )
                price = None
            if price is not None:
                self._found[key] = (price, f"AWS Price List API ({region})")
            else:
                self._found[key] = (self._fallback.price(*key), self._fallback.source(*key))
        return self._found[key]

    def _query(self, usage: Usage, instance_type: str, region: str) -> Decimal | None:
        if usage in (Usage.EC2, Usage.EMR):
            service = "AmazonEC2" if usage is Usage.EC2 else "ElasticMapReduce"
            filters = {"instanceType": instance_type, "regionCode": region}
            if usage is Usage.EC2:
                filters |= {
                    "operatingSystem": "Linux",
                    "tenancy": "Shared",
                    "preInstalledSw": "NA",
                    "capacitystatus": "Used",
                }
            return _first_hourly(self._products(service, filters), lambda attributes: True)
        if usage is Usage.MLFLOW:
            return self._mlflow(instance_type, region)
        families = _SAGEMAKER_USAGE_FAMILIES.get(usage)
        if not families:
            return None  # Canvas, storage, partner apps: not priced per instance type; the bundled table answers

        def matches(attributes: dict[str, Any]) -> bool:
            family, _, named = attributes.get("usagetype", "").split("-", 1)[-1].partition(":")
            # HyperPod is found by a substring of its usage type: the type must be the whole name after it.
            return family in families and (usage is not Usage.HYPERPOD or named == instance_type)

        if usage is Usage.HYPERPOD:
            # By usage type: whether HyperPod products carry instanceName is not documented.
            cluster = {"usagetype": f"-Cluster:{instance_type}"}
            return _first_hourly(self._products("AmazonSageMaker", {"regionCode": region}, contains=cluster), matches)
        return _first_hourly(
            self._products("AmazonSageMaker", {"instanceName": instance_type, "regionCode": region}), matches
        )

    def _mlflow(self, size: str, region: str) -> Decimal | None:
        """A tracking server of this size: the first spelling of MLflow that finds products decides."""

        def names_size(attributes: dict[str, Any]) -> bool:
            words = re.split(r"[^a-z0-9]+", " ".join(str(v) for v in attributes.values()).lower())
            return size.lower() in words

        for spelling in _MLFLOW_SPELLINGS:
            products = self._products("AmazonSageMaker", {"regionCode": region}, contains={"usagetype": spelling})
            if products:
                return _first_hourly(products, names_size)
        return None

    def _products(
        self, service: str, filters: dict[str, str], contains: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        request = {
            "ServiceCode": service,
            "Filters": [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in filters.items()]
            + [{"Type": "CONTAINS", "Field": k, "Value": v} for k, v in (contains or {}).items()],
            "FormatVersion": "aws_v1",
        }
        products = []
        for page in self._client().get_paginator("get_products").paginate(**request):
            products += [json.loads(item) for item in page["PriceList"]]
        return products


def _first_hourly(products: list[dict[str, Any]], matches: Callable[[dict[str, Any]], bool]) -> Decimal | None:
    for product in products:
        if not matches(product.get("product", {}).get("attributes", {})):
            continue
        for term in product.get("terms", {}).get("OnDemand", {}).values():
            for dimension in term.get("priceDimensions", {}).values():
                usd = dimension.get("pricePerUnit", {}).get("USD")
                if usd and dimension.get("unit", "Hrs") in ("Hrs", "Hours", "hours") and Decimal(usd) > 0:
                    return Decimal(usd)
    return None
