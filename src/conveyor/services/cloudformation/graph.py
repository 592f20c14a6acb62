"""The order resources are made in: each after those it names (Ref, Fn::GetAtt, Fn::Sub) and those its
DependsOn lists; deletion goes the other way.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-dependson.html
"""

from __future__ import annotations

from typing import Any

from conveyor.services.cloudformation import errors
from conveyor.services.cloudformation.intrinsics import references


def depends_on(resource: dict[str, Any]) -> list[str]:
    value = resource.get("DependsOn") or []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def dependencies(document: dict[str, Any], logical: str) -> set[str]:
    """The resources `logical` needs made first."""
    resources = document["Resources"]
    resource = resources[logical]
    named = references({k: v for k, v in resource.items() if k in ("Properties", "Metadata")})
    return {name for name in named if name in resources} | set(depends_on(resource))


def check_references(document: dict[str, Any]) -> None:
    """Every name a resource or output refers to is a parameter, a resource or a pseudo parameter, and
    every DependsOn a resource: else the template is refused before anything is made."""
    resources = document["Resources"]
    known = set(resources) | set(document.get("Parameters") or {})
    for logical, resource in resources.items():
        missing = sorted(name for name in depends_on(resource) if name not in resources)
        if missing:
            raise errors.template_format(f"Unresolved resource dependencies [{', '.join(missing)}] in the Resources block of "
                                         "the template")
        condition = resource.get("Condition")
        if condition is not None and condition not in (document.get("Conditions") or {}):
            raise errors.template_format(f"Unresolved condition dependency {condition} in Resources ({logical})")
        unknown = sorted(name for name in references(resource.get("Properties") or {})
                         if name not in known and not name.startswith("AWS::"))
        if unknown:
            raise errors.template_format(f"Unresolved resource dependencies [{', '.join(unknown)}] in the Resources block of "
                                         "the template")
    for output in (document.get("Outputs") or {}).values():
        unknown = sorted(name for name in references(output) if name not in known and not name.startswith("AWS::"))
        if unknown:
            raise errors.template_format(f"Unresolved resource dependencies [{', '.join(unknown)}] in the Outputs block of "
                                         "the template")
    creation_order(document, set(resources))  # a cycle is refused before anything is made


def creation_order(document: dict[str, Any], active: set[str]) -> list[str]:
    """The active resources, each after everything it depends on; a cycle is a template error."""
    order: list[str] = []
    state: dict[str, int] = {}  # 1: being visited, 2: done

    def visit(logical: str, path: list[str]) -> None:
        if state.get(logical) == 2:
            return
        if state.get(logical) == 1:
            cycle = path[path.index(logical):]
            raise errors.template_format(f"Circular dependency between resources: [{', '.join(sorted(set(cycle)))}]")
        state[logical] = 1
        for needed in sorted(dependencies(document, logical)):
            if needed in active:
                visit(needed, [*path, needed])
            elif needed in document["Resources"]:
                raise errors.template_format(
                    f"Template error: resource {logical} depends on {needed}, whose condition is false")
        state[logical] = 2
        order.append(logical)

    for logical in document["Resources"]:
        if logical in active:
            visit(logical, [logical])
    return order
