"""Health checks: their configuration (HTTP, HTTPS, TCP and string-matching endpoints, CloudWatch alarms,
calculated from other checks), versions, caller references, and the status the probes report.

https://docs.aws.amazon.com/Route53/latest/APIReference/API_CreateHealthCheck.html
https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html
Route 53 refuses endpoints at private and loopback addresses, because its checkers are on the internet;
Conveyor's checker runs on this machine, so loopback endpoints are what it probes.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from conveyor.services.route53 import errors
from conveyor.services.route53.catalog import Catalog
from conveyor.services.route53.probes import Prober
from conveyor.services.route53.store import Batch
from conveyor.services.route53.zones import ENDPOINT, max_items
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from mypy_boto3_route53.type_defs import (
        CreateHealthCheckRequestTypeDef,
        DeleteHealthCheckRequestTypeDef,
        GetHealthCheckLastFailureReasonRequestTypeDef,
        GetHealthCheckRequestTypeDef,
        GetHealthCheckStatusRequestTypeDef,
        ListHealthChecksRequestTypeDef,
        UpdateHealthCheckRequestTypeDef,
    )

ENDPOINT_TYPES = ("HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH", "TCP")
_UPDATABLE = ("IPAddress", "Port", "ResourcePath", "FullyQualifiedDomainName", "SearchString", "FailureThreshold",
              "Inverted", "Disabled", "HealthThreshold", "ChildHealthChecks", "EnableSNI", "Regions",
              "AlarmIdentifier", "InsufficientDataHealthStatus")
# What ResetElements may clear. https://docs.aws.amazon.com/Route53/latest/APIReference/API_UpdateHealthCheck.html
_RESETTABLE = {"FullyQualifiedDomainName", "Regions", "ResourcePath", "ChildHealthChecks"}


def complete_config(given: dict[str, Any]) -> dict[str, Any]:
    """The configuration with the defaults Route 53 fills in, as GetHealthCheck answers it."""
    config = {key: value for key, value in given.items() if value is not None}
    kind = config["Type"]
    config.setdefault("Inverted", False)
    config.setdefault("Disabled", False)
    if kind in ENDPOINT_TYPES:
        secure = kind.startswith("HTTPS")
        config.setdefault("Port", 443 if secure else 80)
        config.setdefault("RequestInterval", 30)
        config.setdefault("FailureThreshold", 3)
        config.setdefault("MeasureLatency", False)
        config.setdefault("EnableSNI", secure)  # true for HTTPS and HTTPS_STR_MATCH, else false
    return config


def check_config(config: dict[str, Any], catalog: Catalog, own_id: str | None = None) -> None:
    """Route 53's rules on a configuration, answered with InvalidInput."""
    kind = config["Type"]
    if kind == "RECOVERY_CONTROL":
        raise errors.invalid_input("Conveyor does not serve Route 53 Application Recovery Controller routing "
                                   "controls: RECOVERY_CONTROL health checks are refused.")
    if kind in ENDPOINT_TYPES:
        if not config.get("IPAddress") and not config.get("FullyQualifiedDomainName"):
            raise errors.invalid_input("Invalid parameter : Either IPAddress or FullyQualifiedDomainName must be "
                                       "specified.")
        if kind.endswith("STR_MATCH") and not config.get("SearchString"):
            raise errors.invalid_input("Invalid parameter : SearchString is required for health checks of type "
                                       f"{kind}.")
        if config.get("RequestInterval") not in (None, 10, 30):
            raise errors.invalid_input("Invalid parameter : RequestInterval must be 10 or 30.")
    elif kind == "CALCULATED":
        children = config.get("ChildHealthChecks") or []
        for child in children:
            if child not in catalog.health_checks or child == own_id:
                raise errors.no_such_health_check(child)
        if config.get("HealthThreshold") is None:
            raise errors.invalid_input("Invalid parameter : HealthThreshold is required for CALCULATED health checks.")
    elif kind == "CLOUDWATCH_METRIC" and not config.get("AlarmIdentifier"):
        raise errors.invalid_input("Invalid parameter : AlarmIdentifier is required for CLOUDWATCH_METRIC "
                                   "health checks.")


def health_check_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {"Id": doc["Id"], "CallerReference": doc["CallerReference"], "HealthCheckConfig": doc["HealthCheckConfig"],
            "HealthCheckVersion": doc["HealthCheckVersion"]}


class HealthCheckOperations:
    def __init__(self, catalog: Catalog, prober: Prober) -> None:
        self.catalog = catalog
        self.prober = prober

    def _check(self, check_id: str) -> dict[str, Any]:
        doc = self.catalog.health_checks.get(check_id)
        if doc is None:
            raise errors.no_such_health_check(check_id)
        return doc

    async def CreateHealthCheck(self, ctx: RequestContext, params: CreateHealthCheckRequestTypeDef) -> dict[str, Any]:
        """A caller reference names one health check: the same configuration again answers that check, another
        configuration is HealthCheckAlreadyExists."""
        reference = params["CallerReference"]
        config = complete_config(dict(params["HealthCheckConfig"]))
        async with self.catalog.mutex:
            # A deleted check's caller reference is not taken again, whatever the settings.
            # https://docs.aws.amazon.com/Route53/latest/APIReference/API_CreateHealthCheck.html#Route53-CreateHealthCheck-request-CallerReference
            if reference in self.catalog.spent_check_references:
                raise errors.fault("HealthCheckAlreadyExists", "A health check with the specified caller reference "
                                   "was created and later deleted.")
            for doc in self.catalog.health_checks.values():
                if doc["CallerReference"] == reference:
                    if doc["HealthCheckConfig"] == config:
                        return {"HealthCheck": health_check_view(doc), "Location": f"{ENDPOINT}/healthcheck/{doc['Id']}"}
                    raise errors.fault("HealthCheckAlreadyExists", "A health check with the specified caller "
                                       "reference already exists, and its configuration is different.")
            check_config(config, self.catalog)
            check_id = str(uuid.uuid4())
            doc = {"Id": check_id, "CallerReference": reference, "HealthCheckConfig": config, "HealthCheckVersion": 1}
            await self.catalog.commit(Batch().write("healthcheck", check_id, doc))
        self.prober.watch(doc)
        return {"HealthCheck": health_check_view(doc), "Location": f"{ENDPOINT}/healthcheck/{check_id}"}

    async def GetHealthCheck(self, ctx: RequestContext, params: GetHealthCheckRequestTypeDef) -> dict[str, Any]:
        return {"HealthCheck": health_check_view(self._check(params["HealthCheckId"]))}

    async def ListHealthChecks(self, ctx: RequestContext, params: ListHealthChecksRequestTypeDef) -> dict[str, Any]:
        limit = max_items(params.get("MaxItems"))
        checks = list(self.catalog.health_checks.values())
        marker = params.get("Marker")
        start = 0
        if marker:
            ids = [c["Id"] for c in checks]
            if marker not in ids:
                raise errors.invalid_marker()
            start = ids.index(marker)
        result: dict[str, Any] = {"HealthChecks": [health_check_view(c) for c in checks[start:start + limit]],
                                  "Marker": marker or "", "IsTruncated": start + limit < len(checks),
                                  "MaxItems": str(limit)}
        if result["IsTruncated"]:
            result["NextMarker"] = checks[start + limit]["Id"]
        return result

    async def GetHealthCheckCount(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"HealthCheckCount": len(self.catalog.health_checks)}

    async def UpdateHealthCheck(self, ctx: RequestContext, params: UpdateHealthCheckRequestTypeDef) -> dict[str, Any]:
        async with self.catalog.mutex:
            doc = self._check(params["HealthCheckId"])
            version = params.get("HealthCheckVersion")
            if version is not None and version != doc["HealthCheckVersion"]:
                raise errors.fault("HealthCheckVersionMismatch", "The value of HealthCheckVersion in the request "
                                   "doesn't match the value of HealthCheckVersion in the health check.")
            config = dict(doc["HealthCheckConfig"])
            given: dict[str, Any] = dict(params)
            for key in _UPDATABLE:
                if given.get(key) is not None:
                    config[key] = given[key]
            for element in given.get("ResetElements") or []:
                if element not in _RESETTABLE:
                    raise errors.invalid_input(f"Invalid parameter : {element} cannot be reset.")
                config.pop(element, None)
            check_config(config, self.catalog, doc["Id"])
            updated = {**doc, "HealthCheckConfig": config, "HealthCheckVersion": doc["HealthCheckVersion"] + 1}
            await self.catalog.commit(Batch().write("healthcheck", doc["Id"], updated))
        self.prober.watch(updated)
        return {"HealthCheck": health_check_view(updated)}

    async def DeleteHealthCheck(self, ctx: RequestContext, params: DeleteHealthCheckRequestTypeDef) -> dict[str, Any]:
        """A check that a calculated check counts is in use; one that record sets name may go (they then
        count as healthy). https://docs.aws.amazon.com/Route53/latest/APIReference/API_DeleteHealthCheck.html"""
        async with self.catalog.mutex:
            doc = self._check(params["HealthCheckId"])
            parents = [c["Id"] for c in self.catalog.health_checks.values()
                       if doc["Id"] in (c["HealthCheckConfig"].get("ChildHealthChecks") or [])]
            if parents:
                raise errors.fault("HealthCheckInUse", f"Health check {doc['Id']} is still referenced from parent "
                                   f"health check {parents[0]}.")
            batch = Batch().remove("healthcheck", doc["Id"])
            batch.write("spentcheckref", str(doc["CallerReference"]), {"HealthCheckId": doc["Id"]})
            if f"healthcheck/{doc['Id']}" in self.catalog.tags:
                batch.remove("tags", f"healthcheck/{doc['Id']}")
            await self.catalog.commit(batch)
        self.prober.forget(doc["Id"])
        return {}

    def _observed(self, check_id: str, operation: str) -> dict[str, Any]:
        """A calculated health check has no observations of its own to give: Route 53 refuses both operations
        for one (its status is the console's and CloudWatch's to show).
        https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetHealthCheckStatus.html#API_GetHealthCheckStatus_RequestSyntax"""
        doc = self._check(check_id)
        if doc["HealthCheckConfig"]["Type"] == "CALCULATED":
            raise errors.invalid_input(f"You can't use {operation} for a calculated health check.")
        return doc

    async def GetHealthCheckStatus(self, ctx: RequestContext,
                                   params: GetHealthCheckStatusRequestTypeDef) -> dict[str, Any]:
        doc = self._observed(params["HealthCheckId"], "GetHealthCheckStatus")
        return {"HealthCheckObservations": self.prober.observations(doc["Id"], failures_only=False)}

    async def GetHealthCheckLastFailureReason(self, ctx: RequestContext,
                                              params: GetHealthCheckLastFailureReasonRequestTypeDef) -> dict[str, Any]:
        doc = self._observed(params["HealthCheckId"], "GetHealthCheckLastFailureReason")
        return {"HealthCheckObservations": self.prober.observations(doc["Id"], failures_only=True)}

    async def GetCheckerIpRanges(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """Conveyor's one checker probes from this machine."""
        return {"CheckerIpRanges": ["127.0.0.0/8"]}
