"""HTTP(S) endpoints: one POST per delivery, and the retry schedule of a delivery policy.

https://docs.aws.amazon.com/sns/latest/dg/sns-message-delivery-retries.html
"""

from __future__ import annotations

import asyncio
import http.client
import urllib.error
import urllib.request
from typing import Any

TIMEOUT = 15.0


def _post_blocking(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - subscriber's URL
            response.read()
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code


async def post(url: str, body: str, headers: dict[str, str]) -> bool:
    """True when the endpoint answered 2xx (AWS's definition of a successful delivery)."""
    try:
        status = await asyncio.to_thread(_post_blocking, url, body.encode("utf-8"), headers)
    except (OSError, ValueError, http.client.HTTPException):  # unreachable, refused, not speaking HTTP...
        return False
    return 200 <= status < 300


def headers(kind: str, message_id: str, topic_arn: str, subscription_arn: str | None, raw: bool,
            content_type: str) -> dict[str, str]:
    out = {
        "Content-Type": content_type,
        "x-amz-sns-message-type": kind,
        "x-amz-sns-message-id": message_id,
        "x-amz-sns-topic-arn": topic_arn,
        "User-Agent": "Amazon Simple Notification Service Agent",
    }
    if subscription_arn:
        out["x-amz-sns-subscription-arn"] = subscription_arn
    if raw:
        out["x-amz-sns-rawdelivery"] = "true"
    return out


def retry_delays(policy: dict[str, Any]) -> list[float]:
    """Seconds to wait before each retry: no-delay, min-delay, backoff and max-delay phases, in order."""
    total = int(policy["numRetries"])
    lo, hi = float(policy["minDelayTarget"]), float(policy["maxDelayTarget"])
    no_delay = min(int(policy["numNoDelayRetries"]), total)
    at_min = min(int(policy["numMinDelayRetries"]), total - no_delay)
    at_max = min(int(policy["numMaxDelayRetries"]), total - no_delay - at_min)
    backoff = total - no_delay - at_min - at_max
    delays = [0.0] * no_delay + [lo] * at_min
    kind = policy.get("backoffFunction", "linear")
    for i in range(1, backoff + 1):
        frac = i / backoff
        if kind == "geometric":
            step = lo + (hi - lo) * frac ** 2
        elif kind == "exponential":
            step = lo * (hi / lo) ** frac
        elif kind == "arithmetic":
            step = lo + (hi - lo) * (i * (i + 1) / 2) / (backoff * (backoff + 1) / 2)
        else:
            step = lo + (hi - lo) * frac
        delays.append(max(lo, min(hi, step)))
    return delays + [hi] * at_max
