"""Real-shaped events for the demo, tests and benchmarks, made from the samples in events/.

Each event starts as a copy of a sample (AWS documentation's, or a CloudTrail record of a call made
from Studio) and only the names, times and identity change: the envelope, field spellings and
types stay exactly as AWS sends them.
"""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from guardian.arns import Location
from guardian_sandbox.template import PROJECT_ROOT

EVENTS = PROJECT_ROOT / "events"


@cache
def _sample_text(function: str, name: str) -> str:
    return (EVENTS / function / name).read_text()


def sample(name: str, function: str = "ingest") -> dict[str, Any]:
    """A fresh copy of events/<function>/<name>."""
    return json.loads(_sample_text(function, name))


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Caller:
    """Who makes a call: a Studio execution role session (with or without a source identity) or an IAM user."""

    role: str | None = None
    source_identity: str | None = None
    iam_user: str | None = None

    def user_identity(self, account: str) -> dict[str, Any]:
        if self.iam_user:
            return {
                "type": "IAMUser",
                "principalId": "AIDAEXAMPLEUSER",
                "userName": self.iam_user,
                "arn": f"arn:aws:iam::{account}:user/{self.iam_user}",
                "accountId": account,
            }
        identity = sample("cloudtrail_CreateApp.json")["detail"]["userIdentity"]
        identity["accountId"] = account
        identity["arn"] = f"arn:aws:sts::{account}:assumed-role/{self.role}/SageMaker"
        issuer = identity["sessionContext"]["sessionIssuer"]
        issuer |= {
            "arn": f"arn:aws:iam::{account}:role/service-role/{self.role}",
            "userName": self.role,
            "accountId": account,
        }
        identity["sessionContext"].pop("sourceIdentity", None)
        if self.source_identity:
            identity["sessionContext"]["sourceIdentity"] = self.source_identity
        return identity


class EventFactory:
    def __init__(self, location: Location) -> None:
        self.location = location

    def _id(self, *parts: Any) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(map(str, parts))))

    def api_call(
        self,
        name: str,
        at: datetime,
        caller: Caller,
        request: dict[str, Any],
        response: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        emr = name in ("RunJobFlow", "TerminateJobFlows")
        event = sample("cloudtrail_RunJobFlow.json" if emr else "cloudtrail_CreateApp.json")
        event_id = self._id(name, at.isoformat(), json.dumps(request, sort_keys=True))
        event |= {"id": event_id, "time": _iso(at), "account": self.location.account, "region": self.location.region}
        event["detail"] |= {
            "eventName": name,
            "eventTime": _iso(at),
            "awsRegion": self.location.region,
            "recipientAccountId": self.location.account,
            "userIdentity": caller.user_identity(self.location.account),
            "requestParameters": request,
            "responseElements": response,
            "eventID": event_id,
            "requestID": self._id("request", event_id),
        }
        return event

    def endpoint_state(
        self,
        at: datetime,
        name: str,
        arn: str,
        status: str,
        config: str,
        variants: list[dict[str, Any]],
        created: datetime,
        tags: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        event = sample("endpoint_state_change_IN_SERVICE.json")
        millis = int(at.timestamp() * 1000)
        event |= {
            "id": self._id(name, status, millis),
            "time": _iso(at),
            "account": self.location.account,
            "region": self.location.region,
            "resources": [arn],
        }
        event["detail"] = {
            "EndpointName": name,
            "EndpointArn": arn,
            "EndpointConfigName": config,
            "ProductionVariants": variants,
            "EndpointStatus": status,
            "CreationTime": float(int(created.timestamp() * 1000)),
            "LastModifiedTime": float(millis),
            "Tags": tags or {},
        }
        return event

    def emr_state(self, at: datetime, cluster_id: str, name: str, state: str, code: str = "") -> dict[str, Any]:
        event = sample("emr_cluster_state_change_WAITING.json")
        event |= {
            "id": self._id(cluster_id, state, at.isoformat()),
            "time": _iso(at),
            "account": self.location.account,
            "region": self.location.region,
        }
        reason = {"code": code} | ({"message": "Terminated by user request"} if code == "USER_REQUEST" else {})
        event["detail"] |= {
            "clusterId": cluster_id,
            "name": name,
            "state": state,
            "stateChangeReason": json.dumps(reason),
            "message": f"Amazon EMR cluster {cluster_id} ({name}) is {state.lower()}.",
        }
        return event
