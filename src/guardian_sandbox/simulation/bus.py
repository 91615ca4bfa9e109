"""The account's default event bus, as the stack's rules see it: every management call the sandbox records
(cloudtrail.py, with its caller's identity) while a trail is logging becomes an "AWS API Call via CloudTrail"
event, and every state a transition shows becomes its service's own state-change event (service_events.py;
no trail needed). The CloudTrail records are the ones LookupEvents serves: one recording, two readers."""

from datetime import datetime
from typing import Any

from moto.cloudtrail.models import cloudtrail_backends

from guardian_sandbox import service_events, transitions
from guardian_sandbox.cloudtrail import History, api_call_event, history


class CloudTrailBus:
    def __init__(self, account: str, region: str) -> None:
        self.account = account
        self.region = region
        self._seen = self._history().next_seq
        service_events.taken(account, region)  # what was sent before the bus was watched is nobody's story

    def _history(self) -> History:
        return history(cloudtrail_backends[self.account][self.region])

    def new_events(self) -> list[dict[str, Any]]:
        """What reached the bus since last asked, in the order it happened (a call before the state change
        it started): the calls recorded while a trail logged, and the services' state changes, with any
        transition that ended by the sandbox's clock settled first."""
        transitions.settle(self.account, self.region)
        kept = self._history()
        fresh = kept.since(self._seen)
        self._seen = kept.next_seq
        calls = [(_moment(record["eventTime"]), 0, index, api_call_event(record)) for index, record in enumerate(fresh)]
        changes = [(at, 1, seq, event) for at, seq, event in service_events.taken(self.account, self.region)]
        return [event for *_, event in sorted(calls + changes, key=lambda item: item[:3])]


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
