"""What a change to a finding means for the people who should hear about it.

Every state transition of a finding reaches the notify function once or more (DynamoDB Streams deliver at
least once); this module decides, from the finding before and after, whether it is news: opened, its cost
doubled, remediation is coming, or it resolved. Everything else (the guardian marking it notified, a
snooze, an exemption) is silent. Each notice is keyed by (finding, status, version): the same state is
never announced twice.
"""

from dataclasses import dataclass
from enum import StrEnum

from guardian.findings import Finding, Status


class NoticeKind(StrEnum):
    OPENED = "opened"
    CHANGED = "changed"  # a meaningful change after the owner was told: the cost doubled
    REMINDER = "reminder"  # remediation is scheduled
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Notice:
    kind: NoticeKind
    finding: Finding

    @property
    def key(self) -> str:
        return f"{self.finding.id}#{self.finding.status.value}#{self.finding.version}#{self.kind.value}"

    @property
    def private(self) -> bool:
        return self.finding.private


_WAKE_STATUSES = {Status.SNOOZED, Status.EXEMPT, Status.RESOLVED}


def notice_for(before: Finding | None, after: Finding) -> Notice | None:
    was = before.status if before else None
    now = after.status
    if now is Status.OPEN and (was is None or was in _WAKE_STATUSES):
        return Notice(NoticeKind.OPENED, after)  # new, reopened, snooze or exemption over
    if now is Status.REMEDIATION_SCHEDULED and was is not Status.REMEDIATION_SCHEDULED:
        return Notice(NoticeKind.REMINDER, after)
    if now is Status.RESOLVED and was not in (None, Status.RESOLVED) and after.notified_at:
        return Notice(NoticeKind.RESOLVED, after)  # only to someone who was told it opened
    if now is Status.NOTIFIED and was is Status.NOTIFIED and before and after.version > before.version:
        return Notice(NoticeKind.CHANGED, after)
    return None
