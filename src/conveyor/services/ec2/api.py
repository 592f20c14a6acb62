"""EC2 (the ec2 protocol): launch templates, instances that are local processes, and the default VPC.

- Launch templates and versions (conveyor.services.ec2.templates).
- RunInstances / DescribeInstances / DescribeInstanceStatus / Terminate / Stop / StartInstances,
  GetConsoleOutput: each instance runs its user data as a process on this host, as the server's user
  (conveyor.services.ec2.instances, .machine), with its instance metadata (conveyor.services.ec2.metadata).
- CreateTags / DeleteTags / DescribeTags on instances and launch templates.
- DescribeImages, DescribeVpcs, DescribeSubnets, DescribeSecurityGroups, DescribeAvailabilityZones answer
  the default VPC (conveyor.services.ec2.network) and the VPCs, subnets and security groups made by the API
  (conveyor.services.ec2.vpcs).
- Auto Scaling launches and watches instances through conveyor.ports.Instances.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from conveyor.authz import Denial, Need
from conveyor.ports import InstanceView, LaunchTemplateRef, Ports
from conveyor.services.base import Environment, Service
from conveyor.services.ec2 import errors, iam, network
from conveyor.services.ec2.filters import Extractor, check, field, matches, page
from conveyor.services.ec2.instances import Fleet, Instance, base_environment
from conveyor.services.ec2.launch import build, merged
from conveyor.services.ec2.machine import console_output
from conveyor.services.ec2.metadata import PREFIX, MetadataService
from conveyor.services.ec2.store import Ec2Store
from conveyor.services.ec2.templates import Templates
from conveyor.services.ec2.vpcs import Networks
from conveyor.wire import Caller, RequestContext, ServiceError

if TYPE_CHECKING:
    from botocore.model import OperationModel
    from mypy_boto3_ec2.type_defs import (
        ClientCreateTagsRequestTypeDef,
        ClientDeleteTagsRequestTypeDef,
        CreateLaunchTemplateRequestTypeDef,
        CreateLaunchTemplateVersionRequestTypeDef,
        DeleteLaunchTemplateRequestTypeDef,
        DeleteLaunchTemplateVersionsRequestTypeDef,
        DescribeAvailabilityZonesRequestTypeDef,
        DescribeImagesRequestTypeDef,
        DescribeInstancesRequestTypeDef,
        DescribeInstanceStatusRequestTypeDef,
        DescribeLaunchTemplatesRequestTypeDef,
        DescribeLaunchTemplateVersionsRequestTypeDef,
        DescribeSecurityGroupsRequestTypeDef,
        DescribeSubnetsRequestTypeDef,
        DescribeTagsRequestTypeDef,
        DescribeVpcsRequestTypeDef,
        GetConsoleOutputRequestTypeDef,
        ModifyLaunchTemplateRequestTypeDef,
        RunInstancesRequestTypeDef,
        StartInstancesRequestTypeDef,
        StopInstancesRequestTypeDef,
        TerminateInstancesRequestTypeDef,
    )

INSTANCE_FILTERS: dict[str, Extractor] = {
    "instance-id": field("InstanceId"), "instance-state-name": field("State", "Name"),
    "instance-state-code": field("State", "Code"), "image-id": field("ImageId"),
    "instance-type": field("InstanceType"), "availability-zone": field("Placement", "AvailabilityZone"),
    "subnet-id": field("SubnetId"), "vpc-id": field("VpcId"), "private-ip-address": field("PrivateIpAddress"),
    "private-dns-name": field("PrivateDnsName"), "iam-instance-profile.arn": field("IamInstanceProfile", "Arn"),
    "launch-index": field("AmiLaunchIndex"), "reservation-id": field("_reservation"),
}
TEMPLATE_FILTERS: dict[str, Extractor] = {
    "launch-template-name": field("LaunchTemplateName"), "create-time": field("CreateTime"),
}
TAG_FILTERS: dict[str, Extractor] = {
    "key": field("Key"), "value": field("Value"), "resource-id": field("ResourceId"),
    "resource-type": field("ResourceType"),
}


def _dry(params: Mapping[str, Any]) -> None:
    if params.get("DryRun"):
        raise errors.dry_run()


class Ec2Service(Service):
    name = "ec2"
    other_accounts_own_nothing = True  # another account's caller: in its own account, empty here
    # Its own account has no instances or launch templates (an instance id of another account does not exist
    # in the caller's: https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html); regions,
    # zones, instance types and images are everyone's.
    other_account_names = (("InstanceIds", lambda ctx, ids: errors.instance_not_found(list(ids))),
                           ("InstanceId", lambda ctx, one: errors.instance_not_found([one])),
                           ("LaunchTemplateId", lambda ctx, one: errors.template_not_found_by_id(one)),
                           ("LaunchTemplateName", lambda ctx, name: errors.template_not_found_by_name(name)))
    other_account_creates = frozenset({"RunInstances", "CreateLaunchTemplate"})
    account_free_operations = frozenset({"DescribeRegions", "DescribeAvailabilityZones", "DescribeInstanceTypes",
                                         "DescribeInstanceTypeOfferings", "DescribeImages"})

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.store: Ec2Store | None = None
        self.templates: Templates | None = None
        self.fleet: Fleet | None = None
        self.data_plane = MetadataService(lambda: self.fleet, self.ports)
        self.networks = Networks(self._store, self.config.account_id)
        self.operation_groups = (self.networks,)

    def _store(self) -> Ec2Store:
        if self.store is None:
            raise RuntimeError("EC2 is not started")
        return self.store

    def provide(self, ports: Ports) -> None:
        ports.instances = self
        ports.vpcs = self

    def vpc_exists(self, region: str, vpc_id: str) -> bool:
        return any(v["VpcId"] == vpc_id for v in self.networks.vpcs(region))

    async def start(self) -> None:
        directory = self.config.service_dir("ec2")
        self.store = Ec2Store(directory / "ec2.db", self.env.disk)
        self.templates = Templates(self.store, self.clock, self.config.account_id)
        self.templates.load()
        self.networks.load()
        self.fleet = Fleet(self.store, self.clock, self.config.account_id, directory / "instances", self._environment)
        await self.fleet.load()

    async def stop(self) -> None:
        if self.fleet is not None:
            await self.fleet.halt_all()
        if self.store is not None:
            self.store.close()
            self.store = None

    async def reset(self) -> None:
        templates, fleet = self._parts()
        await fleet.wipe()
        templates.clear()
        self.networks.clear()

    def health(self) -> dict[str, Any]:
        return {"status": "running" if self.store is not None else "stopped",
                "instances": sum(1 for i in self.fleet.by_id.values() if i.state == "running") if self.fleet else 0}

    def _parts(self) -> tuple[Templates, Fleet]:
        if self.templates is None or self.fleet is None:
            raise RuntimeError("EC2 is not started")
        return self.templates, self.fleet

    def _environment(self, instance: Instance) -> dict[str, str]:
        """An instance's process: the server's environment without its credentials, this server as the AWS
        endpoint, the instance's region, and its metadata service (where SDKs find credentials)."""
        endpoint = self.env.local_endpoint()
        env = {**base_environment(), "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": instance.region,
               "AWS_DEFAULT_REGION": instance.region, "PYTHONUNBUFFERED": "1",
               # The host's own ~/.aws profiles are not the instance's.
               "AWS_CONFIG_FILE": str(self.config.data_dir / "ec2" / "no-aws-config"),
               "AWS_SHARED_CREDENTIALS_FILE": str(self.config.data_dir / "ec2" / "no-aws-credentials"),
               "AWS_METADATA_SERVICE_TIMEOUT": "5", "AWS_METADATA_SERVICE_NUM_ATTEMPTS": "3"}
        if instance.doc["MetadataOptions"].get("HttpEndpoint") != "disabled":
            env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = f"{endpoint}{PREFIX}{instance.instance_id}/"
        return env

    # -- IAM (conveyor.services.ec2.iam) ----------------------------------------------------------------
    def iam_requests(self, ctx: RequestContext, operation: OperationModel, params: dict[str, Any]) -> list[Need]:
        return iam.needs(ctx, operation.name, params, self.templates, self.ports.roles)

    def access_denied(self, ctx: RequestContext, denial: Denial) -> ServiceError:
        return iam.access_denied(denial)

    def _caller(self, ctx: RequestContext) -> str:
        return (ctx.principal or Caller.root(ctx.account_id)).arn

    # -- launch templates ------------------------------------------------------------------------------
    async def CreateLaunchTemplate(self, ctx: RequestContext, params: CreateLaunchTemplateRequestTypeDef,
                                   ) -> dict[str, Any]:
        _dry(params)
        templates, _ = self._parts()
        tags = [t for spec in params.get("TagSpecifications") or [] if spec.get("ResourceType") == "launch-template"
                for t in spec.get("Tags") or []]
        template = await templates.create(ctx.region, self._caller(ctx), params["LaunchTemplateName"],
                                          dict(params["LaunchTemplateData"]), params.get("VersionDescription"),
                                          [{"Key": str(t.get("Key")), "Value": str(t.get("Value", ""))} for t in tags])
        return {"LaunchTemplate": template.describe()}

    async def CreateLaunchTemplateVersion(self, ctx: RequestContext,
                                          params: CreateLaunchTemplateVersionRequestTypeDef) -> dict[str, Any]:
        _dry(params)
        templates, _ = self._parts()
        template, number = await templates.create_version(
            ctx.region, params.get("LaunchTemplateId"), params.get("LaunchTemplateName"),
            dict(params["LaunchTemplateData"]), params.get("SourceVersion"), params.get("VersionDescription"))
        return {"LaunchTemplateVersion": template.version(number)}

    async def DescribeLaunchTemplates(self, ctx: RequestContext, params: DescribeLaunchTemplatesRequestTypeDef,
                                      ) -> dict[str, Any]:
        _dry(params)
        templates, _ = self._parts()
        filters = [dict(f) for f in params.get("Filters") or []]
        check(filters, TEMPLATE_FILTERS)
        ids, names = params.get("LaunchTemplateIds") or [], params.get("LaunchTemplateNames") or []
        found = [templates.find(ctx.region, i, None) for i in ids] + [templates.find(ctx.region, None, n) for n in names]
        if not ids and not names:
            found = sorted((t for t in templates.by_id.values() if t.region == ctx.region), key=lambda t: t.name)
        docs = [d for d in (t.describe() for t in found) if matches(d, filters, TEMPLATE_FILTERS)]
        items, token = page(docs, params.get("NextToken"), params.get("MaxResults"))
        return {"LaunchTemplates": items, "NextToken": token}

    async def DescribeLaunchTemplateVersions(self, ctx: RequestContext,
                                             params: DescribeLaunchTemplateVersionsRequestTypeDef) -> dict[str, Any]:
        _dry(params)
        templates, _ = self._parts()
        template = templates.find(ctx.region, params.get("LaunchTemplateId"), params.get("LaunchTemplateName"))
        asked = params.get("Versions")
        numbers = [template.number(v) for v in asked] if asked else sorted(template.versions, reverse=True)
        low, high = params.get("MinVersion"), params.get("MaxVersion")
        numbers = [n for n in numbers if (low is None or n >= int(low)) and (high is None or n <= int(high))]
        items, token = page([template.version(n) for n in numbers], params.get("NextToken"), params.get("MaxResults"))
        return {"LaunchTemplateVersions": items, "NextToken": token}

    async def ModifyLaunchTemplate(self, ctx: RequestContext, params: ModifyLaunchTemplateRequestTypeDef,
                                   ) -> dict[str, Any]:
        _dry(params)
        templates, _ = self._parts()
        template = templates.find(ctx.region, params.get("LaunchTemplateId"), params.get("LaunchTemplateName"))
        if params.get("DefaultVersion"):
            template = await templates.set_default(ctx.region, template.template_id, None, params["DefaultVersion"])
        return {"LaunchTemplate": template.describe()}

    async def DeleteLaunchTemplate(self, ctx: RequestContext, params: DeleteLaunchTemplateRequestTypeDef,
                                   ) -> dict[str, Any]:
        _dry(params)
        templates, _ = self._parts()
        template = await templates.delete(ctx.region, params.get("LaunchTemplateId"), params.get("LaunchTemplateName"))
        return {"LaunchTemplate": template.describe()}

    async def DeleteLaunchTemplateVersions(self, ctx: RequestContext,
                                           params: DeleteLaunchTemplateVersionsRequestTypeDef) -> dict[str, Any]:
        _dry(params)
        templates, _ = self._parts()
        ok, refused = await templates.delete_versions(ctx.region, params.get("LaunchTemplateId"),
                                                      params.get("LaunchTemplateName"), list(params["Versions"]))
        return {"SuccessfullyDeletedLaunchTemplateVersions": ok,
                "UnsuccessfullyDeletedLaunchTemplateVersions": refused}

    # -- instances -------------------------------------------------------------------------------------
    async def RunInstances(self, ctx: RequestContext, params: RunInstancesRequestTypeDef) -> dict[str, Any]:
        templates, fleet = self._parts()
        low, high = params["MinCount"], params["MaxCount"]
        if low < 1 or high < low:
            raise errors.invalid_parameter(f"Value ({low if low < 1 else high}) for parameter "
                                           f"{'minCount' if low < 1 else 'maxCount'} is invalid. Expected a value "
                                           f"{'greater than 0' if low < 1 else 'greater than or equal to minCount'}.")
        given, ref = merged(dict(params), templates, ctx.region)
        spec = build(given, ref, self.ports.roles, ctx.account_id, ctx.region, user_data_encoded=True)
        _dry(params)
        reservation, made = await fleet.run(ctx.region, spec, high, low, self._caller(ctx))
        return {"ReservationId": reservation, "OwnerId": ctx.account_id, "Groups": [],
                "Instances": [self._describe(i) for i in made]}

    def _describe(self, instance: Instance) -> dict[str, Any]:
        return dict(instance.doc)

    def _reservations(self, instances: list[Instance]) -> list[dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for instance in instances:
            reservation = instance.private["reservation"]
            entry = out.setdefault(reservation, {"ReservationId": reservation, "OwnerId": self.config.account_id,
                                                 "Groups": [], "Instances": []})
            entry["Instances"].append(self._describe(instance))
        return list(out.values())

    def _selected(self, region: str, ids: list[str], filters: list[dict[str, Any]]) -> list[Instance]:
        _, fleet = self._parts()
        check(filters, INSTANCE_FILTERS)
        chosen = fleet.named(region, ids) if ids else fleet.visible(region)
        return [i for i in chosen if matches({**i.doc, "_reservation": i.private["reservation"]}, filters,
                                             INSTANCE_FILTERS)]

    async def DescribeInstances(self, ctx: RequestContext, params: DescribeInstancesRequestTypeDef) -> dict[str, Any]:
        _dry(params)
        ids = list(params.get("InstanceIds") or [])
        if ids and params.get("MaxResults") is not None:
            raise errors.invalid_combination("The parameter instancesSet cannot be used with the parameter maxResults")
        chosen = self._selected(ctx.region, ids, [dict(f) for f in params.get("Filters") or []])
        items, token = page(chosen, params.get("NextToken"), params.get("MaxResults"))
        return {"Reservations": self._reservations(items), "NextToken": token}

    async def DescribeInstanceStatus(self, ctx: RequestContext, params: DescribeInstanceStatusRequestTypeDef,
                                     ) -> dict[str, Any]:
        _dry(params)
        chosen = self._selected(ctx.region, list(params.get("InstanceIds") or []), [])
        if not params.get("IncludeAllInstances"):  # by default, running instances only
            chosen = [i for i in chosen if i.state == "running"]
        statuses = []
        for instance in chosen:
            ok = instance.state == "running"
            check_status = {"Status": "ok" if ok else "not-applicable",
                            "Details": [{"Name": "reachability", "Status": "passed"}] if ok else []}
            zone = instance.doc["Placement"]["AvailabilityZone"]
            statuses.append({"InstanceId": instance.instance_id, "AvailabilityZone": zone,
                             "AvailabilityZoneId": network.zone_id(instance.region, zone),
                             "InstanceState": dict(instance.doc["State"]), "InstanceStatus": check_status,
                             "SystemStatus": check_status, "Events": []})
        items, token = page(statuses, params.get("NextToken"), params.get("MaxResults"))
        return {"InstanceStatuses": items, "NextToken": token}

    async def TerminateInstances(self, ctx: RequestContext, params: TerminateInstancesRequestTypeDef) -> dict[str, Any]:
        _, fleet = self._parts()
        instances = fleet.named(ctx.region, list(params["InstanceIds"]))
        _dry(params)
        return {"TerminatingInstances": await fleet.terminate(instances)}

    async def StopInstances(self, ctx: RequestContext, params: StopInstancesRequestTypeDef) -> dict[str, Any]:
        _, fleet = self._parts()
        instances = fleet.named(ctx.region, list(params["InstanceIds"]))
        if params.get("Hibernate"):
            raise errors.unsupported("Conveyor's instances cannot hibernate.")
        _dry(params)
        return {"StoppingInstances": await fleet.stop(instances)}

    async def StartInstances(self, ctx: RequestContext, params: StartInstancesRequestTypeDef) -> dict[str, Any]:
        _, fleet = self._parts()
        instances = fleet.named(ctx.region, list(params["InstanceIds"]))
        _dry(params)
        return {"StartingInstances": await fleet.start(instances)}

    async def GetConsoleOutput(self, ctx: RequestContext, params: GetConsoleOutputRequestTypeDef) -> dict[str, Any]:
        _, fleet = self._parts()
        instance = fleet.named(ctx.region, [params["InstanceId"]])[0]
        _dry(params)
        output = console_output(fleet.root / instance.instance_id)
        return {"InstanceId": instance.instance_id, "Timestamp": self.clock.now(),
                "Output": base64.b64encode(output).decode() if output else None}

    # -- tags ------------------------------------------------------------------------------------------
    async def _tag(self, region: str, resources: list[str], tags: dict[str, str | None]) -> None:
        templates, fleet = self._parts()
        instance_ids = [r for r in resources if r.startswith("i-")]
        template_ids = [r for r in resources if r.startswith("lt-")]
        others = [r for r in resources if r not in instance_ids and r not in template_ids]
        if others:
            raise errors.invalid_parameter(f"Conveyor tags instances and launch templates only, not {others[0]}.")
        instances = fleet.named(region, instance_ids)
        found = [templates.find(region, t, None) for t in template_ids]
        for key in tags:
            if key.startswith("aws:"):
                raise errors.invalid_parameter("Tag keys starting with 'aws:' are reserved for internal use")
        await fleet.set_tags(instances, tags)
        for template in found:
            current = {t["Key"]: t["Value"] for t in template.doc.get("Tags") or []}
            for key, value in tags.items():
                if value is None:
                    current.pop(key, None)
                else:
                    current[key] = value
            doc = {**template.doc, "Tags": [{"Key": k, "Value": v} for k, v in current.items()]}
            await templates.store.put_template(template.template_id, region, template.name, {**doc, "Name": template.name})
            template.doc = doc

    async def CreateTags(self, ctx: RequestContext, params: ClientCreateTagsRequestTypeDef) -> dict[str, Any]:
        _dry(params)
        await self._tag(ctx.region, list(params["Resources"]),
                        {errors.tag_key(t): t.get("Value", "") for t in params["Tags"]})
        return {}

    async def DeleteTags(self, ctx: RequestContext, params: ClientDeleteTagsRequestTypeDef) -> dict[str, Any]:
        _dry(params)
        templates, fleet = self._parts()
        doomed: dict[str, str | None] = {}
        for tag in params.get("Tags") or []:
            doomed[errors.tag_key(tag)] = None
        if not params.get("Tags"):  # no tags named: all of them (aws: tags excepted)
            for resource in params["Resources"]:
                instance = fleet.get(ctx.region, resource)
                keys = [t["Key"] for t in (instance.doc.get("Tags") or [])] if instance is not None else []
                doomed.update({k: None for k in keys if not k.startswith("aws:")})
        await self._tag(ctx.region, list(params["Resources"]), doomed)
        return {}

    async def DescribeTags(self, ctx: RequestContext, params: DescribeTagsRequestTypeDef) -> dict[str, Any]:
        _dry(params)
        templates, fleet = self._parts()
        filters = [dict(f) for f in params.get("Filters") or []]
        check(filters, TAG_FILTERS)
        rows = [{"ResourceId": i.instance_id, "ResourceType": "instance", **t}
                for i in fleet.visible(ctx.region) for t in i.doc.get("Tags") or []]
        rows += [{"ResourceId": t.template_id, "ResourceType": "launch-template", **tag}
                 for t in templates.by_id.values() if t.region == ctx.region for tag in t.doc.get("Tags") or []]
        rows = [r for r in rows if matches(r, filters, TAG_FILTERS)]
        items, token = page(rows, params.get("NextToken"), params.get("MaxResults"))
        return {"Tags": items, "NextToken": token}

    # -- the default VPC and images ------------------------------------------------------------------
    def _described(self, docs: list[dict[str, Any]], key: str, ids: list[str], filters: Any,
                   known: dict[str, Extractor], missing: Callable[[str], Any]) -> list[dict[str, Any]]:
        check(filters, known)
        for wanted in ids:
            if not any(d[key] == wanted for d in docs):
                raise missing(wanted)
        return [d for d in docs if (not ids or d[key] in ids) and matches(d, [dict(f) for f in filters or []], known)]

    async def DescribeVpcs(self, ctx: RequestContext, params: DescribeVpcsRequestTypeDef) -> dict[str, Any]:
        _dry(params)
        docs = self._described(self.networks.vpcs(ctx.region), "VpcId", list(params.get("VpcIds") or []),
                               params.get("Filters"), network.VPC_FILTERS, errors.vpc_not_found)
        return {"Vpcs": docs}

    async def DescribeSubnets(self, ctx: RequestContext, params: DescribeSubnetsRequestTypeDef) -> dict[str, Any]:
        _dry(params)
        docs = self._described(self.networks.subnets(ctx.region), "SubnetId",
                               list(params.get("SubnetIds") or []), params.get("Filters"), network.SUBNET_FILTERS,
                               errors.subnet_not_found)
        return {"Subnets": docs}

    async def DescribeSecurityGroups(self, ctx: RequestContext, params: DescribeSecurityGroupsRequestTypeDef,
                                     ) -> dict[str, Any]:
        _dry(params)
        group = network.security_group(ctx.account_id, ctx.region)
        groups = self.networks.security_groups(ctx.region)
        in_default = [g for g in groups if g["VpcId"] == group["VpcId"]]
        for name in params.get("GroupNames") or []:
            if not any(g["GroupName"] == name for g in in_default):
                raise errors.group_not_found(name, group["VpcId"])
        if params.get("GroupNames"):  # names name groups of the default VPC
            groups = [g for g in in_default if g["GroupName"] in (params.get("GroupNames") or [])]
        docs = self._described(groups, "GroupId", list(params.get("GroupIds") or []), params.get("Filters"),
                               network.GROUP_FILTERS, errors.group_id_not_found)
        return {"SecurityGroups": docs}

    async def DescribeAvailabilityZones(self, ctx: RequestContext, params: DescribeAvailabilityZonesRequestTypeDef,
                                        ) -> dict[str, Any]:
        _dry(params)
        zones = network.availability_zones(ctx.region)
        names = list(params.get("ZoneNames") or [])
        for name in names:
            if name not in [z["ZoneName"] for z in zones]:
                raise errors.invalid_parameter(f"The zone '{name}' does not exist.")
        return {"AvailabilityZones": self._described(zones, "ZoneName", names, params.get("Filters"),
                                                     network.ZONE_FILTERS, errors.invalid_parameter)}

    async def DescribeImages(self, ctx: RequestContext, params: DescribeImagesRequestTypeDef) -> dict[str, Any]:
        """Any `ami-` id is an image (of this host); without ids, the images this region's instances and
        launch templates name."""
        _dry(params)
        templates, fleet = self._parts()
        ids = list(params.get("ImageIds") or [])
        for image_id in ids:
            if not image_id.startswith("ami-"):
                raise errors.ami_malformed(image_id)
        if not ids:
            named = {i.doc["ImageId"] for i in fleet.visible(ctx.region)}
            named |= {v["Data"].get("ImageId") for t in templates.by_id.values() if t.region == ctx.region
                      for v in t.versions.values() if v["Data"].get("ImageId")}
            ids = sorted(named)
        docs = [network.image(ctx.account_id, ctx.region, i, 0.0) for i in ids]
        filters = [dict(f) for f in params.get("Filters") or []]
        check(filters, network.IMAGE_FILTERS)
        return {"Images": [d for d in docs if matches(d, filters, network.IMAGE_FILTERS)]}

    # -- conveyor.ports.Instances (Auto Scaling) ------------------------------------------------------
    def resolve_template(self, region: str, ref: LaunchTemplateRef) -> LaunchTemplateRef:
        templates, _ = self._parts()
        template, number = templates.resolve(region, ref)
        return LaunchTemplateRef(template.template_id, template.name, str(number))

    async def launch(self, region: str, ref: LaunchTemplateRef, zone: str, tags: Mapping[str, str]) -> InstanceView:
        templates, fleet = self._parts()
        if fleet.closing:
            raise RuntimeError("EC2 is stopping")
        params = {"LaunchTemplate": {"LaunchTemplateId": ref.template_id, "Version": ref.version},
                  "Placement": {"AvailabilityZone": zone}}
        given, resolved = merged(params, templates, region)
        spec = build(given, resolved, self.ports.roles, self.config.account_id, region, user_data_encoded=True)
        spec.tags = [*spec.tags, *({"Key": k, "Value": v} for k, v in tags.items())]
        _, made = await fleet.run(region, spec, 1, 1, "autoscaling.amazonaws.com")
        return made[0].view()

    async def terminate(self, region: str, instance_id: str) -> None:
        _, fleet = self._parts()
        instance = fleet.get(region, instance_id)
        if instance is not None:
            await fleet.terminate([instance])

    def instance(self, region: str, instance_id: str) -> InstanceView | None:
        _, fleet = self._parts()
        found = fleet.get(region, instance_id)
        return found.view() if found is not None else None

    def watch(self, listener: Callable[[InstanceView], None]) -> None:
        _, fleet = self._parts()
        fleet.listeners.append(listener)

    def zones(self, region: str) -> list[str]:
        return network.zones(region)

    def subnet_zones(self, region: str) -> dict[str, str]:
        return {s["SubnetId"]: s["AvailabilityZone"] for s in self.networks.subnets(region)}

    def kill(self, instance_id: str) -> bool:
        _, fleet = self._parts()
        return fleet.kill(instance_id)

    def status(self) -> dict[str, Any]:
        if self.fleet is None:
            return {}
        return {"instances": [{"id": i.instance_id, "region": i.region, "state": i.state,
                               "pid": i.machine.pid if i.machine else None}
                              for i in self.fleet.by_id.values() if i.state != "terminated"]}
