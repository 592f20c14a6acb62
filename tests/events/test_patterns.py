"""Event patterns through TestEventPattern (boto3), row by row after AWS's documented examples, and the
patterns EventBridge refuses, with its reasons. Each row names the page (and section) it follows:
OPS = https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html
PAT = https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html
ARR = https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-arrays.html
NUL = https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-null-values.html
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

EC2 = {  # the EC2 state-change event the guides use
    "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2", "account": "111122223333", "time": "2017-12-22T18:43:48Z", "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {"instance-id": "i-1234567890abcdef0", "state": "terminated"}}


def event(**detail: Any) -> dict[str, Any]:
    return {**EC2, "detail": detail}


ROWS = [
    # PAT "Creating event patterns": source and detail-type exact matches, and (or) within one array.
    ("PAT example", {"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]}, EC2, True),
    ("PAT values in an array are or-ed", {"detail": {"state": ["running", "terminated"]}}, EC2, True),
    ("PAT all fields must match", {"source": ["aws.ec2"], "detail": {"state": ["running"]}}, EC2, False),
    ("PAT matching is case-sensitive", {"source": ["AWS.EC2"]}, EC2, False),
    ("PAT a field absent from the event", {"detail": {"nope": ["x"]}}, EC2, False),
    # OPS Prefix matching: "Region": [{"prefix": "us-"}]
    ("OPS begins with", {"region": [{"prefix": "us-"}]}, EC2, True),
    ("OPS begins with, other prefix", {"region": [{"prefix": "eu-"}]}, EC2, False),
    ("OPS begins with (ignore case)", {"detail": {"state": [{"prefix": {"equals-ignore-case": "TERM"}}]}}, EC2, True),
    # OPS Suffix matching: "FileName": [{"suffix": ".png"}]
    ("OPS ends with", {"detail": {"FileName": [{"suffix": ".png"}]}}, event(FileName="cat.png"), True),
    ("OPS ends with, other suffix", {"detail": {"FileName": [{"suffix": ".png"}]}}, event(FileName="cat.jpg"), False),
    ("OPS ends with (ignore case)", {"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".PNG"}}]}},
     event(FileName="cat.png"), True),
    # OPS Equals-ignore-case matching: "name": [{"equals-ignore-case": "alice"}]
    ("OPS equals-ignore-case", {"detail": {"name": [{"equals-ignore-case": "alice"}]}}, event(name="ALICE"), True),
    ("OPS equals-ignore-case, other", {"detail": {"name": [{"equals-ignore-case": "alice"}]}}, event(name="bob"), False),
    # OPS Anything-but: "state": [{"anything-but": "initializing"}], with lists, numbers and the nested forms
    ("OPS anything-but", {"detail": {"state": [{"anything-but": "initializing"}]}}, EC2, True),
    ("OPS anything-but, the excluded value", {"detail": {"state": [{"anything-but": "terminated"}]}}, EC2, False),
    ("OPS anything-but list", {"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}},
     event(state="stopped"), False),
    ("OPS anything-but numbers", {"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}}, event(**{"x-limit": 250}),
     True),
    ("OPS anything-but needs the field", {"detail": {"state": [{"anything-but": "initializing"}]}}, event(), False),
    ("OPS anything-but prefix", {"region": [{"anything-but": {"prefix": "us-"}}]}, EC2, False),
    ("OPS anything-but suffix", {"detail": {"FileName": [{"anything-but": {"suffix": ".png"}}]}},
     event(FileName="a.txt"), True),
    ("OPS anything-but ignore case", {"detail": {"state": [{"anything-but": {"equals-ignore-case": "TERMINATED"}}]}},
     EC2, False),
    ("OPS anything-but wildcard", {"detail": {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}},
     event(FilePath="/usr/lib/x"), False),
    ("OPS anything-but wildcard, no match", {"detail": {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}},
     event(FilePath="/usr/bin/x"), True),
    # OPS Numeric matching: "c-count": [{"numeric": [">", 0, "<=", 5]}]
    ("OPS numeric range", {"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}]}}, event(**{"c-count": 5}), True),
    ("OPS numeric range, outside", {"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}]}}, event(**{"c-count": 0}),
     False),
    ("OPS numeric equals 3.018e2", {"detail": {"x-limit": [{"numeric": ["=", 3.018e2]}]}},
     event(**{"x-limit": 301.8}), True),
    ("OPS numeric needs a number", {"detail": {"c-count": [{"numeric": [">", 0]}]}}, event(**{"c-count": "5"}), False),
    # OPS IP address matching: "sourceIPAddress": [{"cidr": "10.0.0.0/24"}]
    ("OPS cidr", {"detail": {"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}}, event(sourceIPAddress="10.0.0.20"), True),
    ("OPS cidr, outside", {"detail": {"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}}, event(sourceIPAddress="10.0.1.2"),
     False),
    # OPS Exists matching: "c-count": [{"exists": false}] also matches when c-count is not a leaf
    ("OPS exists true", {"detail": {"state": [{"exists": True}]}}, EC2, True),
    ("OPS exists false", {"detail": {"c-count": [{"exists": False}]}}, EC2, True),
    ("OPS exists false, present", {"detail": {"state": [{"exists": False}]}}, EC2, False),
    ("OPS exists false on an object (not a leaf)", {"detail": {"c-count": [{"exists": False}]}},
     event(**{"c-count": {"c1": 100}}), True),
    # OPS Wildcard matching: "EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]
    ("OPS wildcard", {"detail": {"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}},
     event(EventBusArn="arn:aws:events:us-east-1:123456789012:event-bus/default"), True),
    ("OPS wildcard, other region", {"detail": {"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}},
     event(EventBusArn="arn:aws:events:us-west-2:123456789012:event-bus/default"), False),
    ("OPS wildcard, escaped star", {"detail": {"name": [{"wildcard": "a\\*b"}]}}, event(name="a*b"), True),
    ("OPS wildcard, escaped star is literal", {"detail": {"name": [{"wildcard": "a\\*b"}]}}, event(name="axb"), False),
    # OPS $or: {"$or": [{"c-count": [{"numeric": [">", 0]}]}, {"d-count": [...]}, {"x-limit": [...]}]}
    ("OPS $or", {"detail": {"$or": [{"c-count": [{"numeric": [">", 0, "<=", 5]}]},
                                    {"d-count": [{"numeric": ["<", 10]}]}]}}, event(**{"d-count": 3}), True),
    ("OPS $or, none", {"detail": {"$or": [{"c-count": [{"numeric": [">", 0, "<=", 5]}]},
                                          {"d-count": [{"numeric": ["<", 10]}]}]}}, event(**{"d-count": 30}), False),
    ("OPS $or across levels", {"$or": [{"source": ["aws.s3"]}, {"detail": {"state": ["terminated"]}}]}, EC2, True),
    # PAT nested objects: a pattern object under "detail" matches the event's object there.
    ("PAT nested", {"detail": {"bucket": {"name": ["photos"]}}}, event(bucket={"name": "photos"}), True),
    ("PAT nested, other value", {"detail": {"bucket": {"name": ["photos"]}}}, event(bucket={"name": "docs"}), False),
    # ARR: an array in the event matches when any of its elements matches.
    ("ARR any element", {"resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"]}, EC2, True),
    ("ARR no element", {"detail": {"tags": ["prod"]}}, event(tags=["dev", "test"]), False),
    ("ARR element of an array", {"detail": {"tags": ["prod"]}}, event(tags=["dev", "prod"]), True),
    ("ARR objects in an array", {"detail": {"items": {"sku": ["B"]}}}, event(items=[{"sku": "A"}, {"sku": "B"}]), True),
    # NUL: null and empty strings are values of their own.
    ("NUL null", {"detail": {"responseElements": [None]}}, event(responseElements=None), True),
    ("NUL null is not empty", {"detail": {"responseElements": [""]}}, event(responseElements=None), False),
    ("NUL empty string", {"detail": {"eventVersion": [""]}}, event(eventVersion=""), True),
    # PAT exact numbers and booleans.
    ("PAT numbers", {"detail": {"count": [5]}}, event(count=5.0), True),
    ("PAT booleans", {"detail": {"ok": [True]}}, event(ok=True), True),
    ("PAT true is not 1", {"detail": {"ok": [True]}}, event(ok=1), False),
]


@pytest.mark.parametrize(("row", "pattern", "evt", "expected"), ROWS, ids=[r[0] for r in ROWS])
def test_pattern_table(events: Any, row: str, pattern: dict[str, Any], evt: dict[str, Any], expected: bool) -> None:
    result = events.test_event_pattern(EventPattern=json.dumps(pattern), Event=json.dumps(evt))
    assert result["Result"] is expected, row


REFUSED = [
    ('["aws.ec2"]', "Filter is not an object"),
    ('{"source": "aws.ec2"}', '"source" must be an object or an array'),
    ('{"source": []}', "Empty arrays are not allowed"),
    ('{"source": [{"prefx": "aws."}]}', "Unrecognized match type prefx"),
    ('{"source": [{"prefix": "a", "suffix": "b"}]}', "Only one key allowed in match expression"),
    ('{"source": [{"prefix": 5}]}', "prefix match pattern must be a string"),
    ('{"source": [{"exists": "yes"}]}', "exists match pattern must be either true or false."),
    ('{"n": [{"numeric": [">", "five"]}]}', "Value of > must be numeric"),
    ('{"n": [{"numeric": ["<", 1, ">", 0]}]}', "Too many elements in numeric expression"),
    ('{"n": [{"numeric": [">", 5, "<", 1]}]}', "Bottom must be less than top"),
    ('{"n": [{"numeric": ["!", 5]}]}', "Unrecognized numeric range operator: !"),
    ('{"ip": [{"cidr": "10.0.0.0"}]}', "Malformed CIDR, one '/' required"),
    ('{"f": [{"wildcard": "a**b"}]}', "Consecutive wildcard characters at pos 2"),
    ('{"f": [{"anything-but": {"exists": true}}]}', "Unsupported anything-but pattern: exists"),
    ('{"f": [{"anything-but": {"prefix": ""}}]}', "Null prefix/suffix not allowed"),
    ('{"f": [[1]]}', "Match value must be String, number, true, false, or null"),
]


@pytest.mark.parametrize(("pattern", "reason"), REFUSED)
def test_refused_patterns(events: Any, pattern: str, reason: str) -> None:
    calls: list[Callable[[], Any]] = [
        lambda: events.test_event_pattern(EventPattern=pattern, Event=json.dumps(EC2)),
        lambda: events.put_rule(Name="r", EventPattern=pattern)]
    for call in calls:
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == "InvalidEventPatternException"
        assert err.value.response["Error"]["Message"] == f"Event pattern is not valid. Reason: {reason}"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_test_event_pattern_needs_an_event_envelope(events: Any) -> None:
    with pytest.raises(ClientError) as err:
        events.test_event_pattern(EventPattern='{"source": ["x"]}', Event='{"source": "x"}')
    assert err.value.response["Error"] == {"Code": "ValidationException", "Message": "Parameter Event is not valid."}
