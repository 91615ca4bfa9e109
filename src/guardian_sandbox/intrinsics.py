"""CloudFormation's intrinsic functions and conditions over a template document, as a stack deployed with given
parameter values would evaluate them: one evaluator for template.yaml and member-template.yaml, so the sandbox,
the simulation and the template tests cannot each read a condition their own way."""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

_SUB = re.compile(r"\$\{([^}]*)\}")
_CONDITIONS = ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition")


class IntrinsicError(ValueError):
    """A function the evaluator does not know, or a name with no value: the message names it."""


class UnresolvedReference(IntrinsicError, KeyError):
    """A Ref, GetAtt or ${...} with no value: no such ref, parameter, condition or resource."""

    def __str__(self) -> str:  # KeyError's would quote the message
        return str(self.args[0])


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Final = _NoValue()  # Ref AWS::NoValue: the key or list item that holds it is left out


@dataclass(frozen=True)
class Intrinsics:
    """``document``'s intrinsics: ``parameters`` given (the template's Defaults for the rest) and ``refs``, the
    values CloudFormation would supply: resources' physical ids, GetAtts as "Logical.Attribute" and pseudo
    parameters (AWS::Region ...)."""

    document: Mapping[str, Any]
    parameters: Mapping[str, str] = field(default_factory=dict)
    refs: Mapping[str, Any] = field(default_factory=dict)

    def parameter(self, name: str) -> str:
        """The parameter's value: the one given, else its Default (a Ref gives a string, numbers included)."""
        if name in self.parameters:
            return self.parameters[name]
        declared = self.document.get("Parameters", {})
        if name not in declared:
            raise UnresolvedReference(f"{name}: no such parameter, and no value given for it")
        if "Default" not in declared[name]:
            raise UnresolvedReference(f"Ref {name}: the parameter has no Default and no value was given")
        return str(declared[name]["Default"])

    def ref(self, name: str) -> Any:
        if name in self.refs:
            return self.refs[name]
        return self.parameter(name)

    def condition(self, name: str) -> bool:
        conditions = self.document.get("Conditions", {})
        if name not in conditions:
            raise UnresolvedReference(f"Condition {name}: the template has no such condition")
        return self._holds(conditions[name])

    def exists(self, logical_id: str) -> bool:
        """Whether the resource is created at all (its Condition, if it has one, holds)."""
        resources = self.document.get("Resources", {})
        if logical_id not in resources:
            raise UnresolvedReference(f"{logical_id}: the template has no such resource")
        condition = resources[logical_id].get("Condition")
        return condition is None or self.condition(condition)

    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic in it evaluated; AWS::NoValue drops the key or list item holding it
        (the value itself being AWS::NoValue gives NO_VALUE)."""
        if isinstance(value, list):
            return [item for item in map(self.resolve, value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            [(function, argument)] = value.items()
            if function == "Ref":
                return NO_VALUE if argument == "AWS::NoValue" else self.ref(argument)
            if function in _CONDITIONS and (function != "Condition" or isinstance(argument, str)):
                return self._holds(value)
            if function.startswith("Fn::"):
                return self._function(function, argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _function(self, function: str, argument: Any) -> Any:
        if function == "Fn::GetAtt":
            logical_id, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
            name = f"{logical_id}.{attribute}"
            if name not in self.refs:
                raise UnresolvedReference(f"Fn::GetAtt {name}: no value given for it")
            return self.refs[name]
        if function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            return self._sub(text, {name: self.resolve(v) for name, v in variables.items()})
        if function == "Fn::If":
            name, when_true, when_false = argument
            return self.resolve(when_true if self.condition(name) else when_false)
        if function == "Fn::Split":
            delimiter, source = argument
            return str(self.resolve(source)).split(delimiter)
        raise IntrinsicError(f"{function} is not among the intrinsics the sandbox evaluates")

    def _sub(self, text: str, variables: dict[str, Any]) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):  # ${!Literal} is written out as ${Literal}
                return "${" + name[1:] + "}"
            # A GetAtt (Logical.Attribute) is among the refs by that name.
            return str(variables[name] if name in variables else self.ref(name))

        return _SUB.sub(value, text)

    def _holds(self, expression: Any) -> bool:
        """A condition expression: Fn::Equals of two values (compared as the strings CloudFormation compares),
        Fn::Not/And/Or of conditions, or Condition naming one."""
        if not (isinstance(expression, dict) and len(expression) == 1):
            raise IntrinsicError(f"{expression!r} is not a condition expression")
        [(function, argument)] = expression.items()
        if function == "Fn::Equals":
            left, right = (_text(self.resolve(side)) for side in argument)
            return left == right
        if function == "Fn::Not":
            [inner] = argument
            return not self._holds(inner)
        if function == "Fn::And":
            return all(self._holds(inner) for inner in argument)
        if function == "Fn::Or":
            return any(self._holds(inner) for inner in argument)
        if function == "Condition":
            return self.condition(argument)
        raise IntrinsicError(
            f"{function} is not a condition function (Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition)"
        )


def _text(value: Any) -> Any:
    """A scalar as CloudFormation compares it: a string (true, not True); lists and mappings as they are."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, (list, dict)) else str(value)
