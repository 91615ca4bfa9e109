"""Routing per account on a hub (AccountRoutes): a finding in a routed account reaches that team's Slack
channel and email, and not the default team's; a route on an OU covers the accounts under it (nested OUs
too, asked of Organizations in the sandbox); an account's own route beats its OU's; an account with no route
is the default team's, as in a single-account stack; owners are still told directly; a bad map is refused
at configuration, naming the bad key."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from guardian import findings as lifecycle
from guardian.cost import Cost
from guardian.findings import Finding, Status
from guardian.kinds import Kind
from guardian.permissions import FUNCTION_PERMISSIONS
from guardian.resource import Attribution, Resource, Source
from guardian.rules import Detection
from guardian.runtime import from_env
from guardian.settings import Settings
from guardian_sandbox.calls import recording
from guardian_sandbox.stack import REPORTS_BUCKET, STACK_NAME, SandboxStack

NOW = datetime.now(UTC).replace(microsecond=0)
TEAM = "platform-team@example.com"
VISION, SPEECH = "vision@example.com", "speech@example.com"


@pytest.fixture(autouse=True)
def _slack_waits_not_slept(monkeypatch):
    no_sleep = SimpleNamespace(sleep=lambda seconds: None)
    monkeypatch.setattr("slack_sdk.http_retry.handler.time", no_sleep)
    monkeypatch.setattr("slack_sdk.http_retry.builtin_handlers.time", no_sleep)


@pytest.fixture
def org(sandbox):
    """An organization: root > research (OU) > vision-lab (OU), and three member accounts: one in vision-lab,
    one directly in research, one under the root."""
    organizations = sandbox("organizations")
    organizations.create_organization(FeatureSet="ALL")
    root = organizations.list_roots()["Roots"][0]["Id"]
    research = organizations.create_organizational_unit(ParentId=root, Name="research")["OrganizationalUnit"]["Id"]
    lab = organizations.create_organizational_unit(ParentId=research, Name="vision-lab")["OrganizationalUnit"]["Id"]

    def account(name: str, parent: str) -> str:
        status = organizations.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
        account_id = organizations.describe_create_account_status(CreateAccountRequestId=status["Id"])[
            "CreateAccountStatus"
        ]["AccountId"]
        if parent != root:
            organizations.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=parent)
        return str(account_id)

    return SimpleNamespace(
        research=research,
        lab=lab,
        in_lab=account("in-lab", lab),
        in_research=account("in-research", research),
        at_root=account("at-root", root),
    )


def deploy(sandbox, slack, routes: dict, confirmed: bool = True) -> SandboxStack:
    """A hub whose team hears of every finding at once, with the default team's Slack and email and the routes
    given (each route's Slack secret stored under the stack's name, as the template's policy requires)."""
    parameters = {"TEAM_NOTIFICATIONS": "immediate", "ACCOUNT_ROUTES": json.dumps(routes)}
    stack = SandboxStack(sandbox, parameters=parameters, confirm_subscriptions_automatically=confirmed).deploy()
    stack.subscribe_team(TEAM)
    stack.use_slack(json.dumps({"team": slack.url + "/default"}))
    return stack


def route(sandbox, slack, team: str, email: str | None = None) -> dict[str, str]:
    """A team's route: its Slack webhook in a secret of its own, and its address."""
    secret = sandbox("secretsmanager").create_secret(
        Name=f"{STACK_NAME}/{team}-slack", SecretString=f"{slack.url}/{team}"
    )["ARN"]
    return {"team": team, "slack_webhook_secret_arn": secret} | ({"email": email} if email else {})


def open_finding(
    stack: SandboxStack, account: str, name: str, owner: str | None = None, since: datetime = NOW - timedelta(hours=2)
) -> Finding:
    resource = Resource(
        arn=f"arn:aws:sagemaker:us-east-1:{account}:endpoint/{name}",
        kind=Kind.ENDPOINT,
        name=name,
        state="InService",
        attribution=Attribution(source=Source.AUTO_TAG, owner=owner, space="lab", sharing="Shared"),
    )
    detection = Detection("orphaned-resource", resource, since, "still billing", {})
    finding, audit = lifecycle.opened(detection, Cost(Decimal("0.23"), "ml.m5.xlarge"), lifecycle.Exemption(False), NOW)
    return guardian_of(stack).findings.put(finding, audit)


def guardian_of(stack: SandboxStack):
    return from_env(stack.environment("NotifyFunction"), clients=stack.clients)


def delivered(stack: SandboxStack, slack) -> dict[str, list[str]]:
    """Who heard what, after the stream is pumped: each Slack channel's and each team address's subjects."""
    assert stack.pump_streams() == [{"batchItemFailures": []}]
    heard: dict[str, list[str]] = {}
    for post in slack.posts:
        heard.setdefault("slack:" + post["path"].rsplit("/", 1)[-1], []).append(post["body"]["text"])
    for mail in stack.mailbox():
        for address in mail["to"]:
            heard.setdefault(address, []).append(mail["text"])
    slack.posts.clear()
    return heard


def test_a_routed_accounts_finding_reaches_its_team_and_not_the_default(sandbox, slack, org):
    stack = deploy(sandbox, slack, {org.in_lab: route(sandbox, slack, "vision", VISION)})
    open_finding(stack, org.in_lab, "detector")
    heard = delivered(stack, slack)
    assert set(heard) == {"slack:vision", VISION}  # nothing to the default team's channel or address
    assert all("detector" in texts[0] for texts in heard.values())
    mail = stack.clients("sns").list_subscriptions_by_topic(TopicArn=stack.topic_arn)["Subscriptions"]
    [vision] = [s for s in mail if s["Endpoint"] == VISION]  # the guardian subscribed the route's address
    attributes = stack.clients("sns").get_subscription_attributes(SubscriptionArn=vision["SubscriptionArn"])
    assert json.loads(attributes["Attributes"]["FilterPolicy"]) == {"audience": ["team:vision"]}


def test_an_ou_route_covers_the_accounts_under_it_even_in_a_nested_ou(sandbox, slack, org):
    stack = deploy(sandbox, slack, {org.research: route(sandbox, slack, "research")})
    open_finding(stack, org.in_research, "in-the-ou")
    open_finding(stack, org.in_lab, "in-a-nested-ou")
    with recording() as calls:
        heard = delivered(stack, slack)
    assert "organizations:ListParents" in calls.iam_actions()
    assert set(heard) == {"slack:research"}
    assert "in-the-ou" in " ".join(heard["slack:research"]) and "in-a-nested-ou" in " ".join(heard["slack:research"])


def test_an_accounts_own_route_beats_its_ous_and_the_nearer_ou_the_outer(sandbox, slack, org):
    other = sandbox("organizations").create_organizational_unit(ParentId=org.research, Name="speech")
    routes = {
        org.research: route(sandbox, slack, "research"),
        org.lab: route(sandbox, slack, "vision"),
        org.in_research: route(sandbox, slack, "speech", SPEECH),
    }
    assert other  # an OU without a route changes nothing
    stack = deploy(sandbox, slack, routes)
    open_finding(stack, org.in_research, "account-routed")
    open_finding(stack, org.in_lab, "nearer-ou")
    heard = delivered(stack, slack)
    assert set(heard) == {"slack:speech", SPEECH, "slack:vision"}
    assert "account-routed" in heard["slack:speech"][0] and "nearer-ou" in heard["slack:vision"][0]


def test_an_unrouted_account_goes_to_the_default_team_as_before(sandbox, slack, org):
    stack = deploy(sandbox, slack, {org.research: route(sandbox, slack, "research", VISION)})
    open_finding(stack, org.at_root, "nobody-routes-me")
    open_finding(stack, "123456789012", "outside-the-org")  # not in the organization at all
    heard = delivered(stack, slack)
    assert set(heard) == {"slack:default", TEAM}
    mail = " ".join(heard[TEAM])
    assert "nobody-routes-me" in mail and "outside-the-org" in mail


def test_owners_are_still_told_directly_and_the_team_of_their_account_hears_too(sandbox, slack, org):
    stack = deploy(sandbox, slack, {org.in_lab: route(sandbox, slack, "vision")})
    stack.use_slack(json.dumps({"team": slack.url + "/default", "owners": {"alice": slack.url + "/alice"}}))
    finding = open_finding(stack, org.in_lab, "alices-endpoint", owner="alice")
    heard = delivered(stack, slack)
    assert set(heard) == {"slack:alice", "slack:vision"}
    assert guardian_of(stack).findings.get(finding.id).status is Status.NOTIFIED


def test_a_teams_email_counts_once_it_confirmed_and_then_reaches_it(sandbox, slack, org):
    stack = deploy(sandbox, slack, {org.in_lab: route(sandbox, slack, "vision", VISION)}, confirmed=False)
    open_finding(stack, org.in_lab, "first")
    assert VISION not in delivered(stack, slack)  # subscribed, pending: SNS delivers nothing to it yet
    stack.confirm_subscription(VISION)
    open_finding(stack, org.in_lab, "second")
    heard = delivered(stack, slack)
    assert "second" in heard[VISION][0]
    subscriptions = stack.clients("sns").list_subscriptions_by_topic(TopicArn=stack.topic_arn)["Subscriptions"]
    assert [s["Endpoint"] for s in subscriptions].count(VISION) == 1  # subscribed once


def test_without_organizations_an_ou_route_leaves_every_account_to_the_default_team(sandbox, slack):
    stack = deploy(sandbox, slack, {"ou-ab12-cdef3456": route(sandbox, slack, "vision")})
    open_finding(stack, "123456789012", "no-organization")  # ListParents fails: AWSOrganizationsNotInUse
    assert set(delivered(stack, slack)) == {"slack:default", TEAM}


@pytest.mark.parametrize(
    ("routes", "named"),
    [
        ('{"11111111111": {"team": "vision", "email": "vision@example.com"}}', "'11111111111'"),
        ('{"ou-ab12-cdef3456": {"team": "vision"}}', "'ou-ab12-cdef3456'"),
        ('{"111111111111": {"team": "vision", "email": "not an address"}}', "email"),
        ('{"111111111111": {"team": "vision", "emial": "vision@example.com"}}', "emial"),
        (
            '{"111111111111": {"team": "v", "email": "a@example.com"}, "222222222222": {"team": "v", "email": '
            '"b@example.com"}}',
            "'222222222222'",
        ),
        ('["111111111111"]', "JSON object"),
        ("{not json", "not JSON"),
    ],
)
def test_a_bad_map_is_refused_at_configuration_naming_what_is_wrong(routes, named):
    with pytest.raises(RuntimeError) as refused:
        Settings.from_env({"TABLE_NAME": "guardian", "ACCOUNT_ROUTES": routes})
    message = str(refused.value)
    assert message.startswith("invalid function configuration: ACCOUNT_ROUTES") and named in message


LAST_WEEK = NOW - timedelta(days=9)  # billing through all of last week


def test_the_weekly_report_goes_whole_to_the_default_team_and_each_team_gets_its_accounts(sandbox, slack, org):
    stack = deploy(sandbox, slack, {org.lab: route(sandbox, slack, "vision", VISION)})
    open_finding(stack, org.in_lab, "detector", since=LAST_WEEK)
    open_finding(stack, org.at_root, "elsewhere", since=LAST_WEEK)
    with recording() as calls:
        result = stack.invoke("ReportFunction", {"report": "weekly"})
    assert (
        {"organizations:ListParents", "sns:Subscribe"} <= calls.iam_actions() <= FUNCTION_PERMISSIONS["ReportFunction"]
    )
    mail = {address: m for m in stack.mailbox() for address in m["to"]}
    assert set(mail) == {TEAM, VISION}
    assert "detector" in mail[TEAM]["text"] and "elsewhere" in mail[TEAM]["text"]
    assert "By account: " in mail[TEAM]["text"]  # the whole stack's report covers two accounts
    assert "detector" in mail[VISION]["text"] and "elsewhere" not in mail[VISION]["text"]
    assert mail[VISION]["subject"].startswith(f"Studio waste {result['period']} in account {org.in_lab}:")
    posts = {post["path"].rsplit("/", 1)[-1]: post["body"]["text"] for post in slack.posts}
    assert set(posts) == {"default", "vision"} and "elsewhere" not in posts["vision"]
    keys = {o["Key"] for o in stack.clients("s3").list_objects_v2(Bucket=REPORTS_BUCKET)["Contents"]}
    label = result["period"]
    assert f"reports/{label}/team-vision/studio-waste-{label}.json" in keys  # its own files, its own links
    assert f"reports/{label}/studio-waste-{label}.json" in keys
    stack.invoke("ReportFunction", {"report": "weekly"})  # the schedule fires again: nothing is sent twice
    assert stack.mailbox() == []


def test_a_report_asked_for_some_accounts_counts_only_theirs(sandbox, slack, org):
    stack = deploy(sandbox, slack, {})
    open_finding(stack, org.in_lab, "detector", since=LAST_WEEK)
    open_finding(stack, org.at_root, "elsewhere", since=LAST_WEEK)
    stack.invoke("ReportFunction", {"accounts": [org.at_root]})
    [mail] = stack.mailbox()
    assert mail["subject"].startswith("Studio waste ") and f"in account {org.at_root}:" in mail["subject"]
    assert "elsewhere" in mail["text"] and "detector" not in mail["text"]


def test_the_team_digest_is_split_by_the_teams_accounts(sandbox, slack, org):
    stack = deploy(sandbox, slack, {org.in_lab: route(sandbox, slack, "vision", VISION)})
    stack.parameters["TEAM_NOTIFICATIONS"] = "digest"
    open_finding(stack, org.in_lab, "detector", owner="alice")
    open_finding(stack, org.at_root, "elsewhere", owner="bob")
    stack.invoke("NotifyFunction", {"digest": True})
    mail = {address: m["text"] for m in stack.mailbox() for address in m["to"]}
    assert set(mail) == {TEAM, VISION}
    assert "detector" in mail[VISION] and "elsewhere" not in mail[VISION]
    assert "elsewhere" in mail[TEAM] and "detector" not in mail[TEAM]


def test_an_owner_nobody_can_reach_is_the_news_of_their_accounts_team(sandbox, slack, org):
    stack = deploy(sandbox, slack, {org.in_lab: route(sandbox, slack, "vision")})
    stack.parameters["TEAM_NOTIFICATIONS"] = "off"  # the team hears only that dave cannot be reached
    open_finding(stack, org.in_lab, "daves-endpoint", owner="dave")  # no address, no Slack channel
    heard = delivered(stack, slack)
    assert set(heard) == {"slack:vision"} and "dave" in heard["slack:vision"][0]


def test_a_team_address_subscribed_ahead_with_the_stacks_command_is_used_as_it_is(sandbox, slack, org):
    stack = deploy(sandbox, slack, {org.in_lab: route(sandbox, slack, "vision", VISION)}, confirmed=False)
    command = stack.template.document["Outputs"]["AccountRouteSubscribeCommand"]["Value"]["Fn::Sub"]
    attributes = json.loads(command.split("--attributes ", 1)[1].strip().strip("'").replace("TEAM", "vision"))
    stack.clients("sns").subscribe(TopicArn=stack.topic_arn, Protocol="email", Endpoint=VISION, Attributes=attributes)
    stack.confirm_subscription(VISION)  # the team followed SNS's link before any finding
    open_finding(stack, org.in_lab, "first")
    assert "first" in delivered(stack, slack)[VISION][0]
    subscriptions = stack.clients("sns").list_subscriptions_by_topic(TopicArn=stack.topic_arn)["Subscriptions"]
    assert [s["Endpoint"] for s in subscriptions].count(VISION) == 1
