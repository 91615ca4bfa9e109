"""The sweep: list what really exists and repair what events missed, duplicated or reordered.

Incremental by design: a resource whose list summary (status, last-modified time, and what it shows of
the cost: an instance type, a volume size) and tags are unchanged since the last sweep is not described
again, and tags come in bulk from the Resource Groups Tagging API, so a steady-state sweep costs list pages
and a bounded rolling re-describe, not calls per resource. What no list call shows (counts, EMR groups and
fleets, an auto-termination policy) is caught by that re-describe: each sweep describes the
oldest-described 1/REDESCRIBE_SWEEPS of each such kind again, so any drift is repaired within
REDESCRIBE_SWEEPS sweeps (:func:`due_again`). What follows from
changes (a space's activity, owners that depend on other records) is settled in one pass at the end,
from the records in hand, rather than with a query per record.

One resource's failure is never the sweep's: whatever goes wrong with it (a describe refused, a write
throttled or timed out, a tag nobody foresaw) is logged with its ARN and the reason, counted (the
``SweepRecordErrors`` metric), and skipped; its record is left as it was for the next sweep, which starts
over. A failure to list a kind skips that kind (nothing of it is marked gone); a kind whose records cannot
be read is not judged complete (none of its findings is resolved as gone).

Orphan checks follow from the records as stored, not from what this sweep changed: a space stopped (or a
space or profile gone) whose grace ends after now has its check ensured (guardian.scheduling), so a write
that committed and then timed out, here or on the event path, still gets its check at the next sweep.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property, partial
from math import ceil
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guardian import bucket_size
from guardian.arns import Location, bucket_key, canonical
from guardian.attribution import Directory
from guardian.aws_fields import digest
from guardian.collectors import COLLECTORS, Collector, Listed, Summary, describing_configs_once, said
from guardian.derive import SpaceActivity, derive, space_activity, with_activity
from guardian.evidence import Evidence
from guardian.inventory import gone_observation, rewrite
from guardian.kinds import Kind, is_final, is_gone
from guardian.observability import MetricUnit, logger, metrics
from guardian.recording import ensure_orphan_check, record, tag_if_missing
from guardian.resource import Observation, Resource, Via
from guardian.resume import Budget, Pass
from guardian.rules.base import version_time
from guardian.runtime import Guardian
from guardian.tagging import TAGGED_RESOURCES_PERMISSIONS, Tags, tagged_resources

# What the sweep calls beyond its collectors and recording: every tag, in bulk.
PERMISSIONS = TAGGED_RESOURCES_PERMISSIONS

# What no list call shows (instance counts, EMR groups and fleets, an auto-termination policy) drifts
# unseen when no event says so (events do report a resize, a scaling action, a policy set: this is the net
# under them): each sweep describes again the oldest-described 1/REDESCRIBE_SWEEPS of the resources of each
# such kind, so each is described at least once every REDESCRIBE_SWEEPS sweeps (two days of hourly sweeps,
# which keeps a steady sweep within 1.2x its floor of list pages: `make bench`) while the kind does not
# shrink, and in any case after REFRESH_AFTER. A kind whose list shows every change is described when it does.
REDESCRIBE_SWEEPS = 48
REFRESH_AFTER = timedelta(hours=72)
# Do not call a resource gone that the event path recorded moments ago: lists are eventually consistent.
VANISH_GRACE = timedelta(minutes=10)

# Hears, as the sweep goes, (the kind being swept, resources listed so far, resources described so far), all
# kinds together: how a command shows a long sweep's progress (the core knows nothing of terminals).
SweepProgress = Callable[[str, int, int], None]


@dataclass
class KindReport:
    listed: int = 0
    unchanged: int = 0
    described: int = 0
    redescribed: int = 0  # of the described: unchanged in the list, described for what no list shows
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
    finished: bool = True  # False: the invocation's time was spent; the next continues (guardian.resume)
    progress: dict[str, Any] = field(default_factory=dict)  # where the pass stands (Pass.save)
    unknown_kinds: set[Kind] = field(default_factory=set)  # kinds whose stored records could not be read

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "reattributed": self.reattributed,
            "spaces_updated": self.spaces_updated,
            "finished": self.finished,
            **({"pass": self.progress} if self.progress else {}),
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
    # Spaces an app of which the sweep listed but could not record: whether they run is not settled now.
    unsettled: set[str] = field(default_factory=set)
    # Kinds whose listing failed this sweep: what is held of them is the table's, possibly stale.
    unlisted: set[Kind] = field(default_factory=set)
    given_evidence: Evidence | None = None  # a scan's, with its own budget; else the sweep's (below)
    progress: SweepProgress | None = None

    def heard(self, kind: Kind) -> None:
        if self.progress is not None:
            kinds = self.report.kinds.values()
            self.progress(kind.value, sum(k.listed for k in kinds), sum(k.described for k in kinds))

    @property
    def source_id(self) -> str:
        return f"sweep:{self.now.isoformat()}"

    @cached_property
    def evidence(self) -> Evidence:
        """When what the events missed ended (guardian.evidence), with this sweep's budget of lookups."""
        return self.given_evidence or Evidence(self.guardian.clients, self.now)


def reconcile(
    guardian: Guardian,
    now: datetime,
    location: Location,
    evidence: Evidence | None = None,
    progress: SweepProgress | None = None,
    budget: Budget | None = None,
) -> SweepReport:
    """``evidence``: CloudTrail's history as the caller budgets it (a scan's is larger than a sweep's).
    ``progress``: told after each kind is listed and each listed resource is handled. ``budget``: the
    invocation's time; with one, the sweep stops between pages when it is spent and the next invocation
    continues the pass from the table's checkpoint (guardian.resume); without, the pass is whole."""
    report = SweepReport(at=now)
    pass_ = Pass.resume(guardian, now, budget) if budget is not None else Pass()
    kinds = [c.kind for c in COLLECTORS if not pass_.done(c.kind)]
    sweep = _Sweep(
        guardian,
        now,
        location,
        _bulk_tags(guardian, report, kinds, location),
        report,
        given_evidence=evidence,
        progress=progress,
    )
    with describing_configs_once():
        for collector in COLLECTORS:
            if pass_.done(collector.kind):
                _hold_swept(sweep, collector.kind)  # swept by an earlier invocation of this pass
            elif not pass_.stopped:
                _sweep_kind(sweep, collector, pass_)
            if collector.kind in (Kind.DOMAIN, Kind.USER_PROFILE, Kind.SPACE) and not pass_.stopped:
                # Owners of what follows are looked up in these: from what the sweep holds, not the table.
                guardian.forget_directory()
                _isolated(sweep, report.kinds[collector.kind.value], f"{collector.kind.value} directory", _know_spaces)
    if budget is not None:
        report.progress = pass_.save(now, timedelta(hours=guardian.settings.sweep_overdue_hours))
    if pass_.stopped:
        report.finished = False
        return report  # settled and judged once the pass is whole
    _measure_buckets(sweep)
    report.spaces_updated = _settle_space_activity(sweep)
    _ensure_orphan_checks(sweep)
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


def _isolated(sweep: _Sweep, report: KindReport, arn: str, step: Callable[..., Any], *args: Any) -> Any:
    """One resource's step of the sweep, whose failure is the resource's, not the sweep's: logged with the
    ARN and the reason, counted, and skipped (None). The next sweep starts over from the table."""
    try:
        return step(sweep, *args)
    except Exception as error:  # whatever it was, it concerns this resource alone
        reason = f"{type(error).__name__}: {error}"
        report.errors.append(f"{arn}: {reason}")
        logger.exception("sweep skipped a resource", extra={"arn": arn, "reason": reason, "step": step.__name__})
        metrics.add_metric(name="SweepRecordErrors", unit=MetricUnit.Count, value=1)
        return None


def _measure_buckets(sweep: _Sweep) -> None:
    """Each live bucket's size from its daily BucketSizeBytes datapoint, in GetMetricData's batches (one call
    per 500 buckets); written only where it changed. A bucket CloudWatch says nothing of keeps what it had."""
    report = sweep.report.kinds[Kind.S3_BUCKET.value]
    buckets = [r for r in sweep.held.values() if r.kind is Kind.S3_BUCKET and not is_gone(r.state)]
    measured = bucket_size.measure(sweep.guardian.clients, buckets, sweep.now, sweep.source_id)
    report.errors += measured.errors
    for observation in measured.observations:
        _isolated(sweep, report, observation.arn, _record, observation)


def _know_spaces(sweep: _Sweep) -> None:
    sweep.guardian.directory(sweep.now).know_spaces(r for r in sweep.held.values() if r.kind is Kind.SPACE)


def _hold_swept(sweep: _Sweep, kind: Kind) -> None:
    """The records of a kind an earlier invocation of this pass swept, held for what follows the pass."""
    try:
        sweep.held.update({r.arn: r for r in sweep.guardian.inventory.by_kind(kind, sweep.location)})
    except Exception as error:  # without its records, nothing of this kind is judged complete
        sweep.report.kinds[kind.value].errors.append(f"{kind.value} records unreadable: {error}")
        sweep.report.unknown_kinds.add(kind)


def _bulk_tags(
    guardian: Guardian, report: SweepReport, kinds: list[Kind], location: Location
) -> dict[str, Tags] | None:
    """Every tag of every resource of ``kinds`` (those still to sweep), a page of up to 100 resources per call.
    Keyed as the inventory keys them (a bucket's S3 ARN names no region or account: guardian.arns.bucket_key)."""
    if not kinds:
        return {}
    try:
        tagged = tagged_resources(guardian.clients, kinds)
        tags = {bucket_key(arn, location): resource_tags for arn, resource_tags in tagged}
    except (ClientError, BotoCoreError) as error:
        # Without bulk tags the sweep still records state; it just does not touch tags this time.
        report.kinds["tags"].errors.append(f"GetResources: {error}")
        return None
    return tags


def _sweep_kind(sweep: _Sweep, collector: Collector, pass_: Pass) -> None:
    """List ``collector``'s kind a page at a time from where the pass stands, recording each page, until
    the kind is done or the invocation's time is spent (then the pass stops before the next page)."""
    guardian, report = sweep.guardian, sweep.report.kinds[collector.kind.value]
    try:
        known = {r.arn: r for r in guardian.inventory.by_kind(collector.kind, sweep.location)}
    except Exception as error:  # without the records held, nothing of this kind can be judged gone
        report.errors.append(f"{collector.kind.value} records unreadable: {error}")
        sweep.report.unknown_kinds.add(collector.kind)
        pass_.kind_done(collector.kind)
        return
    sweep.held.update(known)
    seen: set[str] = set()
    due = due_again(collector, [arn for arn, r in known.items() if not is_final(r.state)], known)
    token = pass_.start_token(collector.kind)
    resumed = token is not None  # a stored token the service may no longer take (they expire)
    while True:
        if not pass_.may_list():
            pass_.stop(collector.kind, token)
            return
        try:
            summaries, next_token = collector.list_page(guardian.clients, token)
        except Exception as error:  # a kind that cannot be listed is skipped, and nothing of it marked gone
            if resumed:
                logger.warning(
                    "sweep resumed from a refused page: the kind from its start", extra={"error": str(error)}
                )
                resumed, token = False, None
                continue
            report.errors.append(f"{collector.operation}: {error}")
            sweep.unlisted.add(collector.kind)
            pass_.kind_done(collector.kind)
            return
        resumed = False
        pass_.listed_page()
        seen |= _sweep_page(sweep, collector, summaries, known, due, report)
        if not next_token:
            break
        token = next_token
    pass_.kind_done(collector.kind)
    if not pass_.whole(collector.kind):
        return  # listed over several invocations: what the earlier ones listed is not known here
    for arn, existing in known.items():
        if arn in seen or is_final(existing.state):
            continue
        born = existing.created_at or existing.first_seen_at
        if born and sweep.now - born < VANISH_GRACE:
            continue
        gone = gone_observation(existing, sweep.now, sweep.source_id, "sweep: no longer listed")
        if _isolated(sweep, report, arn, _record, gone) is not None:
            report.gone += 1


def _sweep_page(
    sweep: _Sweep,
    collector: Collector,
    summaries: list[Summary],
    known: dict[str, Resource],
    due: set[str],
    report: KindReport,
) -> set[str]:
    """Record what one page of a list call calls for (``due``: the kind's rolling re-describe); the ARNs it
    listed."""
    identified: list[tuple[Summary, Listed]] = []
    for summary in summaries:
        report.listed += 1
        try:
            identified.append((summary, collector.identify(summary, sweep.location)))
        except (KeyError, TypeError, ValueError) as error:
            report.errors.append(f"{collector.operation}: summary without {error}")
    # Kinds of which the guardian tracks only some (S3 buckets: those made from Studio, or tagged as its own).
    identified = [
        (summary, listed)
        for summary, listed in identified
        if collector.tracks(canonical(listed.arn), known, sweep.tags, sweep.guardian.ownership_tags)
    ]
    sweep.heard(collector.kind)
    seen: set[str] = set()
    for summary, listed in identified:
        arn = canonical(listed.arn)
        seen.add(arn)
        swept = _isolated(sweep, report, arn, _sweep_listed, collector, listed, known.get(arn), report, arn in due)
        if not swept and collector.kind is Kind.APP and summary.get("SpaceName"):
            sweep.unsettled.add(canonical(sweep.location.space(summary["DomainId"], summary["SpaceName"])))
        sweep.heard(collector.kind)
    return seen


def due_again(collector: Collector, listed: list[str], known: dict[str, Resource]) -> set[str]:
    """The rolling re-describe: of a kind whose list may not show a change of what it costs (Collector.
    list_shows_every_change), the oldest-described 1/REDESCRIBE_SWEEPS of those held (at least one),
    described again whatever their summary says. Each sweep takes the oldest; what it describes becomes the
    youngest, so a resource waits at most REDESCRIBE_SWEEPS sweeps while the kind does not shrink."""
    if collector.list_shows_every_change or not listed:
        return set()
    described = sorted(
        (known[arn].described_at, arn) for arn in listed if arn in known and known[arn].described_at is not None
    )
    share = ceil(len(listed) / REDESCRIBE_SWEEPS)
    return {arn for _, arn in described[:share]}


def _sweep_listed(
    sweep: _Sweep,
    collector: Collector,
    listed: Listed,
    existing: Resource | None,
    report: KindReport,
    due: bool = False,
) -> bool:
    """Record what a listed resource calls for; False if it could not be (and it was said why)."""
    arn = canonical(listed.arn)
    if sweep.tags is None and existing is None:
        # Its owner judged without its tags could be wrong (unattributed, say), and said so to someone:
        # a new resource waits for a sweep that has its tags.
        report.errors.append(f"{arn}: not recorded yet: no tags (GetResources failed)")
        return False
    resource_tags = sweep.tags.get(arn, {}) if sweep.tags is not None else None
    described_before = len(report.errors)
    observation = _observe(sweep, collector, listed, existing, resource_tags, report, due)
    if observation is not None:
        _record(sweep, observation)
        report.recorded += 1
    return len(report.errors) == described_before


def _record(sweep: _Sweep, observation: Observation) -> Resource:
    """Record an observation; the sweep holds the record as written (follow-ups come in one pass at the end)."""
    held = sweep.held.get(canonical(observation.arn))
    observation = sweep.evidence.dated(observation, held)
    # The sweep queried the record (or found none): written on its revision, not read again.
    after = record(sweep.guardian, observation, sweep.now, follow_up=False, held=held).resource
    sweep.held[canonical(observation.arn)] = after
    return after


def _observe(
    sweep: _Sweep,
    collector: Collector,
    listed: Listed,
    existing: Resource | None,
    tags: Tags | None,
    report: KindReport,
    due: bool = False,
) -> Observation | None:
    """The observation a listed resource calls for, or None when nothing changed since the last sweep
    (and it is not ``due`` again: the rolling re-describe)."""
    held_summary, _, held_tags = (existing.fingerprint or "").partition("|") if existing else ("", "", "")
    summary_print = digest(listed.fingerprint)
    tags_print = digest(tags) if tags is not None else held_tags  # no bulk tags: keep what was known
    fresh = (
        existing is not None
        and existing.described_at is not None
        and (collector.list_shows_every_change or sweep.now - existing.described_at < REFRESH_AFTER)
    )
    summary_changed = existing is None or not fresh or held_summary != summary_print
    if due and not summary_changed:
        report.redescribed += 1
        summary_changed = True
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
        fields |= said(collector, described) | {"described_at": sweep.now}
        report.described += 1
    return Observation(
        arn=listed.arn,
        kind=collector.kind,
        observed_at=sweep.now,
        source_id=sweep.source_id,
        origin="sweep",
        via=Via.DESCRIBE,
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
    if Kind.APP in sweep.report.unknown_kinds or Kind.APP in sweep.unlisted:
        # Without the apps as stored, or as listed now (ListApps failed: only the table's, maybe stale, are
        # held), a space whose apps the table lacks would look stopped: settled next time, never on a guess.
        return 0
    version = f"{sweep.now.strftime('%Y-%m-%dT%H:%M:%S.%f')}Z#00#{sweep.source_id}"
    report = sweep.report.kinds[Kind.SPACE.value]
    updated = 0
    for space in [r for r in sweep.held.values() if r.kind is Kind.SPACE and not is_gone(r.state)]:
        if space.arn in sweep.unsettled:
            continue
        # A space no app is held for is stopped. Since when, its record keeps (its apps' records expire):
        # a silence is not news.
        activity = space_activity(apps[space.arn]) or SpaceActivity(False, _stopped_at(space), version)
        activity = _isolated(sweep, report, space.arn, _date_unknown_stop, space, activity) or activity
        updated += bool(_isolated(sweep, report, space.arn, _settle_space, space, activity))
    return updated


def _stopped_at(space: Resource) -> datetime | None:
    return space.activity_at if space.running is False else None


def _date_unknown_stop(sweep: _Sweep, space: Resource, activity: SpaceActivity) -> SpaceActivity:
    """A space found stopped with no app saying when: dated by CloudTrail's newest DeleteApp of the space
    (guardian.evidence, within the sweep's budget), once, when it is first found so; else left unknown
    (the stale-space rule then counts from this sweep, never from the space's creation)."""
    if activity.running or activity.at is not None or (space.running is False and space.activity_at is None):
        return activity
    at = sweep.evidence.last_app_stop(space)
    # Not the stop of an earlier life than the run the guardian saw, nor the stop it already knew of.
    if space.running:
        alive = version_time(space.activity_version)
        earlier = at is not None and alive is not None and at < alive
    else:
        earlier = at is not None and space.activity_at is not None and at <= space.activity_at
    if at is None or earlier:
        return activity
    logger.info(
        "sweep dated a stopped space", extra={"arn": space.arn, "stopped_at": at.isoformat(), "evidence": "CloudTrail"}
    )
    return SpaceActivity(False, at, activity.version)


def _settle_space(sweep: _Sweep, space: Resource, activity: SpaceActivity) -> bool:
    settled = with_activity(space, activity)
    if (settled.running, settled.activity_at) == (space.running, space.activity_at):
        return False
    result = rewrite(sweep.guardian.inventory, space.arn, partial(with_activity, activity=activity), held=space)
    if result is None:
        return False
    sweep.held[space.arn] = result.after
    return result.changed


def _ensure_orphan_checks(sweep: _Sweep) -> None:
    """Each stopped space that had apps, and each space or profile gone, whose grace ends after now: its
    check recorded and scheduled unless it is already (one read each; a handful at any time)."""
    with_apps = {r.space_arn for r in sweep.held.values() if r.kind is Kind.APP and r.space_arn}
    for resource in list(sweep.held.values()):
        stopped = resource.kind is Kind.SPACE and resource.running is False and resource.arn in with_apps
        gone = resource.kind in (Kind.SPACE, Kind.USER_PROFILE) and is_gone(resource.state)
        if stopped or gone:
            report = sweep.report.kinds[resource.kind.value]
            _isolated(sweep, report, resource.arn, _ensure_orphan_check, resource)


def _ensure_orphan_check(sweep: _Sweep, resource: Resource) -> None:
    ensure_orphan_check(sweep.guardian, resource, sweep.now, upcoming_only=True)


def _reattribute(sweep: _Sweep) -> int:
    """Owners may be decidable now that were not when a record was written (a profile appeared)."""
    try:
        directory = sweep.guardian.directory(sweep.now)
    except Exception as error:  # profiles or domains unreadable: owners are decided again next time
        sweep.report.kinds["owners"].errors.append(f"directory unreadable: {error}")
        return 0
    changed = 0
    for resource in list(sweep.held.values()):
        if is_gone(resource.state):
            continue
        report = sweep.report.kinds[resource.kind.value]
        changed += bool(_isolated(sweep, report, resource.arn, _reattribute_one, resource, directory))
    return changed


def _reattribute_one(sweep: _Sweep, resource: Resource, directory: Directory) -> bool:
    guardian, tags = sweep.guardian, sweep.guardian.ownership_tags
    if derive(resource, directory, tags).attribution == resource.attribution:
        return False
    result = rewrite(guardian.inventory, resource.arn, lambda r: derive(r, directory, tags), held=resource)
    if not (result and result.changed):
        return False
    sweep.held[resource.arn] = tag_if_missing(guardian, result.after, sweep.now)[1]
    return True
