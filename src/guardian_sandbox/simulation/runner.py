"""The simulation's clock and what it sets off: template.yaml deployed on the embedded sandbox with the
scenario's parameters, then each moment in order (a step, a schedule firing), with the sandbox's clock
and the guardian's showing it. At each moment: the scenario's steps first, in the order written; then
the one-time checks that came due (EventBridge Scheduler); then the template's recurring schedules (the
sweep on SweepSchedule, remediation, the digest, the weekly report), each at its own rate.

After anything runs, what it sets off follows as on AWS, until nothing more does: the calls it made reach
the ingest function through CloudTrail and the template's rules, and the table's stream reaches the
notify function. Then the event log reads what changed (log.py).
"""

import contextlib
import heapq
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guardian import findings as lifecycle
from guardian.aws import AwsClients
from guardian.findings_store import DynamoFindings, active
from guardian.rules import RulesConfig
from guardian_sandbox import cloudtrail, sns_email
from guardian_sandbox.eventfactory import Caller, sample
from guardian_sandbox.simulation.bus import CloudTrailBus
from guardian_sandbox.simulation.deployment import Deployment, RecurringSchedule
from guardian_sandbox.simulation.log import EventLog, Line, SummaryLine, iso
from guardian_sandbox.simulation.scenario import Scenario, ScenarioError, Step, moment, offset, substitute
from guardian_sandbox.simulation.stopped_clock import stopped_at
from guardian_sandbox.simulation.stream import TableStream
from guardian_sandbox.slack_receiver import SlackReceiver
from guardian_sandbox.stack import SANDBOX_ACCOUNT, SCHEDULE_GROUP, SandboxStack
from guardian_sandbox.template import template

MAX_ROUNDS = 20  # what one thing sets off settles in a few rounds; more is a loop, not a story
SNOOZE_ACTOR = "scenario"


def rule_environment(assignments: list[str]) -> dict[str, str]:
    """`--set orphaned_resource.grace_minutes=0`, checked as `guardian scan --set` checks it, as the
    environment variable every function reads it from (ORPHANED_RESOURCE_GRACE_MINUTES)."""
    RulesConfig().with_overrides(assignments)  # raises ValueError naming the threshold
    environment = {}
    for assignment in assignments:
        key, _, value = assignment.partition("=")
        rule, _, name = key.strip().partition(".")
        environment[f"{rule}_{name}".upper()] = value.strip()
    return environment


@dataclass(order=True)
class _Due:
    """A step occurrence: when, then the order written (a repeated metric step comes back at each period)."""

    at: datetime
    index: int
    step: Step = field(compare=False)


@dataclass
class _Firing:
    schedule: RecurringSchedule
    next_at: datetime | None  # None: it never fires again


class Simulation:
    def __init__(
        self,
        scenario: Scenario,
        clients: AwsClients,
        emit: Callable[[Line], None],
        warn: Callable[[str], None],
        rule_overrides: list[str] | None = None,
    ) -> None:
        self.scenario = scenario
        self.clients = clients
        self.warn = warn
        try:
            self.deployment = Deployment(template().document, scenario.parameters)
            self.recurring = self.deployment.schedules()
            environment = rule_environment(rule_overrides or [])
        except ValueError as error:
            raise ScenarioError(f"parameters: {error}") from None
        self.stack = SandboxStack(
            clients,
            self.deployment,
            parameters=environment,
            confirm_subscriptions_automatically=scenario.confirm_subscriptions == "auto",
        )
        self.log = EventLog(emit)
        self.kept: dict[str, Any] = {}
        self.failed_runs = 0
        self.slack: SlackReceiver | None = None

    def run(self) -> SummaryLine:
        scenario = self.scenario
        with stopped_at(self.clients, scenario.start):
            self._deploy()
        try:
            self._play()
        finally:
            if self.slack:
                self.slack.close()
        summary = self.log.summary(scenario.start, scenario.until, self.failed_runs)
        return summary

    def _deploy(self) -> None:
        stack = self.stack.deploy()
        self.findings = DynamoFindings(stack.clients("dynamodb"), stack.table_name)
        self.stream = TableStream(SANDBOX_ACCOUNT, self.clients.region, stack.table_name)
        self.stream.skip_to_end()
        self.bus = CloudTrailBus(SANDBOX_ACCOUNT, self.clients.region)
        team_email = self.deployment.parameter_default("TeamEmail")
        if team_email:
            stack.subscribe_team(team_email)
        setup = self.scenario.slack
        if setup is not None and (setup.team or setup.owners):
            self.slack = SlackReceiver()
            owners = {owner: self.slack.owner_url(owner) for owner in setup.owners}
            stack.use_slack(json.dumps({"team": self.slack.team_url() if setup.team else None, "owners": owners}))

    # --- time ------------------------------------------------------------------------------------

    def _play(self) -> None:
        scenario = self.scenario
        due = [_Due(at, index, step) for index, (at, step) in enumerate(scenario.steps)]
        heapq.heapify(due)
        fires = [_Firing(s, s.schedule.next_after(scenario.start, scenario.start)) for s in self.recurring]
        while True:
            check = self._next_check()
            candidates = [d for d in (due[0].at if due else None, check, *(f.next_at for f in fires)) if d is not None]
            if not candidates:
                return
            at = min(candidates)
            if at > scenario.until:
                return
            with stopped_at(self.clients, at):
                while due and due[0].at == at:
                    occurrence = heapq.heappop(due)
                    self._step(at, occurrence.index, occurrence.step)
                    if occurrence.step.every:
                        again = at + offset(occurrence.step.every)
                        if again <= scenario.until:
                            heapq.heappush(due, _Due(again, occurrence.index, occurrence.step))
                if check is not None and check <= at:
                    self._fire_checks(at)
                for firing in fires:
                    if firing.next_at is not None and firing.next_at <= at:
                        self._fire(at, firing.schedule)
                        firing.next_at = firing.schedule.schedule.next_after(at, scenario.start)

    def _next_check(self) -> datetime | None:
        """When the earliest one-time check (an EventBridge Scheduler at() schedule) is due."""
        scheduler = self.clients("scheduler")
        earliest = None
        for page in scheduler.get_paginator("list_schedules").paginate(GroupName=SCHEDULE_GROUP):
            for summary in page["Schedules"]:
                expression = scheduler.get_schedule(Name=summary["Name"], GroupName=SCHEDULE_GROUP)[
                    "ScheduleExpression"
                ]
                at = datetime.fromisoformat(expression[3:-1]).replace(tzinfo=UTC)
                earliest = at if earliest is None or at < earliest else earliest
        return earliest

    def _fire_checks(self, at: datetime) -> None:
        try:
            self.stack.fire_due_schedules(at)
        except Exception as error:  # a failed check is the sweep's to repair; the story goes on
            self._failed(at, "SweepFunction (one-time check)", error)
        self._settle(at)

    def _fire(self, at: datetime, schedule: RecurringSchedule) -> None:
        payload = schedule.payload if schedule.payload is not None else self._scheduled_event(schedule.function, at)
        try:
            self.stack.invoke(schedule.function, payload)
        except Exception as error:  # Lambda keeps the failed run; the next one starts over
            self._failed(at, f"{schedule.function} ({schedule.name})", error)
        self._settle(at, mail=self._publishes(schedule.function))

    def _publishes(self, function: str) -> bool:
        """Whether the function publishes to the topic itself (the digest, the report), not only through
        the stream's notify."""
        return bool(self.stack.environment(function).get("TOPIC_ARN"))

    def _scheduled_event(self, function: str, at: datetime) -> dict[str, Any]:
        """What Scheduler hands a function whose schedule has no Input: its sample in events/, at this moment."""
        try:
            event = sample("scheduled.json", self.deployment.function_dir(function).name)
        except FileNotFoundError:
            return {}
        return event | {"time": iso(at), "account": SANDBOX_ACCOUNT, "region": self.clients.region}

    def _failed(self, at: datetime, what: str, error: Exception) -> None:
        self.failed_runs += 1
        self.warn(f"{iso(at)} {what} failed: {type(error).__name__}: {error}")

    # --- what follows from anything that ran -----------------------------------------------------

    def _settle(self, at: datetime, mail: bool = False) -> None:
        """Until nothing more happens: the calls made reach the rules (through CloudTrail), the table's
        changes reach the notify function (through its stream), and the log reads what changed."""
        for _ in range(MAX_ROUNDS):
            events = self.bus.new_events()  # each recorded with its caller: a step's, or a function's role
            for event in events:
                self._deliver(at, event)
            images = self.stream.new_images()
            self.log.stream_records(at, images, self.findings.get)
            # Only finding changes pass the notify function's filter: without one, its batch would be empty.
            changed = any(image.get("type", {}).get("S") == "finding" for image in images)
            notified = changed and self._pump(at)
            if mail or notified:
                self._read_mail(at)
            if self.slack:
                self.log.slack(at, self.slack.posts())
            mail = False
            if not events and not changed:
                return
        self.warn(f"{iso(at)} still settling after {MAX_ROUNDS} rounds: stopped")

    def _deliver(self, at: datetime, event: dict[str, Any]) -> int:
        deliveries = self.stack.deliver(event)
        for delivery in deliveries:
            if delivery.error is not None:
                self._failed(at, f"{delivery.rule.function} ({delivery.rule.name})", delivery.error)
        return len(deliveries)

    def _pump(self, at: datetime) -> bool:
        try:
            return bool(self.stack.pump_streams())
        except Exception as error:
            self._failed(at, "NotifyFunction (stream)", error)
            return True

    def _read_mail(self, at: datetime) -> None:
        waiting = self.clients("sqs").get_queue_attributes(
            QueueUrl=self.stack.mailbox_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        if waiting == "0":
            return
        mail = self.stack.mailbox()
        if mail:
            self.log.email(at, mail)

    # --- the steps ---------------------------------------------------------------------------------

    def _step(self, at: datetime, index: int, step: Step) -> None:
        label = self.scenario.labels[index]
        try:
            getattr(self, f"_{step.action}")(at, step)
        except ScenarioError as error:
            raise ScenarioError(f"{label}: {error}") from None

    def _aws(self, at: datetime, step: Step) -> None:
        assert step.aws is not None  # an aws step (Step.action)
        service, _, method = step.aws.partition(".")
        args = substitute(step.args, self.kept)
        caller = (
            Caller(role=step.identity.role, source_identity=step.identity.source_identity).user_identity(
                SANDBOX_ACCOUNT
            )
            if step.identity
            else None
        )
        try:
            with cloudtrail.calls_by(caller) if caller else contextlib.nullcontext():
                response = getattr(self.clients(service), method)(**args)
        except (ClientError, BotoCoreError) as error:
            raise ScenarioError(f"{step.aws}: {error}") from None
        if step.as_:
            self.kept[step.as_] = {k: v for k, v in response.items() if k != "ResponseMetadata"}
        self._settle(at)

    def _event(self, at: datetime, step: Step) -> None:
        given = substitute(step.event, self.kept)
        envelope: dict[str, Any] = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "time": iso(at),
            "account": SANDBOX_ACCOUNT,
            "region": self.clients.region,
            "resources": [],
        }
        event = envelope | given
        if not self._deliver(at, event):
            self.warn(f"{iso(at)} the event ({event.get('detail-type')}) matched no rule of template.yaml")
        self._settle(at)

    def _metric(self, at: datetime, step: Step) -> None:
        datum = dict(substitute(step.metric, self.kept) or {})
        namespace = datum.pop("Namespace", None)
        if not namespace:
            raise ScenarioError("metric: Namespace is missing")
        datum.setdefault("Timestamp", at)
        try:
            self.clients("cloudwatch").put_metric_data(Namespace=namespace, MetricData=[datum])
        except (ClientError, BotoCoreError) as error:
            raise ScenarioError(f"metric: {error}") from None

    def _confirm_subscription(self, at: datetime, step: Step) -> None:
        """The person follows the link in SNS's confirmation email (every one they were sent)."""
        address = str(substitute(step.confirm_subscription, self.kept))
        if not sns_email.pending_tokens(self.clients, address):
            self.warn(f"{iso(at)} confirm_subscription: no subscription of {address} is waiting for confirmation")
            return
        try:
            self.stack.confirm_subscription(address)
        except (ClientError, BotoCoreError) as error:
            raise ScenarioError(f"confirm_subscription: {error}") from None
        self._settle(at)

    def _slack_status(self, at: datetime, step: Step) -> None:
        if self.slack is None:
            raise ScenarioError("slack_status: the scenario sets up no Slack (slack: {team: true, owners: [...]})")
        assert step.slack_status is not None
        self.slack.status = step.slack_status

    def _snooze(self, at: datetime, step: Step) -> None:
        assert step.snooze is not None
        snooze = step.snooze
        until = moment(snooze.until, self.scenario.start)
        chosen = [
            f
            for f in active(self.findings).values()
            if f.resource_name == snooze.resource and (snooze.rule is None or f.rule == snooze.rule)
        ]
        if not chosen:
            which = f"{snooze.rule} finding" if snooze.rule else "finding"
            raise ScenarioError(f"snooze: no active {which} about {snooze.resource}")
        for finding in chosen:
            try:
                snoozed, audit = lifecycle.snoozed(finding, until, snooze.reason, SNOOZE_ACTOR, at)
            except ValueError as error:
                raise ScenarioError(f"snooze: {error}") from None
            self.findings.put(snoozed, audit)
        self._settle(at)
