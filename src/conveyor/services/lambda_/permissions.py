"""Resource-based policies: AddPermission, GetPolicy, RemovePermission, and the check S3 and SNS pass through.

A policy belongs to one resource: the function (unqualified ARN), or one version or alias
(https://docs.aws.amazon.com/lambda/latest/dg/using-aliases.html: a permission on `fn:PROD` allows
invoking `fn:PROD`, and invoking without the qualifier is then refused). Statements are kept in the
function's document with their `Resource`, so the qualifier is the suffix of that ARN.

Services that invoke functions on their own (S3 notifications, SNS subscriptions) must be allowed by a
statement naming their service principal (or `*`), `lambda:InvokeFunction`, and conditions that hold
for the source: `AWS:SourceArn` (ArnLike / ArnEquals, wildcards allowed) and `AWS:SourceAccount`.
"""

from __future__ import annotations

import fnmatch
import json
import uuid
from typing import TYPE_CHECKING, Any

from conveyor.services.lambda_.functions import Function, conflict, not_found, revision_mismatch
from conveyor.services.lambda_.registry import Registry
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_lambda.type_defs import (
        AddPermissionRequestTypeDef,
        GetPolicyRequestTypeDef,
        RemovePermissionRequestTypeDef,
    )

_INVOKE_ACTIONS = {"lambda:invokefunction", "lambda:*", "*"}


def resource_arn(fn: Function, qualifier: str | None) -> str:
    return f"{fn.arn}:{qualifier}" if qualifier else fn.arn


def statements_for(fn: Function, qualifier: str | None) -> list[dict[str, Any]]:
    arn = resource_arn(fn, qualifier)
    return [s for s in fn.policy if s.get("Resource", fn.arn) == arn]


def _condition_holds(condition: dict[str, Any], source_arn: str | None, source_account: str) -> bool:
    """Evaluate the condition keys AddPermission writes; anything else cannot be shown to hold."""
    for operator, pairs in condition.items():
        for key, expected in pairs.items():
            values = expected if isinstance(expected, list) else [expected]
            key = key.lower()
            if key == "aws:sourcearn":
                actual = source_arn
            elif key == "aws:sourceaccount":
                actual = source_account
            else:
                return False
            if actual is None:
                return False
            op = operator.lower()
            if op in ("arnlike", "stringlike"):
                ok = any(fnmatch.fnmatchcase(actual, v) for v in values)
            elif op in ("arnequals", "stringequals"):
                ok = actual in values
            else:
                return False
            if not ok:
                return False
    return True


def allows(statements: list[dict[str, Any]], service_principal: str, source_arn: str | None,
           source_account: str) -> bool:
    for s in statements:
        if s.get("Effect") != "Allow":
            continue
        actions = s.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        if not any(str(a).lower() in _INVOKE_ACTIONS for a in actions):
            continue
        principal = s.get("Principal")
        if not (principal == "*" or (isinstance(principal, dict)
                                     and (principal.get("Service") == service_principal
                                          or principal.get("AWS") == "*"))):
            continue
        if _condition_holds(s.get("Condition") or {}, source_arn, source_account):
            return True
    return False


def _public(principal: Any) -> bool:
    return principal == "*" or (isinstance(principal, dict) and principal.get("AWS") == "*")


def _grants(actions: Any, wanted: str) -> bool:
    listed = actions if isinstance(actions, list) else [actions]
    return any(fnmatch.fnmatchcase(wanted.lower(), str(a).lower()) for a in listed)


def _url_condition_holds(condition: dict[str, Any]) -> bool:
    """The condition keys of a function URL request: lambda:FunctionUrlAuthType is NONE and
    lambda:InvokedViaFunctionUrl is true; any other key cannot be shown to hold."""
    for operator, pairs in condition.items():
        op = operator.lower()
        for key, expected in pairs.items():
            values = [str(v) for v in (expected if isinstance(expected, list) else [expected])]
            key = key.lower()
            if key == "lambda:functionurlauthtype" and op in ("stringequals", "stringlike"):
                ok = any(fnmatch.fnmatchcase("NONE", v) for v in values)
            elif key == "lambda:invokedviafunctionurl" and op == "bool":
                ok = any(v.lower() == "true" for v in values)
            else:
                return False
            if not ok:
                return False
    return True


def url_invoke_allowed(fn: Function, qualifier: str | None) -> bool:
    """Whether the resource policy lets everyone invoke the function (or alias) through a URL of AuthType
    NONE: both lambda:InvokeFunctionUrl and, since October 2025, lambda:InvokeFunction
    (https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html#urls-auth-none)."""
    public = [s for s in statements_for(fn, qualifier) if s.get("Effect") == "Allow" and _public(s.get("Principal"))]

    def allowed(action: str) -> bool:
        return any(_grants(s.get("Action"), action) and _url_condition_holds(s.get("Condition") or {})
                   for s in public)

    return allowed("lambda:InvokeFunctionUrl") and allowed("lambda:InvokeFunction")


class PermissionOperations:
    """AddPermission, GetPolicy, RemovePermission, and whether a service may invoke a function."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def invoke_allowed(self, function_arn: str, service_principal: str, source_arn: str | None) -> bool:
        """Whether `service_principal` (e.g. s3.amazonaws.com) acting for `source_arn` may invoke the function."""
        try:
            fn, qualifier = self.registry.get(function_arn)
        except ServiceError:
            return False
        return allows(statements_for(fn, qualifier), service_principal, source_arn, self.registry.account)

    def policy_document(self, arn: str) -> str | None:
        """The resource policy of the function (or its version or alias) `arn` names, for IAM's evaluation."""
        try:
            fn, qualifier = self.registry.get(arn)
        except ServiceError:
            return None
        mine = statements_for(fn, None if qualifier == "$LATEST" else qualifier)
        return json.dumps({"Version": "2012-10-17", "Id": "default", "Statement": mine}) if mine else None

    def _qualified(self, ctx: RequestContext, ref: str, given: str | None) -> tuple[Function, str | None]:
        fn, qualifier = self.registry.get(ref, ctx.region, given)
        if qualifier == "$LATEST":
            qualifier = None
        if qualifier:
            fn.resolve(qualifier)  # a version or alias that does not exist is ResourceNotFound
        return fn, qualifier

    @staticmethod
    def _check_policy_revision(fn: Function, revision: str | None) -> None:
        if revision and revision != fn.policy_revision:
            raise revision_mismatch("GetPolicy")

    async def AddPermission(self, ctx: RequestContext, params: AddPermissionRequestTypeDef) -> dict[str, Any]:
        fn, qualifier = self._qualified(ctx, params["FunctionName"], params.get("Qualifier"))
        self._check_policy_revision(fn, params.get("RevisionId"))
        sid = params["StatementId"]
        mine = statements_for(fn, qualifier)
        if any(s["Sid"] == sid for s in mine):
            raise conflict(f"The statement id ({sid}) provided already exists. Please provide a new statement "
                           "id, or remove the existing statement.")
        principal = params["Principal"]
        who: str | dict[str, str]
        if principal == "*":
            who = "*"
        elif principal.endswith(".amazonaws.com"):
            who = {"Service": principal}
        else:
            who = {"AWS": principal if principal.startswith("arn:") else f"arn:aws:iam::{principal}:root"}
        statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Principal": who, "Action": params["Action"],
                                     "Resource": resource_arn(fn, qualifier)}
        condition: dict[str, dict[str, str]] = {}
        if params.get("SourceArn"):
            condition.setdefault("ArnLike", {})["AWS:SourceArn"] = params["SourceArn"]
        if params.get("SourceAccount"):
            condition.setdefault("StringEquals", {})["AWS:SourceAccount"] = params["SourceAccount"]
        if params.get("PrincipalOrgID"):
            condition.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = params["PrincipalOrgID"]
        # Function URL statements (https://docs.aws.amazon.com/lambda/latest/api/API_AddPermission.html):
        # FunctionUrlAuthType limits lambda:InvokeFunctionUrl to URLs of that auth type, and
        # InvokedViaFunctionUrl limits lambda:InvokeFunction to invocations through a URL.
        if params.get("FunctionUrlAuthType"):
            condition.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = params["FunctionUrlAuthType"]
        if params.get("InvokedViaFunctionUrl"):
            condition.setdefault("Bool", {})["lambda:InvokedViaFunctionUrl"] = "true"
        if condition:
            statement["Condition"] = condition
        fn.policy.append(statement)
        fn.policy_revision = str(uuid.uuid4())
        await self.registry.save(fn)
        return {"Statement": json.dumps(statement)}

    async def GetPolicy(self, ctx: RequestContext, params: GetPolicyRequestTypeDef) -> dict[str, Any]:
        fn, qualifier = self._qualified(ctx, params["FunctionName"], params.get("Qualifier"))
        mine = statements_for(fn, qualifier)
        if not mine:
            raise not_found("The resource you requested does not exist.")
        policy = {"Version": "2012-10-17", "Id": "default", "Statement": mine}
        return {"Policy": json.dumps(policy), "RevisionId": fn.policy_revision}

    async def RemovePermission(self, ctx: RequestContext, params: RemovePermissionRequestTypeDef) -> dict[str, Any]:
        fn, qualifier = self._qualified(ctx, params["FunctionName"], params.get("Qualifier"))
        self._check_policy_revision(fn, params.get("RevisionId"))
        arn = resource_arn(fn, qualifier)
        sid = params["StatementId"]
        if not statements_for(fn, qualifier):
            # A resource without any statement is told apart from a statement id it lacks.
            raise not_found("No policy is associated with the given resource.")
        kept = [s for s in fn.policy if not (s["Sid"] == sid and s.get("Resource", fn.arn) == arn)]
        if len(kept) == len(fn.policy):
            raise not_found(f"Statement {sid} is not found in resource policy.")
        fn.policy = kept
        fn.policy_revision = str(uuid.uuid4())
        await self.registry.save(fn)
        return {}
