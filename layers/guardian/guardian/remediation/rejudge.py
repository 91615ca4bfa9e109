"""The rules again, on the world as it is: the guardian's record with what the live read says in its
place, its space as it is now, the metrics fetched afresh. Remediation acts only on waste the rules still
show (:func:`observe`: read live, then rejudge)."""

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from guardian import metric_data
from guardian.arns import canonical, location_of
from guardian.kinds import Kind, is_gone
from guardian.observability import logger
from guardian.remediation.live import Live, read
from guardian.resource import Resource
from guardian.rules import AnyRule, RuleContext
from guardian.runtime import Guardian


def observe(
    guardian: Guardian, record: Resource, rules: Iterable[AnyRule], now: datetime, reminded_at: datetime | None = None
) -> Live:
    """Read the resource, its tags and its space as they are, then re-evaluate ``rules`` on that."""
    live = read(guardian.clients, record, now, reminded_at)
    if not live.exists:
        return live
    return replace(live, firing=firing(guardian, record, live, rules, now))


def as_live(record: Resource, live: Live) -> Resource:
    """The guardian's record with what the live read says in place of what it held."""
    update: dict[str, Any] = {"state": live.state, "tags": live.tags}
    if live.created_at:
        update["created_at"] = live.created_at
    if live.last_modified_at:
        update["last_modified_at"] = live.last_modified_at
    if "instance_count" in live.shape:
        update["instance_count"] = live.shape["instance_count"]
    return record.model_copy(update=update)


def firing(guardian: Guardian, record: Resource, live: Live, rules: Iterable[AnyRule], now: datetime) -> frozenset[str]:
    """The rules that fire on the live resource, its space as it is now. A rule that cannot judge does not
    fire: the guardian acts only on waste it can show."""
    resource = as_live(record, live)
    space_arn = _space_arn(record)

    def live_lookup(arn: str) -> Resource | None:
        held = guardian.inventory.get(arn)
        if held is None or arn != space_arn or live.space is None:
            return held
        if not live.space.exists:
            return held if is_gone(held.state) else held.model_copy(update={"running": False})
        facts = {"idle_timeout_minutes": live.space.idle_timeout_minutes, "sharing": live.space.sharing}
        return held.model_copy(update=facts | {"running": live.space.running})

    def spaces_of_owner(owner_arn: str) -> list[Resource]:
        return [r for r in guardian.inventory.by_owner(owner_arn) if r.kind is Kind.SPACE]

    context = RuleContext(now=now, lookup=live_lookup, spaces_of_owner=spaces_of_owner)
    applicable = [rule for rule in rules if record.kind in rule.kinds]
    queries = [q for rule in applicable for q in rule.queries([resource], now)]
    if queries:
        context.metrics = metric_data.fetch(guardian.clients("cloudwatch"), queries)
    fired = set()
    for rule in applicable:
        try:
            if rule.evaluate(resource, context) is not None:
                fired.add(rule.name)
        except Exception:  # a rule that cannot judge the live state is no evidence of waste: it does not fire
            logger.exception("rule failed on the live resource", extra={"rule": rule.name, "arn": record.arn})
    return frozenset(fired)


def _space_arn(record: Resource) -> str | None:
    if record.kind is Kind.APP and record.studio_space and record.domain_id:
        return location_of(record.arn).space(record.domain_id, record.studio_space)
    return canonical(record.space_arn) if record.space_arn else None
