"""The sandbox's SNS keeps email subscriptions as AWS does, not as moto does (moto confirms them at once):
pending until the link is followed, receiving nothing until then, and saying so in each API's own way."""

import pytest
from botocore.exceptions import ClientError

from guardian_sandbox.stack import SandboxStack

ADDRESS = "alice@example.com"


def subscribe(stack: SandboxStack, address: str = ADDRESS, **extra: object) -> dict:
    return stack.clients("sns").subscribe(TopicArn=stack.topic_arn, Protocol="email", Endpoint=address, **extra)


def test_an_email_subscription_is_pending_and_receives_nothing_until_its_link_is_followed(stack):
    sns = stack.clients("sns")
    arn = subscribe(stack, ReturnSubscriptionArn=True)["SubscriptionArn"]
    assert subscribe(stack, "bob@example.com")["SubscriptionArn"] == "pending confirmation"
    assert sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["PendingConfirmation"] == "true"
    listed = sns.list_subscriptions_by_topic(TopicArn=stack.topic_arn)["Subscriptions"]
    assert {s["Endpoint"]: s["SubscriptionArn"] for s in listed if s["Protocol"] == "email"} == {
        ADDRESS: "PendingConfirmation",
        "bob@example.com": "PendingConfirmation",
    }
    sns.publish(TopicArn=stack.topic_arn, Message="before")
    assert [m["to"] for m in stack.mailbox()] == [[]]

    stack.confirm_subscription(ADDRESS)
    assert sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["PendingConfirmation"] == "false"
    listed = sns.list_subscriptions()["Subscriptions"]  # the account-wide listing says the same
    assert {s["Endpoint"]: s["SubscriptionArn"] for s in listed if s["Protocol"] == "email"} == {
        ADDRESS: arn,
        "bob@example.com": "PendingConfirmation",
    }
    sns.publish(TopicArn=stack.topic_arn, Message="after")
    assert [m["to"] for m in stack.mailbox()] == [[ADDRESS]]  # what came before is not delivered late


def test_a_confirmation_needs_the_token_sns_mailed(stack):
    subscribe(stack)
    with pytest.raises(ClientError, match="Invalid token"):
        stack.clients("sns").confirm_subscription(TopicArn=stack.topic_arn, Token="guessed")


def test_confirming_automatically_is_a_stack_option_and_can_be_turned_on_later(sandbox):
    stack = SandboxStack(sandbox, confirm_subscriptions_automatically=True).deploy()
    arn = subscribe(stack)["SubscriptionArn"]
    assert arn.startswith(stack.topic_arn + ":")
    stack.confirm_subscriptions_automatically = False
    assert subscribe(stack, "bob@example.com")["SubscriptionArn"] == "pending confirmation"
    stack.clients("sns").publish(TopicArn=stack.topic_arn, Message="hello")
    assert [m["to"] for m in stack.mailbox()] == [[ADDRESS]]
