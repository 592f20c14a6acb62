"""Condition and filter expressions: the grammar, AWS's checks and messages, and evaluation on an item.

Precedence, highest first: comparators, BETWEEN, IN, functions, then NOT, AND, OR; parentheses group.
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.OperatorsAndFunctions.html
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from conveyor.services.dynamodb.expressions.context import ExpressionContext
from conveyor.services.dynamodb.expressions.evaluate import operand_value, test_function
from conveyor.services.dynamodb.expressions.paths import Path, format_path
from conveyor.services.dynamodb.expressions.syntax import (
    FunctionOperand,
    Operand,
    Parser,
    PathOperand,
    Problems,
    ValueOperand,
    constant_type,
    immediate_type,
)
from conveyor.services.dynamodb.expressions.tokens import (
    ExpressionSyntaxError,
    NestedTooDeep,
    check_operator_count,
    check_size,
    tokenize,
)
from conveyor.services.dynamodb.values import AttributeValue, Item, compare, values_equal

COMPARATORS = ("=", "<>", "<", "<=", ">", ">=")
CONDITION_FUNCTIONS = frozenset({"attribute_exists", "attribute_not_exists", "attribute_type", "begins_with",
                                 "contains", "size"})
ARITY = {"attribute_exists": 1, "attribute_not_exists": 1, "attribute_type": 2, "begins_with": 2, "contains": 2,
         "size": 1}
TYPE_NAMES = ("S", "N", "B", "NULL", "SS", "BOOL", "L", "BS", "NS", "M")
MAX_IN_OPERANDS = 100
# The order in which AWS reports the kinds of problem one expression may have.
ORDER = ("parens", "unknown_function", "misused_function", "reserved", "undefined_name", "undefined_value",
         "condition")
LEAF_ORDER = ("operands", "distinct", "function")

# -- the tree -----------------------------------------------------------------------------------------


@dataclass
class Comparison:
    op: str
    left: Operand
    right: Operand


@dataclass
class Between:
    subject: Operand
    low: Operand
    high: Operand


@dataclass
class In:
    subject: Operand
    options: list[Operand]


@dataclass
class FunctionCondition:
    function: FunctionOperand


@dataclass
class Logical:
    op: str  # AND, OR
    left: Node
    right: Node


@dataclass
class Not:
    inner: Node


Leaf = Comparison | Between | In | FunctionCondition
Node = Leaf | Logical | Not


@dataclass
class Grouped:
    """A parenthesized condition, remembered only to spot `((...))`."""
    inner: Node


# -- evaluation ---------------------------------------------------------------------------------------


def evaluate(node: Node, item: Item) -> bool:
    if isinstance(node, Logical):
        if node.op == "AND":
            return evaluate(node.left, item) and evaluate(node.right, item)
        return evaluate(node.left, item) or evaluate(node.right, item)
    if isinstance(node, Not):
        return not evaluate(node.inner, item)
    if isinstance(node, Comparison):
        return _compare(node.op, operand_value(node.left, item), operand_value(node.right, item))
    if isinstance(node, Between):
        subject = operand_value(node.subject, item)
        low, high = operand_value(node.low, item), operand_value(node.high, item)
        if subject is None or low is None or high is None:
            return False
        above, below = compare(subject, low), compare(subject, high)
        return above is not None and below is not None and above >= 0 and below <= 0
    if isinstance(node, In):
        subject = operand_value(node.subject, item)
        return subject is not None and any(
            (option := operand_value(candidate, item)) is not None and values_equal(subject, option)
            for candidate in node.options)
    return test_function(node.function, item)


def _compare(op: str, left: AttributeValue | None, right: AttributeValue | None) -> bool:
    """A comparison with an absent operand is false, except `<>`, which is true unless both sides are
    present and equal; ordering across types is false."""
    if op == "=":
        return left is not None and right is not None and values_equal(left, right)
    if op == "<>":
        return not (left is not None and right is not None and values_equal(left, right))
    if left is None or right is None:
        return False
    order = compare(left, right)
    if order is None:
        return False
    return {"<": order < 0, "<=": order <= 0, ">": order > 0, ">=": order >= 0}[op]


class Condition:
    """A compiled condition or filter expression. `paths` are the document paths it reads, in order, and
    `top_level_names` the attributes they start from (a Query's filter may not name a key attribute:
    "Filter Expression can only contain non-primary key attributes: Primary key attribute: a")."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.paths: list[Path] = list(_paths(node))
        self.top_level_names: frozenset[str] = frozenset(str(path[0]) for path in self.paths)

    def matches(self, item: Item | None) -> bool:
        """`item` None is an absent item: every attribute is missing."""
        return evaluate(self.node, item if item is not None else {})


def _paths(node: Node | Operand) -> Iterator[Path]:
    if isinstance(node, PathOperand):
        yield node.path
    elif isinstance(node, FunctionOperand):
        for arg in node.args:
            yield from _paths(arg)
    elif isinstance(node, Logical):
        yield from _paths(node.left)
        yield from _paths(node.right)
    elif isinstance(node, Not):
        yield from _paths(node.inner)
    elif isinstance(node, FunctionCondition):
        yield from _paths(node.function)
    elif isinstance(node, Comparison | Between | In):
        for operand in _operands(node):
            yield from _paths(operand)


# -- parsing ------------------------------------------------------------------------------------------


class ConditionParser(Parser):
    keywords = frozenset({"AND", "OR", "NOT", "BETWEEN", "IN"})
    functions = CONDITION_FUNCTIONS

    def parse(self) -> Node:
        node = self.parse_or()
        self.expect_end()
        return _ungroup(node)

    def parse_or(self) -> Node | Grouped:
        node = self.parse_and()
        while self.token.is_word("OR"):
            self.advance()
            self.operators += 1
            node = Logical("OR", _ungroup(node), _ungroup(self.parse_and()))
        return node

    def parse_and(self) -> Node | Grouped:
        node = self.parse_not()
        while self.token.is_word("AND"):
            self.advance()
            self.operators += 1
            node = Logical("AND", _ungroup(node), _ungroup(self.parse_not()))
        return node

    def parse_not(self) -> Node | Grouped:
        if self.token.is_word("NOT"):
            self.advance()
            self.operators += 1
            self.nest()
            node = Not(_ungroup(self.parse_not()))
            self.unnest()
            return node
        return self.parse_primary()

    def parse_primary(self) -> Node | Grouped:
        if not self.token.is_punct("("):
            return self.parse_leaf()
        # "(" opens either a grouped condition or a parenthesized operand ("(a) = b"): try the group,
        # and on failure the leaf, keeping the syntax error that got further.
        start, operators, found, depth = self.position, self.operators, dict(self.problems.found), self.depth
        try:
            self.advance()
            self.nest()
            inner = self.parse_or()
            self.expect_punct(")")
            self.unnest()
        except NestedTooDeep:
            raise
        except ExpressionSyntaxError as group_error:
            self.position, self.operators, self.problems.found, self.depth = start, operators, found, depth
            try:
                return self.parse_leaf()
            except ExpressionSyntaxError as leaf_error:
                raise max(group_error, leaf_error, key=lambda error: error.index)
        if isinstance(inner, Grouped):
            self.problems.add("parens", "The expression has redundant parentheses;")
        return Grouped(_ungroup(inner))

    def parse_leaf(self) -> Leaf:
        subject = self.parse_operand_parens()
        token = self.token
        if token.is_punct(*COMPARATORS):
            self.advance()
            self.operators += 1
            return Comparison(token.text, subject, self.parse_operand_parens())
        if token.is_word("BETWEEN"):
            self.advance()
            self.operators += 1
            low = self.parse_operand_parens()
            if not self.token.is_word("AND"):
                raise self.fail()
            self.advance()
            return Between(subject, low, self.parse_operand_parens())
        if token.is_word("IN"):
            self.advance()
            self.operators += 1
            return In(subject, self.parse_arguments())
        if isinstance(subject, FunctionOperand):
            return FunctionCondition(subject)
        raise self.fail()


def _ungroup(node: Node | Grouped) -> Node:
    return node.inner if isinstance(node, Grouped) else node


# -- checks -------------------------------------------------------------------------------------------


def check(node: Node, problems: Problems) -> None:
    """AWS's semantic checks, made on the whole tree after it parsed."""
    if isinstance(node, Logical):
        check(node.left, problems)
        check(node.right, problems)
        return
    if isinstance(node, Not):
        check(node.inner, problems)
        return
    if isinstance(node, FunctionCondition) and node.function.name == "size":
        problems.add("misused_function", _misused("size"))
    leaf = Problems(LEAF_ORDER)
    for operand in _operands(node):
        _check_operand(operand, problems, leaf)
    if isinstance(node, Comparison):
        _check_distinct(node.op, [node.left, node.right], leaf)
    elif isinstance(node, Between):
        _check_between(node, leaf)
    elif isinstance(node, In) and len(node.options) > MAX_IN_OPERANDS:
        leaf.add("operands", "The IN operator is provided with too many operands; "
                             f"number of operands: {len(node.options)}")
    if isinstance(node, FunctionCondition):
        _check_function(node.function, leaf)
    for kind in LEAF_ORDER:
        if kind in leaf.found:
            problems.add("condition", leaf.found[kind])
            return


def _operands(node: Leaf) -> list[Operand]:
    if isinstance(node, Comparison):
        return [node.left, node.right]
    if isinstance(node, Between):
        return [node.subject, node.low, node.high]
    if isinstance(node, In):
        return [node.subject, *node.options]
    return list(node.function.args)


def _misused(name: str) -> str:
    return f"The function is not allowed to be used this way in an expression; function: {name}"


def _check_operand(operand: Operand, problems: Problems, leaf: Problems) -> None:
    """Functions inside operands: only size() yields a value; its own arguments are checked too."""
    if isinstance(operand, FunctionOperand):
        if operand.name != "size":
            problems.add("misused_function", _misused(operand.name))
        for arg in operand.args:
            _check_operand(arg, problems, leaf)
        _check_function(operand, leaf)


def _check_distinct(name: str, args: list[Operand], leaf: Problems) -> None:
    first, second = args
    if isinstance(first, PathOperand) and isinstance(second, PathOperand) and first.path == second.path:
        leaf.add("distinct", "The first operand must be distinct from the remaining operands for this operator "
                             f"or function; operator: {name}, first operand: {format_path(first.path)}")


def _check_between(node: Between, leaf: Problems) -> None:
    low, high = immediate_type(node.low), immediate_type(node.high)
    if low is None or high is None:
        return
    assert isinstance(node.low, ValueOperand) and isinstance(node.high, ValueOperand)
    assert node.low.value is not None and node.high.value is not None
    bounds = (f"lower bound operand: AttributeValue: {_show(node.low.value)}, "
              f"upper bound operand: AttributeValue: {_show(node.high.value)}")
    if low != high:
        leaf.add("function", f"The BETWEEN operator requires same data type for lower and upper bounds; {bounds}")
    elif (order := compare(node.low.value, node.high.value)) is not None and order > 0:
        leaf.add("function", "The BETWEEN operator requires upper bound to be greater than or equal to lower "
                             f"bound; {bounds}")


def _show(value: AttributeValue) -> str:
    """A value as AWS's BETWEEN messages print it: {S:a}, {N:1}."""
    kind, inner = next(iter(value.items()))
    return f"{{{kind}:{inner}}}"


def _check_function(function: FunctionOperand, leaf: Problems) -> None:
    name, args = function.name, function.args
    if name not in ARITY:
        return  # reported as an unknown function
    if len(args) != ARITY[name]:
        leaf.add("operands", "Incorrect number of operands for operator or function; "
                             f"operator or function: {name}, number of operands: {len(args)}")
        return
    if len(args) == 2:
        _check_distinct(name, args, leaf)
    wrong = "Incorrect operand type for operator or function; operator or function: {}, operand type: {}"
    if name in ("attribute_exists", "attribute_not_exists"):
        if not isinstance(args[0], PathOperand):
            leaf.add("function", f"Operator or function requires a document path; operator or function: {name}")
    elif name == "attribute_type":
        kind = constant_type(args[1])
        if kind != "S":
            leaf.add("function", wrong.format(name, kind or "{NS,SS,L,BS,N,M,B,BOOL,NULL,S}"))
        elif isinstance(args[1], ValueOperand) and args[1].value is not None and args[1].value["S"] not in TYPE_NAMES:
            leaf.add("function", f"Invalid attribute type name found; type: {args[1].value['S']}, "
                                 "valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}")
    elif name == "begins_with":
        for arg in args:
            kind = constant_type(arg)
            if kind is not None and kind not in ("S", "B"):
                leaf.add("function", wrong.format(name, kind))
                return
    elif name == "size":
        kind = constant_type(args[0])
        if kind in ("N", "BOOL", "NULL"):
            leaf.add("function", wrong.format(name, kind))


# -- compiling ----------------------------------------------------------------------------------------


def parse_condition(text: str, ctx: ExpressionContext, what: str) -> Node:
    check_size(what, text)
    tokens = tokenize(text)
    problems = Problems(ORDER)
    parser = ConditionParser(what, text, tokens, ctx, problems)
    try:
        node = parser.parse()
    except ExpressionSyntaxError as error:
        raise parser.syntax_failure(error)
    check_operator_count(what, parser.operators)
    check(node, problems)
    problems.raise_first(what)
    return node


def compile_condition(text: str, ctx: ExpressionContext, *, what: str = "ConditionExpression") -> Condition:
    """A ConditionExpression (what="ConditionExpression") or FilterExpression (what="FilterExpression")."""
    return Condition(parse_condition(text, ctx, what))

