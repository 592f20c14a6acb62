"""DynamoDB's expression language: conditions and filters, key conditions, updates and projections,
compiled once per request against its ExpressionAttributeNames and ExpressionAttributeValues."""

from conveyor.services.dynamodb.expressions.conditions import Condition, compile_condition
from conveyor.services.dynamodb.expressions.context import ExpressionContext
from conveyor.services.dynamodb.expressions.key_conditions import (
    KeyCondition,
    RangeCondition,
    compile_key_condition,
)
from conveyor.services.dynamodb.expressions.projections import Projection, compile_projection
from conveyor.services.dynamodb.expressions.updates import Update, compile_update

__all__ = [
    "Condition",
    "ExpressionContext",
    "KeyCondition",
    "Projection",
    "RangeCondition",
    "Update",
    "compile_condition",
    "compile_key_condition",
    "compile_projection",
    "compile_update",
]
