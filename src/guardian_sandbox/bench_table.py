"""`make bench`'s DynamoDB figures: the request units the guardian's table consumes, per sweep and per event,
and the size of what it stores.

Units are computed from item sizes as DynamoDB bills them (moto's ConsumedCapacity is a constant): a write
costs 1 WCU per started KB of the larger of the item before and after, plus the same for each index whose
projection of the item changed (an index whose key attributes the item lacks holds nothing of it; a key
change costs a delete and a put); a transaction costs twice. A strongly consistent read costs 1 RCU per
started 4 KB, an eventually consistent one (every index query) half; a query is billed on the sum of the
items it returns, per page. Item sizes follow DynamoDB's rules (attribute names count, numbers about one
byte per two digits).
"""

import contextlib
import io
import math
import statistics
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from guardian import aws
from guardian.arns import Location
from guardian_sandbox.eventfactory import Caller, EventFactory, sample
from guardian_sandbox.stack import SANDBOX_ACCOUNT, SandboxStack

Item = dict[str, dict[str, Any]]  # the low-level client's spelling of an item
WRITES = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem")
READS = ("GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems")


def value_size(value: dict[str, Any]) -> int:
    """An attribute value's size as DynamoDB counts it."""
    kind, held = next(iter(value.items()))
    if kind == "S":
        return len(held.encode())
    if kind == "N":
        digits = len(str(held).lstrip("-").replace(".", "").lstrip("0")) or 1
        return math.ceil(digits / 2) + 1
    if kind == "B":
        return len(held)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(value_size({kind[0]: member}) for member in held)
    if kind == "L":
        return 3 + sum(1 + value_size(member) for member in held)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + value_size(member) for name, member in held.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: Item) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


@dataclass(frozen=True)
class Index:
    name: str
    keys: tuple[str, ...]  # the index's key attributes
    projection: str  # ALL, KEYS_ONLY, INCLUDE
    included: tuple[str, ...] = ()

    def project(self, item: Item | None, table_keys: tuple[str, ...]) -> Item | None:
        """The item as this index holds it, or None when the item lacks the index's keys."""
        if item is None or any(key not in item for key in self.keys):
            return None
        if self.projection == "ALL":
            return dict(item)
        kept = set(table_keys) | set(self.keys) | (set(self.included) if self.projection == "INCLUDE" else set())
        return {name: value for name, value in item.items() if name in kept}


@dataclass
class Units:
    read: float = 0.0
    write: float = 0.0
    calls: Counter = field(default_factory=Counter)

    def __add__(self, other: "Units") -> "Units":
        return Units(self.read + other.read, self.write + other.write, self.calls + other.calls)


class Meter:
    """Counts the units the table consumes, from the items moto holds before and after each write."""

    def __init__(self, table: Any) -> None:
        self._table = table  # moto's Table
        self.keys = (table.hash_key_attr, table.range_key_attr)
        self.indexes = tuple(_index(i) for i in table.global_indexes)
        self.units = Units()
        # Each call's operation and the partitions it names: item keys' PK, or a query's index and partition.
        self.log: list[tuple[str, str]] = []

    # Hooks (botocore's before-call and after-call events of every DynamoDB client the guardian makes).

    def before(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        """Before the request is built: ``params`` are the call's own."""
        context["lean_consistent"] = bool(params.get("ConsistentRead")) and "IndexName" not in params
        self.log += [(model.name, named) for named in _named(model.name, params)]
        if model.name in WRITES:
            context["lean_before"] = {key: self._held(key) for key in self._keys_written(model.name, params)}

    def after(self, model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if model.name in WRITES or model.name in READS:
            self.units.calls[model.name] += 1
        if model.name in WRITES:
            before: dict[tuple, Item | None] = context.pop("lean_before", {})
            factor = 2 if model.name == "TransactWriteItems" else 1
            for key, old in before.items():
                self.units.write += factor * self._write_units(old, self._held(key), failed="Error" in parsed)
        elif model.name in READS:
            self.units.read += _read_units(model.name, parsed, context.get("lean_consistent", False))

    def _keys_written(self, operation: str, params: dict[str, Any]) -> list[tuple]:
        if operation == "TransactWriteItems":
            entries = [next(iter(t.values())) for t in params.get("TransactItems", [])]
        elif operation == "BatchWriteItem":
            entries = [next(iter(r.values())) for requests in params.get("RequestItems", {}).values() for r in requests]
        else:
            entries = [params]
        keys = []
        for entry in entries:
            if "TableName" in entry and entry["TableName"] != self._table.name:
                continue
            item = entry.get("Item") or entry.get("Key") or {}
            keys.append(tuple(_plain(item[k]) if k in item else None for k in self.keys if k))
        return keys

    def _held(self, key: tuple) -> Item | None:
        from moto.dynamodb.models.dynamo_type import DynamoType

        hash_type = "S"
        parts = [DynamoType({hash_type: part}) if part is not None else None for part in key]
        held = self._table.get_item(parts[0], parts[1] if len(parts) > 1 else None)
        return {name: value.to_json() for name, value in held.attrs.items()} if held is not None else None

    def _write_units(self, old: Item | None, new: Item | None, failed: bool) -> float:
        sizes = [item_size(i) for i in (old, new) if i is not None]
        units = float(max(1, math.ceil(max(sizes, default=1) / 1024)))
        if failed:
            return units  # a failed condition still costs the write, and touches no index
        table_keys = tuple(k for k in self.keys if k)
        for index in self.indexes:
            before, after = index.project(old, table_keys), index.project(new, table_keys)
            if before == after:
                continue
            if before is None or after is None:
                units += _kb(before or after)
            elif any(before[k] != after[k] for k in index.keys):
                units += _kb(before) + _kb(after)  # moved: deleted from one place, put in another
            else:
                units += max(_kb(before), _kb(after))
        return units


def _named(operation: str, params: dict[str, Any]) -> list[str]:
    """The partitions a call names (for tests: which records a step reads and writes)."""
    if operation in ("Query", "Scan"):
        pk = params.get("ExpressionAttributeValues", {}).get(":pk", {}).get("S", "")
        return [f"{params.get('IndexName', 'table')}:{pk}"]
    if operation == "BatchGetItem":
        return [k["PK"]["S"] for request in params.get("RequestItems", {}).values() for k in request["Keys"]]
    if operation == "TransactWriteItems":
        entries = [next(iter(t.values())) for t in params.get("TransactItems", [])]
        return list(dict.fromkeys((e.get("Item") or e.get("Key") or {}).get("PK", {}).get("S", "") for e in entries))
    item = params.get("Item") or params.get("Key") or {}
    return [item["PK"]["S"]] if "PK" in item else []


def _kb(item: Item | None) -> int:
    return max(1, math.ceil(item_size(item or {}) / 1024))


def _plain(value: dict[str, Any]) -> Any:
    return next(iter(value.values()))


def _index(index: Any) -> Index:
    projection = index.projection or {"ProjectionType": "ALL"}
    return Index(
        name=index.name,
        keys=tuple(k["AttributeName"] for k in index.schema),
        projection=projection.get("ProjectionType", "ALL"),
        included=tuple(projection.get("NonKeyAttributes", [])),
    )


def _read_units(operation: str, parsed: dict[str, Any], consistent: bool) -> float:
    per_4kb = 1.0 if consistent else 0.5
    if "Error" in parsed:
        return 0.0
    if operation == "GetItem":
        return max(1, math.ceil(item_size(parsed.get("Item") or {}) / 4096)) * per_4kb
    if operation in ("Query", "Scan"):
        size = sum(item_size(i) for i in parsed.get("Items", []))
        return max(1, math.ceil(size / 4096)) * per_4kb
    if operation == "BatchGetItem":
        items = [i for items in parsed.get("Responses", {}).values() for i in items]
        return sum(max(1, math.ceil(item_size(i) / 4096)) for i in items) * 0.5
    if operation == "TransactGetItems":
        return sum(2 * max(1, math.ceil(item_size(r.get("Item") or {}) / 4096)) for r in parsed.get("Responses", []))
    return 0.0


@contextlib.contextmanager
def metering(stack: SandboxStack) -> Iterator[Meter]:
    """Every DynamoDB call any function of the stack makes is metered for the length of the block."""
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[SANDBOX_ACCOUNT][stack.clients.region].tables[stack.table_name]
    meter = Meter(table)
    original = aws.AwsClients.__call__
    hooked: dict[int, Any] = {}

    def metered_client(self: aws.AwsClients, service: str, region: str | None = None) -> Any:
        client = original(self, service, region)
        if service == "dynamodb" and id(client) not in hooked:
            client.meta.events.register("before-parameter-build.dynamodb", meter.before)
            client.meta.events.register("after-call.dynamodb", meter.after)
            hooked[id(client)] = client
        return client

    aws.AwsClients.__call__ = metered_client  # type: ignore[method-assign]
    from guardian.runtime import forget_cached

    forget_cached()
    try:
        yield meter
    finally:
        aws.AwsClients.__call__ = original  # type: ignore[method-assign]
        for client in hooked.values():
            client.meta.events.unregister("before-parameter-build.dynamodb", meter.before)
            client.meta.events.unregister("after-call.dynamodb", meter.after)
        forget_cached()


def measured(meter: Meter, action: Callable[[], Any]) -> Units:
    """The units ``action`` consumed."""
    start = Units(meter.units.read, meter.units.write, Counter(meter.units.calls))
    action()
    return Units(meter.units.read - start.read, meter.units.write - start.write, meter.units.calls - start.calls)


@dataclass(frozen=True)
class Sizes:
    count: int
    average: float
    largest: int


def stored_sizes(stack: SandboxStack) -> dict[str, Sizes]:
    """Item sizes by type (resource, finding, history, audit...), as the table holds them."""
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[SANDBOX_ACCOUNT][stack.clients.region].tables[stack.table_name]
    by_type: dict[str, list[int]] = {}
    for partition in table.items.values():
        held_items: list[Any] = list(partition.values()) if table.range_key_attr else [partition]
        for held in held_items:
            item = {name: value.to_json() for name, value in held.attrs.items()}
            by_type.setdefault(item.get("type", {}).get("S", "other"), []).append(item_size(item))
    return {t: Sizes(len(s), statistics.fmean(s), max(s)) for t, s in sorted(by_type.items())}


def event_round(stack: SandboxStack, events: list[dict[str, Any]]) -> None:
    """Each event delivered as EventBridge would, then the stream pumped to notify as Lambda would."""
    for event in events:
        stack.deliver(event)
        stack.pump_streams()


def bench_events(stack: SandboxStack, count: int, now: datetime) -> list[dict[str, Any]]:
    """Typical events of an active account on the bench's seeded world: endpoints changing state and
    Studio apps stopped and started (CloudTrail DeleteApp / CreateApp)."""
    location = Location(region=stack.clients.region, account=SANDBOX_ACCOUNT)
    factory = EventFactory(location)
    sm = stack.clients("sagemaker")
    endpoints = sm.list_endpoints(MaxResults=count)["Endpoints"][:count]
    apps = [a for a in sm.list_apps(MaxResults=count)["Apps"] if a.get("SpaceName")][:count]
    caller = Caller(role="AmazonSageMaker-ExecutionRole-Default")
    events = []
    for n, endpoint in enumerate(endpoints):
        at = now + timedelta(seconds=n)
        described = sm.describe_endpoint(EndpointName=endpoint["EndpointName"])
        for step, status in enumerate(("UPDATING", "IN_SERVICE")):
            events.append(
                factory.endpoint_state(
                    at + timedelta(milliseconds=step),
                    endpoint["EndpointName"],
                    endpoint["EndpointArn"],
                    status,
                    described["EndpointConfigName"],
                    [{"VariantName": "AllTraffic", "DesiredWeight": 1.0, "DesiredInstanceCount": 1.0}],
                    described["CreationTime"],
                )
            )
    for n, app in enumerate(apps):
        at = now + timedelta(seconds=n)
        request = {
            "domainId": app["DomainId"],
            "spaceName": app["SpaceName"],
            "appType": app["AppType"],
            "appName": app["AppName"],
        }
        events.append(factory.api_call("DeleteApp", at, caller, request))
        events.append(factory.api_call("CreateApp", at + timedelta(milliseconds=1), caller, request))
    return events


def new_endpoints(stack: SandboxStack, count: int) -> None:
    """Endpoints the guardian has not met (from the bench's first config), made Studio-tagged like half the bench's."""
    sm = stack.clients("sagemaker")
    config = sm.list_endpoint_configs(MaxResults=1)["EndpointConfigs"][0]["EndpointConfigName"]
    for n in range(count):
        sm.create_endpoint(EndpointName=f"lean-new-{n:04d}", EndpointConfigName=config)


def sweep_once(stack: SandboxStack) -> Any:
    # Powertools prints a metric that reaches 100 values even when metrics are off: not the bench's output.
    with contextlib.redirect_stdout(io.StringIO()):
        return stack.invoke("SweepFunction", sample("scheduled.json", "sweep"))


def report(stack: SandboxStack, events: int = 20, new: int = 20) -> dict[str, Any]:
    """Print (and return) the table's units for a steady sweep, a sweep recording ``new`` resources, and per
    event, and the table's item sizes."""
    figures: dict[str, Any] = {}

    def sweep() -> Any:
        return sweep_once(stack)

    with metering(stack) as meter:
        steady = measured(meter, sweep)
        new_endpoints(stack, new)
        recording_new = measured(meter, sweep)
        batch = bench_events(stack, events, datetime.now(UTC))
        per_events = measured(meter, lambda: event_round(stack, batch))
    sizes = stored_sizes(stack)
    indexes = ", ".join(f"{i.name} {i.projection}" for i in meter.indexes)
    print(f"\nDynamoDB (units computed from item sizes as DynamoDB bills them; indexes: {indexes})")
    print(
        f"  steady sweep: {steady.write:.0f} WCU, {steady.read:.1f} RCU; "
        + ", ".join(f"{op} {n}" for op, n in sorted(steady.calls.items()))
    )
    per_new = (recording_new.write - steady.write) / new  # what the new ones add to a steady sweep
    print(
        f"  sweep recording {new} new endpoints: {recording_new.write:.0f} WCU ({per_new:.1f} more per new "
        f"resource than the steady sweep), {recording_new.read:.1f} RCU; "
        + ", ".join(f"{op} {n}" for op, n in sorted(recording_new.calls.items()))
    )
    n = max(1, len(batch))
    print(
        f"  per event ({len(batch)} events: endpoint state changes, app stop/start; ingest + notify): "
        f"{per_events.write / n:.1f} WCU, {per_events.read / n:.1f} RCU, "
        f"{sum(per_events.calls.values()) / n:.1f} calls ("
        + ", ".join(f"{op} {c / n:.1f}" for op, c in sorted(per_events.calls.items()))
        + ")"
    )
    for kind, size in sizes.items():
        print(f"  {kind:<12} items {size.count:>6}, average {size.average:>6.0f} B, largest {size.largest:>6} B")
    figures["steady_sweep"] = {"wcu": steady.write, "rcu": steady.read, "calls": dict(steady.calls)}
    figures["new_resource"] = {"wcu": per_new, "rcu": (recording_new.read - steady.read) / new}
    figures["per_event"] = {"wcu": per_events.write / n, "rcu": per_events.read / n, "events": len(batch)}
    figures["sizes"] = {k: vars(v) for k, v in sizes.items()}
    return figures


def section(world: Any) -> dict[str, Any]:
    """`make bench`'s section on a seeded world (bench.World: its stack), after its sweeps."""
    return report(world.stack)
