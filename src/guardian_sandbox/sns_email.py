"""Email subscriptions as SNS has them. moto confirms every subscription at once (PendingConfirmation
"false") and delivers email nowhere; on AWS an email subscription is pending until its owner clicks the
link SNS mails them, and receives nothing until then. Here, as on AWS:

- Subscribe (email, email-json) makes a pending subscription: GetSubscriptionAttributes says
  PendingConfirmation "true"; ListSubscriptions(ByTopic) show its SubscriptionArn as "PendingConfirmation";
  Subscribe itself answers "pending confirmation" unless asked for the ARN (ReturnSubscriptionArn).
- The confirmation email's token: ConfirmSubscription with it confirms the subscription, as the link does.
  Whoever plays the person reads the token with :func:`pending_tokens` (not an AWS API).
- A message published to the topic reaches the confirmed email subscriptions whose filter policy lets it
  through (moto's matching), at the moment it is published: :func:`recipients` says which.
- ``confirm automatically`` (per sandbox, off by default): subscriptions made while it is on are confirmed
  at once, as if each person clicked straight away, for demos and tests about something else.

State lives on moto's SNS backend (a new ``mock_aws`` clears it). Not an AWS API: the embedded sandbox is
read directly, a served one through the sandbox-only route ROUTE (as the clock is)."""

import json
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import requests
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult
from moto.sns.exceptions import SNSInvalidParameter
from moto.sns.models import SNSBackend, Subscription, sns_backends
from moto.sns.responses import SNSResponse

from guardian.aws import AwsClients

EMAIL_PROTOCOLS = ("email", "email-json")
PENDING_ARN = "PendingConfirmation"  # ListSubscriptions(ByTopic)'s SubscriptionArn for a pending subscription
PENDING_REPLY = "pending confirmation"  # Subscribe's, without ReturnSubscriptionArn
ROUTE = "/_sandbox/email"


@dataclass
class EmailState:
    confirm_automatically: bool = False
    tokens: dict[str, str] = field(default_factory=dict)  # the token in each confirmation email -> subscription ARN
    received: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # message id -> addresses


def state(backend: SNSBackend) -> EmailState:
    held = backend.__dict__.get("_sandbox_email")
    if held is None:
        held = backend.__dict__["_sandbox_email"] = EmailState()
    return held


def _pending(subscription: Subscription) -> bool:
    return subscription.protocol in EMAIL_PROTOCOLS and subscription.attributes.get("PendingConfirmation") == "true"


def _confirm(subscription: Subscription) -> None:
    subscription.attributes["PendingConfirmation"] = "false"
    subscription.confirmed = True


# --- moto, as SNS ----------------------------------------------------------------------------------------


def install() -> None:
    """Make moto's SNS treat email subscriptions as SNS does (idempotent)."""
    if getattr(SNSBackend.subscribe, "_sandbox", False):
        return
    subscribe, publish = SNSBackend.subscribe, Subscription.publish
    respond_subscribe = SNSResponse.subscribe
    list_all, list_by_topic = SNSResponse.list_subscriptions, SNSResponse.list_subscriptions_by_topic

    def subscribe_pending(self: SNSBackend, topic_arn: str, endpoint: str, protocol: str) -> Subscription:
        existing = self._find_subscription(topic_arn, endpoint, protocol)
        subscription = subscribe(self, topic_arn, endpoint, protocol)
        if protocol in EMAIL_PROTOCOLS and existing is None:
            if state(self).confirm_automatically:
                _confirm(subscription)
            else:
                subscription.attributes["PendingConfirmation"] = "true"
                subscription.confirmed = False
                state(self).tokens[secrets.token_hex(16)] = subscription.arn
        return subscription

    def publish_to_confirmed(self: Subscription, message: str, message_id: str, **kwargs: Any) -> None:
        if self.protocol not in EMAIL_PROTOCOLS:
            return publish(self, message, message_id, **kwargs)
        matcher = self._filter_policy_matcher
        if _pending(self) or (matcher is not None and not matcher.matches(kwargs.get("message_attributes"), message)):
            return None
        state(self.topic.sns_backend).received[message_id].append(self.endpoint)
        return None

    def subscribe_response(self: SNSResponse) -> ActionResult:
        result = respond_subscribe(self)
        subscription = self.backend.subscriptions[result.result["SubscriptionArn"]]  # type: ignore[index]
        if _pending(subscription) and str(self._get_param("ReturnSubscriptionArn")).lower() != "true":
            return ActionResult({"SubscriptionArn": PENDING_REPLY})
        return result

    def listed(original: Any) -> Any:
        def list_subscriptions(self: SNSResponse) -> ActionResult:
            result = original(self).result
            result["Subscriptions"] = [_as_listed(s) for s in result["Subscriptions"]]
            return ActionResult(result)

        return list_subscriptions

    def confirm_subscription(self: SNSResponse) -> ActionResult:
        topic_arn, token = self._get_param("TopicArn"), self._get_param("Token")
        self.backend.get_topic(topic_arn)  # NotFound as SNS has it
        arn = state(self.backend).tokens.get(token)
        subscription = self.backend.subscriptions.get(arn) if arn else None
        if subscription is None or subscription.topic.arn != topic_arn:
            raise SNSInvalidParameter("Invalid token")
        _confirm(subscription)
        return ActionResult({"SubscriptionArn": subscription.arn})

    subscribe_pending._sandbox = True  # type: ignore[attr-defined]
    SNSBackend.subscribe = subscribe_pending  # type: ignore[method-assign]
    Subscription.publish = publish_to_confirmed  # type: ignore[method-assign, assignment]
    SNSResponse.subscribe = subscribe_response  # type: ignore[method-assign]
    SNSResponse.list_subscriptions = listed(list_all)  # type: ignore[method-assign]
    SNSResponse.list_subscriptions_by_topic = listed(list_by_topic)  # type: ignore[method-assign]
    SNSResponse.confirm_subscription = confirm_subscription  # type: ignore[method-assign]


def _as_listed(subscription: Subscription) -> dict[str, str]:
    return {
        "SubscriptionArn": PENDING_ARN if _pending(subscription) else subscription.arn,
        "Owner": subscription.owner,
        "Protocol": subscription.protocol,
        "Endpoint": subscription.endpoint,
        "TopicArn": subscription.topic.arn,
    }


# --- what only the sandbox can say: the person's inbox, and the automatic mode ------------------------------


def pending_tokens(clients: AwsClients, address: str) -> list[tuple[str, str]]:
    """(topic ARN, token) of each confirmation email sent to ``address`` for a subscription still pending."""
    return [(t, token) for t, token in _ask(clients, {"Action": "pending", "Address": address})["Pending"]]


def set_confirm_automatically(clients: AwsClients, enabled: bool) -> None:
    _ask(clients, {"Action": "automatic", "Enabled": enabled})


def recipients(clients: AwsClients, message_ids: list[str]) -> dict[str, list[str]]:
    """The addresses each published message reached (confirmed email subscriptions its filter let through)."""
    found: dict[str, list[str]] = _ask(clients, {"Action": "received", "MessageIds": message_ids})["Received"]
    return found


def _ask(clients: AwsClients, request: dict[str, Any]) -> dict[str, Any]:
    request = request | {"Region": clients.region}
    if not clients.endpoint_url:
        return answer(request)
    response = requests.post(clients.endpoint_url.rstrip("/") + ROUTE, data=json.dumps(request), timeout=10)
    response.raise_for_status()
    answered: dict[str, Any] = response.json()
    return answered


def answer(request: dict[str, Any]) -> dict[str, Any]:
    """A sandbox-only request (embedded, or through the served sandbox's route) answered from moto's state."""
    backend = sns_backends[DEFAULT_ACCOUNT_ID][request["Region"]]
    held = state(backend)
    if request["Action"] == "automatic":
        held.confirm_automatically = bool(request["Enabled"])
        return {}
    if request["Action"] == "received":
        return {"Received": {m: list(held.received.get(m, [])) for m in request["MessageIds"]}}
    if request["Action"] == "pending":
        pending = []
        for token, arn in held.tokens.items():
            subscription = backend.subscriptions.get(arn)
            if subscription is not None and _pending(subscription) and subscription.endpoint == request["Address"]:
                pending.append((subscription.topic.arn, token))
        return {"Pending": pending}
    raise ValueError(f"unknown sandbox email request {request['Action']!r}")


def serve(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The route's WSGI answer."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    try:
        body = json.dumps(answer(json.loads(environ["wsgi.input"].read(length) or b"{}"))).encode()
    except (KeyError, ValueError) as error:
        start_response("400 Bad Request", [("Content-Type", "application/json")])
        return [json.dumps({"error": str(error)}).encode()]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
