"""Which bucket a Host header names, for the host names S3 answers to.

Virtual-hosted style puts the bucket first (https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html):
`BUCKET.s3.amazonaws.com`, `BUCKET.s3.REGION.amazonaws.com`, the legacy dash form `BUCKET.s3-REGION.amazonaws.com`,
the dual-stack `BUCKET.s3.dualstack.REGION.amazonaws.com`, and the website endpoints
`BUCKET.s3-website-REGION.amazonaws.com` / `BUCKET.s3-website.REGION.amazonaws.com`
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/WebsiteEndpoints.html), locally
`BUCKET.s3-website.localhost` (a region may follow `s3-website`, with a dot or a dash). Locally:
`BUCKET.localhost`, `BUCKET.s3.localhost` and LocalStack's `BUCKET.s3.localhost.localstack.cloud`
(each may carry a region before `localhost`).
Any other host (`s3.REGION.amazonaws.com`, `s3.amazonaws.com`, `127.0.0.1:4566`...) is path style: the
bucket is the first path segment.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

_BUCKET = r"(?P<bucket>[a-z0-9][a-z0-9.\-]{1,61}?[a-z0-9])"  # the shortest that leaves an S3 suffix
_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d+"
_REST = re.compile(rf"^{_BUCKET}\.(?:s3(?:\.dualstack)?(?:[.-]{_REGION}|-external-1)?\.amazonaws\.com(?:\.cn)?"
                   rf"|s3\.(?:{_REGION}\.)?localhost\.localstack\.cloud|(?:s3\.)?(?:{_REGION}\.)?localhost)$")
_WEBSITE = re.compile(rf"^{_BUCKET}\.(?:s3-website[.-]{_REGION}\.amazonaws\.com(?:\.cn)?"
                      rf"|s3-website(?:[.-]{_REGION})?\.localhost)$")


@dataclass(frozen=True)
class VirtualHost:
    bucket: str
    website: bool  # a website endpoint: HTML errors, GET and HEAD only


# Asked about every S3 request (routing, then the intercept hook), and a server hears few distinct Host headers.
@functools.lru_cache(maxsize=512)
def virtual_host(host: str) -> VirtualHost | None:
    """The bucket a virtual-hosted request names in its Host header; None for path-style hosts."""
    name = host.lower().rsplit(":", 1)[0] if not host.endswith("]") else host.lower()
    # Website hosts first: `BUCKET.s3-website.localhost` would otherwise read as the dotted bucket name
    # `BUCKET.s3-website` on `localhost`.
    if (match := _WEBSITE.match(name)) is not None:
        return VirtualHost(match["bucket"], website=True)
    if (match := _REST.match(name)) is not None:
        return VirtualHost(match["bucket"], website=False)
    return None
