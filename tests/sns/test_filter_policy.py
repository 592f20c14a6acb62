"""Filter policies: every operator matching and not matching, validation, and end-to-end delivery."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from sns_helpers import body, error

from conveyor.services.sns import filter_policy
from conveyor.wire import ServiceError

S = "String"
N = "Number"

# (policy, attributes that match, attributes that do not)
ATTRIBUTE_CASES = [
    ({"store": ["shop"]}, {"store": (S, "shop")}, {"store": (S, "other")}),
    ({"price": [100]}, {"price": (N, "100.0")}, {"price": (N, "101")}),
    ({"price": [100]}, {"price": (N, "1e2")}, {"price": (S, "100")}),
    ({"event": [{"prefix": "order-"}]}, {"event": (S, "order-created")}, {"event": (S, "user-created")}),
    ({"file": [{"suffix": ".png"}]}, {"file": (S, "a.png")}, {"file": (S, "a.jpg")}),
    ({"k": [{"anything-but": "x"}]}, {"k": (S, "y")}, {"k": (S, "x")}),
    ({"k": [{"anything-but": ["x", "y"]}]}, {"k": (S, "z")}, {"k": (S, "y")}),
    ({"k": [{"anything-but": [1, 2]}]}, {"k": (N, "3")}, {"k": (N, "2")}),
    ({"k": [{"anything-but": {"prefix": "tmp"}}]}, {"k": (S, "data")}, {"k": (S, "tmp-1")}),
    ({"k": [{"anything-but": {"equals-ignore-case": "TMP"}}]}, {"k": (S, "data")}, {"k": (S, "tmp")}),
    ({"k": [{"anything-but": "x"}]}, {"k": (S, "y")}, {}),  # absent attributes never match anything-but
    ({"n": [{"numeric": ["=", 5]}]}, {"n": (N, "5")}, {"n": (N, "5.1")}),
    ({"n": [{"numeric": ["<", 5]}]}, {"n": (N, "4.9")}, {"n": (N, "5")}),
    ({"n": [{"numeric": ["<=", 5]}]}, {"n": (N, "5")}, {"n": (N, "6")}),
    ({"n": [{"numeric": [">", 0, "<=", 10]}]}, {"n": (N, "10")}, {"n": (N, "0")}),
    ({"n": [{"numeric": [">=", 0, "<", 10]}]}, {"n": (N, "0")}, {"n": (N, "10")}),
    ({"n": [{"numeric": [">", 1]}]}, {"n": (N, "2")}, {"n": (S, "2")}),
    ({"k": [{"exists": True}]}, {"k": (S, "anything")}, {"other": (S, "x")}),
    ({"k": [{"exists": False}]}, {"other": (S, "x")}, {"k": (S, "x")}),
    ({"k": [{"equals-ignore-case": "HeLLo"}]}, {"k": (S, "hello")}, {"k": (S, "hell")}),
    ({"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": (S, "10.0.0.77")}, {"ip": (S, "10.0.1.1")}),
    ({"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": (S, "2001:db8::1")}, {"ip": (S, "2001:db9::1")}),
    ({"tags": ["red"]}, {"tags": ("String.Array", '["blue", "red"]')}, {"tags": ("String.Array", '["blue"]')}),
    # A String.Array holding one JSON value is that value; text that is not JSON matches nothing.
    ({"n": [100]}, {"n": ("String.Array", "100")}, {"n": ("String.Array", "one hundred")}),
    # Five digits of accuracy after the decimal point:
    # https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html
    ({"n": [100.123456789]}, {"n": (N, "100.1234567")}, {"n": (N, "100.1235")}),
    ({"n": [{"numeric": ["=", 0.000001]}]}, {"n": (N, "0")}, {"n": (N, "0.00001")}),
    ({"a": ["x"], "b": ["y"]}, {"a": (S, "x"), "b": (S, "y")}, {"a": (S, "x"), "b": (S, "z")}),
    ({"k": ["x", {"prefix": "y"}]}, {"k": (S, "yes")}, {"k": (S, "no")}),
    ({"$or": [{"a": ["1"]}, {"b": ["2"]}]}, {"b": (S, "2")}, {"a": (S, "2"), "b": (S, "1")}),
    ({"bin": ["x"]}, {"bin": (S, "x")}, {"bin": ("Binary", "x")}),
]


def _attrs(spec):
    out = {}
    for name, (dtype, value) in spec.items():
        out[name] = {"DataType": dtype, **({"BinaryValue": value.encode()} if dtype == "Binary"
                                            else {"StringValue": value})}
    return out


@pytest.mark.parametrize(("policy", "good", "bad"), ATTRIBUTE_CASES, ids=[json.dumps(c[0]) for c in ATTRIBUTE_CASES])
def test_attribute_operators(policy, good, bad):
    parsed = filter_policy.parse(json.dumps(policy), "MessageAttributes")
    assert filter_policy.matches(parsed, filter_policy.attributes_view(_attrs(good)))
    assert not filter_policy.matches(parsed, filter_policy.attributes_view(_attrs(bad)))


BODY_CASES = [
    ({"order": {"status": ["paid"]}}, {"order": {"status": "paid"}}, {"order": {"status": "open"}}),
    ({"order": {"total": [{"numeric": [">", 10]}]}}, {"order": {"total": 11.5}}, {"order": {"total": 3}}),
    ({"items": {"sku": [{"prefix": "A"}]}}, {"items": [{"sku": "B1"}, {"sku": "A2"}]}, {"items": [{"sku": "B"}]}),
    ({"tags": ["x"]}, {"tags": ["y", "x"]}, {"tags": ["y"]}),
    ({"a": {"b": {"c": [{"exists": True}]}}}, {"a": {"b": {"c": 1}}}, {"a": {"b": {}}}),
    # true, false and null are match values as the constraints page lists them; true matches a JSON true only.
    # https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html
    ({"flag": [True]}, {"flag": True}, {"flag": "true"}),
    ({"flag": [False]}, {"flag": False}, {"flag": 0}),
    ({"flag": [None]}, {"flag": None}, {"flag": False}),
]


@pytest.mark.parametrize(("policy", "good", "bad"), BODY_CASES, ids=[json.dumps(c[0]) for c in BODY_CASES])
def test_body_operators(policy, good, bad):
    parsed = filter_policy.parse(json.dumps(policy), "MessageBody")
    assert filter_policy.matches(parsed, filter_policy.body_view(json.dumps(good)))
    assert not filter_policy.matches(parsed, filter_policy.body_view(json.dumps(bad)))
    assert not filter_policy.matches(parsed, filter_policy.body_view("not json"))


INVALID = [
    ("not json", "failed to parse JSON"),
    ('["a"]', "must be a JSON object"),
    ('{"a": "b"}', '"a" must be an object or an array'),
    ('{"a": []}', "Empty arrays are not allowed"),
    ('{"a": [{"regex": "x"}]}', "Unrecognized match type regex"),
    ('{"a": [{"numeric": ["<", "x"]}]}', "Value of < must be numeric"),
    ('{"a": [{"numeric": [">", 5, "<", 1]}]}', "Bottom must be less than top"),
    ('{"a": [{"numeric": ["!", 5]}]}', "Unrecognized numeric range operator"),
    ('{"a": [{"exists": "yes"}]}', "exists match pattern must be either true or false"),
    ('{"a": [{"cidr": "10.0.0.300/8"}]}', "Nonstandard IP address"),
    ('{"a": [{"prefix": 5}]}', "prefix match pattern must be a string"),
    ('{"a": ["1"], "b": ["1"], "c": ["1"], "d": ["1"], "e": ["1"], "f": ["1"]}', "more than 5 keys"),
    (json.dumps({k: [str(i) for i in range(6)] for k in "abc"}), "too complex"),
    ('{"a": [{"anything-but": {"suffix": "x"}}]}', "Unsupported anything-but pattern: suffix"),
    # The remaining reasons are those of AWS's rule compiler (aws/event-ruler's JsonRuleCompiler).
    ('{"a": [{}]}', "Match expression name not found"),
    ('{"a": {}}', "Empty objects are not allowed"),
    ('{"$or": {"a": ["1"]}}', "It must be an Array followed with $or."),
    ('{"$or": [{"a": ["1"]}, "b"]}', "Only JSON object is allowed in array of $or relationship."),
    ('{"$or": [{"a": ["1"]}]}', "There must have at least 2 Objects in $or relationship."),
    ('{"a": [{"numeric": "> 5"}]}', "Value of numeric must be an array."),
    ('{"a": [{"numeric": ["=", 5, "<", 10]}]}', "Too many elements in numeric expression"),
    ('{"a": [{"numeric": [">", 2000000000]}]}', "Value must be between -1.0E9 and 1.0E9, inclusive"),
    ('{"a": [{"numeric": ["<", 5]}, {"numeric": ["<", 5], "exists": true}]}', "Too many elements in numeric expression"),
    ('{"a": [{"anything-but": true}]}', "Value of anything-but must be an array or single string/number value."),
    ('{"a": [{"anything-but": ["x", 1]}]}', "either all values are number or string, mixed type is not supported"),
    ('{"a": [{"anything-but": [null]}]}', "Inside anything but list, start|null|boolean is not supported."),
    ('{"a": [{"anything-but": {"equals-ignore-case": [1]}}]}', "Inside anything-but/equals-ignore-case list"),
    ('{"a": [{"prefix": "x", "suffix": "y"}]}', "Only one key allowed in match expression"),
]


@pytest.mark.parametrize(("text", "reason"), INVALID)
def test_invalid_policies(text, reason):
    with pytest.raises(ServiceError) as exc:
        filter_policy.parse(text, "MessageAttributes")
    assert exc.value.code == "InvalidParameter"
    assert exc.value.message.startswith("Invalid parameter: FilterPolicy: ") and reason in exc.value.message


def test_a_bad_cidr_is_refused_without_a_location():
    """The compiler parses a CIDR outside its JSON parser, so that reason names no place in the policy."""
    with pytest.raises(ServiceError) as exc:
        filter_policy.parse('{"ip": [{"cidr": "10.0.0.0"}]}', "MessageAttributes")
    assert exc.value.message == "Invalid parameter: FilterPolicy: Malformed CIDR, one '/' required: 10.0.0.0"


def test_an_empty_policy_and_equals_ignore_case_inside_anything_but_pass():
    assert filter_policy.parse("{}", "MessageAttributes") == {}
    parsed = filter_policy.parse('{"k": [{"anything-but": {"equals-ignore-case": ["TMP", "Old"]}}]}',
                                 "MessageAttributes")
    assert filter_policy.matches(parsed, filter_policy.attributes_view(_attrs({"k": (S, "new")})))
    assert not filter_policy.matches(parsed, filter_policy.attributes_view(_attrs({"k": (S, "old")})))


def test_nested_keys_need_the_message_body_scope():
    with pytest.raises(ServiceError) as exc:
        filter_policy.parse('{"a": {"b": ["c"]}}', "MessageAttributes")
    assert exc.value.message == ("Invalid parameter: Filter policy scope MessageAttributes does not support nested "
                                 "filter policy")


# Subscribe's answers for bad policies, as AWS sent them (recorded in LocalStack's AWS-validated
# tests/aws/services/sns/test_sns_filter_policy.snapshot.json): the reason, then where AWS's parser stood
# in the policy it re-serialized without spaces (a string value is read lazily, so its column is just past
# its opening quote; any other token's is just past the token).
SUBSCRIBE_REFUSALS = [
    ({"key": [["value"]]}, "Match value must be String, number, true, false, or null", 10),
    ({"key": [{"wrong-operator": True}]}, "Unrecognized match type wrong-operator", 31),
    ({"key": [{"suffix": "value", "prefix": "value2"}]}, "Only one key allowed in match expression", 37),
    ({"key": [{"suffix": None}]}, "suffix match pattern must be a string", 23),
    ({"key": {"suffix": "value"}}, '"suffix" must be an object or an array', 19),
    ({"key": [{"suffix": []}]}, "suffix match pattern must be a string", 20),
    ({"key": [{"numeric": []}]}, "Invalid member in numeric match: ]", 22),
    ({"key": [{"numeric": ["operator"]}]}, "Unrecognized numeric range operator: operator", 32),
    ({"key": [{"numeric": [1, "<="]}]}, "Invalid member in numeric match: 1", 22),
    ({"key": [{"numeric": ["=", "000"]}]}, "Value of equals must be numeric", 26),
    ({"key": [{"numeric": ["<", 100, ">", 10]}]}, "Too many elements in numeric expression", 30),
    ({"key": [{"numeric": [">=", 1, ">", 2]}]}, "Bad numeric range operator: >", 31),
    ({"key": [{"numeric": [">", 3, "<", 1]}]}, "Bottom must be less than top", 33),
    ({"key": [{"numeric": [">", 20, 30]}]}, "Bad value in numeric range: 30", 30),
    ({"key": [{"numeric": [">", 20, "<", "30"]}]}, "Value of < must be numeric", 33),
    ({"key": [{"numeric": [">", 20, "<", 30, "<", 50]}]}, "Too many terms in numeric range expression", 36),
    ({"key": [{"exists": "no"}]}, "exists match pattern must be either true or false.", 20),
    ({"key": [{"anything-but": {"wrong-operator": None}}]}, "Unsupported anything-but pattern: wrong-operator", 47),
    ({"key": [{"anything-but": {"suffix": "test"}}]}, "Unsupported anything-but pattern: suffix", 36),
    ({"key": [{"anything-but": {"prefix": False}}]}, "prefix match pattern must be a string", 40),
]


@pytest.mark.parametrize(("policy", "reason", "column"), SUBSCRIBE_REFUSALS,
                         ids=[json.dumps(c[0]) for c in SUBSCRIBE_REFUSALS])
def test_subscribe_refuses_a_bad_policy_as_aws_does(sns, policy, reason, column):
    topic = sns.create_topic(Name="refusals")["TopicArn"]
    with pytest.raises(ClientError) as exc:
        sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint="+15550100",
                      Attributes={"FilterPolicy": json.dumps(policy)})  # sent with spaces: AWS shows it without
    source = json.dumps(policy, separators=(",", ":"))
    assert error(exc.value) == ("InvalidParameter", f"Invalid parameter: Attributes Reason: FilterPolicy: {reason}"
                                                    f'\n at [Source: (String)"{source}"; line: 1, column: {column}]')
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []


def test_subscribe_refuses_limits_without_a_location(sns):
    topic = sns.create_topic(Name="limits")["TopicArn"]
    for policy, reason in (({k: ["v"] for k in "abcdef"}, "Filter policy can not have more than 5 keys"),
                           ({"a": [str(i) for i in range(151)]}, "Filter policy is too complex")):
        with pytest.raises(ClientError) as exc:
            sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint="+15550100",
                          Attributes={"FilterPolicy": json.dumps(policy)})
        assert error(exc.value) == ("InvalidParameter", f"Invalid parameter: Attributes Reason: FilterPolicy: {reason}")


def test_a_long_policy_is_quoted_up_to_500_characters(sns):
    """Jackson quotes at most 500 characters of the source and says how many it left out."""
    topic = sns.create_topic(Name="long")["TopicArn"]
    policy = {"key": ["x" * 600, ["nested"]]}
    with pytest.raises(ClientError) as exc:
        sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint="+15550100",
                      Attributes={"FilterPolicy": json.dumps(policy)})
    source = json.dumps(policy, separators=(",", ":"))
    column = source.index(',["nested"]') + 3  # just past the inner "["
    assert error(exc.value)[1].endswith(f'"{source[:500]}"[truncated {len(source) - 500} chars]; line: 1, '
                                        f"column: {column}]")


def test_filtering_end_to_end(sns, subscribed, receive, nothing_in):
    topic = sns.create_topic(Name="t")["TopicArn"]
    wants_red, _ = subscribed(topic, "red", FilterPolicy=json.dumps({"color": ["red"],
                                                                      "size": [{"numeric": [">", 3]}]}))
    by_body, _ = subscribed(topic, "body", FilterPolicyScope="MessageBody",
                            FilterPolicy=json.dumps({"detail": {"kind": [{"prefix": "ima"}]}}))
    everything, _ = subscribed(topic, "all")
    sns.publish(TopicArn=topic, Message=json.dumps({"detail": {"kind": "doc"}}),
                MessageAttributes={"color": {"DataType": "String", "StringValue": "red"},
                                   "size": {"DataType": "Number", "StringValue": "2"}})
    sns.publish(TopicArn=topic, Message=json.dumps({"detail": {"kind": "image"}}),
                MessageAttributes={"color": {"DataType": "String", "StringValue": "red"},
                                   "size": {"DataType": "Number", "StringValue": "4"}})
    assert len(receive(everything, 2)) == 2
    assert json.loads(body(receive(wants_red)[0])["Message"]) == {"detail": {"kind": "image"}}
    assert json.loads(body(receive(by_body)[0])["Message"]) == {"detail": {"kind": "image"}}
    nothing_in(wants_red)
    nothing_in(by_body)


def test_set_invalid_filter_policy_is_refused(sns, subscribed):
    topic = sns.create_topic(Name="t")["TopicArn"]
    _, sub = subscribed(topic, "q")
    with pytest.raises(ClientError) as exc:
        sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicy",
                                        AttributeValue='{"a": [{"nope": 1}]}')
    # SetSubscriptionAttributes says "FilterPolicy:" without Subscribe's "Attributes Reason: ".
    assert error(exc.value) == ("InvalidParameter", "Invalid parameter: FilterPolicy: Unrecognized match type nope"
                                                    '\n at [Source: (String)"{"a":[{"nope":1}]}"; line: 1, column: 16]')
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicy",
                                    AttributeValue='{"flag": [true, false, null]}')
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicyScope",
                                    AttributeValue="MessageBody")
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicy",
                                    AttributeValue='{"a": {"b": ["c"]}}')


def _message_attributes(spec):
    return {name: {"DataType": dtype, "StringValue": value} for name, (dtype, value) in spec.items()}


# (case, FilterPolicyScope, policy, what a matching publish carries, what a non-matching one carries):
# attributes for MessageAttributes scope, a JSON body for MessageBody scope.
DELIVERY_CASES = [
    ("exact", "MessageAttributes", {"store": ["shop"]}, {"store": (S, "shop")}, {"store": (S, "shops")}),
    ("exact-number", "MessageAttributes", {"price": [100]}, {"price": (N, "100.00")}, {"price": (N, "100.5")}),
    ("prefix", "MessageAttributes", {"event": [{"prefix": "order-"}]}, {"event": (S, "order-paid")},
     {"event": (S, "user-order-")}),
    ("suffix", "MessageAttributes", {"file": [{"suffix": ".png"}]}, {"file": (S, "a.png")}, {"file": (S, "a.png.txt")}),
    ("anything-but", "MessageAttributes", {"k": [{"anything-but": ["x", "y"]}]}, {"k": (S, "z")}, {"k": (S, "y")}),
    ("anything-but-prefix", "MessageAttributes", {"k": [{"anything-but": {"prefix": "tmp/"}}]}, {"k": (S, "img/a")},
     {"k": (S, "tmp/a")}),
    ("numeric", "MessageAttributes", {"n": [{"numeric": [">", 0, "<=", 10]}]}, {"n": (N, "10")}, {"n": (N, "0")}),
    ("exists", "MessageAttributes", {"k": [{"exists": True}]}, {"k": (S, "v")}, {"other": (S, "v")}),
    ("not-exists", "MessageAttributes", {"k": [{"exists": False}]}, {"other": (S, "v")}, {"k": (S, "v")}),
    ("equals-ignore-case", "MessageAttributes", {"k": [{"equals-ignore-case": "JPEG"}]}, {"k": (S, "jpeg")},
     {"k": (S, "jpg")}),
    ("cidr", "MessageAttributes", {"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": (S, "10.0.0.9")}, {"ip": (S, "10.0.1.9")}),
    ("or", "MessageAttributes", {"$or": [{"a": ["1"]}, {"b": [{"numeric": [">", 5]}]}]}, {"b": (N, "6")},
     {"a": (S, "2"), "b": (N, "5")}),
    ("and", "MessageAttributes", {"a": ["1"], "b": ["2"]}, {"a": (S, "1"), "b": (S, "2")}, {"a": (S, "1")}),
    ("body-nested", "MessageBody", {"order": {"status": ["paid"], "total": [{"numeric": [">=", 10]}]}},
     {"order": {"status": "paid", "total": 10}}, {"order": {"status": "paid", "total": 9.99}}),
    ("body-array-of-objects", "MessageBody", {"items": {"sku": [{"prefix": "A-"}]}},
     {"items": [{"sku": "B-1"}, {"sku": "A-2"}]}, {"items": [{"sku": "B-1"}]}),
    ("body-or", "MessageBody", {"$or": [{"kind": ["image"]}, {"size": [{"numeric": ["<", 1]}]}]},
     {"kind": "doc", "size": 0}, {"kind": "doc", "size": 1}),
    ("body-exists", "MessageBody", {"meta": {"owner": [{"exists": True}]}}, {"meta": {"owner": "me"}},
     {"meta": {"group": "us"}}),
]


@pytest.mark.parametrize(("case", "scope", "policy", "good", "bad"), DELIVERY_CASES, ids=[c[0] for c in DELIVERY_CASES])
def test_each_operator_through_publish(sns, sqs, subscribed, case, scope, policy, good, bad):
    """A real subscription with the policy; one publish that must arrive and one that must not.

    Publish answers once every matching queue holds the message, so what the queue holds after the
    two publishes is final: no waiting is needed to see that the second one was filtered out.
    """
    topic = sns.create_topic(Name=f"filter-{case}")["TopicArn"]
    url, _ = subscribed(topic, f"filter-{case}", RawMessageDelivery="true", FilterPolicyScope=scope,
                        FilterPolicy=json.dumps(policy))
    for label, spec in (("filtered out", bad), ("delivered", good)):
        if scope == "MessageBody":
            sns.publish(TopicArn=topic, Message=json.dumps({**spec, "label": label}))
        else:
            sns.publish(TopicArn=topic, Message=label, MessageAttributes=_message_attributes(spec))
    got = []
    for _ in range(3):
        got += [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                                        WaitTimeSeconds=0).get("Messages", [])]
    labels = [json.loads(b)["label"] if scope == "MessageBody" else b for b in got]
    assert labels == ["delivered"]
