"""A shape's validation plan (conveyor.protocol.validate_plan) passes exactly the values the worded walk of
conveyor.protocol.validate passes: the gateway trusts the plan's "valid" and words errors with the walk, so
a plan that let through one value the walk refuses would let an invalid request reach a service.

Every input shape of every served model, with its generated examples and thousands of values broken at
a random depth (a wrong type, a missing required member, a string past its bounds, a value outside its
enum, a bad map key...), under each combination of the services' pattern and enum settings.
"""

from __future__ import annotations

import copy
import random
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StringShape, StructureShape

from conveyor.protocol.validate import ValidationCodes, _walk, validate
from conveyor.protocol.validate_plan import plan
from conveyor.wire import ServiceError
from tests.protocol.codec_harness import served_codecs
from tests.protocol.shape_examples import VARIANTS, structure_example

_ODD_VALUES: list[Any] = [None, "", "x" * 3000, "NOT_AN_ENUM_VALUE", 0, -1, 10**12, 1.5, True, False, [], {},
                          b"", b"\x00" * 3000, [None], {"k": None}, {"": "v"}, ["a"] * 300, "tab\tname", "0"]


class _Codes(ValidationCodes):
    def __init__(self, patterns: bool, enums: bool) -> None:
        self.patterns = patterns
        self.enums = enums


CODES = [_Codes(patterns, enums) for patterns in (False, True) for enums in (False, True)]


def _walk_passes(shape: Shape, value: Any, codes: ValidationCodes) -> bool:
    try:
        _walk(shape, value, codes)
    except ServiceError:
        return False
    return True


def _broken(shape: Shape, value: Any, rng: random.Random, depth: int = 0) -> Any:
    """`value` with one thing changed somewhere below it (or itself replaced)."""
    if depth > 8 or rng.random() < 0.3:
        if isinstance(shape, StructureShape) and isinstance(value, dict) and shape.required_members and rng.random() < 0.5:
            value = dict(value)
            value.pop(rng.choice(shape.required_members), None)
            return value
        return copy.deepcopy(rng.choice(_ODD_VALUES))
    if isinstance(shape, StructureShape) and isinstance(value, dict) and value:
        name = rng.choice(list(value))
        member = shape.members.get(name)
        if member is not None:
            return {**value, name: _broken(member, value[name], rng, depth + 1)}
    if isinstance(shape, ListShape) and isinstance(value, list) and value:
        index = rng.randrange(len(value))
        return [*value[:index], _broken(shape.member, value[index], rng, depth + 1), *value[index + 1:]]
    if isinstance(shape, MapShape) and isinstance(value, dict) and value:
        key = rng.choice(list(value))
        if rng.random() < 0.3:
            odd_key = rng.choice(["", "x" * 3000, "NOT_AN_ENUM_VALUE", "a b", "key"])
            return {**{k: v for k, v in value.items() if k != key}, odd_key: value[key]}
        return {**value, key: _broken(shape.value, value[key], rng, depth + 1)}
    if isinstance(shape, StringShape) and shape.enum:
        return rng.choice(["NOT_AN_ENUM_VALUE", shape.enum[-1]])
    return copy.deepcopy(rng.choice(_ODD_VALUES))


def test_the_plan_and_the_walk_agree_on_every_input_shape() -> None:
    rng = random.Random(20261207)
    checked = refused = 0
    seen: set[tuple[str, str]] = set()
    for served in served_codecs():
        model = served.codec.model
        for name in model.operation_names:
            if (model.service_name, name) in seen:
                continue
            seen.add((model.service_name, name))
            shape = model.operation_model(name).input_shape
            if shape is None:
                continue
            values = [structure_example(shape, variant) for variant in VARIANTS]
            values += [_broken(shape, values[i % 2], rng) for i in range(6)]
            for value in values:
                for codes in CODES:
                    passes = _walk_passes(shape, value, codes)
                    assert plan(shape, codes.patterns, codes.enums)(value) == passes, (
                        model.service_name, name, codes.patterns, codes.enums, value)
                    checked += 1
                    refused += not passes
    # The broken values must really exercise the refusals (and the examples the passes).
    assert checked > 10_000 and checked * 0.2 < refused < checked * 0.9, (checked, refused)


def _error(check: Any, shape: Shape, value: Any, codes: ValidationCodes) -> tuple[str, str, int] | None:
    try:
        check(shape, value, codes)
    except ServiceError as error:
        return error.code, error.message, error.status
    return None


def test_validate_answers_what_the_walk_answers() -> None:
    """validate: nothing for a value the plan passes, and the walk's own error, word for word, for one it
    refuses (each service's ValidationCodes words it)."""
    rng = random.Random(7)
    for served in served_codecs():
        model = served.codec.model
        codes = served.service.validation_codes
        if codes is None:
            continue
        for name in list(model.operation_names)[:40]:
            shape = model.operation_model(name).input_shape
            if shape is None:
                continue
            good = structure_example(shape, VARIANTS[0])
            for value in (good, _broken(shape, good, rng), _broken(shape, good, rng)):
                assert _error(validate, shape, value, codes) == _error(_walk, shape, value, codes), (
                    model.service_name, name, value)
