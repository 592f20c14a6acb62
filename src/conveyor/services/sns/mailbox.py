"""The record of what SNS sent to phones (sms), devices (application) and mailboxes (email, email-json).

AWS hands these to carriers, push services and mail servers; one machine has none of them, so Conveyor
keeps each message it would have sent, durably and in order, where a test or a user can read it:
`GET /_conveyor/sns/sent?protocol=email&target=ADDRESS` (newest `limit`, default 100, oldest first).
A subscription confirmation sent to an email address lands here too, with the link that confirms it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conveyor.clock import Clock
from conveyor.services.sns.store import SentMessage, SnsStore

PROTOCOLS = ("email", "email-json", "sms", "application")


class Mailbox:
    def __init__(self, store: SnsStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def send(self, protocol: str, target: str, message_id: str, body: str, subject: str | None = None) -> None:
        """Keep one message as sent; returns once it is durable."""
        await self.send_all([(protocol, target, message_id, body, subject)])

    async def send_all(self, messages: Sequence[tuple[str, str, str, str, str | None]]) -> None:
        now = self.clock.now()
        await self.store.record_sent([SentMessage(now, protocol, target, message_id, subject, body)
                                      for protocol, target, message_id, body, subject in messages])

    def read(self, protocol: str | None = None, target: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        return [{"timestamp": m.at, "protocol": m.protocol, "target": m.target, "messageId": m.message_id,
                 **({"subject": m.subject} if m.subject is not None else {}), "body": m.body}
                for m in self.store.sent(protocol, target, max(1, min(limit, 1000)))]
