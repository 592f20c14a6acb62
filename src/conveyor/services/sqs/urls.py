"""Queue URLs: the ones Conveyor hands out, and which queue a URL a client sends names.

AWS serves each region on its own host (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME). Conveyor serves
every region on one host, so the region rides in the path instead, as in LocalStack's `path` endpoint
strategy: http://HOST:PORT/queue/REGION/ACCOUNT/NAME. A path works through whatever host the client
reached us by (an IP address, a name in /etc/hosts, a TLS certificate's name); a `sqs.REGION.localhost`
host would not, since such names do not resolve on every system.

Accepted from clients, besides that form:
- AWS's own URLs (https://sqs.REGION.amazonaws.com/..., legacy https://REGION.queue.amazonaws.com/...)
  and LocalStack's (http://sqs.REGION.localhost.localstack.cloud:4566/...): the region comes from the host;
- the region-less http://HOST/ACCOUNT/NAME Conveyor handed out before: the queue in the request's region;
- a bare queue name.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from urllib.parse import urlparse

from conveyor.services.sqs.errors import no_queue, sqs_error

REGION = r"[a-z]{2}(?:-[a-z]+)+-\d+"
_REGION_ONLY = re.compile(REGION)  # used with fullmatch: `$` would let "us-east-1\n" through
# sqs.us-east-2.amazonaws.com, sqs.us-east-2.localhost.localstack.cloud; us-east-2.queue.amazonaws.com
_HOST_REGION = re.compile(rf"^(?:sqs\.(?P<a>{REGION})\.|(?P<b>{REGION})\.queue\.)")


@dataclass(frozen=True)
class QueueAddress:
    name: str
    account: str | None = None  # None: the caller's account
    region: str | None = None  # None: the request's region


def queue_url(base_url: str, region: str, account: str, name: str) -> str:
    return f"{base_url}/queue/{region}/{account}/{name}"


def queue_path(region: str, account: str, name: str) -> str:
    return f"/queue/{region}/{account}/{name}"


def path_address(path: str) -> QueueAddress | None:
    """The queue a request path names, for query clients that POST to the queue URL itself (the legacy
    style): /ACCOUNT/NAME or /queue/REGION/ACCOUNT/NAME; None for any other path."""
    parts = [p for p in path.split("/") if p]
    if len(parts) == 4 and parts[0] == "queue" and _REGION_ONLY.fullmatch(parts[1]) and _is_account(parts[2]):
        return QueueAddress(parts[3], parts[2], parts[1])
    if len(parts) == 2 and _is_account(parts[0]):
        return QueueAddress(parts[1], parts[0])
    return None


def parse(url: str) -> QueueAddress:
    """The queue a QueueUrl names: QueueDoesNotExist for a URL without the account and name in its path, as
    AWS answers such a URL; InvalidAddress (404) for one that does not even parse."""
    host = ""
    path = url
    if "://" in url:
        try:
            parsed = urlparse(url)
            host = (parsed.hostname or "").lower()
        except ValueError:  # e.g. an unbalanced "[" in the host
            raise sqs_error("InvalidAddress", f"The address {url} is not valid for this endpoint.", 404)
        path = parsed.path
    parts = [p for p in path.split("/") if p]
    if len(parts) == 1 and not host:
        return QueueAddress(parts[0])
    if len(parts) >= 4 and parts[-4] == "queue" and _REGION_ONLY.fullmatch(parts[-3]) and parts[-2].isdigit():
        return QueueAddress(parts[-1], parts[-2], parts[-3])
    if len(parts) >= 2 and parts[-2].isdigit():  # anything before ACCOUNT/NAME is ignored, as before
        match = _HOST_REGION.match(host)
        return QueueAddress(parts[-1], parts[-2], (match.group("a") or match.group("b")) if match else None)
    raise no_queue()


# Every request names its queue by URL, and a client names the same few again and again: parsing one
# (urlparse, the region's pattern) cost more than the rest of a small send's work in this module's callers.
parse_cached = functools.lru_cache(maxsize=1024)(parse)


def _is_account(text: str) -> bool:
    return text.isdigit() and len(text) == 12

