"""The instance metadata service (IMDSv2), served on Conveyor's own port under a path per instance:
`http://127.0.0.1:PORT/_aws/ec2-metadata/INSTANCE_ID/`, which each instance's process finds in
AWS_EC2_METADATA_SERVICE_ENDPOINT (every AWS SDK and the AWS CLI read it), so an SDK in the user data
finds its region, its instance id and its instance profile's credentials, refreshing them itself.
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html

- `PUT latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds` (1-21600) answers a token; every GET
  then sends it in `X-aws-ec2-metadata-token` (401 without it, unless the instance's HttpTokens is
  `optional`); a token is good for its own instance only, until its TTL passes on the server's clock.
- Answered to loopback clients only (the instances run on this host), like the link-local address on
  EC2; the instance id in the path (68 random bits) is what tells instances apart.
- Role credentials are sessions of the instance profile's role (STS, service principal ec2.amazonaws.com,
  named after the instance), renewed an hour before they end, as EC2 rotates them before expiry.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable
from typing import Any

from conveyor.ports import Ports, RoleNotAssumable
from conveyor.services.ec2 import network
from conveyor.services.ec2.instances import Fleet, Instance
from conveyor.wire import HttpRequest, HttpResponse, RequestContext, ServiceError

PREFIX = "/_aws/ec2-metadata/"
TOKEN_TTL_MAX = 21600
SESSION_SECONDS = 6 * 3600
RENEW_BEFORE = 3600
EC2_PRINCIPAL = "ec2.amazonaws.com"
LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1")


def _text(status: int, body: str, content_type: str = "text/plain", headers: list[tuple[str, str]] | None = None,
          ) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", content_type), *(headers or [])], body.encode())


class MetadataService:
    """A data plane (conveyor.services.base.DataPlane) of the EC2 service."""

    label = "ec2-metadata"

    def __init__(self, fleet: Callable[[], Fleet | None], ports: Ports) -> None:
        self.fleet = fleet  # the service's, once it started
        self.ports = ports
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (instance id, expires)

    def claims(self, request: HttpRequest) -> bool:
        return request.path.startswith(PREFIX)

    def error(self, ctx: RequestContext, error: ServiceError) -> HttpResponse:
        return _text(error.status, error.message or error.code)

    async def answer(self, ctx: RequestContext) -> HttpResponse:
        request = ctx.request
        if request.client is not None and request.client[0] not in LOOPBACK:
            return _text(403, "Forbidden")
        instance_id, _, path = request.path[len(PREFIX):].partition("/")
        fleet = self.fleet()
        instance = fleet.by_id.get(instance_id) if fleet is not None else None
        if instance is None or instance.state not in ("pending", "running"):
            return _text(404, "Not Found")
        if instance.doc["MetadataOptions"].get("HttpEndpoint") == "disabled":
            return _text(403, "Forbidden")
        now = ctx.clock.now()
        if path == "latest/api/token":
            return self._token(request, instance, now)
        if request.method not in ("GET", "HEAD"):
            return _text(405, "Method Not Allowed")
        token = request.headers.get("x-aws-ec2-metadata-token")
        if token is not None or instance.doc["MetadataOptions"].get("HttpTokens") == "required":
            owner = self.tokens.get(token or "")
            if owner is None or owner[0] != instance_id or owner[1] <= now:
                return _text(401, "Unauthorized")
        found = await self._get(instance, path.rstrip("/") if path.endswith("/") and path != "latest/meta-data/"
                                else path, now)
        if found is None:
            return _text(404, "Not Found")
        return found

    def _token(self, request: HttpRequest, instance: Instance, now: float) -> HttpResponse:
        if request.method != "PUT":
            return _text(405, "Method Not Allowed")
        if request.headers.get("x-forwarded-for"):  # EC2 refuses tokens asked through a proxy
            return _text(403, "Forbidden")
        ttl_text = request.headers.get("x-aws-ec2-metadata-token-ttl-seconds") or ""
        if not ttl_text.isdigit() or not 1 <= int(ttl_text) <= TOKEN_TTL_MAX:
            return _text(400, "Bad Request")
        for old in [t for t, (_, expires) in self.tokens.items() if expires <= now]:
            del self.tokens[old]
        token = secrets.token_urlsafe(42)
        self.tokens[token] = (instance.instance_id, now + int(ttl_text))
        return _text(200, token, headers=[("X-aws-ec2-metadata-token-ttl-seconds", ttl_text)])

    async def _get(self, instance: Instance, path: str, now: float) -> HttpResponse | None:
        doc, region = instance.doc, instance.region
        zone = doc["Placement"]["AvailabilityZone"]
        profile = doc.get("IamInstanceProfile")
        role_name = (instance.private.get("role_arn") or "").rpartition("/")[2]
        if path == "latest/user-data":
            data = instance.private.get("user_data") or ""
            return _text(200, data, "application/octet-stream") if data else None
        if path == "latest/dynamic/instance-identity/document":
            return _text(200, json.dumps(self._identity(instance), indent=2), "application/json")
        values: dict[str, str] = {
            "ami-id": doc["ImageId"], "ami-launch-index": str(doc["AmiLaunchIndex"]),
            "hostname": doc["PrivateDnsName"], "local-hostname": doc["PrivateDnsName"],
            "local-ipv4": doc["PrivateIpAddress"], "instance-id": instance.instance_id,
            "instance-type": doc["InstanceType"], "reservation-id": instance.private["reservation"],
            "security-groups": "default", "placement/availability-zone": zone, "placement/region": region,
            "placement/availability-zone-id": network.zone_id(region, zone),
            "instance-life-cycle": "on-demand",
        }
        if path == "latest/meta-data/":
            names = sorted({key.split("/")[0] + ("/" if "/" in key else "") for key in values}
                           | ({"iam/"} if profile else set()))
            return _text(200, "\n".join(names))
        key = path.removeprefix("latest/meta-data/")
        if key in values:
            return _text(200, values[key])
        if key == "placement":
            return _text(200, "availability-zone\navailability-zone-id\nregion")
        if not profile:
            return None
        if key == "iam":
            return _text(200, "info\nsecurity-credentials/")
        if key == "iam/info":
            return _text(200, json.dumps({"Code": "Success", "LastUpdated": _stamp(now),
                                          "InstanceProfileArn": profile["Arn"], "InstanceProfileId": profile["Id"]},
                                         indent=2), "application/json")
        if key == "iam/security-credentials" and role_name:
            return _text(200, role_name)
        if key == f"iam/security-credentials/{role_name}" and role_name:
            return _text(200, json.dumps(await self._credentials(instance, now), indent=2), "application/json")
        return None

    def _identity(self, instance: Instance) -> dict[str, Any]:
        doc = instance.doc
        return {"accountId": instance.private["owner"], "architecture": "x86_64",
                "availabilityZone": doc["Placement"]["AvailabilityZone"], "imageId": doc["ImageId"],
                "instanceId": instance.instance_id, "instanceType": doc["InstanceType"],
                "pendingTime": _stamp(float(doc["LaunchTime"])), "privateIp": doc["PrivateIpAddress"],
                "region": instance.region, "version": "2017-09-30"}

    async def _credentials(self, instance: Instance, now: float) -> dict[str, Any]:
        session = instance.credentials
        if session is None or session.expiration - now < RENEW_BEFORE:
            sessions = self.ports.role_sessions
            role_arn = instance.private.get("role_arn")
            try:
                if sessions is None or role_arn is None:
                    raise RoleNotAssumable("this Conveyor runs without STS")
                session = await sessions.service_session(role_arn, EC2_PRINCIPAL, instance.instance_id,
                                                         SESSION_SECONDS, instance.region)
            except RoleNotAssumable as exc:
                # What EC2 answers when the role's trust policy does not let EC2 assume it.
                return {"Code": "AssumeRoleUnauthorizedAccess", "Message": str(exc), "LastUpdated": _stamp(now)}
            instance.credentials = session
        return {"Code": "Success", "LastUpdated": _stamp(now), "Type": "AWS-HMAC", "AccessKeyId": session.access_key,
                "SecretAccessKey": session.secret_key, "Token": session.session_token,
                "Expiration": _stamp(session.expiration)}


def _stamp(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
