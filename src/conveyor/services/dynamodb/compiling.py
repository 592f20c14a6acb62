"""A request's expressions (or their legacy parameters), compiled once before the item is touched.

Expressions and the pre-expression parameters (Expected, AttributesToGet, AttributeUpdates, QueryFilter,
ScanFilter, KeyConditions) compile to the same objects; a request may not mix them
(conveyor.services.dynamodb.legacy.refuse_mixed). Every name and value a request defines must be used.
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.html
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from conveyor.services.dynamodb.expressions import (
    Condition,
    ExpressionContext,
    KeyCondition,
    Projection,
    Update,
    compile_condition,
    compile_key_condition,
    compile_projection,
    compile_update,
)
from conveyor.services.dynamodb.expressions.key_conditions import KeyNames
from conveyor.services.dynamodb.legacy import (
    legacy_condition,
    legacy_filter,
    legacy_key_condition,
    legacy_projection,
    legacy_update,
    refuse_mixed,
)


@dataclass
class Compiled:
    condition: Condition | None = None
    update: Update | None = None
    projection: Projection | None = None
    key_condition: KeyCondition | None = None
    filter: Condition | None = None


def _context(params: Mapping[str, Any]) -> ExpressionContext:
    return ExpressionContext(params.get("ExpressionAttributeNames"), params.get("ExpressionAttributeValues"))


# What a PutItem, DeleteItem or ConditionCheck may carry beside its key or item (refuse_mixed and the
# placeholders' checks have nothing to judge without them).
_CONDITION_PARAMETERS = ("ConditionExpression", "Expected", "ExpressionAttributeNames", "ExpressionAttributeValues")


# What a GetItem may carry beside its key that expressions or their checks concern.
_READ_PARAMETERS = ("ProjectionExpression", "AttributesToGet", "ExpressionAttributeNames", "ExpressionAttributeValues")


def for_write(params: Mapping[str, Any], *, updating: bool = False, operation: str | None = None) -> Compiled:
    """PutItem, UpdateItem, DeleteItem and their transaction and batch forms. `operation` names the
    expressions AWS lists when ExpressionAttributeValues come without any (default: from `updating`)."""
    if not updating and all(params.get(name) is None for name in _CONDITION_PARAMETERS):
        return Compiled()  # a plain write: nothing to compile, nothing to refuse
    refuse_mixed(params, operation or ("UpdateItem" if updating else "PutItem"))
    ctx = _context(params)
    out = Compiled()
    if updating:
        if params.get("UpdateExpression") is not None:
            out.update = compile_update(params["UpdateExpression"], ctx)
        elif params.get("AttributeUpdates") is not None:
            out.update = legacy_update(params["AttributeUpdates"])
    if params.get("ConditionExpression") is not None:
        out.condition = compile_condition(params["ConditionExpression"], ctx)
    elif params.get("Expected") is not None:
        out.condition = legacy_condition(params["Expected"], params.get("ConditionalOperator"))
    ctx.check_all_used()
    return out


def for_read(params: Mapping[str, Any]) -> Compiled:
    """GetItem, BatchGetItem's tables, TransactGetItems' Gets."""
    if all(params.get(name) is None for name in _READ_PARAMETERS):
        return Compiled()  # the whole item: nothing to compile, nothing to refuse
    refuse_mixed(params, "GetItem")
    ctx = _context(params)
    out = Compiled()
    if params.get("ProjectionExpression") is not None:
        out.projection = compile_projection(params["ProjectionExpression"], ctx)
    else:
        out.projection = legacy_projection(params.get("AttributesToGet"))
    ctx.check_all_used()
    return out


def for_query(params: Mapping[str, Any], hash_key: KeyNames, range_key: KeyNames | None, *, scanning: bool,
              key_types: dict[str, str] | None = None) -> Compiled:
    """Query and Scan: the key condition (Query), the filter, the projection. `key_types` (key attribute
    -> S, N or B) lets the key condition refuse values of another type than the schema's."""
    refuse_mixed(params, "Scan" if scanning else "Query")
    ctx = _context(params)
    out = Compiled()
    if not scanning:
        if params.get("KeyConditionExpression") is not None:
            out.key_condition = compile_key_condition(params["KeyConditionExpression"], ctx, hash_key, range_key,
                                                      key_types=key_types)
        elif params.get("KeyConditions") is not None:
            out.key_condition = legacy_key_condition(params["KeyConditions"], hash_key, range_key,
                                                     key_types=key_types)
    if params.get("FilterExpression") is not None:
        out.filter = compile_condition(params["FilterExpression"], ctx, what="FilterExpression")
    else:
        legacy = params.get("ScanFilter") if scanning else params.get("QueryFilter")
        out.filter = legacy_filter(legacy, params.get("ConditionalOperator"))
    if params.get("ProjectionExpression") is not None:
        out.projection = compile_projection(params["ProjectionExpression"], ctx)
    else:
        out.projection = legacy_projection(params.get("AttributesToGet"))
    ctx.check_all_used()
    return out
