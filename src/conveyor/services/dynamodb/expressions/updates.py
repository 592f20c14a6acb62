"""Update expressions: SET (with + and -, if_not_exists, list_append), REMOVE, ADD and DELETE.

Every operand is read from the item as it was before the update, then the actions are applied: SETs,
ADDs and DELETEs in order, REMOVEs last (list indexes of one list removed from the highest down, so
each names the element it named before).
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.UpdateExpressions.html
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from conveyor.services.dynamodb.expressions.context import ExpressionContext
from conveyor.services.dynamodb.expressions.paths import (
    Path,
    check_parent,
    copy_value,
    find_overlap,
    get_path,
    project,
    set_path,
)
from conveyor.services.dynamodb.expressions.syntax import (
    ArithmeticOperand,
    FunctionOperand,
    Operand,
    Parser,
    PathOperand,
    Problems,
    ValueOperand,
    immediate_type,
)
from conveyor.services.dynamodb.expressions.tokens import (
    ExpressionSyntaxError,
    NestedTooDeep,
    check_operator_count,
    check_size,
    tokenize,
)
from conveyor.services.dynamodb.values import (
    NUMBER_CONTEXT,
    AttributeValue,
    Item,
    check_nesting,
    check_number,
    format_number,
    validation,
)

WHAT = "UpdateExpression"
SECTIONS = ("SET", "REMOVE", "ADD", "DELETE")
ORDER = ("reserved", "unknown_function", "section", "undefined_name", "undefined_value", "overlap", "conflict",
         "operand", "function")
TYPE_WORDS = {"S": "STRING", "N": "NUMBER", "B": "BINARY", "NULL": "NULL", "BOOL": "BOOLEAN", "L": "LIST",
              "M": "MAP"}
# What ADD and DELETE take: numbers and sets, sets only.
ALLOWED = {"ADD": ("N", "SS", "NS", "BS"), "DELETE": ("SS", "NS", "BS")}
WRONG_TYPE = "An operand in the update expression has an incorrect data type"
MISSING = "The provided expression refers to an attribute that does not exist in the item"


@dataclass
class Action:
    section: str  # SET, REMOVE, ADD, DELETE
    path: Path
    value: Operand | None = None


class UpdateParser(Parser):
    keywords = frozenset(SECTIONS)
    functions = frozenset({"if_not_exists", "list_append"})

    def parse(self) -> list[Action]:
        actions: list[Action] = []
        seen: set[str] = set()
        while True:
            section = next((word for word in SECTIONS if self.token.is_word(word)), None)
            if section is None:
                raise self.fail()
            if section in seen:
                self.problems.add("section", f'The "{section}" section can only be used once in an update expression;')
            seen.add(section)
            self.advance()
            actions.append(self.parse_action(section))
            while self.token.is_punct(","):
                self.advance()
                actions.append(self.parse_action(section))
            if self.token.kind == "eof":
                return actions

    def parse_action(self, section: str) -> Action:
        path = self.parse_path()
        if section == "REMOVE":
            return Action(section, path)
        if section == "SET":
            self.expect_punct("=")
            return Action(section, path, self.parse_set_value())
        if self.token.kind != "placeholder_value":
            raise self.fail()
        value = self.resolve_value(self.advance().text)
        kind = immediate_type(value)
        if kind is not None and kind not in ALLOWED[section]:
            self.problems.add("operand", "Incorrect operand type for operator or function; "
                                         f"operator: {section}, operand type: {TYPE_WORDS.get(kind, kind)}, "
                                         f"typeSet: ALLOWED_FOR_{section}_OPERAND")
        return Action(section, path, value)

    def parse_set_value(self) -> Operand:
        """`operand`, `operand + operand` or `operand - operand`, the whole optionally in parentheses."""
        if self.token.is_punct("("):
            start, operators, found, depth = self.position, self.operators, dict(self.problems.found), self.depth
            try:
                self.advance()
                value = self.parse_arithmetic()
                self.expect_punct(")")
                self.expect_action_end()
                return value
            except NestedTooDeep:
                raise
            except ExpressionSyntaxError as grouped_error:
                self.position, self.operators, self.problems.found, self.depth = start, operators, found, depth
                try:
                    return self.parse_arithmetic()
                except ExpressionSyntaxError as plain_error:
                    raise max(grouped_error, plain_error, key=lambda error: error.index)
        return self.parse_arithmetic()

    def expect_action_end(self) -> None:
        token = self.token
        if not (token.kind == "eof" or token.is_punct(",") or any(token.is_word(word) for word in SECTIONS)):
            raise self.fail()

    def parse_arithmetic(self) -> Operand:
        left = self.parse_operand_parens()
        if self.token.is_punct("+", "-"):
            op = self.advance().text
            self.operators += 1
            right = self.parse_operand_parens()
            for operand in (left, right):
                kind = immediate_type(operand)
                if kind is not None and kind != "N":
                    self.problems.add("function", "Incorrect operand type for operator or function; "
                                                  f"operator or function: {op}, operand type: {kind}")
            return ArithmeticOperand(op, left, right)
        return left

    def parse_operand(self) -> Operand:
        operand = super().parse_operand()
        if isinstance(operand, FunctionOperand):
            self.check_function(operand)
        return operand

    def check_function(self, function: FunctionOperand) -> None:
        name, args = function.name, function.args
        if name not in self.functions:
            return
        if len(args) != 2:
            self.problems.add("function", "Incorrect number of operands for operator or function; "
                                          f"operator or function: {name}, number of operands: {len(args)}")
        elif name == "if_not_exists" and not isinstance(args[0], PathOperand):
            self.problems.add("function", f"Operator or function requires a document path; operator or function: {name}")
        elif name == "list_append":
            for arg in args:
                kind = immediate_type(arg)
                if kind is not None and kind != "L":
                    self.problems.add("function", "Incorrect operand type for operator or function; "
                                                  f"operator or function: {name}, operand type: {kind}")
                    return


class Update:
    """A compiled update expression."""

    def __init__(self, actions: list[Action]) -> None:
        self.actions = actions
        self.paths: list[Path] = [action.path for action in actions]
        self.top_level_names: frozenset[str] = frozenset(str(path[0]) for path in self.paths)

    def apply(self, item: Item) -> Item:
        """The item after the update (a new item; `item` is left as it was)."""
        computed = [(action, _evaluate(action.value, item) if action.section == "SET" and action.value else None)
                    for action in self.actions]
        # Only the attributes an action reaches into can change: those are copied whole, the others are
        # shared with `item` (neither item is changed after this).
        touched = self.top_level_names
        new = {name: copy_value(value) if name in touched else value for name, value in item.items()}
        removals: list[Path] = []
        for action, value in computed:
            if action.section == "SET":
                assert value is not None
                if len(action.path) > 1:  # a value set deep inside may pass the 32 levels
                    check_nesting(value, len(action.path))
                set_path(new, action.path, value)
            elif action.section == "REMOVE":
                check_parent(new, action.path)
                removals.append(action.path)
            else:
                assert isinstance(action.value, ValueOperand) and action.value.value is not None
                _add_or_delete(new, action.section, action.path, action.value.value)
        _remove_all(new, removals)
        return new

    def updated(self, item: Item) -> Item:
        """The parts of `item` this update touches: ReturnValues UPDATED_OLD (on the old item) and
        UPDATED_NEW (on the new one)."""
        return project(item, self.paths)


def _evaluate(operand: Operand, item: Item) -> AttributeValue:
    if isinstance(operand, ValueOperand):
        assert operand.value is not None
        return operand.value
    if isinstance(operand, PathOperand):
        value = get_path(item, operand.path)
        if value is None:
            raise validation(MISSING)
        return copy_value(value)
    if isinstance(operand, ArithmeticOperand):
        left, right = _evaluate(operand.left, item), _evaluate(operand.right, item)
        if "N" not in left or "N" not in right:
            raise validation(WRONG_TYPE)
        a, b = Decimal(left["N"]), Decimal(right["N"])
        result = NUMBER_CONTEXT.add(a, b) if operand.op == "+" else NUMBER_CONTEXT.subtract(a, b)
        check_number(result)
        return {"N": format_number(result)}
    name, args = operand.name, operand.args
    if name == "if_not_exists":
        assert isinstance(args[0], PathOperand)
        existing = get_path(item, args[0].path)
        return copy_value(existing) if existing is not None else _evaluate(args[1], item)
    first, second = _evaluate(args[0], item), _evaluate(args[1], item)
    if "L" not in first or "L" not in second:
        raise validation(WRONG_TYPE)
    return {"L": first["L"] + second["L"]}


def _add_or_delete(item: Item, section: str, path: Path, value: AttributeValue) -> None:
    """ADD to a number or a set (an absent attribute starts at 0 or the empty set); DELETE from a set
    (a set left empty is removed, as DynamoDB keeps no empty sets)."""
    check_parent(item, path)
    existing = get_path(item, path)
    kind = next(iter(value))
    if existing is None:
        if section == "ADD":
            set_path(item, path, copy_value(value))
        return
    if kind not in existing:
        raise validation(WRONG_TYPE)
    if kind == "N":
        total = NUMBER_CONTEXT.add(Decimal(existing["N"]), Decimal(value["N"]))
        check_number(total)
        set_path(item, path, {"N": format_number(total)})
        return
    key = Decimal if kind == "NS" else (lambda member: member)
    if section == "ADD":
        present = {key(member) for member in existing[kind]}
        merged = existing[kind] + [member for member in value[kind] if key(member) not in present]
        set_path(item, path, {kind: merged})
        return
    removed = {key(member) for member in value[kind]}
    remaining = [member for member in existing[kind] if key(member) not in removed]
    if remaining:
        set_path(item, path, {kind: remaining})
    else:
        _remove_all(item, [path])


def _remove_all(item: Item, paths: list[Path]) -> None:
    """Find every target first, then delete, list elements from the highest index down."""
    by_list: dict[int, tuple[list[AttributeValue], set[int]]] = {}
    for path in paths:
        if len(path) == 1:
            item.pop(str(path[0]), None)
            continue
        parent = get_path(item, path[:-1])
        step = path[-1]
        if parent is None:
            continue
        if isinstance(step, int):
            elements = parent["L"]
            by_list.setdefault(id(elements), (elements, set()))[1].add(step)
        else:
            parent["M"].pop(step, None)
    for elements, indexes in by_list.values():
        for index in sorted(indexes, reverse=True):
            if index < len(elements):
                del elements[index]


def compile_update(text: str, ctx: ExpressionContext) -> Update:
    check_size(WHAT, text)
    tokens = tokenize(text)
    problems = Problems(ORDER)
    parser = UpdateParser(WHAT, text, tokens, ctx, problems)
    try:
        actions = parser.parse()
    except ExpressionSyntaxError as error:
        raise parser.syntax_failure(error)
    check_operator_count(WHAT, parser.operators)
    overlap = find_overlap([action.path for action in actions])
    if overlap is not None:
        problems.add(*overlap)
    problems.raise_first(WHAT)
    return Update(actions)
