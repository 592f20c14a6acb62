"""CloudFront's API through boto3 and the AWS CLI: distributions with ETag/IfMatch, origin access control,
cache policies (managed by their real ids, and custom), invalidations and tags, with AWS's errors."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.cloudfront.conftest import DISABLED, OPTIMIZED, create_oac, distribution_config


def _code(info: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response: Any = info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_distribution_lifecycle_with_etags(cf: Any, endpoint: str) -> None:
    oac = create_oac(cf)
    created = cf.create_distribution(DistributionConfig=distribution_config("site", oac, Comment="web"))
    distribution, etag = created["Distribution"], created["ETag"]
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["Location"].endswith(f"/2020-05-31/distribution/{distribution['Id']}")
    assert distribution["DomainName"] == f"{distribution['Id'].lower()}.cloudfront.localhost"
    assert distribution["ARN"] == f"arn:aws:cloudfront::000000000000:distribution/{distribution['Id']}"
    assert distribution["Status"] == "Deployed" and len(distribution["Id"]) == 14
    config = cf.get_distribution_config(Id=distribution["Id"])
    assert config["ETag"] == etag
    # CloudFront's defaults are written out.
    assert config["DistributionConfig"]["PriceClass"] == "PriceClass_All"
    assert config["DistributionConfig"]["DefaultCacheBehavior"]["AllowedMethods"]["Items"] == ["HEAD", "GET"]
    assert config["DistributionConfig"]["Origins"]["Items"][0]["OriginAccessControlId"] == oac

    changed = dict(config["DistributionConfig"], Enabled=False, Comment="off")
    with pytest.raises(ClientError) as wrong:
        cf.update_distribution(Id=distribution["Id"], IfMatch="E0000000000000", DistributionConfig=changed)
    assert _code(wrong) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as missing:
        cf.update_distribution(Id=distribution["Id"], IfMatch="", DistributionConfig=changed)
    assert _code(missing) == ("InvalidIfMatchVersion", 400)
    updated = cf.update_distribution(Id=distribution["Id"], IfMatch=etag, DistributionConfig=changed)
    assert updated["ETag"] != etag and updated["Distribution"]["DistributionConfig"]["Comment"] == "off"
    assert cf.get_distribution(Id=distribution["Id"])["ETag"] == updated["ETag"]

    with pytest.raises(ClientError) as stale:
        cf.delete_distribution(Id=distribution["Id"], IfMatch=etag)
    assert _code(stale) == ("PreconditionFailed", 412)
    cf.delete_distribution(Id=distribution["Id"], IfMatch=updated["ETag"])
    with pytest.raises(ClientError) as gone:
        cf.get_distribution(Id=distribution["Id"])
    assert _code(gone) == ("NoSuchDistribution", 404)
    assert cf.list_distributions()["DistributionList"]["Quantity"] == 0


def test_an_enabled_distribution_is_not_deleted(cf: Any) -> None:
    created = cf.create_distribution(DistributionConfig=distribution_config("site"))
    with pytest.raises(ClientError) as info:
        cf.delete_distribution(Id=created["Distribution"]["Id"], IfMatch=created["ETag"])
    assert _code(info) == ("DistributionNotDisabled", 409)


def test_unknown_distribution_errors(cf: Any) -> None:
    for call in (lambda: cf.get_distribution(Id="E000NOSUCH0000"),
                 lambda: cf.get_distribution_config(Id="E000NOSUCH0000"),
                 lambda: cf.delete_distribution(Id="E000NOSUCH0000", IfMatch="E1"),
                 lambda: cf.create_invalidation(DistributionId="E000NOSUCH0000", InvalidationBatch={
                     "Paths": {"Quantity": 1, "Items": ["/a"]}, "CallerReference": "r"})):
        with pytest.raises(ClientError) as info:
            call()
        assert _code(info) == ("NoSuchDistribution", 404)
        assert info.value.response["Error"]["Message"] == "The specified distribution does not exist."


def test_caller_reference_makes_create_idempotent(cf: Any) -> None:
    config = distribution_config("site")
    first = cf.create_distribution(DistributionConfig=config)
    again = cf.create_distribution(DistributionConfig=config)
    assert again["Distribution"]["Id"] == first["Distribution"]["Id"]
    with pytest.raises(ClientError) as info:
        cf.create_distribution(DistributionConfig=dict(config, Comment="other"))
    assert _code(info) == ("DistributionAlreadyExists", 409)


def test_bad_configurations(cf: Any) -> None:
    cases = [
        (distribution_config("site", "E0000000000000"), "InvalidOriginAccessControl"),
        (distribution_config("site", policy="00000000-0000-0000-0000-000000000000"), "NoSuchCachePolicy"),
        (distribution_config("site", DefaultRootObject="/index.html"), "InvalidDefaultRootObject"),
        (distribution_config("site", CustomErrorResponses={"Quantity": 2, "Items": [
            {"ErrorCode": 404}]}), "InconsistentQuantities"),
        (distribution_config("site", CustomErrorResponses={"Quantity": 1, "Items": [
            {"ErrorCode": 302}]}), "InvalidErrorCode"),
    ]
    bad_origin = distribution_config("site")
    bad_origin["Origins"]["Items"][0]["DomainName"] = "example.com"
    cases.append((bad_origin, "InvalidOrigin"))
    for config, code in cases:
        with pytest.raises(ClientError) as info:
            cf.create_distribution(DistributionConfig=config)
        assert _code(info)[0] == code, config
    assert cf.list_distributions()["DistributionList"]["Quantity"] == 0


def test_list_distributions_pages(cf: Any) -> None:
    ids = [cf.create_distribution(DistributionConfig=distribution_config("site"))["Distribution"]["Id"]
           for _ in range(3)]
    first = cf.list_distributions(MaxItems="2")["DistributionList"]
    assert first["IsTruncated"] and first["Quantity"] == 2 and [d["Id"] for d in first["Items"]] == ids[:2]
    rest = cf.list_distributions(Marker=first["NextMarker"], MaxItems="2")["DistributionList"]
    assert not rest["IsTruncated"] and [d["Id"] for d in rest["Items"]] == ids[2:]
    assert rest["Items"][0]["DomainName"].endswith(".cloudfront.localhost")


def test_origin_access_controls(cf: Any) -> None:
    created = cf.create_origin_access_control(OriginAccessControlConfig={
        "Name": "site-oac", "SigningProtocol": "sigv4", "SigningBehavior": "always",
        "OriginAccessControlOriginType": "s3"})
    oac_id, etag = created["OriginAccessControl"]["Id"], created["ETag"]
    got = cf.get_origin_access_control(Id=oac_id)
    assert got["OriginAccessControl"]["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    with pytest.raises(ClientError) as taken:
        create_oac(cf, "site-oac")
    assert _code(taken) == ("OriginAccessControlAlreadyExists", 409)
    listed = cf.list_origin_access_controls()["OriginAccessControlList"]
    assert [item["Id"] for item in listed["Items"]] == [oac_id]
    updated = cf.update_origin_access_control(Id=oac_id, IfMatch=etag, OriginAccessControlConfig={
        "Name": "site-oac", "SigningProtocol": "sigv4", "SigningBehavior": "no-override",
        "OriginAccessControlOriginType": "s3"})
    distribution = cf.create_distribution(DistributionConfig=distribution_config("site", oac_id))
    with pytest.raises(ClientError) as in_use:
        cf.delete_origin_access_control(Id=oac_id, IfMatch=updated["ETag"])
    assert _code(in_use) == ("OriginAccessControlInUse", 409)
    config = cf.get_distribution_config(Id=distribution["Distribution"]["Id"])
    off = dict(config["DistributionConfig"], Enabled=False)
    off["Origins"]["Items"][0]["OriginAccessControlId"] = ""
    cf.update_distribution(Id=distribution["Distribution"]["Id"], IfMatch=config["ETag"], DistributionConfig=off)
    cf.delete_origin_access_control(Id=oac_id, IfMatch=updated["ETag"])
    with pytest.raises(ClientError) as gone:
        cf.get_origin_access_control(Id=oac_id)
    assert _code(gone) == ("NoSuchOriginAccessControl", 404)


def test_managed_cache_policies_by_their_real_ids(cf: Any) -> None:
    optimized = cf.get_cache_policy(Id=OPTIMIZED)["CachePolicy"]["CachePolicyConfig"]
    assert optimized["Name"] == "Managed-CachingOptimized"
    assert (optimized["MinTTL"], optimized["DefaultTTL"], optimized["MaxTTL"]) == (1, 86400, 31536000)
    disabled = cf.get_cache_policy(Id=DISABLED)["CachePolicy"]["CachePolicyConfig"]
    assert (disabled["Name"], disabled["MaxTTL"]) == ("Managed-CachingDisabled", 0)
    managed = cf.list_cache_policies(Type="managed")["CachePolicyList"]["Items"]
    assert {OPTIMIZED, DISABLED} <= {item["CachePolicy"]["Id"] for item in managed}
    assert {item["Type"] for item in managed} == {"managed"}
    with pytest.raises(ClientError) as info:
        cf.delete_cache_policy(Id=OPTIMIZED, IfMatch="E23ZP02F085DFQ")
    assert _code(info)[0] == "IllegalDelete"


def _policy(name: str, default: int = 60) -> dict[str, Any]:
    return {"Name": name, "MinTTL": 0, "DefaultTTL": default, "MaxTTL": 3600,
            "ParametersInCacheKeyAndForwardedToOrigin": {
                "EnableAcceptEncodingGzip": False, "HeadersConfig": {"HeaderBehavior": "none"},
                "CookiesConfig": {"CookieBehavior": "none"}, "QueryStringsConfig": {"QueryStringBehavior": "none"}}}


def test_custom_cache_policies(cf: Any) -> None:
    created = cf.create_cache_policy(CachePolicyConfig=_policy("short"))
    policy_id, etag = created["CachePolicy"]["Id"], created["ETag"]
    assert cf.get_cache_policy_config(Id=policy_id)["CachePolicyConfig"]["DefaultTTL"] == 60
    custom = cf.list_cache_policies(Type="custom")["CachePolicyList"]["Items"]
    assert [item["CachePolicy"]["Id"] for item in custom] == [policy_id]
    with pytest.raises(ClientError) as order:
        cf.create_cache_policy(CachePolicyConfig=dict(_policy("bad"), MinTTL=100, DefaultTTL=10))
    assert _code(order)[0] == "InvalidArgument"
    with pytest.raises(ClientError) as taken:
        cf.create_cache_policy(CachePolicyConfig=_policy("short"))
    assert _code(taken) == ("CachePolicyAlreadyExists", 409)
    updated = cf.update_cache_policy(Id=policy_id, IfMatch=etag, CachePolicyConfig=_policy("short", 120))
    assert updated["CachePolicy"]["CachePolicyConfig"]["DefaultTTL"] == 120
    with pytest.raises(ClientError) as wrong:
        cf.update_cache_policy(Id=policy_id, IfMatch=etag, CachePolicyConfig=_policy("short", 30))
    assert _code(wrong) == ("PreconditionFailed", 412)
    distribution = cf.create_distribution(DistributionConfig=distribution_config("site", policy=policy_id))
    with pytest.raises(ClientError) as in_use:
        cf.delete_cache_policy(Id=policy_id, IfMatch=updated["ETag"])
    assert _code(in_use) == ("CachePolicyInUse", 409)
    assert distribution["Distribution"]["DistributionConfig"]["DefaultCacheBehavior"]["CachePolicyId"] == policy_id


def test_invalidations(cf: Any) -> None:
    distribution_id = cf.create_distribution(DistributionConfig=distribution_config("site"))["Distribution"]["Id"]
    made = cf.create_invalidation(DistributionId=distribution_id, InvalidationBatch={
        "Paths": {"Quantity": 2, "Items": ["/processed/*", "/index.html"]}, "CallerReference": "one"})
    invalidation = made["Invalidation"]
    assert invalidation["Status"] == "Completed" and invalidation["Id"].startswith("I")
    assert made["Location"].endswith(f"/distribution/{distribution_id}/invalidation/{invalidation['Id']}")
    again = cf.create_invalidation(DistributionId=distribution_id, InvalidationBatch={
        "Paths": {"Quantity": 2, "Items": ["/processed/*", "/index.html"]}, "CallerReference": "one"})
    assert again["Invalidation"]["Id"] == invalidation["Id"]
    got = cf.get_invalidation(DistributionId=distribution_id, Id=invalidation["Id"])["Invalidation"]
    assert got["InvalidationBatch"]["Paths"]["Items"] == ["/processed/*", "/index.html"]
    listed = cf.list_invalidations(DistributionId=distribution_id)["InvalidationList"]
    assert [item["Id"] for item in listed["Items"]] == [invalidation["Id"]]
    with pytest.raises(ClientError) as unknown:
        cf.get_invalidation(DistributionId=distribution_id, Id="I0000000000000")
    assert _code(unknown) == ("NoSuchInvalidation", 404)
    with pytest.raises(ClientError) as bad:
        cf.create_invalidation(DistributionId=distribution_id, InvalidationBatch={
            "Paths": {"Quantity": 1, "Items": ["/a*b"]}, "CallerReference": "two"})
    assert _code(bad)[0] == "InvalidArgument"


def test_tags(cf: Any) -> None:
    created = cf.create_distribution_with_tags(DistributionConfigWithTags={
        "DistributionConfig": distribution_config("site"),
        "Tags": {"Items": [{"Key": "team", "Value": "web"}]}})
    arn = created["Distribution"]["ARN"]
    cf.tag_resource(Resource=arn, Tags={"Items": [{"Key": "stage", "Value": "prod"}]})
    tags = cf.list_tags_for_resource(Resource=arn)["Tags"]["Items"]
    assert {(t["Key"], t["Value"]) for t in tags} == {("team", "web"), ("stage", "prod")}
    cf.untag_resource(Resource=arn, TagKeys={"Items": ["team"]})
    assert cf.list_tags_for_resource(Resource=arn)["Tags"]["Items"] == [{"Key": "stage", "Value": "prod"}]
    with pytest.raises(ClientError) as info:
        cf.list_tags_for_resource(Resource="arn:aws:cloudfront::000000000000:distribution/E000NOSUCH0000")
    assert _code(info)[0] == "NoSuchResource"


def test_the_aws_cli(aws: Any, tmp_path: Any) -> None:
    import json
    config = tmp_path / "config.json"
    config.write_text(json.dumps(distribution_config("site")))
    created = aws("cloudfront", "create-distribution", "--distribution-config", f"file://{config}")
    distribution_id = created["Distribution"]["Id"]
    aws("cloudfront", "wait", "distribution-deployed", "--id", distribution_id)
    listed = aws("cloudfront", "list-distributions")["DistributionList"]["Items"]
    assert [d["Id"] for d in listed] == [distribution_id]
    made = aws("cloudfront", "create-invalidation", "--distribution-id", distribution_id, "--paths", "/processed/*")
    assert made["Invalidation"]["InvalidationBatch"]["Paths"]["Items"] == ["/processed/*"]
    failed = aws("cloudfront", "get-distribution", "--id", "E000NOSUCH0000", check=False)
    assert failed.returncode != 0 and b"NoSuchDistribution" in failed.stderr
