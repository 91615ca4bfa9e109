"""What happened, as the simulation prints it: one line per finding opened or changed, message sent,
action taken and action skipped, in time order, and a summary last. The field names are a public
interface (README, "Simulate"): the line models forbid anything else.

Everything is read from where the deployed stack leaves it, never from inside the functions: finding
changes and their audit trail from the table's stream (read here on a stream position of its own, as
a second consumer would), email from the topic (the sandbox's mailbox), Slack from the webhook receiver.
"""

import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from guardian.findings import AuditEntry, Finding
from guardian_sandbox.slack_receiver import SlackPost

# Audit entries that are remediation acting (or scheduling, or saying what it would do) ...
ACTED = {
    "remediation scheduled": "scheduled",
    "remediated": "done",
    "dry-run": "would act",
    "remediation failed": "failed",
}
# ... and those that are remediation declining to act, with the reason.
SKIPPED = {"remediation skipped", "remediation blocked", "remediation cancelled"}


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


class _Line(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FindingLine(_Line):
    at: str
    kind: Literal["finding"] = "finding"
    id: str
    rule: str
    resource_name: str
    owner: str | None
    status: str
    hourly_cost_usd: float | None
    waste_usd: float | None


class MessageLine(_Line):
    at: str
    kind: Literal["message"] = "message"
    channel: Literal["email", "slack"]
    audience: Literal["owner", "team"]
    to: list[str]
    subject: str
    resources: list[str]
    delivered: bool


class ActionLine(_Line):
    at: str
    kind: Literal["action"] = "action"
    action: str
    resource_name: str
    mode: Literal["dry-run", "enforce"]
    outcome: str


class SkippedLine(_Line):
    at: str
    kind: Literal["skipped"] = "skipped"
    resource_name: str
    reason: str


class SummaryLine(_Line):
    kind: Literal["summary"] = "summary"
    start: str
    until: str
    findings: int  # distinct findings opened
    messages: int
    messages_delivered: int
    actions: int
    acted: int  # actions done (enforce) or that would have been (dry-run)
    skipped: int
    failed_runs: int  # function invocations that raised (their events parked, their runs kept)


Line = FindingLine | MessageLine | ActionLine | SkippedLine | SummaryLine


class EventLog:
    """Turns what the stack left behind into lines, handing each to ``emit`` as it is found."""

    def __init__(self, emit: Callable[[Line], None]) -> None:
        self._emit = emit
        self._findings: dict[str, Finding] = {}
        self._last_skip: dict[str, str] = {}  # resource name -> the reason last given for not acting on it
        # One action on a resource is one line, though it resolves every finding the resource had (each audits it).
        self._actions_shown: set[ActionLine] = set()
        self.counts = {"messages": 0, "delivered": 0, "actions": 0, "acted": 0, "skipped": 0}

    def stream_records(
        self, at: datetime, images: Iterable[dict[str, Any]], lookup: Callable[[str], Finding | None]
    ) -> None:
        """New images of the table's items, in stream order: findings and their audit entries."""
        for image in images:
            kind = image.get("type", {}).get("S")
            if kind == "finding":
                self._finding(at, Finding.model_validate_json(image["doc"]["S"]))
            elif kind == "audit":
                finding_id = image["PK"]["S"].split("#", 1)[1]
                finding = self._findings.get(finding_id) or lookup(finding_id)
                if finding is not None:
                    self._audit(at, finding, AuditEntry.model_validate_json(image["doc"]["S"]))

    def _finding(self, at: datetime, finding: Finding) -> None:
        before = self._findings.get(finding.id)
        self._findings[finding.id] = finding
        if before is not None and (before.status, before.hourly_cost_usd) == (finding.status, finding.hourly_cost_usd):
            return
        self._emit(
            FindingLine(
                at=iso(at),
                id=finding.id,
                rule=finding.rule,
                resource_name=finding.resource_name,
                owner=finding.owner,
                status=finding.status.value,
                hourly_cost_usd=finding.hourly_cost_usd,
                waste_usd=finding.waste_usd(at),
            )
        )

    def _audit(self, at: datetime, finding: Finding, entry: AuditEntry) -> None:
        name = finding.resource_name
        if entry.action in SKIPPED:
            if self._last_skip.get(name) == entry.reason:
                return  # the same reason, again: nothing new happened
            self._last_skip[name] = entry.reason
            self.counts["skipped"] += 1
            self._emit(SkippedLine(at=iso(at), resource_name=name, reason=entry.reason))
            return
        if entry.action not in ACTED:
            return
        self._last_skip.pop(name, None)
        outcome = ACTED[entry.action]
        plan = finding.remediation or {}
        if outcome == "scheduled" and finding.remediation_due_at:
            outcome = f"scheduled for {iso(finding.remediation_due_at)}"
        elif outcome == "failed":
            outcome = f"failed: {entry.reason}"
        elif outcome == "would act":
            when = _moment(plan.get("at"))
            outcome = f"would act at {iso(when)}" if when else outcome
        dry_run = entry.action == "dry-run" or plan.get("mode") == "dry-run"
        mode: Literal["dry-run", "enforce"] = "dry-run" if dry_run else "enforce"
        line = ActionLine(
            at=iso(at), action=_action_name(finding, entry), resource_name=name, mode=mode, outcome=outcome
        )
        if line in self._actions_shown:
            return
        self._actions_shown.add(line)
        self.counts["actions"] += 1
        self.counts["acted"] += outcome == "done" or outcome.startswith("would act")
        self._emit(line)

    def email(self, at: datetime, messages: Iterable[dict[str, Any]]) -> None:
        """Messages the topic carried, each with the addresses it reached (SNS sends nothing to a pending
        subscription): delivered if it reached one."""
        for message in messages:
            to = list(message.get("to") or [])
            audience = "owner" if message.get("attributes", {}).get("audience") == "owner" else "team"
            subject = str(message.get("subject") or "")
            self._message(at, "email", audience, to, subject, f"{subject}\n{message.get('text', '')}", bool(to))

    def slack(self, at: datetime, posts: Iterable[SlackPost]) -> None:
        """Posts to the webhooks; a retried post (the same message again) is one line, delivered if any try was."""
        shown: list[SlackPost] = []
        for post in posts:
            if shown and (shown[-1].channel, shown[-1].body) == (post.channel, post.body):
                if post.delivered and not shown[-1].delivered:
                    shown[-1] = post
                continue
            shown.append(post)
        for post in shown:
            subject = post.text.split("\n", 1)[0]
            self._message(at, "slack", post.audience, [post.channel], subject, post.text, post.delivered)

    def _message(
        self,
        at: datetime,
        channel: Literal["email", "slack"],
        audience: Any,
        to: list[str],
        subject: str,
        text: str,
        delivered: bool,
    ) -> None:
        self.counts["messages"] += 1
        self.counts["delivered"] += delivered
        self._emit(
            MessageLine(
                at=iso(at),
                channel=channel,
                audience=audience,
                to=to,
                subject=subject,
                resources=self._named_in(text),
                delivered=delivered,
            )
        )

    def _named_in(self, text: str) -> list[str]:
        """The resources a message names (those the stack has findings about): a team message that counts a
        private space's resources without naming them names none."""
        names = {f.resource_name for f in self._findings.values()}
        return sorted(n for n in names if re.search(rf"(?<![\w.-]){re.escape(n)}(?![\w-])", text))

    def summary(self, start: datetime, until: datetime, failed_runs: int) -> SummaryLine:
        return SummaryLine(
            start=iso(start),
            until=iso(until),
            findings=len(self._findings),
            messages=self.counts["messages"],
            messages_delivered=self.counts["delivered"],
            actions=self.counts["actions"],
            acted=self.counts["acted"],
            skipped=self.counts["skipped"],
            failed_runs=failed_runs,
        )


def _moment(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def _action_name(finding: Finding, entry: AuditEntry) -> str:
    """What remediation does, without the resource's name ("delete endpoint", not "delete endpoint x")."""
    plan = finding.remediation or {}
    described = str(plan.get("action") or plan.get("would") or entry.reason or entry.action)
    suffix = " " + finding.resource_name
    return described[: -len(suffix)] if described.endswith(suffix) else described
