"""CloudWatch's retention by resolution, applied hourly on the server's clock: data points with a period
under 60 seconds are kept 3 hours, then as 1-minute points for 15 days, then as 5-minute points for 63
days, then as 1-hour points for 455 days.
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#metrics-retention
"""

from __future__ import annotations

import logging

from conveyor.services.cloudwatch.store import MetricStore

log = logging.getLogger("conveyor.cloudwatch")

EVERY = 3600.0
DAY = 86400
# (resolution, the next coarser one, how long it is kept before it is rolled up)
STEPS = ((1, 60, 3 * 3600), (60, 300, 15 * DAY), (300, 3600, 63 * DAY))
KEPT = 455 * DAY


async def apply(store: MetricStore, now: float) -> None:
    try:
        await store.roll_up([(src, dst, int(now) - age) for src, dst, age in STEPS], int(now) - KEPT)
    except Exception:
        log.exception("rolling up metric data failed")
