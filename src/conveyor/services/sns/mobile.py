"""Mobile push: platform applications and their device endpoints, stored as AWS stores them.

Conveyor reaches no push service (APNS, FCM...): what a publish would push to a device is kept in the local
record of sent messages (mailbox.py) instead, where tests and users can read it.

https://docs.aws.amazon.com/sns/latest/api/API_CreatePlatformApplication.html
https://docs.aws.amazon.com/sns/latest/api/API_CreatePlatformEndpoint.html
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor.services.sns import paging
from conveyor.services.sns.registry import check_arn
from conveyor.services.sns.store import SnsStore
from conveyor.services.sns.topics import invalid
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_sns.type_defs import (
        CreatePlatformApplicationInputTypeDef,
        CreatePlatformEndpointInputTypeDef,
        DeleteEndpointInputTypeDef,
        DeletePlatformApplicationInputTypeDef,
        GetEndpointAttributesInputTypeDef,
        GetPlatformApplicationAttributesInputTypeDef,
        ListEndpointsByPlatformApplicationInputTypeDef,
        ListPlatformApplicationsInputTypeDef,
        SetEndpointAttributesInputTypeDef,
        SetPlatformApplicationAttributesInputTypeDef,
    )

PLATFORMS = frozenset({"ADM", "APNS", "APNS_SANDBOX", "APNS_VOIP", "APNS_VOIP_SANDBOX", "BAIDU", "GCM", "MACOS",
                       "MACOS_SANDBOX", "MPNS", "WNS"})
_APP_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,256}")
# Secrets AWS takes but never hands back (GetPlatformApplicationAttributes lists what it returns).
_SECRET = frozenset({"PlatformCredential", "PlatformPrincipal"})


def _checked_app_attributes(attrs: Mapping[str, str]) -> dict[str, str]:
    """A platform application's attributes, refused with AWS's words where AWS refuses them (recorded in a
    connector's tests run against AWS).
    https://docs.aws.amazon.com/sns/latest/api/API_SetPlatformApplicationAttributes.html"""
    rate = attrs.get("SuccessFeedbackSampleRate")
    if rate is not None and not (rate.isdigit() and 0 <= int(rate) <= 100):
        raise invalid(f"Attributes Reason: Invalid value for attribute: SuccessFeedbackSampleRate: {rate} value "
                      "provided is not an integer between 0-100")
    return dict(attrs)


def app_not_found() -> ServiceError:
    return ServiceError("NotFound", "PlatformApplication does not exist", 404)


def endpoint_not_found() -> ServiceError:
    return ServiceError("NotFound", "Endpoint does not exist", 404)


@dataclass
class PlatformApp:
    arn: str
    account: str
    region: str
    name: str
    platform: str
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass
class DeviceEndpoint:
    arn: str
    app_arn: str
    attrs: dict[str, str]  # Token, Enabled and CustomUserData, as GetEndpointAttributes answers

    @property
    def enabled(self) -> bool:
        return self.attrs.get("Enabled", "true").lower() == "true"

    @property
    def platform(self) -> str:
        """The platform key a MessageStructure=json message uses for this device (APNS, GCM...)."""
        return self.arn.split(":endpoint/", 1)[-1].split("/", 1)[0]


class MobileOperations:
    """The platform application and endpoint operations, over the store and the in-memory index."""

    def __init__(self, store: SnsStore) -> None:
        self.store = store
        self.apps: dict[str, PlatformApp] = {}
        self.endpoints: dict[str, DeviceEndpoint] = {}

    def load(self) -> None:
        for arn, account, region, name, platform, attrs in self.store.platform_apps():
            self.apps[arn] = PlatformApp(arn, account, region, name, platform, attrs)
        for arn, app_arn, attrs in self.store.endpoints():
            self.endpoints[arn] = DeviceEndpoint(arn, app_arn, attrs)

    def clear(self) -> None:
        self.apps.clear()
        self.endpoints.clear()

    def app(self, arn: str) -> PlatformApp:
        check_arn(arn, "PlatformApplicationArn")
        if arn.split(":", 5)[5].count("/") != 2:  # app/PLATFORM/NAME (an endpoint's ARN has one more)
            raise invalid("PlatformApplicationArn Reason: Wrong number of slashes in relative portion of the ARN.")
        found = self.apps.get(arn)
        if found is None:
            raise app_not_found()
        return found

    def endpoint(self, arn: str) -> DeviceEndpoint:
        check_arn(arn, "EndpointArn")
        found = self.endpoints.get(arn)
        if found is None:
            raise endpoint_not_found()
        return found

    # -- platform applications -----------------------------------------------------------------------------
    async def CreatePlatformApplication(self, ctx: RequestContext,
                                        params: CreatePlatformApplicationInputTypeDef) -> dict[str, Any]:
        name, platform = params["Name"], params["Platform"]
        if not _APP_NAME.fullmatch(name):
            raise invalid("Name Reason: must be at most 256 characters long and may only contain uppercase and "
                          "lowercase ASCII letters, numbers, underscores, hyphens and periods")
        if platform not in PLATFORMS:
            raise invalid(f"Platform Reason: {platform} is not supported")
        arn = f"arn:aws:sns:{ctx.region}:{ctx.account_id}:app/{platform}/{name}"
        # Conveyor cannot check credentials with Apple or Google: it keeps them as given.
        attrs = {"Enabled": "true", **_checked_app_attributes(params.get("Attributes") or {})}
        existing = self.apps.get(arn)
        if existing is not None:
            # The same name again is the same application only with the same properties, as AWS answered a
            # connector's tests run against it.
            if existing.attrs != attrs:
                raise invalid("Name Reason: An application with the same name but different properties already "
                              "exists")
            return {"PlatformApplicationArn": arn}
        await self.store.put_platform_app(arn, ctx.account_id, ctx.region, name, platform, attrs)
        self.apps[arn] = PlatformApp(arn, ctx.account_id, ctx.region, name, platform, attrs)
        return {"PlatformApplicationArn": arn}

    async def GetPlatformApplicationAttributes(
            self, ctx: RequestContext, params: GetPlatformApplicationAttributesInputTypeDef) -> dict[str, Any]:
        app = self.app(params["PlatformApplicationArn"])
        return {"Attributes": _shown(app.attrs)}

    async def SetPlatformApplicationAttributes(
            self, ctx: RequestContext, params: SetPlatformApplicationAttributesInputTypeDef) -> dict[str, Any]:
        app = self.app(params["PlatformApplicationArn"])
        attrs = {**app.attrs, **_checked_app_attributes(params["Attributes"])}
        await self.store.put_platform_app(app.arn, app.account, app.region, app.name, app.platform, attrs)
        app.attrs = attrs
        return {}

    async def ListPlatformApplications(self, ctx: RequestContext,
                                       params: ListPlatformApplicationsInputTypeDef) -> dict[str, Any]:
        mine = [a for a in self.apps.values() if a.account == ctx.account_id and a.region == ctx.region]
        # "up to 15 applications" a call: https://docs.aws.amazon.com/sns/latest/api/API_ListPlatformApplications.html
        chunk, token = paging.page(mine, params.get("NextToken"), lambda a: a.arn, size=15)
        out: dict[str, Any] = {"PlatformApplications": [
            {"PlatformApplicationArn": a.arn, "Attributes": _shown(a.attrs)} for a in chunk]}
        if token:
            out["NextToken"] = token
        return out

    async def DeletePlatformApplication(self, ctx: RequestContext,
                                        params: DeletePlatformApplicationInputTypeDef) -> dict[str, Any]:
        arn = params["PlatformApplicationArn"]
        check_arn(arn, "PlatformApplicationArn")
        if arn in self.apps:  # deleting an unknown application succeeds, as deleting a topic does
            await self.store.delete_platform_app(arn)
            del self.apps[arn]
            for gone in [e.arn for e in self.endpoints.values() if e.app_arn == arn]:
                del self.endpoints[gone]
        return {}

    # -- endpoints -------------------------------------------------------------------------------------------
    async def CreatePlatformEndpoint(self, ctx: RequestContext,
                                     params: CreatePlatformEndpointInputTypeDef) -> dict[str, Any]:
        app = self.app(params["PlatformApplicationArn"])
        token = params["Token"]
        # As AWS answered a connector's tests run against it.
        if not token:
            raise invalid("Token Reason: cannot be empty")
        if (params.get("Attributes") or {}).get("Token") == "":
            raise invalid("Attributes Reason: Invalid value for attribute: Token: cannot be empty")
        attrs: dict[str, str] = {"Enabled": "true"}
        if params.get("CustomUserData"):
            attrs["CustomUserData"] = params["CustomUserData"]
        attrs.update(params.get("Attributes") or {})
        attrs["Token"] = token
        # The same token again is the same endpoint (CreatePlatformEndpoint is idempotent), unless the
        # attributes differ: https://docs.aws.amazon.com/sns/latest/api/API_CreatePlatformEndpoint.html
        for existing in self.endpoints.values():
            if existing.app_arn == app.arn and existing.attrs.get("Token") == token:
                if existing.attrs != attrs:
                    raise invalid(f"Token Reason: Endpoint {existing.arn} already exists with the same Token, but "
                                  "different attributes.")
                return {"EndpointArn": existing.arn}
        arn = f"arn:aws:sns:{app.region}:{app.account}:endpoint/{app.platform}/{app.name}/{uuid.uuid4()}"
        await self.store.put_endpoint(arn, app.arn, attrs)
        self.endpoints[arn] = DeviceEndpoint(arn, app.arn, attrs)
        return {"EndpointArn": arn}

    async def GetEndpointAttributes(self, ctx: RequestContext,
                                    params: GetEndpointAttributesInputTypeDef) -> dict[str, Any]:
        return {"Attributes": dict(self.endpoint(params["EndpointArn"]).attrs)}

    async def SetEndpointAttributes(self, ctx: RequestContext,
                                    params: SetEndpointAttributesInputTypeDef) -> dict[str, Any]:
        endpoint = self.endpoint(params["EndpointArn"])
        attrs = {**endpoint.attrs, **params["Attributes"]}
        if attrs.get("Enabled", "true").lower() not in ("true", "false"):
            raise invalid("Attributes Reason: Enabled must be true or false")
        await self.store.put_endpoint(endpoint.arn, endpoint.app_arn, attrs)
        endpoint.attrs = attrs
        return {}

    async def DeleteEndpoint(self, ctx: RequestContext, params: DeleteEndpointInputTypeDef) -> dict[str, Any]:
        arn = params["EndpointArn"]
        if arn in self.endpoints:  # deleting an endpoint twice succeeds (the operation is idempotent)
            await self.store.delete_endpoint(arn)
            del self.endpoints[arn]
        return {}

    async def ListEndpointsByPlatformApplication(
            self, ctx: RequestContext, params: ListEndpointsByPlatformApplicationInputTypeDef) -> dict[str, Any]:
        app = self.app(params["PlatformApplicationArn"])
        mine = [e for e in self.endpoints.values() if e.app_arn == app.arn]
        chunk, token = paging.page(mine, params.get("NextToken"), lambda e: e.arn)
        out: dict[str, Any] = {"Endpoints": [{"EndpointArn": e.arn, "Attributes": dict(e.attrs)} for e in chunk]}
        if token:
            out["NextToken"] = token
        return out


def _shown(attrs: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in attrs.items() if k not in _SECRET}
