"""A FIFO topic's outbox row is settled (deleted once its queues hold the message) by a write that rides the next
commit (Database.write_behind): the publish answers after two commits (SNS's outbox row, the queue's message)
instead of three, and what is still owed at shutdown is committed then."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from tests.helpers import served_in_process

from conveyor.services.sns.api import SnsService

REGION = "us-east-1"


def outbox_rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        count: int = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
    return count


def test_a_fifo_publish_settles_its_outbox_row_in_the_next_commit(tmp_path: Path) -> None:
    async def main() -> None:
        async with served_in_process(tmp_path) as (app, _):
            api = app.ports.api
            assert api is not None

            async def call(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
                answer: dict[str, Any] = await api.call(service, operation, params, REGION)
                return answer

            url = (await call("sqs", "CreateQueue", {"QueueName": "jobs.fifo", "Attributes": {
                "FifoQueue": "true"}}))["QueueUrl"]
            arn = (await call("sqs", "GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["QueueArn"]}
                              ))["Attributes"]["QueueArn"]
            topic = (await call("sns", "CreateTopic", {"Name": "jobs.fifo", "Attributes": {
                "FifoTopic": "true", "ContentBasedDeduplication": "true"}}))["TopicArn"]
            await call("sns", "Subscribe", {"TopicArn": topic, "Protocol": "sqs", "Endpoint": arn,
                                            "Attributes": {"RawMessageDelivery": "true"}})
            sns = await app.services.use("sns")
            assert isinstance(sns, SnsService)
            db = sns.store.db
            db.behind_delay = 30.0  # (real seconds: only another write commits the settling here)

            commits = db.commits
            await call("sns", "Publish", {"TopicArn": topic, "Message": "m1", "MessageGroupId": "g"})
            got = await call("sqs", "ReceiveMessage", {"QueueUrl": url, "WaitTimeSeconds": 0})
            assert [m["Body"] for m in got["Messages"]] == ["m1"]  # in the queue when Publish answered
            assert db.commits == commits + 1  # the outbox row alone: its settling waits for a commit to ride
            assert db.query("SELECT count(*) FROM outbox")[0][0] == 1

            await call("sns", "Publish", {"TopicArn": topic, "Message": "m2", "MessageGroupId": "h"})
            assert db.commits == commits + 2  # m2's row, with m1's settling
            [[left]] = db.query("SELECT message FROM outbox")
            assert '"m2"' in left

    asyncio.run(main())
    assert outbox_rows(tmp_path / "sns" / "sns.db") == 0  # the settling left behind committed at shutdown
