"""The pipeline's `api:` section applied: an HTTP API whose routes invoke the pipeline's functions (the
built-in presign function among them), each allowed to, on a stage that deploys automatically.

As the rest of the pipeline, through the same API a user calls (apigatewayv2 and lambda add-permission,
as an AWS::ApiGatewayV2::Api, Integration, Route, Stage and AWS::Lambda::Permission would), creating only
what is missing and reporting what differs. The invoke URL of each route ends in the report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from conveyor.pipeline.spec import Api

if TYPE_CHECKING:
    from conveyor.pipeline.apply import Applier

PRINCIPAL = "apigateway.amazonaws.com"


class HttpApi:
    def __init__(self, applier: Applier) -> None:
        self.applier = applier
        self.gateway = applier.gateway

    def apply(self, spec: Api) -> None:
        applier = self.applier
        api, new_api = self._api(spec)
        api_id = api["ApiId"]
        routes = [(route.route, route.function, route.payload_format) for route in spec.routes]
        if spec.presign is not None:
            routes.insert(0, (spec.presign.route, spec.presign.function, "2.0"))
        integrations: dict[str, dict[str, Any]] = {i["IntegrationUri"]: i for i in self._all("get_integrations", ApiId=api_id)}
        existing = {r["RouteKey"]: r for r in self._all("get_routes", ApiId=api_id)}
        changed = False
        for route_key, function, payload_format in routes:
            arn = applier.function_arns[function]
            integration = integrations.get(arn)
            if integration is None:
                integration = integrations[arn] = dict(self.gateway.create_integration(
                    ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=arn, PayloadFormatVersion=payload_format))
                applier.created(f"integration {spec.name} -> {function}")
                changed = True
            target = f"integrations/{integration['IntegrationId']}"
            route = existing.get(route_key)
            if route is None:
                self.gateway.create_route(ApiId=api_id, RouteKey=route_key, Target=target)
                applier.created(f"route {route_key} -> {function}")
                changed = True
            elif route.get("Target") != target:
                applier.drifted(f"api {spec.name}: route {route_key} goes to {route.get('Target')}, the pipeline says "
                                f"{function}")
            # https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html:
            # API Gateway needs the function's permission, for this API's routes.
            account = arn.split(":")[4]
            applier.grant(function, PRINCIPAL, f"arn:aws:execute-api:{applier.region}:{account}:{api_id}/*")
        self._stage(spec, api_id, changed)
        if spec.presign is not None and spec.cors and spec.cors.get("AllowOrigins") and new_api:
            self._bucket_cors(spec.presign.bucket, spec.cors["AllowOrigins"], spec.presign.method)
        endpoint = api["ApiEndpoint"] + ("" if spec.stage == "$default" else f"/{spec.stage}")
        applier.api_endpoint = endpoint
        for route_key, _, _ in routes:
            method, _, path = route_key.partition(" ")
            applier.report.endpoints.append(f"{method} {endpoint}{path}" if path else f"{endpoint}/ ($default route)")

    def _all(self, operation: str, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = getattr(self.gateway, operation)(**kwargs, **({"NextToken": token} if token else {}))
            items.extend(page.get("Items", []))
            token = page.get("NextToken")
            if not token:
                return items

    def _api(self, spec: Api) -> tuple[dict[str, Any], bool]:
        """The API the pipeline names, and whether this apply made it."""
        found = [a for a in self._all("get_apis") if a["Name"] == spec.name]
        if not found:
            options: dict[str, Any] = {"CorsConfiguration": spec.cors} if spec.cors else {}
            api = dict(self.gateway.create_api(Name=spec.name, ProtocolType="HTTP", **options))
            self.applier.created(f"HTTP API {spec.name}")
            return api, True
        api = found[0]
        if (api.get("CorsConfiguration") or None) != (spec.cors or None):
            self.applier.drifted(f"api {spec.name}: CORS configuration is {api.get('CorsConfiguration')}, the "
                                 f"pipeline says {spec.cors}")
        return api, False

    def _bucket_cors(self, bucket: str, origins: list[str], method: str) -> None:
        """The browser's upload goes to S3, cross-origin too: the bucket lets the API's origins send it, unless it
        has a CORS configuration of its own. Done when the API is made (a bucket made with it has none to look
        at). https://docs.aws.amazon.com/AmazonS3/latest/userguide/cors.html"""
        s3 = self.applier.s3
        if bucket not in self.applier.new_buckets:
            try:
                s3.get_bucket_cors(Bucket=bucket)
                return
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "NoSuchCORSConfiguration":
                    raise
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [{
            "AllowedOrigins": origins, "AllowedMethods": [method], "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"],
            "MaxAgeSeconds": 300}]})
        self.applier.created(f"CORS rule on {bucket} for {', '.join(origins)} ({method} uploads)")

    def _stage(self, spec: Api, api_id: str, changed: bool) -> None:
        stages = {s["StageName"]: s for s in self._all("get_stages", ApiId=api_id)}
        stage = stages.get(spec.stage)
        if stage is None:
            self.gateway.create_stage(ApiId=api_id, StageName=spec.stage, AutoDeploy=True)
            self.applier.created(f"stage {spec.stage} (deploys automatically)")
        elif not stage.get("AutoDeploy") and changed:
            self.gateway.create_deployment(ApiId=api_id, StageName=spec.stage)
            self.applier.created(f"deployment of {spec.name} to stage {spec.stage}")
