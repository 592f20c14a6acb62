"""The health checker: probes each endpoint health check every RequestInterval seconds of the server's clock
(so tests move time to run them) and turns results into a status after FailureThreshold consecutive ones
that disagree with it; CloudWatch-metric checks follow their alarm, calculated checks count their children.

How Route 53 judges an endpoint (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html):
TCP: a connection within four seconds. HTTP and HTTPS: a connection within four seconds, then an HTTP status
of 2xx or 3xx within two seconds more. The *_STR_MATCH types: and the SearchString in the first 5,120 bytes of
the body. HTTPS checks do not validate the certificate. A new check counts as healthy until its probes say
otherwise; a disabled check counts as healthy, and Inverted turns the result over.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conveyor.background import spawn
from conveyor.clock import Clock, TimerHandle
from conveyor.ports import AlarmStates
from conveyor.services.route53.catalog import Catalog

log = logging.getLogger("conveyor.route53")

CONNECT_SECONDS = 4.0
RESPONSE_SECONDS = 2.0
SEARCH_BYTES = 5120
# The HealthCheckRegion values: the one checker reports itself in the server's region when it is one of them.
CHECKER_REGIONS = ("us-east-1", "us-west-1", "us-west-2", "eu-west-1", "ap-southeast-1", "ap-southeast-2",
                   "ap-northeast-1", "sa-east-1")
ENDPOINT_TYPES = ("HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH", "TCP")
_REFUSED = ("Failure: Connection refused. The endpoint or the internet connection is down, or the endpoint is "
            "not listening on the specified port.")
_TIMED_OUT = ("Failure: Connection timed out. The endpoint or the internet connection is down, or requests are "
              "being blocked by your firewall.")


@dataclass
class Observation:
    status: str
    checked: float
    success: bool


@dataclass
class CheckState:
    healthy: bool = True
    streak: int = 0  # consecutive results that disagree with `healthy`
    last: Observation | None = None
    last_failure: Observation | None = None
    timer: TimerHandle | None = None
    probing: bool = False
    generation: int = 0  # a probe started under an older configuration is not counted
    probes: int = 0  # probes completed (tests wait on it)
    results: list[asyncio.Future[None]] = field(default_factory=list)


class Prober:
    def __init__(self, catalog: Catalog, clock: Clock, region: str, resolve: Callable[[str], str | None],
                 alarms: Callable[[], AlarmStates | None]) -> None:
        self.catalog = catalog
        self.clock = clock
        self.region = region if region in CHECKER_REGIONS else "us-east-1"
        self.resolve = resolve
        self.alarms = alarms
        self.states: dict[str, CheckState] = {}
        self.running = False

    def start(self) -> None:
        """Probe every check; a check keeps the status it had before a restart (stored when it changed), so
        an endpoint found unhealthy does not count as healthy again for FailureThreshold probes."""
        self.running = True
        stored = self.catalog.store.check_statuses()
        for doc in list(self.catalog.health_checks.values()):
            saved = stored.get(doc["Id"])
            if saved is not None and doc["Id"] not in self.states:
                self.states[doc["Id"]] = CheckState(
                    healthy=bool(saved["healthy"]), last=_observation(saved.get("last")),
                    last_failure=_observation(saved.get("last_failure")))
            self.watch(doc)

    def stop(self) -> None:
        self.running = False
        for state in self.states.values():
            if state.timer is not None:
                state.timer.cancel()
        self.states.clear()

    def watch(self, doc: dict[str, Any]) -> None:
        """Probe a new or changed check now, then every RequestInterval."""
        state = self.states.setdefault(doc["Id"], CheckState())
        state.generation += 1
        if state.timer is not None:
            state.timer.cancel()
            state.timer = None
        config = doc["HealthCheckConfig"]
        if self.running and config["Type"] in ENDPOINT_TYPES and not config.get("Disabled"):
            self._due(doc["Id"])

    def forget(self, check_id: str) -> None:
        state = self.states.pop(check_id, None)
        if state is not None and state.timer is not None:
            state.timer.cancel()

    def _due(self, check_id: str) -> None:
        doc = self.catalog.health_checks.get(check_id)
        state = self.states.get(check_id)
        if doc is None or state is None or not self.running:
            return
        config = doc["HealthCheckConfig"]
        state.timer = self.clock.call_at(self.clock.now() + float(config.get("RequestInterval", 30)),
                                         lambda: self._due(check_id))
        if not state.probing:  # a probe still waiting on its endpoint is not started twice
            state.probing = True
            spawn(self._probe(check_id, dict(config), state.generation))

    async def _probe(self, check_id: str, config: dict[str, Any], generation: int) -> None:
        state = self.states.get(check_id)
        try:
            success, status = await probe_endpoint(config, self.resolve)
        except Exception as exc:  # noqa: BLE001 - any failure to probe is the endpoint's failure
            success, status = False, f"Failure: {exc}"
        finally:
            if state is not None:
                state.probing = False
        if state is None or state.generation != generation or self.states.get(check_id) is not state:
            return
        observation = Observation(status, self.clock.now(), success)
        last_failure = state.last_failure if success else observation
        turns = False
        if success == state.healthy:
            state.streak = 0
        else:
            state.streak += 1
            turns = state.streak >= int(config.get("FailureThreshold", 3))
        if turns:
            # Stored first; the new status and the probe that turned it are seen together.
            await self._remember(check_id, {"healthy": success, "last": _stored(observation),
                                            "last_failure": _stored(last_failure)})
            if state.generation != generation or self.states.get(check_id) is not state:
                return  # changed or deleted meanwhile: its next probe judges afresh
            state.healthy = success
            state.streak = 0
            log.info("health check %s is now %s", check_id, "healthy" if success else "unhealthy")
        state.last, state.last_failure = observation, last_failure
        state.probes += 1

    async def _remember(self, check_id: str, doc: dict[str, Any]) -> None:
        """Store a changed status (a failed write is logged: the probes go on judging from memory)."""
        try:
            await self.catalog.store.put_check_status(check_id, doc)
        except Exception as exc:  # noqa: BLE001 - a status not stored is re-derived by the probes after a restart
            log.warning("could not store the status of health check %s: %s", check_id, exc)

    # -- status ------------------------------------------------------------------------------------------
    def healthy(self, check_id: str, seen: frozenset[str] = frozenset()) -> bool:
        """Whether the check counts as healthy now (a check that no longer exists does)."""
        doc = self.catalog.health_checks.get(check_id)
        if doc is None or check_id in seen:
            return True
        config = doc["HealthCheckConfig"]
        return self._raw_health(check_id, config, seen | {check_id}) != bool(config.get("Inverted"))

    def _raw_health(self, check_id: str, config: dict[str, Any], seen: frozenset[str]) -> bool:
        if config.get("Disabled"):
            return True
        kind = config["Type"]
        if kind == "CALCULATED":
            children = config.get("ChildHealthChecks") or []
            return sum(self.healthy(child, seen) for child in children) >= int(config.get("HealthThreshold") or 0)
        if kind == "CLOUDWATCH_METRIC":
            return self._alarm_health(check_id, config)
        state = self.states.get(check_id)
        return state.healthy if state is not None else True

    def _alarm_health(self, check_id: str, config: dict[str, Any]) -> bool:
        """OK is healthy, ALARM unhealthy; INSUFFICIENT_DATA (or no such alarm) is InsufficientDataHealthStatus:
        Healthy, Unhealthy or LastKnownStatus (the default)."""
        alarm = config.get("AlarmIdentifier") or {}
        source = self.alarms()
        alarm_state = source.alarm_state(alarm.get("Region", ""), alarm.get("Name", "")) if source else None
        state = self.states.setdefault(check_id, CheckState())
        if alarm_state in ("OK", "ALARM"):
            state.healthy = alarm_state == "OK"
            return state.healthy
        fallback = config.get("InsufficientDataHealthStatus") or "LastKnownStatus"
        return state.healthy if fallback == "LastKnownStatus" else fallback == "Healthy"

    def observations(self, check_id: str, failures_only: bool) -> list[dict[str, Any]]:
        doc = self.catalog.health_checks.get(check_id)
        if doc is None:
            return []
        config = doc["HealthCheckConfig"]
        if config["Type"] in ENDPOINT_TYPES:
            state = self.states.get(check_id)
            seen = None if state is None else (state.last_failure if failures_only else state.last)
            if seen is None:
                return []
            status, checked = seen.status, seen.checked
        else:
            healthy = self._raw_health(check_id, config, frozenset({check_id}))
            if failures_only and healthy:
                return []
            status, checked = self._judged_status(config, healthy), self.clock.now()
        return [{"Region": self.region, "IPAddress": "127.0.0.1",
                 "StatusReport": {"Status": status, "CheckedTime": checked}}]

    def _judged_status(self, config: dict[str, Any], healthy: bool) -> str:
        verdict = "Success" if healthy else "Failure"
        if config["Type"] == "CALCULATED":
            children = config.get("ChildHealthChecks") or []
            count = sum(self.healthy(child) for child in children)
            return (f"{verdict}: {count} of {len(children)} child health checks are healthy (threshold "
                    f"{config.get('HealthThreshold')}).")
        alarm = config.get("AlarmIdentifier") or {}
        source = self.alarms()
        found = source.alarm_state(alarm.get("Region", ""), alarm.get("Name", "")) if source else None
        return f"{verdict}: the CloudWatch alarm {alarm.get('Name')} is in state {found or 'INSUFFICIENT_DATA'}."


def _stored(observation: Observation | None) -> dict[str, Any] | None:
    if observation is None:
        return None
    return {"status": observation.status, "checked": observation.checked, "success": observation.success}


def _observation(doc: dict[str, Any] | None) -> Observation | None:
    if not doc:
        return None
    return Observation(str(doc["status"]), float(doc["checked"]), bool(doc["success"]))


async def probe_endpoint(config: dict[str, Any], resolve: Callable[[str], str | None]) -> tuple[bool, str]:
    """One probe of an endpoint check: (success, the status Route 53 would report)."""
    kind = config["Type"]
    fqdn = config.get("FullyQualifiedDomainName")
    host = config.get("IPAddress") or (resolve(fqdn) if fqdn else None) or fqdn
    if not host:
        return False, "Failure: DNS resolution failed: the domain name could not be resolved."
    port = int(config.get("Port", 80))
    secure = kind.startswith("HTTPS")
    context: ssl.SSLContext | None = None
    if secure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # Route 53 does not validate certificates
    server_name = (fqdn or None) if secure and config.get("EnableSNI", True) else None
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context, server_hostname=server_name if secure else None),
            CONNECT_SECONDS)
    except ConnectionRefusedError:
        return False, _REFUSED
    except TimeoutError:
        return False, _TIMED_OUT
    except OSError as exc:
        return False, f"Failure: {exc.strerror or exc}"
    try:
        if kind == "TCP":
            return True, "Success: TCP connection established."
        return await _http_probe(reader, writer, config, fqdn or host, port)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (OSError, ssl.SSLError):
            pass


async def _http_probe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, config: dict[str, Any],
                      host: str, port: int) -> tuple[bool, str]:
    path = config.get("ResourcePath") or "/"
    if not path.startswith("/"):
        path = "/" + path
    default_port = 443 if config["Type"].startswith("HTTPS") else 80
    host_header = host if port == default_port else f"{host}:{port}"
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: Amazon-Route53-Health-Check-Service "
                 "(ref conveyor; report http://amzn.to/1vsZADi)\r\nAccept: */*\r\nConnection: close\r\n\r\n".encode())
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), RESPONSE_SECONDS)
    except TimeoutError:
        return False, "Failure: The endpoint did not respond within two seconds of the connection."
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
        return False, "Failure: The endpoint closed the connection without a valid HTTP response."
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        return False, "Failure: The endpoint answered with an invalid HTTP status line."
    code = int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    said = f"HTTP Status Code {code}, {reason}"
    if not 200 <= code < 400:
        return False, f"Failure: {said}"
    search = config.get("SearchString")
    if config["Type"].endswith("STR_MATCH") and search:
        body = b""
        try:
            while len(body) < SEARCH_BYTES:
                chunk = await asyncio.wait_for(reader.read(SEARCH_BYTES - len(body)), RESPONSE_SECONDS)
                if not chunk:
                    break
                body += chunk
        except (TimeoutError, OSError):
            pass
        if search.encode() not in body[:SEARCH_BYTES]:
            return False, f"Failure: {said}. Specified search string not found in response."
    return True, f"Success: {said}"
