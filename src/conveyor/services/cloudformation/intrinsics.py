"""The intrinsic functions, condition functions and pseudo parameters, evaluated over a template value.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/pseudo-parameter-reference.html
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conveyor.services.cloudformation import errors


class _NoValue:
    """AWS::NoValue: the property (or list item) it stands for is removed."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class Unresolvable(Exception):
    """A value that cannot be known yet (a change set's preview of an attribute a change will set)."""


def _no_resource(name: str) -> Any:
    raise errors.template_error(f"instance of Fn::GetAtt references undefined resource {name}")


@dataclass
class Scope:
    """What the functions read: the stack, its parameters, mappings and conditions, and the resources made
    so far (their Ref values and attributes, from the stack engine)."""

    region: str
    account: str
    stack_name: str
    stack_id: str
    parameters: dict[str, Any] = field(default_factory=dict)
    mappings: dict[str, Any] = field(default_factory=dict)
    conditions: dict[str, Any] = field(default_factory=dict)  # the template's Conditions section
    ref: Callable[[str], Any] = _no_resource
    attribute: Callable[[str, str], Any] = lambda name, attribute: _no_resource(name)
    export: Callable[[str], str | None] = lambda name: None
    zones: Callable[[str], list[str]] = lambda region: [f"{region}{z}" for z in "abc"]
    notification_arns: list[str] = field(default_factory=list)
    _evaluated: dict[str, bool] = field(default_factory=dict)

    # -- pseudo parameters and Ref ---------------------------------------------------------------------
    def pseudo(self, name: str) -> Any:
        known: dict[str, Any] = {
            "AWS::AccountId": self.account, "AWS::Region": self.region, "AWS::StackName": self.stack_name,
            "AWS::StackId": self.stack_id, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE, "AWS::NotificationARNs": list(self.notification_arns)}
        if name not in known:
            raise errors.template_format(f"Unresolved resource dependencies [{name}] in the Resources block of "
                                         "the template")
        return known[name]

    def resolve_ref(self, name: Any) -> Any:
        if not isinstance(name, str):
            raise errors.template_error("Ref must be a string")
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters:
            return self.parameters[name]
        return self.ref(name)

    # -- conditions --------------------------------------------------------------------------------------
    def condition(self, name: str) -> bool:
        if name not in self._evaluated:
            if name not in self.conditions:
                raise errors.template_format(f"Unresolved condition dependency {name} in Fn::If")
            self._evaluated[name] = self._truth(self.conditions[name])
        return self._evaluated[name]

    def _truth(self, value: Any) -> bool:
        result = self.evaluate(value)
        if isinstance(result, bool):
            return result
        if isinstance(result, str) and result.lower() in ("true", "false"):
            return result.lower() == "true"
        raise errors.template_error(f"condition must evaluate to a boolean, not {result!r}")

    # -- evaluation --------------------------------------------------------------------------------------
    def evaluate(self, value: Any) -> Any:
        """The value with every function applied and every AWS::NoValue removed."""
        if isinstance(value, list):
            return [item for item in (self.evaluate(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, argument), = value.items()
            if key == "Ref":
                return self.resolve_ref(argument)
            if key == "Condition" and isinstance(argument, str):
                return self.condition(argument)
            function = _FUNCTIONS.get(key)
            if function is not None:
                return function(self, argument)
        return {k: v for k, v in ((k, self.evaluate(v)) for k, v in value.items()) if v is not NO_VALUE}

    def text(self, value: Any, function: str) -> str:
        result = self.evaluate(value)
        if isinstance(result, bool):
            return "true" if result else "false"
        if isinstance(result, (int, float)):
            return str(result)
        if not isinstance(result, str):
            raise errors.template_error(f"every value of {function} must be a string, not {result!r}")
        return result

    def items(self, value: Any, function: str) -> list[Any]:
        result = self.evaluate(value)
        if not isinstance(result, list):
            raise errors.template_error(f"{function} needs a list, not {result!r}")
        return result


def _args(argument: Any, count: int, function: str) -> list[Any]:
    if not isinstance(argument, list) or len(argument) != count:
        raise errors.template_error(f"{function} takes a list of {count} values")
    return argument


def _get_att(scope: Scope, argument: Any) -> Any:
    if isinstance(argument, str):
        argument = argument.split(".", 1)
    name, attribute = _args(argument, 2, "Fn::GetAtt")
    return scope.attribute(str(name), scope.text(attribute, "Fn::GetAtt"))


def _sub(scope: Scope, argument: Any) -> str:
    if isinstance(argument, list):
        body, variables = _args(argument, 2, "Fn::Sub")
        values = {str(k): scope.text(v, "Fn::Sub") for k, v in (variables or {}).items()}
    else:
        body, values = argument, {}
    if not isinstance(body, str):
        raise errors.template_error("Fn::Sub's string must be a string")

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):  # ${!Literal} writes ${Literal}
            return "${" + name[1:] + "}"
        name = name.strip()
        if name in values:
            return values[name]
        if "." in name and not name.startswith("AWS::"):
            logical, _, attribute = name.partition(".")
            return scope.text({"Fn::GetAtt": [logical, attribute]}, "Fn::Sub")
        return scope.text({"Ref": name}, "Fn::Sub")

    return _SUB_VARIABLE.sub(replace, body)


def _join(scope: Scope, argument: Any) -> str:
    delimiter, values = _args(argument, 2, "Fn::Join")
    return str(delimiter).join(scope.text(v, "Fn::Join") if not isinstance(v, str) else v
                               for v in scope.items(values, "Fn::Join"))


def _select(scope: Scope, argument: Any) -> Any:
    index, values = _args(argument, 2, "Fn::Select")
    items = scope.items(values, "Fn::Select")
    position = int(scope.text(index, "Fn::Select"))
    if not 0 <= position < len(items):
        raise errors.template_error(f"Fn::Select cannot select nonexistent value at index {position}")
    return items[position]


def _split(scope: Scope, argument: Any) -> list[str]:
    delimiter, value = _args(argument, 2, "Fn::Split")
    return scope.text(value, "Fn::Split").split(str(delimiter))


def _if(scope: Scope, argument: Any) -> Any:
    name, when_true, when_false = _args(argument, 3, "Fn::If")
    return scope.evaluate(when_true if scope.condition(str(name)) else when_false)


def _equals(scope: Scope, argument: Any) -> bool:
    left, right = _args(argument, 2, "Fn::Equals")
    return bool(_plain(scope.evaluate(left)) == _plain(scope.evaluate(right)))


def _plain(value: Any) -> Any:
    """Fn::Equals compares values as strings ("1" equals 1, "true" equals true)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _and(scope: Scope, argument: Any) -> bool:
    if not isinstance(argument, list) or not 2 <= len(argument) <= 10:
        raise errors.template_error("Fn::And takes between 2 and 10 conditions")
    return all(scope._truth(v) for v in argument)


def _or(scope: Scope, argument: Any) -> bool:
    if not isinstance(argument, list) or not 2 <= len(argument) <= 10:
        raise errors.template_error("Fn::Or takes between 2 and 10 conditions")
    return any(scope._truth(v) for v in argument)


def _not(scope: Scope, argument: Any) -> bool:
    (condition,) = _args(argument, 1, "Fn::Not")
    return not scope._truth(condition)


def _find_in_map(scope: Scope, argument: Any) -> Any:
    name, top, second = (scope.text(v, "Fn::FindInMap") for v in _args(argument, 3, "Fn::FindInMap"))
    try:
        return scope.mappings[name][top][second]
    except (KeyError, TypeError):
        raise errors.template_error(f"Unable to get mapping for {name}::{top}::{second}")


def _get_azs(scope: Scope, argument: Any) -> list[str]:
    region = scope.text(argument, "Fn::GetAZs") if argument not in ("", None) else ""
    return scope.zones(region or scope.region)


def _base64(scope: Scope, argument: Any) -> str:
    return base64.b64encode(scope.text(argument, "Fn::Base64").encode("utf-8")).decode("ascii")


def _import_value(scope: Scope, argument: Any) -> str:
    name = scope.text(argument, "Fn::ImportValue")
    value = scope.export(name)
    if value is None:
        raise errors.validation(f"No export named {name} found. Rollback requested by user.")
    return value


def _cidr(scope: Scope, argument: Any) -> list[str]:
    """Fn::Cidr [block, count, bits]: the first `count` subnets with `bits` host bits each."""
    block, count, bits = _args(argument, 3, "Fn::Cidr")
    network = ipaddress.ip_network(scope.text(block, "Fn::Cidr"), strict=False)
    prefix = network.max_prefixlen - int(scope.text(bits, "Fn::Cidr"))
    if prefix < network.prefixlen:
        raise errors.template_error("Fn::Cidr's cidrBits are more than the block holds")
    subnets: list[str] = []
    for subnet in network.subnets(new_prefix=prefix):
        if len(subnets) == int(scope.text(count, "Fn::Cidr")):
            break
        subnets.append(str(subnet))
    return subnets


_FUNCTIONS: dict[str, Callable[[Scope, Any], Any]] = {
    "Fn::GetAtt": _get_att, "Fn::Sub": _sub, "Fn::Join": _join, "Fn::Select": _select, "Fn::Split": _split,
    "Fn::If": _if, "Fn::Equals": _equals, "Fn::And": _and, "Fn::Or": _or, "Fn::Not": _not,
    "Fn::FindInMap": _find_in_map, "Fn::GetAZs": _get_azs, "Fn::Base64": _base64,
    "Fn::ImportValue": _import_value, "Fn::Cidr": _cidr,
}


def references(value: Any) -> set[str]:
    """The names a value refers to by Ref, Fn::GetAtt and Fn::Sub (resources and parameters alike)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        if len(value) == 1:
            (key, argument), = value.items()
            if key == "Ref" and isinstance(argument, str):
                return {argument}
            if key == "Fn::GetAtt":
                parts = argument.split(".", 1) if isinstance(argument, str) else argument
                if isinstance(parts, list) and parts and isinstance(parts[0], str):
                    found.add(parts[0])
                    return found | references(parts[1:])
            if key == "Fn::Sub":
                body, variables = (argument if isinstance(argument, list) and len(argument) == 2
                                   else (argument, {}))
                local = set(variables) if isinstance(variables, dict) else set()
                if isinstance(body, str):
                    for match in _SUB_VARIABLE.finditer(body):
                        name = match.group(1).strip()
                        if not name.startswith("!") and name not in local:
                            found.add(name.split(".", 1)[0] if not name.startswith("AWS::") else name)
                return found | references(variables)
        for item in value.values():
            found |= references(item)
    return found
