"""Settings: flags override environment variables, which override the embedded defaults."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path


def default_data_dir() -> Path:
    """Per-user state directory (XDG on Linux, ~/Library on macOS)."""
    if env := os.environ.get("CONVEYOR_DATA_DIR"):
        return Path(env)
    if xdg := os.environ.get("XDG_DATA_HOME"):
        return Path(xdg) / "conveyor"
    home = Path.home()
    if (home / "Library").is_dir() and os.uname().sysname == "Darwin":
        return home / "Library" / "Application Support" / "conveyor"
    return home / ".local" / "share" / "conveyor"


DEFAULT_KEY = "test"
IAM_MODES = ("off", "report", "enforce")  # the access key and the secret key a loopback server starts with


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


@dataclass
class Config:
    host: str = field(default_factory=lambda: _env("CONVEYOR_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(_env("CONVEYOR_PORT", "4566")))
    data_dir: Path = field(default_factory=default_data_dir)
    account_id: str = field(default_factory=lambda: _env("CONVEYOR_ACCOUNT_ID", "000000000000"))
    region: str = field(default_factory=lambda: _env("CONVEYOR_REGION", "us-east-1"))
    access_key: str = field(default_factory=lambda: _env("CONVEYOR_ACCESS_KEY_ID", DEFAULT_KEY))
    secret_key: str = field(default_factory=lambda: _env("CONVEYOR_SECRET_ACCESS_KEY", DEFAULT_KEY))
    # "off" accepts any caller, "sigv4" verifies every signature; None = off on loopback only.
    auth: str | None = field(default_factory=lambda: os.environ.get("CONVEYOR_AUTH") or None)
    # IAM policies: "off" (every signed caller may do anything), "report" (log what would be denied, deny
    # nothing) or "enforce" (deny as AWS would); see conveyor.authz.
    iam: str = field(default_factory=lambda: _env("CONVEYOR_IAM", "off"))
    # "system" or "manual" (tests move a manual clock with POST /_conveyor/clock).
    clock: str = field(default_factory=lambda: _env("CONVEYOR_CLOCK", "system"))
    # Where a manual clock starts (seconds since the epoch; default: now), so a test can restart a server
    # at a later time, as if it had been down meanwhile.
    clock_start: float | None = field(default_factory=lambda: float(os.environ["CONVEYOR_CLOCK_START"])
                                      if os.environ.get("CONVEYOR_CLOCK_START") else None)
    log_requests: bool = field(default_factory=lambda: _env("CONVEYOR_LOG_REQUESTS", "0") == "1")
    # Connections (conveyor.gateway.connections): at most this many open at once; a client silent this
    # many seconds in the middle of a request is timed out, a keep-alive connection idle this long closed.
    max_connections: int = field(default_factory=lambda: int(_env("CONVEYOR_MAX_CONNECTIONS", "1024")))
    read_timeout: float = field(default_factory=lambda: float(_env("CONVEYOR_READ_TIMEOUT", "20")))
    idle_timeout: float = field(default_factory=lambda: float(_env("CONVEYOR_IDLE_TIMEOUT", "20")))
    # CloudFront's edge cache (conveyor.services.cloudfront.cache): at most this many bytes of objects in
    # memory, and this many on disk under the data directory.
    edge_cache_memory: int = field(default_factory=lambda: int(_env("CONVEYOR_EDGE_CACHE_MEMORY", str(64 << 20))))
    edge_cache_disk: int = field(default_factory=lambda: int(_env("CONVEYOR_EDGE_CACHE_DISK", str(1 << 30))))
    # Route 53's DNS server (conveyor.services.route53.dns_server): UDP and TCP on this loopback port (0: any
    # free port, -1: none), answering geolocation and latency records as for a client in this region.
    dns_port: int = field(default_factory=lambda: int(_env("CONVEYOR_DNS_PORT", "10053")))
    dns_client_region: str = field(default_factory=lambda: _env("CONVEYOR_DNS_CLIENT_REGION", ""))
    # DynamoDB's TTL sweeper deletes expired items this often (seconds, on the server's clock; AWS takes up
    # to a few days, tests should not have to wait).
    dynamodb_ttl_interval: float = field(default_factory=lambda: float(_env("CONVEYOR_DYNAMODB_TTL_INTERVAL", "10")))
    # HTTPS on the same port, with a certificate of a local CA made in the data directory (gateway/tls.py).
    tls: bool = field(default_factory=lambda: _env("CONVEYOR_TLS", "1") != "0")

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).expanduser().resolve()
        if self.auth is None:
            self.auth = "off" if self.is_loopback else "sigv4"
        if self.auth not in ("off", "sigv4"):
            raise ValueError(f"--auth must be 'off' or 'sigv4', not {self.auth!r}")
        if self.auth == "off" and not self.is_loopback:
            raise ValueError(
                f"refusing to serve {self.host} without authentication: use --auth sigv4 "
                "(auth can be off only on a loopback address)"
            )
        if not self.is_loopback and self.secret_key == DEFAULT_KEY:
            # Everyone knows the default secret: a signature made with it proves nothing.
            raise ValueError(
                f"refusing to serve {self.host} with the well-known default secret key: set --secret-key "
                "(or CONVEYOR_SECRET_ACCESS_KEY), and --access-key"
            )
        if self.iam not in IAM_MODES:
            raise ValueError(f"--iam must be one of {', '.join(IAM_MODES)}, not {self.iam!r}")
        if self.clock not in ("system", "manual"):
            raise ValueError(f"--clock must be 'system' or 'manual', not {self.clock!r}")
        if self.max_connections < 1:
            raise ValueError(f"--max-connections must be at least 1, not {self.max_connections}")
        if not (self.read_timeout > 0 and self.idle_timeout > 0):
            raise ValueError("the read and idle timeouts must be positive numbers of seconds")
        if not (self.account_id.isdigit() and len(self.account_id) == 12):
            raise ValueError(f"the account id must be 12 digits, not {self.account_id!r}")

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def credentials(self) -> dict[str, str]:
        """access key id -> secret key, for SigV4 verification."""
        return {self.access_key: self.secret_key}

    @property
    def tls_dir(self) -> Path:
        """Where the local CA (ca.pem) and the server's certificate live."""
        return self.data_dir / "tls"

    def service_dir(self, service: str) -> Path:
        path = self.data_dir / service
        path.mkdir(parents=True, exist_ok=True)
        return path
