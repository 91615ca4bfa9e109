"""An organization in the embedded sandbox: the hub is its management account (the sandbox's own), members are
made with Organizations' CreateAccount, and member-template.yaml is deployed to every account and region as a
service-managed StackSet would: each stack instance evaluates the template's conditions, so the account-wide
roles come from the instance in the hub's region and the forwarding rules from every instance but the hub's own
account in the hub's region. The roles' trust and policies, and the rules' patterns, are read from the template
(never copied); a member is reached through OrganizationAccountAccessRole, which Organizations makes in every
account it creates (guardian_sandbox.sts_roles), and moto serves a client with its credentials as that account.

Forwarding is what the member rules do on AWS: an event in a member account and region that one of the rules
deployed there matches is put on the hub's bus, which accepts the organization's accounts only (template.yaml's
EventBusPolicy); the hub's stack then routes it by its own ingest rules (SandboxStack.deliver)."""

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any

import botocore.session
import yaml
from botocore.exceptions import ClientError
from moto.events.models import EventPattern

from guardian.arns import Location
from guardian.aws import AwsClients
from guardian_sandbox.intrinsics import Intrinsics
from guardian_sandbox.stack import SANDBOX_ACCOUNT, Delivery, SandboxStack, _matches
from guardian_sandbox.sts_roles import ORGANIZATION_ROLE
from guardian_sandbox.template import PROJECT_ROOT

MEMBER_TEMPLATE_PATH = PROJECT_ROOT / "member-template.yaml"
MEMBER_STACK = "studio-cost-guardian-member"  # the StackSet's stack instances' name
MEMBER_ROLE = "GuardianMemberRole"  # the read-only role's logical id (its name is the template's RoleName)
DEFAULT_EXTERNAL_ID = "studio-cost-guardian-sandbox"
HUB_BUS = "default"


class BusRefused(Exception):
    """The hub's bus would refuse the PutEvents: the account is not of the organization."""


@cache
def member_template() -> dict[str, Any]:
    """member-template.yaml as CloudFormation reads it (it uses the long-form intrinsics only)."""
    document: dict[str, Any] = yaml.safe_load(MEMBER_TEMPLATE_PATH.read_text())
    return document


@dataclass(frozen=True)
class StackInstance:
    """member-template.yaml in one account and region: its parameters, conditions and resolved intrinsics."""

    account: str
    region: str
    parameters: dict[str, str]

    @property
    def _template(self) -> dict[str, Any]:
        return member_template()

    @cached_property
    def _intrinsics(self) -> Intrinsics:
        """The template's intrinsics here: pseudo parameters of this account and region, a resource's Ref its
        name (a role's RoleName), and a role's GetAtt Arn its ARN in this account."""
        resources = self._template["Resources"]
        refs = {"AWS::AccountId": self.account, "AWS::Region": self.region, "AWS::Partition": "aws"}
        refs |= {logical_id: self.physical_name(logical_id) for logical_id in resources}
        refs |= {
            f"{logical_id}.Arn": f"arn:aws:iam::{self.account}:role/{self.physical_name(logical_id)}"
            for logical_id, resource in resources.items()
            if resource["Type"] == "AWS::IAM::Role"
        }
        return Intrinsics(self._template, self.parameters, refs)

    def ref(self, name: str) -> Any:
        return self._intrinsics.ref(name)

    def physical_name(self, logical_id: str) -> str:
        """The resource's name: the template's own (RoleName), else what CloudFormation would make up."""
        properties = self._template["Resources"][logical_id].get("Properties", {})
        return str(properties.get("RoleName") or f"{MEMBER_STACK}-{logical_id}-{self.region}")

    def condition(self, name: str) -> bool:
        return self._intrinsics.condition(name)

    def resources(self, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(logical id, resolved properties) of the template's resources of ``kind`` that this instance makes."""
        for logical_id, resource in self._template["Resources"].items():
            if resource["Type"] != kind or not self._intrinsics.exists(logical_id):
                continue
            yield logical_id, self.resolve(resource.get("Properties", {}))

    def resolve(self, value: Any) -> Any:
        """``value`` with its intrinsics evaluated here; AWS::NoValue drops its key."""
        return self._intrinsics.resolve(value)


@dataclass
class Organization:
    """The organization the sandbox holds: its id, accounts (the hub's first) and regions (the hub's first)."""

    hub: AwsClients
    organization_id: str
    accounts: list[str]
    regions: list[str]
    external_id: str = DEFAULT_EXTERNAL_ID
    role_name: str = MEMBER_ROLE
    _clients: dict[tuple[str, str], AwsClients] = field(default_factory=dict, repr=False)
    _rules: dict[tuple[str, str], list[tuple[str, EventPattern]]] = field(default_factory=dict, repr=False)

    @property
    def hub_account(self) -> str:
        return self.accounts[0]

    @property
    def members(self) -> list[str]:
        return self.accounts[1:]

    def locations(self) -> list[Location]:
        return [Location(region=r, account=a) for a in self.accounts for r in self.regions]

    def hub_parameters(self) -> dict[str, str]:
        """What the hub stack's parameters would set (template.yaml's OrganizationId, MemberRegions, ...)."""
        return {
            "ORGANIZATION_ID": self.organization_id,
            "MEMBER_REGIONS": ",".join(self.regions),
            "MEMBER_ROLE_NAME": self.role_name,
            "MEMBER_EXTERNAL_ID": self.external_id,
        }

    def clients(self, account: str, region: str | None = None) -> AwsClients:
        """Clients acting in ``account`` (an administrator's, through OrganizationAccountAccessRole), for seeding
        and for what its users do there; the hub account's are the hub's."""
        region = region or self.hub.region
        if account == self.hub_account and region == self.hub.region:
            return self.hub
        if account == self.hub_account and (account, region) not in self._clients:
            self._clients[account, region] = AwsClients(region, self.hub.endpoint_url, self.hub._session)
        if (account, region) not in self._clients:
            credentials = self.hub("sts").assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/{ORGANIZATION_ROLE}", RoleSessionName="sandbox-administrator"
            )["Credentials"]
            session = botocore.session.get_session()
            # The hub's loader: each service model is read once, not once per account (it is most of a session's
            # memory and time).
            session.register_component("data_loader", self.hub._session.get_component("data_loader"))
            session.set_credentials(
                credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"]
            )
            self._clients[account, region] = AwsClients(region, self.hub.endpoint_url, session)
        return self._clients[account, region]

    def deploy_members(self, parameters: dict[str, str] | None = None) -> None:
        """member-template.yaml to every account and region (the hub's own included, as a StackSet targeting
        the root does: its instance in the hub's region makes the role, the others forward)."""
        for where in self.locations():
            self.deploy_member(where.account, where.region, parameters)

    def instance(self, account: str, region: str, parameters: dict[str, str] | None = None) -> StackInstance:
        given = {
            "HubAccountId": self.hub_account,
            "HubRegion": self.hub.region,
            "HubEventBusName": HUB_BUS,
            "OrganizationId": self.organization_id,
            "ExternalId": self.external_id,
        }
        return StackInstance(account, region, given | (parameters or {}))

    def deploy_member(self, account: str, region: str, parameters: dict[str, str] | None = None) -> None:
        instance = self.instance(account, region, parameters)
        iam = self.clients(account, region)("iam")
        for logical_id, role in instance.resources("AWS::IAM::Role"):
            name = instance.physical_name(logical_id)
            trust = json.dumps(role["AssumeRolePolicyDocument"])
            try:
                iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust, Description=role.get("Description", ""))
            except ClientError as error:  # a served sandbox keeps what an earlier run deployed: updated in place
                if error.response["Error"]["Code"] != "EntityAlreadyExists":
                    raise
                iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust)
            for policy in role.get("Policies", []):
                iam.put_role_policy(
                    RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=_document(policy["PolicyDocument"])
                )
        for _, policy in instance.resources("AWS::IAM::Policy"):
            for role_name in policy["Roles"]:
                iam.put_role_policy(
                    RoleName=role_name,
                    PolicyName=policy["PolicyName"],
                    PolicyDocument=_document(policy["PolicyDocument"]),
                )
        events = self.clients(account, region)("events")
        for logical_id, rule in instance.resources("AWS::Events::Rule"):
            name = f"{MEMBER_STACK}-{logical_id}"
            events.put_rule(
                Name=name,
                EventPattern=json.dumps(rule["EventPattern"]),
                State=rule["State"],
                Description=rule["Description"],
            )
            events.put_targets(Rule=name, Targets=rule["Targets"])
        self._rules.pop((account, region), None)

    def break_member(self, account: str) -> None:
        """The member role removed (someone deleted it, or the StackSet never reached the account): the hub's
        AssumeRole there is AccessDenied from now on."""
        iam = self.clients(account)("iam")
        try:
            names = iam.list_role_policies(RoleName=self.role_name)["PolicyNames"]
        except ClientError as error:
            if error.response["Error"]["Code"] == "NoSuchEntity":
                return
            raise
        for name in names:
            iam.delete_role_policy(RoleName=self.role_name, PolicyName=name)
        iam.delete_role(RoleName=self.role_name)

    def forwarding_rules(self, account: str, region: str) -> list[tuple[str, EventPattern]]:
        """The rules deployed in the account and region that put events on the hub's bus (read back from its
        EventBridge), with their patterns."""
        if (account, region) not in self._rules:
            events = self.clients(account, region)("events")
            hub_bus = f"arn:aws:events:{self.hub.region}:{self.hub_account}:event-bus/{HUB_BUS}"
            rules = []
            for page in events.get_paginator("list_rules").paginate(NamePrefix=MEMBER_STACK):
                for rule in page["Rules"]:
                    targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
                    if rule.get("State") == "ENABLED" and any(t["Arn"] == hub_bus for t in targets):
                        rules.append((rule["Name"], EventPattern.load(rule["EventPattern"])))
            self._rules[account, region] = rules
        return self._rules[account, region]

    def forward(self, stack: SandboxStack, event: dict[str, Any]) -> list[Delivery]:
        """What happens to ``event`` on its account and region's bus: each member rule that matches puts it on
        the hub's bus (an event the hub's own account raises in the hub's region is already there), where the
        hub's rules deliver it. An event no member rule matches goes nowhere: nothing is returned."""
        account, region = str(event.get("account", "")), str(event.get("region", ""))
        if account == self.hub_account and region == self.hub.region:
            return stack.deliver(event)
        matched = [name for name, pattern in self.forwarding_rules(account, region) if _matches(pattern, event)]
        if matched and not self.bus_accepts(account):
            raise BusRefused(f"account {account} is not in {self.organization_id}: the hub's bus refuses its events")
        return [delivery for _ in matched for delivery in stack.deliver(event)]

    def bus_accepts(self, account: str) -> bool:
        """The hub bus's policy: the organization's principals may put events (aws:PrincipalOrgID)."""
        return account == self.hub_account or account in set(_organization_accounts(self.hub))


def build(
    hub: AwsClients,
    accounts: int = 3,
    regions: Sequence[str] = ("us-east-1", "eu-west-1"),
    external_id: str = DEFAULT_EXTERNAL_ID,
    member_parameters: dict[str, str] | None = None,
) -> Organization:
    """An organization of ``accounts`` accounts (the hub's, the sandbox's own, and ``accounts - 1`` made with
    CreateAccount) in ``regions`` (the hub's first), with the member template deployed to each."""
    if hub.region not in regions:
        raise ValueError(f"the regions swept include the hub's ({hub.region})")
    regions = [hub.region, *(r for r in regions if r != hub.region)]
    organizations = hub("organizations")
    try:
        organization_id = organizations.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "AlreadyInOrganizationException":
            raise
        organization_id = organizations.describe_organization()["Organization"]["Id"]
    held = [a for a in _organization_accounts(hub) if a != SANDBOX_ACCOUNT]
    for index in range(len(held), accounts - 1):
        status = organizations.create_account(
            Email=f"member-{index + 1}@example.com", AccountName=f"member-{index + 1}"
        )
        request = status["CreateAccountStatus"]["Id"]
        made = organizations.describe_create_account_status(CreateAccountRequestId=request)["CreateAccountStatus"]
        held.append(str(made["AccountId"]))
    role_name = str(member_template()["Resources"][MEMBER_ROLE]["Properties"]["RoleName"])
    organization = Organization(
        hub, organization_id, [SANDBOX_ACCOUNT, *held[: accounts - 1]], regions, external_id, role_name
    )
    organization.deploy_members(member_parameters)
    return organization


def _organization_accounts(hub: AwsClients) -> list[str]:
    pages = hub("organizations").get_paginator("list_accounts").paginate()
    return [str(account["Id"]) for page in pages for account in page["Accounts"]]


def _document(document: Any) -> str:
    """A policy document as IAM takes it (the template gives a mapping, or a JSON string made by Fn::Sub)."""
    return document if isinstance(document, str) else json.dumps(document)
