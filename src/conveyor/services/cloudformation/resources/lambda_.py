"""AWS::Lambda::Function, AWS::Lambda::Permission and AWS::Lambda::EventSourceMapping.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-lambda-function.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-lambda-permission.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-lambda-eventsourcemapping.html
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

from conveyor.services.cloudformation.errors import ResourceFailure
from conveyor.services.cloudformation.resources.base import (
    Made,
    ResourceType,
    Target,
    as_bool,
    as_int,
    ignore_missing,
    tag_map,
)

_CONFIGURATION = ("Role", "Handler", "Runtime", "Description", "Timeout", "MemorySize", "Environment",
                  "DeadLetterConfig", "EphemeralStorage", "Layers", "LoggingConfig")
_INTEGERS = ("Timeout", "MemorySize")


def code(properties: dict[str, Any]) -> dict[str, Any]:
    """The template's Code as CreateFunction takes it. Inline `ZipFile` source becomes a package holding
    index.py (Python) or index.js (Node.js), as CloudFormation packages it."""
    value = properties.get("Code") or {}
    if "ZipFile" in value:
        runtime = str(properties.get("Runtime") or "")
        filename = "index.js" if runtime.startswith("nodejs") else "index.py"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            entry = zipfile.ZipInfo(filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, str(value["ZipFile"]))
        return {"ZipFile": buffer.getvalue()}
    if "S3Bucket" in value and "S3Key" in value:
        return {key: value[key] for key in ("S3Bucket", "S3Key", "S3ObjectVersion") if key in value}
    raise ResourceFailure("Properties validation failed for resource with message: "
                          "#/Code: Code must hold ZipFile, or S3Bucket and S3Key")


def _configuration(properties: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in _CONFIGURATION:
        if key in properties:
            out[key] = as_int(properties[key], key) if key in _INTEGERS else properties[key]
    if "Architectures" in properties:
        out["Architectures"] = properties["Architectures"]
    return out


class Function(ResourceType):
    type_name = "AWS::Lambda::Function"
    properties = frozenset({"FunctionName", "Code", "Architectures", "Tags", "ReservedConcurrentExecutions",
                            "PackageType", *_CONFIGURATION})
    required = frozenset({"Code", "Role"})
    replace_on = frozenset({"FunctionName", "PackageType"})
    name_property = "FunctionName"

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        name = str(properties.get("FunctionName") or target.generated_name(64))
        request = {"FunctionName": name, "Code": code(properties), **_configuration(properties)}
        if properties.get("Tags"):
            request["Tags"] = tag_map(properties["Tags"])
        created = await target.call("lambda", "CreateFunction", request)
        made = Made(name, {"Arn": created["FunctionArn"]})
        if "ReservedConcurrentExecutions" in properties:
            try:
                await self._concurrency(target, name, properties)
            except ResourceFailure:
                await ignore_missing(target, "lambda", "DeleteFunction", {"FunctionName": name})
                raise
        return made

    async def _concurrency(self, target: Target, name: str, properties: dict[str, Any]) -> None:
        if "ReservedConcurrentExecutions" in properties:
            await target.call("lambda", "PutFunctionConcurrency", {
                "FunctionName": name, "ReservedConcurrentExecutions": as_int(
                    properties["ReservedConcurrentExecutions"], "ReservedConcurrentExecutions")})
        else:
            await target.call("lambda", "DeleteFunctionConcurrency", {"FunctionName": name})

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        name = current.physical_id
        if old.get("Code") != new.get("Code") or (old.get("Runtime") != new.get("Runtime")
                                                  and "ZipFile" in (new.get("Code") or {})):
            await target.call("lambda", "UpdateFunctionCode", {"FunctionName": name, **code(new)})
        if any(old.get(key) != new.get(key) for key in _CONFIGURATION):
            request = _configuration(new)
            if "Environment" not in new and "Environment" in old:
                request["Environment"] = {"Variables": {}}
            if "Layers" not in new and "Layers" in old:
                request["Layers"] = []  # the API keeps the layers it is not given: an empty list detaches them
            await target.call("lambda", "UpdateFunctionConfiguration", {"FunctionName": name, **request})
        if old.get("ReservedConcurrentExecutions") != new.get("ReservedConcurrentExecutions"):
            await self._concurrency(target, name, new)
        return current

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        await ignore_missing(target, "lambda", "DeleteFunction", {"FunctionName": current.physical_id},
                             "ResourceNotFoundException")


class Permission(ResourceType):
    """Every property requires replacement (the statement is removed and added anew)."""

    type_name = "AWS::Lambda::Permission"
    properties = frozenset({"Action", "FunctionName", "Principal", "SourceArn", "SourceAccount", "EventSourceToken",
                            "FunctionUrlAuthType", "PrincipalOrgID", "InvokedViaFunctionUrl"})
    required = frozenset({"Action", "FunctionName", "Principal"})
    replace_on = properties

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        statement = target.generated_name(100)
        request = {"StatementId": statement, **properties}
        if "InvokedViaFunctionUrl" in request:  # a boolean the template may give as text
            request["InvokedViaFunctionUrl"] = as_bool(request["InvokedViaFunctionUrl"])
        await target.call("lambda", "AddPermission", request)
        return Made(statement)

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        return current  # nothing is updated in place: every change replaces

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        await ignore_missing(target, "lambda", "RemovePermission", {"FunctionName": properties["FunctionName"],
                                                                    "StatementId": current.physical_id},
                             "ResourceNotFoundException")


_MAPPING_SETTINGS = ("BatchSize", "Enabled", "MaximumBatchingWindowInSeconds", "FunctionResponseTypes", "ScalingConfig",
                     "FilterCriteria", "MaximumRetryAttempts", "BisectBatchOnFunctionError",
                     "MaximumRecordAgeInSeconds", "ParallelizationFactor", "DestinationConfig",
                     "TumblingWindowInSeconds", "MetricsConfig")
_MAPPING_INTEGERS = ("BatchSize", "MaximumBatchingWindowInSeconds", "MaximumRetryAttempts",
                     "MaximumRecordAgeInSeconds", "ParallelizationFactor", "TumblingWindowInSeconds")


def _settings(properties: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in _MAPPING_SETTINGS:
        if key in properties:
            value = properties[key]
            if key in _MAPPING_INTEGERS:
                value = as_int(value, key)
            elif key in ("Enabled", "BisectBatchOnFunctionError"):
                value = as_bool(value)
            out[key] = value
    return out


class EventSourceMapping(ResourceType):
    type_name = "AWS::Lambda::EventSourceMapping"
    properties = frozenset({"EventSourceArn", "FunctionName", "StartingPosition", "StartingPositionTimestamp",
                            *_MAPPING_SETTINGS})
    required = frozenset({"FunctionName"})
    replace_on = frozenset({"EventSourceArn", "StartingPosition", "StartingPositionTimestamp"})

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        request = {"FunctionName": properties["FunctionName"], **_settings(properties)}
        for key in ("EventSourceArn", "StartingPosition", "StartingPositionTimestamp"):
            if key in properties:
                request[key] = properties[key]
        created = await target.call("lambda", "CreateEventSourceMapping", request)
        return Made(created["UUID"], {"Id": created["UUID"], "EventSourceMappingArn": created.get(
            "EventSourceMappingArn", "")})

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        await target.call("lambda", "UpdateEventSourceMapping", {"UUID": current.physical_id,
                                                                 "FunctionName": new["FunctionName"],
                                                                 **_settings(new)})
        return current

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        await ignore_missing(target, "lambda", "DeleteEventSourceMapping", {"UUID": current.physical_id},
                             "ResourceNotFoundException")
