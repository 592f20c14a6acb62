"""AWS::Lambda::LayerVersion and AWS::Lambda::LayerVersionPermission. A layer version is immutable and so
is a statement of its policy: every property of either requires replacement.
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-lambda-layerversion.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-lambda-layerversionpermission.html
"""

from __future__ import annotations

from typing import Any

from conveyor.services.cloudformation.errors import ResourceFailure
from conveyor.services.cloudformation.resources.base import Made, ResourceType, Target, ignore_missing

_GONE = ("ResourceNotFoundException",)


def _layer_and_number(version_arn: str) -> tuple[str, int]:
    """A layer version's ARN (arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION) as the layer's ARN and the
    version's number, as the layer operations take them."""
    layer, _, number = version_arn.rpartition(":")
    if layer.split(":")[5:6] != ["layer"] or not number.isdigit():
        raise ResourceFailure(f"Properties validation failed for resource with message: "
                              f"#/LayerVersionArn: {version_arn} is not a layer version's ARN")
    return layer, int(number)


class LayerVersion(ResourceType):
    """Content comes from S3 (the template has no inline form). Ref and LayerVersionArn give the version's
    ARN. A layer the template does not name gets a generated name."""

    type_name = "AWS::Lambda::LayerVersion"
    properties = frozenset({"LayerName", "Content", "Description", "CompatibleRuntimes", "CompatibleArchitectures",
                            "LicenseInfo"})
    required = frozenset({"Content"})
    replace_on = properties

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        content = properties["Content"] if isinstance(properties["Content"], dict) else {}
        if not (content.get("S3Bucket") and content.get("S3Key")):
            raise ResourceFailure("Properties validation failed for resource with message: "
                                  "#/Content: required key [S3Bucket] or [S3Key] not found")
        request: dict[str, Any] = {
            "LayerName": str(properties.get("LayerName") or target.generated_name(64)),
            "Content": {key: str(content[key]) for key in ("S3Bucket", "S3Key", "S3ObjectVersion") if key in content}}
        for key in ("Description", "LicenseInfo"):
            if key in properties:
                request[key] = str(properties[key])
        for key in ("CompatibleRuntimes", "CompatibleArchitectures"):
            if key in properties:
                request[key] = [str(item) for item in properties[key] or []]
        published = await target.call("lambda", "PublishLayerVersion", request)
        arn = str(published["LayerVersionArn"])
        return Made(arn, {"LayerVersionArn": arn})

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        return current  # nothing changes in place: every change publishes a new version

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        layer, number = _layer_and_number(current.physical_id)
        await ignore_missing(target, "lambda", "DeleteLayerVersion", {"LayerName": layer, "VersionNumber": number},
                             *_GONE)


class LayerVersionPermission(ResourceType):
    """One statement of a layer version's policy. Ref gives its id: the version's ARN and the statement's id
    joined by '#', as CloudFormation's own handler names it."""

    type_name = "AWS::Lambda::LayerVersionPermission"
    properties = frozenset({"LayerVersionArn", "Action", "Principal", "OrganizationId"})
    required = frozenset({"LayerVersionArn", "Action", "Principal"})
    replace_on = properties

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        version_arn = str(properties["LayerVersionArn"])
        layer, number = _layer_and_number(version_arn)
        statement = target.generated_name(100)
        request: dict[str, Any] = {"LayerName": layer, "VersionNumber": number, "StatementId": statement,
                                   "Action": str(properties["Action"]), "Principal": str(properties["Principal"])}
        if properties.get("OrganizationId"):
            request["OrganizationId"] = str(properties["OrganizationId"])
        await target.call("lambda", "AddLayerVersionPermission", request)
        return Made(f"{version_arn}#{statement}")

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        return current  # nothing changes in place: every change replaces

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        version_arn, _, statement = current.physical_id.rpartition("#")
        layer, number = _layer_and_number(version_arn)
        await ignore_missing(target, "lambda", "RemoveLayerVersionPermission",
                             {"LayerName": layer, "VersionNumber": number, "StatementId": statement}, *_GONE)
