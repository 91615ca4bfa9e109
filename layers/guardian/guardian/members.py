"""A member account and region the hub sweeps, reached once before its sweep (STS GetCallerIdentity through the
member clients: it assumes the member role and needs no permission of its own).

What keeps a member out for good (no role, a role that does not trust the hub, a region not enabled) is the
team's to fix: a finding `member-unreachable` about the member role, a `MemberUnreachable` metric (its alarm is in
template.yaml), and a sweep that returns normally, so the fan-out neither retries it nor counts it a failure and
the other members are swept. What passes (throttling after botocore's retries) is raised: the fan-out's retry
applies. The finding resolves when that member's sweep next reaches it."""

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from guardian.arns import Location
from guardian.findings import AuditEntry, CostSegment, Finding, Status, finding_id, resolved
from guardian.findings_store import write_finding
from guardian.inventory import Conflict
from guardian.observability import MetricUnit, logger, metrics

if TYPE_CHECKING:  # messages import this module's words; runtime needs nothing from it
    from guardian.runtime import Guardian

MEMBER_UNREACHABLE = "member-unreachable"
TITLE = "Member account unreachable"
RESOURCE_KIND = "member-role"
REACHED_AGAIN = "member reached again"

# AssumeRole's answer for a role that is missing or does not trust the hub (or wants another external id).
_NO_ROLE = frozenset({"AccessDenied", "AccessDeniedException"})
# What a region not enabled in the account answers (STS and the services' regional endpoints).
_REGION_OFF = frozenset({"InvalidClientTokenId", "UnrecognizedClientException", "OptInRequired", "AuthFailure"})


@dataclass(frozen=True)
class Unreachable:
    code: str
    message: str

    def remedy(self, role_arn: str, hub_account: str, region: str) -> str:
        if self.code in _REGION_OFF:
            return f"enable {region} in the account, or leave it out of the hub's MemberRegions"
        return (
            f"deploy the member template (its StackSet) to this account, or fix {role_arn}'s trust: it must "
            f"trust the hub account {hub_account} (and the hub's MemberExternalId, if one is set)"
        )


def reach(member: "Guardian") -> Unreachable | None:
    """None if the member answers; what keeps it out if that is for the team to fix; raises otherwise."""
    try:
        member.clients("sts").get_caller_identity()
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in _NO_ROLE | _REGION_OFF:
            return Unreachable(code, str(error.response.get("Error", {}).get("Message", "")))
        raise
    return None


def report_unreachable(hub: "Guardian", where: Location, problem: Unreachable, now: datetime) -> Finding:
    """The team's finding (opened, or brought up to date), the metric and the log line."""
    role_arn = hub.settings.member_role_arn(where.account, where.partition)
    metrics.add_metric(name="MemberUnreachable", unit=MetricUnit.Count, value=1)
    logger.warning(
        "member account unreachable: not swept",
        extra={"account": where.account, "region": where.region, "role_arn": role_arn, "code": problem.code},
    )
    fresh = _finding(hub, where, role_arn, problem, now)
    existing = hub.findings.get(fresh.id)
    if existing is None:
        try:
            return hub.findings.put(fresh, [_audit(fresh, now, "opened")], before=None)
        except Conflict:  # another sweep of it opened it meanwhile: brought up to date below
            existing = hub.findings.get(fresh.id)
            if existing is None:
                raise

    def again(finding: Finding) -> tuple[Finding, list[AuditEntry]]:
        if finding.active:
            return finding.model_copy(update={"summary": fresh.summary, "evidence": fresh.evidence}), []
        reopened = fresh.model_copy(update={"version": finding.version + 1, "revision": finding.revision})
        return reopened, [_audit(reopened, now, "reopened", from_status=finding.status.value)]

    write_finding(hub, existing, again, now)
    return hub.findings.get(fresh.id) or fresh


def report_reached(hub: "Guardian", where: Location, now: datetime) -> bool:
    """The member answered: its finding, if one is active, resolves. True if one did."""
    role_arn = hub.settings.member_role_arn(where.account, where.partition)
    held = hub.findings.get(_finding_id(role_arn, where.region))
    if held is None or not held.active:
        return False
    return write_finding(hub, held, lambda f: resolved(f, now, REACHED_AGAIN), now)


def _finding_id(role_arn: str, region: str) -> str:
    """One finding per member account and region (a region off is that region's), about the member role."""
    return finding_id(MEMBER_UNREACHABLE, f"{role_arn}#{region}")


def _finding(hub: "Guardian", where: Location, role_arn: str, problem: Unreachable, now: datetime) -> Finding:
    hub_account = hub.location().account
    return Finding(
        id=_finding_id(role_arn, where.region),
        rule=MEMBER_UNREACHABLE,
        resource_arn=role_arn,
        resource_kind=RESOURCE_KIND,
        resource_name=f"{where.account} in {where.region}",
        region=where.region,
        account=where.account,
        status=Status.OPEN,
        detected_at=now,
        condition_since=now,
        summary=(
            f"the hub cannot sweep account {where.account} in {where.region} through {role_arn} ({problem.code}); "
            f"{problem.remedy(role_arn, hub_account, where.region)}"
        ),
        severity="high",  # a blind spot: nothing there is watched while it lasts
        evidence={"error_code": problem.code, "error_message": problem.message[:500], "hub_account": hub_account},
        cost_basis="what the account runs there is not watched while it cannot be reached: its cost is unknown",
        segments=[CostSegment(start=now, hourly=None)],
        updated_at=now,
    )


def _audit(finding: Finding, now: datetime, action: str, from_status: str | None = None) -> AuditEntry:
    return AuditEntry(
        at=now, action=action, from_status=from_status, to_status=finding.status.value, reason=finding.summary
    )
