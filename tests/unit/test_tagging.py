"""The tagging adapter: which API each kind is tagged through, how each names the resource, and the
keys other modules write into the table (guardian.table) spelled as they always were."""

from typing import Any

from guardian import tagging
from guardian.kinds import Kind
from guardian.resource import Resource
from guardian.table import DELIVERY_PK, report_key, subscription_key

PREFIX = "arn:aws:sagemaker:us-east-1:111122223333"


class FakeClient:
    def __init__(self, service: str, calls: list[tuple[str, str, dict[str, Any]]], pages: list[Any]) -> None:
        self._service, self._calls, self._pages = service, calls, pages

    def __getattr__(self, operation: str) -> Any:
        def call(**kwargs: Any) -> Any:
            self._calls.append((self._service, operation, kwargs))
            return {"Tags": [{"Key": "team", "Value": "fraud"}]}

        return call

    def get_paginator(self, operation: str) -> Any:
        calls, pages, service = self._calls, self._pages, self._service

        class Paginator:
            def paginate(self, **kwargs: Any) -> list[Any]:
                calls.append((service, operation, kwargs))
                return pages

        return Paginator()


class FakeClients:
    def __init__(self, pages: list[Any] | None = None) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self._pages = pages or []

    def __call__(self, service: str, region: str | None = None) -> FakeClient:
        return FakeClient(service, self.calls, self._pages)


def test_emr_clusters_are_tagged_through_emr_by_cluster_id():
    clients = FakeClients()
    cluster = Resource(arn="arn:aws:elasticmapreduce:us-east-1:111122223333:cluster/j-ABC", kind=Kind.EMR_CLUSTER)
    tagging.add_tags(clients, cluster, {"b": "2", "a": "1"})
    assert clients.calls == [
        ("emr", "add_tags", {"ResourceId": "j-ABC", "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]})
    ]


def test_sagemaker_resources_are_tagged_by_the_arn_the_api_spells():
    clients = FakeClients()
    endpoint = Resource(arn=f"{PREFIX}:endpoint/fraud", api_arn=f"{PREFIX}:endpoint/Fraud", kind=Kind.ENDPOINT)
    tagging.add_tags(clients, endpoint, {"owner": "erin"})
    assert clients.calls == [
        (
            "sagemaker",
            "add_tags",
            {"ResourceArn": f"{PREFIX}:endpoint/Fraud", "Tags": [{"Key": "owner", "Value": "erin"}]},
        )
    ]


def test_sagemaker_tags_come_back_as_the_api_lists_them():
    clients = FakeClients()
    assert tagging.sagemaker_tags(clients, f"{PREFIX}:endpoint/fraud") == [{"Key": "team", "Value": "fraud"}]
    assert clients.calls == [("sagemaker", "list_tags", {"ResourceArn": f"{PREFIX}:endpoint/fraud"})]


def test_tagged_resources_asks_once_for_every_type_of_the_kinds_and_maps_their_tags():
    page = {"ResourceTagMappingList": [{"ResourceARN": f"{PREFIX}:space/d-1/s", "Tags": [{"Key": "k", "Value": "v"}]}]}
    clients = FakeClients(pages=[page, {"ResourceTagMappingList": [{"ResourceARN": f"{PREFIX}:app/x"}]}])
    found = list(tagging.tagged_resources(clients, [Kind.SPACE, Kind.APP, Kind.SPACE]))
    assert found == [(f"{PREFIX}:space/d-1/s", {"k": "v"}), (f"{PREFIX}:app/x", {})]
    assert clients.calls == [
        (
            "resourcegroupstaggingapi",
            "get_resources",
            {"ResourceTypeFilters": ["sagemaker:app", "sagemaker:space"], "ResourcesPerPage": 100},
        )
    ]


def test_every_kind_has_a_tagging_api_type():
    assert set(tagging.TAGGING_API_TYPES) == set(Kind)


def test_keys_written_outside_the_stores_keep_their_spelling():
    assert report_key("2026-W47") == {"PK": {"S": "REPORT#2026-W47"}, "SK": {"S": "#SUMMARY"}}
    assert subscription_key("erin", "erin@example.com") == {
        "PK": {"S": "SUBSCRIPTION#erin"},
        "SK": {"S": "erin@example.com"},
    }
    assert DELIVERY_PK == "DELIVERY"
