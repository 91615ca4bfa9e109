"""The sweep: list what really exists and repair what events missed, duplicated or reordered.

Incremental by design: a resource whose list summary (status, last-modified time) and tags are
unchanged since the last sweep is not described again, and tags come in bulk from the Resource Groups
Tagging API, so a steady-state sweep costs list pages, not calls per resource. What follows from
changes (a space's activity, owners that depend on other records) is settled in one pass at the end,
from the records in hand, rather than with a query per record. A failure on one resource is logged and
skipped; a failure to list a kind skips that kind (nothing of it is marked gone).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guardian.arns import Location, canonical
from guardian.aws_fields import digest
from guardian.collectors import COLLECTORS, Collector, Listed
from guardian.derive import SpaceActivity, derive, space_activity, with_activity
from guardian.inventory import gone_observation, rewrite
from guardian.kinds import Kind, is_final, is_gone
from guardian.observability import MetricUnit, logger, metrics
from guardian.recording import record, schedule_orphan_check, tag_if_missing
from guardian.resource import Observation, Resource
from guardian.runtime import Guardian
from guardian.tagging import TAGGED_RESOURCES_PERMISSIONS, Tags, tagged_resources

# What the sweep calls beyond its collectors and recording: every tag, in bulk.
PERMISSIONS = TAGGED_RESOURCES_PERMISSIONS

# Describe again after this long even if the summary is unchanged (instance counts drift by resizes).
REFRESH_AFTER = timedelta(hours=24)
# Do not call a resource gone that the event path recorded moments ago: lists are eventually consistent.
VANISH_GRACE = timedelta(minutes=10)


@dataclass
class KindReport:
    listed: int = 0
    unchanged: int = 0
    described: int = 0
    recorded: int = 0
    gone: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class SweepReport:
    at: datetime
    kinds: dict[str, KindReport] = field(default_factory=lambda: defaultdict(KindReport))
    reattributed: int = 0
    spaces_updated: int = 0
    resources: list[Resource] = field(default_factory=list, repr=False)  # every record as the sweep left it

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "reattributed": self.reattributed,
            "spaces_updated": self.spaces_updated,
            "kinds": {kind: vars(report) for kind, report in sorted(self.kinds.items())},
        }


@dataclass
class _Sweep:
    guardian: Guardian
    now: datetime
    location: Location
    tags: dict[str, dict[str, str]] | None
    report: SweepReport
    # Every record of a swept kind as it stands after this sweep wrote it (or found it unchanged).
    held: dict[str, Resource] = field(default_factory=dict)

    @property
    def source_id(self) -> str:
        return f"sweep:{self.now.isoformat()}"


def reconcile(guardian: Guardian, now: datetime, location: Location) -> SweepReport:
    report = SweepReport(at=now)
    sweep = _Sweep(guardian, now, location, _bulk_tags(guardian, report), report)
    for collector in COLLECTORS:
        _sweep_kind(sweep, collector)
        if collector.kind in (Kind.DOMAIN, Kind.USER_PROFILE, Kind.SPACE):
            # Owners of what follows are looked up in these: from what the sweep holds, not the table.
            guardian.forget_directory()
            guardian.directory(now).know_spaces(r for r in sweep.held.values() if r.kind is Kind.SPACE)
    report.spaces_updated = _settle_space_activity(sweep)
    report.reattributed = _reattribute(sweep)
    report.resources = list(sweep.held.values())
    metrics.add_metric(
        name="ResourcesListed", unit=MetricUnit.Count, value=sum(k.listed for k in report.kinds.values())
    )
    for kind, kind_report in report.kinds.items():
        if kind_report.errors:
            metrics.add_metric(name="SweepErrors", unit=MetricUnit.Count, value=len(kind_report.errors))
            logger.warning("sweep skipped resources", extra={"kind": kind, "errors": kind_report.errors[:20]})
    logger.info("sweep done", extra=report.as_dict())
    return report


def _bulk_tags(guardian: Guardian, report: SweepReport) -> dict[str, Tags] | None:
    """Every tag of every tracked resource type, a page of up to 100 resources per call."""
    try:
        tags = {
            canonical(arn): resource_tags
            for arn, resource_tags in tagged_resources(guardian.clients, [c.kind for c in COLLECTORS])
        }
    except (ClientError, BotoCoreError) as error:
        # Without bulk tags the sweep still records state; it just does not touch tags this time.
        report.kinds["tags"].errors.append(f"GetResources: {error}")
        return None
    return tags


def _sweep_kind(sweep: _Sweep, collector: Collector) -> None:
    guardian, report = sweep.guardian, sweep.report.kinds[collector.kind.value]
    known = {r.arn: r for r in guardian.inventory.by_kind(collector.kind)}
    sweep.held.update(known)
    seen: set[str] = set()
    try:
        summaries = list(collector.list(guardian.clients))
    except (ClientError, BotoCoreError) as error:
        report.errors.append(f"{collector.operation}: {error}")
        return
    for summary in summaries:
        report.listed += 1
        try:
            listed = collector.identify(summary, sweep.location)
        except KeyError as error:
            report.errors.append(f"{collector.operation}: summary without {error}")
            continue
        arn = canonical(listed.arn)
        seen.add(arn)
        resource_tags = sweep.tags.get(arn, {}) if sweep.tags is not None else None
        observation = _observe(sweep, collector, listed, known.get(arn), resource_tags, report)
        if observation is not None:
            sweep.held[arn] = record(guardian, observation, sweep.now, follow_up=False).resource
            report.recorded += 1
    for arn, existing in known.items():
        if arn in seen or is_final(existing.state):
            continue
        born = existing.created_at or existing.first_seen_at
        if born and sweep.now - born < VANISH_GRACE:
            continue
        gone = gone_observation(existing, sweep.now, sweep.source_id, "sweep: no longer listed")
        sweep.held[arn] = record(guardian, gone, sweep.now, follow_up=False).resource
        report.gone += 1


def _observe(
    sweep: _Sweep,
    collector: Collector,
    listed: Listed,
    existing: Resource | None,
    tags: Tags | None,
    report: KindReport,
) -> Observation | None:
    """The observation a listed resource calls for, or None when nothing changed since the last sweep."""
    held_summary, _, held_tags = (existing.fingerprint or "").partition("|") if existing else ("", "", "")
    summary_print = digest(listed.fingerprint)
    tags_print = digest(tags) if tags is not None else held_tags  # no bulk tags: keep what was known
    fresh = (
        existing is not None and existing.described_at is not None and sweep.now - existing.described_at < REFRESH_AFTER
    )
    summary_changed = existing is None or not fresh or held_summary != summary_print
    if not summary_changed and held_tags == tags_print:
        report.unchanged += 1
        return None
    fields: dict[str, Any] = {"fingerprint": f"{summary_print}|{tags_print}"}
    groups = None
    if summary_changed:
        try:
            described, groups = collector.fields(sweep.guardian.clients, listed, existing)
        except (ClientError, BotoCoreError, KeyError) as error:
            report.errors.append(f"{listed.arn}: {error}")
            return None
        fields |= {k: v for k, v in described.items() if v is not None} | {"described_at": sweep.now}
        report.described += 1
    return Observation(
        arn=listed.arn,
        kind=collector.kind,
        observed_at=sweep.now,
        source_id=sweep.source_id,
        origin="sweep",
        fields=fields,
        tags=tags,
        groups=groups,
        complete_maps=True,
    )


def _settle_space_activity(sweep: _Sweep) -> int:
    """Whether each space runs, from its apps as the sweep holds them; writes only what changed."""
    apps: dict[str, list[Resource]] = defaultdict(list)
    for resource in sweep.held.values():
        if resource.kind is Kind.APP and resource.space_arn:
            apps[resource.space_arn].append(resource)
    version = f"{sweep.now.strftime('%Y-%m-%dT%H:%M:%S.%f')}Z#00#{sweep.source_id}"
    updated = 0
    for space in [r for r in sweep.held.values() if r.kind is Kind.SPACE and not is_gone(r.state)]:
        # A space no app was ever seen for is stopped (since an unknown time).
        activity = space_activity(apps[space.arn]) or SpaceActivity(False, None, version)
        settled = with_activity(space, activity)
        if (settled.running, settled.activity_at) != (space.running, space.activity_at):
            result = rewrite(sweep.guardian.inventory, space.arn, partial(with_activity, activity=activity))
            if result and result.changed:
                sweep.held[space.arn] = result.after
                updated += 1
                if result.after.running is False and activity.at:
                    key = f"{space.arn}|{activity.version}"
                    schedule_orphan_check(sweep.guardian, {"space_arn": space.arn}, activity.at, key, sweep.now)
    return updated


def _reattribute(sweep: _Sweep) -> int:
    """Owners may be decidable now that were not when a record was written (a profile appeared)."""
    guardian = sweep.guardian
    directory = guardian.directory(sweep.now)
    tags = guardian.ownership_tags
    changed = 0
    for resource in list(sweep.held.values()):
        if is_gone(resource.state) or derive(resource, directory, tags).attribution == resource.attribution:
            continue
        result = rewrite(guardian.inventory, resource.arn, lambda r: derive(r, directory, tags))
        if result and result.changed:
            sweep.held[resource.arn] = tag_if_missing(guardian, result.after, sweep.now)[1]
            changed += 1
    return changed
