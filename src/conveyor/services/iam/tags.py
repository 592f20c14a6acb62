"""Tags on users, roles, managed policies and instance profiles.

Keys are case-insensitive but keep the case they were given; tagging with an existing key replaces its
value; an entity holds at most 50 tags. https://docs.aws.amazon.com/IAM/latest/UserGuide/id_tags.html
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from conveyor.services.iam import errors
from conveyor.services.iam.entities import Tags

if TYPE_CHECKING:
    from mypy_boto3_iam.type_defs import TagTypeDef

MAX_TAGS = 50


def given(tags: Iterable[TagTypeDef] | None) -> Tags:
    """Tags from a request, refusing a key given twice."""
    out: Tags = []
    seen: set[str] = set()
    for tag in tags or []:
        key = tag["Key"]
        if key.lower() in seen:
            raise errors.invalid("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
        seen.add(key.lower())
        out.append({"Key": key, "Value": tag.get("Value", "")})
    if len(out) > MAX_TAGS:
        raise errors.limit(f"The number of tags has reached the maximum limit of {MAX_TAGS}.")
    return out


def merged(existing: Tags, new: Iterable[TagTypeDef] | None) -> Tags:
    additions = given(new)
    out = [dict(t) for t in existing]
    for tag in additions:
        for current in out:
            if current["Key"].lower() == tag["Key"].lower():
                current["Value"] = tag["Value"]
                break
        else:
            out.append(tag)
    if len(out) > MAX_TAGS:
        raise errors.limit(f"The number of tags has reached the maximum limit of {MAX_TAGS}.")
    return out


def without(existing: Tags, keys: Iterable[str]) -> Tags:
    gone = {k.lower() for k in keys}
    return [t for t in existing if t["Key"].lower() not in gone]
