"""SNS operations: thin translations between the wire dicts and topics, subscriptions and delivery."""

from __future__ import annotations

import base64
import json
import logging
import secrets
import sqlite3
import uuid
from typing import Any

from conveyor.ports import Ports
from conveyor.protocol.models import service_model
from conveyor.protocol.registry import codecs_for
from conveyor.protocol.validate import ValidationCodes
from conveyor.services.base import Environment, Service
from conveyor.services.sns import envelope, http_delivery, permissions, unsupported
from conveyor.services.sns import subscriptions as subs_mod
from conveyor.services.sns import topics as topics_mod
from conveyor.services.sns.delivery import Dispatcher
from conveyor.services.sns.publishing import Publishing
from conveyor.services.sns.signing import Signer
from conveyor.services.sns.store import MIGRATIONS
from conveyor.services.sns.subscriptions import Subscription
from conveyor.services.sns.topics import Topic, invalid, not_found
from conveyor.storage.db import Database
from conveyor.wire import HttpResponse, RequestContext, ServiceError

log = logging.getLogger(__name__)
PAGE = 100
PENDING = "pending confirmation"


class SnsValidationCodes(ValidationCodes):
    # SNS answers malformed input with InvalidParameter for both missing and invalid members.
    missing = "InvalidParameter"
    invalid = "InvalidParameter"


def _sub_not_found() -> ServiceError:
    return ServiceError("NotFound", "Subscription does not exist", 404)


def _check_arn(arn: str, what: str) -> None:
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        raise invalid(f"{what} Reason: An ARN must have at least 6 elements, not {len(parts)}")


def _page(items: list[Any], token: str | None, key: Any) -> tuple[list[Any], str | None]:
    """Pages of PAGE items; the token is the key of the last item returned (stable under deletes)."""
    ordered = sorted(items, key=key)
    if token:
        try:
            after = base64.urlsafe_b64decode(token.encode()).decode()
        except (ValueError, UnicodeDecodeError):
            raise invalid("NextToken")
        ordered = [i for i in ordered if key(i) > after]
    page = ordered[:PAGE]
    more = len(ordered) > PAGE
    return page, base64.urlsafe_b64encode(key(page[-1]).encode()).decode() if more else None


class SnsService(Publishing, Service):
    name = "sns"
    validation_codes = SnsValidationCodes()
    extra_query_actions = frozenset({"GetSigningCert"})

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.model = service_model("sns")
        self.codecs = codecs_for(self.model)
        self.db: Database | None = None
        self.signer: Signer | None = None  # type: ignore[assignment]
        self.topics: dict[str, Topic] = {}
        self.subs: dict[str, Subscription] = {}
        self.by_topic: dict[str, dict[str, Subscription]] = {}  # topic ARN -> its subscriptions, by ARN
        self.deleted_counts: dict[str, int] = {}
        self.dedup: dict[tuple[str, str], tuple[float, str, str | None]] = {}
        self.dispatcher = Dispatcher(self)
        self.base_url = ""

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        directory = self.config.service_dir("sns")
        self.signer = Signer(directory)
        self.db = Database(directory / "sns.db", MIGRATIONS, self.env.disk)
        self._load()
        self.dispatcher.replay()

    def _load(self) -> None:
        assert self.db is not None
        for arn, account, region, name, attrs, tags, seq in self.db.query(
                "SELECT arn, account, region, name, attrs, tags, seq FROM topics"):
            self.topics[arn] = Topic(arn, account, region, name, json.loads(attrs), json.loads(tags), seq)
        for arn, topic_arn, protocol, endpoint, owner, attrs, confirmed, token in self.db.query(
                "SELECT arn, topic_arn, protocol, endpoint, owner, attrs, confirmed, token FROM subscriptions"):
            self._add_sub(Subscription(arn, topic_arn, protocol, endpoint, owner, json.loads(attrs),
                                       bool(confirmed), token))
        now = self.clock.now()
        for topic_arn, dedup_id, expires, message_id, seq in self.db.query(
                "SELECT topic_arn, dedup_id, expires, message_id, seq FROM dedup WHERE expires > ?", (now,)):
            self.dedup[(topic_arn, dedup_id)] = (expires, message_id, seq or None)

    async def stop(self) -> None:
        await self.dispatcher.stop()
        if self.db is not None:
            self.db.close()
            self.db = None

    async def reset(self) -> None:
        await self.dispatcher.stop()
        self.topics.clear()
        self.subs.clear()
        self.by_topic.clear()
        self.deleted_counts.clear()
        self.dedup.clear()

        def wipe(c: sqlite3.Connection) -> None:
            for table in ("topics", "subscriptions", "outbox", "dedup"):
                c.execute(f"DELETE FROM {table}")

        await self._write(wipe)

    def handler(self, operation: str) -> Any:
        return super().handler(operation) or unsupported.refusal(operation)

    def health(self) -> dict[str, Any]:
        return {"status": "running", "topics": len(self.topics), "subscriptions": len(self.subs),
                "deliveries_in_flight": len(self.dispatcher.tasks)}

    async def _write(self, fn: Any, *, grows: bool = True) -> Any:
        """`grows=False`: deletes and changes in place, which still run on a full disk."""
        assert self.db is not None
        return await self.db.write(fn, grows=grows)

    def _base(self) -> str:
        return self.base_url or f"http://{self.config.host}:{self.config.port}"

    def provide(self, ports: Ports) -> None:
        ports.topics = self

    async def intercept(self, ctx: RequestContext) -> HttpResponse | None:
        self.base_url = ctx.base_url
        if ctx.request.method == "GET" and ctx.request.query_dict().get("Action") == "GetSigningCert":
            assert self.signer is not None
            return HttpResponse(200, [("Content-Type", "application/x-pem-file")], self.signer.cert_pem)
        return None

    # -- lookups -----------------------------------------------------------------------------------
    def _topic(self, arn: str | None) -> Topic:
        _check_arn(arn or "", "TopicArn")
        topic = self.topics.get(arn or "")
        if topic is None:
            raise not_found()
        return topic

    def _sub(self, arn: str) -> Subscription:
        _check_arn(arn, "SubscriptionArn")
        sub = self.subs.get(arn)
        if sub is None:
            raise _sub_not_found()
        return sub

    def _topic_subs(self, topic_arn: str) -> list[Subscription]:
        return list(self.by_topic.get(topic_arn, {}).values())

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

    # -- topics ------------------------------------------------------------------------------------
    async def CreateTopic(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Name"]
        attrs = dict(params.get("Attributes") or {})
        fifo = attrs.get("FifoTopic", "false").lower() == "true"
        topics_mod.check_name(name, fifo)
        given = topics_mod.normalize(attrs, creating=True, fifo=fifo)
        tags = {t["Key"]: t["Value"] for t in params.get("Tags") or []}
        arn = f"arn:aws:sns:{ctx.region}:{ctx.account_id}:{name}"
        existing = self.topics.get(arn)
        if existing is not None:
            for key, value in given.items():
                current = existing.attrs.get(key, "false" if key == "FifoTopic" else None)
                if current != value:
                    raise invalid("Attributes Reason: Topic already exists with different attributes")
            if tags and any(existing.tags.get(k) != v for k, v in tags.items()):
                raise invalid("Tags Reason: Topic already exists with different tags")
            return {"TopicArn": arn}
        if len(tags) > 50:
            raise ServiceError("TagLimitExceeded", "Could not complete request: tag quota of per resource exceeded")
        if fifo:
            given["FifoTopic"] = "true"
        else:
            given.pop("FifoTopic", None)
        topic = Topic(arn, ctx.account_id, ctx.region, name, given, tags)
        await self._write(lambda c: c.execute(
            "INSERT INTO topics (arn, account, region, name, attrs, tags, seq, created) VALUES (?,?,?,?,?,?,0,?)",
            (arn, ctx.account_id, ctx.region, name, json.dumps(given), json.dumps(tags), self.clock.now())))
        self.topics[arn] = topic
        return {"TopicArn": arn}

    async def DeleteTopic(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["TopicArn"]
        _check_arn(arn, "TopicArn")
        if arn not in self.topics:
            return {}

        def run(c: sqlite3.Connection) -> None:
            c.execute("DELETE FROM subscriptions WHERE topic_arn = ?", (arn,))
            c.execute("DELETE FROM topics WHERE arn = ?", (arn,))
            c.execute("DELETE FROM dedup WHERE topic_arn = ?", (arn,))

        await self._write(run, grows=False)
        self.topics.pop(arn, None)
        for sub in self._topic_subs(arn):
            self._drop_sub(sub.arn)
        self.deleted_counts.pop(arn, None)
        return {}

    async def ListTopics(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        mine = [t for t in self.topics.values() if t.account == ctx.account_id and t.region == ctx.region]
        page, token = _page(mine, params.get("NextToken"), lambda t: t.arn)
        out: dict[str, Any] = {"Topics": [{"TopicArn": t.arn} for t in page]}
        if token:
            out["NextToken"] = token
        return out

    async def GetTopicAttributes(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        topic = self._topic(params["TopicArn"])
        subs = self._topic_subs(topic.arn)
        counts = (sum(s.confirmed for s in subs), sum(not s.confirmed for s in subs),
                  self.deleted_counts.get(topic.arn, 0))
        return {"Attributes": topics_mod.attributes(topic, counts)}

    async def SetTopicAttributes(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        topic = self._topic(params["TopicArn"])
        name, value = params["AttributeName"], params.get("AttributeValue") or ""
        if name not in topics_mod.SETTABLE:
            raise invalid("AttributeName")
        value = topics_mod.check_attribute(name, value, topic.fifo)
        attrs = dict(topic.attrs)
        if value == "" and name in ("Policy", "DeliveryPolicy", "KmsMasterKeyId", "DisplayName"):
            attrs.pop(name, None)
        else:
            attrs[name] = value
        await self._save_attrs(topic, attrs)
        return {}

    async def _save_attrs(self, topic: Topic, attrs: dict[str, str]) -> None:
        await self._write(lambda c: c.execute("UPDATE topics SET attrs = ? WHERE arn = ?",
                                              (json.dumps(attrs), topic.arn)))
        topic.attrs = attrs

    def _policy(self, topic: Topic) -> str:
        return topic.attrs.get("Policy") or topics_mod.default_policy(topic.arn, topic.account)

    # conveyor.ports.PolicyHolder: S3 checks a topic's policy before it publishes bucket events there.
    def resource_exists(self, arn: str) -> bool:
        return arn in self.topics

    def resource_policy(self, arn: str) -> str | None:
        topic = self.topics.get(arn)
        return self._policy(topic) if topic is not None else None

    async def AddPermission(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        topic = self._topic(params["TopicArn"])
        policy = permissions.add(self._policy(topic), topic.arn, params["Label"], params["AWSAccountId"],
                                 params["ActionName"])
        await self._save_attrs(topic, {**topic.attrs, "Policy": policy})
        return {}

    async def RemovePermission(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        topic = self._topic(params["TopicArn"])
        policy = permissions.remove(self._policy(topic), params["Label"])
        if policy is not None:  # an unknown label changes nothing and is not an error
            await self._save_attrs(topic, {**topic.attrs, "Policy": policy})
        return {}

    def _tag_target(self, arn: str) -> Topic:
        topic = self.topics.get(arn)
        if topic is None:
            raise ServiceError("ResourceNotFound", "Resource does not exist", 404)
        return topic

    async def _save_tags(self, topic: Topic, tags: dict[str, str]) -> None:
        await self._write(lambda c: c.execute("UPDATE topics SET tags = ? WHERE arn = ?",
                                              (json.dumps(tags), topic.arn)))
        topic.tags = tags

    async def TagResource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        topic = self._tag_target(params["ResourceArn"])
        tags = {**topic.tags, **{t["Key"]: t["Value"] for t in params["Tags"]}}
        if len(tags) > 50:
            raise ServiceError("TagLimitExceeded", "Could not complete request: tag quota of per resource exceeded")
        await self._save_tags(topic, tags)
        return {}

    async def UntagResource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        topic = self._tag_target(params["ResourceArn"])
        await self._save_tags(topic, {k: v for k, v in topic.tags.items() if k not in set(params["TagKeys"])})
        return {}

    async def ListTagsForResource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        topic = self._tag_target(params["ResourceArn"])
        return {"Tags": [{"Key": k, "Value": v} for k, v in topic.tags.items()]}

    # -- subscriptions -------------------------------------------------------------------------------
    async def Subscribe(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        topic = self._topic(params["TopicArn"])
        protocol = params["Protocol"].lower()
        endpoint = subs_mod.check_endpoint(protocol, params.get("Endpoint"), topic.fifo,
                                           self.ports.functions is not None)
        attrs = subs_mod.normalize(dict(params.get("Attributes") or {}), protocol)
        for sub in self._topic_subs(topic.arn):
            if sub.protocol == protocol and sub.endpoint == endpoint:
                if any(sub.attrs.get(k, "") != v for k, v in attrs.items()):
                    raise invalid("Attributes Reason: Subscription already exists with different attributes")
                show = sub.confirmed or params.get("ReturnSubscriptionArn")
                return {"SubscriptionArn": sub.arn if show else PENDING}
        confirmed = protocol not in ("http", "https")
        token = None if confirmed else secrets.token_hex(64)
        sub = Subscription(f"{topic.arn}:{uuid.uuid4()}", topic.arn, protocol, endpoint, ctx.account_id, attrs,
                           confirmed, token)
        await self._write(lambda c: c.execute(
            "INSERT INTO subscriptions (arn, topic_arn, protocol, endpoint, owner, attrs, confirmed, token, created)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (sub.arn, topic.arn, protocol, endpoint, ctx.account_id, json.dumps(attrs), int(confirmed), token,
             self.clock.now())))
        self._add_sub(sub)
        if not confirmed:
            self.dispatcher.spawn(self._send_confirmation(topic, sub, "SubscriptionConfirmation", ctx.base_url))
        return {"SubscriptionArn": sub.arn if confirmed or params.get("ReturnSubscriptionArn") else PENDING}

    async def _send_confirmation(self, topic: Topic, sub: Subscription, kind: str, base_url: str) -> None:
        assert self.signer is not None and sub.token is not None
        message_id = str(uuid.uuid4())
        doc = envelope.confirmation(self.signer, kind=kind, message_id=message_id, topic_arn=topic.arn,
                                    token=sub.token, timestamp=self.clock.now(),
                                    signature_version=topic.signature_version, base_url=base_url)
        headers = http_delivery.headers(kind, message_id, topic.arn, None if kind == "SubscriptionConfirmation"
                                        else sub.arn, False, "text/plain; charset=UTF-8")
        if not await http_delivery.post(sub.endpoint, envelope.dumps(doc), headers):
            log.warning("SNS %s to %s was not accepted", kind, sub.endpoint)

    async def ConfirmSubscription(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        topic = self._topic(params["TopicArn"])
        token = params["Token"]
        sub = next((s for s in self._topic_subs(topic.arn) if s.token == token), None)
        if sub is None:
            raise invalid("Token")
        if not sub.confirmed:
            arn = sub.arn
            await self._write(lambda c: c.execute("UPDATE subscriptions SET confirmed = 1 WHERE arn = ?", (arn,)))
            sub.confirmed = True
        return {"SubscriptionArn": sub.arn}

    async def Unsubscribe(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["SubscriptionArn"]
        _check_arn(arn, "SubscriptionArn")
        sub = self.subs.get(arn)
        if sub is None:
            raise _sub_not_found()
        await self._write(lambda c: c.execute("DELETE FROM subscriptions WHERE arn = ?", (arn,)), grows=False)
        self._drop_sub(arn)
        self.deleted_counts[sub.topic_arn] = self.deleted_counts.get(sub.topic_arn, 0) + 1
        topic = self.topics.get(sub.topic_arn)
        if topic is not None and sub.protocol in ("http", "https") and sub.confirmed and sub.token:
            self.dispatcher.spawn(self._send_confirmation(topic, sub, "UnsubscribeConfirmation", ctx.base_url))
        return {}

    async def GetSubscriptionAttributes(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        sub = self._sub(params["SubscriptionArn"])
        topic = self.topics.get(sub.topic_arn)
        return {"Attributes": subs_mod.attributes(sub, topic.delivery_policy() if topic else {})}

    async def SetSubscriptionAttributes(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        sub = self._sub(params["SubscriptionArn"])
        name, value = params["AttributeName"], params.get("AttributeValue") or ""
        attrs = dict(sub.attrs)
        checked = subs_mod.check_attribute(name, value, sub.protocol)
        if checked == "" and name in ("FilterPolicy", "RedrivePolicy", "DeliveryPolicy"):
            attrs.pop(name, None)
        else:
            attrs[name] = checked
        trial = Subscription(sub.arn, sub.topic_arn, sub.protocol, sub.endpoint, sub.owner, attrs)  # validates
        await self._write(lambda c: c.execute("UPDATE subscriptions SET attrs = ? WHERE arn = ?",
                                              (json.dumps(attrs), sub.arn)))
        sub.attrs = attrs
        sub.policy = trial.policy
        return {}

    @staticmethod
    def _listed(sub: Subscription) -> dict[str, Any]:
        return {"SubscriptionArn": sub.arn if sub.confirmed else "PendingConfirmation", "Owner": sub.owner,
                "Protocol": sub.protocol, "Endpoint": sub.endpoint, "TopicArn": sub.topic_arn}

    async def ListSubscriptions(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        mine = [s for s in self.subs.values() if s.owner == ctx.account_id]
        page, token = _page(mine, params.get("NextToken"), lambda s: s.arn)
        out: dict[str, Any] = {"Subscriptions": [self._listed(s) for s in page]}
        if token:
            out["NextToken"] = token
        return out

    async def ListSubscriptionsByTopic(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        topic = self._topic(params["TopicArn"])
        page, token = _page(self._topic_subs(topic.arn), params.get("NextToken"), lambda s: s.arn)
        out: dict[str, Any] = {"Subscriptions": [self._listed(s) for s in page]}
        if token:
            out["NextToken"] = token
        return out
