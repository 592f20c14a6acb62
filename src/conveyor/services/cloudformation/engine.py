"""Stack operations, run on the server after the request that started them has been answered, as on AWS:
the client polls DescribeStacks (the AWS CLI's waiters do). Each step is committed (the stack's document
and its events) before the next begins, so a stack interrupted by a crash resumes on restart: a create
rolls back, a delete goes on, an update rolls back to the previous template.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-describing-stacks.html
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from conveyor import ids
from conveyor.clock import Clock
from conveyor.ports import ApiCaller
from conveyor.services.cloudformation import errors, graph, scheduling, template
from conveyor.services.cloudformation.errors import ResourceFailure
from conveyor.services.cloudformation.intrinsics import Scope
from conveyor.services.cloudformation.resources import TYPES
from conveyor.services.cloudformation.resources.base import Made, ResourceType, Target
from conveyor.services.cloudformation.store import StackStore
from conveyor.wire import ServiceError

log = logging.getLogger("conveyor.cloudformation")
STACK_TYPE = "AWS::CloudFormation::Stack"
REPLACING = "Requested update requires the creation of a new physical resource; hence creating one."


def reason_of(error: Exception, what: str) -> str:
    """What a failed resource operation's event says: the resource's own reason (a ResourceFailure, the error a
    service answered), or for anything else (a fault of ours, a store that could not commit) CloudFormation's
    "Internal Failure", the error itself going to the log."""
    if isinstance(error, (ResourceFailure, ServiceError)):
        return str(error)
    log.error("%s: internal failure", what, exc_info=error)
    return errors.INTERNAL_FAILURE


def resolve_kind(type_name: str) -> ResourceType:
    kind = TYPES.get(type_name)
    if kind is None:
        raise ResourceFailure(f"Conveyor does not support the resource type {type_name} "
                              f"(it supports {', '.join(sorted(TYPES))})")
    return kind


class StackEngine:
    def __init__(self, store: StackStore, clock: Clock, account: str, api: Callable[[], ApiCaller | None],
                 zones: Callable[[str], list[str]]) -> None:
        self.store = store
        self.clock = clock
        self.account = account
        self._api = api
        self._zones = zones
        self.stacks: dict[str, dict[str, Any]] = {}  # committed documents, by stack id
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        # The document each running operation works on, by stack id: DeleteStack marks a creation's to stop it.
        self.working: dict[str, dict[str, Any]] = {}

    def load(self) -> None:
        for stack in self.store.stacks():
            self.stacks[stack["StackId"]] = stack
        for stack_id, event in self.store.events():
            self.events.setdefault(stack_id, []).append(event)

    def resume(self) -> None:
        """Carry interrupted operations to a stable state (after a restart)."""
        for stack in list(self.stacks.values()):
            status = stack["StackStatus"]
            if status == "CREATE_IN_PROGRESS" and stack.get("DeleteRequested"):
                self.run(stack["StackId"], self.delete_stack)  # DeleteStack stopped the creation: delete it
            elif status in ("CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS"):
                self.run(stack["StackId"], self._rollback_create, "Resumed after a restart of the server.")
            elif status == "DELETE_IN_PROGRESS":
                self.run(stack["StackId"], self._delete)
            elif status in ("UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS"):
                self.run(stack["StackId"], self._rollback_update, "Resumed after a restart of the server.")
            elif status == "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS":
                self.run(stack["StackId"], self._finish_cleanup, "UPDATE_COMPLETE")
            elif status == "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS":
                self.run(stack["StackId"], self._finish_cleanup, "UPDATE_ROLLBACK_COMPLETE")

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def run(self, stack_id: str, step: Callable[..., Any], *args: Any) -> None:
        async def go() -> None:
            stack = self.working[stack_id] = copy.deepcopy(self.stacks[stack_id])
            try:
                await step(stack, *args)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("stack operation on %s failed", stack_id)
                await self._end_after_internal_failure(stack)
            finally:
                if self.working.get(stack_id) is stack:
                    del self.working[stack_id]

        task = asyncio.get_running_loop().create_task(go())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _end_after_internal_failure(self, stack: dict[str, Any]) -> None:
        """An operation broke off on an error of ours, not a resource's: it ends as CloudFormation ends an internal
        failure, never left in progress while the server runs. A create or update rolls back; a rollback, a
        deletion that breaks off ends FAILED (DeleteStack may be retried); a cleanup ends as it would have. Until
        a final state is committed (a store refusing commits for a while) it is tried again, a little later."""
        pause = 0.1
        while (status := self.stacks[stack["StackId"]]["StackStatus"]).endswith("_IN_PROGRESS") and \
                status != "REVIEW_IN_PROGRESS":  # (a change set's stack before it runs: no operation of it)
            try:
                await self._internal_failure_step(stack)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("ending stack operation on %s after an internal failure", stack["StackId"])
                await asyncio.sleep(pause)
                pause = min(pause * 2, 30.0)

    async def _internal_failure_step(self, stack: dict[str, Any]) -> None:
        status, why = stack["StackStatus"], errors.INTERNAL_FAILURE
        if status == "CREATE_IN_PROGRESS" and stack.get("DeleteRequested"):
            await self.delete_stack(stack)
        elif status == "CREATE_IN_PROGRESS" and stack.get("DisableRollback"):
            await self.set_status(stack, "CREATE_FAILED", why)
        elif status == "CREATE_IN_PROGRESS":
            await self._rollback_create(stack, why)
        elif status == "UPDATE_IN_PROGRESS":
            await self._rollback_update(stack, why)
        elif status in ("ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS", "DELETE_IN_PROGRESS"):
            await self.set_status(stack, status.replace("_IN_PROGRESS", "_FAILED"), why)
        elif status.endswith("_COMPLETE_CLEANUP_IN_PROGRESS"):
            stack["Cleanup"], stack["Journal"] = [], []  # what is left of it is logged, not retried for ever
            await self.set_status(stack, status.replace("_CLEANUP_IN_PROGRESS", ""))
        else:  # the document reached a final state whose commit failed: commit it again
            await self.set_status(stack, status, stack.get("StackStatusReason") or "")

    # -- recording -------------------------------------------------------------------------------------
    def event(self, stack: dict[str, Any], logical: str, physical: str, kind: str, status: str,
              reason: str = "", properties: Any = None) -> dict[str, Any]:
        event: dict[str, Any] = {
            "StackId": stack["StackId"], "EventId": ids.uuid4(), "StackName": stack["StackName"],
            "LogicalResourceId": logical, "PhysicalResourceId": physical, "ResourceType": kind,
            "Timestamp": self.clock.now(), "ResourceStatus": status}
        if reason:
            event["ResourceStatusReason"] = reason
        if properties is not None:
            event["ResourceProperties"] = json.dumps(properties)
        return event

    async def commit(self, stack: dict[str, Any], *events: dict[str, Any]) -> None:
        """Store the stack's state and events; only then does anyone see them."""
        # Resources are made at once (conveyor.services.cloudformation.scheduling): what is shown is the state
        # as committed, not what another resource changed while this commit waited.
        snapshot, recorded = copy.deepcopy(stack), copy.deepcopy(list(events))
        await self.store.put_stack(snapshot, recorded)
        self.stacks[stack["StackId"]] = snapshot
        self.events.setdefault(stack["StackId"], []).extend(recorded)

    async def stop_creation(self, stack_id: str) -> bool:
        """DeleteStack of a stack being created: AWS stops the creation and deletes what it made so far. The
        creation's own document is marked, and the mark committed before DeleteStack answers, so that a
        restart finishes the deletion (`resume`); the creation starts no further resource, lets those under
        way finish, then deletes the stack (`deploy`). False when no creation of it is running."""
        stack = self.working.get(stack_id)
        if stack is None:
            return False
        if stack.get("DeleteRequested") or stack["StackStatus"] == "DELETE_IN_PROGRESS":
            return True  # already stopping or deleting, though what is shown may still say CREATE_IN_PROGRESS
        if stack["StackStatus"] != "CREATE_IN_PROGRESS":
            return False
        stack["DeleteRequested"] = True
        await self.commit(stack)
        return True

    async def set_status(self, stack: dict[str, Any], status: str, reason: str = "") -> None:
        stack["StackStatus"] = status
        if reason:
            stack["StackStatusReason"] = reason
        else:
            stack.pop("StackStatusReason", None)
        await self.commit(stack, self.event(stack, stack["StackName"], stack["StackId"], STACK_TYPE, status, reason))

    async def resource_status(self, stack: dict[str, Any], logical: str, status: str, reason: str = "",
                              properties: Any = None) -> None:
        entry = stack["Resources"][logical]
        entry["ResourceStatus"] = status
        entry["ResourceStatusReason"] = reason
        entry["LastUpdatedTimestamp"] = self.clock.now()
        await self.commit(stack, self.event(stack, logical, entry.get("PhysicalResourceId") or "",
                                            entry["ResourceType"], status, reason, properties))

    # -- what a template's functions read ----------------------------------------------------------------
    def exports(self, region: str, exclude: str | None = None) -> dict[str, tuple[str, str]]:
        """Export name -> (value, exporting stack id), of the region's live stacks."""
        found: dict[str, tuple[str, str]] = {}
        for stack in self.stacks.values():
            if stack["Region"] != region or stack["StackStatus"] == "DELETE_COMPLETE" or stack["StackId"] == exclude:
                continue
            for output in stack.get("Outputs") or []:
                if output.get("ExportName"):
                    found[output["ExportName"]] = (output["OutputValue"], stack["StackId"])
        return found

    def scope(self, stack: dict[str, Any], document: dict[str, Any], parameters: dict[str, Any]) -> Scope:
        resources = stack["Resources"]
        imports: set[str] = set(stack.get("Imports") or [])

        def made(name: str) -> dict[str, Any]:
            entry = resources.get(name)
            if name not in document["Resources"]:
                raise errors.template_format(f"Unresolved resource dependencies [{name}] in the Resources block "
                                             "of the template")
            if entry is None or not entry.get("PhysicalResourceId"):
                raise ResourceFailure(f"resource {name} is not created")
            return dict(entry)

        def ref(name: str) -> Any:
            entry = made(name)
            return entry.get("Ref") or entry["PhysicalResourceId"]

        def attribute(name: str, attribute: str) -> Any:
            entry = made(name)
            attributes = entry.get("Attributes") or {}
            if attribute not in attributes:
                raise errors.template_format(f"Template error: resource {name} does not support attribute type "
                                             f"{attribute} in Fn::GetAtt")
            return attributes[attribute]

        def export(name: str) -> str | None:
            found = self.exports(stack["Region"], exclude=stack["StackId"]).get(name)
            if found is None:
                return None
            imports.add(name)
            stack["Imports"] = sorted(imports)
            return found[0]

        return Scope(region=stack["Region"], account=self.account, stack_name=stack["StackName"],
                     stack_id=stack["StackId"], parameters=parameters, mappings=document.get("Mappings") or {},
                     conditions=document.get("Conditions") or {}, ref=ref, attribute=attribute, export=export,
                     zones=self._zones, notification_arns=list(stack.get("NotificationARNs") or []))

    def target(self, stack: dict[str, Any], logical: str) -> Target:
        api = self._api()
        if api is None:
            raise ResourceFailure("the in-process API is not available")
        return Target(api, stack["Region"], self.account, stack["StackName"], logical)

    # -- create and update -----------------------------------------------------------------------------
    async def deploy(self, stack: dict[str, Any], updating: bool) -> None:
        """Make the stack's template real: create what is new, update what changed (in place or by
        replacement), then remove what is gone; on failure, roll back."""
        document = template.parse(stack["TemplateBody"])
        stack["Journal"] = []
        stack["Cleanup"] = []
        failed: tuple[str, str] | None = None
        scope = self.scope(stack, document, stack["ParameterValues"])
        try:
            active = {logical for logical, resource in document["Resources"].items()
                      if resource.get("Condition") is None or scope.condition(resource["Condition"])}
            order = graph.creation_order(document, active)
        except ServiceError as error:
            order, failed = [], ("", error.message)
        async def apply(logical: str) -> None:
            await self._apply_resource(stack, document, scope, logical)

        async def resource_failed(logical: str, error: Exception) -> bool:
            nonlocal failed
            if isinstance(error, (TypeError, AttributeError, KeyError, ValueError)):
                # A property of a shape the type cannot read (a list where an object belongs...): the
                # resource fails with the schema's kind of reason, never leaves the stack in progress.
                log.info("resource %s: %r", logical, error)
                error = ResourceFailure(f"Properties validation failed for resource {logical} with message: a "
                                        f"property has the wrong type ({type(error).__name__}: {error})")
            # Any other error (ours, or a store that could not commit) fails the resource as an internal failure:
            # the resources under way finish, as after any resource's failure, and all is rolled back.
            reason = reason_of(error, f"resource {logical}")
            failed = failed or (logical, reason)
            entry = stack["Resources"].get(logical)
            if entry is not None:
                try:
                    await self.resource_status(stack, logical, "UPDATE_FAILED" if entry.get("Updating")
                                               else "CREATE_FAILED", reason)
                except Exception:  # (the status is in the document: the rollback's first commit records it)
                    log.exception("recording the failure of %s", logical)
            return True

        active_set = set(order)
        needs = {logical: graph.dependencies(document, logical) & active_set for logical in order}
        await scheduling.in_dependency_order(order, needs, apply, resource_failed,
                                             lambda: bool(stack.get("DeleteRequested")))
        if stack.get("DeleteRequested"):
            await self.delete_stack(stack)  # DeleteStack stopped the creation (stop_creation)
            return
        if failed is None:
            try:
                self._outputs(stack, document, scope)
            except (ResourceFailure, ServiceError) as error:
                failed = ("", error.message if isinstance(error, ServiceError) else str(error))
        if failed is not None:
            logical, reason = failed
            if updating:
                entry = stack["Resources"].get(logical) or {}
                verb = "update" if entry.get("Updating") else "create"
                why = f"The following resource(s) failed to {verb}: [{logical}]. " if logical else reason
                await self.set_status(stack, "UPDATE_ROLLBACK_IN_PROGRESS", why)
                await self._rollback_update(stack, why)
            elif stack.get("DisableRollback"):
                await self.set_status(stack, "CREATE_FAILED", f"The following resource(s) failed to create: "
                                      f"[{logical}]. " if logical else reason)
            else:
                why = (f"The following resource(s) failed to create: [{logical}]. Rollback requested by user."
                       if logical else reason)
                await self.set_status(stack, "ROLLBACK_IN_PROGRESS", why)
                await self._rollback_create(stack, why)
            return
        for logical in [name for name in stack["Resources"] if name not in active]:
            stack["Cleanup"].append({"Logical": logical, **stack["Resources"].pop(logical)})
        if updating:
            stack["Previous"] = None
            await self.set_status(stack, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
            await self._finish_cleanup(stack, "UPDATE_COMPLETE")
        else:
            await self.set_status(stack, "CREATE_COMPLETE")

    async def _apply_resource(self, stack: dict[str, Any], document: dict[str, Any], scope: Scope,
                              logical: str) -> None:
        definition = document["Resources"][logical]
        type_name = definition["Type"]
        existing = stack["Resources"].get(logical)
        properties = scope.evaluate(definition.get("Properties") or {})
        retain = definition.get("DeletionPolicy") == "Retain"
        dependencies = sorted(graph.dependencies(document, logical))
        if existing is not None and existing["ResourceType"] == type_name and existing.get("Properties") == properties:
            existing.update(Retain=retain, DependsOn=dependencies)
            return  # unchanged: no event, as CloudFormation shows none
        if existing is None:
            stack["Resources"][logical] = {"LogicalResourceId": logical, "ResourceType": type_name,
                                           "PhysicalResourceId": "", "Retain": retain, "DependsOn": dependencies}
            await self.resource_status(stack, logical, "CREATE_IN_PROGRESS")
            kind = resolve_kind(type_name)
            kind.check(properties)
            target = self.target(stack, logical)
            target.record_making = functools.partial(self._record_making, stack, logical)
            try:
                made = await kind.create(target, properties)
            except Exception:
                # Failed, nothing of it is left (a type's create deletes what it half made before it fails).
                # Cancelled (asyncio.CancelledError is no Exception), it may still be made: the mark stays.
                stack["Resources"][logical].pop("Making", None)
                raise
            self._record(stack, logical, made, properties)
            stack["Journal"].append({"Logical": logical, "Action": "create"})
            await self.resource_status(stack, logical, "CREATE_IN_PROGRESS", "Resource creation Initiated")
            await self.resource_status(stack, logical, "CREATE_COMPLETE")
            return
        old = copy.deepcopy(existing)
        kind = resolve_kind(type_name)
        existing["Updating"] = True
        kind.check(properties)
        replace = existing["ResourceType"] != type_name or kind.needs_replacement(old.get("Properties") or {},
                                                                                   properties)
        if replace:
            name_key = kind.name_property
            if name_key and properties.get(name_key) and properties.get(name_key) == (old.get("Properties") or {}).get(
                    name_key):
                raise ResourceFailure(f"CloudFormation cannot update a stack when a custom-named resource requires "
                                      f"replacing. Rename {properties[name_key]} and update the stack again.")
            await self.resource_status(stack, logical, "UPDATE_IN_PROGRESS", REPLACING)
            made = await kind.create(self.target(stack, logical), properties)
            self._record(stack, logical, made, properties)
            existing.update(ResourceType=type_name, Retain=retain, DependsOn=dependencies)
            stack["Journal"].append({"Logical": logical, "Action": "replace", "Old": old})
            stack["Cleanup"].append({"Logical": logical, **old})
        else:
            await self.resource_status(stack, logical, "UPDATE_IN_PROGRESS")
            current = Made(old["PhysicalResourceId"], old.get("Attributes") or {}, old.get("Ref"))
            stack["Journal"].append({"Logical": logical, "Action": "update", "Old": old})
            made = await kind.update(self.target(stack, logical), current, old.get("Properties") or {}, properties)
            self._record(stack, logical, made, properties)
            existing.update(Retain=retain, DependsOn=dependencies)
        existing.pop("Updating", None)
        await self.resource_status(stack, logical, "UPDATE_COMPLETE")

    async def _record_making(self, stack: dict[str, Any], logical: str, physical_id: str) -> None:
        """A resource about to be made, by the physical id it will have (Target.making), committed before
        it is: a rollback or deletion deletes it although its creation was cut short (`_delete_entry`)."""
        stack["Resources"][logical]["Making"] = physical_id
        await self.commit(stack)

    @staticmethod
    def _record(stack: dict[str, Any], logical: str, made: Made, properties: dict[str, Any]) -> None:
        entry = stack["Resources"][logical]
        entry.pop("Making", None)
        entry.update(PhysicalResourceId=made.physical_id, Attributes=made.attributes, Ref=made.ref,
                     Properties=properties)

    def _outputs(self, stack: dict[str, Any], document: dict[str, Any], scope: Scope) -> None:
        outputs = []
        taken = self.exports(stack["Region"], exclude=stack["StackId"])
        for key, spec in (document.get("Outputs") or {}).items():
            if spec.get("Condition") is not None and not scope.condition(spec["Condition"]):
                continue
            output: dict[str, Any] = {"OutputKey": key, "OutputValue": scope.text(spec.get("Value"), "Outputs")}
            if spec.get("Description") is not None:
                output["Description"] = str(spec["Description"])
            export = spec.get("Export")
            if isinstance(export, dict) and export.get("Name") is not None:
                name = scope.text(export["Name"], "Export")
                if name in taken:
                    raise errors.validation(f"Export with name {name} is already exported by stack "
                                            f"{self.stacks[taken[name][1]]['StackName']}")
                output["ExportName"] = name
            outputs.append(output)
        stack["Outputs"] = outputs

    # -- deleting, cleaning up and rolling back ----------------------------------------------------------
    async def _delete_entry(self, stack: dict[str, Any], logical: str, entry: dict[str, Any],
                            honour_retain: bool) -> None:
        """Delete one resource (its state in `entry`), recording the events under `logical`."""
        stack["Resources"].setdefault(logical, entry)
        if honour_retain and entry.get("Retain"):
            await self.resource_status(stack, logical, "DELETE_SKIPPED")
            return
        # A resource whose creation was cut short before it was recorded may exist all the same under the id
        # committed before it was asked for (`_record_making`): deleted as one that was made.
        if not entry.get("PhysicalResourceId") and entry.get("Making"):
            entry["PhysicalResourceId"] = entry.pop("Making")
        if not entry.get("PhysicalResourceId"):
            await self.resource_status(stack, logical, "DELETE_COMPLETE")
            return
        await self.resource_status(stack, logical, "DELETE_IN_PROGRESS")
        current = Made(entry["PhysicalResourceId"], entry.get("Attributes") or {}, entry.get("Ref"))
        await resolve_kind(entry["ResourceType"]).delete(self.target(stack, logical), current,
                                                         entry.get("Properties") or {})
        await self.resource_status(stack, logical, "DELETE_COMPLETE")

    def _deletion_order(self, resources: dict[str, dict[str, Any]]) -> list[str]:
        """Dependents before what they depend on."""
        order: list[str] = []
        seen: set[str] = set()

        def visit(logical: str) -> None:
            if logical in seen:
                return
            seen.add(logical)
            for other, entry in resources.items():
                if logical in (entry.get("DependsOn") or []):
                    visit(other)
            order.append(logical)

        for logical in resources:
            visit(logical)
        return order

    async def delete_stack(self, stack: dict[str, Any]) -> None:
        """Delete a stack whose creation DeleteStack stopped: what it made so far goes."""
        stack["DeleteRequested"] = False
        stack["Outputs"] = []
        await self.set_status(stack, "DELETE_IN_PROGRESS", "User Initiated")
        await self._delete(stack)

    async def _delete(self, stack: dict[str, Any]) -> None:
        failed: list[str] = []
        for logical in self._deletion_order(stack["Resources"]):
            entry = stack["Resources"][logical]
            if entry.get("ResourceStatus") in ("DELETE_COMPLETE", "DELETE_SKIPPED"):
                continue
            try:
                await self._delete_entry(stack, logical, entry, honour_retain=True)
            except Exception as error:
                await self.resource_status(stack, logical, "DELETE_FAILED", reason_of(error, f"deleting {logical}"))
                failed.append(logical)
        if failed:
            await self.set_status(stack, "DELETE_FAILED",
                                  f"The following resource(s) failed to delete: [{', '.join(failed)}]. ")
            return
        stack["DeletionTime"] = self.clock.now()
        await self.set_status(stack, "DELETE_COMPLETE")

    async def _rollback_create(self, stack: dict[str, Any], reason: str) -> None:
        if stack["StackStatus"] != "ROLLBACK_IN_PROGRESS":
            await self.set_status(stack, "ROLLBACK_IN_PROGRESS", reason)
        for logical in self._deletion_order(stack["Resources"]):
            entry = stack["Resources"][logical]
            if entry.get("ResourceStatus") == "DELETE_COMPLETE":
                continue
            try:
                await self._delete_entry(stack, logical, entry, honour_retain=False)
            except Exception as error:
                await self.resource_status(stack, logical, "DELETE_FAILED", reason_of(error, f"deleting {logical}"))
                await self.set_status(stack, "ROLLBACK_FAILED", f"The following resource(s) failed to delete: "
                                      f"[{logical}]. ")
                return
        stack["Outputs"] = []
        await self.set_status(stack, "ROLLBACK_COMPLETE", reason)

    async def _rollback_update(self, stack: dict[str, Any], reason: str) -> None:
        """Undo the journal, newest first: what was created goes, what was updated in place is updated back,
        what was replaced gets its old resource back (the new one goes at cleanup)."""
        if stack["StackStatus"] != "UPDATE_ROLLBACK_IN_PROGRESS":
            await self.set_status(stack, "UPDATE_ROLLBACK_IN_PROGRESS", reason)
        undone: list[dict[str, Any]] = []
        for logical, entry in list(stack["Resources"].items()):
            entry.pop("Updating", None)
            if not entry.get("PhysicalResourceId"):  # its creation failed: nothing was made...
                stack["Resources"].pop(logical)
                if entry.get("Making"):  # ...or it was cut short, and what it made goes at cleanup
                    undone.append({"Logical": logical, **entry})
        for step in reversed(stack.get("Journal") or []):
            logical = step["Logical"]
            entry = stack["Resources"].get(logical)
            if entry is None:
                continue
            if step["Action"] == "create":
                undone.append({"Logical": logical, **stack["Resources"].pop(logical)})
            elif step["Action"] == "replace":
                undone.append({"Logical": logical, **entry})
                stack["Resources"][logical] = step["Old"]
                await self.resource_status(stack, logical, "UPDATE_COMPLETE")
            else:
                old = step["Old"]
                current = Made(entry["PhysicalResourceId"], entry.get("Attributes") or {}, entry.get("Ref"))
                await self.resource_status(stack, logical, "UPDATE_IN_PROGRESS")
                try:
                    await resolve_kind(entry["ResourceType"]).update(self.target(stack, logical), current,
                                                                     entry.get("Properties") or {},
                                                                     old.get("Properties") or {})
                except Exception as error:
                    reason = reason_of(error, f"updating {logical} back")
                    await self.resource_status(stack, logical, "UPDATE_FAILED", reason)
                    await self.set_status(stack, "UPDATE_ROLLBACK_FAILED", reason)
                    return
                stack["Resources"][logical] = old
                await self.resource_status(stack, logical, "UPDATE_COMPLETE")
        previous = stack.get("Previous") or {}
        for key in ("TemplateBody", "Parameters", "ParameterValues", "NoEcho", "Outputs"):
            if key in previous:
                stack[key] = previous[key]
        stack["Journal"] = []
        stack["Cleanup"] = undone
        await self.set_status(stack, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
        await self._finish_cleanup(stack, "UPDATE_ROLLBACK_COMPLETE")

    async def _finish_cleanup(self, stack: dict[str, Any], final: str) -> None:
        """Delete what an update left behind (replaced and removed resources); a failure here is logged in
        the events but does not fail the stack, as on AWS."""
        while stack.get("Cleanup"):
            entry = dict(stack["Cleanup"][-1])
            logical = entry.pop("Logical")
            live = stack["Resources"].get(logical)
            try:
                stack["Resources"][logical] = entry
                await self._delete_entry(stack, logical, entry, honour_retain=final == "UPDATE_COMPLETE")
            except Exception as error:
                await self.resource_status(stack, logical, "DELETE_FAILED", reason_of(error, f"deleting {logical}"))
            if live is not None:
                stack["Resources"][logical] = live
            else:
                stack["Resources"].pop(logical, None)
            stack["Cleanup"].pop()
        stack["Journal"] = []
        await self.set_status(stack, final)
