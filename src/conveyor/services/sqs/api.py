"""SQS operations: thin translations between the wire dicts and the catalog, engine and move tasks.

Each operation is a method named as the model names it, taking the request as the mypy-boto3 stubs type
it (the gateway has checked it against the model already).
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.model import OperationModel, ServiceModel

from conveyor.authz import Denial, Need
from conveyor.links import REDRIVE, Link
from conveyor.ports import Ports
from conveyor.protocol.base import Codec
from conveyor.protocol.json_rpc import JsonCodec
from conveyor.protocol.models import raw_model
from conveyor.protocol.query import form_fields
from conveyor.protocol.validate import ValidationCodes
from conveyor.services.base import Environment, Service
from conveyor.services.sqs import attributes as qattrs
from conveyor.services.sqs import iam, permissions, urls
from conveyor.services.sqs.errors import INVALID, MISSING, invalid_param, missing_param, sqs_error
from conveyor.services.sqs.messages import body_size
from conveyor.services.sqs.port import SYSTEM_NAMES, QueuePort, queue_summaries, render_message
from conveyor.services.sqs.query_compat import SqsQueryCodec, query_model_dict
from conveyor.services.sqs.queue import Message, Queue
from conveyor.services.sqs.state import SqsState
from conveyor.wire import HttpResponse, RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import (
        AddPermissionRequestTypeDef,
        CancelMessageMoveTaskRequestTypeDef,
        ChangeMessageVisibilityBatchRequestTypeDef,
        ChangeMessageVisibilityRequestTypeDef,
        CreateQueueRequestTypeDef,
        DeleteMessageBatchRequestTypeDef,
        DeleteMessageRequestTypeDef,
        DeleteQueueRequestTypeDef,
        GetQueueAttributesRequestTypeDef,
        GetQueueUrlRequestTypeDef,
        ListDeadLetterSourceQueuesRequestTypeDef,
        ListMessageMoveTasksRequestTypeDef,
        ListQueuesRequestTypeDef,
        ListQueueTagsRequestTypeDef,
        PurgeQueueRequestTypeDef,
        ReceiveMessageRequestTypeDef,
        RemovePermissionRequestTypeDef,
        SendMessageBatchRequestTypeDef,
        SendMessageRequestTypeDef,
        SetQueueAttributesRequestTypeDef,
        StartMessageMoveTaskRequestTypeDef,
        TagQueueRequestTypeDef,
        UntagQueueRequestTypeDef,
    )

# The sum of a batch's bodies, whatever the queue's MaximumMessageSize.
BATCH_LIMIT = 1048576


class SqsValidationCodes(ValidationCodes):
    missing = MISSING
    invalid = INVALID

    def missing_error(self, path: str) -> ServiceError:
        return missing_param(path)

    def invalid_error(self, path: str, value: Any, reason: str) -> ServiceError:
        # An unknown queue attribute name is InvalidAttributeName in SQS, not a generic enum failure.
        if path.split(".")[0] in ("Attributes", "AttributeNames") and reason.startswith("must be one of"):
            return sqs_error("InvalidAttributeName", f"Unknown Attribute {value}.")
        return invalid_param(super().invalid_error(path, value, reason).message)


_MODELS: tuple[ServiceModel, ServiceModel] | None = None


def _models() -> tuple[ServiceModel, ServiceModel]:
    global _MODELS
    if _MODELS is None:
        raw = raw_model("sqs")
        # ReceiveMessage's deprecated AttributeNames takes message system attribute names too, although
        # the model types it as queue attribute names; relax it so the generic enum check lets them by.
        raw["shapes"]["ReceiveAttributeNameList"] = {"type": "list", "member": {"shape": "String"}}
        raw["shapes"]["ReceiveMessageRequest"]["members"]["AttributeNames"]["shape"] = "ReceiveAttributeNameList"
        _MODELS = (ServiceModel(raw, "sqs"), ServiceModel(query_model_dict(raw), "sqs"))
    return _MODELS


EntryT = TypeVar("EntryT", bound=Mapping[str, object])
_BATCH_ENTRY_ID = re.compile("[A-Za-z0-9_-]{1,80}").fullmatch


def _checked_batch(entries: Sequence[EntryT] | None, entry_type: str) -> Sequence[EntryT]:
    """A batch's entries, once there are 1 to 10 with distinct, well-formed ids; `entry_type` names them
    as AWS's messages do (SendMessageBatchRequestEntry...).
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html"""
    if not entries:
        raise sqs_error("EmptyBatchRequest", f"There should be at least one {entry_type} in the request.")
    if len(entries) > 10:
        raise sqs_error("TooManyEntriesInBatchRequest",
                        f"Maximum number of entries per request are 10. You have sent {len(entries)}.")
    seen: set[str] = set()
    repeated: str | None = None
    for entry in entries:
        entry_id = str(entry.get("Id", ""))
        if _BATCH_ENTRY_ID(entry_id) is None:
            raise sqs_error("InvalidBatchEntryId", "A batch entry id can only contain alphanumeric characters, "
                            "hyphens and underscores. It can be at most 80 letters long.")
        if entry_id in seen and repeated is None:
            repeated = entry_id  # AWS names the first id that comes again
        seen.add(entry_id)
    if repeated is not None:
        raise sqs_error("BatchEntryIdsNotDistinct", f"Id {repeated} repeated.")
    return entries


def _check_fifo_batch(q: Queue, entries: Sequence[Mapping[str, object]]) -> None:
    """A FIFO batch with an entry lacking its group id, or its deduplication id where the queue does not
    derive one, fails as a whole (InvalidParameterValue), as AWS answers it; a single SendMessage lacking
    the group id is MissingParameter instead.
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html"""
    for entry in entries:
        if not entry.get("MessageGroupId"):
            raise invalid_param("The request must contain the parameter MessageGroupId.")
        if not entry.get("MessageDeduplicationId") and not q.content_dedup:
            raise invalid_param("The queue should either have ContentBasedDeduplication enabled or "
                                "MessageDeduplicationId provided explicitly")


@contextmanager
def _single_handle() -> Iterator[None]:
    """DeleteMessage and ChangeMessageVisibility answer a receipt handle that is not one with a 404 and no
    handle in the message, as AWS's own SDK test against SQS's JSON protocol asserts (aws-sdk-go's SQS
    protocol example: ReceiptHandleIsInvalid, 404, "receipt handle is invalid"); the batch operations name
    the handle in their failed entry ('The input receipt handle "..." is not a valid receipt handle.')."""
    try:
        yield
    except ServiceError as err:
        if err.code == "ReceiptHandleIsInvalid":
            raise sqs_error("ReceiptHandleIsInvalid", "The input receipt handle is invalid.", 404) from None
        raise


def _failure(entry_id: str, err: ServiceError) -> dict[str, Any]:
    return {"Id": entry_id, "SenderFault": err.sender_fault, "Code": err.query_code or err.code,
            "Message": err.message}


def _batch_answer(entries: Sequence[Mapping[str, Any]], outcomes: Sequence[ServiceError | None]) -> dict[str, Any]:
    """A batch's Successful and Failed lists from each entry's outcome (None: it succeeded)."""
    ok = [{"Id": e["Id"]} for e, err in zip(entries, outcomes, strict=True) if err is None]
    failed = [_failure(e["Id"], err) for e, err in zip(entries, outcomes, strict=True) if err is not None]
    return {"Successful": ok, "Failed": failed}


def _page(items: list[str], key: str, token: str | None, limit: int | None, default: int) -> dict[str, Any]:
    start = 0
    if token:
        try:
            start = int(json.loads(base64.b64decode(token))["i"])
        except (ValueError, KeyError, TypeError):
            raise invalid_param("Invalid NextToken value.")
    if limit is not None and not 1 <= limit <= 1000:
        raise invalid_param(f"Value {limit} for parameter MaxResults is invalid. Reason: MaxResults must "
                            "be an integer between 1 and 1000.")
    size = limit or default
    chunk = items[start:start + size]
    out: dict[str, Any] = {key: chunk} if chunk else {}
    if limit is not None and start + size < len(items):
        out["NextToken"] = base64.b64encode(json.dumps({"i": start + size}).encode()).decode()
    return out


class SqsService(Service):
    name = "sqs"
    other_accounts_by_resource_policy = True  # another account's caller: by the resource's policy alone
    validation_codes = SqsValidationCodes()

    @functools.cached_property
    def model(self) -> ServiceModel:
        return _models()[0]

    @functools.cached_property
    def codecs(self) -> dict[str, Codec]:
        # Current SDKs speak JSON 1.0; older ones the query protocol, with SQS's legacy names.
        return {"json": JsonCodec(self.model), "query": SqsQueryCodec(_models()[1], self.validation_codes)}

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.state = SqsState(self.clock, self.config.service_dir("sqs") / "sqs.db", env.disk)
        self.catalog = self.state.catalog
        self.engine = self.state.engine
        self.moves = self.state.moves

    async def start(self) -> None:
        self.engine.metrics = self.ports.metrics
        self.state.open()

    async def stop(self) -> None:
        self.state.close()

    async def reset(self) -> None:
        await self.state.reset()

    def health(self) -> dict[str, Any]:
        return {"status": "running", "queues": len(self.catalog.queues)}

    def provide(self, ports: Ports) -> None:
        ports.queues = QueuePort(self.catalog, self.engine, self.config, self.moves)

    def owns_path(self, path: str) -> bool:
        return urls.path_address(path) is not None

    async def intercept(self, ctx: RequestContext) -> HttpResponse | None:
        """Query clients may POST to the queue URL itself instead of passing QueueUrl (the legacy style).
        https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-making-api-requests.html
        """
        if ctx.protocol == "query" and urls.path_address(ctx.request.path) is not None:
            fields = await form_fields(ctx)
            fields.setdefault("QueueUrl", ctx.base_url + ctx.request.path.rstrip("/"))
        return None

    def status(self) -> dict[str, Any]:
        return {"queues": queue_summaries(self.catalog, self.engine)}

    def links(self) -> list[Link]:
        found = []
        for q in self.catalog.queues.values():
            try:
                policy = json.loads(q.attrs.get("RedrivePolicy") or "{}")
                found.append(Link(q.arn, policy["deadLetterTargetArn"], REDRIVE,
                                  f"after {policy['maxReceiveCount']} receives"))
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # no redrive policy
        return found
    # -- IAM (--iam report|enforce) ------------------------------------------------------------------
    def iam_requests(self, ctx: RequestContext, operation: OperationModel, params: dict[str, Any]) -> list[Need]:
        return iam.needs(ctx, operation.name, params, self._tags_of)

    def _tags_of(self, arn: str) -> dict[str, str] | None:
        q = self.catalog.get(arn)
        return dict(q.tags) if q is not None and q.tags else None

    async def check(self, ctx: RequestContext, operation: OperationModel, params: dict[str, Any]) -> None:
        """Another account's caller, once its queue policy let it through (conveyor.authz), is still refused
        the operations only the queue's own account may make (iam.OWNER_ONLY)."""
        caller = ctx.principal
        if caller is not None and caller.account_id != ctx.account_id and operation.name in iam.OWNER_ONLY:
            need = self.iam_requests(ctx, operation, params)[0]
            raise self.access_denied(ctx, Denial(caller.arn, need.action, need.resource, False, None))

    def access_denied(self, ctx: RequestContext, denial: Denial) -> ServiceError:
        """SQS writes the action in lower case ("not authorized to perform: sqs:sendmessage"), and its
        JSON error keeps the query protocol's code, AccessDenied (x-amzn-query-error).
        https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/CommonErrors.html"""
        return ServiceError("AccessDeniedException", denial.message(action=denial.action.lower()), 403,
                            query_code="AccessDenied")

    # -- helpers ------------------------------------------------------------------------------------------
    def _queue(self, ctx: RequestContext, queue_url: str) -> Queue:
        return self.catalog.queue_from_url(queue_url, ctx.account_id, ctx.region)

    def _url(self, ctx: RequestContext, q: Queue) -> str:
        return self.catalog.queue_url(q, ctx.base_url)

    # -- queues -------------------------------------------------------------------------------------------
    async def CreateQueue(self, ctx: RequestContext, params: CreateQueueRequestTypeDef) -> dict[str, Any]:
        q = await self.catalog.create_queue(ctx.account_id, ctx.region, params["QueueName"],
                                            params.get("Attributes"), params.get("tags"))
        return {"QueueUrl": self._url(ctx, q)}

    async def DeleteQueue(self, ctx: RequestContext, params: DeleteQueueRequestTypeDef) -> dict[str, Any]:
        await self.catalog.delete_queue(self._queue(ctx, params["QueueUrl"]))
        return {}

    async def GetQueueUrl(self, ctx: RequestContext, params: GetQueueUrlRequestTypeDef) -> dict[str, Any]:
        account = params.get("QueueOwnerAWSAccountId") or iam.caller_account(ctx)
        q = self.catalog.named(account, ctx.region, params["QueueName"])
        if q is None:
            raise sqs_error("QueueDoesNotExist", "The specified queue does not exist.")
        return {"QueueUrl": self._url(ctx, q)}

    async def ListQueues(self, ctx: RequestContext, params: ListQueuesRequestTypeDef) -> dict[str, Any]:
        queues = self.catalog.list_queues(iam.caller_account(ctx), ctx.region, params.get("QueueNamePrefix") or "")
        limit = params.get("MaxResults")
        if limit is None and params.get("NextToken"):
            raise invalid_param("MaxResults is required when NextToken is given.")
        return _page([self._url(ctx, q) for q in queues], "QueueUrls", params.get("NextToken"), limit, 1000)

    async def GetQueueAttributes(self, ctx: RequestContext, params: GetQueueAttributesRequestTypeDef) -> dict[str, Any]:
        q = self._queue(ctx, params["QueueUrl"])
        attrs = self.catalog.get_attributes(q, params.get("AttributeNames"))
        return {"Attributes": attrs} if attrs else {}

    async def SetQueueAttributes(self, ctx: RequestContext, params: SetQueueAttributesRequestTypeDef) -> dict[str, Any]:
        await self.catalog.set_attributes(self._queue(ctx, params["QueueUrl"]), params.get("Attributes") or {})
        return {}

    async def PurgeQueue(self, ctx: RequestContext, params: PurgeQueueRequestTypeDef) -> dict[str, Any]:
        await self.engine.purge(self._queue(ctx, params["QueueUrl"]))
        return {}

    # -- tags and permissions -----------------------------------------------------------------------------
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_TagQueue.html
    async def TagQueue(self, ctx: RequestContext, params: TagQueueRequestTypeDef) -> dict[str, Any]:
        q = self._queue(ctx, params["QueueUrl"])
        if not params.get("Tags"):
            raise missing_param("Tags")
        await self.catalog.tag(q, params["Tags"])
        return {}

    async def UntagQueue(self, ctx: RequestContext, params: UntagQueueRequestTypeDef) -> dict[str, Any]:
        q = self._queue(ctx, params["QueueUrl"])
        keys = params.get("TagKeys") or []
        if not keys or any(not 1 <= len(k) <= 128 for k in keys):
            raise invalid_param("Tag keys must be between 1 and 128 characters in length.")
        await self.catalog.untag(q, keys)
        return {}

    async def ListQueueTags(self, ctx: RequestContext, params: ListQueueTagsRequestTypeDef) -> dict[str, Any]:
        q = self._queue(ctx, params["QueueUrl"])
        return {"Tags": dict(q.tags)} if q.tags else {}

    async def AddPermission(self, ctx: RequestContext, params: AddPermissionRequestTypeDef) -> dict[str, Any]:
        q = self._queue(ctx, params["QueueUrl"])
        policy = permissions.add(q.attrs.get("Policy"), q.arn, params["Label"], params.get("AWSAccountIds") or [],
                                 params.get("Actions") or [])
        await self.catalog.save_attrs(q, {**q.attrs, "Policy": policy})
        return {}

    async def RemovePermission(self, ctx: RequestContext, params: RemovePermissionRequestTypeDef) -> dict[str, Any]:
        q = self._queue(ctx, params["QueueUrl"])
        policy = permissions.remove(q.attrs.get("Policy"), params["Label"])
        attrs = {k: v for k, v in q.attrs.items() if k != "Policy"}
        if policy is not None:
            attrs["Policy"] = policy
        await self.catalog.save_attrs(q, attrs)
        return {}

    # -- messages -----------------------------------------------------------------------------------------
    async def SendMessage(self, ctx: RequestContext, params: SendMessageRequestTypeDef) -> dict[str, Any]:
        q = self._queue(ctx, params["QueueUrl"])
        msg = self.engine.prepare(q, params["MessageBody"], params.get("MessageAttributes"),
                                  params.get("MessageSystemAttributes"), params.get("MessageGroupId"),
                                  params.get("MessageDeduplicationId"), params.get("DelaySeconds"),
                                  ctx.account_id)
        return (await self.engine.enqueue(q, [msg]))[0]

    async def SendMessageBatch(self, ctx: RequestContext, params: SendMessageBatchRequestTypeDef) -> dict[str, Any]:
        q = self._queue(ctx, params["QueueUrl"])
        entries = _checked_batch(params.get("Entries"), "SendMessageBatchRequestEntry")
        total = sum(body_size(e.get("MessageBody", "")) for e in entries)
        if total > BATCH_LIMIT:
            raise sqs_error("BatchRequestTooLong", f"Batch requests cannot be longer than {BATCH_LIMIT} "
                            f"bytes. You have sent {total} bytes.")
        if q.fifo:
            _check_fifo_batch(q, entries)
        failed: list[dict[str, Any]] = []
        prepared: list[tuple[str, Message]] = []
        for e in entries:
            if not e.get("MessageBody"):
                # An entry without a body fails alone, with its own code (EmptyValue, sender's fault), as AWS
                # answers it (a single SendMessage answers MissingParameter instead).
                failed.append({"Id": e["Id"], "SenderFault": True, "Code": "EmptyValue",
                               "Message": "The request must contain the parameter MessageBody."})
                continue
            try:
                prepared.append((e["Id"], self.engine.prepare(
                    q, e.get("MessageBody") or "", e.get("MessageAttributes"), e.get("MessageSystemAttributes"),
                    e.get("MessageGroupId"), e.get("MessageDeduplicationId"), e.get("DelaySeconds"),
                    ctx.account_id)))
            except ServiceError as err:
                failed.append(_failure(e["Id"], err))
        results = await self.engine.enqueue(q, [m for _, m in prepared]) if prepared else []
        ok = [{"Id": i, **r} for (i, _), r in zip(prepared, results, strict=True)]
        return {"Successful": ok, "Failed": failed}

    async def ReceiveMessage(self, ctx: RequestContext, params: ReceiveMessageRequestTypeDef) -> dict[str, Any]:
        q = self._queue(ctx, params["QueueUrl"])
        max_n = params.get("MaxNumberOfMessages", 1)
        if not 1 <= max_n <= 10:
            raise invalid_param(f"Value {max_n} for parameter MaxNumberOfMessages is invalid. Reason: Must be "
                                "between 1 and 10, if provided.")
        vis = params.get("VisibilityTimeout")
        if vis is not None and not 0 <= vis <= 43200:
            raise invalid_param(f"Value {vis} for parameter VisibilityTimeout is invalid. Reason: Must be "
                                "between 0 and 43200, if provided.")
        wait = params.get("WaitTimeSeconds")
        if wait is None:
            wait = q.wait
        if not 0 <= wait <= 20:
            raise invalid_param(f"Value {wait} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 "
                                "and <= 20, if provided.")
        names: set[str] = {*(params.get("AttributeNames") or ()), *(params.get("MessageSystemAttributeNames") or ())}
        for n in names:
            if n not in SYSTEM_NAMES and n != "All" and n not in qattrs.ALL_NAMES:
                raise sqs_error("InvalidAttributeName", f"Unknown Attribute {n}.")
        msgs = await self.engine.receive(q, max_n, vis, wait, params.get("ReceiveRequestAttemptId"))
        mnames = params.get("MessageAttributeNames") or []
        out = [render_message(q, m, names, mnames) for m in msgs]
        self.engine.release(msgs)
        return {"Messages": out} if out else {}

    async def DeleteMessage(self, ctx: RequestContext, params: DeleteMessageRequestTypeDef) -> dict[str, Any]:
        q = self._queue(ctx, params["QueueUrl"])
        with _single_handle():
            await self.engine.delete(q, params["ReceiptHandle"])
        return {}

    async def DeleteMessageBatch(self, ctx: RequestContext, params: DeleteMessageBatchRequestTypeDef) -> dict[str, Any]:
        q = self._queue(ctx, params["QueueUrl"])
        entries = _checked_batch(params.get("Entries"), "DeleteMessageBatchRequestEntry")
        outcomes = await self.engine.delete_batch(q, [e["ReceiptHandle"] for e in entries])
        return _batch_answer(entries, outcomes)

    async def ChangeMessageVisibility(self, ctx: RequestContext,
                                      params: ChangeMessageVisibilityRequestTypeDef) -> dict[str, Any]:
        q = self._queue(ctx, params["QueueUrl"])
        with _single_handle():
            await self.engine.change_visibility(q, params["ReceiptHandle"], params["VisibilityTimeout"])
        return {}

    async def ChangeMessageVisibilityBatch(self, ctx: RequestContext,
                                           params: ChangeMessageVisibilityBatchRequestTypeDef) -> dict[str, Any]:
        q = self._queue(ctx, params["QueueUrl"])
        entries = _checked_batch(params.get("Entries"), "ChangeMessageVisibilityBatchRequestEntry")
        outcomes = await self.engine.change_visibility_batch(
            q, [(e["ReceiptHandle"], e.get("VisibilityTimeout")) for e in entries])
        return _batch_answer(entries, outcomes)

    # -- dead-letter queues and move tasks ----------------------------------------------------------------
    async def ListDeadLetterSourceQueues(self, ctx: RequestContext,
                                         params: ListDeadLetterSourceQueuesRequestTypeDef) -> dict[str, Any]:
        q = self._queue(ctx, params["QueueUrl"])
        sources = [self._url(ctx, s) for s in self.catalog.dead_letter_sources(q)]
        out = _page(sources, "queueUrls", params.get("NextToken"), params.get("MaxResults"), 1000)
        out.setdefault("queueUrls", [])
        return out

    async def StartMessageMoveTask(self, ctx: RequestContext,
                                   params: StartMessageMoveTaskRequestTypeDef) -> dict[str, Any]:
        task = await self.moves.start(params["SourceArn"], params.get("DestinationArn"),
                                      params.get("MaxNumberOfMessagesPerSecond"))
        return {"TaskHandle": task.handle}

    async def CancelMessageMoveTask(self, ctx: RequestContext,
                                    params: CancelMessageMoveTaskRequestTypeDef) -> dict[str, Any]:
        task = await self.moves.cancel(params["TaskHandle"])
        return {"ApproximateNumberOfMessagesMoved": task.moved}

    async def ListMessageMoveTasks(self, ctx: RequestContext,
                                   params: ListMessageMoveTasksRequestTypeDef) -> dict[str, Any]:
        limit = params.get("MaxResults", 1)
        if not 1 <= limit <= 10:
            raise invalid_param(f"Value {limit} for parameter MaxResults is invalid. Reason: must be between "
                                "1 and 10.")
        tasks = self.moves.list(params["SourceArn"], limit)
        return {"Results": [t.describe() for t in tasks]}
