"""What each API Gateway (v2) management call asks IAM for (`--iam report|enforce`).

API Gateway's IAM actions are the HTTP methods of its management API, on the path's resource:
`apigateway:POST` on `arn:aws:apigateway:REGION::/apis` creates an API, `apigateway:GET` on
`arn:aws:apigateway:REGION::/apis/ID/routes` lists its routes.
https://docs.aws.amazon.com/apigateway/latest/developerguide/security_iam_service-with-iam.html and
https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonapigatewaymanagement.html
"""

from __future__ import annotations

from conveyor.authz import Need
from conveyor.wire import RequestContext


def needs(ctx: RequestContext) -> list[Need]:
    request = ctx.request
    path = request.path.removeprefix("/v2") or "/"
    return [Need(f"apigateway:{request.method.upper()}", f"arn:aws:apigateway:{ctx.region}::{path}")]
