"""SMS, mobile push and email through boto3: stored as AWS stores them, and what SNS would send kept in the
local record, `GET /_conveyor/sns/sent`.

https://docs.aws.amazon.com/sns/latest/dg/sns-mobile-application-as-subscriber.html
https://docs.aws.amazon.com/sns/latest/dg/sns-email-notifications.html
https://docs.aws.amazon.com/sns/latest/dg/sns-mobile-phone-number-as-subscriber.html
"""

from __future__ import annotations

import json
import logging
import urllib.parse
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from sns_helpers import error
from tests.helpers import wait_for


def sent(endpoint: str, **query: str) -> list[dict[str, Any]]:
    url = f"{endpoint}/_conveyor/sns/sent?{urllib.parse.urlencode(query)}"
    with urllib.request.urlopen(url, timeout=10) as response:
        messages: list[dict[str, Any]] = json.loads(response.read())["messages"]
    return messages


def sent_soon(endpoint: str, count: int, **query: str) -> list[dict[str, Any]]:
    return wait_for(lambda: (got := sent(endpoint, **query)) and len(got) >= count and got)


def refused(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as exc:
        call(**params)
    return error(exc.value)


def test_platform_applications_and_endpoints(sns: Any) -> None:
    # https://docs.aws.amazon.com/sns/latest/api/API_CreatePlatformEndpoint.html
    app = sns.create_platform_application(Name="app", Platform="GCM",
                                          Attributes={"PlatformCredential": "secret"})["PlatformApplicationArn"]
    assert app == "arn:aws:sns:us-east-1:000000000000:app/GCM/app"
    # The credential is not handed back (GetPlatformApplicationAttributes lists what it returns).
    assert "PlatformCredential" not in sns.get_platform_application_attributes(PlatformApplicationArn=app)["Attributes"]
    # The same name again: the same application with the same properties, refused with others; a sample rate
    # outside 0-100 is refused on create and set alike (as AWS answered a connector's tests run against it).
    assert sns.create_platform_application(Name="app", Platform="GCM", Attributes={
        "PlatformCredential": "secret"})["PlatformApplicationArn"] == app
    assert refused(sns.create_platform_application, Name="app", Platform="GCM", Attributes={
        "PlatformCredential": "secret", "EventEndpointCreated": "t"}) == (
        "InvalidParameter", "Invalid parameter: Name Reason: An application with the same name but different "
                            "properties already exists")
    rate = ("InvalidParameter", "Invalid parameter: Attributes Reason: Invalid value for attribute: "
                                "SuccessFeedbackSampleRate: 101 value provided is not an integer between 0-100")
    assert refused(sns.create_platform_application, Name="other", Platform="GCM", Attributes={
        "PlatformCredential": "secret", "SuccessFeedbackSampleRate": "101"}) == rate
    assert refused(sns.set_platform_application_attributes, PlatformApplicationArn=app,
                   Attributes={"SuccessFeedbackSampleRate": "101"}) == rate
    sns.set_platform_application_attributes(PlatformApplicationArn=app, Attributes={"EventDeliveryFailure": "t"})
    [listed] = sns.list_platform_applications()["PlatformApplications"]
    assert listed == {"PlatformApplicationArn": app, "Attributes": {"Enabled": "true", "EventDeliveryFailure": "t"}}

    one = sns.create_platform_endpoint(PlatformApplicationArn=app, Token="tok")["EndpointArn"]
    assert one.startswith("arn:aws:sns:us-east-1:000000000000:endpoint/GCM/app/")
    # The same token again is the same endpoint; with other attributes it is refused.
    assert sns.create_platform_endpoint(PlatformApplicationArn=app, Token="tok",
                                        Attributes={"Enabled": "true"})["EndpointArn"] == one
    assert refused(sns.create_platform_endpoint, PlatformApplicationArn=app, Token="tok",
                   CustomUserData="data") == (
        "InvalidParameter", f"Invalid parameter: Token Reason: Endpoint {one} already exists with the same Token, "
        "but different attributes.")
    assert sns.get_endpoint_attributes(EndpointArn=one)["Attributes"] == {"Enabled": "true", "Token": "tok"}
    sns.set_endpoint_attributes(EndpointArn=one, Attributes={"CustomUserData": "u"})
    [endpoint] = sns.list_endpoints_by_platform_application(PlatformApplicationArn=app)["Endpoints"]
    assert endpoint["Attributes"] == {"Enabled": "true", "Token": "tok", "CustomUserData": "u"}
    assert refused(sns.create_platform_endpoint, PlatformApplicationArn=app + "2", Token="x") == (
        "NotFound", "PlatformApplication does not exist")
    # As AWS answered a connector's tests run against it: an empty token, an empty Token attribute, and an
    # endpoint's ARN given as the application's.
    assert refused(sns.create_platform_endpoint, PlatformApplicationArn=app, Token="") == (
        "InvalidParameter", "Invalid parameter: Token Reason: cannot be empty")
    assert refused(sns.create_platform_endpoint, PlatformApplicationArn=app, Token="t3",
                   Attributes={"Token": ""}) == (
        "InvalidParameter", "Invalid parameter: Attributes Reason: Invalid value for attribute: Token: cannot be empty")
    assert refused(sns.create_platform_endpoint, PlatformApplicationArn=one + "x", Token="t3") == (
        "InvalidParameter", "Invalid parameter: PlatformApplicationArn Reason: Wrong number of slashes in relative "
                            "portion of the ARN.")
    sns.delete_endpoint(EndpointArn=one)
    sns.delete_endpoint(EndpointArn=one)  # idempotent
    assert refused(sns.get_endpoint_attributes, EndpointArn=one) == ("NotFound", "Endpoint does not exist")
    two = sns.create_platform_endpoint(PlatformApplicationArn=app, Token="other")["EndpointArn"]
    sns.delete_platform_application(PlatformApplicationArn=app)  # takes its endpoints with it
    assert refused(sns.get_endpoint_attributes, EndpointArn=two) == ("NotFound", "Endpoint does not exist")
    assert sns.list_platform_applications()["PlatformApplications"] == []


def test_publish_to_a_device(sns: Any, endpoint: str, caplog: pytest.LogCaptureFixture) -> None:
    app = sns.create_platform_application(Name="ios", Platform="APNS", Attributes={"PlatformCredential": "key"})["PlatformApplicationArn"]
    device = sns.create_platform_endpoint(PlatformApplicationArn=app, Token="t1")["EndpointArn"]
    message = json.dumps({"default": "plain", "APNS": json.dumps({"aps": {"alert": "hi"}})})
    message_id = sns.publish(TargetArn=device, Message=message, MessageStructure="json")["MessageId"]
    [pushed] = sent(endpoint, protocol="application", target=device)
    assert pushed["messageId"] == message_id and json.loads(pushed["body"]) == {"aps": {"alert": "hi"}}
    sns.set_endpoint_attributes(EndpointArn=device, Attributes={"Enabled": "false"})
    # Disabled wins over a message that would not even parse, as AWS answers.
    assert refused(sns.publish, TargetArn=device, Message="{", MessageStructure="json") == (
        "EndpointDisabled", "Endpoint is disabled")
    # A topic's application subscription pushes to the device too.
    sns.set_endpoint_attributes(EndpointArn=device, Attributes={"Enabled": "true"})
    topic = sns.create_topic(Name="news")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="application", Endpoint=device)
    sns.publish(TopicArn=topic, Message="from the topic")
    assert sent_soon(endpoint, 2, protocol="application")[-1]["body"] == "from the topic"
    sns.delete_endpoint(EndpointArn=device)
    caplog.set_level(logging.WARNING, logger="conveyor")
    sns.publish(TopicArn=topic, Message="to a device since deleted")  # a refusal: one warning, no traceback
    [warned] = wait_for(lambda: [r for r in caplog.records if r.name.startswith("conveyor.services.sns")])
    assert warned.levelno == logging.WARNING and warned.exc_info is None and device in warned.getMessage()
    assert refused(sns.subscribe, TopicArn=topic, Protocol="application", Endpoint=device) == (
        "InvalidParameter", f"Invalid parameter: Endpoint Reason: Endpoint does not exist for endpoint arn{device}")
    assert refused(sns.publish, TargetArn=device, Message="gone") == (
        "InvalidParameter", "Invalid parameter: TargetArn Reason: No endpoint found for the target arn specified")
    # An endpoint id that is no UUID, as AWS answered a connector's tests run against it (an ARN with a
    # character appended to a real endpoint's).
    assert refused(sns.publish, TargetArn=device + "x", Message="m") == (
        "InvalidParameter", "Invalid parameter: TargetArn Reason: ARN specifies an invalid endpointId: UUID must be "
                            "encoded in exactly 36 characters.")


def test_sms(sns: Any, endpoint: str) -> None:
    # https://docs.aws.amazon.com/sns/latest/api/API_Publish.html (PhoneNumber, E.164, 1,600 characters)
    message_id = sns.publish(PhoneNumber="+15550100", Message="your code is 1234")["MessageId"]
    [text] = sent(endpoint, protocol="sms")
    assert (text["target"], text["messageId"], text["body"]) == ("+15550100", message_id, "your code is 1234")
    assert refused(sns.publish, PhoneNumber="NAA+15550100", Message="x") == (
        "InvalidParameter", "Invalid parameter: PhoneNumber Reason: NAA+15550100 is not valid to publish to")
    code, message = refused(sns.publish, PhoneNumber="+15550100", Message="a" * 1601)
    assert code == "InvalidParameter" and "must be less than 1600" in message

    sns.set_sms_attributes(attributes={"DefaultSMSType": "Transactional", "DefaultSenderID": "Conveyor"})
    assert sns.get_sms_attributes(attributes=["DefaultSMSType"])["attributes"] == {"DefaultSMSType": "Transactional"}
    assert refused(sns.set_sms_attributes, attributes={"DefaultSMSType": "Loud"})[0] == "InvalidParameter"
    # A sender id is 1-11 letters and digits with a letter (API_SetSMSAttributes), refused in AWS's words.
    for sender in ("testSenderID", "12345", "has space"):
        assert refused(sns.set_sms_attributes, attributes={"DefaultSenderID": sender}) == (
            "InvalidParameter", "DefaultSenderID is invalid")

    topic = sns.create_topic(Name="alerts")["TopicArn"]
    sub = sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint="+1-555-0101")["SubscriptionArn"]
    assert sub.startswith(topic)  # sms subscriptions need no confirmation
    assert refused(sns.subscribe, TopicArn=topic, Protocol="sms", Endpoint="+15--550101") == (
        "InvalidParameter", "Invalid SMS endpoint: +15--550101")

    # A STOP reply (the internal endpoint stands in for it) opts the number out.
    assert sns.check_if_phone_number_is_opted_out(phoneNumber="+15550100")["isOptedOut"] is False
    request = urllib.request.Request(f"{endpoint}/_conveyor/sns/opt-out", method="POST",
                                     data=json.dumps({"phoneNumber": "+15550100"}).encode())
    urllib.request.urlopen(request, timeout=10).read()
    assert sns.check_if_phone_number_is_opted_out(phoneNumber="+15550100")["isOptedOut"] is True
    assert sns.list_phone_numbers_opted_out()["phoneNumbers"] == ["+15550100"]
    sns.publish(PhoneNumber="+15550100", Message="not sent")
    assert len(sent(endpoint, protocol="sms", target="+15550100")) == 1
    sns.opt_in_phone_number(phoneNumber="+15550100")
    assert sns.list_phone_numbers_opted_out()["phoneNumbers"] == []


def test_email_subscriptions_confirm_through_the_mailbox(sns: Any, endpoint: str) -> None:
    topic = sns.create_topic(Name="mail")["TopicArn"]
    assert sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.com")["SubscriptionArn"] == \
        "pending confirmation"
    assert refused(sns.subscribe, TopicArn=topic, Protocol="email", Endpoint="nobody") == (
        "InvalidParameter", "Invalid parameter: Email address")
    [mail] = sent(endpoint, protocol="email", target="ops@example.com")
    assert mail["subject"] == "AWS Notification - Subscription Confirmation"
    link = next(line for line in mail["body"].splitlines() if "Action=ConfirmSubscription" in line)
    sns.publish(TopicArn=topic, Message="before confirmation")  # a pending subscription gets nothing
    with urllib.request.urlopen(link, timeout=10) as response:  # the link confirms, as AWS's does
        assert b"ConfirmSubscriptionResult" in response.read()
    [listed] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert listed["SubscriptionArn"].startswith(topic)
    sns.publish(TopicArn=topic, Message="hello", Subject="Greetings")
    notice = sent_soon(endpoint, 2, protocol="email")[-1]
    assert notice["subject"] == "Greetings" and notice["body"].startswith("hello\n\n--\nIf you wish to stop")

    sns.subscribe(TopicArn=topic, Protocol="email-json", Endpoint="robot@example.com")
    [confirmation] = sent(endpoint, protocol="email-json")
    doc = json.loads(confirmation["body"])
    assert doc["Type"] == "SubscriptionConfirmation" and doc["TopicArn"] == topic
    sns.confirm_subscription(TopicArn=topic, Token=doc["Token"])
    sns.publish(TopicArn=topic, Message="as json")
    delivered = json.loads(sent_soon(endpoint, 2, protocol="email-json")[-1]["body"])
    assert delivered["Type"] == "Notification" and delivered["Message"] == "as json"


def test_data_protection_policy_is_stored(sns: Any) -> None:
    # https://docs.aws.amazon.com/sns/latest/api/API_PutDataProtectionPolicy.html
    policy = json.dumps({"Name": "p", "Description": "", "Version": "2021-06-01", "Statement": [{
        "Sid": "audit", "DataDirection": "Inbound", "Principal": ["*"],
        "DataIdentifier": ["arn:aws:dataprotection::aws:data-identifier/EmailAddress"],
        "Operation": {"Audit": {"SampleRate": "99", "FindingsDestination": {}}}}]})
    topic = sns.create_topic(Name="guarded", DataProtectionPolicy=policy)["TopicArn"]
    assert sns.get_data_protection_policy(ResourceArn=topic)["DataProtectionPolicy"] == policy
    assert "DataProtectionPolicy" not in sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    sns.put_data_protection_policy(ResourceArn=topic, DataProtectionPolicy="")
    assert sns.get_data_protection_policy(ResourceArn=topic)["DataProtectionPolicy"] == ""
    assert refused(sns.put_data_protection_policy, ResourceArn=topic, DataProtectionPolicy="{")[0] == \
        "InvalidParameter"
    assert refused(sns.create_topic, Name="bad", DataProtectionPolicy="[]")[0] == "InvalidParameter"


def test_push_and_sms_state_survive_a_restart(start_server: Any, tmp_path: Any) -> None:
    server = start_server(tmp_path / "data")
    sns = server.client("sns")
    app = sns.create_platform_application(Name="a", Platform="GCM", Attributes={"PlatformCredential": "key"})["PlatformApplicationArn"]
    device = sns.create_platform_endpoint(PlatformApplicationArn=app, Token="t")["EndpointArn"]
    sns.set_sms_attributes(attributes={"DefaultSMSType": "Promotional"})
    sns.publish(PhoneNumber="+15550199", Message="kept")
    server.kill()  # SIGKILL: everything acknowledged is on disk
    server = start_server(tmp_path / "data")
    sns = server.client("sns")
    assert sns.get_endpoint_attributes(EndpointArn=device)["Attributes"]["Token"] == "t"
    assert sns.get_sms_attributes()["attributes"] == {"DefaultSMSType": "Promotional"}
    assert [m["body"] for m in sent(server.endpoint, protocol="sms")] == ["kept"]


def test_publish_to_another_regions_topic_is_refused(endpoint: str) -> None:
    # A topic lives in one region; Publish names it only there (GetTopicAttributes elsewhere: NotFound).
    # https://docs.aws.amazon.com/general/latest/gr/sns.html (regional endpoints)
    def client(region: str) -> Any:
        return boto3.client("sns", endpoint_url=endpoint, region_name=region, aws_access_key_id="test",
                            aws_secret_access_key="test")

    west, east = client("us-west-2"), client("us-east-1")
    topic = west.create_topic(Name="regional")["TopicArn"]
    assert refused(east.publish, TopicArn=topic, Message="x") == ("InvalidParameter", "Invalid parameter: TopicArn")
    assert refused(east.publish_batch, TopicArn=topic, PublishBatchRequestEntries=[{"Id": "1", "Message": "x"}]) == (
        "InvalidParameter", "Invalid parameter: TopicArn")
    assert refused(east.get_topic_attributes, TopicArn=topic) == ("NotFound", "Topic does not exist")
    assert west.publish(TopicArn=topic, Message="x")["MessageId"]


def test_sms_usage_reports_go_to_an_existing_bucket(client: Any, sns: Any) -> None:
    # The daily usage report bucket must exist (S3 is asked); AWS's words, as terraform-provider-aws issue
    # 19450 shows them. An empty name turns the reports off.
    # https://docs.aws.amazon.com/sns/latest/api/API_SetSMSAttributes.html
    assert refused(sns.set_sms_attributes, attributes={"UsageReportS3Bucket": "no-such-reports"}) == (
        "InvalidParameter", "Invalid parameter: UsageReportS3Bucket Reason: The bucket you provided does not exist")
    assert sns.get_sms_attributes()["attributes"] == {}
    client("s3").create_bucket(Bucket="sms-reports")
    sns.set_sms_attributes(attributes={"UsageReportS3Bucket": "sms-reports"})
    assert sns.get_sms_attributes()["attributes"] == {"UsageReportS3Bucket": "sms-reports"}
    sns.set_sms_attributes(attributes={"UsageReportS3Bucket": ""})
    assert sns.get_sms_attributes()["attributes"] == {"UsageReportS3Bucket": ""}
