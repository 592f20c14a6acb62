"""The web tier of an exported pipeline: the HTTP API with its functions, and CloudFront distributions reading
private buckets through an origin access control, with the bucket policies letting only them read
(https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-s3.html).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.pipeline import package, roles
from conveyor.pipeline.spec import BUILTIN_MOVER, BUILTIN_PRESIGN, PRESIGN_HANDLER
from conveyor.pipeline.template_parts import get_att, logical_id, ref, sub

if TYPE_CHECKING:
    from conveyor.pipeline.export import Builder

# CloudFront's managed cache policy CachingOptimized.
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-cache-policies.html
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"


def api(b: Builder) -> None:
    """The HTTP API: the presign function (when the pipeline has one), the routes and their integrations, the
    permissions letting API Gateway invoke them, and an auto-deploying stage."""
    api = b.p.api
    assert api is not None
    logical = logical_id(api.name, "Api")
    properties: dict[str, Any] = {"Name": api.name, "ProtocolType": "HTTP"}
    if api.cors:
        properties["CorsConfiguration"] = dict(api.cors)
    b.resources[logical] = {"Type": "AWS::ApiGatewayV2::Api", "Properties": properties}
    targets: list[tuple[str, str, str]] = []  # (route key, function logical id, payload format)
    if api.presign is not None:
        presign = api.presign
        function = b.function(presign.function)
        key = b.package_code(presign.function, package.code_files(BUILTIN_PRESIGN, b.p.base_dir))
        policy = b.substitute(roles.presign_policy("BUCKET" + str(
            [bucket.name for bucket in b.p.buckets].index(presign.bucket)), presign.prefix), None)
        b.add_role(f"{function}Role", "lambda.amazonaws.com", [],
                   b.execution_policy(presign.function, None, policy))
        env: dict[str, Any] = dict(presign.environment())
        env["BUCKET"] = b.bucket_name(presign.bucket)
        b.resources[function] = {"Type": "AWS::Lambda::Function", "Properties": {
            "FunctionName": presign.function, "Runtime": "python3.12", "Handler": PRESIGN_HANDLER,
            "Role": get_att(f"{function}Role", "Arn"), "Timeout": 10,
            "Code": {"S3Bucket": ref("CodeBucket"), "S3Key": key}, "Environment": {"Variables": env}}}
        targets.append((presign.route, function, "2.0"))
    targets += [(route.route, b.function(route.function), route.payload_format) for route in api.routes]
    for route_key, function, payload in targets:
        integration = f"{function}Integration"
        b.resources.setdefault(integration, {"Type": "AWS::ApiGatewayV2::Integration", "Properties": {
            "ApiId": ref(logical), "IntegrationType": "AWS_PROXY", "IntegrationUri": get_att(function, "Arn"),
            "PayloadFormatVersion": payload}})
        b.resources.setdefault(f"{function}ApiPermission", {"Type": "AWS::Lambda::Permission", "Properties": {
            "Action": "lambda:InvokeFunction", "FunctionName": ref(function),
            "Principal": "apigateway.amazonaws.com",
            "SourceArn": sub(f"arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:"
                             f"${{{logical}}}/*")}})
        b.resources[logical_id(route_key, "Route")] = {"Type": "AWS::ApiGatewayV2::Route", "Properties": {
            "ApiId": ref(logical), "RouteKey": route_key, "Target": sub(f"integrations/${{{integration}}}")}}
    b.resources[f"{logical}Stage"] = {"Type": "AWS::ApiGatewayV2::Stage", "Properties": {
        "ApiId": ref(logical), "StageName": api.stage, "AutoDeploy": True}}
    path = "" if api.stage == "$default" else f"/{api.stage}"
    b.outputs["ApiUrl"] = {"Value": sub(f"${{{logical}.ApiEndpoint}}{path}")}


def results_distribution(b: Builder) -> None:
    """CloudFront in front of the results: the first bucket a built-in mover writes to, its destination
    prefix as the origin path; the bucket stays private (an origin access control signs the reads)."""
    movers = [(dict(p.settings.get("env") or {}), p.queue) for p in b.p.pools if p.command == [BUILTIN_MOVER]]
    movers += [(f.env, f.queue) for f in b.p.functions if f.code == BUILTIN_MOVER]
    if not movers or not b.p.buckets:
        return
    bucket = b.p.buckets[0].name
    prefix = str(movers[0][0].get("DEST_PREFIX", "processed/")).strip("/")
    b.resources["ResultsOriginAccessControl"] = {"Type": "AWS::CloudFront::OriginAccessControl", "Properties": {
        "OriginAccessControlConfig": {"Name": sub("${AWS::StackName}-results"), "OriginAccessControlOriginType": "s3",
                                      "SigningBehavior": "always", "SigningProtocol": "sigv4"}}}
    origin: dict[str, Any] = {"Id": "results", "DomainName": get_att(logical_id(bucket, "Bucket"),
                                                                    "RegionalDomainName"),
                              "S3OriginConfig": {}, "OriginAccessControlId": get_att("ResultsOriginAccessControl",
                                                                                     "Id")}
    if prefix:
        origin["OriginPath"] = f"/{prefix}"
    b.resources["ResultsDistribution"] = {"Type": "AWS::CloudFront::Distribution", "Properties": {
        "DistributionConfig": {
            "Enabled": True, "Comment": sub("${AWS::StackName}: processed results"), "Origins": [origin],
            "DefaultCacheBehavior": {"TargetOriginId": "results", "ViewerProtocolPolicy": "redirect-to-https",
                                     "CachePolicyId": CACHING_OPTIMIZED}}}}
    b.resources["ResultsBucketPolicy"] = {"Type": "AWS::S3::BucketPolicy", "Properties": {
        "Bucket": ref(logical_id(bucket, "Bucket")),
        "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Sid": "CloudFrontReadsResults", "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject", "Resource": b.bucket_arn(bucket, f"/{prefix}/*" if prefix else "/*"),
            "Condition": {"StringEquals": {"AWS:SourceArn": sub(
                "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${ResultsDistribution}")}}}]}}}
    b.outputs["ResultsUrl"] = {"Value": sub("https://${ResultsDistribution.DomainName}")}

def site(b: Builder) -> None:
    """The static site: a private bucket, read only by its distribution through an origin access control.
    https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-s3.html"""
    site = b.p.site
    assert site is not None
    if site.bucket not in {b.name for b in b.p.buckets}:
        b.resources[logical_id(site.bucket, "Bucket")] = {"Type": "AWS::S3::Bucket", "Properties": {
            "BucketName": b.bucket_name(site.bucket)}}
        b.outputs[logical_id(site.bucket, "BucketName")] = {"Value": ref(logical_id(site.bucket, "Bucket"))}
    b.resources["SiteOriginAccessControl"] = {"Type": "AWS::CloudFront::OriginAccessControl", "Properties": {
        "OriginAccessControlConfig": {"Name": sub("${AWS::StackName}-site"), "OriginAccessControlOriginType": "s3",
                                      "SigningBehavior": "always", "SigningProtocol": "sigv4"}}}
    buckets = list(dict.fromkeys([site.bucket, *(p.bucket for p in site.paths)]))
    origins = [{"Id": f"s3-{b}", "DomainName": get_att(logical_id(b, "Bucket"), "RegionalDomainName"),
                "S3OriginConfig": {}, "OriginAccessControlId": get_att("SiteOriginAccessControl", "Id")}
               for b in buckets]

    def behavior(bucket: str) -> dict[str, Any]:
        return {"TargetOriginId": f"s3-{bucket}", "ViewerProtocolPolicy": "redirect-to-https",
                "CachePolicyId": CACHING_OPTIMIZED, "Compress": True}

    config: dict[str, Any] = {
        "Enabled": True, "Comment": sub("${AWS::StackName}: site"), "DefaultRootObject": site.index,
        "Origins": origins, "DefaultCacheBehavior": behavior(site.bucket)}
    if site.paths:
        config["CacheBehaviors"] = [{"PathPattern": p.path, **behavior(p.bucket)} for p in site.paths]
    b.resources["SiteDistribution"] = {"Type": "AWS::CloudFront::Distribution",
                                          "Properties": {"DistributionConfig": config}}
    source = sub("arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${SiteDistribution}")
    for bucket in buckets:
        prefixes = [""] if bucket == site.bucket else [p.prefix for p in site.paths if p.bucket == bucket]
        statements = [{"Sid": f"SiteDistributionReads{i + 1}", "Effect": "Allow",
                       "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
                       "Resource": b.bucket_arn(bucket, f"/{prefix}*"),
                       "Condition": {"StringEquals": {"AWS:SourceArn": source}}} for i, prefix in enumerate(prefixes)]
        # One policy per bucket: a bucket the results distribution reads already has one to add to.
        existing = next((r for r in b.resources.values() if r["Type"] == "AWS::S3::BucketPolicy"
                         and r["Properties"]["Bucket"] == ref(logical_id(bucket, "Bucket"))), None)
        if existing is not None:
            existing["Properties"]["PolicyDocument"]["Statement"].extend(statements)
            continue
        b.resources[logical_id(f"site-{bucket}", "BucketPolicy")] = {"Type": "AWS::S3::BucketPolicy", "Properties": {
            "Bucket": ref(logical_id(bucket, "Bucket")),
            "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}}
    b.outputs["SiteUrl"] = {"Value": sub("https://${SiteDistribution.DomainName}/")}
