"""How a function is reached: AWS::Lambda::Url (its function URL) and AWS::Lambda::EventInvokeConfig (its
asynchronous invocation settings), each for the function itself or one of its aliases or versions.
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-lambda-url.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-lambda-eventinvokeconfig.html
"""

from __future__ import annotations

from typing import Any

from conveyor.services.cloudformation.resources.base import (
    Made,
    ResourceType,
    Target,
    as_bool,
    as_int,
    ignore_missing,
)

_GONE = ("ResourceNotFoundException",)


def _cors(value: Any) -> dict[str, Any]:
    """The template's Cors as the API takes it (the same members; MaxAge and AllowCredentials typed, as a
    template's parameters may give them as text)."""
    cors = dict(value or {})
    if "MaxAge" in cors:
        cors["MaxAge"] = as_int(cors["MaxAge"], "Cors.MaxAge")
    if "AllowCredentials" in cors:
        cors["AllowCredentials"] = as_bool(cors["AllowCredentials"])
    return cors


def _qualified(properties: dict[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = {"FunctionName": str(properties["TargetFunctionArn"])}
    if properties.get("Qualifier"):
        request["Qualifier"] = str(properties["Qualifier"])
    return request


class Url(ResourceType):
    """A function URL. Ref and FunctionArn give the function's ARN (with the alias, for an alias's URL);
    FunctionUrl gives the URL. The target and qualifier require replacement; the rest changes in place."""

    type_name = "AWS::Lambda::Url"
    properties = frozenset({"TargetFunctionArn", "Qualifier", "AuthType", "Cors", "InvokeMode"})
    required = frozenset({"TargetFunctionArn", "AuthType"})
    replace_on = frozenset({"TargetFunctionArn", "Qualifier"})

    @staticmethod
    def _settings(properties: dict[str, Any]) -> dict[str, Any]:
        settings: dict[str, Any] = {"AuthType": str(properties["AuthType"])}
        if "InvokeMode" in properties:
            settings["InvokeMode"] = str(properties["InvokeMode"])
        if "Cors" in properties:
            settings["Cors"] = _cors(properties["Cors"])
        return settings

    @staticmethod
    def _made(config: dict[str, Any]) -> Made:
        arn = str(config["FunctionArn"])
        return Made(arn, {"FunctionArn": arn, "FunctionUrl": str(config["FunctionUrl"])})

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        config = await target.call("lambda", "CreateFunctionUrlConfig",
                                   {**_qualified(properties), **self._settings(properties)})
        return self._made(config)

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        settings = self._settings(new)
        if "Cors" in old and "Cors" not in new:
            settings["Cors"] = {}  # the API keeps CORS settings it is not given: an empty one clears them
        if "InvokeMode" in old and "InvokeMode" not in new:
            settings["InvokeMode"] = "BUFFERED"  # the default a URL made without one has
        config = await target.call("lambda", "UpdateFunctionUrlConfig", {**_qualified(new), **settings})
        return self._made(config)

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        await ignore_missing(target, "lambda", "DeleteFunctionUrlConfig", _qualified(properties), *_GONE)


class EventInvokeConfig(ResourceType):
    """Retries, maximum event age and destinations of asynchronous invocations through one qualifier
    ($LATEST, a version or an alias). Every update puts the whole configuration anew, so a setting the
    template no longer gives returns to Lambda's default, as on AWS. Ref gives the function and qualifier."""

    type_name = "AWS::Lambda::EventInvokeConfig"
    properties = frozenset({"FunctionName", "Qualifier", "MaximumRetryAttempts", "MaximumEventAgeInSeconds",
                            "DestinationConfig"})
    required = frozenset({"FunctionName", "Qualifier"})
    replace_on = frozenset({"FunctionName", "Qualifier"})

    @staticmethod
    def _request(properties: dict[str, Any]) -> dict[str, Any]:
        request: dict[str, Any] = {"FunctionName": str(properties["FunctionName"]),
                                   "Qualifier": str(properties["Qualifier"])}
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if key in properties:
                request[key] = as_int(properties[key], key)
        destinations = properties.get("DestinationConfig") or {}
        if destinations:
            request["DestinationConfig"] = {
                kind: {"Destination": str((destinations.get(kind) or {}).get("Destination") or "")}
                for kind in ("OnSuccess", "OnFailure") if kind in destinations}
        return request

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        request = self._request(properties)
        await target.call("lambda", "PutFunctionEventInvokeConfig", request)
        return Made(f"{request['FunctionName']}|{request['Qualifier']}")

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        await target.call("lambda", "PutFunctionEventInvokeConfig", self._request(new))
        return current

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        request = self._request(properties)
        await ignore_missing(target, "lambda", "DeleteFunctionEventInvokeConfig",
                             {"FunctionName": request["FunctionName"], "Qualifier": request["Qualifier"]}, *_GONE)
