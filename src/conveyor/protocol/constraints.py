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
    """Validation failures in the "1 validation error detected" form, under one error code."""

    def __init__(self, code: str, *, query_lists: bool, patterns: bool) -> None:
        self.missing = self.invalid = code
        self.query_lists = query_lists
        self.patterns = patterns

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

    def _path(self, path: str) -> str:
        return member_path(path, query_lists=self.query_lists)


# IAM and STS, one family of query APIs: names and paths are checked against the model's patterns.
IAM_FAMILY = ConstraintViolations("ValidationError", query_lists=True, patterns=True)
