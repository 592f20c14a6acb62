"""Stack documents as the API answers them (DescribeStacks, the resource operations)."""

from __future__ import annotations

from typing import Any

NOT_CHECKED = {"StackDriftStatus": "NOT_CHECKED"}


def stack(doc: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "StackId": doc["StackId"], "StackName": doc["StackName"], "CreationTime": doc["CreationTime"],
        "StackStatus": doc["StackStatus"], "DisableRollback": bool(doc.get("DisableRollback")),
        "NotificationARNs": doc.get("NotificationARNs") or [], "Tags": doc.get("Tags") or [],
        "EnableTerminationProtection": False, "DriftInformation": NOT_CHECKED,
        "Parameters": [{"ParameterKey": p["ParameterKey"],
                        "ParameterValue": "****" if p["ParameterKey"] in (doc.get("NoEcho") or [])
                        else p["ParameterValue"]} for p in doc.get("Parameters") or []]}
    for key in ("Description", "StackStatusReason", "LastUpdatedTime", "DeletionTime", "ChangeSetId"):
        if doc.get(key) is not None:
            out[key] = doc[key]
    if doc.get("Capabilities"):
        out["Capabilities"] = doc["Capabilities"]
    if doc.get("Outputs"):
        out["Outputs"] = doc["Outputs"]
    return out


def summary(doc: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"StackId": doc["StackId"], "StackName": doc["StackName"],
                           "CreationTime": doc["CreationTime"], "StackStatus": doc["StackStatus"],
                           "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"}}
    for key in ("TemplateDescription", "StackStatusReason", "LastUpdatedTime", "DeletionTime"):
        source = "Description" if key == "TemplateDescription" else key
        if doc.get(source) is not None:
            out[key] = doc[source]
    return out


def resource(doc: dict[str, Any], entry: dict[str, Any], *, detail: bool = False,
             summary_form: bool = False) -> dict[str, Any]:
    timestamp = entry.get("LastUpdatedTimestamp") or doc["CreationTime"]
    out: dict[str, Any] = {"LogicalResourceId": entry["LogicalResourceId"], "ResourceType": entry["ResourceType"],
                           "ResourceStatus": entry.get("ResourceStatus") or "CREATE_IN_PROGRESS"}
    if entry.get("PhysicalResourceId"):
        out["PhysicalResourceId"] = entry["PhysicalResourceId"]
    if entry.get("ResourceStatusReason"):
        out["ResourceStatusReason"] = entry["ResourceStatusReason"]
    if summary_form:
        out["LastUpdatedTimestamp"] = timestamp
        out["DriftInformation"] = {"StackResourceDriftStatus": "NOT_CHECKED"}
        return out
    out["StackName"] = doc["StackName"]
    out["StackId"] = doc["StackId"]
    if detail:
        out["LastUpdatedTimestamp"] = timestamp
        out["Metadata"] = "{}"
    else:
        out["Timestamp"] = timestamp
    out["DriftInformation"] = {"StackResourceDriftStatus": "NOT_CHECKED"}
    return out
