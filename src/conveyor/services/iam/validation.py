"""How IAM words a request that breaks its model's constraints (names, paths, lengths, ranges):

    ValidationError: 1 validation error detected: Value 'bad name' at 'roleName' failed to satisfy
    constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+

https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html (ValidationError)
"""

from __future__ import annotations

import re
from typing import Any

from conveyor.protocol.validate import ValidationCodes
from conveyor.wire import ServiceError

# The generic validator's reasons, in the words of IAM's constraint messages.
_CONSTRAINTS = [
    (re.compile(r"^length must be at least (\d+)$"), "Member must have length greater than or equal to {0}"),
    (re.compile(r"^length must be at most (\d+)$"), "Member must have length less than or equal to {0}"),
    (re.compile(r"^must be at least (\S+)$"), "Member must have value greater than or equal to {0}"),
    (re.compile(r"^must be at most (\S+)$"), "Member must have value less than or equal to {0}"),
    (re.compile(r"^must be one of (.*)$"), "Member must satisfy enum value set: [{0}]"),
    (re.compile(r"^must satisfy regular expression pattern: (.*)$"),
     "Member must satisfy regular expression pattern: {0}"),
]


def _member_path(path: str) -> str:
    """`Tags.1.Key` as IAM names it: `tags.1.member.key`."""
    parts = []
    for part in path.split("."):
        if part.isdigit():
            parts.append(f"{part}.member")
        else:
            parts.append(part[:1].lower() + part[1:])
    return ".".join(parts)


class IamValidationCodes(ValidationCodes):
    missing = "ValidationError"
    invalid = "ValidationError"
    patterns = True

    def missing_error(self, path: str) -> ServiceError:
        return ServiceError(self.missing, f"1 validation error detected: Value null at '{_member_path(path)}' "
                                          "failed to satisfy constraint: Member must not be null")

    def invalid_error(self, path: str, value: Any, reason: str) -> ServiceError:
        constraint = f"Member {reason}"
        for pattern, words in _CONSTRAINTS:
            found = pattern.match(reason)
            if found:
                constraint = words.format(found.group(1))
                break
        return ServiceError(self.invalid, f"1 validation error detected: Value '{value}' at '{_member_path(path)}' "
                                          f"failed to satisfy constraint: {constraint}")
