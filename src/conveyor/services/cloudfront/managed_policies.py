"""The cache policies AWS manages, by their real ids, with the settings the CloudFront Developer Guide gives
for each (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-cache-policies.html).
They are listed with Type `managed`, cannot be changed or deleted, and any distribution may use them."""

from __future__ import annotations

from typing import Any

# Managed policies carry one fixed version (their ETag) and the date AWS last changed them.
MANAGED_ETAG = "E23ZP02F085DFQ"
MANAGED_MODIFIED = 1_609_459_200.0  # 2021-01-01T00:00:00Z


def _names(names: list[str]) -> dict[str, Any]:
    return {"Quantity": len(names), "Items": names} if names else {"Quantity": 0}


def _policy(name: str, comment: str, ttls: tuple[int, int, int], gzip: bool, brotli: bool,
            headers: list[str], cookies: str, query: str, query_names: list[str] | None = None) -> dict[str, Any]:
    minimum, default, maximum = ttls
    return {
        "Comment": comment, "Name": name, "MinTTL": minimum, "DefaultTTL": default, "MaxTTL": maximum,
        "ParametersInCacheKeyAndForwardedToOrigin": {
            "EnableAcceptEncodingGzip": gzip, "EnableAcceptEncodingBrotli": brotli,
            "HeadersConfig": ({"HeaderBehavior": "whitelist", "Headers": _names(headers)} if headers
                              else {"HeaderBehavior": "none"}),
            "CookiesConfig": {"CookieBehavior": cookies},
            "QueryStringsConfig": ({"QueryStringBehavior": query, "QueryStrings": _names(query_names)}
                                   if query_names else {"QueryStringBehavior": query}),
        },
    }


_YEAR = 31_536_000
_ORIGIN_HEADERS = ["Host", "Origin", "X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"]
MANAGED: dict[str, dict[str, Any]] = {
    "2e54312d-136d-493c-8eb9-b001f22f67d2": _policy(
        "Managed-Amplify", "Policy for Amplify Origin", (2, 2, 600), True, True,
        ["Authorization", "CloudFront-Viewer-Country", "Host"], "all", "all"),
    "4135ea2d-6df8-44a3-9df3-4b5a84be39ad": _policy(
        "Managed-CachingDisabled", "Policy with caching disabled", (0, 0, 0), False, False, [], "none", "none"),
    "658327ea-f89d-4fab-a63d-7e88639e58f6": _policy(
        "Managed-CachingOptimized", "Policy with caching enabled. Supports Gzip and Brotli compression.",
        (1, 86_400, _YEAR), True, True, [], "none", "none"),
    "b2884449-e4de-46a7-ac36-70bc7f1ddd6d": _policy(
        "Managed-CachingOptimizedForUncompressedObjects", "Default policy when compression is disabled",
        (1, 86_400, _YEAR), False, False, [], "none", "none"),
    "08627262-05a9-4f76-9ded-b50ca2e3a84f": _policy(
        "Managed-Elemental-MediaPackage", "Policy for Elemental MediaPackage Origin", (0, 86_400, _YEAR), True,
        False, ["Origin"], "none", "whitelist", ["aws.manifestfilter", "start", "end", "m"]),
    "83da9c7e-98b4-4e11-a168-04f0df8e2c65": _policy(
        "Managed-UseOriginCacheControlHeaders", "Policy for origins that return Cache-Control headers. Query "
        "strings are not included in the cache key.", (0, 0, _YEAR), True, True, _ORIGIN_HEADERS, "all", "none"),
    "4cc15a8a-d715-48a4-82b8-cc0b614638fe": _policy(
        "Managed-UseOriginCacheControlHeaders-QueryStrings", "Policy for origins that return Cache-Control "
        "headers and serve different content based on query strings.", (0, 0, _YEAR), True, True,
        _ORIGIN_HEADERS, "all", "all"),
}
