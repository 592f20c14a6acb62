"""Finding the stream a request names, by StreamName (in the request's region) or StreamARN (in its own).

https://docs.aws.amazon.com/kinesis/latest/APIReference/API_DescribeStreamSummary.html: "you must use
either the StreamARN or the StreamName parameter, or both".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conveyor.clock import Clock
from conveyor.services.kinesis import errors
from conveyor.services.kinesis.streams import Catalog, Stream


def parse_arn(arn: str) -> tuple[str, str]:
    """(region, stream name) of a stream ARN (the model checked its shape)."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or not parts[5].startswith("stream/"):
        raise errors.invalid(f"Invalid StreamARN {arn}.")
    return parts[3], parts[5].partition("/")[2]


class Directory:
    """The catalog (once the service started), the clock and the account every operation group shares."""

    def __init__(self, clock: Clock, account: str) -> None:
        self.clock = clock
        self.account = account
        self._catalog: Catalog | None = None

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            raise RuntimeError("Kinesis is not started")
        return self._catalog

    @catalog.setter
    def catalog(self, value: Catalog | None) -> None:
        self._catalog = value

    def now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    def find(self, region: str, params: Mapping[str, Any]) -> Stream:
        name, arn = params.get("StreamName"), params.get("StreamARN")
        if arn:
            region, named = parse_arn(arn)
            if name and name != named:
                raise errors.invalid(f"StreamARN {arn} and StreamName {name} name different streams.")
            name = named
        if not name:
            raise errors.invalid("Either StreamName or StreamARN must be provided.")
        return self.by_name(region, name)

    def by_name(self, region: str, name: str) -> Stream:
        stream = self.catalog.streams.get((region, name))
        if stream is None:
            raise errors.stream_not_found(name, self.account)
        return stream

    def by_arn(self, arn: str) -> Stream | None:
        try:
            region, name = parse_arn(arn)
        except Exception:
            return None
        return self.catalog.streams.get((region, name))
