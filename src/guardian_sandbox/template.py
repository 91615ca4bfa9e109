"""template.yaml, read the way the sandbox and the tests need it: so the fakes cannot drift from the
infrastructure, the table schema, the functions' environment and the rule patterns all come from here."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from guardian_sandbox.intrinsics import Intrinsics

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"


class _CloudFormationLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form intrinsics (!Ref, !Sub, !GetAtt ...) as plain dicts."""


def _intrinsic(loader: yaml.Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)  # a YAML node is a scalar, a sequence or a mapping
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


@dataclass(frozen=True)
class Rule:
    function: str  # logical id of the target function
    name: str  # the event's name in the function's Events
    pattern: dict[str, Any]

    @property
    def pattern_json(self) -> str:
        return json.dumps(self.pattern)


class Template:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.values: dict[str, str] = {}  # parameter values given (a Deployment's): the rest are their Defaults

    @classmethod
    def load(cls, path: Path = TEMPLATE_PATH) -> "Template":
        return cls(yaml.load(path.read_text(), Loader=_CloudFormationLoader))

    @property
    def resources(self) -> dict[str, Any]:
        return self.document["Resources"]

    def parameter_default(self, name: str) -> str:
        """The parameter's value: the one given (a Deployment's), else its Default."""
        return self.intrinsics().parameter(name)

    def intrinsics(self, refs: Mapping[str, Any] | None = None) -> Intrinsics:
        """The template's intrinsics and conditions, for its parameter values and ``refs`` (resources' physical
        ids, GetAtts as "Logical.Attribute", pseudo parameters)."""
        return Intrinsics(self.document, self.values, refs or {})

    def functions(self) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == "AWS::Serverless::Function"}

    def function_dir(self, function: str) -> Path:
        return PROJECT_ROOT / self.functions()[function]["Properties"]["CodeUri"]

    def rules(self) -> list[Rule]:
        return [
            Rule(function, name, event["Properties"]["Pattern"])
            for function, resource in self.functions().items()
            for name, event in (resource["Properties"].get("Events") or {}).items()
            if event["Type"] == "EventBridgeRule"
        ]

    def stream_event(self, function: str) -> dict[str, Any]:
        """The properties of a function's DynamoDB stream event (FilterCriteria, retries, destinations)."""
        for event in self.functions()[function]["Properties"]["Events"].values():
            if event["Type"] == "DynamoDB":
                return event["Properties"]
        raise KeyError(f"{function} reads no DynamoDB stream")

    def table_definition(self, name: str = "GuardianTable") -> dict[str, Any]:
        """The table's properties in CreateTable's shape, for moto or a local DynamoDB."""
        props = self.resources[name]["Properties"]
        definition = {
            "TableName": "",
            "BillingMode": props["BillingMode"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "GlobalSecondaryIndexes": props.get("GlobalSecondaryIndexes", []),
        }
        if "StreamSpecification" in props:
            definition["StreamSpecification"] = {"StreamEnabled": True} | props["StreamSpecification"]
        return definition

    def environment(self, function: str, refs: dict[str, str]) -> dict[str, str]:
        """A function's environment, with !Ref to parameters (their defaults) and resources resolved."""
        variables = dict(self.document["Globals"]["Function"]["Environment"]["Variables"])
        own = self.functions()[function]["Properties"].get("Environment", {}).get("Variables", {})
        variables.update(own)
        return {key: self.resolve(value, refs) for key, value in variables.items()}

    def resolve(self, value: Any, refs: dict[str, str]) -> str:
        """A property's value as a string: its intrinsics resolved from ``refs``, else the parameter values."""
        return str(self.intrinsics(refs).resolve(value))

    def state_machine_definition(self, name: str, refs: dict[str, str]) -> dict[str, Any]:
        """A state machine's Amazon States Language definition (its DefinitionString's !Sub resolved from
        ``refs``, then parameter defaults), as Step Functions would be given it."""
        properties = self.resources[name]["Properties"]
        if "DefinitionString" not in properties:
            raise KeyError(f"{name} has no inline DefinitionString")
        definition: dict[str, Any] = json.loads(self.resolve(properties["DefinitionString"], refs))
        return definition

    def policy_statements(self, function: str) -> list[tuple[dict[str, Any], str | None]]:
        """A function's policy statements, each with the condition it depends on (or None): its inline
        policies, and the AWS::IAM::Policy resources attached to its role (SAM names it <function>Role)."""
        statements = []
        for policy in self.functions()[function]["Properties"].get("Policies", []):
            for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
                if "Fn::If" in statement:
                    condition, when_true, _ = statement["Fn::If"]
                    statements.append((when_true, condition))
                else:
                    statements.append((statement, None))
        for resource in self.resources.values():
            roles = resource.get("Properties", {}).get("Roles", [])
            if resource["Type"] == "AWS::IAM::Policy" and {"Ref": f"{function}Role"} in roles:
                document = self.policy_document(resource["Properties"]["PolicyDocument"])
                statements += [(statement, resource.get("Condition")) for statement in document["Statement"]]
        return statements

    @staticmethod
    def policy_document(document: Any) -> dict[str, Any]:
        """A policy document given as YAML, or as a !Sub JSON string (its ${...} left as written)."""
        if isinstance(document, dict) and isinstance(document.get("Fn::Sub"), str):
            parsed: dict[str, Any] = json.loads(document["Fn::Sub"])
            return parsed
        return dict(document)

    def policy_actions(self, function: str) -> set[str]:
        """Every IAM action a function's inline policies can allow (conditional statements included)."""
        actions: set[str] = set()
        for statement, _ in self.policy_statements(function):
            if statement.get("Effect") == "Allow":
                listed = statement["Action"]
                actions.update([listed] if isinstance(listed, str) else listed)
        return actions


@cache
def template() -> Template:
    return Template.load()
