"""Each resource type against CloudFormation's own resource provider schema (bundled with cfn-lint, from the
CloudFormation registry): every property it honours is one the type has, and it replaces a resource for
exactly the properties the schema lists as create-only ("Update requires: Replacement"), or create-only
on a condition."""

from __future__ import annotations

import pytest
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from conveyor.services.cloudformation.resources import TYPES
from conveyor.services.cloudformation.resources.base import ResourceType

# Deliberate differences, each with its reason.
REPLACED_THOUGH_UPDATABLE = {
    # A subscription's Region names where the topic is; Conveyor makes the subscription anew there.
    ("AWS::SNS::Subscription", "Region"),
    # A record set is named by its name, type and set identifier: a record of another type or identifier is
    # another record, made anew (in the same change of the stack) and the old one deleted.
    # (Newer provider schemas no longer list Name as create-only either.)
    ("AWS::Route53::RecordSet", "Name"),
    ("AWS::Route53::RecordSet", "Type"),
    ("AWS::Route53::RecordSet", "SetIdentifier"),
}


@pytest.mark.parametrize("type_name", sorted(TYPES))
def test_a_type_honours_only_its_properties_and_replaces_as_documented(type_name: str) -> None:
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", type_name).schema
    kind = TYPES[type_name]
    assert kind.properties <= set(schema["properties"]), sorted(kind.properties - set(schema["properties"]))
    paths = schema.get("createOnlyProperties", [])
    create_only = {path.split("/")[2] for path in paths if path.count("/") == 2}
    # Create-only parts of a property (a health check's HealthCheckConfig/Type): the type decides by
    # comparing those parts (needs_replacement), so it may list the property or not.
    nested = {path.split("/")[2] for path in paths if path.count("/") > 2} - create_only
    if nested & kind.properties:
        assert type(kind).needs_replacement is not ResourceType.needs_replacement, sorted(nested)
    # Create-only when changed in certain ways (a DynamoDB table's KeySchema): the resource reference says
    # "Update requires: Replacement", so a type may replace on them too.
    conditional = {path.split("/")[2] for path in schema.get("conditionalCreateOnlyProperties", [])}
    exempt = {name for kind_name, name in REPLACED_THOUGH_UPDATABLE if kind_name == type_name}
    replaced = set(kind.replace_on) - exempt
    assert (create_only & kind.properties) - exempt <= replaced <= (create_only | conditional | nested) & kind.properties, \
        replaced


# The alarm's schema requires nothing, yet PutMetricAlarm cannot make an alarm without these two.
# A hosted zone's schema requires nothing, yet CreateHostedZone cannot make one without its Name.
REQUIRED_BY_THE_API = {"AWS::CloudWatch::Alarm": {"ComparisonOperator", "EvaluationPeriods"},
                       "AWS::Route53::HostedZone": {"Name"}}


@pytest.mark.parametrize("type_name", sorted(TYPES))
def test_a_type_requires_what_its_schema_requires(type_name: str) -> None:
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", type_name).schema
    assert set(TYPES[type_name].required) == set(schema.get("required", [])) | REQUIRED_BY_THE_API.get(type_name, set())
