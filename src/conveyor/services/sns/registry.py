"""The topics and subscriptions that exist: the in-memory index over the store, and their durable changes.

Every change is committed before memory changes, so what a caller is told about survives kill -9 and a
failed write (a full disk) leaves memory as it was.
"""

from __future__ import annotations

from conveyor.clock import Clock
from conveyor.services.sns.store import SnsStore
from conveyor.services.sns.subscriptions import Subscription
from conveyor.services.sns.topics import Topic, default_policy, invalid, not_found
from conveyor.wire import ServiceError


def check_arn(arn: str, what: str) -> None:
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        raise invalid(f"{what} Reason: An ARN must have at least 6 elements, not {len(parts)}")


def subscription_not_found() -> ServiceError:
    return ServiceError("NotFound", "Subscription does not exist", 404)


class TopicRegistry:
    def __init__(self, store: SnsStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self.topics: dict[str, Topic] = {}
        self.subs: dict[str, Subscription] = {}
        self.by_topic: dict[str, dict[str, Subscription]] = {}  # topic ARN -> its subscriptions, by ARN
        self.deleted_counts: dict[str, int] = {}  # topic ARN -> SubscriptionsDeleted

    def load(self) -> None:
        for topic in self.store.topics():
            self.topics[topic.arn] = topic
        for sub in self.store.subscriptions():
            self._add_sub(sub)
        for entry in self.store.dedup_entries(self.clock.now()):
            owner = self.topics.get(entry.topic_arn)
            if owner is not None:
                owner.remember(entry.dedup_id, entry.expires, entry.message_id, entry.seq or None)

    def clear(self) -> None:
        self.topics.clear()
        self.subs.clear()
        self.by_topic.clear()
        self.deleted_counts.clear()

    # -- lookups -----------------------------------------------------------------------------------
    def topic(self, arn: str | None, region: str | None = None) -> Topic:
        """The topic a request names; InvalidParameter for a malformed ARN, NotFound for an unknown one or,
        given the request's `region`, for a topic of another region (a topic lives in one region)."""
        check_arn(arn or "", "TopicArn")
        topic = self.topics.get(arn or "")
        if topic is None or (region is not None and topic.region != region):
            raise not_found()
        return topic

    def sub(self, arn: str) -> Subscription:
        check_arn(arn, "SubscriptionArn")
        sub = self.subs.get(arn)
        if sub is None:
            raise subscription_not_found()
        return sub

    def topic_subs(self, topic_arn: str) -> list[Subscription]:
        return list(self.by_topic.get(topic_arn, {}).values())

    def policy(self, topic: Topic) -> str:
        """The topic's access policy: the one set, or the default AWS reports."""
        return topic.attrs.get("Policy") or default_policy(topic.arn, topic.account)

    # -- topics ------------------------------------------------------------------------------------
    async def add_topic(self, topic: Topic) -> None:
        await self.store.insert_topic(topic, self.clock.now())
        self.topics[topic.arn] = topic

    async def delete_topic(self, arn: str) -> None:
        await self.store.delete_topic(arn)
        self.topics.pop(arn, None)
        for sub in self.topic_subs(arn):
            self._drop_sub(sub.arn)
        self.deleted_counts.pop(arn, None)

    async def set_topic_attrs(self, topic: Topic, attrs: dict[str, str]) -> None:
        await self.store.set_topic_attrs(topic.arn, attrs)
        topic.attrs = attrs

    async def set_topic_tags(self, topic: Topic, tags: dict[str, str]) -> None:
        await self.store.set_topic_tags(topic.arn, tags)
        topic.tags = tags

    # -- subscriptions -----------------------------------------------------------------------------
    async def add_subscription(self, sub: Subscription) -> None:
        await self.store.insert_subscription(sub, self.clock.now())
        self._add_sub(sub)

    async def confirm(self, sub: Subscription) -> None:
        await self.store.confirm_subscription(sub.arn)
        sub.confirmed = True

    async def set_subscription_attrs(self, sub: Subscription, attrs: dict[str, str]) -> None:
        """Replace the attributes (`Subscription` parses the filter policy, so a bad one raises first)."""
        trial = Subscription(sub.arn, sub.topic_arn, sub.protocol, sub.endpoint, sub.owner, attrs)
        await self.store.set_subscription_attrs(sub.arn, attrs)
        sub.attrs = attrs
        sub.policy = trial.policy

    async def unsubscribe(self, sub: Subscription) -> None:
        await self.store.delete_subscription(sub.arn)
        self._drop_sub(sub.arn)
        self.deleted_counts[sub.topic_arn] = self.deleted_counts.get(sub.topic_arn, 0) + 1

    def _add_sub(self, sub: Subscription) -> None:
        self.subs[sub.arn] = sub
        self.by_topic.setdefault(sub.topic_arn, {})[sub.arn] = sub

    def _drop_sub(self, arn: str) -> None:
        sub = self.subs.pop(arn, None)
        if sub is not None:
            mine = self.by_topic.get(sub.topic_arn, {})
            mine.pop(arn, None)
            if not mine:
                self.by_topic.pop(sub.topic_arn, None)
