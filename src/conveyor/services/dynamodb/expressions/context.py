"""ExpressionAttributeNames and ExpressionAttributeValues of one request, and which of them were used.

AWS refuses a request whose maps are empty, have malformed keys or invalid values, and one that leaves
any name or value unused by all of its expressions together.
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ExpressionAttributeNames.html
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ExpressionAttributeValues.html
"""

from __future__ import annotations

import re

from conveyor.services.dynamodb.values import AttributeValue, canonical_value, validation
from conveyor.wire import ServiceError

_NAME_KEY = re.compile(r"#[A-Za-z0-9_]+")
_VALUE_KEY = re.compile(r":[A-Za-z0-9_]+")


class ExpressionContext:
    """The placeholders of one request, shared by all of its expressions (condition, update, filter,
    projection, key condition), so that "unused" means unused by every one of them."""

    def __init__(self, names: dict[str, str] | None, values: dict[str, AttributeValue] | None) -> None:
        if names is not None:
            if not names:
                raise validation("ExpressionAttributeNames must not be empty")
            for key in names:
                if not _NAME_KEY.fullmatch(key):
                    raise validation(f'ExpressionAttributeNames contains invalid key: Syntax error; key: "{key}"')
        canonical: dict[str, AttributeValue] = {}
        if values is not None:
            if not values:
                raise validation("ExpressionAttributeValues must not be empty")
            for key, value in values.items():
                if not _VALUE_KEY.fullmatch(key):
                    raise validation(f'ExpressionAttributeValues contains invalid key: Syntax error; key: "{key}"')
                try:
                    canonical[key] = canonical_value(value)
                except ServiceError as error:
                    raise validation(f"ExpressionAttributeValues contains invalid value: {error.message} for key {key}")
        self.names: dict[str, str] = dict(names or {})
        self.values = canonical
        self.used_names: set[str] = set()
        self.used_values: set[str] = set()
        self.deferred: list[ServiceError] = []

    def name(self, placeholder: str) -> str | None:
        if placeholder not in self.names:
            return None
        self.used_names.add(placeholder)
        return self.names[placeholder]

    def value(self, placeholder: str) -> AttributeValue | None:
        if placeholder not in self.values:
            return None
        self.used_values.add(placeholder)
        return self.values[placeholder]

    def defer(self, error: ServiceError) -> None:
        """An error AWS reports only once the placeholders are known to be all used."""
        self.deferred.append(error)

    def check_all_used(self) -> None:
        """After every expression of the request was compiled: names, then values, left unused; then any
        error an expression deferred."""
        unused_names = [key for key in self.names if key not in self.used_names]
        if unused_names:
            raise validation("Value provided in ExpressionAttributeNames unused in expressions: "
                             f"keys: {{{', '.join(unused_names)}}}")
        unused_values = [key for key in self.values if key not in self.used_values]
        if unused_values:
            raise validation("Value provided in ExpressionAttributeValues unused in expressions: "
                             f"keys: {{{', '.join(unused_values)}}}")
        if self.deferred:
            raise self.deferred[0]
