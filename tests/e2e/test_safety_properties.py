"""Safety as a property (issue 9, item 7): generated scenarios run through `guardian simulate`'s engine (the
whole stack as template.yaml deploys it, on the embedded sandbox over simulated time) with
RemediationMode=enforce and the shortest grace the template allows, then the output lines and the table
afterwards are held to what enforce must never do.

A scenario draws owners with and without channels (email confirmed, pending or none; a Slack channel or
not, the webhook answering 404 from some moment, or 200 again), private and shared spaces, endpoints deployed from
them (attributed by Studio's auto-tags or CloudTrail's source identity, or by nobody, or only by an
ownership tag anyone can write), exemption tags with and without a date (past, today, to come) added along
the way, snoozes (short ones run out), spaces stopped, restarted and stopped again, endpoints called again
or re-created under their name, CloudTrail events delivered again and late (a space's stop delivered after
its restart, its start after its stop), and, since idle-endpoint looks back one hour, an orphaned endpoint
that is idle as well: two rules on one resource.

Invariants, for every action enforce takes (an `action` line with outcome `done`) on endpoint E at T:
1. Never on anything protected at T: exempt (its tag is `true` or a date not past), snoozed, in a shared
   space, unattributed or owned only by a tag anyone can write, re-created under the old name since its
   reminder, its space restarted since its reminder (or running, when the orphaned-resource finding is
   the one acted on), called since its reminder; and never without a delivered notice to E's owner.
2. Never before the grace: T minus the first notice delivered to E's owner (about this E, not an earlier
   namesake) is at least RemediationGraceHours, and the finding's own record agrees (reached_at,
   delivery_state); and T comes at least the reminder's lead after the reminder that scheduled it.
3. One reminder per resource: each channel delivers at most one "Remediation soon" message about E per
   schedule (a second only after the first schedule was called off), none without a schedule, and no
   other alert about E follows its reminder on that channel while the schedule stands (a second rule
   joins silently).
4. A restorable description first: the acted finding's record holds a restore plan for E (its endpoint
   config), recorded no later than the action (its audit trail says so before "remediated"), and
   `guardian restore` brings E back from it.
And the stack runs every scenario without a function failing.

Each example is a few simulated hours of the whole stack (seconds of real time): the default profile runs
a few (SCENARIOS), HYPOTHESIS_PROFILE=thorough many more."""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, event, example, given, note, settings
from hypothesis import strategies as st

from guardian.arns import Location
from guardian.findings import AuditEntry, Finding, Status
from guardian.observability import logger
from guardian.remediation import restore
from guardian_sandbox import dynamodb_queries, embedded
from guardian_sandbox.eventfactory import Caller, EventFactory
from guardian_sandbox.simulation import ScenarioError
from guardian_sandbox.simulation.runner import Simulation
from guardian_sandbox.simulation.scenario import Scenario, parse
from guardian_sandbox.stack import SANDBOX_ACCOUNT

REGION = "us-east-1"
LOCATION = Location(region=REGION, account=SANDBOX_ACCOUNT)
START = datetime(2026, 11, 2, 8, tzinfo=UTC)
# RemediationGraceHours' MinValue in template.yaml; the reminder goes out min(REMINDER_HOURS=2 h, grace) before.
GRACE_HOURS = 1
GRACE = timedelta(hours=GRACE_HOURS)
LEAD_MINUTES = min(2 * 60, GRACE_HOURS * 60)  # the reminder's lead: REMINDER_HOURS (2, settings.py) or the grace
ORPHAN_GRACE = 15  # minutes a stopped space's endpoints wait before they are orphaned (a quick restart is no alarm)
THRESHOLDS = [f"orphaned_resource.grace_minutes={ORPHAN_GRACE}", "idle_endpoint.lookback_hours=1"]
HORIZON = 180  # minutes simulated
CREATED = 5  # when the endpoints are deployed (minutes)
APP_STARTED = 3  # when each space's first app starts
IDLE_REACH = 65  # the earliest an idle-endpoint finding can open: its lookback after CREATED
ROLE = "AmazonSageMaker-ExecutionRole-Default"
TAG_PREFIX = "studio-cost-guardian"
EXEMPT_TAG = f"{TAG_PREFIX}:exempt"
CONFIG = "c"
DOMAIN_ID = "${domains.Domains[0].DomainId}"
DELIVERY_FAILURES = ("DeliveryFailed", "SlackWebhookRejected")
REMINDER = "Remediation soon"  # how a reminder's subject begins (guardian.messages), one resource or a group
# The exemption tag's values: always, a date to come, today (held to the day's end), a date gone by.
EXEMPT_VALUES = ("true", "2026-12-31", "2026-11-02", "2026-01-01")
# Examples per run: a fifth of the profile's (default 25 -> 5, thorough 300 -> 60); each is seconds of the stack.
SCENARIOS = max(3, settings().max_examples // 5)

Minute = int
MadeBy = Literal["studio", "studio-untagged", "iam-user", "iam-user-owner-tag"]
Replayed = Literal["DeleteApp", "CreateApp", "CreateEndpoint"]


def moment(minute: Minute) -> datetime:
    return START + timedelta(minutes=minute)


def minutes(at: str) -> float:
    return (datetime.fromisoformat(at.replace("Z", "+00:00")) - START).total_seconds() / 60


# --- what a scenario is made of -------------------------------------------------------------------------


@dataclass(frozen=True)
class Owner:
    name: str
    email: Literal["none", "pending", "confirmed"]
    confirm_at: Minute  # when a "confirmed" owner follows SNS's link (before any mail: nothing to confirm)
    slack: bool

    @property
    def address(self) -> str:
        return f"{self.name}@example.com"


@dataclass(frozen=True)
class Space:
    name: str
    owner: str
    shared: bool
    stop: Minute
    restart: Minute | None = None
    stop_again: Minute | None = None

    @property
    def starts(self) -> list[Minute]:
        return [APP_STARTED] + ([self.restart] if self.restart is not None else [])

    def running_at(self, minute: float) -> bool:
        """At a moment the scenario's steps come before what the stack runs, so a step at T counts at T."""
        changes = [(APP_STARTED, True), (self.stop, False)]
        changes += [(self.restart, True)] if self.restart is not None else []
        changes += [(self.stop_again, False)] if self.stop_again is not None else []
        return [running for at, running in sorted(changes) if at <= minute][-1]


@dataclass(frozen=True)
class Endpoint:
    name: str
    creator: str
    made_by: MadeBy  # studio: auto-tags; studio-untagged: source identity only; iam-user: nobody's; or a tag
    space: Space | None  # the space it was deployed from, when its auto-tags say so
    exempt: tuple[Minute, str] | None = None  # (when the tag is added, its value)
    snooze: tuple[Minute, Minute] | None = None  # (when, until)
    calls: tuple[Minute, ...] = ()
    recreated: Minute | None = None  # deleted and created again under its name

    def born(self, minute: float) -> Minute:
        """When the endpoint that exists at ``minute`` was created (a namesake is another resource)."""
        return self.recreated if self.recreated is not None and self.recreated <= minute else CREATED

    @property
    def deadline(self) -> Minute:
        """The last minute a step may touch it: before the earliest moment enforce could rightly act (a
        notice at the earliest, when its orphaned-resource or idle-endpoint finding opens, plus the grace)."""
        earliest_notice = min(self.space.stop + ORPHAN_GRACE, IDLE_REACH) if self.space else IDLE_REACH
        return earliest_notice + GRACE_HOURS * 60 - 3


@dataclass(frozen=True)
class Replay:
    """A CloudTrail event delivered again, late: the call made at ``made`` arrives at ``at``."""

    at: Minute
    call: Replayed
    made: Minute
    target: str  # the space or endpoint
    twice: bool  # delivered twice more (EventBridge delivers at least once)


@dataclass(frozen=True)
class Plan:
    owners: tuple[Owner, ...]
    spaces: tuple[Space, ...]
    endpoints: tuple[Endpoint, ...]
    slack_statuses: tuple[tuple[Minute, int], ...] = ()
    replays: tuple[Replay, ...] = ()

    def owner(self, name: str) -> Owner:
        return next(o for o in self.owners if o.name == name)

    def scenario(self) -> Scenario:
        return parse(self.document())

    def document(self) -> dict[str, Any]:
        emails = {o.name: o.address for o in self.owners if o.email != "none"}
        return {
            "start": START.isoformat(),
            "until": f"+{HORIZON}m",
            "parameters": {
                "RemediationMode": "enforce",
                "RemediationGraceHours": GRACE_HOURS,
                "OwnerEmails": json.dumps(emails),
            },
            "slack": {"team": True, "owners": [o.name for o in self.owners if o.slack]},
            "steps": [{"at": f"+{at}m"} | step for at, _, step in sorted(self._steps(), key=lambda s: s[:2])],
        }

    def _steps(self) -> Iterator[tuple[Minute, int, dict[str, Any]]]:
        """(minute, order within the minute, step)."""
        yield from _setup(self)
        for space in self.spaces:
            app = {"DomainId": DOMAIN_ID, "SpaceName": space.name, "AppType": "JupyterLab", "AppName": "default"}
            by = {"identity": _studio(space.owner)}
            yield space.stop, 10, {"aws": "sagemaker.delete_app", "args": app} | by
            if space.restart is not None:
                yield space.restart, 11, {"aws": "sagemaker.create_app", "args": app} | by
            if space.stop_again is not None:
                yield space.stop_again, 12, {"aws": "sagemaker.delete_app", "args": app} | by
        for e in self.endpoints:
            if e.recreated is not None:
                yield e.recreated, 20, {"aws": "sagemaker.delete_endpoint", "args": {"EndpointName": e.name}}
                yield e.recreated, 21, _create_endpoint(e)
            if e.exempt is not None:
                at, value = e.exempt
                tags = {"ResourceArn": _endpoint_arn(e.name), "Tags": [{"Key": EXEMPT_TAG, "Value": value}]}
                yield at, 22, {"aws": "sagemaker.add_tags", "args": tags, "identity": _studio(e.creator)}
            if e.snooze is not None:
                at, until = e.snooze
                yield at, 23, {"snooze": {"resource": e.name, "until": f"+{until}m", "reason": "keep it a while"}}
            for at in e.calls:
                yield at, 24, {"metric": _invocations(e.name, 25)}
        for owner in self.owners:
            if owner.email == "confirmed":
                yield owner.confirm_at, 30, {"confirm_subscription": owner.address}
        for at, status in self.slack_statuses:
            yield at, 31, {"slack_status": status}
        for replay in self.replays:
            event = _replayed_event(self, replay)
            for n in range(2 if replay.twice else 1):
                yield replay.at, 40 + n, {"event": event}


def _studio(person: str) -> dict[str, str]:
    return {"role": ROLE, "source_identity": person}


def _endpoint_arn(name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{SANDBOX_ACCOUNT}:endpoint/{name}"


def _invocations(name: str, value: float) -> dict[str, Any]:
    dimensions = [{"Name": "EndpointName", "Value": name}, {"Name": "VariantName", "Value": "AllTraffic"}]
    return {"Namespace": "AWS/SageMaker", "MetricName": "Invocations", "Dimensions": dimensions, "Value": value}


def _setup(plan: Plan) -> Iterator[tuple[Minute, int, dict[str, Any]]]:
    domain = {
        "DomainName": "studio",
        "AuthMode": "IAM",
        "SubnetIds": ["subnet-0a1b2c3d"],
        "VpcId": "vpc-0a1b2c3d",
        "DefaultUserSettings": {"ExecutionRole": f"arn:aws:iam::{SANDBOX_ACCOUNT}:role/service-role/{ROLE}"},
        "DomainSettings": {"ExecutionRoleIdentityConfig": "USER_PROFILE_NAME"},
    }
    yield 0, 0, {"aws": "sagemaker.create_domain", "args": domain}
    yield 0, 1, {"aws": "sagemaker.list_domains", "as": "domains"}
    for owner in plan.owners:
        profile = {"DomainId": DOMAIN_ID, "UserProfileName": owner.name}
        yield 1, 0, {"aws": "sagemaker.create_user_profile", "as": f"profile_{owner.name}", "args": profile}
    for space in plan.spaces:
        args = {
            "DomainId": DOMAIN_ID,
            "SpaceName": space.name,
            "OwnershipSettings": {"OwnerUserProfileName": space.owner},
            "SpaceSharingSettings": {"SharingType": "Shared" if space.shared else "Private"},
            "SpaceSettings": {"AppType": "JupyterLab"},
        }
        by = {"identity": _studio(space.owner)}
        yield 2, 0, {"aws": "sagemaker.create_space", "as": _kept(space.name), "args": args} | by
        app = {"DomainId": DOMAIN_ID, "SpaceName": space.name, "AppType": "JupyterLab", "AppName": "default"}
        yield APP_STARTED, 0, {"aws": "sagemaker.create_app", "args": app} | by
    model = {
        "ModelName": "m",
        "ExecutionRoleArn": f"arn:aws:iam::{SANDBOX_ACCOUNT}:role/service-role/{ROLE}",
        "PrimaryContainer": {"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/xgboost:1.7-1"},
    }
    variant = {"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
    config = {"EndpointConfigName": CONFIG, "ProductionVariants": [variant]}
    yield 4, 0, {"aws": "sagemaker.create_model", "args": model}
    yield 4, 1, {"aws": "sagemaker.create_endpoint_config", "args": config}
    for e in plan.endpoints:
        yield CREATED, 0, _create_endpoint(e)


def _kept(space: str) -> str:
    return "space_" + space.replace("-", "_")


def _create_endpoint(e: Endpoint) -> dict[str, Any]:
    args: dict[str, Any] = {"EndpointName": e.name, "EndpointConfigName": CONFIG}
    step: dict[str, Any] = {"aws": "sagemaker.create_endpoint", "args": args}
    if e.made_by in ("studio", "studio-untagged"):
        step["identity"] = _studio(e.creator)
    if e.made_by == "studio" and e.space is not None:
        args["Tags"] = [
            {"Key": "sagemaker:user-profile-arn", "Value": f"${{profile_{e.creator}.UserProfileArn}}"},
            {"Key": "sagemaker:space-arn", "Value": f"${{{_kept(e.space.name)}.SpaceArn}}"},
        ]
    elif e.made_by == "iam-user-owner-tag":  # anyone may write the guardian's ownership tag
        args["Tags"] = [{"Key": f"{TAG_PREFIX}:owner", "Value": e.creator}]
    return step


def _replayed_event(plan: Plan, replay: Replay) -> dict[str, Any]:
    """The call's CloudTrail record as EventBridge delivered it when it was made (its id and time kept)."""
    factory = EventFactory(LOCATION)
    if replay.call == "CreateEndpoint":
        e = next(e for e in plan.endpoints if e.name == replay.target)
        request = {"endpointName": e.name, "endpointConfigName": CONFIG}
        caller = (
            Caller(role=ROLE, source_identity=e.creator) if e.made_by.startswith("studio") else Caller(iam_user="admin")
        )
        return factory.api_call(
            replay.call, moment(replay.made), caller, request, {"endpointArn": _endpoint_arn(e.name)}
        )
    space = next(s for s in plan.spaces if s.name == replay.target)
    request = {"domainId": DOMAIN_ID, "spaceName": space.name, "appType": "JupyterLab", "appName": "default"}
    response = None
    if replay.call == "CreateApp":
        arn = f"arn:aws:sagemaker:{REGION}:{SANDBOX_ACCOUNT}:app/{DOMAIN_ID}/{space.name}/jupyterlab/default"
        response = {"appArn": arn}
    return factory.api_call(
        replay.call, moment(replay.made), Caller(role=ROLE, source_identity=space.owner), request, response
    )


# --- the strategy ------------------------------------------------------------------------------------


def _sometimes(draw: st.DrawFn, percent: int, strategy: st.SearchStrategy[Any]) -> Any:
    """``strategy``'s value ``percent`` times in a hundred, else None (what shrinking goes to)."""
    return draw(strategy) if draw(st.integers(0, 99)) >= 100 - percent else None


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    """Weighted so that enforce often has someone to act on: most endpoints are Studio's, most owners can
    be reached, and each protection comes now and then."""
    names = draw(st.lists(st.sampled_from(["alice", "bob", "carol"]), min_size=1, max_size=3, unique=True))
    owners = tuple(
        Owner(
            name,
            draw(st.sampled_from(["confirmed", "confirmed", "pending", "none"])),
            draw(st.integers(25, 100)),  # SNS asks for a confirmation with the first alert (after a space stops)
            draw(st.sampled_from([True, True, True, False])),
        )
        for name in names
    )
    spaces = [Space(f"{name}-lab", name, False, stop=draw(st.integers(10, 30))) for name in names]
    if _sometimes(draw, 30, st.just(True)):
        spaces.append(Space("team-space", names[0], True, stop=draw(st.integers(10, 30))))
    endpoints: list[Endpoint] = []
    for n in range(draw(st.integers(1, 3))):
        made_by: MadeBy = draw(st.sampled_from(["studio"] * 4 + ["studio-untagged", "iam-user", "iam-user-owner-tag"]))
        creator = draw(st.sampled_from(names))
        space = None
        if made_by == "studio":
            space = draw(st.sampled_from([s for s in spaces if s.owner == creator or s.shared]))
        endpoints.append(_endpoint(draw, f"{creator}-ep{n + 1}", creator, made_by, space))
    spaces = [_disturbed(draw, s, [e for e in endpoints if e.space is s]) for s in spaces]
    by_name = {s.name: s for s in spaces}  # the endpoints name their space with its restart drawn
    endpoints = [replace(e, space=by_name[e.space.name] if e.space else None) for e in endpoints]
    # 200 or 404 (a 5xx is retried with real backoff sleeps: seconds of wall time for nothing new here).
    status_change = st.tuples(st.integers(0, HORIZON), st.sampled_from([404, 200]))
    statuses = _sometimes(draw, 30, st.lists(status_change, min_size=1, max_size=2)) or []
    replays = draw(st.lists(_replay(spaces, endpoints), max_size=3))
    return Plan(owners, tuple(spaces), tuple(endpoints), tuple(statuses), tuple(r for r in replays if r))


def _endpoint(draw: st.DrawFn, name: str, creator: str, made_by: MadeBy, space: Space | None) -> Endpoint:
    last = Endpoint(name, creator, made_by, space).deadline
    # Most protections come while a reminder stands (between a notice and the grace's end), where it counts.
    standing = st.integers(min(space.stop + ORPHAN_GRACE, last) if space else CREATED + 1, last)
    exempt = _sometimes(draw, 35, st.tuples(st.integers(CREATED + 1, last) | standing, st.sampled_from(EXEMPT_VALUES)))
    snooze = None
    first_notice = space.stop + ORPHAN_GRACE + 3 if space else last + 1
    if first_notice <= last and _sometimes(draw, 30, st.just(True)):
        at = draw(st.integers(first_notice, last))
        snooze = (at, at + draw(st.sampled_from([20, 45, 7 * 24 * 60])))
    # Re-created under its name, never before its snooze (a snooze needs the finding the deletion resolves).
    earliest = max(space.stop + 5 if space else CREATED + 5, snooze[0] + 1 if snooze else 0)
    recreated = _sometimes(draw, 20, st.integers(earliest, last)) if earliest <= last else None
    called = st.integers(CREATED + 1, HORIZON).filter(lambda m: m % 15)  # never as remediation runs (see _protected)
    calls = _sometimes(draw, 40, st.lists(called, min_size=1, max_size=2, unique=True)) or []
    return Endpoint(name, creator, made_by, space, exempt, snooze, tuple(sorted(calls)), recreated)


def _disturbed(draw: st.DrawFn, space: Space, endpoints: list[Endpoint]) -> Space:
    """A restart, and maybe a second stop; never before one of its endpoints is snoozed (a snooze needs
    the finding that the restart resolves)."""
    after = max([space.stop + 5, *(e.snooze[0] + 1 for e in endpoints if e.snooze)])
    if after >= HORIZON - 10 or not _sometimes(draw, 35, st.just(True)):
        return space
    restart = draw(st.integers(after, HORIZON - 10))
    return replace(space, restart=restart, stop_again=_sometimes(draw, 50, st.integers(restart + 5, HORIZON)))


@st.composite
def _replay(draw: st.DrawFn, spaces: list[Space], endpoints: list[Endpoint]) -> Replay | None:
    call: Replayed = draw(st.sampled_from(["DeleteApp", "CreateApp", "CreateEndpoint"]))
    twice = draw(st.booleans())
    if call == "CreateEndpoint":
        e = draw(st.sampled_from(endpoints))
        return Replay(draw(st.integers(CREATED, HORIZON)), call, CREATED, e.name, twice)
    space = draw(st.sampled_from(spaces))
    if call == "DeleteApp":  # its stop again, maybe after a restart: a stale stop
        return Replay(draw(st.integers(space.stop, HORIZON)), call, space.stop, space.name, twice)
    # Its first start, after its stop: never before one of its endpoints is snoozed (as for a restart).
    snoozes = [e.snooze[0] + 1 for e in endpoints if e.space is space and e.snooze]
    after = max([space.stop + 1, *snoozes])
    if after > HORIZON:
        return None
    return Replay(draw(st.integers(after, HORIZON)), call, APP_STARTED, space.name, twice)


# --- running one -------------------------------------------------------------------------------------


@dataclass
class Outcome:
    lines: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    audits: dict[str, list[AuditEntry]] = field(default_factory=dict)
    restored: dict[str, str] = field(default_factory=dict)  # finding id -> what restore did, or why it could not
    error: str | None = None
    failed_runs: int = 0


def run(plan: Plan) -> Outcome:
    """The scenario through the simulation's engine; then, from the table, every finding and its audit
    trail, and each acted-on endpoint restored from its recorded plan (when it is still gone)."""
    outcome = Outcome()
    with embedded(REGION) as clients, dynamodb_queries.installed():
        simulation = Simulation(
            plan.scenario(),
            clients,
            lambda line: outcome.lines.append(line.model_dump()),
            outcome.warnings.append,
            THRESHOLDS,
        )
        try:
            outcome.failed_runs = simulation.run().failed_runs
        except ScenarioError as error:
            outcome.error = str(error)
        store = simulation.findings
        outcome.findings = [f for status in Status for f in store.with_status(status)]
        outcome.audits = {f.id: store.audit(f.id) for f in outcome.findings}
        for finding in outcome.findings:
            remediation = finding.remediation or {}
            if "done_at" not in remediation or "joined_to" in remediation:
                continue
            sagemaker = clients("sagemaker")
            if any(e["EndpointName"] == finding.resource_name for e in sagemaker.list_endpoints()["Endpoints"]):
                continue  # created again in the scenario: nothing to bring back
            try:
                outcome.restored[finding.id] = restore(clients, store, finding.id, "property test", moment(HORIZON)).did
                config = sagemaker.describe_endpoint(EndpointName=finding.resource_name)["EndpointConfigName"]
                outcome.restored[finding.id] += f" (config {config})"
            except Exception as error:  # any failure is what the test reports
                outcome.restored[finding.id] = f"not restored: {type(error).__name__}: {error}"
    return outcome


# --- the invariants ----------------------------------------------------------------------------------


def violations(plan: Plan, outcome: Outcome) -> list[str]:
    found: list[str] = []
    lines = outcome.lines
    endpoints = {e.name: e for e in plan.endpoints}
    acted: dict[tuple[str, str], int] = {}
    for index, line in enumerate(lines):
        if line["kind"] == "action" and line["outcome"] == "done":
            acted.setdefault((line["at"], line["resource_name"]), index)  # one per resource and moment
    for (at, name), index in acted.items():
        e = endpoints.get(name)
        if e is None:
            found.append(f"acted on {name}, which the scenario never made, at {at}")
            continue
        found += [f"{name} at {at}: {v}" for v in _protected(plan, e, at, lines[:index], outcome)]
    for e in plan.endpoints:
        found += [f"{e.name}: {v}" for v in _reminders(e, lines)]
    # A delivery that failed fails its run on purpose (retried, then alarmed); anything else is a crash.
    crashed = [w for w in outcome.warnings if " failed: " in w and not any(d in w for d in DELIVERY_FAILURES)]
    if crashed:
        found.append(f"function runs failed: {crashed}")
    return found


def _protected(plan: Plan, e: Endpoint, at: str, before: list[dict[str, Any]], outcome: Outcome) -> Iterator[str]:
    """Why enforce must not have acted on ``e`` at ``at`` (invariants 1, 2 and 4), given the lines before."""
    now = minutes(at)
    born = e.born(now)
    if e.space is not None and e.space.shared:
        yield f"it belongs to shared space {e.space.name}"
    if e.made_by == "iam-user":
        yield "nobody can be shown to own it (unattributed)"
    if e.made_by == "iam-user-owner-tag":
        yield "its only owner is an ownership tag anyone can write"
    if e.exempt is not None:
        tagged, value = e.exempt
        if born <= tagged <= now and _exempt_value_holds(value, moment(int(now))):
            yield f"tagged {EXEMPT_TAG}={value} at +{tagged}m"
    if e.snooze is not None:
        snoozed, until = e.snooze
        if snoozed <= now < until and e.born(snoozed) == born:
            yield f"snoozed at +{snoozed}m until +{until}m"
    schedules = [
        minutes(x["at"])
        for x in before
        if x["kind"] == "action" and x["resource_name"] == e.name and x["outcome"].startswith("scheduled")
    ]
    reminded = schedules[-1] if schedules else None
    if reminded is None:
        yield "no reminder scheduled it"
    else:
        if now - reminded < LEAD_MINUTES:
            yield f"only {now - reminded:g} min after its reminder at +{reminded:g}m (lead {LEAD_MINUTES} min)"
        if e.recreated is not None and reminded < e.recreated <= now:
            yield f"re-created at +{e.recreated}m, after its reminder at +{reminded:g}m"
        if e.space is not None and any(reminded < start <= now for start in e.space.starts):
            yield f"space {e.space.name} restarted after its reminder at +{reminded:g}m"
        called = [c for c in e.calls if reminded < c < now]
        if called:
            yield f"called at +{called[0]}m, after its reminder at +{reminded:g}m"
    reached = [
        minutes(x["at"])
        for x in before
        if x["kind"] == "message"
        and x["audience"] == "owner"
        and x["delivered"]
        and e.name in x["resources"]
        and x["to"] in ([e.creator], [plan.owner(e.creator).address])
        and minutes(x["at"]) >= born
    ]
    if not reached:
        yield f"no notice about it ever reached {e.creator}"
    elif now - reached[0] < GRACE.total_seconds() / 60:
        yield f"only {now - reached[0]:g} min after the first notice reached {e.creator} (grace {GRACE_HOURS} h)"
    yield from _record(e, at, outcome)


def _exempt_value_holds(value: str, at: datetime) -> bool:
    if value == "true":
        return True
    return datetime.combine(date.fromisoformat(value), time.max, tzinfo=UTC) >= at


def _record(e: Endpoint, at: str, outcome: Outcome) -> Iterator[str]:
    """The acted finding's own record: reached before the grace, the restore plan first, restorable."""
    now = datetime.fromisoformat(at.replace("Z", "+00:00"))
    acted = [
        f
        for f in outcome.findings
        if f.resource_name == e.name
        and "joined_to" not in (f.remediation or {})
        and (f.remediation or {}).get("done_at") == at
    ]
    if not acted:
        if not any(f.resource_name == e.name and (f.remediation or {}).get("done_at") for f in outcome.findings):
            yield "no finding records the action"
        return
    finding = acted[0]
    plan = finding.remediation or {}
    if finding.reached_at is None or now - finding.reached_at < GRACE or finding.delivery_state != "delivered":
        yield f"its finding says reached_at={finding.reached_at}, delivery_state={finding.delivery_state}"
    if finding.rule == "orphaned-resource" and e.space is not None and e.space.running_at(minutes(at)):
        yield f"acted as orphaned-resource while space {e.space.name} runs"
    restore_plan = plan.get("restore")
    if not isinstance(restore_plan, dict) or restore_plan.get("endpoint_config_name") != CONFIG:
        yield f"no restore plan naming its endpoint config: {restore_plan}"
    recorded = plan.get("restore_recorded_at")
    if recorded is None or datetime.fromisoformat(str(recorded).replace("Z", "+00:00")) > now:
        yield f"restore plan recorded at {recorded}, not before the action"
    trail = [entry.action for entry in outcome.audits.get(finding.id, [])]
    if "restore plan recorded" not in trail or trail.index("restore plan recorded") > _last(trail, "remediated"):
        yield f"the audit trail does not record the restore plan before the action: {trail}"
    did = outcome.restored.get(finding.id)
    if did is not None and did.startswith("not restored"):
        yield did


def _last(items: list[str], value: str) -> int:
    return max((n for n, item in enumerate(items) if item == value), default=len(items))


def _reminders(e: Endpoint, lines: list[dict[str, Any]]) -> Iterator[str]:
    """Invariant 3, in line order: a schedule opens when a finding of ``e`` becomes remediation-scheduled
    and closes when that finding leaves it (acted on, called off, snoozed)."""
    scheduled: str | None = None  # the finding whose schedule stands
    reminded: set[str] = set()  # channels its reminder was delivered on
    for line in lines:
        if line["kind"] == "finding" and line["resource_name"] == e.name:
            if line["status"] == "remediation-scheduled":
                if scheduled is not None and scheduled != line["id"]:
                    yield f"two schedules at once at {line['at']} ({scheduled}, {line['id']})"
                elif scheduled is None:
                    scheduled, reminded = line["id"], set()
            elif line["id"] == scheduled:
                scheduled = None
        elif (
            line["kind"] == "message"
            and line["audience"] == "owner"
            and line["delivered"]
            and e.name in line["resources"]
        ):
            channel = line["channel"]
            if line["subject"].startswith(REMINDER):
                if scheduled is None:
                    yield f"a reminder at {line['at']} with no schedule standing: {line['subject']}"
                elif channel in reminded:
                    yield f"a second reminder on {channel} at {line['at']}: {line['subject']}"
                reminded.add(channel)
            elif scheduled is not None and channel in reminded and not line["subject"].startswith("Resolved"):
                yield f"another alert on {channel} at {line['at']} after its reminder: {line['subject']}"


def _reminder_to_owner(line: dict[str, Any], name: str) -> bool:
    return (
        line["kind"] == "message"
        and line["audience"] == "owner"
        and line["delivered"]
        and name in line["resources"]
        and line["subject"].startswith(REMINDER)
    )


# --- the property ------------------------------------------------------------------------------------


# Found by this property. alice snoozes her orphaned endpoint for a week; then her space restarts, so the
# snoozed orphaned-resource finding resolves (its condition ended) and takes the snooze with it:
# - the idle-endpoint finding that opens next was acted on an hour later (safety.py: a snooze outlives its
#   finding while the resource lasts);
# - when the space stopped again, the orphaned-resource finding reopened as open, and the endpoint was
#   deleted an hour after a new reminder (findings.refreshed: it reopens snoozed).
_WEEK = 7 * 24 * 60
_RESTARTED = Space("alice-lab", "alice", shared=False, stop=16, restart=109)
_RESTARTED_AND_STOPPED = Space("alice-lab", "alice", shared=False, stop=16, restart=60, stop_again=70)
SNOOZED_THEN_RESTARTED = Plan(
    (Owner("alice", "none", 0, slack=True),),
    (_RESTARTED,),
    (Endpoint("alice-ep1", "alice", "studio", _RESTARTED, snooze=(66, 66 + _WEEK)),),
)
SNOOZED_THEN_RESTARTED_AND_STOPPED = Plan(
    (Owner("alice", "none", 0, slack=True),),
    (_RESTARTED_AND_STOPPED,),
    (Endpoint("alice-ep1", "alice", "studio", _RESTARTED_AND_STOPPED, snooze=(40, 40 + _WEEK)),),
)

# Found by this property. alice confirms her email subscription late; her held messages (the "opened"
# notice of an endpoint in the shared space, nothing scheduled for it, and the reminder of her orphan) went
# out as one message of the first one's kind: "Remediation soon for 2 resources", naming the shared one
# (or the reminder told as "opened"). held.py now sends one message per kind.
_LAB = Space("alice-lab", "alice", shared=False, stop=22)
_TEAM = Space("team-space", "alice", shared=True, stop=15)
HELD_OPENED_AND_REMINDER = Plan(
    (Owner("alice", "confirmed", confirm_at=93, slack=True),),
    (_LAB, _TEAM),
    (Endpoint("alice-ep1", "alice", "studio", _LAB), Endpoint("alice-ep2", "alice", "studio", _TEAM)),
)


@pytest.fixture
def quiet() -> None:
    """The functions' INFO lines cost time and say nothing here (conftest restores the level)."""
    logger.setLevel("WARNING")


@pytest.mark.slow
@settings(
    max_examples=SCENARIOS,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
@given(plan=plans())
@example(plan=SNOOZED_THEN_RESTARTED)
@example(plan=SNOOZED_THEN_RESTARTED_AND_STOPPED)
@example(plan=HELD_OPENED_AND_REMINDER)
def test_enforce_acts_only_when_safe_after_one_reminder_and_its_grace_with_a_restore_plan(quiet, plan):
    note(json.dumps(plan.document(), indent=1, default=str))
    outcome = run(plan)
    note("\n".join(json.dumps(line) for line in outcome.lines))
    found = violations(plan, outcome)
    for n, line in enumerate(outcome.lines):  # what the examples exercised (--hypothesis-show-statistics)
        if line["kind"] == "action" and line["outcome"] == "done":
            event("acted on an endpoint")
            if not any(_reminder_to_owner(x, line["resource_name"]) for x in outcome.lines[:n]):
                event("acted with no reminder delivered (the first notice was)")
        elif line["kind"] == "skipped":
            event(f"skipped: {line['reason'].split(':', 1)[0]}")
    assert outcome.error is None and not found, "\n".join([outcome.error or "", *found])


# --- the checks bite: each one on lines as the engine writes them (no simulation, milliseconds) -------------

LAB = Space("alice-lab", "alice", shared=False, stop=20)
TEAM = Space("team-space", "alice", shared=True, stop=20)
FINDING_ID = "f-0000000000000001"


def _at(minute: float) -> str:
    return (START + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _story(
    endpoint: Endpoint, acted: Minute = 100, reached: Minute = 35, reminders: int = 1, restore_plan: bool = True
) -> Outcome:
    """alice hears about the orphan at ``reached``, is reminded at 40, and it is deleted at ``acted``."""
    name = endpoint.name

    def finding_line(minute: Minute, status: str) -> dict[str, Any]:
        return {"at": _at(minute), "kind": "finding", "id": FINDING_ID, "resource_name": name, "status": status}

    def message(minute: Minute, subject: str) -> dict[str, Any]:
        head = {"at": _at(minute), "kind": "message", "channel": "slack", "audience": "owner", "to": ["alice"]}
        return head | {"subject": subject, "resources": [name], "delivered": True}

    lines = [
        finding_line(35, "open"),
        message(reached, f"Orphaned endpoint {name} (alice) ~ $2.76/day"),
        finding_line(40, "remediation-scheduled"),
        {"at": _at(40), "kind": "action", "resource_name": name, "outcome": f"scheduled for {_at(acted)}"},
        *[message(40, f"Remediation soon: Orphaned endpoint {name} (alice)") for _ in range(reminders)],
        finding_line(acted, "remediated"),
        {"at": _at(acted), "kind": "action", "resource_name": name, "outcome": "done"},
    ]
    remediation: dict[str, Any] = {"done_at": _at(acted), "restore_recorded_at": _at(acted)}
    if restore_plan:
        remediation["restore"] = {"kind": "endpoint", "endpoint_name": name, "endpoint_config_name": CONFIG}
    finding = Finding(
        id=FINDING_ID,
        rule="orphaned-resource",
        resource_arn=_endpoint_arn(name),
        resource_kind="endpoint",
        resource_name=name,
        owner="alice",
        region=REGION,
        account=SANDBOX_ACCOUNT,
        status=Status.RESOLVED,
        detected_at=moment(35),
        condition_since=moment(35),
        summary="orphaned",
        severity="high",
        remediation=remediation,
        reached_at=moment(reached),
        delivery_state="delivered",
    )
    trail = [AuditEntry(at=moment(acted), action=a) for a in ("restore plan recorded", "remediated")]
    return Outcome(lines=lines, findings=[finding], audits={FINDING_ID: trail})


def _plan(endpoint: Endpoint) -> Plan:
    return Plan((Owner("alice", "none", 0, slack=True),), (LAB, TEAM), (endpoint,))


PLAIN = Endpoint("alice-ep1", "alice", "studio", LAB)


def test_the_checks_pass_an_action_after_one_reminder_and_the_grace_with_a_restore_plan():
    assert violations(_plan(PLAIN), _story(PLAIN)) == []


@pytest.mark.parametrize(
    ("endpoint", "story", "says"),
    [
        (replace(PLAIN, exempt=(50, "true")), {}, "tagged studio-cost-guardian:exempt=true"),
        (replace(PLAIN, exempt=(50, "2026-11-02")), {}, "tagged studio-cost-guardian:exempt=2026-11-02"),
        (replace(PLAIN, snooze=(50, 500)), {}, "snoozed"),
        (replace(PLAIN, space=TEAM), {}, "shared space"),
        (replace(PLAIN, made_by="iam-user", space=None), {}, "unattributed"),
        (replace(PLAIN, made_by="iam-user-owner-tag", space=None), {}, "anyone can write"),
        (replace(PLAIN, calls=(52,)), {}, "called at +52m"),
        (replace(PLAIN, recreated=50), {}, "re-created at +50m"),
        (replace(PLAIN, space=replace(LAB, restart=50, stop_again=60)), {}, "restarted after its reminder"),
        (replace(PLAIN, space=replace(LAB, restart=50)), {}, "while space alice-lab runs"),
        (PLAIN, {"acted": 90}, "only 55 min after the first notice"),
        (PLAIN, {"acted": 96}, "only 56 min after its reminder"),
        (PLAIN, {"reminders": 2}, "a second reminder"),
        (PLAIN, {"restore_plan": False}, "no restore plan"),
    ],
)
def test_each_check_catches_enforce_acting_when_it_must_not(endpoint, story, says):
    found = violations(_plan(endpoint), _story(endpoint, **story))
    assert any(says in v for v in found), found


def test_an_exemption_gone_by_or_on_an_earlier_namesake_protects_nothing():
    gone_by = replace(PLAIN, exempt=(50, "2026-01-01"))
    earlier_namesake = replace(PLAIN, exempt=(10, "true"), recreated=30)
    for endpoint in (gone_by, earlier_namesake):
        assert violations(_plan(endpoint), _story(endpoint)) == []
