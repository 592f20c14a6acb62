"""Change sets: what an update would do, resource by resource, before it is done; what `aws cloudformation
deploy` creates, waits for and executes.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets.html
"""

from __future__ import annotations

import copy
from typing import Any

from conveyor.services.cloudformation import graph
from conveyor.services.cloudformation.engine import StackEngine
from conveyor.services.cloudformation.errors import ResourceFailure
from conveyor.services.cloudformation.resources import TYPES
from conveyor.wire import ServiceError

# The reason a change set without changes fails with; the AWS CLI's `deploy` looks for these words.
NO_CHANGES = "The submitted information didn't contain changes. Submit different information to create a change set."


def changes(engine: StackEngine, stack: dict[str, Any], document: dict[str, Any], parameters: dict[str, Any],
            creating: bool) -> list[dict[str, Any]]:
    """The resource changes of applying `document` to the stack as it stands."""
    current = copy.deepcopy(stack)
    scope = engine.scope(current, document, parameters)
    active = [logical for logical, resource in document["Resources"].items()
              if resource.get("Condition") is None or scope.condition(resource["Condition"])]
    out: list[dict[str, Any]] = []
    existing = {} if creating else current["Resources"]
    for logical in active:
        definition = document["Resources"][logical]
        entry = existing.get(logical)
        change: dict[str, Any] = {"LogicalResourceId": logical, "ResourceType": definition["Type"],
                                  "Scope": [], "Details": []}
        if entry is None:
            change["Action"] = "Add"
        else:
            change["PhysicalResourceId"] = entry.get("PhysicalResourceId") or ""
            try:
                properties = scope.evaluate(definition.get("Properties") or {})
            except (ResourceFailure, ServiceError):
                properties = None  # it reads a value the update itself will change
            if properties is not None and properties == entry.get("Properties") and \
                    entry["ResourceType"] == definition["Type"]:
                continue
            kind = TYPES.get(definition["Type"])
            if properties is None:
                replacement = "Conditional"
            elif kind is None or entry["ResourceType"] != definition["Type"]:
                replacement = "True"
            else:
                replacement = "True" if kind.needs_replacement(entry.get("Properties") or {}, properties) else "False"
            change.update(Action="Modify", Replacement=replacement, Scope=["Properties"])
            old = entry.get("Properties") or {}
            for name in sorted(set(old) | set(properties or {})):
                if properties is None or old.get(name) != properties.get(name):
                    change["Details"].append({
                        "Target": {"Attribute": "Properties", "Name": name,
                                   "RequiresRecreation": "Always" if kind is not None and name in kind.replace_on
                                   else "Never"},
                        "Evaluation": "Static" if properties is not None else "Dynamic",
                        "ChangeSource": "DirectModification"})
        out.append({"Type": "Resource", "ResourceChange": change})
    for logical, entry in existing.items():
        if logical not in active and entry.get("ResourceStatus") != "DELETE_COMPLETE":
            out.append({"Type": "Resource", "ResourceChange": {
                "Action": "Remove", "LogicalResourceId": logical, "ResourceType": entry["ResourceType"],
                "PhysicalResourceId": entry.get("PhysicalResourceId") or "", "Scope": [], "Details": []}})
    graph.creation_order(document, set(active))  # a cycle fails the change set as it would the stack
    return out
