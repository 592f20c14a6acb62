"""What another account's caller gets from a service whose resources carry no policy that could let it in.

With `--auth off`, an access key ID of 12 digits other than the account's is that account's root user
(conveyor.wire.caller). On AWS it acts in its own account: it lists that account's resources, a name it
gives is a resource of that account, and what it creates is created there. Conveyor holds one account, so
that account holds nothing here: its listings are empty, a resource it names does not exist (or, named by
an ARN of the owner's account, is refused as AWS refuses a resource of another account:
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html),
and what it would create is refused as AccessDenied. The enforcer applies the rule
(conveyor.authz.Enforcer.authorize); each service names its own answers (conveyor.services.base.Service).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.model import OperationModel, Shape

# Read operations; one that needs no input member to name its subject reads the whole account.
_READS = ("List", "Describe", "Get", "Search", "Lookup")


def lists_the_account(operation: OperationModel) -> bool:
    """Whether the operation reads the caller's account as a whole (ListRoles, DescribeInstances), not a
    resource it names (GetRole's RoleName): what it reads of an account that holds nothing is nothing."""
    if not operation.name.startswith(_READS):
        return False
    shape = operation.input_shape
    return shape is None or not getattr(shape, "required_members", [])


def empty_answer(operation: OperationModel, params: Mapping[str, Any]) -> dict[str, Any]:
    """The operation's answer over an account with nothing in it: every list empty, a paginated answer
    not truncated, a count 0; a wrapper structure (CloudFront's `DistributionList`) holds the same.
    Members with no "empty" value are left out, as AWS leaves out what it has none of."""
    shape = operation.output_shape
    return _empty(shape, params, wrappers=1) if shape is not None else {}


def empty_of(operation: OperationModel) -> dict[str, Any]:
    """`empty_answer` for a request whose page size does not matter."""
    return empty_answer(operation, {})


def _empty(shape: Shape, params: Mapping[str, Any], *, wrappers: int) -> dict[str, Any]:
    answer: dict[str, Any] = {}
    required = set(getattr(shape, "required_members", []))
    members: dict[str, Shape] = getattr(shape, "members", {})
    for name, member in members.items():
        kind = member.type_name
        if kind == "list":
            answer[name] = []
        elif kind == "boolean" and (name in ("IsTruncated", "Truncated") or name in required):
            answer[name] = False
        elif kind == "structure" and wrappers > 0 and (name in required or _wraps(shape, name)):
            answer[name] = _empty(member, params, wrappers=wrappers - 1)
        elif name in required and name == "MaxItems":  # the page size asked for, or the default page
            asked = params.get("MaxItems") or 100
            answer[name] = str(asked) if kind == "string" else int(asked)
        elif name in required and kind in ("integer", "long"):
            answer[name] = 0
        elif name in required and kind == "string":
            answer[name] = ""
    return answer


def _wraps(shape: Shape, member: str) -> bool:
    """Whether the member is the whole answer (a rest-xml payload, CloudFront's `DistributionList`)."""
    return getattr(shape, "serialization", {}).get("payload") == member or list(getattr(shape, "members", {})) == [member]
