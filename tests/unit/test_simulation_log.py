"""The simulation's action lines: one per action on a resource, however many findings it resolves."""

from datetime import UTC, datetime

from guardian.findings import AuditEntry, Finding, Status
from guardian_sandbox.simulation.log import ActionLine, EventLog, Line

AT = datetime(2026, 11, 2, 16, 30, tzinfo=UTC)


def finding(finding_id: str, rule: str) -> Finding:
    return Finding(
        id=finding_id,
        rule=rule,
        resource_arn="arn:aws:sagemaker:us-east-1:123456789012:endpoint/alice-llm",
        resource_kind="endpoint",
        resource_name="alice-llm",
        owner="alice",
        region="us-east-1",
        account="123456789012",
        status=Status.RESOLVED,
        detected_at=AT,
        condition_since=AT,
        summary="",
        severity="high",
        remediation={"action": "delete endpoint alice-llm", "mode": "enforce"},
    )


def test_one_delete_that_resolves_two_findings_is_one_action_line_and_one_count() -> None:
    lines: list[Line] = []
    log = EventLog(lines.append)
    done = AuditEntry(at=AT, action="remediated", reason="delete endpoint alice-llm")
    for found in (finding("f-orphan", "orphaned-resource"), finding("f-idle", "idle-endpoint")):
        log._audit(AT, found, done)
    assert lines == [
        ActionLine(
            at="2026-11-02T16:30:00Z",
            action="delete endpoint",
            resource_name="alice-llm",
            mode="enforce",
            outcome="done",
        )
    ]
    assert (log.counts["actions"], log.counts["acted"]) == (1, 1)


def test_the_same_action_at_another_moment_is_another_line() -> None:
    lines: list[Line] = []
    log = EventLog(lines.append)
    found = finding("f-orphan", "orphaned-resource")
    log._audit(AT, found, AuditEntry(at=AT, action="remediated"))
    log._audit(AT.replace(hour=18), found, AuditEntry(at=AT, action="remediated"))
    assert len(lines) == 2
