"""What each CloudFront operation asks IAM for (`--iam report|enforce`).

https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudfront.html: CloudFront
is global, so its ARNs name no region.
- Distribution operations act on `arn:aws:cloudfront::ACCOUNT:distribution/ID`; so do invalidations
  (CreateInvalidation, GetInvalidation, ListInvalidations act on the distribution they belong to).
  CreateDistribution acts on `distribution/*` (the id is not made yet); CreateDistributionWithTags is
  cloudfront:CreateDistribution and cloudfront:TagResource.
- Origin access controls act on `arn:aws:cloudfront::ACCOUNT:origin-access-control/ID`, cache policies on
  `arn:aws:cloudfront::ACCOUNT:cache-policy/ID` (`/*` to create one).
- Tags act on the resource their Resource names; the List operations act on "*", and so do the
  operations Conveyor does not serve.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conveyor.authz import Denial, Need
from conveyor.services.cloudfront import errors
from conveyor.wire import RequestContext, ServiceError

# The resource type each operation acts on, by the parameter naming its id.
_DISTRIBUTION_BY_ID = {"GetDistribution", "GetDistributionConfig", "UpdateDistribution", "DeleteDistribution"}
_INVALIDATIONS = {"CreateInvalidation", "GetInvalidation", "ListInvalidations"}
_ACCESS_CONTROLS = {"GetOriginAccessControl", "GetOriginAccessControlConfig", "UpdateOriginAccessControl",
                    "DeleteOriginAccessControl"}
_CACHE_POLICIES = {"GetCachePolicy", "GetCachePolicyConfig", "UpdateCachePolicy", "DeleteCachePolicy"}
_CREATED = {"CreateDistribution": "distribution", "CreateOriginAccessControl": "origin-access-control",
            "CreateCachePolicy": "cache-policy"}


def _arn(ctx: RequestContext, kind: str, resource_id: object) -> str:
    named = resource_id if isinstance(resource_id, str) and resource_id else "*"
    return f"arn:aws:cloudfront::{ctx.account_id}:{kind}/{named}"


def needs(ctx: RequestContext, operation: str, params: Mapping[str, Any]) -> list[Need]:
    action = f"cloudfront:{operation}"
    if operation in _DISTRIBUTION_BY_ID:
        return [Need(action, _arn(ctx, "distribution", params.get("Id")))]
    if operation in _INVALIDATIONS:
        return [Need(action, _arn(ctx, "distribution", params.get("DistributionId")))]
    if operation in _ACCESS_CONTROLS:
        return [Need(action, _arn(ctx, "origin-access-control", params.get("Id")))]
    if operation in _CACHE_POLICIES:
        return [Need(action, _arn(ctx, "cache-policy", params.get("Id")))]
    if operation in _CREATED:
        return [Need(action, _arn(ctx, _CREATED[operation], None))]
    if operation == "CreateDistributionWithTags":
        created = _arn(ctx, "distribution", None)
        return [Need("cloudfront:CreateDistribution", created), Need("cloudfront:TagResource", created)]
    if operation in ("TagResource", "UntagResource", "ListTagsForResource"):
        resource = params.get("Resource")
        return [Need(action, resource if isinstance(resource, str) and resource else "*")]
    return [Need(action)]


def access_denied(denial: Denial) -> ServiceError:
    """CloudFront answers a denial with its AccessDenied error, HTTP 403, in its XML ErrorResponse
    (https://docs.aws.amazon.com/cloudfront/latest/APIReference/CommonErrors.html), worded as IAM words it."""
    return errors.fault("AccessDenied", denial.message())
