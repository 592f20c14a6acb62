"""Listeners and their rules: Create/Delete/Describe/ModifyListener, listener attributes and certificates,
Create/Delete/Describe/ModifyRule and SetRulePriorities.

https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateListener.html,
API_CreateRule.html: an Application Load Balancer listens on HTTP or HTTPS (HTTPS with exactly one
certificate), a Network Load Balancer on TCP; one listener a port; every listener has a default rule
(priority "default", its default actions) and rules of priorities 1-50000, unique in the listener.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from conveyor.services.elbv2 import attributes, errors
from conveyor.services.elbv2.actions import check_actions
from conveyor.services.elbv2.catalog import BALANCER, LISTENER, RULE, Catalog, Resource, new_id
from conveyor.services.elbv2.conditions import check_conditions
from conveyor.services.elbv2.paging import page
from conveyor.services.elbv2.tags import check_tags
from conveyor.services.elbv2.usage import balancers_of, forwarded_groups
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_elbv2.type_defs import (
        AddListenerCertificatesInputTypeDef,
        CreateListenerInputTypeDef,
        CreateRuleInputTypeDef,
        DeleteListenerInputTypeDef,
        DeleteRuleInputTypeDef,
        DescribeListenerAttributesInputTypeDef,
        DescribeListenerCertificatesInputTypeDef,
        DescribeListenersInputTypeDef,
        DescribeRulesInputTypeDef,
        ModifyListenerAttributesInputTypeDef,
        ModifyListenerInputTypeDef,
        ModifyRuleInputTypeDef,
        RemoveListenerCertificatesInputTypeDef,
        SetRulePrioritiesInputTypeDef,
    )

    from conveyor.services.elbv2.tcp_listeners import TcpListeners

PROTOCOLS = {"application": ("HTTP", "HTTPS"), "network": ("UDP", "TCP", "TLS", "TCP_UDP")}
SERVED = ("HTTP", "HTTPS", "TCP")  # network load balancers carry TCP here; TLS and UDP are refused
DEFAULT_SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
MAX_PRIORITY = 50000


def rule_order(rule: Resource) -> tuple[int, int]:
    """Rules in the order they are evaluated: by priority, the default rule last."""
    priority = rule.doc["Priority"]
    return (1, 0) if priority == "default" else (0, int(priority))


class ListenerOperations:
    def __init__(self, catalog: Callable[[], Catalog]) -> None:
        self._catalog = catalog
        # Told when a load balancer's listeners or rules change (routing tables and health checks re-read).
        self.changed: list[Callable[[], None]] = []
        self.tcp: TcpListeners | None = None  # binds TCP listeners' own ports

    def _notify(self) -> None:
        for listener in self.changed:
            listener()

    def listener(self, arn: str, region: str) -> Resource:
        found = self._catalog().get(arn, LISTENER, region)
        if found is None:
            raise errors.listener_not_found()
        return found

    def rule(self, arn: str, region: str) -> Resource:
        found = self._catalog().get(arn, RULE, region)
        if found is None:
            raise errors.rule_not_found()
        return found

    def _check_target_groups(self, balancer: Resource, actions: list[dict[str, Any]]) -> None:
        """A target group serves one load balancer (https://docs.aws.amazon.com/elasticloadbalancing/latest/
        application/load-balancer-target-groups.html)."""
        for group_arn in forwarded_groups(actions):
            others = [b for b in balancers_of(self._catalog(), group_arn) if b != balancer.arn]
            if others:
                raise ServiceError("TargetGroupAssociationLimit", "The following target groups cannot be "
                                          f"associated with more than one load balancer: {group_arn}")

    def _protocol(self, balancer: Resource, given: dict[str, Any]) -> tuple[str, int]:
        protocol, port = given.get("Protocol"), given.get("Port")
        if protocol is None:
            raise errors.validation("A listener protocol must be specified")
        if port is None:
            raise errors.validation("A listener port must be specified")
        allowed = PROTOCOLS[balancer.doc["Type"]]
        if protocol not in allowed:
            raise errors.validation(f"Listener protocol '{protocol}' must be one of '{', '.join(allowed)}'")
        if protocol not in SERVED:
            raise errors.unsupported(f"{protocol} listeners")
        if protocol == "HTTPS" and len(given.get("Certificates") or []) != 1:
            raise errors.invalid_configuration("You must provide a list containing exactly one certificate if the "
                                               "listener protocol is HTTPS.")
        return str(protocol), int(port)

    # -- listeners ---------------------------------------------------------------------------------------
    async def CreateListener(self, ctx: RequestContext, params: CreateListenerInputTypeDef) -> dict[str, Any]:
        catalog = self._catalog()
        given: dict[str, Any] = dict(params)
        balancer = catalog.get(given["LoadBalancerArn"], BALANCER, ctx.region)
        if balancer is None:
            raise errors.load_balancer_not_found()
        protocol, port = self._protocol(balancer, given)
        actions = check_actions(catalog, ctx.region, balancer.doc, [dict(a) for a in given["DefaultActions"]],
                                "defaultActions")
        self._check_target_groups(balancer, actions)
        tags = check_tags([dict(t) for t in given.get("Tags") or []])
        for existing in catalog.listeners_of(balancer.arn):
            if existing.doc["Port"] == port:
                if existing.doc["Protocol"] == protocol and existing.doc["DefaultActions"] == actions:
                    return {"Listeners": [existing.public()]}  # idempotent, as AWS's
                raise errors.duplicate_listener(balancer.arn)
        balancer_path = balancer.arn.split(":loadbalancer/", 1)[1]
        arn = f"arn:aws:elasticloadbalancing:{ctx.region}:{ctx.account_id}:listener/{balancer_path}/{new_id()}"
        doc: dict[str, Any] = {"ListenerArn": arn, "LoadBalancerArn": balancer.arn, "Port": port, "Protocol": protocol,
                               "DefaultActions": actions}
        if protocol == "HTTPS":
            doc["Certificates"] = [dict(c) for c in given.get("Certificates") or []]
            doc["SslPolicy"] = given.get("SslPolicy") or DEFAULT_SSL_POLICY
        doc["_tags"] = tags
        doc["_attributes"] = attributes.for_listener(protocol)
        listener = Resource(arn, LISTENER, ctx.region, doc)
        rule_arn = arn.replace(":listener/", ":listener-rule/", 1) + "/" + new_id()
        default_rule = Resource(rule_arn, RULE, ctx.region, {
            "RuleArn": rule_arn, "Priority": "default", "Conditions": [], "Actions": actions, "IsDefault": True,
            "_ListenerArn": arn, "_LoadBalancerArn": balancer.arn, "_tags": []})
        if protocol == "TCP" and self.tcp is not None:
            await self.tcp.open(arn, port)  # before the save: a port this machine cannot bind is refused
        try:
            await catalog.save(listener, default_rule)
        except BaseException:
            if self.tcp is not None:
                self.tcp.close(arn)
            raise
        self._notify()
        return {"Listeners": [listener.public()]}

    async def DeleteListener(self, ctx: RequestContext, params: DeleteListenerInputTypeDef) -> dict[str, Any]:
        catalog = self._catalog()
        found = self.listener(params["ListenerArn"], ctx.region)
        await catalog.remove([found.arn, *[r.arn for r in catalog.rules_of(found.arn)]])
        if self.tcp is not None:
            self.tcp.close(found.arn)
        self._notify()
        return {}

    async def DescribeListeners(self, ctx: RequestContext, params: DescribeListenersInputTypeDef) -> dict[str, Any]:
        catalog = self._catalog()
        arns, balancer = list(params.get("ListenerArns") or []), params.get("LoadBalancerArn")
        if not arns and not balancer:
            raise errors.validation("You must specify either listener ARNs or a load balancer ARN")
        if arns and balancer:
            raise errors.validation("Listener ARNs and a load balancer ARN cannot be specified at the same time")
        if balancer:
            if catalog.get(balancer, BALANCER, ctx.region) is None:
                raise errors.load_balancer_not_found()
            listeners = catalog.listeners_of(balancer)
        else:
            listeners = [self.listener(a, ctx.region) for a in dict.fromkeys(arns)]
        items, marker = page([lst.public() for lst in listeners], params.get("Marker"), params.get("PageSize"))
        return {"Listeners": items, "NextMarker": marker}

    async def ModifyListener(self, ctx: RequestContext, params: ModifyListenerInputTypeDef) -> dict[str, Any]:
        catalog = self._catalog()
        found = self.listener(params["ListenerArn"], ctx.region)
        balancer = catalog.get(found.doc["LoadBalancerArn"], BALANCER, ctx.region)
        assert balancer is not None
        given: dict[str, Any] = dict(params)
        merged = {**found.public(), **{k: v for k, v in given.items() if v is not None and k != "ListenerArn"}}
        protocol, port = self._protocol(balancer, merged)
        if port != found.doc["Port"] and any(lst.doc["Port"] == port for lst in catalog.listeners_of(balancer.arn)):
            raise errors.duplicate_listener(balancer.arn)
        doc = {**found.doc, "Port": port, "Protocol": protocol}
        changed = [found]
        if given.get("DefaultActions"):
            actions = check_actions(catalog, ctx.region, balancer.doc, [dict(a) for a in given["DefaultActions"]],
                                    "defaultActions")
            self._check_target_groups(balancer, actions)
            doc["DefaultActions"] = actions
            default = next(r for r in catalog.rules_of(found.arn) if r.doc["Priority"] == "default")
            changed.append(Resource(default.arn, RULE, default.region, {**default.doc, "Actions": actions}))
        if protocol == "HTTPS":
            doc["Certificates"] = [dict(c) for c in merged.get("Certificates") or []]
            doc["SslPolicy"] = merged.get("SslPolicy") or DEFAULT_SSL_POLICY
        else:
            doc.pop("Certificates", None)
            doc.pop("SslPolicy", None)
        if protocol != found.doc["Protocol"]:
            doc["_attributes"] = attributes.for_listener(protocol)
        changed[0] = Resource(found.arn, LISTENER, found.region, doc)
        tcp, moved_from = self.tcp, self.tcp.port_of(found.arn) if self.tcp is not None else None
        if tcp is not None and protocol == "TCP":
            await tcp.open(found.arn, port)  # the new port bound (or refused) before the save
        try:
            await catalog.save(*changed)
        except BaseException:
            if tcp is not None and protocol == "TCP" and moved_from != port:
                tcp.close(found.arn)
                if moved_from is not None:
                    await tcp.open(found.arn, moved_from)
            raise
        if tcp is not None and protocol != "TCP":
            tcp.close(found.arn)
        self._notify()
        return {"Listeners": [changed[0].public()]}

    async def DescribeListenerAttributes(self, ctx: RequestContext,
                                         params: DescribeListenerAttributesInputTypeDef) -> dict[str, Any]:
        return {"Attributes": attributes.listing(self.listener(params["ListenerArn"], ctx.region).attributes)}

    async def ModifyListenerAttributes(self, ctx: RequestContext,
                                       params: ModifyListenerAttributesInputTypeDef) -> dict[str, Any]:
        found = self.listener(params["ListenerArn"], ctx.region)
        changed = attributes.modify(found.attributes, [dict(a) for a in params["Attributes"]], "Listener")
        await self._catalog().save(Resource(found.arn, LISTENER, found.region, {**found.doc, "_attributes": changed}),
                                   grows=False)
        return {"Attributes": attributes.listing(changed)}

    async def DescribeListenerCertificates(self, ctx: RequestContext,
                                           params: DescribeListenerCertificatesInputTypeDef) -> dict[str, Any]:
        found = self.listener(params["ListenerArn"], ctx.region)
        certificates = found.doc.get("Certificates") or []
        extra = found.doc.get("_extra_certificates") or []
        return {"Certificates": [{**c, "IsDefault": True} for c in certificates] +
                                [{**c, "IsDefault": False} for c in extra]}

    async def AddListenerCertificates(self, ctx: RequestContext,
                                      params: AddListenerCertificatesInputTypeDef) -> dict[str, Any]:
        found = self.listener(params["ListenerArn"], ctx.region)
        extra = list(found.doc.get("_extra_certificates") or [])
        for certificate in params["Certificates"]:
            if not any(c["CertificateArn"] == certificate["CertificateArn"] for c in extra):
                extra.append({"CertificateArn": certificate["CertificateArn"]})
        await self._catalog().save(Resource(found.arn, LISTENER, found.region, {**found.doc, "_extra_certificates": extra}))
        return {"Certificates": extra}

    async def RemoveListenerCertificates(self, ctx: RequestContext,
                                         params: RemoveListenerCertificatesInputTypeDef) -> dict[str, Any]:
        found = self.listener(params["ListenerArn"], ctx.region)
        gone = {c["CertificateArn"] for c in params["Certificates"]}
        if any(c["CertificateArn"] in gone for c in found.doc.get("Certificates") or []):
            raise errors.operation_not_permitted("The default certificate of a listener cannot be removed")
        extra = [c for c in found.doc.get("_extra_certificates") or [] if c["CertificateArn"] not in gone]
        await self._catalog().save(Resource(found.arn, LISTENER, found.region, {**found.doc, "_extra_certificates": extra}),
                                   grows=False)
        return {}

    # -- rules -------------------------------------------------------------------------------------------
    def _check_priority(self, listener_arn: str, priority: int, rule_arn: str | None = None) -> None:
        if not 1 <= priority <= MAX_PRIORITY:
            raise errors.validation(f"1 validation error detected: Value '{priority}' at 'priority' failed to satisfy "
                                    f"constraint: Member must have value less than or equal to {MAX_PRIORITY}")
        for rule in self._catalog().rules_of(listener_arn):
            if rule.arn != rule_arn and rule.doc["Priority"] == str(priority):
                raise errors.priority_in_use()

    async def CreateRule(self, ctx: RequestContext, params: CreateRuleInputTypeDef) -> dict[str, Any]:
        catalog = self._catalog()
        listener = self.listener(params["ListenerArn"], ctx.region)
        balancer = catalog.get(listener.doc["LoadBalancerArn"], BALANCER, ctx.region)
        assert balancer is not None
        priority = int(params["Priority"])
        self._check_priority(listener.arn, priority)
        conditions = check_conditions([dict(c) for c in params["Conditions"]])
        actions = check_actions(catalog, ctx.region, balancer.doc, [dict(a) for a in params["Actions"]])
        self._check_target_groups(balancer, actions)
        tags = check_tags([dict(t) for t in params.get("Tags") or []])
        arn = listener.arn.replace(":listener/", ":listener-rule/", 1) + "/" + new_id()
        rule = Resource(arn, RULE, ctx.region, {
            "RuleArn": arn, "Priority": str(priority), "Conditions": conditions, "Actions": actions,
            "IsDefault": False, "_ListenerArn": listener.arn, "_LoadBalancerArn": balancer.arn, "_tags": tags})
        await catalog.save(rule)
        self._notify()
        return {"Rules": [rule.public()]}

    async def DeleteRule(self, ctx: RequestContext, params: DeleteRuleInputTypeDef) -> dict[str, Any]:
        found = self.rule(params["RuleArn"], ctx.region)
        if found.doc["IsDefault"]:
            raise errors.operation_not_permitted("The default rule cannot be deleted")
        await self._catalog().remove([found.arn])
        self._notify()
        return {}

    async def DescribeRules(self, ctx: RequestContext, params: DescribeRulesInputTypeDef) -> dict[str, Any]:
        arns, listener = list(params.get("RuleArns") or []), params.get("ListenerArn")
        if not arns and not listener:
            raise errors.validation("You must specify either listener rule ARNs or a listener ARN")
        if arns and listener:
            raise errors.validation("Listener rule ARNs and a listener ARN cannot be specified at the same time")
        if listener:
            rules = sorted(self._catalog().rules_of(self.listener(listener, ctx.region).arn), key=rule_order)
        else:
            rules = [self.rule(a, ctx.region) for a in dict.fromkeys(arns)]
        items, marker = page([r.public() for r in rules], params.get("Marker"), params.get("PageSize"))
        return {"Rules": items, "NextMarker": marker}

    async def ModifyRule(self, ctx: RequestContext, params: ModifyRuleInputTypeDef) -> dict[str, Any]:
        catalog = self._catalog()
        found = self.rule(params["RuleArn"], ctx.region)
        balancer = catalog.get(found.doc["_LoadBalancerArn"], BALANCER, ctx.region)
        assert balancer is not None
        doc = dict(found.doc)
        if params.get("Conditions") is not None:
            if found.doc["IsDefault"] and params.get("Conditions"):
                raise errors.operation_not_permitted("The default rule cannot have conditions")
            doc["Conditions"] = check_conditions([dict(c) for c in params.get("Conditions") or []])
        if params.get("Actions"):
            doc["Actions"] = check_actions(catalog, ctx.region, balancer.doc, [dict(a) for a in params["Actions"]])
            self._check_target_groups(balancer, doc["Actions"])
        changed = [Resource(found.arn, RULE, found.region, doc)]
        if found.doc["IsDefault"] and params.get("Actions"):
            listener = self.listener(found.doc["_ListenerArn"], ctx.region)
            changed.append(Resource(listener.arn, LISTENER, listener.region,
                                    {**listener.doc, "DefaultActions": doc["Actions"]}))
        await catalog.save(*changed)
        self._notify()
        return {"Rules": [changed[0].public()]}

    async def SetRulePriorities(self, ctx: RequestContext, params: SetRulePrioritiesInputTypeDef) -> dict[str, Any]:
        catalog = self._catalog()
        given = [(self.rule(p["RuleArn"], ctx.region), int(p["Priority"])) for p in params["RulePriorities"]]
        seen: set[tuple[str, int]] = set()
        for rule, priority in given:
            if rule.doc["IsDefault"]:
                raise errors.operation_not_permitted("The default rule's priority cannot be changed")
            key = (rule.doc["_ListenerArn"], priority)
            if key in seen:
                raise errors.validation(f"Priority '{priority}' was provided multiple times")
            seen.add(key)
        moving = {rule.arn for rule, _ in given}
        for rule, priority in given:
            for other in catalog.rules_of(rule.doc["_ListenerArn"]):
                if other.arn not in moving and other.doc["Priority"] == str(priority):
                    raise errors.priority_in_use()
            if not 1 <= priority <= MAX_PRIORITY:
                self._check_priority(rule.doc["_ListenerArn"], priority, rule.arn)
        changed = [Resource(r.arn, RULE, r.region, {**r.doc, "Priority": str(p)}) for r, p in given]
        await catalog.save(*changed, grows=False)
        self._notify()
        return {"Rules": [r.public() for r in changed]}
