"""Reading a template: JSON or YAML (with the short `!Ref`/`!GetAtt`/`!Sub`... tags), its sections
checked as CloudFormation checks them, and its parameters resolved from the values a request gives.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/template-anatomy.html
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from conveyor.services.cloudformation import errors, sam

SECTIONS = {"AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Rules", "Mappings", "Conditions",
            "Transform", "Resources", "Outputs"}
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html
# Of the AWS-specific types, the image id (what a launch template boots): a text whose value CloudFormation
# checks names an image; Conveyor's EC2 boots any well-formed id, so the form is what is checked.
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-supplied-parameter-types.html
IMAGE_ID = "AWS::EC2::Image::Id"
PARAMETER_TYPES = {"String", "Number", "List<Number>", "CommaDelimitedList", IMAGE_ID}
MAX_BODY = 51200  # TemplateBody's limit (CreateStack's API reference)

# The short form of each intrinsic function; `!GetAtt A.B` is the one whose scalar splits.
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html
_SHORT_TAGS = ("Base64", "Cidr", "FindInMap", "GetAtt", "GetAZs", "ImportValue", "Join", "Select", "Split",
               "Sub", "Transform", "If", "Equals", "And", "Or", "Not")


class _Loader(yaml.SafeLoader):
    """YAML as CloudFormation reads it: intrinsic-function tags, and no implicit dates ("2012-10-17" stays
    the string a policy's Version must be)."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def _construct(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    assert isinstance(node, yaml.MappingNode)
    return loader.construct_mapping(node, deep=True)


def _short(name: str) -> Any:
    def construct(loader: _Loader, node: yaml.Node) -> Any:
        value = _construct(loader, node)
        if name == "GetAtt" and isinstance(value, str):
            logical, _, attribute = value.partition(".")
            value = [logical, attribute]
        return {f"Fn::{name}": value}
    return construct


for _name in _SHORT_TAGS:
    _Loader.add_constructor(f"!{_name}", _short(_name))


def _keyed(key: str) -> Any:
    def construct(loader: _Loader, node: yaml.Node) -> Any:
        return {key: _construct(loader, node)}
    return construct


_Loader.add_constructor("!Ref", _keyed("Ref"))
_Loader.add_constructor("!Condition", _keyed("Condition"))


def _json_or_yaml(text: str) -> Any:
    """A template that looks like JSON: CloudFormation takes "loose" JSON too (trailing commas, unquoted
    strings: what YAML, of which JSON is a subset, reads), as its users found (stelligent/cfn_nag#203,
    humanmade/cf-to-tf#7; a JSON template it refuses is answered "YAML not well-formed",
    aws-samples/csv-to-dynamodb#6). What neither reads is refused with JSON's complaint."""
    try:
        return json.loads(text)
    except ValueError as exc:
        try:
            return yaml.load(text, Loader=_Loader)  # noqa: S506 (the loader builds plain data and tags only)
        except yaml.YAMLError:
            raise exc from None


def load_document(body: str) -> dict[str, Any]:
    """The template's text read (JSON, or YAML with the short forms as their long ones), nothing more checked."""
    text = body.strip()
    if not text:
        raise errors.validation("Template body is empty")
    try:
        document = _json_or_yaml(text) if text.startswith("{") else yaml.load(text, Loader=_Loader)  # noqa: S506
    except (ValueError, yaml.YAMLError) as exc:
        raise errors.template_format(f"{'JSON' if text.startswith('{') else 'YAML'} not well-formed. ({exc})")
    if not isinstance(document, dict):
        raise errors.template_format("unsupported structure.")
    return document


def declared_transforms(body: str) -> list[str]:
    """The transforms a template names (its `Transform`, a name or a list of them)."""
    declared = load_document(body).get("Transform")
    if declared is None:
        return []
    return [str(name) for name in declared] if isinstance(declared, list) else [str(declared)]


def parse(body: str) -> dict[str, Any]:
    """The template as a document; a template CloudFormation could not read raises its ValidationError."""
    document = load_document(body)
    unknown = sorted(set(document) - SECTIONS - ({"Globals"} if "Transform" in document else set()))
    if unknown:
        raise errors.template_format(f"Invalid template property or properties {unknown}")
    if document.get("Rules"):
        raise errors.template_format("Conveyor does not evaluate a template's Rules section yet")
    document = sam.transform(document)
    resources = document.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise errors.template_format("At least one Resources member must be defined.")
    for logical, resource in resources.items():
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise errors.template_format(f"[/Resources/{logical}] Every Resources object must contain a Type member.")
        if not str(logical).isalnum():
            raise errors.template_format(f"Resource name {logical} is non alphanumeric.")
    for section in ("Parameters", "Mappings", "Conditions", "Outputs"):
        if section in document and not isinstance(document[section], dict):
            raise errors.template_format(f"{section} must be an object")
    for key, spec in (document.get("Parameters") or {}).items():
        if not isinstance(spec, dict) or spec.get("Type") not in PARAMETER_TYPES:
            raise errors.template_format(
                f"Unrecognized parameter type: {spec.get('Type') if isinstance(spec, dict) else spec} ({key})")
    return document


@dataclass
class ParameterValues:
    values: dict[str, Any] = field(default_factory=dict)  # what Ref gives: a string, or a list for list types
    given: dict[str, str] = field(default_factory=dict)  # as the stack describes them (strings)
    no_echo: set[str] = field(default_factory=set)


def resolve_parameters(document: dict[str, Any], supplied: list[dict[str, Any]],
                       previous: dict[str, str] | None = None) -> ParameterValues:
    """Each declared parameter's value: given, previous (UsePreviousValue), or its Default; checked against
    AllowedValues, AllowedPattern, lengths and values as CloudFormation checks them."""
    declared: dict[str, Any] = document.get("Parameters") or {}
    given: dict[str, str] = {}
    for item in supplied:
        key = str(item.get("ParameterKey"))
        if key not in declared:
            raise errors.validation(f"Parameters: [{key}] do not exist in the template")
        if item.get("UsePreviousValue"):
            if previous is None or key not in previous:
                raise errors.validation(f"Invalid input for parameter key {key}. Cannot specify usePreviousValue "
                                        "as true for a parameter key not in the previous template")
            given[key] = previous[key]
        elif item.get("ParameterValue") is not None:
            given[key] = str(item["ParameterValue"])
    out = ParameterValues()
    missing = [key for key, spec in declared.items() if key not in given and "Default" not in spec]
    if missing:
        raise errors.validation(f"Parameters: [{', '.join(missing)}] must have values")
    for key, spec in declared.items():
        raw = given.get(key, _as_text(spec.get("Default")))
        _check_parameter(key, spec, raw)
        out.given[key] = raw
        kind = spec.get("Type")
        out.values[key] = [part.strip() for part in raw.split(",")] if kind in ("CommaDelimitedList", "List<Number>") \
            else raw
        if str(spec.get("NoEcho", "false")).lower() == "true":
            out.no_echo.add(key)
    return out


def _as_text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _check_parameter(key: str, spec: dict[str, Any], raw: str) -> None:
    import re

    described = spec.get("ConstraintDescription")
    allowed = spec.get("AllowedValues")
    if allowed is not None and raw not in [_as_text(v) for v in allowed]:
        raise errors.validation(described or f"Parameter '{key}' must be one of AllowedValues")
    pattern = spec.get("AllowedPattern")
    if pattern is not None and re.fullmatch(str(pattern), raw) is None:
        raise errors.validation(described or f"Parameter '{key}' must match pattern {pattern}")
    if "MinLength" in spec and len(raw) < int(spec["MinLength"]):
        raise errors.validation(described or f"Parameter '{key}' must contain at least {spec['MinLength']} characters")
    if "MaxLength" in spec and len(raw) > int(spec["MaxLength"]):
        raise errors.validation(described or f"Parameter '{key}' must contain at most {spec['MaxLength']} characters")
    if spec.get("Type") == IMAGE_ID and re.fullmatch(r"ami-[0-9a-f]{8}(?:[0-9a-f]{9})?", raw) is None:
        raise errors.validation(f"Parameter validation failed: parameter value {raw} for parameter name {key} "
                                "does not exist")
    if spec.get("Type") == "Number":
        try:
            number = float(raw)
        except ValueError:
            raise errors.validation(f"Parameter '{key}' must be a number")
        if "MinValue" in spec and number < float(spec["MinValue"]):
            raise errors.validation(described or f"Parameter '{key}' must be a number not less than {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            raise errors.validation(described or f"Parameter '{key}' must be a number not greater than {spec['MaxValue']}")


def parameter_declarations(document: dict[str, Any]) -> list[dict[str, Any]]:
    """ValidateTemplate's and GetTemplateSummary's Parameters."""
    out = []
    for key, spec in (document.get("Parameters") or {}).items():
        entry: dict[str, Any] = {"ParameterKey": key, "NoEcho": str(spec.get("NoEcho", "false")).lower() == "true"}
        if "Default" in spec:
            entry["DefaultValue"] = _as_text(spec["Default"])
        if "Description" in spec:
            entry["Description"] = str(spec["Description"])
        entry["ParameterType"] = spec.get("Type")
        if "AllowedValues" in spec:
            entry["ParameterConstraints"] = {"AllowedValues": [_as_text(v) for v in spec["AllowedValues"]]}
        out.append(entry)
    return out
