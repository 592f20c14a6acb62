"""What condition, update and projection expressions share: operands, document paths, placeholders,
and the semantic problems found while parsing, reported in AWS's order of precedence.

https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.html
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from conveyor.services.dynamodb.expressions.context import ExpressionContext
from conveyor.services.dynamodb.expressions.paths import Path
from conveyor.services.dynamodb.expressions.reserved import is_reserved
from conveyor.services.dynamodb.expressions.tokens import (
    MAX_NESTING,
    MAX_OPERATORS,
    ExpressionSyntaxError,
    NestedTooDeep,
    Token,
    invalid,
    syntax_error,
)
from conveyor.services.dynamodb.values import AttributeValue
from conveyor.wire import ServiceError

# -- operands -----------------------------------------------------------------------------------------


@dataclass
class PathOperand:
    path: Path


@dataclass
class ValueOperand:
    value: AttributeValue | None  # None when the placeholder is undefined (an error already recorded)
    placeholder: str


@dataclass
class FunctionOperand:
    name: str
    args: list[Operand]


@dataclass
class ArithmeticOperand:
    """SET a = b + c / b - c (update expressions only)."""
    op: str
    left: Operand
    right: Operand


Operand = PathOperand | ValueOperand | FunctionOperand | ArithmeticOperand


def constant_type(operand: Operand) -> str | None:
    """The datatype an operand is known to have before any item is read: a value's own type, N for
    size() and the arithmetic operators, L for list_append."""
    if isinstance(operand, ValueOperand):
        return next(iter(operand.value)) if operand.value else None
    if isinstance(operand, ArithmeticOperand) or (isinstance(operand, FunctionOperand) and operand.name == "size"):
        return "N"
    if isinstance(operand, FunctionOperand) and operand.name == "list_append":
        return "L"
    return None


def immediate_type(operand: Operand) -> str | None:
    """Only a value's own type (the checks AWS makes on literal operands)."""
    if isinstance(operand, ValueOperand) and operand.value:
        return next(iter(operand.value))
    return None


# -- problems -----------------------------------------------------------------------------------------


@dataclass
class Problems:
    """Semantic errors found while parsing, by kind; the first of each kind is kept and the kind that
    comes first in `order` is the one reported (AWS checks kinds in a fixed order, not by position)."""
    order: tuple[str, ...]
    found: dict[str, str] = field(default_factory=dict)

    def add(self, kind: str, message: str) -> None:
        self.found.setdefault(kind, message)

    def raise_first(self, what: str) -> None:
        for kind in self.order:
            if kind in self.found:
                raise invalid(what, self.found[kind])


def _is_operator(tokens: Sequence[Token], index: int) -> bool:
    """An operator or function, counted without parsing (for expressions nested too deep to parse)."""
    token = tokens[index]
    if token.kind == "name":
        return token.text.upper() in ("AND", "OR", "NOT", "BETWEEN", "IN") or tokens[index + 1].is_punct("(")
    return token.is_punct("=", "<>", "<", "<=", ">", ">=", "+", "-")


# -- the parser base ----------------------------------------------------------------------------------


class Parser:
    """Recursive descent over the tokens, with the placeholders of the request. Subclasses add the
    grammar of their expression; syntax errors are ExpressionSyntaxError(index) until `syntax_failure`
    turns the furthest one into AWS's message."""

    keywords: frozenset[str] = frozenset()  # words that cannot name an attribute unescaped here
    functions: frozenset[str] = frozenset()  # the functions this kind of expression knows

    def __init__(self, what: str, text: str, tokens: Sequence[Token], ctx: ExpressionContext, problems: Problems) -> None:
        self.what = what
        self.text = text
        self.tokens = tokens
        self.ctx = ctx
        self.problems = problems
        self.position = 0
        self.operators = 0
        self.depth = 0

    # tokens
    @property
    def token(self) -> Token:
        return self.tokens[self.position]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.position + offset, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.token
        if token.kind == "error":
            raise ExpressionSyntaxError(self.position)
        self.position += 1
        return token

    def fail(self) -> ExpressionSyntaxError:
        return ExpressionSyntaxError(self.position)

    def expect_punct(self, text: str) -> Token:
        if not self.token.is_punct(text):
            raise self.fail()
        return self.advance()

    def expect_end(self) -> None:
        if self.token.kind != "eof":
            raise self.fail()

    def syntax_failure(self, error: ExpressionSyntaxError) -> ServiceError:
        """AWS's message for a syntax error; nesting too deep to follow is reported as redundant
        parentheses when there are some, else as a syntax error where the parser stopped."""
        if isinstance(error, NestedTooDeep):
            operators = sum(1 for index, token in enumerate(self.tokens) if _is_operator(self.tokens, index))
            if operators > MAX_OPERATORS:
                return invalid(self.what, f"The expression contains too many operators; operator count: {operators}")
            if any(token.is_punct("(") and self.tokens[index + 1].is_punct("(")
                   for index, token in enumerate(self.tokens[:-1])):
                return invalid(self.what, "The expression has redundant parentheses;")
        return syntax_error(self.what, self.text, self.tokens, error.index)

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise NestedTooDeep(self.position)

    def unnest(self) -> None:
        self.depth -= 1

    def is_keyword(self, token: Token) -> bool:
        return token.kind == "name" and token.text.upper() in self.keywords

    # placeholders
    def resolve_name(self, placeholder: str) -> str:
        name = self.ctx.name(placeholder)
        if name is None:
            self.problems.add("undefined_name", "An expression attribute name used in the document path is not "
                                                f"defined; attribute name: {placeholder}")
            return placeholder
        return name

    def resolve_value(self, placeholder: str) -> ValueOperand:
        value = self.ctx.value(placeholder)
        if value is None:
            self.problems.add("undefined_value", "An expression attribute value used in expression is not "
                                                 f"defined; attribute value: {placeholder}")
        return ValueOperand(value, placeholder)

    # paths
    def path_step_name(self) -> str:
        token = self.token
        if token.kind == "placeholder_name":
            self.advance()
            return self.resolve_name(token.text)
        if token.kind == "name" and not self.is_keyword(token):
            self.advance()
            if is_reserved(token.text):
                self.problems.add("reserved", f"Attribute name is a reserved keyword; reserved keyword: {token.text}")
            return token.text
        raise self.fail()

    def parse_path(self) -> Path:
        steps: list[str | int] = [self.path_step_name()]
        while True:
            if self.token.is_punct("."):
                self.advance()
                steps.append(self.path_step_name())
            elif self.token.is_punct("["):
                self.advance()
                if self.token.kind != "number":
                    raise self.fail()
                steps.append(int(self.advance().text))
                self.expect_punct("]")
            else:
                return tuple(steps)

    def at_function(self) -> bool:
        return self.token.kind == "name" and not self.is_keyword(self.token) and self.peek().is_punct("(")

    def parse_arguments(self) -> list[Operand]:
        self.expect_punct("(")
        args = [self.parse_operand_parens()]
        while self.token.is_punct(","):
            self.advance()
            args.append(self.parse_operand_parens())
        self.expect_punct(")")
        return args

    def parse_function(self, known: frozenset[str]) -> FunctionOperand:
        name = self.advance().text
        if name not in known:  # function names are case-sensitive
            self.problems.add("unknown_function", f"Invalid function name; function: {name}")
        self.operators += 1
        self.nest()
        function = FunctionOperand(name, self.parse_arguments())
        self.unnest()
        return function

    def parse_operand(self) -> Operand:
        token = self.token
        if token.kind == "placeholder_value":
            self.advance()
            return self.resolve_value(token.text)
        if self.at_function():
            return self.parse_function(self.functions)
        return PathOperand(self.parse_path())

    def parse_operand_parens(self) -> Operand:
        if self.token.is_punct("("):
            self.advance()
            if self.token.is_punct("("):
                self.problems.add("parens", "The expression has redundant parentheses;")
            self.nest()
            operand = self.parse_operand_parens()
            self.expect_punct(")")
            self.unnest()
            return operand
        return self.parse_operand()
