"""`conveyor up --dns-port`: where Route 53's DNS server listens, said on the console and at
GET /_conveyor/route53; a port already taken leaves the API served and says why."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import dns.rcode

from tests.route53.conftest import Dig, a_record, change, create_zone


def _status(endpoint: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{endpoint}/_conveyor/route53", timeout=10) as response:
        found: dict[str, Any] = json.load(response)
    return found


def _console(server: Any, wanted: str) -> str:
    deadline = time.monotonic() + 10
    text = ""
    while time.monotonic() < deadline and wanted not in text:
        text = server.console.read_text()
        time.sleep(0.05)
    return text


def _free_udp_and_tcp_port() -> int:
    """A port free for both: the DNS server listens on UDP and TCP, and a port free for one may be taken
    for the other."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, socket.socket() as tcp:
            udp.bind(("127.0.0.1", 0))
            port: int = udp.getsockname()[1]
            try:
                tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no port free for both UDP and TCP")


def test_dns_port_flag_and_console_line(start_server: Callable[..., Any], tmp_path: Any) -> None:
    port = _free_udp_and_tcp_port()
    server = start_server(None, "--dns-port", str(port), console=tmp_path / "console.txt")
    assert _status(server.endpoint) == {"dns_port": port, "dns_host": "127.0.0.1"}
    assert f"dig @127.0.0.1 -p {port} NAME" in _console(server, "NAME")
    r53 = server.client("route53")
    zone_id = create_zone(r53)
    change(r53, zone_id, ("CREATE", a_record("www.example.com", "192.0.2.1")))
    assert Dig(port).values("www.example.com") == ["192.0.2.1"]
    assert Dig(port).query("www.example.com", tcp=True).rcode() == dns.rcode.NOERROR


def test_a_taken_dns_port_leaves_the_api_served(start_server: Callable[..., Any], tmp_path: Any) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        server = start_server(None, "--dns-port", str(port), console=tmp_path / "console.txt")
        status = _status(server.endpoint)
        assert status["dns_port"] is None and status["dns_error"].startswith(f"could not listen on 127.0.0.1:{port}")
        assert "not served (could not listen" in _console(server, "not served")
        assert server.client("route53").list_hosted_zones()["HostedZones"] == []


def test_dns_client_region_moves_latency_and_geolocation_answers(start_server: Callable[..., Any]) -> None:
    server = start_server(None, "--dns-client-region", "eu-west-1")
    r53 = server.client("route53")
    zone_id = create_zone(r53)
    change(r53, zone_id,
           ("CREATE", a_record("lat.example.com", "192.0.2.1", SetIdentifier="us", Region="us-east-1")),
           ("CREATE", a_record("lat.example.com", "192.0.2.2", SetIdentifier="eu", Region="eu-west-1")),
           ("CREATE", a_record("geo.example.com", "192.0.2.10", SetIdentifier="us", GeoLocation={"CountryCode": "US"})),
           ("CREATE", a_record("geo.example.com", "192.0.2.11", SetIdentifier="eu", GeoLocation={"ContinentCode": "EU"})))
    dig = Dig(_status(server.endpoint)["dns_port"])
    assert dig.values("lat.example.com") == ["192.0.2.2"]
    assert dig.values("geo.example.com") == ["192.0.2.11"]
