"""Layers: PublishLayerVersion, Get/List/Delete, ListLayers, the layer version permissions, and what a
function's `Layers` attach.

https://docs.aws.amazon.com/lambda/latest/dg/chapter-layers.html: a layer version is immutable, numbered
from 1 per layer, and its number is never given again, even after every version was deleted
(https://docs.aws.amazon.com/lambda/latest/api/API_DeleteLayerVersion.html: "Deleting a layer version
... functions configured with it continue to use it"). Content is stored as deployment packages are
(content-addressed, checked and extracted before anything refers to it), so a function keeps the content
of a version deleted after it was attached.

On AWS a function's layers are extracted into /opt, in the order the function lists them. Conveyor
cannot write /opt: each version's content stays in its own extracted directory, and an environment gets
those directories where the runtime looks (conveyor.services.lambda_.invoke: PYTHONPATH for python/ and
python/lib/pythonX.Y/site-packages, NODE_PATH for nodejs/node_modules, PATH for bin/,
LD_LIBRARY_PATH for lib/, and CONVEYOR_LAYER_DIRS listing the directories that stand for /opt).
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from conveyor.services.lambda_ import code_url
from conveyor.services.lambda_.functions import conflict, invalid, not_found, revision_mismatch, timestamp
from conveyor.services.lambda_.paging import page
from conveyor.services.lambda_.registry import Registry
from conveyor.services.lambda_.store import LambdaStore
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from mypy_boto3_lambda.type_defs import (
        AddLayerVersionPermissionRequestTypeDef,
        DeleteLayerVersionRequestTypeDef,
        GetLayerVersionByArnRequestTypeDef,
        GetLayerVersionPolicyRequestTypeDef,
        GetLayerVersionRequestTypeDef,
        ListLayersRequestTypeDef,
        ListLayerVersionsRequestTypeDef,
        PublishLayerVersionRequestTypeDef,
        RemoveLayerVersionPermissionRequestTypeDef,
    )

Out = dict[str, Any]
_LAYER_ARN = re.compile(r"arn:aws[a-z-]*:lambda:([a-z0-9-]+):(\d{12}):layer:([a-zA-Z0-9-_]+)")
_VERSION_ARN = re.compile(r"arn:aws[a-z-]*:lambda:([a-z0-9-]+):(\d{12}):layer:([a-zA-Z0-9-_]+):(\d+)")
_NOT_FOUND = "The resource you requested does not exist."
MAX_LAYERS = 5  # https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
_LISTED = ("LayerVersionArn", "Version", "Description", "CreatedDate", "CompatibleRuntimes", "LicenseInfo",
           "CompatibleArchitectures")


def _public(doc: Out) -> Out:
    return {k: v for k, v in doc.items() if not k.startswith("_")}


class Layers:
    """The layer versions of the account, by LayerVersionArn, mirrored in the store."""

    def __init__(self, store: LambdaStore, registry: Registry) -> None:
        self.store = store
        self.registry = registry
        self.versions: dict[str, Out] = {}
        self.last_version: dict[str, int] = {}  # LayerArn -> the last version number it gave out

    def load(self) -> None:
        for doc in self.store.layer_version_docs():
            version = json.loads(doc)
            self.versions[version["LayerVersionArn"]] = version
        self.last_version = self.store.layer_counters()

    def clear(self) -> None:
        self.versions.clear()
        self.last_version.clear()

    def layer_arn(self, ref: str, region: str) -> str:
        """A LayerName (a name or a layer ARN) as the layer's ARN."""
        match = _LAYER_ARN.fullmatch(ref)
        if match is not None:
            return ref
        return f"arn:aws:lambda:{region}:{self.registry.account}:layer:{ref}"

    def version(self, layer_arn: str, number: int) -> Out:
        found = self.versions.get(f"{layer_arn}:{number}")
        if found is None:
            raise not_found(_NOT_FOUND)
        return found

    def has_content(self, region: str, name: str, number: int, code_hex: str) -> bool:
        """Whether a layer version with that content exists (its Content.Location still downloads)."""
        found = self.versions.get(f"arn:aws:lambda:{region}:{self.registry.account}:layer:{name}:{number}")
        return found is not None and found["_CodeHex"] == code_hex

    def for_function(self, arns: list[str]) -> list[Out]:
        """A function's `Layers`, as its configuration keeps them: the ARN, size and content of each.
        A version that does not exist (or another account's, which this server cannot have) is refused as
        AWS refuses it: "Layer version arn:... does not exist." (InvalidParameterValueException)."""
        if len(arns) > MAX_LAYERS:
            raise invalid(f"Cannot reference more than {MAX_LAYERS} layers.")
        attached = []
        for arn in arns:
            found = self.versions.get(arn) if _VERSION_ARN.fullmatch(arn) else None
            if found is None:
                raise invalid(f"Layer version {arn} does not exist.")
            attached.append({"Arn": arn, "CodeSize": found["Content"]["CodeSize"], "_CodeHex": found["_CodeHex"]})
        if len({a["Arn"].rpartition(":")[0] for a in attached}) != len(attached):
            raise invalid("Two different versions of the same layer are not allowed.")
        return attached


class LayerOperations:
    def __init__(self, layers: Layers, code_bytes: Callable[[Mapping[str, Any]], Awaitable[bytes]],
                 credential: tuple[str, str]) -> None:
        self.layers = layers
        self.registry = layers.registry
        self.code_bytes = code_bytes  # the package a Content names: inline, or an S3 object
        self.credential = credential  # presigns Content.Location

    def _described(self, ctx: RequestContext, doc: Out) -> Out:
        out = _public(doc)
        location = code_url.layer_location(ctx, *self.credential, doc["LayerArn"].rpartition(":")[2], doc["Version"],
                                           doc["_CodeHex"])
        out["Content"] = {**doc["Content"], "Location": location}
        return out

    def _layer_arn(self, ctx: RequestContext, ref: str) -> str:
        arn = self.layers.layer_arn(ref, ctx.region)
        if arn.split(":")[4] != self.registry.account:
            raise not_found(_NOT_FOUND)
        return arn

    async def PublishLayerVersion(self, ctx: RequestContext, params: PublishLayerVersionRequestTypeDef) -> Out:
        layer_arn = self._layer_arn(ctx, params["LayerName"])
        content: Mapping[str, Any] = params["Content"]
        if not content.get("ZipFile") and not (content.get("S3Bucket") and content.get("S3Key")):
            raise invalid("Missing Content")
        data = await self.code_bytes(content)
        hexd, sha, size = await asyncio.to_thread(self.registry.code.put, data)
        number = max(self.layers.last_version.get(layer_arn, 0),
                     *(v["Version"] for v in self.layers.versions.values() if v["LayerArn"] == layer_arn), 0) + 1
        doc: Out = {"LayerArn": layer_arn, "LayerVersionArn": f"{layer_arn}:{number}", "Version": number,
                    "CreatedDate": timestamp(ctx.clock.now()), "Content": {"CodeSha256": sha, "CodeSize": size},
                    "_CodeHex": hexd, "_Policy": [], "_PolicyRevision": ""}
        for key in ("Description", "CompatibleRuntimes", "LicenseInfo", "CompatibleArchitectures"):
            if params.get(key):  # as AWS lists them: a member not given is absent, not empty
                doc[key] = params.get(key)
        await self.layers.store.put_layer_version(doc["LayerVersionArn"], json.dumps(doc), layer_arn, number)
        self.layers.versions[doc["LayerVersionArn"]] = doc
        self.layers.last_version[layer_arn] = number
        return self._described(ctx, doc)

    async def GetLayerVersion(self, ctx: RequestContext, params: GetLayerVersionRequestTypeDef) -> Out:
        doc = self.layers.version(self._layer_arn(ctx, params["LayerName"]), params["VersionNumber"])
        return self._described(ctx, doc)

    async def GetLayerVersionByArn(self, ctx: RequestContext, params: GetLayerVersionByArnRequestTypeDef) -> Out:
        doc = self.layers.versions.get(params["Arn"])
        if doc is None:
            raise not_found(_NOT_FOUND)
        return self._described(ctx, doc)

    async def ListLayerVersions(self, ctx: RequestContext, params: ListLayerVersionsRequestTypeDef) -> Out:
        layer_arn = self._layer_arn(ctx, params["LayerName"])
        found = sorted((v for v in self.layers.versions.values() if v["LayerArn"] == layer_arn
                        and self._matches(v, params)), key=lambda v: -int(v["Version"]))
        items = [{k: v[k] for k in _LISTED if k in v} for v in found]
        return page(items, params.get("Marker"), params.get("MaxItems"), "LayerVersions",
                    lambda v: str(v["Version"]))

    async def ListLayers(self, ctx: RequestContext, params: ListLayersRequestTypeDef) -> Out:
        latest: dict[str, Out] = {}
        for v in self.layers.versions.values():
            if v["LayerArn"].split(":")[3] != ctx.region or not self._matches(v, params):
                continue
            if v["LayerArn"] not in latest or v["Version"] > latest[v["LayerArn"]]["Version"]:
                latest[v["LayerArn"]] = v
        items = [{"LayerName": arn.rpartition(":")[2], "LayerArn": arn,
                  "LatestMatchingVersion": {k: v[k] for k in _LISTED if k in v}} for arn, v in sorted(latest.items())]
        return page(items, params.get("Marker"), params.get("MaxItems"), "Layers", lambda i: i["LayerName"])

    @staticmethod
    def _matches(version: Out, params: Mapping[str, Any]) -> bool:
        runtime, arch = params.get("CompatibleRuntime"), params.get("CompatibleArchitecture")
        return (runtime is None or runtime in (version.get("CompatibleRuntimes") or [])) and \
            (arch is None or arch in (version.get("CompatibleArchitectures") or []))

    async def DeleteLayerVersion(self, ctx: RequestContext, params: DeleteLayerVersionRequestTypeDef) -> Out:
        """Deleting a version that does not exist succeeds too (the API is idempotent)."""
        arn = f"{self._layer_arn(ctx, params['LayerName'])}:{params['VersionNumber']}"
        if arn in self.layers.versions:
            await self.layers.store.delete_layer_version(arn)
            del self.layers.versions[arn]
        return {}

    # -- layer version permissions: who may use the version (lambda:GetLayerVersion) ---------------------
    async def AddLayerVersionPermission(self, ctx: RequestContext,
                                        params: AddLayerVersionPermissionRequestTypeDef) -> Out:
        doc = self.layers.version(self._layer_arn(ctx, params["LayerName"]), params["VersionNumber"])
        if params.get("RevisionId") and params.get("RevisionId") != doc["_PolicyRevision"]:
            raise revision_mismatch("GetLayerPolicy")
        sid = params["StatementId"]
        if any(s["Sid"] == sid for s in doc["_Policy"]):
            raise conflict(f"The statement id ({sid}) provided already exists. Please provide a new statement id, "
                           "or remove the existing statement.")
        principal = params["Principal"]
        statement: Out = {"Sid": sid, "Effect": "Allow",
                          "Principal": "*" if principal == "*" else {"AWS": f"arn:aws:iam::{principal}:root"},
                          "Action": params["Action"], "Resource": doc["LayerVersionArn"]}
        if params.get("OrganizationId"):
            statement["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": params["OrganizationId"]}}
        changed = {**doc, "_Policy": [*doc["_Policy"], statement], "_PolicyRevision": str(uuid.uuid4())}
        await self.layers.store.put_layer_version(doc["LayerVersionArn"], json.dumps(changed))
        self.layers.versions[doc["LayerVersionArn"]] = changed
        return {"Statement": json.dumps(statement), "RevisionId": changed["_PolicyRevision"]}

    async def GetLayerVersionPolicy(self, ctx: RequestContext, params: GetLayerVersionPolicyRequestTypeDef) -> Out:
        doc = self.layers.version(self._layer_arn(ctx, params["LayerName"]), params["VersionNumber"])
        if not doc["_Policy"]:
            raise not_found(_NOT_FOUND)
        policy = {"Version": "2012-10-17", "Id": "default", "Statement": doc["_Policy"]}
        return {"Policy": json.dumps(policy), "RevisionId": doc["_PolicyRevision"]}

    async def RemoveLayerVersionPermission(self, ctx: RequestContext,
                                           params: RemoveLayerVersionPermissionRequestTypeDef) -> Out:
        doc = self.layers.version(self._layer_arn(ctx, params["LayerName"]), params["VersionNumber"])
        if params.get("RevisionId") and params.get("RevisionId") != doc["_PolicyRevision"]:
            raise revision_mismatch("GetLayerPolicy")
        sid = params["StatementId"]
        kept = [s for s in doc["_Policy"] if s["Sid"] != sid]
        if len(kept) == len(doc["_Policy"]):
            raise not_found(f"Statement {sid} is not found in resource policy.")
        changed = {**doc, "_Policy": kept, "_PolicyRevision": str(uuid.uuid4())}
        await self.layers.store.put_layer_version(doc["LayerVersionArn"], json.dumps(changed))
        self.layers.versions[doc["LayerVersionArn"]] = changed
        return {}
