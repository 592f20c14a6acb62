"""`conveyor drill watch`: what a region drill moved, and when. It reads the server the way a user would —
Route 53's own API (ListHealthChecks, GetHealthCheckStatus, ListHostedZones, ListResourceRecordSets) and
its DNS server (the answer a resolver gets for each failover name) — and prints a line each time a health
check's last observation or a failover name's answer changes. Times are the server's clock (a manual
clock in tests), read from the drill endpoint on each look, so a line says when the server saw the change.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from conveyor.control import ControlClient


@dataclass(frozen=True)
class FailoverName:
    name: str
    kind: str
    records: tuple[tuple[str, str, tuple[str, ...]], ...]  # (Failover, SetIdentifier, values) of each record

    def which(self, answer: tuple[str, ...]) -> str:
        """Which record of the pair an answer comes from ("PRIMARY east"), when its values say."""
        for failover, identifier, values in self.records:
            if values and set(values) == set(answer):
                return f"{failover} {identifier}"
        return ""


def _canonical(value: str) -> str:
    return value.rstrip(".").lower()


class DrillWatch:
    """One look at a time (`look()`): the lines describing what changed since the previous look."""

    def __init__(self, control: ControlClient, route53: Any) -> None:
        self.control = control
        self.route53 = route53
        self.checks: dict[str, str] = {}  # health check id -> its last status line
        self.answers: dict[tuple[str, str], tuple[str, ...]] = {}
        self.dns_port: int | None = None
        self.down: dict[str, float] | None = None  # regions down at the previous look
        self.drill: tuple[str, float] | None = None  # the last drill event seen: what, and when (server clock)

    def look(self) -> list[str]:
        regions = self.control.call("GET", "regions")
        now = float(regions["now"])
        stamp = time.strftime("%H:%M:%S", time.gmtime(now))
        lines = [f"{stamp} {line}" for line in self._region_changes(regions["down"], now)]
        moves = [*self._check_changes(), *self._answer_changes()]
        if moves and self.drill is not None:  # how long after the drill's step the move was seen
            what, when = self.drill
            moves = [f"{line} [{now - when:.0f} s after {what}]" for line in moves]
        lines += [f"{stamp} {line}" for line in moves]
        return lines

    def _region_changes(self, down: dict[str, float], now: float) -> Iterator[str]:
        before, self.down = self.down, dict(down)
        if before is None:
            yield from (f"region {region} is down (since {_clock(since)})" for region, since in sorted(down.items()))
            return
        for region, since in sorted(down.items()):
            if region not in before:
                self.drill = (f"{region} went down", since)
                yield f"region {region} went down at {_clock(since)}"
        for region in sorted(set(before) - set(down)):
            self.drill = (f"{region} came back", now)
            yield f"region {region} is up again (seen at {_clock(now)})"

    def _check_changes(self) -> Iterator[str]:
        for check in _pages(self.route53, "list_health_checks", "HealthChecks"):
            config = check["HealthCheckConfig"]
            if config["Type"] == "CALCULATED":
                continue  # GetHealthCheckStatus refuses calculated checks, as Route 53 does
            observed = self.route53.get_health_check_status(HealthCheckId=check["Id"])["HealthCheckObservations"]
            if not observed:
                continue
            report = observed[0]["StatusReport"]
            status = str(report["Status"])
            before = self.checks.get(check["Id"])
            self.checks[check["Id"]] = status
            if before == status:
                continue
            target = config.get("FullyQualifiedDomainName") or config.get("IPAddress") or config["Type"]
            checked = report["CheckedTime"]
            when = checked.strftime("%H:%M:%S") if hasattr(checked, "strftime") else str(checked)
            what = status if before is None else f"{before} -> {status}"
            yield f"health check {check['Id']} ({target}, checked {when}): {what}"

    def _answer_changes(self) -> Iterator[str]:
        for pair in self._failover_names():
            answer = self._resolve(pair.name, pair.kind)
            key = (pair.name, pair.kind)
            before = self.answers.get(key)
            self.answers[key] = answer
            if before == answer:
                continue
            shown = ", ".join(answer) or "no answer"
            source = pair.which(answer)
            now = shown + (f" ({source})" if source else "")
            if before is None:
                yield f"{pair.name} {pair.kind} answers {now}"
            else:
                earlier = ", ".join(before) or "no answer"
                was = pair.which(before)
                yield f"{pair.name} {pair.kind} moved: {earlier}" + (f" ({was})" if was else "") + f" -> {now}"

    def _failover_names(self) -> list[FailoverName]:
        grouped: dict[tuple[str, str], list[tuple[str, str, tuple[str, ...]]]] = {}
        for zone in _pages(self.route53, "list_hosted_zones", "HostedZones"):
            if zone.get("Config", {}).get("PrivateZone"):
                continue  # the DNS port answers public zones
            for rrset in _pages(self.route53, "list_resource_record_sets", "ResourceRecordSets", HostedZoneId=zone["Id"]):
                if not rrset.get("Failover"):
                    continue
                values = tuple(sorted(_canonical(r["Value"]) for r in rrset.get("ResourceRecords", [])))
                grouped.setdefault((_canonical(rrset["Name"]), rrset["Type"]), []).append(
                    (rrset["Failover"], rrset.get("SetIdentifier", ""), values))
        return [FailoverName(name, kind, tuple(records)) for (name, kind), records in sorted(grouped.items())]

    def _resolve(self, name: str, kind: str) -> tuple[str, ...]:
        """The values the DNS server answers for name and type (the record's own type only, not the chain)."""
        if self.dns_port is None:
            self.dns_port = int(self.control.call("GET", "route53")["dns_port"])
        try:
            response = dns.query.udp(dns.message.make_query(name, kind), "127.0.0.1", port=self.dns_port, timeout=5)
        except (dns.exception.DNSException, OSError) as exc:
            return (f"no answer ({exc})",)
        if response.rcode() != dns.rcode.NOERROR:
            return (dns.rcode.to_text(response.rcode()),)
        wanted = dns.rdatatype.from_text(kind)
        return tuple(sorted(_canonical(rd.to_text()) for rrset in response.answer if rrset.rdtype == wanted
                            for rd in rrset))


def _clock(moment: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(moment))


def _pages(client: Any, operation: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
    for page in client.get_paginator(operation).paginate(**params):
        yield from page[key]


def watch(control: ControlClient, seconds: float | None, interval: float, say: Callable[[str], None]) -> None:
    """Print what changes until `seconds` have passed (None: until interrupted)."""
    creds = control.credentials
    # Route 53 is global: its API answers on (signed for us-east-1) while a drill has a region down.
    route53 = boto3.client("route53", endpoint_url=control.endpoint, region_name="us-east-1",
                           aws_access_key_id=creds.access_key, aws_secret_access_key=creds.secret_key)
    watcher = DrillWatch(control, route53)
    deadline = None if seconds is None else time.monotonic() + seconds
    try:
        while True:
            for line in watcher.look():
                say(line)
            if deadline is not None and time.monotonic() >= deadline:
                return
            time.sleep(interval)
    except KeyboardInterrupt:
        return
