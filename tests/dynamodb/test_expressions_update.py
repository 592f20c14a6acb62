"""Update expressions in process: SET with arithmetic and functions, REMOVE, ADD, DELETE, the paths they
touch, and AWS's messages for each kind of mistake."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.services.dynamodb.expressions import ExpressionContext, compile_update
from conveyor.wire import ServiceError

VALUES: dict[str, Any] = {
    ":s": {"S": "x"}, ":n": {"N": "5"}, ":l": {"L": [{"N": "9"}]}, ":ss": {"SS": ["b", "c"]},
    ":ns": {"NS": ["2", "3.0"]}, ":bs": {"BS": [b"\x01"]}, ":m": {"M": {}}, ":big": {"N": "9E+125"},
    ":tiny": {"N": "0.1"}, ":null": {"NULL": True}, ":bool": {"BOOL": True}, ":b": {"B": b"\x00"},
}
ITEM: dict[str, Any] = {
    "id": {"S": "k"}, "n": {"N": "3"}, "tags": {"SS": ["a", "b"]}, "nums": {"NS": ["1", "2"]},
    "lst": {"L": [{"S": "p"}, {"S": "q"}, {"S": "r"}]}, "mp": {"M": {"kid": {"M": {"x": {"N": "1"}}}}},
    "txt": {"S": "hello"}, "price": {"N": "0.2"},
}


def ctx() -> ExpressionContext:
    return ExpressionContext({"#t": "tags", "#dot": "a.b", "#i": "[3]", "#c": "c"}, dict(VALUES))


def update(text: str, item: dict[str, Any] = ITEM) -> dict[str, Any]:
    before = repr(item)
    result = compile_update(text, ctx()).apply(item)
    assert repr(item) == before  # the item given is never changed
    return result


def changed(text: str, item: dict[str, Any] = ITEM) -> dict[str, Any]:
    """Only the attributes that differ from the item's."""
    result = update(text, item)
    return {name: result.get(name) for name in set(result) | set(item) if result.get(name) != item.get(name)}


def refusal(text: str, item: dict[str, Any] | None = None) -> str:
    with pytest.raises(ServiceError) as caught:
        compiled = compile_update(text, ctx())
        compiled.apply(item if item is not None else ITEM)
    assert caught.value.code == "ValidationException"
    return caught.value.message


def test_set_values_arithmetic_and_functions() -> None:
    assert changed("SET a = :s, n = n + :n") == {"a": {"S": "x"}, "n": {"N": "8"}}
    assert changed("set n = :n - n") == {"n": {"N": "2"}}
    assert changed("SET price = price + :tiny") == {"price": {"N": "0.3"}}  # exact decimal, not 0.30000000000000004
    assert changed("SET q = if_not_exists(q, :n), n = if_not_exists(n, :n)") == {"q": {"N": "5"}}
    assert changed("SET lst = list_append(lst, :l)")["lst"]["L"][-1] == {"N": "9"}
    assert changed("SET lst = list_append(:l, lst)")["lst"]["L"][0] == {"N": "9"}
    assert changed("SET a = (n + :n)") == {"a": {"N": "8"}}
    assert changed("SET dup = mp.kid") == {"dup": ITEM["mp"]["M"]["kid"]}
    assert changed("SET #dot = :s") == {"a.b": {"S": "x"}}


def test_set_reads_every_operand_from_the_item_before_the_update() -> None:
    assert changed("SET n = txt, txt = n") == {"n": ITEM["txt"], "txt": ITEM["n"]}


def test_set_nested_paths_and_list_indexes() -> None:
    assert update("SET mp.kid.y = :n")["mp"]["M"]["kid"]["M"] == {"x": {"N": "1"}, "y": {"N": "5"}}
    assert update("SET lst[1] = :s")["lst"]["L"] == [{"S": "p"}, {"S": "x"}, {"S": "r"}]
    assert update("SET lst[10] = :s")["lst"]["L"][3] == {"S": "x"}  # past the end appends


def test_remove_attributes_and_list_elements() -> None:
    assert "txt" not in update("REMOVE txt, absent")
    assert update("REMOVE lst[0], lst[2]")["lst"]["L"] == [{"S": "q"}]  # indexes of the lst as it was
    assert update("REMOVE lst[7]")["lst"] == ITEM["lst"]
    assert update("REMOVE mp.kid.x")["mp"] == {"M": {"kid": {"M": {}}}}


def test_add_and_delete() -> None:
    assert changed("ADD n :n") == {"n": {"N": "8"}}
    assert changed("ADD fresh :n, more :ss") == {"fresh": {"N": "5"}, "more": {"SS": ["b", "c"]}}
    assert changed("ADD #t :ss") == {"tags": {"SS": ["a", "b", "c"]}}
    assert changed("ADD nums :ns") == {"nums": {"NS": ["1", "2", "3"]}}  # 2 and 2 are one number
    assert changed("DELETE #t :ss") == {"tags": {"SS": ["a"]}}
    assert changed("DELETE nums :ns") == {"nums": {"NS": ["1"]}}
    assert changed("DELETE absent :ss") == {}
    assert changed("DELETE tags :ss, nums :ns") == {"tags": {"SS": ["a"]}, "nums": {"NS": ["1"]}}
    emptied = update("DELETE tags :ss", {"tags": {"SS": ["b"]}})
    assert emptied == {}  # DynamoDB keeps no empty set: the attribute goes


def test_paths_touched() -> None:
    compiled = compile_update("SET a = :s, mp.kid.x = :n REMOVE lst[0] ADD n :n DELETE #t :ss", ctx())
    assert compiled.top_level_names == {"a", "mp", "lst", "n", "tags"}
    assert compiled.updated(ITEM) == {
        "mp": {"M": {"kid": {"M": {"x": {"N": "1"}}}}}, "lst": {"L": [{"S": "p"}]},
        "n": ITEM["n"], "tags": ITEM["tags"]}


@pytest.mark.parametrize(("text", "expected"), [
    ("", "The expression can not be empty;"),
    ("whatever", 'Syntax error; token: "whatever", near: "whatever"'),
    ("SET a", 'Syntax error; token: "<EOF>", near: "a"'),
    ("SET a = set", 'Syntax error; token: "set", near: "= set"'),
    ("REMOVE a = b", 'Syntax error; token: "=", near: "a = b"'),
    ("ADD a b", 'Syntax error; token: "b", near: "a b"'),
    ("SET a = b * c", 'Syntax error; token: "*", near: "b * c"'),
    ("SET a = b + c + d", 'Syntax error; token: "+", near: "c + d"'),
    ("SET :s = a", 'Syntax error; token: ":s", near: "SET :s ="'),
    ("SET a = :s SET b = :s", 'The "SET" section can only be used once in an update expression;'),
    ("REMOVE a ADD n :n REMOVE b", 'The "REMOVE" section can only be used once in an update expression;'),
    ("SET status = :s", "Attribute name is a reserved keyword; reserved keyword: status"),
    ("REMOVE Absolute", "Attribute name is a reserved keyword; reserved keyword: Absolute"),
    ("SET a = nope(b)", "Invalid function name; function: nope"),
    ("SET #zz = :s", "An expression attribute name used in the document path is not defined; attribute name: #zz"),
    ("SET a = :zz", "An expression attribute value used in expression is not defined; attribute value: :zz"),
    ("SET a = :s, a = :n", "Two document paths overlap with each other; must remove or rewrite one of these paths; "
                           "path one: [a], path two: [a]"),
    ("SET c.b.#c = a, c = a", "Two document paths overlap with each other; must remove or rewrite one of these "
                              "paths; path one: [c, b, c], path two: [c]"),
    ("REMOVE a.#c SET a[1] = :s", "Two document paths conflict with each other; must remove or rewrite one of these "
                                  "paths; path one: [a, c], path two: [a, [1]]"),
    ("SET #c[3].#i = a, #c.#i[3] = a", "Two document paths conflict with each other; must remove or rewrite one of "
                                       "these paths; path one: [c, [3], [3]], path two: [c, [3], [3]]"),
    ("ADD n :s", "Incorrect operand type for operator or function; operator: ADD, operand type: STRING, "
                 "typeSet: ALLOWED_FOR_ADD_OPERAND"),
    ("ADD n :m", "Incorrect operand type for operator or function; operator: ADD, operand type: MAP, "
                 "typeSet: ALLOWED_FOR_ADD_OPERAND"),
    ("DELETE n :n", "Incorrect operand type for operator or function; operator: DELETE, operand type: NUMBER, "
                    "typeSet: ALLOWED_FOR_DELETE_OPERAND"),
    ("SET a = if_not_exists(a)", "Incorrect number of operands for operator or function; "
                                 "operator or function: if_not_exists, number of operands: 1"),
    ("SET a = if_not_exists(:s, a)", "Operator or function requires a document path; operator or function: if_not_exists"),
    ("SET a = list_append(:s, a)", "Incorrect operand type for operator or function; "
                                   "operator or function: list_append, operand type: S"),
    ("SET a = a + :bool", "Incorrect operand type for operator or function; operator or function: +, operand type: BOOL"),
    ("SET a = :b - a", "Incorrect operand type for operator or function; operator or function: -, operand type: B"),
])
def test_mistakes_get_aws_messages(text: str, expected: str) -> None:
    assert refusal(text) == f"Invalid UpdateExpression: {expected}"


@pytest.mark.parametrize(("text", "expected"), [
    ("SET a = absent", "The provided expression refers to an attribute that does not exist in the item"),
    ("SET a = list_append(absent, :l)", "The provided expression refers to an attribute that does not exist in the item"),
    ("SET a = txt + :n", "An operand in the update expression has an incorrect data type"),
    ("SET a = list_append(txt, :l)", "An operand in the update expression has an incorrect data type"),
    ("ADD tags :ns", "An operand in the update expression has an incorrect data type"),
    ("ADD tags :n", "An operand in the update expression has an incorrect data type"),
    ("DELETE n :ss", "An operand in the update expression has an incorrect data type"),
    ("SET absent.x = :s", "The document path provided in the update expression is invalid for update"),
    ("SET txt[1] = :s", "The document path provided in the update expression is invalid for update"),
    ("SET lst.x = :s", "The document path provided in the update expression is invalid for update"),
    ("REMOVE absent.x", "The document path provided in the update expression is invalid for update"),
    ("REMOVE mp[1]", "The document path provided in the update expression is invalid for update"),
    ("ADD txt.x :n", "The document path provided in the update expression is invalid for update"),
    ("SET n = :big + :big", "Number overflow. Attempting to store a number with magnitude larger than supported range"),
])
def test_item_dependent_mistakes(text: str, expected: str) -> None:
    assert refusal(text) == expected


def test_a_value_set_deep_inside_may_not_pass_32_levels() -> None:
    deep: dict[str, Any] = {"S": "leaf"}
    for _ in range(30):
        deep = {"L": [deep]}  # 31 levels
    context = ExpressionContext(None, {":deep": deep})
    item: dict[str, Any] = {"mp": {"M": {"kid": {"M": {}}}}}
    assert compile_update("SET mp.one = :deep", context).apply(item)["mp"]["M"]["one"] == deep  # 32 levels
    with pytest.raises(ServiceError) as caught:
        compile_update("SET mp.kid.two = :deep", ExpressionContext(None, {":deep": deep})).apply(item)
    assert caught.value.message == "Nesting Levels have exceeded supported limits"


def test_arithmetic_keeps_38_digits_exactly() -> None:
    item = {"n": {"N": "1" * 38}}
    assert update("SET n = n + :n", item)["n"] == {"N": "1" * 37 + "6"}
    item = {"n": {"N": "9" * 38}}
    with pytest.raises(ServiceError) as caught:
        update("ADD n :n", item)
    assert caught.value.message == "Attempting to store more than 38 significant digits in a Number"
    # far apart in magnitude: the exact sum has 256 digits, and is refused rather than rounded
    item = {"n": {"N": "1E+125"}, "m": {"N": "1E-130"}}
    with pytest.raises(ServiceError) as caught:
        update("SET n = n + m", item)
    assert caught.value.message == "Attempting to store more than 38 significant digits in a Number"
    assert update("SET n = n - n", item)["n"] == {"N": "0"}


def test_operator_limit() -> None:
    context = ExpressionContext(None, {":v": {"N": "1"}})
    compile_update("SET " + ",".join(f"a{i}=:v+:v" for i in range(300)), context)
    with pytest.raises(ServiceError) as caught:
        compile_update("SET " + ",".join(f"a{i}=:v+:v" for i in range(301)), context)
    assert caught.value.message == ("Invalid UpdateExpression: The expression contains too many operators; "
                                    "operator count: 301")
    oversized = "SET a = :s" + " " * 4087
    with pytest.raises(ServiceError) as caught:
        compile_update(oversized, ctx())
    assert caught.value.message == "Invalid UpdateExpression: Expression size has exceeded the maximum allowed size;"
