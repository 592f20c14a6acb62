"""Which region a new bucket lives in, judged as S3's regional endpoints judge it.

A bucket lives in the region its CreateBucket names (`LocationConstraint`; none means us-east-1). AWS
serves each region on its own endpoint and refuses a constraint that does not match the endpoint the
request was sent to; us-east-1's endpoint takes any other region's constraint, but not its own name.
Conveyor serves every region on one endpoint, so the request's region (its signature's) plays the
endpoint's part (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html, "Regions outside
of us-east-1 require the appropriate LocationConstraint to be specified").
"""

from __future__ import annotations

from functools import cache

from botocore.loaders import create_loader

from conveyor.wire import ServiceError

US_EAST_1 = "us-east-1"


@cache
def known_regions() -> frozenset[str]:
    """The regions of every AWS partition botocore knows (its partitions.json), not their global names."""
    data = create_loader().load_data("partitions")
    return frozenset(name for partition in data["partitions"] for name in partition.get("regions", {})
                     if not name.endswith("-global"))


def _invalid(constraint: str) -> ServiceError:
    return ServiceError("InvalidLocationConstraint", "The specified location-constraint is not valid", 400,
                        extra={"LocationConstraint": constraint})


def bucket_region(constraint: str | None, endpoint_region: str) -> str:
    """The region of a bucket created with `constraint` through `endpoint_region`'s endpoint."""
    if constraint == US_EAST_1 and endpoint_region in ("", US_EAST_1):
        # us-east-1 is the absence of a constraint; naming it to us-east-1 is refused.
        raise _invalid(constraint)
    # `EU` is the old name of eu-west-1, still accepted.
    region = "eu-west-1" if constraint == "EU" else (constraint or US_EAST_1)
    # A regional endpoint refuses any other constraint, known region or not, before judging the name.
    if endpoint_region and endpoint_region != US_EAST_1 and region != endpoint_region:
        said = constraint or "unspecified"
        raise ServiceError("IllegalLocationConstraintException",
                           f"The {said} location constraint is incompatible for the region specific endpoint "
                           "this request was sent to.", 400)
    if region not in known_regions():
        raise _invalid(constraint or "")
    return region
