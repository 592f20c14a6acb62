"""What each Lambda operation asks IAM for (`--iam report|enforce`).

https://docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html and
https://docs.aws.amazon.com/service-authorization/latest/reference/list_awslambda.html
- Function operations act on the function's ARN; one that names a version or alias (a qualified
  FunctionName, or Qualifier) acts on that qualified ARN (`...:function:NAME:PROD`), which a policy naming
  the unqualified ARN does not cover.
- Invoke and InvokeWithResponseStream are lambda:InvokeFunction.
- CreateFunction, and UpdateFunctionConfiguration when it changes the role, also need iam:PassRole on the
  execution role, with iam:PassedToService lambda.amazonaws.com
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html).
- Event source mappings act on `arn:aws:lambda:REGION:ACCOUNT:event-source-mapping:UUID`; creating one
  acts on "*", with lambda:FunctionArn naming its function.
- ListFunctions, ListEventSourceMappings and GetAccountSettings act on "*".
- Layer operations act on the layer's ARN (PublishLayerVersion) or the layer version's
  (`arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION`); ListLayerVersions and ListLayers on "*".
- Code signing configuration operations act on the configuration's ARN.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from conveyor.authz import Need
from conveyor.wire import RequestContext

ACTIONS = {
    "Invoke": "lambda:InvokeFunction",
    "InvokeWithResponseStream": "lambda:InvokeFunction",
    "GetLayerVersionByArn": "lambda:GetLayerVersion",
}
_ANYWHERE = {"ListFunctions", "ListEventSourceMappings", "GetAccountSettings", "ListLayers",
             "ListCodeSigningConfigs", "CreateCodeSigningConfig", "ListCapacityProviders"}
_MAPPINGS = {"GetEventSourceMapping", "UpdateEventSourceMapping", "DeleteEventSourceMapping"}
_SIGNING = {"GetCodeSigningConfig", "UpdateCodeSigningConfig", "DeleteCodeSigningConfig",
            "ListFunctionsByCodeSigningConfig"}
# arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER], ACCOUNT:function:NAME[:QUALIFIER], NAME[:QUALIFIER]
_FULL = re.compile(r"^arn:[^:]+:lambda:([^:]*):(\d{12}):function:([^:]+)(?::([^:]+))?$")
_PARTIAL = re.compile(r"^(\d{12}):function:([^:]+)(?::([^:]+))?$")
LAMBDA_PRINCIPAL = "lambda.amazonaws.com"


def function_arn(ctx: RequestContext, ref: str, qualifier: str | None = None) -> str:
    """The ARN a FunctionName names (qualified when it or `qualifier` names a version or alias). A bare name
    is a function of the caller's own account (another account's caller has none here)."""
    account = ctx.principal.account_id if ctx.principal is not None else ctx.account_id
    region, name, named = ctx.region, ref, None
    full = _FULL.match(ref)
    partial = _PARTIAL.match(ref) if full is None else None
    if full is not None:
        region, account, name, named = full.group(1) or ctx.region, full.group(2), full.group(3), full.group(4)
    elif partial is not None:
        account, name, named = partial.group(1), partial.group(2), partial.group(3)
    else:
        name, _, rest = ref.partition(":")
        named = rest or None
    qualifier = qualifier or named
    suffix = f":{qualifier}" if qualifier and qualifier != "$LATEST" else ""
    return f"arn:aws:lambda:{region}:{account}:function:{name}{suffix}"


def needs(ctx: RequestContext, operation: str, params: Mapping[str, Any]) -> list[Need]:
    action = ACTIONS.get(operation, f"lambda:{operation}")
    if operation in _ANYWHERE:
        return [Need(action)]
    if operation in _MAPPINGS:
        uuid = params.get("UUID", "")
        return [Need(action, f"arn:aws:lambda:{ctx.region}:{ctx.account_id}:event-source-mapping:{uuid}")]
    layer = params.get("LayerName")
    if isinstance(layer, str) and operation != "ListLayerVersions":
        layer_arn = layer if layer.startswith("arn:") else f"arn:aws:lambda:{ctx.region}:{ctx.account_id}:layer:{layer}"
        number = params.get("VersionNumber")
        return [Need(action, layer_arn if number is None else f"{layer_arn}:{number}")]
    if operation == "GetLayerVersionByArn" and isinstance(params.get("Arn"), str):
        return [Need(action, params["Arn"])]
    signing = params.get("CodeSigningConfigArn")
    if operation in _SIGNING and isinstance(signing, str):
        return [Need(action, signing)]
    name = params.get("FunctionName")
    if operation == "CreateEventSourceMapping":
        context = {"lambda:FunctionArn": function_arn(ctx, name)} if isinstance(name, str) else None
        return [Need(action, "*", context)]
    if operation in ("TagResource", "UntagResource", "ListTags"):
        resource = params.get("Resource")
        return [Need(action, resource if isinstance(resource, str) else "*")]
    if not isinstance(name, str):
        return [Need(action)]
    qualifier = params.get("Qualifier")
    out = [Need(action, function_arn(ctx, name, qualifier if isinstance(qualifier, str) else None))]
    role = params.get("Role")
    if operation in ("CreateFunction", "UpdateFunctionConfiguration") and isinstance(role, str):
        out.append(Need("iam:PassRole", role, {"iam:PassedToService": LAMBDA_PRINCIPAL}))
    return out
