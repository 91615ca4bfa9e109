"""Messages a busy person acts on in ten seconds: a subject that names resource, owner and cost; then one
line per finding with what, whose, what it wastes a day and why in words, its resource linked to the
console once (however many findings cover it); what happens next; and what the recipient can really do to
keep something: set the exemption tag on it (the exact `aws sagemaker add-tags` or `aws emr add-tags`
command for each resource is in its details) or ask an admin to snooze it (the people who get these
messages cannot run the CLI against the stack). The evidence is collapsed: a short "Details" section at
the end of an email, a context block under each line in Slack. A message lists at most LISTED findings,
costliest first, and says what it leaves out ("and 10 more ($27.60/day)").

One notice or a group (one owner's findings opened together); Slack gets the same as Block Kit, with a
plain-text fallback."""

import shlex
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from guardian import members
from guardian.allocation import hourly_by_resource
from guardian.findings import Finding
from guardian.money import dollars, rate, total
from guardian.notices import Notice, NoticeKind
from guardian.rules import RULES_BY_NAME
from guardian.settings import Settings

KIND_WORDS = {
    "endpoint": "endpoint",
    "emr-cluster": "EMR cluster",
    "s3-bucket": "S3 bucket",
    "hyperpod-cluster": "HyperPod cluster",
    "mlflow-tracking-server": "MLflow tracking server",
    "notebook-instance": "notebook instance",
    "partner-app": "Partner AI App",
    "inference-component": "inference component",
    "app": "app",
    "space": "space",
}
SEVERITY_EMOJI = {"high": ":red_circle:", "medium": ":large_orange_circle:", "low": ":large_yellow_circle:"}
KIND_EMOJI = {NoticeKind.RESOLVED: ":white_check_mark:", NoticeKind.REMINDER: ":alarm_clock:"}
NO_WASTE = "no waste yet"  # what a message about risks alone says instead of a cost
LISTED = 20  # findings a message lists; the rest are counted, with what they waste
KEEP_DAYS = 14  # the date a copied exempt or snooze command names: the recipient changes it as they wish
# Evidence a person does not read: the cost basis has its own place, the rest are raw series and codes.
_UNREAD_EVIDENCE = {"cost_basis", "reason", "is_idle_points"}


@dataclass(frozen=True)
class Context:
    """What a message needs to know beyond the finding: how to act on it, and what the guardian will do."""

    now: datetime
    remediation_mode: str = "off"
    remediation_grace_hours: float = 24
    exemption_tag: str = "studio-cost-guardian:exempt"
    stack: str = "studio-cost-guardian"

    @classmethod
    def for_stack(cls, settings: Settings, now: datetime) -> "Context":
        """The stack's settings a message quotes: the remediation it will do, the tag that exempts."""
        return cls(
            now=now,
            remediation_mode=settings.remediation_mode,
            remediation_grace_hours=settings.remediation_grace_hours,
            exemption_tag=settings.exemption_tag,
            stack=settings.stack_name,
        )

    @property
    def keep_until(self) -> str:
        return f"{self.now + timedelta(days=KEEP_DAYS):%Y-%m-%d}"


@dataclass
class Message:
    subject: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    about: list[Finding] = field(default_factory=list)  # what subscribers' filters see (owner, rule, severity)


def daily(finding: Finding) -> float | None:
    return None if finding.hourly_cost_usd is None else finding.hourly_cost_usd * 24


def daily_total(findings: list[Finding]) -> tuple[float, int]:
    """Dollars a day across these findings, each resource counted once (an EMR cluster can be both orphaned
    and idle); and how many resources' cost is unknown (money.total says so)."""
    per_resource = hourly_by_resource(findings).values()
    return sum(h * 24 for h in per_resource if h is not None), list(per_resource).count(None)


def when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "unknown"


def label(finding: Finding) -> str:
    """What the finding is about, in words: "Orphaned endpoint fraud-xgb", "EMR cluster without
    auto-termination: spark-etl"."""
    kind = KIND_WORDS.get(finding.resource_kind, finding.resource_kind)
    name = f"{finding.space}/{finding.resource_name}" if finding.resource_kind == "app" else finding.resource_name
    rule = RULES_BY_NAME.get(finding.rule)
    if rule is not None and rule.title:
        return f"{rule.title}: {name}"
    if (
        finding.rule == members.MEMBER_UNREACHABLE
    ):  # the hub's own finding, no rule's: "... unreachable: 1111 in eu-west-1"
        return f"{members.TITLE}: {name}"
    return f"{rule.adjective if rule else finding.rule} {kind} {name}"


def is_risk(finding: Finding) -> bool:
    """A risk, not waste (Rule.risk): it wastes nothing while the resource works."""
    rule = RULES_BY_NAME.get(finding.rule)
    return rule is not None and rule.risk


def render(notices: list[Notice], context: Context, most: int = LISTED) -> Message:
    """One message for one or several notices of the same kind (one owner's, or the team's). ``most``: how
    many findings it lists (the rest are counted)."""
    kind = notices[0].kind
    findings = sorted((n.finding for n in notices), key=_costliest_first)
    listed, rest = findings[:most], findings[most:]
    subject = _subject(kind, findings)
    lines = _lines(listed, kind, context, markdown=False)
    if rest:
        lines.append(_more(rest, listed, context))
    parts = ["\n".join(lines)]
    if kind is NoticeKind.RESOLVED:
        undo = [
            f"Undo {f.resource_name} (your admin): guardian restore {f.id} --stack {context.stack}"
            for f in listed
            if "done_at" in (f.remediation or {})  # the guardian acted: say how to undo it
        ]
        if undo:
            parts.append("\n".join(undo))
    else:
        parts += [f"Next: {_next(kind, listed, context)}\n{_keep(listed, context)}", _details(listed, context)]
    text = "\n\n".join(parts) + "\n\n" + _footer(context)
    blocks = _blocks(subject, listed, rest, kind, context)
    return Message(subject=subject, text=text, blocks=blocks, about=findings)


def _costliest_first(finding: Finding) -> tuple[float, str]:
    return -(daily(finding) or 0), label(finding)


def _subject(kind: NoticeKind, findings: list[Finding]) -> str:
    owner = findings[0].owner or "no known owner"
    cost = _cost(findings)
    what = label(findings[0]) if len(findings) == 1 else f"{len(findings)} findings"
    if kind is NoticeKind.RESOLVED:
        return f"Resolved: {what} ({owner})" + ("" if cost == NO_WASTE else f", {cost} no longer wasted")
    if len(findings) == 1:
        verb = {NoticeKind.CHANGED: "Cost doubled: ", NoticeKind.REMINDER: "Remediation soon: "}.get(kind, "")
        return f"{verb}{what} ({owner}) {cost}"
    verb = {NoticeKind.CHANGED: "Cost doubled on ", NoticeKind.REMINDER: "Remediation soon for "}.get(kind, "")
    resources = len({f.resource_arn for f in findings})
    return f"{verb}{resources} resource{'' if resources == 1 else 's'} {_shared_reason(findings)}({owner}) {cost}"


def _cost(findings: list[Finding]) -> str:
    per_day, unknown = daily_total(findings)
    if unknown and not per_day:
        return "cost unknown"
    if not per_day and all(is_risk(f) for f in findings):
        return NO_WASTE
    return "~ " + total(per_day, unknown, "/day")


def _shared_reason(findings: list[Finding]) -> str:
    if all(f.rule == members.MEMBER_UNREACHABLE for f in findings):
        return "not swept "  # nothing of it bills: what it holds is unseen
    spaces = {f.space for f in findings if f.space}
    if len(spaces) == 1 and all(_groups_by_space(f.rule) for f in findings):
        return f"billing after {spaces.pop()} stopped "
    return "still billing "


def _groups_by_space(rule_name: str) -> bool:
    rule = RULES_BY_NAME.get(rule_name)
    return rule is not None and rule.groups_by_space


def _lines(findings: list[Finding], kind: NoticeKind, context: Context, markdown: bool) -> list[str]:
    """One line per finding; the console link on the first line about each resource, nowhere else (a
    resolved finding's resource may be gone: no link)."""
    linked: set[str] = set()
    lines = []
    for finding in findings:
        link = None
        if kind is not NoticeKind.RESOLVED and finding.resource_arn not in linked:
            linked.add(finding.resource_arn)
            link = console_link(finding)
        lines.append(line(finding, kind, context, link, markdown))
    return lines


def line(finding: Finding, kind: NoticeKind, context: Context, link: str | None, markdown: bool = False) -> str:
    """What, whose, $/day and why, in one line: "Orphaned endpoint fraud-xgb (alice): $2.76/day, still billing
    since space alice-lab stopped (for 5.0 h)". In Slack's mrkdwn the name is the link; in text it ends the
    line."""
    name, whose = label(finding), finding.owner or "no known owner"
    if markdown:
        emoji = KIND_EMOJI.get(kind) or SEVERITY_EMOJI.get(finding.severity, "")
        shown = f"<{link}|{escape(name)}>" if link else escape(name)
        head = f"{emoji} *{shown}* ({escape(whose)})"
    else:
        head = f"- {name} ({whose})"
    if kind is NoticeKind.RESOLVED:
        body = (
            f"resolved {when(finding.resolved_at)}, {finding.resolution}; "
            f"it wasted {dollars(finding.waste_usd(context.now))} while it lasted"
        )
    else:
        cost = "no waste while it works" if is_risk(finding) else f"{dollars(daily(finding))}/day"
        if kind is NoticeKind.CHANGED:
            cost = f"cost doubled, now {cost}"
        body = f"{cost}, {finding.summary} (for {_age(finding.condition_since, context.now)})"
        if kind is NoticeKind.REMINDER and finding.remediation_due_at:
            action = (finding.remediation or {}).get("action", "act")
            body += f"; the guardian will {action} at {when(finding.remediation_due_at)} unless you keep it"
    text = f"{head}: {escape(body) if markdown else body}"
    return f"{text} {link}" if link and not markdown else text


def _more(rest: list[Finding], listed: list[Finding], context: Context) -> str:
    """The line that says what a cut message leaves out: how many, and what they waste (each resource once,
    and not one already counted above)."""
    shown = {f.resource_arn for f in listed}
    per_day, unknown = daily_total([f for f in rest if f.resource_arn not in shown])
    owners = {f.owner for f in rest}
    where = f"--owner {owners.pop()} " if len(owners) == 1 and None not in owners else ""
    return (
        f"and {len(rest)} more ({total(per_day, unknown, '/day')}), not listed here: "
        f"guardian findings {where}--stack {context.stack} lists them all (your admin can run it)"
    )


def _next(kind: NoticeKind, findings: list[Finding], context: Context) -> str:
    if kind is NoticeKind.REMINDER:
        return "the guardian acts at the time each line says, unless you keep it (below)."
    if not any(_remediable(f) for f in findings):
        return "nothing will be changed automatically: the guardian never acts on these."
    if context.remediation_mode == "enforce":
        return (
            f"remediation is on; it acts {context.remediation_grace_hours:g} h after this notice "
            "unless snoozed or exempted, after a reminder."
        )
    return f"remediation is {context.remediation_mode}; nothing will be changed automatically."


def _remediable(finding: Finding) -> bool:
    rule = RULES_BY_NAME.get(finding.rule)
    return rule is not None and rule.remediable


def _keep(findings: list[Finding], context: Context) -> str:
    """How the recipient keeps something: the tag they can set themselves, or a snooze their admin runs."""
    tag, until = context.exemption_tag, context.keep_until
    finding = findings[0].id if len(findings) == 1 else "FINDING"
    return (
        f"Keep it: tag the resource {tag}=YYYY-MM-DD (exempt through that day) or =true (for good); "
        f"the command is under Details. Or ask your admin to snooze it: guardian snooze {finding} "
        f"--until {until} --reason '...' --stack {context.stack}"
    )


def _details(findings: list[Finding], context: Context) -> str:
    """The evidence, collapsed at the end: one line per finding, and the exempt command once per resource."""
    lines, commanded = ["Details"], set()
    for finding in findings:
        lines.append(f"{finding.resource_name} (finding {finding.id}): {detail(finding, context.now)}")
        if finding.resource_arn not in commanded and (command := exempt_command(finding, context)):
            commanded.add(finding.resource_arn)
            lines.append(f"  exempt: {command}")
    return "\n".join(lines)


def detail(finding: Finding, now: datetime) -> str:
    """Since when, what it costs (an hour, so far, a month) and on what basis, and the rule's evidence in words."""
    if is_risk(finding):
        cost = finding.cost_basis or "no waste while it works"  # the basis says what it costs while it works
    else:
        cost = (
            f"{rate(finding.hourly_cost_usd)}/hour, {dollars(finding.waste_usd(now))} so far, "
            f"{dollars(finding.monthly_cost_usd)}/month if left running"
            + (f" ({finding.cost_basis})" if finding.cost_basis else "")
        )
    parts = [f"since {when(finding.condition_since)}", cost]
    if finding.domain_id:
        parts.append(f"domain {finding.domain_id}")
    # The console link names the region; no link can switch accounts, so the account is said in words.
    parts.append(
        f"account {finding.account}, {finding.region} (the console link opens in the account you are signed in to)"
    )
    return "; ".join([*parts, *evidence_words(finding)])


def evidence_words(finding: Finding) -> list[str]:
    """The rule's evidence as a person reads it: "space stopped at 2026-11-23 09:00 UTC", at most five items,
    without raw series (IsIdle's points) or codes."""
    words = []
    for key, value in finding.evidence.items():
        if key in _UNREAD_EVIDENCE or value in (None, [], {}, ""):
            continue
        shown = _value(value)
        if shown:
            words.append(f"{key.replace('_', ' ')}: {shown}")
    return words[:5]


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        try:
            return when(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return value
    if isinstance(value, dict):
        return ", ".join(f"{k}={_value(v)}" for k, v in value.items() if not isinstance(v, list | dict))
    if isinstance(value, list):
        if any(isinstance(v, list | dict) for v in value):
            return ""  # a series: its evidence is in `guardian findings show`
        return ", ".join(map(str, value[:4])) + (f" and {len(value) - 4} more" if len(value) > 4 else "")
    return str(value)


def exempt_command(finding: Finding, context: Context) -> str | None:
    """The command that sets the exemption tag on this finding's resource (the recipient may change the date,
    or write true); None where no one command does: a bucket (S3 replaces its whole tag set), a member role."""
    value, region = context.keep_until, finding.region
    if finding.resource_kind in ("s3-bucket", members.RESOURCE_KIND):
        return None
    if finding.resource_kind == "emr-cluster":
        cluster_id = finding.resource_arn.rsplit("/", 1)[-1]
        return (
            f"aws emr add-tags --region {region} --resource-id {shlex.quote(cluster_id)} "
            f"--tags {shlex.quote(f'{context.exemption_tag}={value}')}"
        )
    return (
        f"aws sagemaker add-tags --region {region} --resource-arn {shlex.quote(finding.resource_arn)} "
        f"--tags {shlex.quote(f'Key={context.exemption_tag},Value={value}')}"
    )


def snooze_command(finding: Finding, context: Context) -> str:
    return f"guardian snooze {finding.id} --until {context.keep_until} --reason '...' --stack {context.stack}"


def _age(then: datetime, now: datetime) -> str:
    hours = max((now - then).total_seconds(), 0) / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


def _footer(context: Context) -> str:
    return (
        f"-- Studio Cost Guardian ({context.stack}). You get one message when a finding opens, a reminder "
        "before any remediation and one when it resolves."
    )


def console_link(finding: Finding) -> str:
    region, name = finding.region, finding.resource_name
    base = f"https://{region}.console.aws.amazon.com"
    paths = {
        "endpoint": f"/sagemaker/home?region={region}#/endpoints/{name}",
        "emr-cluster": f"/emr/home?region={region}#/clusterDetails/{finding.resource_arn.rsplit('/', 1)[-1]}",
        "hyperpod-cluster": f"/sagemaker/home?region={region}#/cluster-management/{name}",
        "mlflow-tracking-server": f"/sagemaker/home?region={region}#/mlflow-tracking-servers",
        "notebook-instance": f"/sagemaker/home?region={region}#/notebook-instances/{name}",
        "s3-bucket": f"/s3/buckets/{name}?region={region}",
        members.RESOURCE_KIND: f"/iam/home#/roles/details/{finding.resource_arn.rsplit('/', 1)[-1]}",
    }
    default = f"/sagemaker/home?region={region}#/studio/{finding.domain_id or ''}"
    return base + paths.get(finding.resource_kind, default)


def _blocks(
    subject: str, listed: list[Finding], rest: list[Finding], kind: NoticeKind, context: Context
) -> list[dict[str, Any]]:
    """Block Kit: the subject, a section per finding (its line) with its details in a context block under it,
    what was left out, what happens next and how to keep something, the footer. At most 50 blocks."""
    blocks: list[dict[str, Any]] = [header(subject)]
    commanded: set[str] = set()
    for finding, text in zip(listed, _lines(listed, kind, context, markdown=True), strict=True):
        blocks.append(section(text))
        if kind is NoticeKind.RESOLVED:
            if "done_at" in (finding.remediation or {}):
                blocks.append(small(f"Undo (your admin): `guardian restore {finding.id} --stack {context.stack}`"))
            continue
        keep = f"Snooze (your admin): `{snooze_command(finding, context)}`"
        if finding.resource_arn not in commanded and (command := exempt_command(finding, context)):
            commanded.add(finding.resource_arn)
            keep = f"Exempt: `{command}`\n{keep}"
        blocks.append(small(escape(detail(finding, context.now)) + "\n" + keep))
    if rest:
        blocks.append(section(escape(_more(rest, listed, context))))
    if kind is not NoticeKind.RESOLVED:
        tag = context.exemption_tag
        blocks.append(
            section(
                f"*Next:* {escape(_next(kind, listed, context))}\n*Keep it:* tag the resource `{tag}=YYYY-MM-DD` "
                f"(exempt through that day) or `{tag}=true` (for good): the command is under each line. Or ask "
                "your admin to snooze it (the command is there too)."
            )
        )
    blocks.append(small(_footer(context)))
    return blocks[:50]


def escape(text: str) -> str:
    """Slack's mrkdwn takes &, < and > as markup: text the guardian did not write is escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int) -> str:
    """At most ``limit`` characters (Slack's and SNS's length limits), marked where cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": cut(text, 150), "emoji": True}}


def section(markdown: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut(markdown, 3000)}}


def small(markdown: str) -> dict[str, Any]:
    """A context block: small grey text under a line, Slack's closest to a collapsed detail."""
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": cut(markdown, 3000)}]}


def aggregate(notices: list[Notice], context: Context) -> Message:
    """For the team: findings in private spaces, counted, not named."""
    per_day, unknown = daily_total([n.finding for n in notices])
    kind = notices[0].kind
    what = {
        NoticeKind.OPENED: "opened",
        NoticeKind.CHANGED: "changed",
        NoticeKind.REMINDER: "due for remediation",
        NoticeKind.RESOLVED: "resolved",
    }[kind]
    subject = f"{len(notices)} findings in private spaces {what}, ~ {total(per_day, unknown, '/day')}"
    text = f"{subject}.\nTheir owners were told directly; details stay with them (private spaces).\n\n" + _footer(
        context
    )
    blocks = [section(f":lock: *{subject}*\nTheir owners were told directly; details stay with them.")]
    return Message(subject=subject, text=text, blocks=blocks, about=[n.finding for n in notices])


def unreachable(owner: str | None, findings: list[Finding], context: Context, tag_prefix: str) -> Message:
    """For the team: an owner no channel reaches (no email address, no Slack), what of theirs waits, and how
    to fix it. ``owner`` None: not to be named (a private space's, unless the stack allows names)."""
    per_day, unknown = daily_total(findings)
    count = f"{len(findings)} finding{'s' if len(findings) != 1 else ''}"
    cost = total(per_day, unknown, "/day")
    who = owner or "An owner of a private space"
    subject = f"{who} has no address: {count}, {cost}"
    them, theirs = (owner, f"{owner}'s") if owner else ("them", "theirs")
    lines = [
        f"{subject}.",
        f"Nothing reaches {them}: no email address and no Slack channel is known for {them}. The guardian "
        f"remediates nothing of {theirs} until someone was reached; their messages are kept and go out as soon "
        "as they can be.",
    ]
    if owner:
        lines.append(
            f"Fix: tag the user profile {owner} with {tag_prefix}:email=ADDRESS, or add "
            f'"{owner}": "ADDRESS" to the stack\'s OwnerEmails parameter (or give them a channel in the '
            "Slack webhook secret's owners)."
        )
        ordered = sorted(findings, key=_costliest_first)
        lines += [f"- {label(f)}: {dollars(daily(f))}/day" for f in ordered[:LISTED]]
        if len(ordered) > LISTED:
            lines.append(_more(ordered[LISTED:], ordered[:LISTED], context))
    else:
        lines.append(
            f"Their findings are in a private space, so they are not named here: `guardian findings --stack "
            f"{context.stack}` lists them (delivery state unreachable), with their owner. Then tag that user "
            f"profile {tag_prefix}:email=ADDRESS, or add them to the stack's OwnerEmails parameter."
        )
    text = "\n".join(lines) + "\n\n" + _footer(context)
    blocks = [header(subject), section(":mailbox_with_no_mail: " + "\n".join(lines[1:]))]
    return Message(subject=subject, text=text, blocks=blocks, about=findings)
