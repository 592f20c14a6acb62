"""SNS's topic operations: create, delete, list, attributes, permissions and tags.

https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from conveyor.services.sns import paging, permissions
from conveyor.services.sns import topics as topics_mod
from conveyor.services.sns.registry import TopicRegistry, check_arn
from conveyor.services.sns.topics import Topic, invalid
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_sns.type_defs import (
        AddPermissionInputTypeDef,
        CreateTopicInputTypeDef,
        DeleteTopicInputTypeDef,
        GetDataProtectionPolicyInputTypeDef,
        GetTopicAttributesInputTypeDef,
        ListTagsForResourceRequestTypeDef,
        ListTopicsInputTypeDef,
        PutDataProtectionPolicyInputTypeDef,
        RemovePermissionInputTypeDef,
        SetTopicAttributesInputTypeDef,
        TagResourceRequestTypeDef,
        UntagResourceRequestTypeDef,
    )


# Kept with the topic's attributes under this key, which GetTopicAttributes does not show (AWS hands the
# policy out through GetDataProtectionPolicy only).
DATA_PROTECTION = "DataProtectionPolicy"


def check_data_protection_policy(text: str) -> str:
    """A data protection policy must be a JSON object with Name, Version and Statement; Conveyor stores it
    (it has none of Amazon's data identifiers to audit, mask or deny with) and hands it back.
    https://docs.aws.amazon.com/sns/latest/api/API_PutDataProtectionPolicy.html
    https://docs.aws.amazon.com/sns/latest/dg/sns-message-data-protection-policies.html"""
    try:
        doc = json.loads(text)
    except ValueError:
        raise invalid("DataProtectionPolicy Reason: Failed to parse policy document")
    if not isinstance(doc, dict) or not {"Name", "Version", "Statement"} <= doc.keys():
        raise invalid("DataProtectionPolicy Reason: The policy must have Name, Version and Statement")
    if not isinstance(doc["Statement"], list) or not doc["Statement"]:
        raise invalid("DataProtectionPolicy Reason: Statement must be a non-empty list")
    for statement in doc["Statement"]:
        # As AWS answered a connector's tests run against it (a DataDirection of "Inbxound").
        if not isinstance(statement, dict) or statement.get("DataDirection") not in ("Inbound", "Outbound"):
            raise invalid("DataProtectionPolicy Reason: Statement DataDirection must be either Inbound or Outbound")
    return text


def _tag_limit() -> ServiceError:
    return ServiceError("TagLimitExceeded", "Could not complete request: tag quota of per resource exceeded")


class TopicOperations:
    def __init__(self, registry: TopicRegistry) -> None:
        self.registry = registry

    async def CreateTopic(self, ctx: RequestContext, params: CreateTopicInputTypeDef) -> dict[str, Any]:
        name = params["Name"]
        attrs = dict(params.get("Attributes") or {})
        fifo = attrs.get("FifoTopic", "false").lower() == "true"
        topics_mod.check_name(name, fifo)
        given = topics_mod.normalize(attrs, creating=True, fifo=fifo)
        tags = {t["Key"]: t["Value"] for t in params.get("Tags") or []}
        if params.get("DataProtectionPolicy"):
            given[DATA_PROTECTION] = check_data_protection_policy(params["DataProtectionPolicy"])
        arn = f"arn:aws:sns:{ctx.region}:{ctx.account_id}:{name}"
        existing = self.registry.topics.get(arn)
        if existing is not None:
            for key, value in given.items():
                current = existing.attrs.get(key, "false" if key == "FifoTopic" else None)
                if current != value:
                    raise invalid("Attributes Reason: Topic already exists with different attributes")
            if tags and any(existing.tags.get(k) != v for k, v in tags.items()):
                raise invalid("Tags Reason: Topic already exists with different tags")
            return {"TopicArn": arn}
        if len(tags) > 50:
            raise _tag_limit()
        if fifo:
            given["FifoTopic"] = "true"
        else:
            given.pop("FifoTopic", None)
        await self.registry.add_topic(Topic(arn, ctx.account_id, ctx.region, name, given, tags))
        return {"TopicArn": arn}

    async def DeleteTopic(self, ctx: RequestContext, params: DeleteTopicInputTypeDef) -> dict[str, Any]:
        arn = params["TopicArn"]
        check_arn(arn, "TopicArn")
        if arn in self.registry.topics:
            await self.registry.delete_topic(arn)
        return {}

    async def ListTopics(self, ctx: RequestContext, params: ListTopicsInputTypeDef) -> dict[str, Any]:
        # Another account's caller lists its own topics: none here (conveyor.authz.Enforcer.authorize_other_account).
        account = ctx.principal.account_id if ctx.principal is not None else ctx.account_id
        mine = [t for t in self.registry.topics.values() if t.account == account and t.region == ctx.region]
        chunk, token = paging.page(mine, params.get("NextToken"), lambda t: t.arn)
        out: dict[str, Any] = {"Topics": [{"TopicArn": t.arn} for t in chunk]}
        if token:
            out["NextToken"] = token
        return out

    async def GetTopicAttributes(self, ctx: RequestContext, params: GetTopicAttributesInputTypeDef) -> dict[str, Any]:
        topic = self.registry.topic(params["TopicArn"], ctx.region)
        subs = self.registry.topic_subs(topic.arn)
        counts = (sum(s.confirmed for s in subs), sum(not s.confirmed for s in subs),
                  self.registry.deleted_counts.get(topic.arn, 0))
        return {"Attributes": topics_mod.attributes(topic, counts)}

    async def SetTopicAttributes(self, ctx: RequestContext, params: SetTopicAttributesInputTypeDef) -> dict[str, Any]:
        topic = self.registry.topic(params["TopicArn"], ctx.region)
        name, value = params["AttributeName"], params.get("AttributeValue") or ""
        if name not in topics_mod.SETTABLE:
            raise invalid("AttributeName")
        value = topics_mod.check_attribute(name, value, topic.fifo)
        attrs = dict(topic.attrs)
        if value == "" and (name in ("Policy", "DeliveryPolicy", "KmsMasterKeyId", "DisplayName", "ArchivePolicy")
                            or name in topics_mod.FEEDBACK):
            attrs.pop(name, None)
        else:
            attrs[name] = value
        await self.registry.set_topic_attrs(topic, attrs)
        return {}

    async def AddPermission(self, ctx: RequestContext, params: AddPermissionInputTypeDef) -> dict[str, Any]:
        topic = self.registry.topic(params["TopicArn"], ctx.region)
        policy = permissions.add(self.registry.policy(topic), topic.arn, params["Label"],
                                 list(params["AWSAccountId"]), list(params["ActionName"]))
        await self.registry.set_topic_attrs(topic, {**topic.attrs, "Policy": policy})
        return {}

    async def RemovePermission(self, ctx: RequestContext, params: RemovePermissionInputTypeDef) -> dict[str, Any]:
        topic = self.registry.topic(params["TopicArn"], ctx.region)
        policy = permissions.remove(self.registry.policy(topic), params["Label"])
        if policy is not None:  # an unknown label changes nothing and is not an error
            await self.registry.set_topic_attrs(topic, {**topic.attrs, "Policy": policy})
        return {}

    # -- data protection ---------------------------------------------------------------------------------
    async def GetDataProtectionPolicy(self, ctx: RequestContext,
                                      params: GetDataProtectionPolicyInputTypeDef) -> dict[str, Any]:
        topic = self._resource(params["ResourceArn"])
        return {"DataProtectionPolicy": topic.attrs.get(DATA_PROTECTION, "")}

    async def PutDataProtectionPolicy(self, ctx: RequestContext,
                                      params: PutDataProtectionPolicyInputTypeDef) -> dict[str, Any]:
        topic = self._resource(params["ResourceArn"])
        text = params["DataProtectionPolicy"]
        attrs = {k: v for k, v in topic.attrs.items() if k != DATA_PROTECTION}
        if text:  # an empty policy removes it
            attrs[DATA_PROTECTION] = check_data_protection_policy(text)
        await self.registry.set_topic_attrs(topic, attrs)
        return {}

    def _resource(self, arn: str) -> Topic:
        check_arn(arn, "ResourceArn")
        topic = self.registry.topics.get(arn)
        if topic is None:
            raise ServiceError("NotFound", "Resource does not exist", 404)
        return topic

    # -- tags --------------------------------------------------------------------------------------------
    def _tag_target(self, arn: str) -> Topic:
        topic = self.registry.topics.get(arn)
        if topic is None:
            raise ServiceError("ResourceNotFound", "Resource does not exist", 404)
        return topic

    async def TagResource(self, ctx: RequestContext, params: TagResourceRequestTypeDef) -> dict[str, Any]:
        topic = self._tag_target(params["ResourceArn"])
        tags = {**topic.tags, **{t["Key"]: t["Value"] for t in params["Tags"]}}
        if len(tags) > 50:
            raise _tag_limit()
        await self.registry.set_topic_tags(topic, tags)
        return {}

    async def UntagResource(self, ctx: RequestContext, params: UntagResourceRequestTypeDef) -> dict[str, Any]:
        topic = self._tag_target(params["ResourceArn"])
        dropped = set(params["TagKeys"])
        await self.registry.set_topic_tags(topic, {k: v for k, v in topic.tags.items() if k not in dropped})
        return {}

    async def ListTagsForResource(self, ctx: RequestContext,
                                  params: ListTagsForResourceRequestTypeDef) -> dict[str, Any]:
        topic = self._tag_target(params["ResourceArn"])
        return {"Tags": [{"Key": k, "Value": v} for k, v in topic.tags.items()]}
