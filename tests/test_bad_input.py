"""Malformed requests get AWS's error codes, never a 500, and the server stays up."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from tests.conftest import lambda_role
from tests.helpers import signed
from tests.lambda_.conftest import make_zip

HANDLER = "def lambda_handler(event, context):\n    return event\n"
JSON_HEADERS = {"Content-Type": "application/x-amz-json-1.0"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def sqs_json(endpoint: str, operation: str, body: bytes | str) -> requests.Response:
    headers = {**JSON_HEADERS, "X-Amz-Target": f"AmazonSQS.{operation}"}
    return requests.post(endpoint + "/", data=body, headers=headers, timeout=10)


def test_malformed_json_body(endpoint: str) -> None:
    response = sqs_json(endpoint, "ListQueues", b"{not json")
    assert response.status_code == 400
    assert response.json()["__type"].endswith("#SerializationException")


def test_json_body_must_be_an_object(endpoint: str) -> None:
    response = sqs_json(endpoint, "ListQueues", b"[1, 2]")
    assert response.status_code == 400
    assert response.json()["__type"].endswith("#SerializationException")


def test_wrong_member_type(endpoint: str) -> None:
    response = sqs_json(endpoint, "CreateQueue", json.dumps({"QueueName": 42}))
    assert response.status_code == 400
    assert "SerializationException" in response.json()["__type"]


def test_unknown_json_operation(endpoint: str) -> None:
    response = sqs_json(endpoint, "StealQueue", b"{}")
    assert response.status_code == 400
    assert response.json()["__type"].endswith("#UnknownOperationException")


def test_missing_required_member_json(endpoint: str) -> None:
    # AWS names the JSON error by its model shape and sends the legacy code in x-amzn-query-error:
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-json-api-responses.html
    for body in (b"{}", b""):  # an empty body is an empty request
        response = sqs_json(endpoint, "CreateQueue", body)
        assert response.status_code == 400
        assert response.json() == {"__type": "com.amazonaws.sqs#MissingRequiredParameterException",
                                   "message": "The request must contain the parameter QueueName."}
        assert response.headers["x-amzn-query-error"] == "MissingParameter;Sender"


def test_unknown_query_action(endpoint: str) -> None:
    response = requests.post(endpoint + "/000000000000/q", data="Action=StealQueue&Version=2012-11-05",
                             headers=FORM, timeout=10)
    assert response.status_code == 400
    assert "<Code>InvalidAction</Code>" in response.text
    assert "<ErrorResponse" in response.text


def test_malformed_form_body(endpoint: str) -> None:
    response = requests.post(endpoint + "/000000000000/q", data=b"Action=ListQueues&\xff\xfe=%zz",
                             headers=FORM, timeout=10)
    assert response.status_code == 400
    assert "<ErrorResponse" in response.text


def test_query_missing_parameter(endpoint: str) -> None:
    response = requests.post(endpoint + "/", data="Action=CreateQueue&Version=2012-11-05", headers=FORM, timeout=10)
    assert response.status_code == 400
    assert "<Code>MissingParameter</Code>" in response.text


def test_query_bad_integer(endpoint: str) -> None:
    body = "Action=ReceiveMessage&QueueUrl=http://x/000000000000/q&MaxNumberOfMessages=ten"
    response = requests.post(endpoint + "/", data=body, headers=FORM, timeout=10)
    assert response.status_code == 400
    assert "<Code>InvalidParameterValue</Code>" in response.text


def test_server_survives_garbage(endpoint: str) -> None:
    for body in (b"\x00" * 1000, b"{" * 5000, b"[" * 200_000, "é".encode() * 100):
        sqs_json(endpoint, "SendMessage", body)
    assert requests.get(endpoint + "/_conveyor/health", timeout=10).status_code == 200


def test_unparsable_queue_url_is_invalid_address(endpoint: str) -> None:
    """`http://[` (an unclosed IPv6 host) is not a queue address: AWS's 404 InvalidAddress, in both protocols."""
    response = sqs_json(endpoint, "SendMessage", json.dumps({"QueueUrl": "http://[", "MessageBody": "x"}))
    assert response.status_code == 404
    assert response.json()["__type"].endswith("#InvalidAddress")
    assert response.json()["message"] == "The address http://[ is not valid for this endpoint."
    response = requests.post(endpoint + "/", data="Action=SendMessage&QueueUrl=http%3A%2F%2F%5B&MessageBody=x",
                             headers=FORM, timeout=10)
    assert response.status_code == 404
    assert "<Code>InvalidAddress</Code>" in response.text


def test_unparsable_http_subscription_endpoint(endpoint: str, client: Any) -> None:
    sns = client("sns")
    topic = sns.create_topic(Name="t")["TopicArn"]
    for bad in ("http://[", "http://host:99999/", "http://127.0.0.1:9/hook\x00", "http://127.0.0.1:9/a b"):
        with pytest.raises(ClientError) as caught:
            sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=bad)
        assert caught.value.response["Error"]["Code"] == "InvalidParameter"


def test_names_with_a_trailing_newline_are_refused(endpoint: str, client: Any) -> None:
    """Patterns are matched whole: `$` alone would let "name\\n" through."""
    sqs, sns = client("sqs"), client("sns")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    checks = [
        (lambda: sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes={
            "attr\n": {"DataType": "String", "StringValue": "v"}}), "InvalidParameterValue"),
        (lambda: sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes={
            "attr": {"DataType": "String\n", "StringValue": "v"}}), "InvalidParameterValue"),
        (lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": json.dumps({
            "deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:q\n", "maxReceiveCount": 1})}),
         "InvalidAttributeValue"),
        (lambda: sns.create_topic(Name="topic\n"), "InvalidParameter"),
        (lambda: client("s3").create_bucket(Bucket="bucket\n"), "InvalidBucketName"),
    ]
    for call, code in checks:
        with pytest.raises(ClientError) as caught:
            call()
        assert caught.value.response["Error"]["Code"] == code
        assert "Dead-letter target ARN" in caught.value.response["Error"]["Message"] or code != "InvalidAttributeValue"
    assert sns.list_topics()["Topics"] == []
    assert client("s3").list_buckets()["Buckets"] == []


def test_null_inside_a_list_or_map_is_a_serialization_error(endpoint: str, client: Any) -> None:
    """Collections are dense: a null in one is refused (once it reached the engine and crashed it)."""
    url = client("sqs").create_queue(QueueName="q")["QueueUrl"]
    for operation, body in [
        ("CreateQueue", {"QueueName": "n", "Attributes": {"VisibilityTimeout": None}}),
        ("ReceiveMessage", {"QueueUrl": url, "MessageAttributeNames": [None]}),
        ("TagQueue", {"QueueUrl": url, "Tags": {"a": None}}),
    ]:
        response = sqs_json(endpoint, operation, json.dumps(body))
        assert response.status_code == 400, operation
        assert response.json()["__type"].endswith("#SerializationException"), operation


def test_query_map_entry_without_its_value(endpoint: str) -> None:
    """`Attributes.entry.1.key` with no `.value` is a missing parameter, not a null passed on."""
    body = "Action=CreateTopic&Version=2010-03-31&Name=t&Attributes.entry.1.key=DisplayName"
    response = requests.post(endpoint + "/", data=body, headers={**FORM, **signed("sns")}, timeout=10)
    assert response.status_code == 400
    assert "<Code>MissingParameter</Code>" in response.text or "<Code>InvalidParameter</Code>" in response.text
    assert "Attributes.entry.1.value" in response.text
    body = "Action=CreateQueue&Version=2012-11-05&QueueName=q2&Attribute.1.Name=VisibilityTimeout"
    response = requests.post(endpoint + "/", data=body, headers=FORM, timeout=10)
    assert response.status_code == 400 and "<Code>MissingParameter</Code>" in response.text


def test_timestamp_out_of_range(endpoint: str, client: Any) -> None:
    """A JSON number past any date (1e400 parses as infinity) is a bad value, not an overflow."""
    body = {"EventSourceArn": "arn:aws:sqs:us-east-1:000000000000:q", "FunctionName": "f",
            "StartingPositionTimestamp": "1e400"}
    raw = json.dumps(body).replace('"1e400"', "1e400")
    response = requests.post(endpoint + "/2015-03-31/event-source-mappings/", data=raw, timeout=10,
                             headers={"Content-Type": "application/json", **signed("lambda")})
    assert response.status_code == 400
    assert response.headers["x-amzn-ErrorType"].startswith(("SerializationException", "ValidationException",
                                                            "InvalidParameterValueException"))


def test_documents_nested_past_the_recursion_limit(endpoint: str, client: Any) -> None:
    """`[[[[...` thousands deep makes json.loads raise RecursionError, not ValueError: still a 400."""
    deep = "[" * 20_000
    sqs, sns, s3, lam = client("sqs"), client("sns"), client("s3"), client("lambda")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    topic = sns.create_topic(Name="t")["TopicArn"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sub = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)["SubscriptionArn"]
    s3.create_bucket(Bucket="deep-bucket")
    role = lambda_role(client("iam"))
    lam.create_function(FunctionName="f", Runtime="python3.12", Role=role,
                        Handler="lambda_function.lambda_handler", Code={"ZipFile": make_zip(HANDLER)})
    calls = [
        (lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": deep}), "InvalidAttributeValue"),
        (lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": deep}),
         "InvalidAttributeValue"),
        (lambda: sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicy",
                                                 AttributeValue=deep), "InvalidParameter"),
        (lambda: sns.publish(TopicArn=topic, Message=deep, MessageStructure="json"), "InvalidParameter"),
        (lambda: s3.put_bucket_policy(Bucket="deep-bucket", Policy=deep), "MalformedPolicy"),
        (lambda: lam.invoke(FunctionName="f", Payload=deep.encode()), "InvalidRequestContentException"),
    ]
    for call, code in calls:
        with pytest.raises(ClientError) as caught:
            call()
        assert caught.value.response["Error"]["Code"] == code


def test_bucket_policy_shapes_the_evaluation_cannot_read(endpoint: str, client: Any) -> None:
    """Refused when put, rather than failing every anonymous request to the bucket afterwards."""
    s3 = client("s3")
    s3.create_bucket(Bucket="shapes")
    statement = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::shapes/*"}
    for bad in ([1], [{**statement, "Action": [1]}], [{**statement, "Resource": {"a": 1}}]):
        with pytest.raises(ClientError) as caught:
            s3.put_bucket_policy(Bucket="shapes", Policy=json.dumps({"Version": "2012-10-17", "Statement": bad}))
        assert caught.value.response["Error"]["Code"] == "MalformedPolicy"
    assert requests.get(f"{endpoint}/shapes/anything", timeout=10).status_code == 403


def test_values_echoed_in_response_headers_cannot_split_or_stall_the_response(endpoint: str, client: Any) -> None:
    """A response-* override or a version id with CR/LF would inject headers; one outside ISO-8859-1 could not
    be written at all (the client waited forever). S3 refuses both with InvalidArgument."""
    s3 = client("s3")
    s3.create_bucket(Bucket="echo")
    s3.put_object(Bucket="echo", Key="k", Body=b"x")
    for query, argument in [("response-content-type=a%0D%0ASet-Cookie:%20x=1", "response-content-type"),
                            ("response-content-disposition=%C5%81", "response-content-disposition"),
                            ("versionId=%C5%81", "versionId"), ("versionId=a%0D%0AX-Evil:%201", "versionId")]:
        for method in ("GET", "DELETE") if argument == "versionId" else ("GET",):
            response = requests.request(method, f"{endpoint}/echo/k?{query}", headers=signed("s3"), timeout=10)
            assert response.status_code == 400, (method, query)
            assert "<Code>InvalidArgument</Code>" in response.text
            assert f"<ArgumentName>{argument}</ArgumentName>" in response.text
            assert "set-cookie" not in response.headers and "x-evil" not in response.headers
    assert s3.get_object(Bucket="echo", Key="k", ResponseContentType="text/plain")["ContentType"] == "text/plain"


def test_error_documents_stay_well_formed_xml(endpoint: str) -> None:
    """Echoed input XML cannot carry (NUL, other C0 controls) is replaced, so SDKs can still read the error."""
    from xml.etree import ElementTree

    response = requests.post(endpoint + "/", data="Action=%1F&Version=2012-11-05", headers=FORM, timeout=10)
    assert response.status_code == 400
    assert ElementTree.fromstring(response.content).find(".//{*}Code").text == "InvalidAction"
    response = requests.put(endpoint + "/bad%00name", headers=signed("s3"), timeout=10)
    assert response.status_code == 400
    assert ElementTree.fromstring(response.content).find("BucketName").text == "bad\ufffdname"


def test_put_metric_data_without_data(endpoint: str, client: Any) -> None:
    """MetricData is optional in the model (EntityMetricData may stand instead): a call with neither is a
    missing parameter, not an internal error."""
    with pytest.raises(ClientError) as caught:
        client("cloudwatch").put_metric_data(Namespace="App")
    assert caught.value.response["Error"]["Code"] in ("MissingRequiredParameterException", "MissingParameter")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_metric_alarm_without_its_evaluation(endpoint: str, client: Any) -> None:
    """EvaluationPeriods and ComparisonOperator are optional in the current model (PromQL alarms need neither)
    yet a metric alarm needs both: a missing parameter, not an internal error."""
    cloudwatch = client("cloudwatch")
    alarm = {"AlarmName": "a", "Namespace": "App", "MetricName": "m", "Statistic": "Sum", "Period": 60,
             "Threshold": 1.0, "EvaluationPeriods": 1, "ComparisonOperator": "GreaterThanThreshold"}
    for missing in ("EvaluationPeriods", "ComparisonOperator"):
        with pytest.raises(ClientError) as caught:
            cloudwatch.put_metric_alarm(**{k: v for k, v in alarm.items() if k != missing})
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert missing in caught.value.response["Error"]["Message"]
    cloudwatch.put_metric_alarm(**alarm)


def test_null_inside_a_cbor_list_is_a_serialization_error(endpoint: str) -> None:
    from conveyor.protocol.cbor import decode, encode

    body = encode({"Namespace": "App", "MetricData": [{"MetricName": "m", "Value": 1.0}, None]})
    headers = {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor", "Accept": "application/cbor",
               **signed("monitoring")}
    response = requests.post(f"{endpoint}/service/GraniteServiceVersion20100801/operation/PutMetricData",
                             data=body, headers=headers, timeout=10)
    assert response.status_code == 400
    assert decode(response.content)["__type"].endswith("SerializationException")


def test_json_strings_must_be_unicode(endpoint: str) -> None:
    """Bytes of a UTF-16 surrogate (not UTF-8) or a lone surrogate escape cannot be stored or sent on:
    SerializationException, where they once reached CloudWatch Logs' storage and failed there."""
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Logs_20140328.CreateLogGroup",
               **signed("logs")}
    for body in (b'{"logGroupName": "/a\xed\xa0\x80"}', b'{"logGroupName": "/a\\ud800"}',
                 b'{"logGroupName": "/a", "tags": {"\\udc00": "v"}}'):
        response = requests.post(endpoint + "/", data=body, headers=headers, timeout=10)
        assert response.status_code == 400, body
        assert response.json()["__type"].endswith("SerializationException")
    assert requests.post(endpoint + "/", data=b'{"logGroupName": "/a", "tags": {"k": "\\u00e9"}}', headers=headers,
                         timeout=10).status_code == 200


@pytest.mark.parametrize(("service", "target", "body", "expected"), [
    # DynamoDB's own errors carry its API version; the request layer's, Coral's namespaces:
    # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html
    ("dynamodb", "DynamoDB_20120810.DescribeTable", {"TableName": "absent"},
     "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"),
    ("dynamodb", "DynamoDB_20120810.ListTables", {"Limit": 0},
     "com.amazon.coral.validate#ValidationException"),
    ("dynamodb", "DynamoDB_20120810.ListTables", "{oops", "com.amazon.coral.service#SerializationException"),
    ("kinesis", "Kinesis_20131202.DescribeStream", {"StreamName": "absent"}, "ResourceNotFoundException"),
    ("logs", "Logs_20140328.DeleteLogGroup", {"logGroupName": "absent"}, "ResourceNotFoundException"),
])
def test_json_error_type_as_each_service_writes_it(endpoint: str, service: str, target: str, body: Any,
                                                    expected: str) -> None:
    data = body if isinstance(body, str) else json.dumps(body)
    headers = {"Content-Type": "application/x-amz-json-1.1" if service == "logs" else "application/x-amz-json-1.0",
               "X-Amz-Target": target, **signed(service)}
    response = requests.post(endpoint + "/", data=data, headers=headers, timeout=10)
    assert response.status_code == 400
    assert response.json()["__type"] == expected
