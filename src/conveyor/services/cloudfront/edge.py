"""The edge: a request to `{id}.cloudfront.localhost:{port}/{path}` (or `/_aws/cloudfront/{id}/{path}`)
answered as CloudFront answers it.

In CloudFront's order: the distribution (unknown or disabled: 403 from CloudFront itself); the cache
behavior whose path pattern matches, else the default one; its viewer protocol policy (redirect-to-https:
301, https-only: 403 on http); its allowed methods; then the cache, keyed by the path and what the cache
policy adds; on a miss the S3 origin, read as the origin access control says (the service principal
cloudfront.amazonaws.com for the distribution's ARN, which the bucket policy must allow), kept for the TTL
the cache policy and the object's Cache-Control give (expiry.py). Errors from the origin are passed
through and cached for the error caching TTL (10 s unless a custom error response says otherwise); a
custom error response may answer them with a page of the origin and another status.
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/HowCloudFrontWorks.html
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/RequestAndResponseBehaviorS3Origin.html
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from conveyor import ids
from conveyor.ports import Reader, StoredObject
from conveyor.services.cloudfront import expiry, viewer
from conveyor.services.cloudfront.cache import CacheKey, EdgeCache, Entry
from conveyor.services.cloudfront.cache_policies import policy_config
from conveyor.services.cloudfront.distribution_config import DEFAULT_ERROR_CACHING_TTL, LEGACY_TTLS, s3_bucket
from conveyor.services.cloudfront.edge_hosts import EdgeTarget, edge_target
from conveyor.wire import HttpRequest, HttpResponse, RequestContext, ServiceError

if TYPE_CHECKING:
    from conveyor.config import Config
    from conveyor.ports import Ports
    from conveyor.services.cloudfront.catalog import Catalog

PRINCIPAL = "cloudfront.amazonaws.com"
_BAD_REQUEST = ("Bad request. We can't connect to the server for this app or website at this time. There might "
                "be too much traffic or a configuration error. Try again later, or contact the app or website "
                "owner.")
_METHOD_REFUSED = ("This distribution is not configured to allow the HTTP request method that was used for this "
                   "request. The distribution supports only cachable requests.")
_HTTPS_ONLY = "Bad request. This distribution is configured to accept HTTPS requests only."


@dataclass(frozen=True)
class Site:
    """What serves one request: the distribution, its matching cache behavior, the origin it names."""

    distribution: dict[str, Any]
    behavior: dict[str, Any]
    bucket: str
    reader: Reader
    key_prefix: str  # the origin path, without its leading slash ("" or "media/")


@cache
def _pattern(path_pattern: str) -> re.Pattern[str]:
    """A cache behavior's path pattern (`*` any characters, `?` one), case-sensitive, `/` optional in front.
    https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/distribution-web-values-specify.html#DownloadDistValuesPathPattern"""
    text = "/" + path_pattern.lstrip("/")
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text) + r"\Z",
                      re.DOTALL)


def select_behavior(config: dict[str, Any], path: str) -> dict[str, Any]:
    for behavior in (config.get("CacheBehaviors") or {}).get("Items") or []:
        if _pattern(behavior["PathPattern"]).match(path):
            return dict(behavior)
    return dict(config["DefaultCacheBehavior"])


class Edge:
    label = "cloudfront-edge"

    def __init__(self, config: Config, ports: Ports, cache: EdgeCache) -> None:
        self.config = config
        self.ports = ports
        self.cache = cache
        self.catalog: Catalog | None = None  # set once the service has started
        self.via_host = f"{ids.token_hex(16)}.cloudfront.localhost"
        self._filling: dict[CacheKey, asyncio.Future[None]] = {}

    # -- conveyor.services.base.DataPlane ------------------------------------------------------------
    def claims(self, request: HttpRequest) -> bool:
        return edge_target(request) is not None

    def error(self, ctx: RequestContext, error: ServiceError) -> HttpResponse:
        if error.status not in (400, 403, 404, 405, 413, 494, 502, 503, 504):
            error = ServiceError(error.code, "CloudFront wasn't able to connect to the origin.", 502)
        return viewer.error_page(error, ctx.request_id, self.via_host)

    async def answer(self, ctx: RequestContext) -> HttpResponse:
        ctx.request_id = viewer.request_id()
        request = ctx.request
        where = edge_target(request)
        record = self.catalog.distributions.get(where.distribution_id) if where and self.catalog else None
        if where is None or record is None or not record["DistributionConfig"]["Enabled"]:
            raise ServiceError("BadRequest", _BAD_REQUEST, 403)
        config = record["DistributionConfig"]
        path = unquote(where.path)
        behavior = select_behavior(config, path)
        ctx.operation_name = request.method
        policy = behavior["ViewerProtocolPolicy"]
        if request.scheme != "https" and policy == "redirect-to-https":
            return self._redirect(ctx, where)
        if request.scheme != "https" and policy == "https-only":
            raise ServiceError("HttpsOnly", _HTTPS_ONLY, 403)
        if request.method not in (behavior["AllowedMethods"].get("Items") or []):
            raise ServiceError("MethodNotAllowed", _METHOD_REFUSED, 403)
        site = self._site(record, behavior)
        if request.method == "OPTIONS":
            return self._preflight(ctx, site)
        if path == "/" and config.get("DefaultRootObject"):
            path = "/" + config["DefaultRootObject"]
        return await self._serve(ctx, site, path, config)

    # -- the steps -------------------------------------------------------------------------------
    def _redirect(self, ctx: RequestContext, where: EdgeTarget) -> HttpResponse:
        """GET and HEAD are redirected with 301, other methods with 307 (which keeps their body).
        https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-https-viewers-to-cloudfront.html"""
        request = ctx.request
        query = f"?{request.query_string}" if request.query_string else ""
        location = f"https://{request.host}{where.prefix}{where.path}{query}"
        status = 301 if request.method in ("GET", "HEAD") else 307
        body = (f"<html>\r\n<head><title>{status} Moved Permanently</title></head>\r\n<body>\r\n<center><h1>{status} "
                "Moved Permanently</h1></center>\r\n<hr><center>CloudFront</center>\r\n</body>\r\n</html>\r\n").encode()
        headers = [("Server", "CloudFront"), ("Content-Type", "text/html"), ("Location", location),
                   ("Content-Length", str(len(body))),
                   *viewer.edge_headers(ctx.request_id, "Redirect from cloudfront", self.via_host)]
        return HttpResponse(status, headers, b"" if request.method == "HEAD" else body)

    def _site(self, record: dict[str, Any], behavior: dict[str, Any]) -> Site:
        origin = next(o for o in record["DistributionConfig"]["Origins"]["Items"]
                      if o["Id"] == behavior["TargetOriginId"])
        bucket = s3_bucket(origin["DomainName"]) or ""
        reader = Reader()
        oac = self.catalog.access_controls.get(origin.get("OriginAccessControlId") or "") if self.catalog else None
        if oac is not None and oac["OriginAccessControlConfig"]["SigningBehavior"] != "never":
            # `no-override` would keep a viewer's own Authorization header; viewers of the edge send none.
            reader = Reader(PRINCIPAL, record["ARN"], self.config.account_id)
        prefix = (origin.get("OriginPath") or "").lstrip("/")
        return Site(record, behavior, bucket, reader, prefix + "/" if prefix else "")

    def _preflight(self, ctx: RequestContext, site: Site) -> HttpResponse:
        request = ctx.request
        objects = self.ports.objects
        edge = viewer.edge_headers(ctx.request_id, "Miss from cloudfront", self.via_host)
        origin, method = request.headers.get("origin"), request.headers.get("access-control-request-method")
        if objects is None or not origin or not method:
            error = ServiceError("BadRequest", "Insufficient information. Origin request header needed.", 400)
            return self._origin_error(ctx, error, edge)
        try:
            headers = objects.preflight(site.bucket, origin, method,
                                        request.headers.get("access-control-request-headers"))
        except ServiceError as error:
            return self._origin_error(ctx, error, edge)
        return HttpResponse(200, [*headers, ("Content-Length", "0"), *edge])

    def _origin_error(self, ctx: RequestContext, error: ServiceError, edge: list[tuple[str, str]]) -> HttpResponse:
        body = viewer.origin_error_document(error, ctx.request_id)
        return HttpResponse(error.status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body))),
                                           ("Server", "AmazonS3"), *edge], body)

    def _keying(self, site: Site, request: HttpRequest) -> tuple[expiry.Ttls, str, str | None]:
        """The behavior's TTLs, the part of the request its cache key adds to the path, and the viewer's
        Origin header when the key includes it (then S3 answers with the bucket's CORS headers for it)."""
        behavior = site.behavior
        policy = policy_config(behavior.get("CachePolicyId") or "", self.catalog) if self.catalog else None
        headers: list[str] = []
        if policy is not None:
            ttls = expiry.Ttls(policy["MinTTL"], policy["DefaultTTL"], policy["MaxTTL"])
            keyed = policy["ParametersInCacheKeyAndForwardedToOrigin"]
            query_config = keyed["QueryStringsConfig"]
            query_behavior = query_config["QueryStringBehavior"]
            names = set((query_config.get("QueryStrings") or {}).get("Items") or [])
            if keyed["HeadersConfig"]["HeaderBehavior"] == "whitelist":
                headers = (keyed["HeadersConfig"].get("Headers") or {}).get("Items") or []
        else:  # a legacy behavior: ForwardedValues and its own TTLs
            ttls = expiry.Ttls(*(float(behavior.get(name, default)) for name, default in LEGACY_TTLS.items()))
            forwarded = behavior.get("ForwardedValues") or {}
            names = set((forwarded.get("QueryStringCacheKeys") or {}).get("Items") or [])
            query_behavior = ("whitelist" if names else "all") if forwarded.get("QueryString") else "none"
            headers = (forwarded.get("Headers") or {}).get("Items") or []
        query = sorted(request.query)
        if query_behavior == "none":
            query = []
        elif query_behavior == "whitelist":
            query = [(k, v) for k, v in query if k in names]
        elif query_behavior == "allExcept":
            query = [(k, v) for k, v in query if k not in names]
        wanted = {name.lower() for name in headers}
        header_values = [(name, request.headers.get(name) or "") for name in sorted(wanted)]
        variant = "&".join(f"{k}={v}" for k, v in query) + "|" + "|".join(f"{k}:{v}" for k, v in header_values)
        return ttls, variant, (request.headers.get("origin") if "origin" in wanted else None)

    async def _serve(self, ctx: RequestContext, site: Site, path: str, config: dict[str, Any]) -> HttpResponse:
        request = ctx.request
        ttls, variant, cors_origin = self._keying(site, request)
        key = CacheKey(site.distribution["Id"], path, variant)
        now = ctx.clock.now()
        entry, x_cache = await self._entry(ctx, site, key, ttls, cors_origin, config, now)
        if entry.status >= 400:
            custom = _custom_response(config, entry.status)
            page_path = (custom or {}).get("ResponsePagePath")
            if custom is not None and page_path and page_path != path:
                page_behavior = select_behavior(config, page_path)
                page_site = self._site(site.distribution, page_behavior)
                page_ttls, page_variant, _ = self._keying(page_site, request)
                page_key = CacheKey(site.distribution["Id"], page_path, page_variant)
                page, _ = await self._entry(ctx, page_site, page_key, page_ttls, None, config, now)
                if page.status == 200:
                    return self._respond(ctx, page, "Error from cloudfront", now, status=int(custom["ResponseCode"]))
            return self._respond(ctx, entry, "Error from cloudfront", now)
        return self._respond(ctx, entry, x_cache, now)

    async def _entry(self, ctx: RequestContext, site: Site, key: CacheKey, ttls: expiry.Ttls,
                     cors_origin: str | None, config: dict[str, Any], now: float) -> tuple[Entry, str]:
        """The answer for the key and how it was found: a fresh entry (Hit), a stale one the origin still
        has (RefreshHit), else the origin's answer (Miss), cached when it may be."""
        filling = self._filling.get(key)
        if filling is not None:  # another viewer's miss is reading the origin: wait for it (request collapsing)
            await asyncio.shield(filling)
        entry = self.cache.get(key)
        if entry is not None and entry.fresh(now):
            return entry, "Hit from cloudfront"
        try:
            found = self._open(site, key.path, cors_origin)
        except ServiceError as error:
            return self._error_entry(ctx, key, error, config, now), "Error from cloudfront"
        ttl = expiry.time_to_live(ttls, _header(found.headers, "cache-control"), _header(found.headers, "expires"), now)
        if entry is not None and entry.status == 200 and entry.etag == found.etag and ttl > 0:
            self.cache.refresh(key, now, ttl)
            return entry, "RefreshHit from cloudfront"
        fresh = Entry(200, _object_headers(found), found.size, now, ttl, found.etag, found.last_modified)
        if ttl <= 0 or ctx.request.method == "HEAD" or not self.cache.cacheable(found.size):
            fresh.origin_read = found.read  # served through, not kept
            return fresh, "Miss from cloudfront"
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._filling[key] = done
        try:
            return await self.cache.fill(key, fresh, found.read(0, found.size - 1)), "Miss from cloudfront"
        finally:
            self._filling.pop(key, None)
            done.set_result(None)

    def _open(self, site: Site, path: str, cors_origin: str | None) -> StoredObject:
        objects = self.ports.objects
        key = site.key_prefix + path.lstrip("/")
        if objects is None or not site.bucket:
            raise ServiceError("NoSuchBucket", "The specified bucket does not exist", 404,
                               extra={"BucketName": site.bucket})
        if not key:  # the bucket's root: a listing, which the edge's reader may not make
            raise ServiceError("AccessDenied", "Access Denied", 403)
        return objects.open_object(site.bucket, key, site.reader, cors_origin)

    def _error_entry(self, ctx: RequestContext, key: CacheKey, error: ServiceError, config: dict[str, Any],
                     now: float) -> Entry:
        """The origin's error, cached for the error caching TTL of its status.
        https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/HTTPStatusCodes.html"""
        body = viewer.origin_error_document(error, ctx.request_id)
        custom = _custom_response(config, error.status)
        ttl = float(custom["ErrorCachingMinTTL"]) if custom is not None else DEFAULT_ERROR_CACHING_TTL
        entry = Entry(error.status, [("Content-Type", "application/xml"), ("Server", "AmazonS3")], len(body), now,
                      ttl, body=body)
        if ttl > 0:
            self.cache.put(key, entry)
        return entry

    # -- the answer ------------------------------------------------------------------------------------
    def _respond(self, ctx: RequestContext, entry: Entry, x_cache: str, now: float,
                 status: int | None = None) -> HttpResponse:
        request = ctx.request
        edge = viewer.edge_headers(ctx.request_id, x_cache, self.via_host)
        if x_cache.startswith("Hit") or (x_cache.startswith("Error") and entry.stored_at < now):
            edge.append(("Age", str(max(0, int(now - entry.stored_at)))))
        head = request.method == "HEAD"
        if status is None and entry.status == 200:
            if viewer.not_modified(request.headers.get("if-none-match"), request.headers.get("if-modified-since"),
                                   entry.etag, entry.last_modified):
                kept = [(k, v) for k, v in entry.headers if k.lower() in ("etag", "last-modified", "cache-control")]
                return HttpResponse(304, [*kept, *edge])
            try:
                span = viewer.byte_range(request.headers.get("range"), entry.size)
            except viewer.Unsatisfiable:
                error = ServiceError("InvalidRange", "The requested range is not satisfiable", 416,
                                     extra={"RangeRequested": request.headers.get("range"),
                                            "ActualObjectSize": entry.size})
                response = self._origin_error(ctx, error, edge)
                response.headers.append(("Content-Range", f"bytes */{entry.size}"))
                return response
        else:
            span = None
        start, end = span if span is not None else (0, entry.size - 1)
        headers = [*entry.headers, ("Content-Length", str(end - start + 1 if entry.size else 0)), *edge]
        answer = HttpResponse(status or entry.status, headers)
        if span is not None:
            answer.status = 206
            headers.append(("Content-Range", f"bytes {start}-{end}/{entry.size}"))
        if head or not entry.size:
            return answer
        if entry.body is not None:
            answer.body = entry.body if span is None else entry.body[start:end + 1]
        else:
            answer.stream = entry.read(start, end)
        return answer


def _custom_response(config: dict[str, Any], status: int) -> dict[str, Any] | None:
    for response in (config.get("CustomErrorResponses") or {}).get("Items") or []:
        if int(response["ErrorCode"]) == status:
            return dict(response)
    return None


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name), None)


def _object_headers(found: StoredObject) -> list[tuple[str, str]]:
    """The origin's GetObject headers as CloudFront passes them on."""
    return [*found.headers, ("ETag", found.etag), ("Last-Modified", viewer.http_date(found.last_modified)),
            ("Accept-Ranges", "bytes"), ("Server", "AmazonS3")]
