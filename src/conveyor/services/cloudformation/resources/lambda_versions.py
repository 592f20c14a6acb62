"""AWS::Lambda::Version and AWS::Lambda::Alias.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-lambda-version.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-lambda-alias.html
"""

from __future__ import annotations

from typing import Any

from conveyor.services.cloudformation.resources.base import Made, ResourceType, Target, ignore_missing

_GONE = ("ResourceNotFoundException",)


class Version(ResourceType):
    """A published, immutable version: every property requires replacement, and Ref is the version's ARN."""

    type_name = "AWS::Lambda::Version"
    properties = frozenset({"FunctionName", "Description", "CodeSha256"})
    required = frozenset({"FunctionName"})
    replace_on = properties

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        request: dict[str, Any] = {key: str(properties[key]) for key in ("FunctionName", "Description", "CodeSha256")
                   if key in properties}
        published = await target.call("lambda", "PublishVersion", request)
        arn = str(published["FunctionArn"])
        return Made(arn, {"Version": published["Version"], "FunctionArn": arn})

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        return current  # nothing changes in place: every change replaces

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        function, _, version = current.physical_id.rpartition(":")
        await ignore_missing(target, "lambda", "DeleteFunction", {"FunctionName": function, "Qualifier": version},
                             *_GONE)


def _routing(value: Any) -> dict[str, Any]:
    """The template lists the extra versions' weights; the API takes them as a map of version to weight."""
    weights = (value or {}).get("AdditionalVersionWeights") or []
    return {"AdditionalVersionWeights": {str(w["FunctionVersion"]): float(w["FunctionWeight"]) for w in weights}}


class Alias(ResourceType):
    """Ref is the alias's ARN; the version it points to, its description and routing change in place."""

    type_name = "AWS::Lambda::Alias"
    properties = frozenset({"FunctionName", "Name", "FunctionVersion", "Description", "RoutingConfig"})
    required = frozenset({"FunctionName", "Name", "FunctionVersion"})
    replace_on = frozenset({"FunctionName", "Name"})

    @staticmethod
    def _request(properties: dict[str, Any]) -> dict[str, Any]:
        request: dict[str, Any] = {"FunctionName": str(properties["FunctionName"]), "Name": str(properties["Name"]),
                                   "FunctionVersion": str(properties["FunctionVersion"])}
        if "Description" in properties:
            request["Description"] = str(properties["Description"])
        if properties.get("RoutingConfig"):
            request["RoutingConfig"] = _routing(properties["RoutingConfig"])
        return request

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        request = self._request(properties)
        arn = str((await target.call("lambda", "CreateAlias", request))["AliasArn"])
        return Made(arn, {"AliasArn": arn})

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        request = self._request(new)
        if "Description" not in request:
            request["Description"] = ""
        await target.call("lambda", "UpdateAlias", request)
        return current

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        await ignore_missing(target, "lambda", "DeleteAlias", {"FunctionName": str(properties["FunctionName"]),
                                                               "Name": str(properties["Name"])}, *_GONE)
