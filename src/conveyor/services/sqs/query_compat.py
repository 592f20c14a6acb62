"""SQS's legacy query-protocol names, layered onto botocore's JSON-only SQS model.

The current SQS model only describes the JSON protocol; older SDKs still speak query with the names of
the 2012-11-05 query API (`Attribute.1.Name`, `SendMessageBatchRequestEntry.1.Id`, ...).
See https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html and the
"Request Parameters"/"Examples" sections of each action in the SQS API reference (query examples).
"""

from __future__ import annotations

import copy
from typing import Any

from botocore.model import ServiceModel

from conveyor.protocol.query import QueryCodec
from conveyor.protocol.validate import ValidationCodes
from conveyor.wire import HttpResponse, RequestContext, ServiceError

XML_NAMESPACE = "http://queue.amazonaws.com/doc/2012-11-05/"

# error shape -> legacy query code (the awsQueryError codes of the old query model)
QUERY_ERROR_CODES = {
    "InvalidParameterValueException": "InvalidParameterValue",
    "MissingRequiredParameterException": "MissingParameter",
    "QueueDoesNotExist": "AWS.SimpleQueueService.NonExistentQueue",
    "QueueNameExists": "QueueAlreadyExists",
    "QueueDeletedRecently": "AWS.SimpleQueueService.QueueDeletedRecently",
    "MessageNotInflight": "AWS.SimpleQueueService.MessageNotInflight",
    "PurgeQueueInProgress": "AWS.SimpleQueueService.PurgeQueueInProgress",
    "TooManyEntriesInBatchRequest": "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
    "EmptyBatchRequest": "AWS.SimpleQueueService.EmptyBatchRequest",
    "BatchEntryIdsNotDistinct": "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
    "BatchRequestTooLong": "AWS.SimpleQueueService.BatchRequestTooLong",
    "InvalidBatchEntryId": "AWS.SimpleQueueService.InvalidBatchEntryId",
    "UnsupportedOperation": "AWS.SimpleQueueService.UnsupportedOperation",
    "InvalidIdFormat": "InvalidIdFormat",
    "ReceiptHandleIsInvalid": "ReceiptHandleIsInvalid",
    "InvalidAttributeName": "InvalidAttributeName",
    "InvalidAttributeValue": "InvalidAttributeValue",
    "InvalidMessageContents": "InvalidMessageContents",
    "OverLimit": "OverLimit",
    "ResourceNotFoundException": "ResourceNotFoundException",
    "RequestThrottled": "RequestThrottled",
    "InvalidAddress": "InvalidAddress",
    "InvalidSecurity": "InvalidSecurity",
}

# (structure, member) -> locationName of the member (maps: the flattened entry name)
_MEMBER_NAMES = {
    ("CreateQueueRequest", "Attributes"): "Attribute",
    ("CreateQueueRequest", "tags"): "Tag",
    ("SetQueueAttributesRequest", "Attributes"): "Attribute",
    ("GetQueueAttributesResult", "Attributes"): "Attribute",
    ("SendMessageRequest", "MessageAttributes"): "MessageAttribute",
    ("SendMessageRequest", "MessageSystemAttributes"): "MessageSystemAttribute",
    ("SendMessageBatchRequestEntry", "MessageAttributes"): "MessageAttribute",
    ("SendMessageBatchRequestEntry", "MessageSystemAttributes"): "MessageSystemAttribute",
    ("Message", "MessageAttributes"): "MessageAttribute",
    ("Message", "Attributes"): "Attribute",
    ("TagQueueRequest", "Tags"): "Tag",
    ("ListQueueTagsResult", "Tags"): "Tag",
}

# list shape -> locationName of its (flattened) members
_LIST_MEMBER_NAMES = {
    "AttributeNameList": "AttributeName",
    "ReceiveAttributeNameList": "AttributeName",
    "MessageAttributeNameList": "MessageAttributeName",
    "MessageSystemAttributeList": "MessageSystemAttributeName",
    "StringList": "StringListValue",
    "BinaryList": "BinaryListValue",
    "SendMessageBatchRequestEntryList": "SendMessageBatchRequestEntry",
    "DeleteMessageBatchRequestEntryList": "DeleteMessageBatchRequestEntry",
    "ChangeMessageVisibilityBatchRequestEntryList": "ChangeMessageVisibilityBatchRequestEntry",
    "SendMessageBatchResultEntryList": "SendMessageBatchResultEntry",
    "DeleteMessageBatchResultEntryList": "DeleteMessageBatchResultEntry",
    "ChangeMessageVisibilityBatchResultEntryList": "ChangeMessageVisibilityBatchResultEntry",
    "BatchResultErrorEntryList": "BatchResultErrorEntry",
    "MessageList": "Message",
    "QueueUrlList": "QueueUrl",
    "TagKeyList": "TagKey",
    "AWSAccountIdList": "AWSAccountId",
    "ActionNameList": "ActionName",
    "ListMessageMoveTasksResultEntryList": "ListMessageMoveTasksResultEntry",
}

# map shape -> (key name, value name)
_MAP_ENTRY_NAMES = {
    "QueueAttributeMap": ("Name", "Value"),
    "TagMap": ("Key", "Value"),
    "MessageBodyAttributeMap": ("Name", "Value"),
    "MessageBodySystemAttributeMap": ("Name", "Value"),
    "MessageSystemAttributeMap": ("Name", "Value"),
}


def query_model_dict(json_model: dict[str, Any]) -> dict[str, Any]:
    model = copy.deepcopy(json_model)
    meta = model["metadata"]
    meta["protocol"] = "query"
    meta["protocols"] = ["query"]
    meta["xmlNamespace"] = XML_NAMESPACE
    for key in ("awsQueryCompatible", "jsonVersion", "targetPrefix"):
        meta.pop(key, None)
    shapes = model["shapes"]
    for name, shape in shapes.items():
        kind = shape["type"]
        if kind in ("list", "map"):
            shape["flattened"] = True
        if kind == "list" and name in _LIST_MEMBER_NAMES:
            shape["member"]["locationName"] = _LIST_MEMBER_NAMES[name]
        if kind == "map" and name in _MAP_ENTRY_NAMES:
            key_name, value_name = _MAP_ENTRY_NAMES[name]
            shape["key"]["locationName"] = key_name
            shape["value"]["locationName"] = value_name
        if kind == "structure":
            for member_name, ref in shape["members"].items():
                if shapes[ref["shape"]]["type"] in ("list", "map"):
                    ref["flattened"] = True
                loc = _MEMBER_NAMES.get((name, member_name))
                if loc:
                    ref["locationName"] = loc
            if name in ("MessageAttributeValue", "MessageSystemAttributeValue"):
                shape["members"]["StringListValues"]["locationName"] = "StringListValue"
                shape["members"]["BinaryListValues"]["locationName"] = "BinaryListValue"
        if shape.get("exception") and name in QUERY_ERROR_CODES:
            shape["error"] = {"code": QUERY_ERROR_CODES[name], "httpStatusCode": 400, "senderFault": True}
    # A flattened list's wire name is its items' name; name the member references the same way too, so
    # codecs that look a member up by its own name (before descending into the list) find it.
    for shape in shapes.values():
        if shape["type"] != "structure":
            continue
        for ref in shape["members"].values():
            target = shapes[ref["shape"]]
            if target["type"] == "list" and "locationName" in target["member"] and "locationName" not in ref:
                ref["locationName"] = target["member"]["locationName"]
    for op_name, op in model["operations"].items():
        if "output" in op:
            op["output"]["resultWrapper"] = f"{op_name}Result"
    return model


class SqsQueryCodec(QueryCodec):
    """The query protocol as SQS answers it: errors carry an empty <Detail/>, and an unknown queue is "for
    this wsdl version" (the JSON protocol's message lacks those words), as AWS answers both; see
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-xml-api-responses.html
    """

    def __init__(self, model: ServiceModel, validation_codes: ValidationCodes) -> None:
        super().__init__(model, namespace=XML_NAMESPACE, validation_codes=validation_codes, empty_detail=True)

    def serialize_error(self, ctx: RequestContext, error: ServiceError) -> HttpResponse:
        if error.code == "QueueDoesNotExist":
            error = ServiceError(error.code, "The specified queue does not exist for this wsdl version.",
                                 error.status, sender_fault=error.sender_fault, query_code=error.query_code,
                                 headers=error.headers)
        return super().serialize_error(ctx, error)
