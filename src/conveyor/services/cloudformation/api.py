"""CloudFormation (query): stacks from JSON or YAML templates, made through the served APIs themselves.

- Stack operations run on the server after the request is answered; clients poll DescribeStacks and
  DescribeStackEvents (conveyor.services.cloudformation.engine). Stacks, events and change sets are durable
  (conveyor.services.cloudformation.store); an operation interrupted by a crash resumes on restart.
- Resources are created, updated and deleted by calling each service's API in-process, signed as the
  account's root user (conveyor.ports.ApiCaller): the service's validation and errors are the resource's.
- Change sets are what `aws cloudformation deploy` uses: CreateChangeSet, DescribeChangeSet,
  ExecuteChangeSet, DeleteChangeSet, ListChangeSets.
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from conveyor import ids
from conveyor.services.base import Environment, Service
from conveyor.services.cloudformation import changesets, errors, graph, shapes, template
from conveyor.services.cloudformation.engine import StackEngine
from conveyor.services.cloudformation.resources import TYPES
from conveyor.services.cloudformation.store import StackStore
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from botocore.model import OperationModel
    from mypy_boto3_cloudformation.type_defs import (
        CreateChangeSetInputTypeDef,
        CreateStackInputTypeDef,
        DeleteChangeSetInputTypeDef,
        DeleteStackInputTypeDef,
        DescribeChangeSetInputTypeDef,
        DescribeStackEventsInputTypeDef,
        DescribeStackResourceInputTypeDef,
        DescribeStackResourcesInputTypeDef,
        DescribeStacksInputTypeDef,
        ExecuteChangeSetInputTypeDef,
        GetTemplateInputTypeDef,
        GetTemplateSummaryInputTypeDef,
        ListChangeSetsInputTypeDef,
        ListExportsInputTypeDef,
        ListImportsInputTypeDef,
        ListStackResourcesInputTypeDef,
        ListStacksInputTypeDef,
        UpdateStackInputTypeDef,
        ValidateTemplateInputTypeDef,
    )

UPDATABLE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE")


# Stack settings with no effect here yet (no service role, stack policies, SNS notifications or timeouts):
# refused rather than silently ignored.
_NOT_HONOURED = ("RoleARN", "StackPolicyBody", "StackPolicyURL", "StackPolicyDuringUpdateBody",
                 "StackPolicyDuringUpdateURL", "NotificationARNs", "TimeoutInMinutes")


class CloudFormationService(Service):
    name = "cloudformation"
    other_accounts_own_nothing = True  # another account's caller: in its own account, empty here
    # A stack name is a stack of its own account: "Stack with id NAME does not exist", as DescribeStacks
    # answers for any missing stack (errors.no_stack); DeleteStack of a missing stack succeeds, as on AWS.
    other_account_names = (("StackName", lambda ctx, name: errors.no_stack(name)),)
    other_account_creates = frozenset({"CreateStack", "CreateChangeSet"})
    account_free_operations = frozenset({"ValidateTemplate"})

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.store: StackStore | None = None
        self.engine: StackEngine | None = None
        self.change_sets: dict[str, dict[str, Any]] = {}

    async def start(self) -> None:
        self.store = StackStore(self.config.service_dir("cloudformation") / "cloudformation.db", self.env.disk)
        self.engine = StackEngine(self.store, self.clock, self.config.account_id, lambda: self.ports.api,
                                  self._zones)
        self.engine.load()
        self.change_sets = {cs["ChangeSetId"]: cs for cs in self.store.change_sets()}
        self.engine.resume()

    async def check(self, ctx: RequestContext, operation: OperationModel, params: dict[str, Any]) -> None:
        """Settings of a stack operation Conveyor would otherwise accept and not honour are refused by name."""
        unhonoured = [name for name in _NOT_HONOURED if params.get(name)]
        if params.get("OnFailure") == "DELETE":
            unhonoured.append("OnFailure=DELETE")
        if unhonoured:
            raise errors.validation(f"Conveyor does not honour {', '.join(unhonoured)} yet; leave "
                                    f"{'it' if len(unhonoured) == 1 else 'them'} out")

    def _zones(self, region: str) -> list[str]:
        instances = self.ports.instances
        return instances.zones(region) if instances is not None else [f"{region}{z}" for z in "abc"]

    async def stop(self) -> None:
        if self.engine is not None:
            await self.engine.stop()
        if self.store is not None:
            self.store.close()
            self.store = None

    async def reset(self) -> None:
        engine, store = self._parts()
        await engine.stop()
        await store.wipe()
        engine.stacks.clear()
        engine.events.clear()
        self.change_sets.clear()

    def answer_for_other_account(self, ctx: RequestContext, operation: OperationModel,
                                 params: dict[str, Any]) -> dict[str, Any] | None:
        return {} if operation.name == "DeleteStack" else None  # a missing stack: deleted, as DeleteStack says


    def health(self) -> dict[str, Any]:
        return {"status": "running" if self.store is not None else "stopped",
                "stacks": len(self.engine.stacks) if self.engine is not None else 0}

    def _parts(self) -> tuple[StackEngine, StackStore]:
        if self.engine is None or self.store is None:
            raise RuntimeError("CloudFormation is not started")
        return self.engine, self.store

    # -- finding stacks and reading templates ------------------------------------------------------------
    def _find(self, ctx: RequestContext, name: str, *, deleted: bool = False) -> dict[str, Any]:
        engine, _ = self._parts()
        if name.startswith("arn:"):
            found = engine.stacks.get(name)
            if found is not None and (deleted or found["StackStatus"] != "DELETE_COMPLETE"):
                return found
            raise errors.no_stack(name)
        for stack in engine.stacks.values():
            if stack["StackName"] == name and stack["Region"] == ctx.region and stack["StackStatus"] != "DELETE_COMPLETE":
                return stack
        raise errors.no_stack(name)

    async def _body(self, params: dict[str, Any], previous: dict[str, Any] | None = None) -> str:
        if params.get("UsePreviousTemplate"):
            if previous is None:
                raise errors.validation("UsePreviousTemplate is only valid for an existing stack")
            return str(previous["TemplateBody"])
        body, url = params.get("TemplateBody"), params.get("TemplateURL")
        if (body is None) == (url is None):
            raise errors.validation("Exactly one of TemplateBody or TemplateUrl must be specified.")
        if body is not None:
            return str(body)
        return await self._read_url(str(url))

    async def _read_url(self, url: str) -> str:
        """A template in a bucket: https://s3.amazonaws.com/BUCKET/KEY, https://BUCKET.s3[.REGION].amazonaws.com/KEY
        or this server's own path-style URL."""
        objects = self.ports.objects
        parts = urlsplit(url)
        host, path = parts.hostname or "", unquote(parts.path.lstrip("/"))
        if ".s3" in host and not host.startswith("s3"):
            bucket, key = host.split(".s3", 1)[0], path
        else:
            bucket, _, key = path.partition("/")
        if objects is None or not bucket or not key:
            raise errors.validation("TemplateURL must be a supported URL.")
        try:
            return (await objects.read_object(bucket, key)).decode("utf-8")
        except Exception:  # noqa: BLE001 - any failure to read is the one error CloudFormation answers
            raise errors.validation(f"S3 error: Access Denied or the object does not exist: {url}")

    def _prepare(self, body: str, supplied: list[dict[str, Any]], capabilities: list[str],
                 previous: dict[str, str] | None = None, *,
                 direct: bool = False) -> tuple[dict[str, Any], template.ParameterValues]:
        """`direct`: a stack made or updated without a change set to review, which must acknowledge a transform
        with CAPABILITY_AUTO_EXPAND (a change set need not: its changes are reviewed before they are made).
        https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html"""
        if direct and template.declared_transforms(body) and "CAPABILITY_AUTO_EXPAND" not in capabilities:
            raise errors.insufficient_capabilities("CAPABILITY_AUTO_EXPAND")
        if len(body.encode("utf-8")) > template.MAX_BODY:
            raise errors.validation("1 validation error detected: Value 'templateBody' failed to satisfy "
                                    f"constraint: Member must have length less than or equal to {template.MAX_BODY}")
        document = template.parse(body)
        graph.check_references(document)
        values = template.resolve_parameters(document, supplied, previous)
        needed = required_capability(document)
        if needed == "CAPABILITY_NAMED_IAM" and needed not in capabilities:
            raise errors.insufficient_capabilities(needed)
        if needed == "CAPABILITY_IAM" and not set(capabilities) & {"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"}:
            raise errors.insufficient_capabilities(needed)
        return document, values

    def _new_stack(self, ctx: RequestContext, name: str, params: dict[str, Any], status: str) -> dict[str, Any]:
        return {"StackId": f"arn:aws:cloudformation:{ctx.region}:{ctx.account_id}:stack/{name}/{ids.uuid4()}",
                "StackName": name, "Region": ctx.region, "StackStatus": status, "CreationTime": self.clock.now(),
                "DisableRollback": bool(params.get("DisableRollback")) or params.get("OnFailure") == "DO_NOTHING",
                "Capabilities": list(params.get("Capabilities") or []), "Tags": list(params.get("Tags") or []),
                "NotificationARNs": list(params.get("NotificationARNs") or []), "Resources": {}, "Outputs": [],
                "Parameters": [], "ParameterValues": {}, "NoEcho": [], "TemplateBody": ""}

    @staticmethod
    def _apply_template(stack: dict[str, Any], body: str, document: dict[str, Any],
                        values: template.ParameterValues) -> None:
        stack.update(TemplateBody=body, ParameterValues=values.values, NoEcho=sorted(values.no_echo),
                     Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.given.items()])
        if document.get("Description") is not None:
            stack["Description"] = str(document["Description"])
        else:
            stack.pop("Description", None)

    async def _start_update(self, stack: dict[str, Any], body: str, document: dict[str, Any],
                            values: template.ParameterValues, params: dict[str, Any]) -> None:
        engine, _ = self._parts()
        stack["Previous"] = {key: copy.deepcopy(stack.get(key)) for key in
                             ("TemplateBody", "Parameters", "ParameterValues", "NoEcho", "Outputs")}
        self._apply_template(stack, body, document, values)
        if params.get("Capabilities") is not None:
            stack["Capabilities"] = list(params["Capabilities"])
        if params.get("Tags") is not None:
            stack["Tags"] = list(params["Tags"])
        stack["LastUpdatedTime"] = self.clock.now()
        await engine.set_status(stack, "UPDATE_IN_PROGRESS", "User Initiated")
        engine.run(stack["StackId"], engine.deploy, True)

    # -- stacks ------------------------------------------------------------------------------------------
    async def CreateStack(self, ctx: RequestContext, params: CreateStackInputTypeDef) -> dict[str, Any]:
        engine, _ = self._parts()
        name = params["StackName"]
        if any(s["StackName"] == name and s["Region"] == ctx.region and s["StackStatus"] != "DELETE_COMPLETE"
               for s in engine.stacks.values()):
            raise errors.already_exists(name)
        body = await self._body(dict(params))
        document, values = self._prepare(body, [dict(p) for p in params.get("Parameters") or []],
                                          list(params.get("Capabilities") or []), direct=True)
        stack = self._new_stack(ctx, name, dict(params), "CREATE_IN_PROGRESS")
        self._apply_template(stack, body, document, values)
        await engine.set_status(stack, "CREATE_IN_PROGRESS", "User Initiated")
        engine.run(stack["StackId"], engine.deploy, False)
        return {"StackId": stack["StackId"]}

    async def UpdateStack(self, ctx: RequestContext, params: UpdateStackInputTypeDef) -> dict[str, Any]:
        stack = copy.deepcopy(self._find(ctx, params["StackName"]))
        if stack["StackStatus"] not in UPDATABLE:
            raise errors.busy(stack["StackId"], stack["StackStatus"], "updated")
        body = await self._body(dict(params), stack)
        previous = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters") or []}
        document, values = self._prepare(body, [dict(p) for p in params.get("Parameters") or []],
                                          list(params.get("Capabilities") or []), previous, direct=True)
        if body == stack["TemplateBody"] and values.given == previous:
            raise errors.no_updates()
        await self._start_update(stack, body, document, values, dict(params))
        return {"StackId": stack["StackId"]}

    async def DeleteStack(self, ctx: RequestContext, params: DeleteStackInputTypeDef) -> dict[str, Any]:
        engine, _ = self._parts()
        try:
            stack = copy.deepcopy(self._find(ctx, params["StackName"]))
        except Exception:  # noqa: BLE001 - deleting a stack that does not exist succeeds, as on AWS
            return {}
        status = stack["StackStatus"]
        if status == "DELETE_IN_PROGRESS":
            return {}
        # A stack being created may be deleted: the creation stops and what it made so far is deleted
        # (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteStack.html).
        if status == "CREATE_IN_PROGRESS" and await engine.stop_creation(stack["StackId"]):
            return {}
        if status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
            raise errors.busy(stack["StackId"], status, "deleted")
        exported = {o["ExportName"] for o in stack.get("Outputs") or [] if o.get("ExportName")}
        for other in engine.stacks.values():
            used = exported & set(other.get("Imports") or [])
            if used and other["StackStatus"] != "DELETE_COMPLETE" and other["StackId"] != stack["StackId"]:
                raise errors.validation(f"Export {sorted(used)[0]} cannot be deleted as it is in use by "
                                        f"{other['StackName']}")
        retained = set(params.get("RetainResources") or [])
        for logical in retained:
            if logical in stack["Resources"]:
                stack["Resources"][logical]["Retain"] = True
        if status == "REVIEW_IN_PROGRESS":
            stack["DeletionTime"] = self.clock.now()
            await engine.set_status(stack, "DELETE_COMPLETE")
            return {}
        await engine.set_status(stack, "DELETE_IN_PROGRESS", "User Initiated")
        engine.run(stack["StackId"], engine._delete)
        return {}

    async def DescribeStacks(self, ctx: RequestContext, params: DescribeStacksInputTypeDef) -> dict[str, Any]:
        engine, _ = self._parts()
        name = params.get("StackName")
        if name:
            return {"Stacks": [shapes.stack(self._find(ctx, name, deleted=True))]}
        found = [s for s in engine.stacks.values() if s["Region"] == ctx.region and s["StackStatus"] != "DELETE_COMPLETE"]
        return {"Stacks": [shapes.stack(s) for s in sorted(found, key=lambda s: -s["CreationTime"])]}

    async def ListStacks(self, ctx: RequestContext, params: ListStacksInputTypeDef) -> dict[str, Any]:
        engine, _ = self._parts()
        wanted = set(params.get("StackStatusFilter") or [])
        found = [s for s in engine.stacks.values() if s["Region"] == ctx.region
                 and (not wanted or s["StackStatus"] in wanted)]
        return {"StackSummaries": [shapes.summary(s) for s in sorted(found, key=lambda s: -s["CreationTime"])]}

    async def DescribeStackEvents(self, ctx: RequestContext, params: DescribeStackEventsInputTypeDef) -> dict[str, Any]:
        engine, _ = self._parts()
        stack = self._find(ctx, params["StackName"], deleted=True)
        return {"StackEvents": list(reversed(engine.events.get(stack["StackId"], [])))}

    async def DescribeStackResource(self, ctx: RequestContext,
                                    params: DescribeStackResourceInputTypeDef) -> dict[str, Any]:
        stack = self._find(ctx, params["StackName"], deleted=True)
        entry = stack["Resources"].get(params["LogicalResourceId"])
        if entry is None:
            raise errors.validation(f"Resource {params['LogicalResourceId']} does not exist for stack "
                                    f"{params['StackName']}")
        return {"StackResourceDetail": shapes.resource(stack, entry, detail=True)}

    async def DescribeStackResources(self, ctx: RequestContext,
                                     params: DescribeStackResourcesInputTypeDef) -> dict[str, Any]:
        engine, _ = self._parts()
        name, physical = params.get("StackName"), params.get("PhysicalResourceId")
        if name:
            stack = self._find(ctx, name, deleted=True)
        elif physical:
            owners = [s for s in engine.stacks.values() if s["StackStatus"] != "DELETE_COMPLETE" and any(
                e.get("PhysicalResourceId") == physical for e in s["Resources"].values())]
            if not owners:
                raise errors.validation(f"Stack for {physical} does not exist")
            stack = owners[0]
        else:
            raise errors.validation("Either StackName or PhysicalResourceId must be specified.")
        logical = params.get("LogicalResourceId")
        entries = [e for e in stack["Resources"].values() if (not logical or e["LogicalResourceId"] == logical)
                   and (name or e.get("PhysicalResourceId") == physical or logical)]
        return {"StackResources": [shapes.resource(stack, e) for e in entries]}

    async def ListStackResources(self, ctx: RequestContext, params: ListStackResourcesInputTypeDef) -> dict[str, Any]:
        stack = self._find(ctx, params["StackName"], deleted=True)
        return {"StackResourceSummaries": [shapes.resource(stack, e, summary_form=True)
                                           for e in stack["Resources"].values()]}

    async def GetTemplate(self, ctx: RequestContext, params: GetTemplateInputTypeDef) -> dict[str, Any]:
        if params.get("ChangeSetName"):
            body = self._change_set(ctx, params["ChangeSetName"], params.get("StackName"))["TemplateBody"]
        else:
            body = self._find(ctx, params.get("StackName") or "", deleted=True)["TemplateBody"]
        if params.get("TemplateStage") == "Processed" and template.declared_transforms(body):
            body = json.dumps(template.parse(body))  # the template as its transforms left it, in JSON
        return {"TemplateBody": body, "StagesAvailable": ["Original", "Processed"]}

    async def GetTemplateSummary(self, ctx: RequestContext, params: GetTemplateSummaryInputTypeDef) -> dict[str, Any]:
        if params.get("StackName"):
            body = self._find(ctx, params["StackName"])["TemplateBody"]
        else:
            body = await self._body(dict(params))
        document = template.parse(body)
        out = self._summary(document)
        out["ResourceTypes"] = sorted({r["Type"] for r in document["Resources"].values()})
        out["Version"] = str(document.get("AWSTemplateFormatVersion") or "2010-09-09")
        out["DeclaredTransforms"] = template.declared_transforms(body)
        return out

    async def ValidateTemplate(self, ctx: RequestContext, params: ValidateTemplateInputTypeDef) -> dict[str, Any]:
        body = await self._body(dict(params))
        document = template.parse(body)
        graph.check_references(document)
        out = self._summary(document)
        for parameter in out["Parameters"]:  # ValidateTemplate's TemplateParameter has no type or constraints
            parameter.pop("ParameterType", None)
            parameter.pop("ParameterConstraints", None)
        out["DeclaredTransforms"] = template.declared_transforms(body)
        return out

    @staticmethod
    def _summary(document: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"Parameters": template.parameter_declarations(document)}
        if document.get("Description") is not None:
            out["Description"] = str(document["Description"])
        needed = required_capability(document)
        if needed:
            iam = sorted(logical for logical, r in document["Resources"].items()
                         if (kind := TYPES.get(r["Type"])) is not None and kind.iam)
            out["Capabilities"] = [needed]
            types = sorted({document["Resources"][logical]["Type"] for logical in iam})
            out["CapabilitiesReason"] = f"The following resource(s) require capabilities: [{', '.join(types)}]"
        return out

    async def ListExports(self, ctx: RequestContext, params: ListExportsInputTypeDef) -> dict[str, Any]:
        engine, _ = self._parts()
        return {"Exports": [{"ExportingStackId": stack_id, "Name": name, "Value": value}
                            for name, (value, stack_id) in sorted(engine.exports(ctx.region).items())]}

    async def ListImports(self, ctx: RequestContext, params: ListImportsInputTypeDef) -> dict[str, Any]:
        engine, _ = self._parts()
        name = params["ExportName"]
        if name not in engine.exports(ctx.region):
            raise errors.validation(f"Export '{name}' is not imported by any stack.")
        importers = sorted(s["StackName"] for s in engine.stacks.values()
                           if s["StackStatus"] != "DELETE_COMPLETE" and name in (s.get("Imports") or []))
        if not importers:
            raise errors.validation(f"Export '{name}' is not imported by any stack.")
        return {"Imports": importers}

    # -- change sets -------------------------------------------------------------------------------------
    def _change_set(self, ctx: RequestContext, name: str, stack_name: str | None) -> dict[str, Any]:
        if name.startswith("arn:"):
            found = self.change_sets.get(name)
            if found is not None:
                return found
            raise errors.no_change_set(name)
        if not stack_name:
            raise errors.validation("StackName must be specified if ChangeSetName is not specified as an ARN.")
        stack = self._find(ctx, stack_name)
        for change_set in self.change_sets.values():
            if change_set["ChangeSetName"] == name and change_set["StackId"] == stack["StackId"]:
                return change_set
        raise errors.no_change_set(name)

    async def CreateChangeSet(self, ctx: RequestContext, params: CreateChangeSetInputTypeDef) -> dict[str, Any]:
        engine, store = self._parts()
        name, kind = params["ChangeSetName"], params.get("ChangeSetType") or "UPDATE"
        stack_name = params["StackName"]
        existing: dict[str, Any] | None
        try:
            existing = copy.deepcopy(self._find(ctx, stack_name))
        except Exception:  # noqa: BLE001 - no such stack: a CREATE change set makes one
            existing = None
        if kind == "CREATE":
            if existing is not None and existing["StackStatus"] != "REVIEW_IN_PROGRESS":
                raise errors.already_exists(stack_name)
        elif kind == "UPDATE":
            if existing is None:
                raise errors.no_stack(stack_name)
            if existing["StackStatus"] not in UPDATABLE:
                raise errors.busy(existing["StackId"], existing["StackStatus"], "updated")
        else:
            raise errors.validation(f"ChangeSetType {kind} is not supported by Conveyor (CREATE or UPDATE)")
        previous = {p["ParameterKey"]: p["ParameterValue"] for p in (existing or {}).get("Parameters") or []}
        body = await self._body(dict(params), existing if kind == "UPDATE" else None)
        document, values = self._prepare(body, [dict(p) for p in params.get("Parameters") or []],
                                          list(params.get("Capabilities") or []), previous)
        stack = existing
        if stack is None:
            stack = self._new_stack(ctx, stack_name, dict(params), "REVIEW_IN_PROGRESS")
            await engine.set_status(stack, "REVIEW_IN_PROGRESS", "User Initiated")
        if any(cs["ChangeSetName"] == name and cs["StackId"] == stack["StackId"] for cs in self.change_sets.values()):
            raise errors.change_set_exists(name)
        resource_changes = changesets.changes(engine, stack, document, values.values, kind == "CREATE")
        unchanged = kind == "UPDATE" and body == stack["TemplateBody"] and values.given == previous
        change_set: dict[str, Any] = {
            "ChangeSetId": f"arn:aws:cloudformation:{ctx.region}:{ctx.account_id}:changeSet/{name}/{ids.uuid4()}",
            "ChangeSetName": name, "StackId": stack["StackId"], "StackName": stack["StackName"],
            "ChangeSetType": kind, "CreationTime": self.clock.now(), "TemplateBody": body,
            "Parameters": [{"ParameterKey": k, "ParameterValue": "****" if k in values.no_echo else v}
                           for k, v in values.given.items()],
            "GivenParameters": [dict(p) for p in params.get("Parameters") or []],
            "Capabilities": list(params.get("Capabilities") or []), "Tags": list(params.get("Tags") or []),
            "NotificationARNs": list(params.get("NotificationARNs") or []),
            "Changes": [] if unchanged else resource_changes,
            "Status": "FAILED" if unchanged else "CREATE_COMPLETE",
            "ExecutionStatus": "UNAVAILABLE" if unchanged else "AVAILABLE"}
        if unchanged:
            change_set["StatusReason"] = changesets.NO_CHANGES
        if params.get("Description"):
            change_set["Description"] = params["Description"]
        await store.put_change_set(change_set)
        self.change_sets[change_set["ChangeSetId"]] = change_set
        return {"Id": change_set["ChangeSetId"], "StackId": stack["StackId"]}

    async def DescribeChangeSet(self, ctx: RequestContext, params: DescribeChangeSetInputTypeDef) -> dict[str, Any]:
        change_set = self._change_set(ctx, params["ChangeSetName"], params.get("StackName"))
        out = {k: v for k, v in change_set.items() if k not in ("TemplateBody", "ChangeSetType", "GivenParameters")}
        out["Parameters"] = change_set["Parameters"] or None
        if out["Parameters"] is None:
            del out["Parameters"]
        out["IncludeNestedStacks"] = False
        return out

    async def ListChangeSets(self, ctx: RequestContext, params: ListChangeSetsInputTypeDef) -> dict[str, Any]:
        stack = self._find(ctx, params["StackName"])
        return {"Summaries": [{k: cs[k] for k in ("StackId", "StackName", "ChangeSetId", "ChangeSetName",
                                                  "ExecutionStatus", "Status", "CreationTime") if k in cs}
                              for cs in self.change_sets.values() if cs["StackId"] == stack["StackId"]]}

    async def DeleteChangeSet(self, ctx: RequestContext, params: DeleteChangeSetInputTypeDef) -> dict[str, Any]:
        _, store = self._parts()
        change_set = self._change_set(ctx, params["ChangeSetName"], params.get("StackName"))
        if change_set["ExecutionStatus"] == "EXECUTE_IN_PROGRESS":
            raise errors.invalid_change_set_status("Cannot delete a change set that is being executed")
        await store.delete_change_sets([change_set["ChangeSetId"]])
        self.change_sets.pop(change_set["ChangeSetId"], None)
        return {}

    async def ExecuteChangeSet(self, ctx: RequestContext, params: ExecuteChangeSetInputTypeDef) -> dict[str, Any]:
        engine, store = self._parts()
        change_set = self._change_set(ctx, params["ChangeSetName"], params.get("StackName"))
        if change_set["ExecutionStatus"] != "AVAILABLE":
            raise errors.invalid_change_set_status(
                f"ChangeSet [{change_set['ChangeSetId']}] cannot be executed in its current execution status of "
                f"[{change_set['ExecutionStatus']}]")
        stack = copy.deepcopy(self._find(ctx, change_set["StackId"]))
        creating = stack["StackStatus"] == "REVIEW_IN_PROGRESS"
        if not creating and stack["StackStatus"] not in UPDATABLE:
            raise errors.busy(stack["StackId"], stack["StackStatus"], "updated")
        previous = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters") or []}
        body = change_set["TemplateBody"]
        document, values = self._prepare(body, change_set["GivenParameters"], change_set["Capabilities"], previous)
        executed = dict(change_set, ExecutionStatus="EXECUTE_COMPLETE")
        others = [i for i, cs in self.change_sets.items() if cs["StackId"] == stack["StackId"] and
                  i != change_set["ChangeSetId"]]
        await store.put_change_set(executed)
        await store.delete_change_sets(others)
        self.change_sets[executed["ChangeSetId"]] = executed
        for other in others:
            self.change_sets.pop(other, None)
        stack["ChangeSetId"] = change_set["ChangeSetId"]
        if params.get("DisableRollback") is not None:
            stack["DisableRollback"] = bool(params.get("DisableRollback"))
        if creating:
            stack["Capabilities"] = change_set["Capabilities"]
            stack["Tags"] = change_set["Tags"]
            self._apply_template(stack, body, document, values)
            await engine.set_status(stack, "CREATE_IN_PROGRESS", "User Initiated")
            engine.run(stack["StackId"], engine.deploy, False)
        else:
            await self._start_update(stack, body, document, values, {"Capabilities": change_set["Capabilities"],
                                                                      "Tags": change_set["Tags"] or None})
        return {}


def required_capability(document: dict[str, Any]) -> str | None:
    """CAPABILITY_NAMED_IAM when an IAM resource is named by the template, CAPABILITY_IAM when IAM resources
    are only generated names. https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/control-access-with-iam.html#using-iam-capabilities"""
    needed = None
    for resource in document["Resources"].values():
        kind = TYPES.get(resource["Type"])
        if kind is None or not kind.iam:
            continue
        needed = needed or "CAPABILITY_IAM"
        if kind.name_property and kind.name_property in (resource.get("Properties") or {}):
            needed = "CAPABILITY_NAMED_IAM"
    return needed
