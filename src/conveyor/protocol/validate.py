"""Model-driven input validation: required members, types, enums, lengths and ranges.

Codecs convert wire values into Python values first (so a query-string "12" is already an int); this
module then checks them against the botocore shape. Services choose the error codes AWS uses for them
through `Service.validation_codes`.
"""

from __future__ import annotations

from typing import Any

from botocore.model import ListShape, MapShape, Shape, StringShape, StructureShape

from conveyor.protocol.validate_plan import pattern as _pattern
from conveyor.protocol.validate_plan import plan
from conveyor.wire import ServiceError


class ValidationCodes:
    """The error codes a service answers validation failures with (SQS and SNS use legacy query codes)."""

    missing = "MissingParameter"
    invalid = "InvalidParameterValue"
    serialization = "SerializationException"
    # Whether strings must match their shape's `pattern` (IAM checks names and paths this way).
    patterns = False
    # Whether strings must be one of their shape's enum values (S3 answers unknown ones itself).
    enums = True

    def missing_error(self, path: str) -> ServiceError:
        return ServiceError(self.missing, f"The request must contain the parameter {path}.")

    def invalid_error(self, path: str, value: Any, reason: str) -> ServiceError:
        return ServiceError(self.invalid, f"Value {_show(value)} for parameter {path} is invalid. Reason: {reason}.")

    def pattern_error(self, path: str, value: str, pattern: str) -> ServiceError:
        return self.invalid_error(path, value, f"must satisfy regular expression pattern: {pattern}")

    def map_key_pattern_error(self, path: str, key: str, pattern: str) -> ServiceError:
        return self.invalid_error(path, key, f"map keys must satisfy regular expression pattern: {pattern}")

    def list_member_error(self, path: str, items: list[Any], member: Shape, error: ServiceError) -> ServiceError:
        """An item of the list at `path` broke its member shape: `error` names that item. A service whose
        answer names the whole list instead builds that answer here."""
        return error

    def map_entry_error(self, path: str, mapping: dict[Any, Any], error: ServiceError) -> ServiceError:
        """A key or value of the map at `path` broke its shape: `error` names it. A service whose answer names
        the whole map instead (Lambda's tags) builds that answer here."""
        return error


DEFAULT_CODES = ValidationCodes()


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 100 else text[:97] + "..."


def validate(shape: Shape | None, value: Any, codes: ValidationCodes, path: str = "") -> None:
    """Raise the error `codes` words for the first thing in `value` that `shape` does not allow.

    Most requests are valid: they are checked by the shape's plan (conveyor.protocol.validate_plan), which
    names nothing; only a value the plan refuses is walked again here, naming each member on the way, to
    word the error."""
    if shape is None or value is None:
        return
    if plan(shape, codes.patterns, codes.enums)(value):
        return
    _walk(shape, value, codes, path)


def _walk(shape: Shape | None, value: Any, codes: ValidationCodes, path: str = "") -> None:
    if shape is None or value is None:
        return
    kind = shape.type_name
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            raise codes.invalid_error(path or shape.name, value, "must be a structure")
        for name in shape.required_members:
            if value.get(name) is None:
                raise codes.missing_error(_join(path, name))
        members = shape.members
        for name, item in value.items():
            member = members.get(name)
            if member is not None:
                _walk(member, item, codes, _join(path, name))
        return
    if isinstance(shape, ListShape):
        if not isinstance(value, list):
            raise codes.invalid_error(path, value, "must be a list")
        _check_length(shape, len(value), value, path, codes)
        for index, item in enumerate(value, 1):
            try:
                _walk(shape.member, item, codes, f"{path}.{index}")
            except ServiceError as error:
                raise codes.list_member_error(path, value, shape.member, error) from None
        return
    if isinstance(shape, MapShape):
        if not isinstance(value, dict):
            raise codes.invalid_error(path, value, "must be a map")
        _check_length(shape, len(value), value, path, codes)
        key_pattern: str | None = shape.key.metadata.get("pattern") if codes.patterns else None
        key_regex = _pattern(key_pattern) if key_pattern else None
        try:
            for key, item in value.items():
                if key_pattern and key_regex is not None and isinstance(key, str) and not key_regex.fullmatch(key):
                    raise codes.map_key_pattern_error(path, key, key_pattern)
                _walk(shape.key, key, codes, f"{path}.{key}")
                _walk(shape.value, item, codes, f"{path}.{key}")
        except ServiceError as error:
            raise codes.map_entry_error(path, value, error) from None
        return
    if isinstance(shape, StringShape):
        if not isinstance(value, str):
            raise codes.invalid_error(path, value, "must be a string")
        enum = shape.enum
        if enum and codes.enums and value not in enum:
            raise codes.invalid_error(path, value, f"must be one of {', '.join(enum)}")
        _check_length(shape, len(value), value, path, codes)
        if codes.patterns and (pattern := shape.metadata.get("pattern")):
            compiled = _pattern(pattern)
            if compiled is not None and compiled.fullmatch(value) is None:
                raise codes.pattern_error(path, value, pattern)
        return
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise codes.invalid_error(path, value, "must be an integer")
        _check_range(shape, value, path, codes)
        return
    if kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise codes.invalid_error(path, value, "must be a number")
        _check_range(shape, value, path, codes)
        return
    if kind == "boolean":
        if not isinstance(value, bool):
            raise codes.invalid_error(path, value, "must be a boolean")
        return
    if kind == "blob":
        if not isinstance(value, bytes | bytearray):
            raise codes.invalid_error(path, value, "must be binary")
        _check_length(shape, len(value), "<binary>", path, codes)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _check_length(shape: Shape, length: int, value: Any, path: str, codes: ValidationCodes) -> None:
    low = shape.metadata.get("min")
    high = shape.metadata.get("max")
    if low is not None and length < low:
        raise codes.invalid_error(path, value, f"length must be at least {low}")
    if high is not None and length > high:
        raise codes.invalid_error(path, value, f"length must be at most {high}")


def _check_range(shape: Shape, value: float, path: str, codes: ValidationCodes) -> None:
    low = shape.metadata.get("min")
    high = shape.metadata.get("max")
    if low is not None and value < low:
        raise codes.invalid_error(path, value, f"must be at least {low}")
    if high is not None and value > high:
        raise codes.invalid_error(path, value, f"must be at most {high}")
