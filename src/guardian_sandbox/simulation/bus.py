"""CloudTrail and EventBridge together, as on AWS with a trail: every management call the sandbox records
(cloudtrail.py, with its caller's identity) becomes an "AWS API Call via CloudTrail" event on the default bus.
The records are the ones LookupEvents serves: one recording, two readers."""

from typing import Any

from moto.cloudtrail.models import cloudtrail_backends

from guardian_sandbox.cloudtrail import History, api_call_event, history


class CloudTrailBus:
    def __init__(self, account: str, region: str) -> None:
        self.account = account
        self.region = region
        self._seen = self._history().next_seq

    def _history(self) -> History:
        return history(cloudtrail_backends[self.account][self.region])

    def new_events(self) -> list[dict[str, Any]]:
        """The calls recorded since last asked, as EventBridge delivers them, in the order they were made."""
        kept = self._history()
        fresh = kept.since(self._seen)
        self._seen = kept.next_seq
        return [api_call_event(record) for record in fresh]
