"""AWS::ApiGatewayV2::Api, Route, Integration and Stage. Their template properties carry the API's own names,
so each is handed to API Gateway as it stands; what API Gateway does not serve it refuses with its own error,
which fails the resource with that reason.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-apigatewayv2-api.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-apigatewayv2-route.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-apigatewayv2-integration.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-apigatewayv2-stage.html
"""

from __future__ import annotations

from typing import Any, ClassVar

from conveyor.services.cloudformation.resources.base import (
    Made,
    ResourceType,
    Target,
    as_bool,
    as_int,
    ignore_missing,
)

_GONE = ("NotFoundException",)
_BOOLEANS = frozenset({"DisableExecuteApiEndpoint", "ApiKeyRequired", "AutoDeploy", "DisableSchemaValidation"})
_INTEGERS = frozenset({"TimeoutInMillis"})


def _request(properties: dict[str, Any], keys: frozenset[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in sorted(keys & set(properties)):
        value = properties[key]
        if key in _BOOLEANS:
            value = as_bool(value)
        elif key in _INTEGERS:
            value = as_int(value, key)
        out[key] = value
    return out


async def _retag(target: Target, arn: str, old: dict[str, Any], new: dict[str, Any]) -> None:
    """Tags (a map in these templates) changed in place."""
    before, after = old.get("Tags") or {}, new.get("Tags") or {}
    if before == after:
        return
    gone = sorted(set(before) - set(after))
    if gone:
        await target.call("apigatewayv2", "UntagResource", {"ResourceArn": arn, "TagKeys": gone})
    if after:
        await target.call("apigatewayv2", "TagResource", {"ResourceArn": arn,
                                                          "Tags": {str(k): str(v) for k, v in after.items()}})


class Api(ResourceType):
    type_name = "AWS::ApiGatewayV2::Api"
    _SETTINGS = frozenset({"Name", "ProtocolType", "Description", "CorsConfiguration", "DisableExecuteApiEndpoint",
                           "RouteSelectionExpression", "Version", "Target", "RouteKey", "CredentialsArn",
                           "ApiKeySelectionExpression", "DisableSchemaValidation", "IpAddressType"})
    # UpdateApi takes all but these: the protocol and the quick-create settings are fixed at creation.
    _FIXED = frozenset({"ProtocolType", "Target", "RouteKey", "CredentialsArn"})
    properties = frozenset({*_SETTINGS, "Tags"})
    replace_on = frozenset({"ProtocolType"})

    @staticmethod
    def _made(api: dict[str, Any]) -> Made:
        return Made(api["ApiId"], {"ApiId": api["ApiId"], "ApiEndpoint": api.get("ApiEndpoint", "")})

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        request = _request(properties, self._SETTINGS)
        if properties.get("Tags"):
            request["Tags"] = {str(k): str(v) for k, v in properties["Tags"].items()}
        return self._made(await target.call("apigatewayv2", "CreateApi", request))

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        api_id = current.physical_id
        changed = {key for key in self._SETTINGS - self._FIXED if old.get(key) != new.get(key)}
        if "CorsConfiguration" in changed and "CorsConfiguration" not in new:
            await target.call("apigatewayv2", "DeleteCorsConfiguration", {"ApiId": api_id})
            changed.discard("CorsConfiguration")
        if changed:
            await target.call("apigatewayv2", "UpdateApi", {"ApiId": api_id, **_request(new, frozenset(changed))})
        await _retag(target, f"arn:aws:apigateway:{target.region}::/apis/{api_id}", old, new)
        return self._made(await target.call("apigatewayv2", "GetApi", {"ApiId": api_id}))

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        await ignore_missing(target, "apigatewayv2", "DeleteApi", {"ApiId": current.physical_id}, *_GONE)


class _ApiChild(ResourceType):
    """A part of an API (route, integration): made, updated and deleted by its id within the API."""

    noun: ClassVar[str] = ""
    settings: ClassVar[frozenset[str]] = frozenset()
    replace_on = frozenset({"ApiId"})

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        made = await target.call("apigatewayv2", f"Create{self.noun}", {
            "ApiId": properties["ApiId"], **_request(properties, self.settings)})
        key = f"{self.noun}Id"
        return Made(made[key], {key: made[key]})

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        changed = frozenset(key for key in self.settings if old.get(key) != new.get(key))
        if changed:
            await target.call("apigatewayv2", f"Update{self.noun}", {
                "ApiId": new["ApiId"], f"{self.noun}Id": current.physical_id, **_request(new, changed)})
        return current

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        await ignore_missing(target, "apigatewayv2", f"Delete{self.noun}", {
            "ApiId": properties["ApiId"], f"{self.noun}Id": current.physical_id}, *_GONE)


class Route(_ApiChild):
    type_name = "AWS::ApiGatewayV2::Route"
    noun = "Route"
    settings = frozenset({"RouteKey", "Target", "AuthorizationType", "AuthorizerId", "AuthorizationScopes",
                          "ApiKeyRequired", "ModelSelectionExpression", "OperationName", "RequestModels",
                          "RequestParameters", "RouteResponseSelectionExpression"})
    properties = frozenset({"ApiId", *settings})
    required = frozenset({"ApiId", "RouteKey"})


class Integration(_ApiChild):
    type_name = "AWS::ApiGatewayV2::Integration"
    noun = "Integration"
    settings = frozenset({"IntegrationType", "IntegrationUri", "IntegrationMethod", "IntegrationSubtype",
                          "PayloadFormatVersion", "TimeoutInMillis", "Description", "ConnectionType", "ConnectionId",
                          "CredentialsArn", "RequestParameters", "ResponseParameters", "RequestTemplates",
                          "TemplateSelectionExpression", "PassthroughBehavior", "ContentHandlingStrategy",
                          "TlsConfig"})
    properties = frozenset({"ApiId", *settings})
    required = frozenset({"ApiId", "IntegrationType"})


class Stage(ResourceType):
    """Ref is the stage's name."""

    type_name = "AWS::ApiGatewayV2::Stage"
    _SETTINGS = frozenset({"AutoDeploy", "DeploymentId", "Description", "StageVariables", "DefaultRouteSettings",
                           "RouteSettings", "AccessLogSettings", "ClientCertificateId"})
    properties = frozenset({"ApiId", "StageName", "Tags", *_SETTINGS})
    required = frozenset({"ApiId", "StageName"})
    replace_on = frozenset({"ApiId", "StageName"})

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        request = {"ApiId": properties["ApiId"], "StageName": properties["StageName"],
                   **_request(properties, self._SETTINGS)}
        if properties.get("Tags"):
            request["Tags"] = {str(k): str(v) for k, v in properties["Tags"].items()}
        made = await target.call("apigatewayv2", "CreateStage", request)
        return Made(made["StageName"])

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        changed = frozenset(key for key in self._SETTINGS if old.get(key) != new.get(key))
        if changed:
            await target.call("apigatewayv2", "UpdateStage", {
                "ApiId": new["ApiId"], "StageName": current.physical_id, **_request(new, changed)})
        await _retag(target, f"arn:aws:apigateway:{target.region}::/apis/{new['ApiId']}/stages/{current.physical_id}",
                     old, new)
        return current

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        await ignore_missing(target, "apigatewayv2", "DeleteStage", {
            "ApiId": properties["ApiId"], "StageName": current.physical_id}, *_GONE)
