"""The message AWS's newer APIs send for a request that breaks its model's constraints:

    1 validation error detected: Value 'bad name' at 'roleName' failed to satisfy constraint: Member must
    satisfy regular expression pattern: [\\w+=,.@-]+

IAM and STS (query protocol) send it as ValidationError, Lambda (rest-json) as ValidationException; the
member path is camel-cased, and the query protocol names list items `tags.1.member.key`.
https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html (ValidationError),
https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html,
https://docs.aws.amazon.com/lambda/latest/api/CommonErrors.html (ValidationException)

Services share one instance per family instead of importing each other's.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.model import Shape

from conveyor.protocol.validate import ValidationCodes
from conveyor.wire import ServiceError

# The generic validator's reasons (conveyor.protocol.validate), in the words of AWS's constraint messages.
_CONSTRAINTS = [
    (re.compile(r"^length must be at least (\d+)$"), "Member must have length greater than or equal to {0}"),
    (re.compile(r"^length must be at most (\d+)$"), "Member must have length less than or equal to {0}"),
    (re.compile(r"^must be at least (\S+)$"), "Member must have value greater than or equal to {0}"),
    (re.compile(r"^must be at most (\S+)$"), "Member must have value less than or equal to {0}"),
    (re.compile(r"^must be one of (.*)$"), "Member must satisfy enum value set: [{0}]"),
    (re.compile(r"^must satisfy regular expression pattern: (.*)$"),
     "Member must satisfy regular expression pattern: {0}"),
]


def constraint(reason: str) -> str:
    """A validator reason ("length must be at most 64") as AWS words it ("Member must have length ...")."""
    for pattern, words in _CONSTRAINTS:
        found = pattern.match(reason)
        if found:
            return words.format(found.group(1))
    return f"Member {reason}"


def member_path(path: str, *, query_lists: bool) -> str:
    """`Tags.1.Key` as AWS names it: `tags.1.member.key` (query protocol) or `tags.1.key`."""
    parts = []
    for part in path.split("."):
        if part.isdigit() and query_lists:
            parts.append(f"{part}.member")
        else:
            parts.append(part[:1].lower() + part[1:])
    return ".".join(parts)


class ConstraintViolations(ValidationCodes):
    """Validation failures in the "1 validation error detected" form, under one error code.

    With `whole_lists`, an item of a list of scalars that breaks its member shape is reported as AWS's
    Coral front ends report it: the whole list, Java's way (`[GET, PUT]`), at the list's path, and every
    constraint of the member shape, whichever the item broke; `member_not_null` adds the not-null one, as
    Lambda lists it. A Lambda answer of this form:

        1 validation error detected: Value '[GET, POST, OPTIONS]' at 'cors.allowMethods' failed to satisfy
        constraint: Member must satisfy constraint: [Member must have length less than or equal to 6,
        Member must have length greater than or equal to 0, Member must satisfy regular expression
        pattern: .*, Member must not be null]
    """

    def __init__(self, code: str, *, query_lists: bool, patterns: bool, whole_lists: bool = False,
                 member_not_null: bool = False) -> None:
        self.missing = self.invalid = code
        self.query_lists = query_lists
        self.patterns = patterns
        self.whole_lists = whole_lists
        self.member_not_null = member_not_null

    def missing_error(self, path: str) -> ServiceError:
        return ServiceError(self.missing, f"1 validation error detected: Value null at '{self._path(path)}' "
                                          "failed to satisfy constraint: Member must not be null")

    def invalid_error(self, path: str, value: Any, reason: str) -> ServiceError:
        return ServiceError(self.invalid, f"1 validation error detected: Value '{value}' at '{self._path(path)}' "
                                          f"failed to satisfy constraint: {constraint(reason)}")

    def map_key_pattern_error(self, path: str, key: str, pattern: str) -> ServiceError:
        # e.g. a one-letter Lambda environment variable name (the model's pattern wants two characters)
        return ServiceError(self.invalid, f"1 validation error detected: Value at '{self._path(path)}' failed to "
                                          "satisfy constraint: Map keys must satisfy constraint: [Member must "
                                          f"satisfy regular expression pattern: {pattern}]")

    def list_member_error(self, path: str, items: list[Any], member: Shape, error: ServiceError) -> ServiceError:
        if not self.whole_lists or member.type_name in ("structure", "list", "map"):
            return error
        shown = "[" + ", ".join(str(item) for item in items) + "]"
        return ServiceError(self.invalid, f"1 validation error detected: Value '{shown}' at '{self._path(path)}' "
                                          "failed to satisfy constraint: Member must satisfy constraint: "
                                          f"[{', '.join(self._member_constraints(member))}]")

    def _member_constraints(self, member: Shape) -> list[str]:
        found = []
        enum = getattr(member, "enum", None)
        if enum:
            found.append(f"Member must satisfy enum value set: [{', '.join(enum)}]")
        measure = "length" if member.type_name in ("string", "blob") else "value"
        if "max" in member.metadata:
            found.append(f"Member must have {measure} less than or equal to {member.metadata['max']}")
        if "min" in member.metadata:
            found.append(f"Member must have {measure} greater than or equal to {member.metadata['min']}")
        if self.patterns and member.metadata.get("pattern"):
            found.append(f"Member must satisfy regular expression pattern: {member.metadata['pattern']}")
        if self.member_not_null:
            found.append("Member must not be null")
        return found

    def _path(self, path: str) -> str:
        return member_path(path, query_lists=self.query_lists)


# IAM and STS, one family of query APIs: names and paths are checked against the model's patterns.
IAM_FAMILY = ConstraintViolations("ValidationError", query_lists=True, patterns=True)
