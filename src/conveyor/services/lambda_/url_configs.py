"""Function URLs, as configured: CreateFunctionUrlConfig, Get, Update, Delete and ListFunctionUrlConfigs.

A function has at most one URL for itself and one per alias
(https://docs.aws.amazon.com/lambda/latest/dg/urls-configuration.html: "You can create a function URL
for the $LATEST unpublished version of your function, or on any function alias", never for a version
number, which the model's Qualifier pattern already refuses). The configuration lives in the function's
document (`Function.urls`, by qualifier); the URL itself is AWS's form
`https://{url-id}.lambda-url.{region}.on.aws/`, with a 32-character id that never changes while the
configuration exists. conveyor.services.lambda_.url_plane serves it.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import string
from typing import TYPE_CHECKING, Any

from conveyor.services.lambda_.functions import Function, conflict, invalid, not_found
from conveyor.services.lambda_.paging import page
from conveyor.services.lambda_.registry import Registry
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from mypy_boto3_lambda.type_defs import (
        CreateFunctionUrlConfigRequestTypeDef,
        DeleteFunctionUrlConfigRequestTypeDef,
        GetFunctionUrlConfigRequestTypeDef,
        ListFunctionUrlConfigsRequestTypeDef,
        UpdateFunctionUrlConfigRequestTypeDef,
    )

Out = dict[str, Any]
_ID_ALPHABET = string.ascii_lowercase + string.digits
URL_ID_LENGTH = 32
# The host a function URL is reached by: AWS's name, or `{url-id}.lambda-url.localhost` (loopback).
HOST = re.compile(r"^([a-z0-9]{32})\.lambda-url\.(?:localhost|[a-z]{2}(?:-[a-z]+)+-\d+\.on\.aws)\.?(?::\d+)?$")
_NOT_FOUND = "The resource you requested does not exist."


def url_id_of(host: str) -> str | None:
    """The URL id a Host header names, if it names a function URL; cheap for every other host."""
    if ".lambda-url." not in host:
        return None
    match = HOST.match(host.lower())
    return match.group(1) if match else None


def now_iso(now: float) -> str:
    """Function URL timestamps: ISO 8601 with microseconds, in UTC ("2024-01-18T20:48:31.529104Z")."""
    return dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _check_mode(params: Any) -> None:
    if params.get("InvokeMode") == "RESPONSE_STREAM":
        raise invalid("Conveyor serves function URLs in BUFFERED mode only (the whole response at once); "
                      "RESPONSE_STREAM is not supported.")


class FunctionUrlOperations:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def _target(self, ctx: RequestContext, ref: str, qualifier: str | None) -> tuple[Function, str]:
        fn, qualifier = self.registry.get(ref, ctx.region, qualifier)
        if qualifier in (None, "$LATEST"):
            return fn, ""
        assert qualifier is not None
        if qualifier not in fn.aliases:  # a URL serves $LATEST or an alias, never a version
            raise not_found(f"Function not found: {fn.arn}:{qualifier}")
        return fn, qualifier

    @staticmethod
    def describe(fn: Function, qualifier: str, *, listing: bool = False) -> Out:
        doc = fn.urls[qualifier]
        out: Out = {"FunctionUrl": f"https://{doc['UrlId']}.lambda-url.{fn.region}.on.aws/",
                    "FunctionArn": f"{fn.arn}:{qualifier}" if qualifier else fn.arn,
                    "AuthType": doc["AuthType"], "CreationTime": doc["CreationTime"],
                    "InvokeMode": doc["InvokeMode"]}
        if doc.get("Cors") is not None:
            out["Cors"] = doc["Cors"]
        if listing or doc.get("LastModifiedTime"):
            out["LastModifiedTime"] = doc.get("LastModifiedTime") or doc["CreationTime"]
        return out

    def find(self, url_id: str) -> tuple[Function, str] | None:
        """The function (and qualifier) a URL id serves."""
        for fn in self.registry.functions.values():
            for qualifier, doc in fn.urls.items():
                if doc["UrlId"] == url_id:
                    return fn, qualifier
        return None

    async def CreateFunctionUrlConfig(self, ctx: RequestContext, params: CreateFunctionUrlConfigRequestTypeDef) -> Out:
        fn, qualifier = self._target(ctx, params["FunctionName"], params.get("Qualifier"))
        if qualifier in fn.urls:
            target = f"{fn.arn}:{qualifier}" if qualifier else fn.arn
            raise conflict(f"Failed to create function url config for [functionArn = {target}]. Error message:  "
                           "FunctionUrlConfig exists for this Lambda function")
        _check_mode(params)
        created = now_iso(ctx.clock.now())
        doc: Out = {"UrlId": "".join(secrets.choice(_ID_ALPHABET) for _ in range(URL_ID_LENGTH)),
                    "AuthType": params["AuthType"], "InvokeMode": params.get("InvokeMode") or "BUFFERED",
                    "CreationTime": created}
        if "Cors" in params:
            doc["Cors"] = dict(params["Cors"])
        fn.urls[qualifier] = doc
        await self.registry.save(fn)
        return self.describe(fn, qualifier)

    async def GetFunctionUrlConfig(self, ctx: RequestContext, params: GetFunctionUrlConfigRequestTypeDef) -> Out:
        fn, qualifier = self._target(ctx, params["FunctionName"], params.get("Qualifier"))
        if qualifier not in fn.urls:
            raise not_found(_NOT_FOUND)
        return self.describe(fn, qualifier, listing=True)

    async def UpdateFunctionUrlConfig(self, ctx: RequestContext, params: UpdateFunctionUrlConfigRequestTypeDef) -> Out:
        fn, qualifier = self._target(ctx, params["FunctionName"], params.get("Qualifier"))
        if qualifier not in fn.urls:
            raise not_found(_NOT_FOUND)
        _check_mode(params)
        doc = dict(fn.urls[qualifier])
        if params.get("AuthType"):
            doc["AuthType"] = params["AuthType"]
        if params.get("InvokeMode"):
            doc["InvokeMode"] = params["InvokeMode"]
        if "Cors" in params:  # the CORS settings given replace the old ones whole
            doc["Cors"] = dict(params["Cors"])
        doc["LastModifiedTime"] = now_iso(ctx.clock.now())
        fn.urls[qualifier] = doc
        await self.registry.save(fn)
        return self.describe(fn, qualifier, listing=True)

    async def DeleteFunctionUrlConfig(self, ctx: RequestContext, params: DeleteFunctionUrlConfigRequestTypeDef) -> Out:
        fn, qualifier = self._target(ctx, params["FunctionName"], params.get("Qualifier"))
        if qualifier not in fn.urls:
            raise not_found(_NOT_FOUND)
        del fn.urls[qualifier]
        await self.registry.save(fn)
        return {}

    async def ListFunctionUrlConfigs(self, ctx: RequestContext, params: ListFunctionUrlConfigsRequestTypeDef) -> Out:
        fn, _ = self.registry.get(params["FunctionName"], ctx.region)
        configs = [self.describe(fn, q, listing=True) for q in sorted(fn.urls)]
        return page(configs, params.get("Marker"), params.get("MaxItems"), "FunctionUrlConfigs",
                    lambda c: c["FunctionArn"])
