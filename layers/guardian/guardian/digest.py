"""The daily digest: instead of immediate alerts (DigestMode=daily), one message per owner a day with
what opened and what resolved; and, for the team (TeamNotifications=digest), one summary of everything
still open, with findings in private spaces counted rather than named (each team AccountRoutes names gets
its own accounts' part, the default team the rest: guardian.routing).

Each digest goes through the outbox (delivery.py): once a day per channel, however often the schedule
fires. An owner's new findings are marked notified once their digest is delivered, now or by an earlier
run (a run that sent it and failed to mark them leaves the marking to the retry, which does not send it
again), and reached if it reached them; a digest not delivered fails the run, which the schedule retries.
An owner no channel reaches is the team's news, as in immediate mode (notify.py); a digest whose only
channel is an email subscription awaiting confirmation is not sent, and its findings say so: they are in
the next day's digest."""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from guardian import findings as lifecycle
from guardian.channels import Audience, DeliveryFailed
from guardian.delivery import Delivery, Outcome, send_once
from guardian.findings import ACTIVE, AWAITING_CONFIRMATION, AuditEntry, Finding, Status
from guardian.findings_store import write_finding
from guardian.messages import LISTED, Context, Message, daily, daily_total, header, label, render, section
from guardian.money import dollars, total
from guardian.notices import Notice, NoticeKind
from guardian.notify import tell_team_unreachable
from guardian.runtime import Guardian


@dataclass
class DigestReport:
    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "failed": self.failed}


def digest(guardian: Guardian, now: datetime, deadline: datetime | None = None) -> DigestReport:
    """``deadline``: when this invocation ends (the outbox's claims expire then at the latest)."""
    settings = guardian.settings
    report = DigestReport()
    since = now - timedelta(days=1)
    active = [f for status in ACTIVE for f in guardian.findings.with_status(status)]
    resolved = list(guardian.findings.with_status(Status.RESOLVED, after=since))
    context = Context.for_stack(settings, now)
    if settings.digest_mode == "daily":
        new = defaultdict(list)
        for finding in active:
            if finding.status is Status.OPEN and finding.owner:
                new[finding.owner].append(finding)
        gone = defaultdict(list)
        for finding in resolved:
            if finding.owner and finding.notified_at:
                gone[finding.owner].append(finding)
        for owner in sorted(set(new) | set(gone)):
            message = _owner_digest(new[owner], gone[owner], context)
            outcome = _send(guardian, Audience(owner), message, now, deadline, report)
            _settle_owner(guardian, owner, new[owner], outcome, now, deadline, report)
    if settings.team_notifications == "digest" and (active or resolved):
        for team, (team_active, team_resolved) in _by_team(guardian, active, resolved, now).items():
            message = team_digest(team_active, team_resolved, context, settings.allow_private_names)
            _send(guardian, team, message, now, deadline, report)
    if report.failed:  # the schedule retries; what was delivered is not sent again
        raise DeliveryFailed(f"digests not delivered to: {', '.join(report.failed)}")
    return report


def _by_team(
    guardian: Guardian, active: list[Finding], resolved: list[Finding], now: datetime
) -> dict[Audience, tuple[list[Finding], list[Finding]]]:
    """Each team's part: the findings of the accounts it is routed (guardian.routing); the rest the default team's."""
    channels = Delivery.of(guardian).channels
    parts: dict[Audience, tuple[list[Finding], list[Finding]]] = defaultdict(lambda: ([], []))
    for findings, at in ((active, 0), (resolved, 1)):
        for finding in findings:
            parts[channels.team_of(finding.account, now)][at].append(finding)
    return dict(parts)


def _owner_digest(new: list[Finding], gone: list[Finding], context: Context) -> Message:
    parts = []
    # Slack takes 50 blocks: what opened (two a finding) gets most of them, what resolved (one each) the rest.
    if new:
        parts.append(render([Notice(NoticeKind.OPENED, f) for f in new], context, most=15 if gone else LISTED))
    if gone:
        parts.append(render([Notice(NoticeKind.RESOLVED, f) for f in gone], context, most=5 if new else LISTED))
    per_day, unknown = daily_total(new)
    cost = total(per_day, unknown, "/day")
    subject = f"Daily: {len(new)} new, {len(gone)} resolved ({(new or gone)[0].owner}) ~ {cost}"
    # Each part's blocks but its header and its footer (the last block), then the footer once.
    sections = [b for p in parts for b in p.blocks[:-1] if b["type"] != "header"] + parts[-1].blocks[-1:]
    return Message(
        subject=subject,
        text="\n\n".join(p.text for p in parts),
        blocks=[header(subject), *sections][:50],
        about=new + gone,
    )


def team_digest(active: list[Finding], resolved: list[Finding], context: Context, names: bool) -> Message:
    """Everything still open, by owner; private-space findings counted, not named."""
    lines, private, named = [], [], []
    counted = [f for f in active if f.status is not Status.EXEMPT]
    for finding in sorted(counted, key=lambda f: -(f.waste_usd(context.now) or 0)):
        if not names and finding.private:
            private.append(finding)
            continue
        named.append(finding)
    for finding in named[:LISTED]:
        lines.append(
            f"- {label(finding)} ({finding.owner or 'no owner'}): {dollars(daily(finding))}/day, "
            f"{dollars(finding.waste_usd(context.now))} so far"
        )
    if len(named) > LISTED:  # each resource once, and none already listed
        listed = {f.resource_arn for f in named[:LISTED]}
        per_day, unknown = daily_total([f for f in named[LISTED:] if f.resource_arn not in listed])
        lines.append(
            f"and {len(named) - LISTED} more ({total(per_day, unknown, '/day')}): "
            f"guardian findings --stack {context.stack} lists them all"
        )
    if private:
        per_day, unknown = daily_total(private)
        lines.append(
            f"- {len({f.resource_arn for f in private})} resources in private spaces: "
            f"{total(per_day, unknown, '/day')} (their owners have the details)"
        )
    per_day, unknown = daily_total(counted)
    cost = total(per_day, unknown, "/day")
    subject = f"Studio waste today: {len(counted)} open findings ~ {cost}, {len(resolved)} resolved"
    text = subject + "\n\n" + "\n".join(lines)
    blocks = [
        header(subject),
        section("\n".join(lines) or "Nothing open."),
    ]
    return Message(subject=subject, text=text, blocks=blocks, about=counted or resolved)


def _send(
    guardian: Guardian,
    audience: Audience,
    message: Message,
    now: datetime,
    deadline: datetime | None,
    report: DigestReport,
) -> Outcome[Message]:
    """Today's digest for this audience, once per channel however often the schedule fires."""
    outcome = send_once(guardian, audience, [(_key(now), message)], lambda _: message, now, deadline=deadline)
    report.sent += [f"{channel} to {audience.name}: {subject}" for channel, subject, _ in outcome.sent]
    if outcome.failed:
        report.failed.append(audience.name)
    return outcome


def _key(now: datetime) -> str:
    return f"digest#{now.date().isoformat()}"


def _settle_owner(
    guardian: Guardian,
    owner: str,
    new: list[Finding],
    outcome: Outcome[Message],
    now: datetime,
    deadline: datetime | None,
    report: DigestReport,
) -> None:
    """The owner's new findings, as their digest went: told (and reached, if it reached them, by this run or
    an earlier one); the team told they cannot be reached; or waiting for their confirmation."""
    key = _key(now)
    if key in outcome.delivered:
        for finding in new:
            _mark(
                guardian, finding, now, report, lambda f: lifecycle.notified(f, now, "digest", key in outcome.reached)
            )
    elif outcome.unreachable and new:
        news = {Notice(NoticeKind.OPENED, f).key: Notice(NoticeKind.OPENED, f) for f in new}
        told = tell_team_unreachable(guardian, owner, news, now, deadline)
        report.sent += [f"{channel} to team: {subject}" for channel, subject, _ in told.sent]
        if told.failed:
            report.failed.append(f"team (that {owner} cannot be reached)")
    elif key in outcome.held:
        reason = f"{owner}'s email subscription awaits confirmation: in the next digest once it is confirmed"

        def hold(current: Finding) -> tuple[Finding, list[AuditEntry]]:
            if current.delivery_state == AWAITING_CONFIRMATION:
                return current, []  # said on an earlier day
            return lifecycle.held(current, now, AWAITING_CONFIRMATION, reason)

        for finding in new:
            _mark(guardian, finding, now, report, hold)


def _mark(
    guardian: Guardian,
    finding: Finding,
    now: datetime,
    report: DigestReport,
    step: Callable[[Finding], tuple[Finding, list[AuditEntry]]],
) -> None:
    """A lifecycle step on a finding the owner's digest was about, if it is still open (twice changes nothing)."""

    def change(current: Finding) -> tuple[Finding, list[AuditEntry]]:
        return step(current) if current.status is Status.OPEN else (current, [])

    try:
        write_finding(guardian, finding, change, now)
    except Exception as error:  # the run fails and is retried: the digest is not sent again, the mark is made
        report.failed.append(f"{finding.id} (not marked notified: {type(error).__name__})")
