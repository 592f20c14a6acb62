"""Which region a new bucket lives in, judged as S3's regional endpoints judge it.

A bucket lives in the region its CreateBucket names (`LocationConstraint`; none means us-east-1). AWS
serves each region on its own endpoint and refuses a constraint that does not match the endpoint the
request was sent to; us-east-1's endpoint takes any other region's constraint, but not its own name.
Conveyor serves every region on one endpoint, so the request's region (its signature's) plays the
endpoint's part (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html, "Regions outside
of us-east-1 require the appropriate LocationConstraint to be specified").
"""

from __future__ import annotations

from conveyor.wire import ServiceError

US_EAST_1 = "us-east-1"


def bucket_region(constraint: str | None, endpoint_region: str) -> str:
    """The region of a bucket created with `constraint` through `endpoint_region`'s endpoint."""
    if constraint == US_EAST_1:
        # us-east-1 is the absence of a constraint; naming it is refused.
        raise ServiceError("InvalidLocationConstraint", "The specified location-constraint is not valid", 400,
                           extra={"LocationConstraint": constraint})
    region = "eu-west-1" if constraint == "EU" else (constraint or US_EAST_1)
    if endpoint_region and endpoint_region != US_EAST_1 and region != endpoint_region:
        said = constraint or "unspecified"
        raise ServiceError("IllegalLocationConstraintException",
                           f"The {said} location constraint is incompatible for the region specific endpoint "
                           "this request was sent to.", 400)
    return region
