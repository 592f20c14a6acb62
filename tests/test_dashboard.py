"""The dashboard's HTTP side through plain HTTP: the graph built from resources made with boto3, the event
stream, the actions and their errors, and who may use them (browser rules with --auth off; one-time
links, session cookies, Origin and CSRF checks with --auth sigv4). The page itself is tested in Chromium
(tests/test_dashboard_browser.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import boto3
import pytest
import requests

KEY, SECRET = "AKIDBOARD", "board-secret"


def page_csrf(html: str) -> str:
    found = re.search(r'<meta name="conveyor-csrf" content="([^"]+)">', html)
    assert found is not None
    return found.group(1)


def test_graph_is_built_from_the_live_resources(endpoint: str, client: Callable[..., Any], aws) -> None:
    sqs, sns, s3 = client("sqs"), client("sns"), client("s3")
    dlq = sqs.create_queue(QueueName="g-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    jobs = sqs.create_queue(QueueName="g-jobs", Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})})["QueueUrl"]
    jobs_arn = sqs.get_queue_attributes(QueueUrl=jobs, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = sns.create_topic(Name="g-events")["TopicArn"]
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                                                "Action": "sns:Publish", "Resource": topic}]}))
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=jobs_arn)
    s3.create_bucket(Bucket="g-bucket")
    s3.put_bucket_notification_configuration(Bucket="g-bucket", NotificationConfiguration={"TopicConfigurations": [
        {"TopicArn": topic, "Events": ["s3:ObjectCreated:*"],
         "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}]}}}]})
    aws("cloudwatch", "put-metric-alarm", "--alarm-name", "g-dlq-alarm", "--namespace", "AWS/SQS", "--metric-name",
        "ApproximateNumberOfMessagesVisible", "--dimensions", "Name=QueueName,Value=g-dlq", "--statistic", "Maximum",
        "--period", "60", "--evaluation-periods", "1", "--threshold", "0", "--comparison-operator",
        "GreaterThanThreshold", "--alarm-actions", topic)
    state = requests.get(f"{endpoint}/_conveyor/ui/state", timeout=10).json()
    nodes = {n["name"]: n for n in state["graph"]["nodes"]}
    edges = {(e["source"], e["target"], e["kind"], e["label"]) for e in state["graph"]["edges"]}
    bucket = "arn:aws:s3:::g-bucket"
    alarm = "arn:aws:cloudwatch:us-east-1:000000000000:alarm:g-dlq-alarm"
    assert {(bucket, topic, "notification", "in/*"), (topic, jobs_arn, "subscription", ""),
            (jobs_arn, dlq_arn, "redrive", "after 2 receives"),
            (dlq_arn, alarm, "watches", "ApproximateNumberOfMessagesVisible"), (alarm, topic, "notifies", "")} <= edges
    assert nodes["g-dlq"]["kind"] == "dlq" and nodes["g-jobs"]["kind"] == "queue"
    assert [nodes[n]["column"] for n in ("g-bucket", "g-events", "g-jobs", "g-dlq")] == [0, 1, 2, 3]
    assert state["alarms"][alarm]["state"] == "INSUFFICIENT_DATA"

    # Uploads under the watched prefix are followed; others are not.
    s3.put_object(Bucket="g-bucket", Key="in/a.txt", Body=b"hello")
    s3.put_object(Bucket="g-bucket", Key="elsewhere/b.txt", Body=b"hello")
    s3.copy_object(Bucket="g-bucket", Key="out/a.txt", CopySource={"Bucket": "g-bucket", "Key": "in/a.txt"})
    uploads = requests.get(f"{endpoint}/_conveyor/ui/state", timeout=10).json()["uploads"]
    assert [(u["key"], u["size"], u["state"]) for u in uploads] == [("in/a.txt", 5, "processed")]
    assert uploads[0]["steps"][-1]["to"] == "g-bucket/out/a.txt"


def test_event_stream_sends_the_state_as_it_changes(endpoint: str, client: Callable[..., Any]) -> None:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName="streamed")["QueueUrl"]
    with requests.get(f"{endpoint}/_conveyor/events", stream=True, timeout=30) as response:
        assert response.headers["Content-Type"] == "text/event-stream"
        lines = response.iter_lines(decode_unicode=True)

        def next_state() -> dict[str, Any]:
            for line in lines:
                if line.startswith("data: "):
                    return json.loads(line[len("data: "):])
            raise AssertionError("the stream ended")

        first = next_state()
        [queue] = [q for q in first["queues"].values() if q["name"] == "streamed"]
        assert queue["visible"] == 0
        sqs.send_message(QueueUrl=url, MessageBody="wake the stream")
        for _ in range(10):
            state = next_state()
            [queue] = [q for q in state["queues"].values() if q["name"] == "streamed"]
            if queue["visible"] == 1:
                break
        assert queue["visible"] == 1


def test_actions_answer_errors_in_plain_json(endpoint: str, client: Callable[..., Any]) -> None:
    html = requests.get(f"{endpoint}/_conveyor/ui", timeout=10)
    assert html.headers["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in html.headers[
        "Content-Security-Policy"]
    headers = {"X-Conveyor-CSRF": page_csrf(html.text), "Origin": endpoint}
    plain = client("sqs").create_queue(QueueName="not-a-dlq")["QueueUrl"]
    arn = client("sqs").get_queue_attributes(QueueUrl=plain, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    refused = requests.post(f"{endpoint}/_conveyor/ui/redrive", json={"queue": arn}, headers=headers, timeout=10)
    assert refused.status_code == 400
    assert refused.json() == {"__type": "InvalidParameterValue",
                              "message": "Source queue must be configured as a Dead Letter Queue."}
    missing = requests.post(f"{endpoint}/_conveyor/ui/kill", json={"worker": "nobody-1"}, headers=headers,
                            timeout=10)
    assert missing.status_code == 400 and missing.json()["message"] == "no worker 'nobody-1'"
    bad = requests.post(f"{endpoint}/_conveyor/ui/scale", json={"pool": "p"}, headers=headers, timeout=10)
    assert bad.status_code == 400 and bad.json()["message"] == 'Send {"pool": NAME, "desired": N}.'


def test_with_auth_off_other_sites_are_kept_out(endpoint: str) -> None:
    page = requests.get(f"{endpoint}/_conveyor/ui", timeout=10)
    assert page.status_code == 200
    csrf = page_csrf(page.text)
    url = f"{endpoint}/_conveyor/ui/scale"
    body = {"pool": "none", "desired": 1}
    cross = requests.post(url, json=body, headers={"X-Conveyor-CSRF": csrf, "Origin": "http://evil.example"},
                          timeout=10)
    assert cross.status_code == 403 and "another site" in cross.json()["message"]
    framed = requests.get(f"{endpoint}/_conveyor/ui", headers={"Sec-Fetch-Site": "cross-site"}, timeout=10)
    assert framed.status_code == 403
    no_token = requests.post(url, json=body, headers={"Origin": endpoint}, timeout=10)
    assert no_token.status_code == 403 and "CSRF" in no_token.json()["message"]
    no_origin = requests.post(url, json=body, headers={"X-Conveyor-CSRF": csrf}, timeout=10)
    assert no_origin.status_code == 403
    rebound = requests.get(f"{endpoint}/_conveyor/events", headers={"Host": "attacker.example"}, timeout=10)
    assert rebound.status_code == 403
    ours = requests.post(url, json=body, headers={"X-Conveyor-CSRF": csrf, "Origin": endpoint}, timeout=10)
    assert ours.status_code == 400 and ours.json()["message"] == "no pool named 'none'"  # admitted, then answered


def conveyor_ui(endpoint: str, *credentials: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CONVEYOR_"))}
    return subprocess.run([sys.executable, "-m", "conveyor.cli", "ui", "--no-browser", "--endpoint", endpoint,
                           *credentials], capture_output=True, text=True, timeout=60, env=env)


def test_under_sigv4_a_one_time_link_opens_a_session(start_server) -> None:
    server = start_server(None, "--auth", "sigv4", "--access-key", KEY, "--secret-key", SECRET)
    base = server.endpoint
    assert requests.get(f"{base}/_conveyor/ui", timeout=10).status_code == 403
    assert requests.get(f"{base}/_conveyor/events", timeout=10).status_code == 403
    assert requests.post(f"{base}/_conveyor/ui/token", timeout=10).status_code == 403  # only signed callers
    refused = conveyor_ui(base)  # test/test cannot sign for this server
    assert refused.returncode != 0 and "--access-key" in refused.stderr
    printed = conveyor_ui(base, "--access-key", KEY, "--secret-key", SECRET)
    assert printed.returncode == 0, printed.stderr
    link = printed.stdout.split()[1]

    login = requests.get(link, allow_redirects=False, timeout=10)
    assert login.status_code == 303 and login.headers["Location"] == "/_conveyor/ui"
    cookie = login.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/_conveyor/" in cookie
    assert "Max-Age=43200" in cookie  # 12 hours
    again = requests.get(link, allow_redirects=False, timeout=10)
    assert again.status_code == 403 and "run `conveyor ui` again" in again.json()["message"]

    session = requests.Session()
    session.cookies.update(login.cookies)
    page = session.get(f"{base}/_conveyor/ui", timeout=10)
    assert page.status_code == 200
    csrf = page_csrf(page.text)
    assert session.get(f"{base}/_conveyor/ui/state", timeout=10).json()["auth"] == "sigv4"
    sqs = boto3.client("sqs", endpoint_url=base, region_name="us-east-1", aws_access_key_id=KEY,
                       aws_secret_access_key=SECRET)
    url = sqs.create_queue(QueueName="d")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.create_queue(QueueName="src", Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})})
    action = f"{base}/_conveyor/ui/redrive"
    assert session.post(action, json={"queue": dlq_arn}, headers={"Origin": base}, timeout=10).status_code == 403
    assert session.post(action, json={"queue": dlq_arn}, headers={"X-Conveyor-CSRF": "guess", "Origin": base},
                        timeout=10).status_code == 403
    done = session.post(action, json={"queue": dlq_arn}, headers={"X-Conveyor-CSRF": csrf, "Origin": base},
                        timeout=10)
    assert done.status_code == 200 and done.json()["redriving"] == dlq_arn
    # The cookie opens the dashboard, not Conveyor's other endpoints, and a forged cookie opens nothing.
    assert session.get(f"{base}/_conveyor/status", timeout=10).status_code == 403
    assert requests.get(f"{base}/_conveyor/ui", cookies={"conveyor_ui": "forged"}, timeout=10).status_code == 403


@pytest.mark.parametrize("path", ["/_conveyor/ui/state", "/_conveyor/ui"])
def test_signed_callers_reach_the_dashboard_without_a_session(start_server, path: str) -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    server = start_server(None, "--auth", "sigv4", "--access-key", KEY, "--secret-key", SECRET)
    request = AWSRequest("GET", f"{server.endpoint}{path}")
    SigV4Auth(Credentials(KEY, SECRET), "conveyor", "us-east-1").add_auth(request)
    assert requests.get(request.url, headers=dict(request.headers), timeout=10).status_code == 200
