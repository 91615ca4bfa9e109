"""Messages people read in ten seconds: a subject that names resource, owner and cost, a plain-text body
(what, whose, since when, cost, waste, why, what to do, what happens next), and the same as Slack Block
Kit with a plain-text fallback. One notice or a group (one owner's findings opened together)."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from guardian.findings import SEVERITIES, Finding
from guardian.notices import Notice, NoticeKind
from guardian.rules import RULES_BY_NAME
from guardian.settings import Settings

KIND_WORDS = {
    "endpoint": "endpoint",
    "emr-cluster": "EMR cluster",
    "hyperpod-cluster": "HyperPod cluster",
    "mlflow-tracking-server": "MLflow tracking server",
    "notebook-instance": "notebook instance",
    "app": "app",
    "space": "space",
}
SEVERITY_EMOJI = {"high": ":red_circle:", "medium": ":large_orange_circle:", "low": ":large_yellow_circle:"}
KIND_EMOJI = {NoticeKind.RESOLVED: ":white_check_mark:", NoticeKind.REMINDER: ":alarm_clock:"}


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


@dataclass
class Message:
    subject: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    about: list[Finding] = field(default_factory=list)  # what subscribers' filters see (owner, rule, severity)


def daily(finding: Finding) -> float | None:
    return None if finding.hourly_cost_usd is None else finding.hourly_cost_usd * 24


def daily_total(findings: list[Finding]) -> tuple[float, bool]:
    """Dollars a day across these findings, each resource counted once (an EMR cluster can be both orphaned
    and idle); and whether some resource's cost is unknown."""
    per_resource = {f.resource_arn: daily(f) for f in findings}
    return sum(d for d in per_resource.values() if d is not None), None in per_resource.values()


def when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "unknown"


def rate(value: float | None) -> str:
    """An hourly price as published: $0.115, $1.20."""
    if value is None:
        return "unknown"
    text = f"{value:,.3f}"
    return "$" + (text[:-1] if text.endswith("0") else text)


def dollars(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.2f}"


def label(finding: Finding) -> str:
    kind = KIND_WORDS.get(finding.resource_kind, finding.resource_kind)
    name = f"{finding.space}/{finding.resource_name}" if finding.resource_kind == "app" else finding.resource_name
    rule = RULES_BY_NAME.get(finding.rule)
    return f"{rule.adjective if rule else finding.rule} {kind} {name}"


def render(notices: list[Notice], context: Context) -> Message:
    """One message for one or several notices of the same kind and owner."""
    kind = notices[0].kind
    findings = [n.finding for n in notices]
    owner = findings[0].owner or "no known owner"
    per_day, unknown = daily_total(findings)
    if unknown and not per_day:
        cost = "cost unknown"
    else:
        cost = f"~ {dollars(per_day)}/day" + (" + unknown" if unknown else "")
    what = label(findings[0]) if len(findings) == 1 else f"{len(findings)} findings"
    if kind is NoticeKind.RESOLVED:
        subject = f"Resolved: {what} ({owner}), {cost} no longer wasted"
    elif len(findings) == 1:
        verb = {NoticeKind.CHANGED: "Cost doubled: ", NoticeKind.REMINDER: "Remediation soon: "}.get(kind, "")
        subject = f"{verb}{what} ({owner}) {cost}"
    else:
        verb = {NoticeKind.CHANGED: "Cost doubled on ", NoticeKind.REMINDER: "Remediation soon for "}.get(kind, "")
        resources = len({f.resource_arn for f in findings})
        subject = f"{verb}{resources} resources {_shared_reason(findings)}({owner}) {cost}"
    sections = [_body(f, kind, context) for f in findings]
    text = "\n\n".join(sections) + "\n\n" + _footer(context)
    blocks = _blocks(subject, findings, kind, context, sections)
    return Message(subject=subject, text=text, blocks=blocks, about=findings)


def _shared_reason(findings: list[Finding]) -> str:
    spaces = {f.space for f in findings if f.space}
    if len(spaces) == 1 and all(_groups_by_space(f.rule) for f in findings):
        return f"billing after {spaces.pop()} stopped "
    return "still billing "


def _groups_by_space(rule_name: str) -> bool:
    rule = RULES_BY_NAME.get(rule_name)
    return rule is not None and rule.groups_by_space


def _body(finding: Finding, kind: NoticeKind, context: Context) -> str:
    now = context.now
    lines = [
        label(finding) + (f" in space {finding.space}" if finding.space and finding.resource_kind != "app" else "")
    ]
    if kind is NoticeKind.RESOLVED:
        lines.append(
            f"Resolved {when(finding.resolved_at)}: {finding.resolution}. "
            f"It cost {dollars(finding.waste_usd(now))} while it lasted."
        )
        return "\n".join(lines)
    lines += [
        f"Whose: {finding.owner or 'nobody the guardian can name'}"
        + (f" (domain {finding.domain_id})" if finding.domain_id else ""),
        f"Since: {when(finding.condition_since)} ({_ago(finding.condition_since, now)})",
        f"Cost: {rate(finding.hourly_cost_usd)}/hour, {dollars(finding.waste_usd(now))} so far, "
        f"{dollars(finding.monthly_cost_usd)}/month if left running",
        f"Why: {finding.summary}. " + _evidence(finding),
    ]
    if kind is NoticeKind.REMINDER and finding.remediation_due_at:
        lines.append(
            f"Next: the guardian will {(finding.remediation or {}).get('action', 'act')} at "
            f"{when(finding.remediation_due_at)} unless you snooze it or tag it exempt."
        )
    elif context.remediation_mode == "enforce":
        lines.append(
            f"Next: remediation is on; it acts {context.remediation_grace_hours:g} h after this notice "
            "unless snoozed or exempted, after a reminder."
        )
    else:
        lines.append(f"Next: remediation is {context.remediation_mode}; nothing will be changed automatically.")
    lines.append(f"Console: {console_link(finding)}")
    lines.append(
        f"Keep it: guardian snooze {finding.id} --until YYYY-MM-DD --reason '...' --stack {context.stack}, "
        f"or tag the resource {context.exemption_tag}=true (or =YYYY-MM-DD)"
    )
    return "\n".join(lines)


def _evidence(finding: Finding) -> str:
    shown = {k: v for k, v in finding.evidence.items() if k not in ("cost_basis",) and v not in (None, [], {})}
    return "; ".join(f"{k.replace('_', ' ')}: {_short(v)}" for k, v in list(shown.items())[:6])


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(map(str, value[:4])) + ("..." if len(value) > 4 else "")
    return str(value)


def _ago(then: datetime, now: datetime) -> str:
    hours = (now - then).total_seconds() / 3600
    return f"{hours:.1f} h ago" if hours < 48 else f"{hours / 24:.1f} days ago"


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
    }
    default = f"/sagemaker/home?region={region}#/studio/{finding.domain_id or ''}"
    return base + paths.get(finding.resource_kind, default)


def _blocks(
    subject: str, findings: list[Finding], kind: NoticeKind, context: Context, sections: list[str]
) -> list[dict[str, Any]]:
    emoji = KIND_EMOJI.get(kind) or SEVERITY_EMOJI.get(max((f.severity for f in findings), key=SEVERITIES.index), "")
    blocks: list[dict[str, Any]] = [header(subject)]
    for finding, body in zip(findings[:20], sections, strict=False):
        first, *rest = body.splitlines()
        blocks.append(section(f"{emoji} *{first}*\n" + "\n".join(rest)))
        if kind is not NoticeKind.RESOLVED:
            blocks.append(
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "text": {"type": "plain_text", "text": "Open in console"},
                            "url": console_link(finding),
                            "action_id": f"open-{finding.id}",
                        }
                    ],
                }
            )
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": cut(_footer(context), 300)}]})
    return blocks[:50]


def cut(text: str, limit: int) -> str:
    """At most ``limit`` characters (Slack's and SNS's length limits), marked where cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": cut(text, 150), "emoji": True}}


def section(markdown: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut(markdown, 3000)}}


def aggregate(notices: list[Notice], context: Context) -> Message:
    """For the team: findings in private spaces, counted, not named."""
    per_day, _ = daily_total([n.finding for n in notices])
    kind = notices[0].kind
    what = {
        NoticeKind.OPENED: "opened",
        NoticeKind.CHANGED: "changed",
        NoticeKind.REMINDER: "due for remediation",
        NoticeKind.RESOLVED: "resolved",
    }[kind]
    subject = f"{len(notices)} findings in private spaces {what}, ~ {dollars(per_day)}/day"
    text = f"{subject}.\nTheir owners were told directly; details stay with them (private spaces).\n\n" + _footer(
        context
    )
    blocks = [section(f":lock: *{subject}*\nTheir owners were told directly; details stay with them.")]
    return Message(subject=subject, text=text, blocks=blocks, about=[n.finding for n in notices])
