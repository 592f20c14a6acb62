"""CloudFront: distributions with S3 origins, origin access control, cache policies, invalidations, tags,
and the edge that serves distributions on the same port (`{id}.cloudfront.localhost`)."""
