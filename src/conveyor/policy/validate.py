"""Refusing malformed policy documents with the messages IAM gives (MalformedPolicyDocument).

IAM checks a document in stages and reports the first failure: its JSON and grammar ("Syntax errors in
policy."), its version (managed policies need "2012-10-17"), the strict reading of Effect and of date
conditions ("The policy failed legacy parsing"), unique Sids, then that every statement has actions and
resources, and their form. https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html
and https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicy.html (MalformedPolicyDocument).

What a document may hold depends on where it goes (`Use`): an identity policy names no principal, a
role's trust policy names a principal and no resource, a resource policy (bucket, queue, topic) both.
SQS, SNS and S3 can call `check` with `Use.RESOURCE` and map PolicyError to their own error code.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Mapping

from conveyor.policy.conditions import condition_values, parse_operator, to_epoch
from conveyor.policy.document import CURRENT_VERSION, VERSIONS

_TOP = frozenset({"Version", "Id", "Statement"})
_ELEMENTS = frozenset({"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource",
                       "NotResource", "Condition"})
_PRINCIPAL_KINDS = frozenset({"AWS", "Service", "Federated", "CanonicalUser"})
_VENDOR = re.compile(r"[a-zA-Z0-9\-.]+")
_IAM_PATHS = ("user/", "federated-user/", "role/", "group/", "instance-profile/", "mfa/", "server-certificate/",
              "policy/", "sms-mfa/", "saml-provider/", "oidc-provider/", "report/", "access-report/")
# The actions a trust policy may grant. https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-user.html
_TRUST_ACTIONS = ("sts:assumerole", "sts:assumerolewithsaml", "sts:assumerolewithwebidentity", "sts:tagsession",
                  "sts:setsourceidentity", "sts:setcontext", "sts:*", "*")
_ACCOUNT_OR_ARN = re.compile(r"\d{12}|arn:[a-z-]+:(iam|sts)::\d{12}:\S+")  # used with fullmatch

SYNTAX = "Syntax errors in policy."
LEGACY = "The policy failed legacy parsing"


class Use(enum.Enum):
    IDENTITY = "identity"  # inline policy of a user, group or role
    MANAGED = "managed"  # a managed policy's version (must be Version 2012-10-17)
    TRUST = "trust"  # a role's AssumeRolePolicyDocument
    RESOURCE = "resource"  # a bucket, queue or topic policy


class PolicyError(ValueError):
    """A malformed document, with IAM's message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check(text: str, use: Use, principal_exists: Callable[[str], bool] | None = None) -> dict[str, object]:
    """The decoded document when it is well formed; PolicyError otherwise.

    `principal_exists`, when given, is asked about each principal ARN of a trust policy: IAM refuses
    a trust policy naming a user or role that does not exist ("Invalid principal in policy").
    """
    document, statements = _syntax(text, use)
    if use == Use.MANAGED and document.get("Version") != CURRENT_VERSION:
        raise PolicyError("Policy document must be version 2012-10-17 or greater.")
    for statement in statements:
        _legacy(statement)
    sids = [s["Sid"] for s in statements if s.get("Sid")]
    if len(sids) != len(set(sids)):
        raise PolicyError("Statement IDs (SID) in a single policy must be unique.")
    for statement in statements:
        names_principal = "Principal" in statement or "NotPrincipal" in statement
        if use in (Use.TRUST, Use.RESOURCE) and not names_principal:
            raise PolicyError("Missing required field Principal")
        if use == Use.TRUST and ("Resource" in statement or "NotResource" in statement):
            raise PolicyError(f"Has prohibited field {'Resource' if 'Resource' in statement else 'NotResource'}")
        if not _present(statement, "Action"):
            raise PolicyError("Policy statement must contain actions.")
        if use != Use.TRUST and not _present(statement, "Resource"):
            raise PolicyError("Policy statement must contain resources.")
    for statement in statements:
        for resource in _as_list(statement.get("Resource", statement.get("NotResource", []))):
            _resource(str(resource))
    for statement in statements:
        for action in _as_list(statement.get("Action", statement.get("NotAction", []))):
            _action(str(action))
        if use == Use.TRUST:
            _trust(statement, principal_exists)
    return document


def _as_list(value: object) -> list[object]:
    return value if isinstance(value, list) else [value]


def _strings_ok(value: object) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))


def _syntax(text: str, use: Use) -> tuple[dict[str, object], list[dict[str, object]]]:
    try:
        document = json.loads(text)
    except ValueError:
        raise PolicyError(SYNTAX)
    if not isinstance(document, dict) or not set(document) <= _TOP or "Statement" not in document:
        raise PolicyError(SYNTAX)
    if "Version" in document and document["Version"] not in VERSIONS:
        raise PolicyError(SYNTAX)
    if "Id" in document and not isinstance(document["Id"], str):
        raise PolicyError(SYNTAX)
    statements = document["Statement"]
    if not isinstance(statements, dict | list) or statements == []:
        raise PolicyError(SYNTAX)
    checked: list[dict[str, object]] = []
    for statement in _as_list(statements):
        if not isinstance(statement, dict):
            raise PolicyError(SYNTAX)
        if use in (Use.IDENTITY, Use.MANAGED) and ("Principal" in statement or "NotPrincipal" in statement):
            # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
            raise PolicyError("Policy document should not specify a principal.")
        _statement_syntax(statement)
        checked.append(statement)
    return document, checked


def _statement_syntax(statement: Mapping[str, object]) -> None:
    if not set(statement) <= _ELEMENTS:
        raise PolicyError(SYNTAX)
    effect = statement.get("Effect")
    if not isinstance(effect, str) or effect.lower() not in ("allow", "deny"):
        raise PolicyError(SYNTAX)
    for name in ("Action", "Resource", "Principal"):
        if name in statement and f"Not{name}" in statement:
            raise PolicyError(SYNTAX)
    for name in ("Action", "NotAction", "Resource", "NotResource"):
        if name in statement and not _strings_ok(statement[name]):
            raise PolicyError(SYNTAX)
    if "Sid" in statement and not isinstance(statement["Sid"], str):
        raise PolicyError(SYNTAX)
    for name in ("Principal", "NotPrincipal"):
        if name in statement:
            _principal_syntax(statement[name])
    if "Condition" in statement:
        _condition_syntax(statement["Condition"])


def _principal_syntax(principal: object) -> None:
    if principal == "*":
        return
    if not isinstance(principal, dict) or not principal or not set(principal) <= _PRINCIPAL_KINDS:
        raise PolicyError(SYNTAX)
    if not all(_strings_ok(v) for v in principal.values()):
        raise PolicyError(SYNTAX)


def _condition_syntax(condition: object) -> None:
    if not isinstance(condition, dict):
        raise PolicyError(SYNTAX)
    for operator, pairs in condition.items():
        if not isinstance(pairs, dict):
            raise PolicyError(SYNTAX)
        if parse_operator(operator) is None and pairs:
            raise PolicyError(SYNTAX)
        for value in pairs.values():
            if condition_values(value) is None:
                raise PolicyError(SYNTAX)


def _legacy(statement: Mapping[str, object]) -> None:
    """IAM's older, stricter parser: Effect is case-sensitive and date conditions must be dates."""
    if statement.get("Effect") not in ("Allow", "Deny"):
        raise PolicyError(LEGACY)
    condition = statement.get("Condition")
    if not isinstance(condition, dict):
        return
    for operator, pairs in condition.items():
        parsed = parse_operator(operator)
        if parsed is None or not parsed.name.startswith("Date") or not isinstance(pairs, dict):
            continue
        for value in pairs.values():
            for text in condition_values(value) or []:
                if to_epoch(text) is None:
                    raise PolicyError(LEGACY)


def _present(statement: Mapping[str, object], name: str) -> bool:
    for key in (name, f"Not{name}"):
        if key in statement:
            return statement[key] != []
    return False


def _resource(resource: str) -> None:
    if resource == "*":
        return
    parts = resource.split(":", 5)
    if len(parts) < 2:
        raise PolicyError(f'Resource {resource} must be in ARN format or "*".')
    if len(parts) < 3 or not parts[2] or "*" in parts[2] or "?" in parts[2]:
        # "You can't use a wildcard in the service segment" (reference_policies_elements_resource.html)
        raise PolicyError("Resource vendor must be fully qualified and cannot contain regexes.")
    service, region = parts[2], parts[3] if len(parts) > 3 else ""
    if service == "iam" and region:
        raise PolicyError(f"IAM resource {resource} cannot contain region information.")
    if service == "s3" and region:
        raise PolicyError(f"Resource {resource} can not contain region information.")
    if service == "iam" and len(parts) == 6 and parts[5] != "*" and not parts[5].startswith(_IAM_PATHS):
        raise PolicyError(f'IAM resource path must either be "*" or start with {", ".join(_IAM_PATHS)}.')


def _action(action: str) -> None:
    if action == "*":
        return
    parts = action.split(":")
    if len(parts) == 1:
        raise PolicyError("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
    if len(parts) > 2:
        raise PolicyError("Actions/Condition can contain only one colon.")
    if not _VENDOR.fullmatch(parts[0]):
        raise PolicyError(f"Vendor {parts[0]} is not valid")


def _trust(statement: Mapping[str, object], principal_exists: Callable[[str], bool] | None) -> None:
    actions = [str(a).lower() for a in _as_list(statement.get("Action", statement.get("NotAction", [])))]
    if "NotAction" in statement or any(a not in _TRUST_ACTIONS for a in actions):
        raise PolicyError("AssumeRole policy may only specify STS AssumeRole actions.")
    principal = statement.get("Principal", statement.get("NotPrincipal"))
    if not isinstance(principal, dict):
        return
    for value in _as_list(principal.get("AWS", [])):
        text = str(value)
        valid = text == "*" or _ACCOUNT_OR_ARN.fullmatch(text) is not None
        if valid and principal_exists is not None and text.startswith("arn:") and not text.endswith(":root"):
            valid = principal_exists(text)
        if not valid:
            raise PolicyError(f'Invalid principal in policy: "AWS":"{text}"')
