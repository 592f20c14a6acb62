"""Message attributes as a sender gives them again and again: the digests SQS answers with match other
implementations' published ones, an attribute name seen before with one data type is judged and hashed
afresh under another, and a refused name or type is refused every time it comes, with AWS's words."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sqs_helpers import is_error


def refused(call: Callable[[], object], code: str, message: str) -> bool:
    with pytest.raises(ClientError) as caught:
        call()
    return is_error(caught.value, code) and caught.value.response["Error"]["Message"] == message

# Published by the aws-md5-of-message-attributes npm package (an implementation independent of ours) for
# these attributes: https://npmjs.com/package/aws-md5-of-message-attributes
STRING = {"attribName1": {"DataType": "String", "StringValue": "attribValue 1"}}
NUMBER = {"customNumberTypeAttrib": {"DataType": "Number.float",
                                     "StringValue": "4563442423554324324264524243.32543234"}}
BINARY = {"binaryAttribute": {"DataType": "Binary", "BinaryValue": b"Hello binary world!"}}
PUBLISHED = [
    (STRING, "19e27d4e946b072f3f58da80d94fd778"),
    (NUMBER, "9fe1b90bbd9965bdf77bac517c7d2495"),
    (BINARY, "31a92b15d92f8db860eda32aceb656c3"),
    ({**STRING, **NUMBER, **BINARY}, "c932db14a896c663f83c260297d594ff"),
]


def test_digests_match_the_published_ones_on_send_and_receive(sqs: Any, queue: Any) -> None:
    url = queue("digests")
    for _ in range(2):  # (the second time, the names and types are known already)
        for attrs, digest in PUBLISHED:
            assert sqs.send_message(QueueUrl=url, MessageBody="m",
                                    MessageAttributes=attrs)["MD5OfMessageAttributes"] == digest
    entries = [{"Id": str(i), "MessageBody": "b", "MessageAttributes": attrs} for i, (attrs, _) in enumerate(PUBLISHED)]
    answer = sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert [ok["MD5OfMessageAttributes"] for ok in sorted(answer["Successful"], key=lambda ok: ok["Id"])] == \
        [digest for _, digest in PUBLISHED]
    expected = {digest for _, digest in PUBLISHED}
    got: set[str] = set()
    for _ in range(4):
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                     VisibilityTimeout=600).get("Messages", []):
            got.add(m["MD5OfMessageAttributes"])
    assert got == expected


def test_one_name_under_several_types_is_judged_and_hashed_by_each(sqs: Any, queue: Any) -> None:
    url = queue("one-name")
    shapes = [{"DataType": "String", "StringValue": "7"}, {"DataType": "Number", "StringValue": "7"},
              {"DataType": "Binary", "BinaryValue": b"7"}, {"DataType": "String.x", "StringValue": "7"}]
    answer = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": "b", "MessageAttributes": {"same": shape}} for i, shape in enumerate(shapes)])
    assert not answer.get("Failed")
    digests = {ok["MD5OfMessageAttributes"] for ok in answer["Successful"]}
    assert len(digests) == 4
    # A Number seen valid before is still refused when its value is not a number; Binary with a string
    # value is refused though the name and the type were accepted a moment ago.
    assert refused(lambda: sqs.send_message(QueueUrl=url, MessageBody="b", MessageAttributes={
        "same": {"DataType": "Number", "StringValue": "seven"}}), "InvalidParameterValue",
        "Could not cast message attribute 'same' value to number.")
    assert refused(lambda: sqs.send_message(QueueUrl=url, MessageBody="b", MessageAttributes={
        "same": {"DataType": "Binary", "StringValue": "7"}}), "InvalidParameterValue",
        "Message (user) attribute 'same' must contain a non-empty value of type 'Binary'.")


@pytest.mark.parametrize(("attrs", "message"), [
    ({"AWS.name": {"DataType": "String", "StringValue": "v"}},
     "You can't use message attribute names beginning with 'AWS.' or 'Amazon.'. These strings are reserved for "
     "internal use. Additionally, they cannot start or end with '.'."),
    ({"bad name": {"DataType": "String", "StringValue": "v"}},
     "Message (user) attributes name can only contain upper and lower score characters, digits, periods, "
     "hyphens and underscores. "),
    ({"good": {"DataType": "Text", "StringValue": "v"}},
     "The type of message (user) attribute 'good' is invalid. You must use only the following supported type "
     "prefixes: Binary, Number, String."),
    ({"good": {"DataType": "String", "StringValue": "tab\tok, nul \x00 not"}},
     "The message attribute 'good' contains invalid characters."),
])
def test_a_refused_name_type_or_value_is_refused_every_time(sqs: Any, queue: Any, attrs: dict[str, Any],
                                                             message: str) -> None:
    url = queue("refusals")
    sqs.send_message(QueueUrl=url, MessageBody="b", MessageAttributes={
        "good": {"DataType": "String", "StringValue": "tab\tok"}})
    code = "InvalidMessageContents" if "invalid characters" in message else "InvalidParameterValue"
    for _ in range(2):
        assert refused(lambda: sqs.send_message(QueueUrl=url, MessageBody="b", MessageAttributes=attrs), code,
                        message)
