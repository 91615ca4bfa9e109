"""The orphan alert comes within a minute of the grace's end: at the 99th percentile over random stop times
(guardian_sandbox/alert_latency.py: Scheduler fires within its minute, then the stream and notify), and on the
sandbox's stack, whether the check fires early or late in its minute. Without a trail (no event delivered),
the sweep that sees the stop schedules the same check, so the alert still comes at the grace's end; a stop
it sees only after the grace is alerted at once."""

from datetime import datetime, timedelta

import pytest

from guardian.findings import Status
from guardian_sandbox import clock
from guardian_sandbox.alert_latency import GRACE, PathModel, percentile, trailed_delays
from guardian_sandbox.stack import SandboxStack
from tests.integration.test_scheduled_checks import SCHEDULED, build, orphan_status, schedules, stop

OWNERS = {"OWNER_EMAILS": '{"alice": "alice@example.com"}'}


@pytest.fixture
def stack(sandbox) -> SandboxStack:
    return SandboxStack(sandbox, parameters=OWNERS, confirm_subscriptions_automatically=True).deploy()


def stopped_at(event: dict) -> datetime:
    return datetime.fromisoformat(event["time"].replace("Z", "+00:00"))


def orphan_alerts(stack: SandboxStack) -> list[dict]:
    """What reached alice's inbox of the orphaned endpoint, once the stream has reached notify."""
    stack.pump_streams()
    return [m for m in stack.mailbox() if "alice@example.com" in m["to"] and "Orphaned endpoint fraud" in m["text"]]


def test_the_alert_comes_within_sixty_seconds_of_the_grace_at_the_99th_percentile():
    delays = trailed_delays(PathModel.deployed(), samples=5_000)
    assert percentile(delays, 99) < 60
    # Fired early in its minute, a check judges as of the grace's end: no alert comes a minute before it.
    assert min(delays) > -60
    # The 20 s batching window it had put the 99th percentile past a minute.
    assert percentile(trailed_delays(PathModel(batching_window=20.0), samples=5_000), 99) > 60


@pytest.mark.parametrize("second", [0, 59])
def test_a_check_fired_anywhere_in_its_minute_alerts_the_owner(stack, second):
    ids = build(stack)
    event = stop(stack, ids)
    stack.deliver(event)  # with a trail: the stop's event schedules the check
    [due] = schedules(stack)
    assert abs(due - (stopped_at(event) + GRACE)) < timedelta(seconds=1)
    fired = due.replace(second=second, microsecond=0)  # Scheduler: any moment of the minute, even before
    with clock.at(stack.clients, fired):
        stack.fire_due_schedules(due)
        alerts = orphan_alerts(stack)
    assert orphan_status(stack) is Status.NOTIFIED
    assert len(alerts) == 1


def test_without_a_trail_the_sweep_that_saw_the_stop_has_the_alert_come_at_the_grace_end(stack):
    ids = build(stack)
    event = stop(stack, ids)  # its event is never delivered: no trail
    stopped = stopped_at(event)
    with clock.at(stack.clients, stopped + timedelta(minutes=10)):
        stack.invoke("SweepFunction", SCHEDULED)
        assert orphan_alerts(stack) == []  # within the grace
    [due] = schedules(stack)
    assert abs(due - (stopped + GRACE)) < timedelta(seconds=1)  # dated from CloudTrail's event history
    with clock.at(stack.clients, due + timedelta(seconds=30)):
        stack.fire_due_schedules(due + timedelta(seconds=30))
        assert len(orphan_alerts(stack)) == 1


def test_without_a_trail_a_stop_seen_after_the_grace_is_alerted_by_that_sweep(stack):
    ids = build(stack)
    stopped = stopped_at(stop(stack, ids))
    with clock.at(stack.clients, stopped + GRACE + timedelta(minutes=20)):
        stack.invoke("SweepFunction", SCHEDULED)
        assert len(orphan_alerts(stack)) == 1  # at once, not at the next sweep
    assert schedules(stack) == []  # nothing left to schedule
