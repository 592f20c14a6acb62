"""PartiQL for DynamoDB, read into statements: SELECT, INSERT, UPDATE, DELETE and EXISTS.

The subset DynamoDB accepts (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-reference.html):
quoted ("Name") and plain identifiers, document paths (`a.b[0]`), string literals in single quotes
(a doubled quote escapes one), numbers, TRUE/FALSE/NULL, documents `{'k': v}`, lists `[v]`, sets `<<v>>`,
`?` parameters, and conditions with = <> != < <= > >= BETWEEN IN, IS [NOT] MISSING|NULL, AND OR NOT,
and the functions begins_with, contains, attribute_type, size and EXISTS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from conveyor.services.dynamodb import errors
from conveyor.wire import ServiceError

# -- the tree ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Path:
    parts: tuple[str | int, ...]  # attribute names and list indexes

    @property
    def name(self) -> str:
        first = self.parts[0]
        assert isinstance(first, str)
        return first


@dataclass(frozen=True)
class Literal:
    kind: str  # "S", "N", "BOOL", "NULL", "MISSING"
    text: str = ""


@dataclass(frozen=True)
class Param:
    index: int  # 0-based position among the statement's `?`s


@dataclass(frozen=True)
class Document:
    entries: tuple[tuple[str, Operand], ...]


@dataclass(frozen=True)
class ListValue:
    items: tuple[Operand, ...]


@dataclass(frozen=True)
class SetValue:
    items: tuple[Operand, ...]


@dataclass(frozen=True)
class Call:
    name: str  # lower case
    args: tuple[Operand, ...]


@dataclass(frozen=True)
class Arithmetic:
    op: str  # "+" or "-"
    left: Operand
    right: Operand


Operand = Path | Literal | Param | Document | ListValue | SetValue | Call | Arithmetic


@dataclass(frozen=True)
class Compare:
    op: str
    left: Operand
    right: Operand


@dataclass(frozen=True)
class Between:
    subject: Operand
    low: Operand
    high: Operand


@dataclass(frozen=True)
class In:
    subject: Operand
    items: tuple[Operand, ...]


@dataclass(frozen=True)
class Is:
    subject: Operand
    what: str  # "MISSING" or "NULL"
    negated: bool


@dataclass(frozen=True)
class Function:
    call: Call  # begins_with, contains, attribute_type, attribute_exists, attribute_not_exists


@dataclass(frozen=True)
class Not:
    operand: Condition


@dataclass(frozen=True)
class Junction:
    op: str  # "AND" or "OR"
    operands: tuple[Condition, ...]


Condition = Compare | Between | In | Is | Function | Not | Junction


@dataclass(frozen=True)
class Source:
    table: str
    index: str | None = None


@dataclass(frozen=True)
class Select:
    projection: tuple[Path, ...] | None  # None: *
    source: Source
    where: Condition | None
    order: tuple[tuple[Path, bool], ...] = ()  # (key, descending)


@dataclass(frozen=True)
class Insert:
    table: str
    value: Operand


@dataclass(frozen=True)
class Update:
    table: str
    sets: tuple[tuple[Path, Operand], ...]
    removes: tuple[Path, ...]
    where: Condition
    returning: str | None  # "ALL OLD", "MODIFIED OLD", "ALL NEW", "MODIFIED NEW"


@dataclass(frozen=True)
class Delete:
    table: str
    where: Condition
    returning: str | None  # "ALL OLD"


@dataclass(frozen=True)
class Exists:
    select: Select


Statement = Select | Insert | Update | Delete | Exists


# -- tokens --------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<quoted>"(?:[^"]|"")*")
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct><<|>>|<>|!=|<=|>=|[=<>(),.\[\]{}:?*+\-])
""", re.VERBOSE)


@dataclass(frozen=True)
class Token:
    kind: str  # string, quoted, number, word, punct, end
    text: str
    at: int

    def keyword(self, *words: str) -> bool:
        return self.kind == "word" and self.text.upper() in words


def malformed(detail: str) -> ServiceError:
    return errors.validation(f"Statement wasn't well formed, can't be processed: {detail}")


def tokens(text: str) -> list[Token]:
    out: list[Token] = []
    at = 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            raise malformed(f"Unexpected character: {text[at]}")
        kind = match.lastgroup or ""
        if kind != "space":
            out.append(Token(kind, match.group(), at))
        at = match.end()
    out.append(Token("end", "", len(text)))
    return out


# -- the parser ----------------------------------------------------------------------------------------

_COMPARISONS = ("=", "<>", "!=", "<", "<=", ">", ">=")
_CONDITION_FUNCTIONS = ("begins_with", "contains", "attribute_type", "attribute_exists", "attribute_not_exists")
_VALUE_FUNCTIONS = ("size", "list_append", "set_add", "set_delete", "if_not_exists")


@dataclass
class _Parser:
    items: list[Token]
    pos: int = 0
    params: int = 0
    allowed_functions: set[str] = field(default_factory=set)

    @property
    def token(self) -> Token:
        return self.items[self.pos]

    def take(self) -> Token:
        token = self.items[self.pos]
        self.pos += 1
        return token

    def accept(self, text: str) -> bool:
        token = self.token
        if (token.kind == "punct" and token.text == text) or token.keyword(text.upper()):
            self.pos += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.accept(text):
            raise self.unexpected()

    def unexpected(self) -> ServiceError:
        token = self.token
        if token.kind == "end":
            return malformed("Unexpected end of statement")
        if token.kind == "word":
            return malformed(f"Unexpected keyword: {token.text}") if token.text.upper() in _KEYWORDS else \
                malformed(f"Unexpected identifier: {token.text}")
        return malformed(f"Unexpected token: {token.text}")

    # -- names -----------------------------------------------------------------------------------------
    def name(self) -> str:
        token = self.token
        if token.kind == "quoted":
            self.pos += 1
            return token.text[1:-1].replace('""', '"')
        if token.kind == "word" and token.text.upper() not in _KEYWORDS:
            self.pos += 1
            return token.text
        raise self.unexpected()

    def table(self) -> str:
        """A table (or index) name. Unquoted, DynamoDB's names may hold `-` and `.`-free runs of letters,
        digits and `_`; a `-` joined to the words around it without spaces stays part of the name, as
        a subtraction cannot stand there."""
        name = self.name()
        if self.items[self.pos - 1].kind == "quoted":
            return name
        while self._joined() and (self.token.kind in ("word", "number") or (
                self.token.text == "-" and self.items[self.pos + 1].kind in ("word", "number"))):
            name += self.take().text
        return name

    def _joined(self) -> bool:
        """Whether the current token touches the previous one (no space between)."""
        before = self.items[self.pos - 1]
        return self.token.kind != "end" and self.token.at == before.at + len(before.text)

    def path(self) -> Path:
        parts: list[str | int] = [self.name()]
        while True:
            if self.accept("."):
                parts.append(self.name())
            elif self.accept("["):
                token = self.take()
                if token.kind != "number" or not token.text.isdigit():
                    raise malformed(f"Unexpected token: {token.text}")
                parts.append(int(token.text))
                self.expect("]")
            else:
                return Path(tuple(parts))

    # -- values ----------------------------------------------------------------------------------------
    def operand(self) -> Operand:
        left = self.term()
        while self.token.kind == "punct" and self.token.text in ("+", "-"):
            op = self.take().text
            left = Arithmetic(op, left, self.term())
        return left

    def term(self) -> Operand:
        token = self.token
        if token.kind == "string":
            self.pos += 1
            return Literal("S", token.text[1:-1].replace("''", "'"))
        if token.kind == "number":
            self.pos += 1
            return Literal("N", token.text)
        if token.kind == "punct":
            if token.text == "-" and self.items[self.pos + 1].kind == "number":
                self.pos += 2
                return Literal("N", "-" + self.items[self.pos - 1].text)
            if self.accept("?"):
                self.params += 1
                return Param(self.params - 1)
            if self.accept("{"):
                return self.document()
            if self.accept("["):
                return ListValue(self.sequence("]"))
            if self.accept("<<"):
                return SetValue(self.sequence(">>"))
            if self.accept("("):
                inner = self.operand()
                self.expect(")")
                return inner
            raise self.unexpected()
        if token.keyword("TRUE", "FALSE"):
            self.pos += 1
            return Literal("BOOL", token.text.lower())
        if token.keyword("NULL"):
            self.pos += 1
            return Literal("NULL")
        if token.keyword("MISSING"):
            self.pos += 1
            return Literal("MISSING")
        if token.kind == "word" and self.items[self.pos + 1].text == "(" and \
                token.text.lower() in _VALUE_FUNCTIONS + _CONDITION_FUNCTIONS:
            return self.call()
        return self.path()

    def call(self) -> Call:
        name = self.take().text.lower()
        self.expect("(")
        args = self.sequence(")")
        return Call(name, args)

    def sequence(self, close: str) -> tuple[Operand, ...]:
        items: list[Operand] = []
        if self.accept(close):
            return ()
        while True:
            items.append(self.operand())
            if self.accept(close):
                return tuple(items)
            self.expect(",")

    def document(self) -> Document:
        entries: list[tuple[str, Operand]] = []
        if self.accept("}"):
            return Document(())
        while True:
            token = self.take()
            if token.kind != "string":
                raise malformed(f"Unexpected token: {token.text}")
            self.expect(":")
            entries.append((token.text[1:-1].replace("''", "'"), self.operand()))
            if self.accept("}"):
                return Document(tuple(entries))
            self.expect(",")

    # -- conditions ------------------------------------------------------------------------------------
    def condition(self) -> Condition:
        operands = [self.conjunction()]
        while self.accept("OR"):
            operands.append(self.conjunction())
        return operands[0] if len(operands) == 1 else Junction("OR", tuple(operands))

    def conjunction(self) -> Condition:
        operands = [self.negation()]
        while self.accept("AND"):
            operands.append(self.negation())
        return operands[0] if len(operands) == 1 else Junction("AND", tuple(operands))

    def negation(self) -> Condition:
        if self.accept("NOT"):
            return Not(self.negation())
        return self.predicate()

    def predicate(self) -> Condition:
        token = self.token
        if token.kind == "punct" and token.text == "(":
            # A parenthesised condition, or an operand in parentheses that a comparison follows.
            mark = self.pos
            self.pos += 1
            try:
                inner = self.condition()
                self.expect(")")
                return inner
            except ServiceError:
                self.pos = mark
        left = self.operand()
        if isinstance(left, Call) and left.name in _CONDITION_FUNCTIONS:
            return Function(left)
        token = self.token
        if token.kind == "punct" and token.text in _COMPARISONS:
            self.pos += 1
            op = "<>" if token.text == "!=" else token.text
            return Compare(op, left, self.operand())
        if self.accept("BETWEEN"):
            low = self.operand()
            self.expect("AND")
            return Between(left, low, self.operand())
        if self.accept("IN"):
            if self.accept("["):
                return In(left, self.sequence("]"))
            self.expect("(")
            return In(left, self.sequence(")"))
        if self.accept("IS"):
            negated = self.accept("NOT")
            if self.accept("MISSING"):
                return Is(left, "MISSING", negated)
            if self.accept("NULL"):
                return Is(left, "NULL", negated)
            raise self.unexpected()
        raise self.unexpected()

    # -- statements ------------------------------------------------------------------------------------
    def statement(self) -> Statement:
        if self.accept("SELECT"):
            statement: Statement = self.select()
        elif self.accept("INSERT"):
            self.expect("INTO")
            table = self.table()
            self.expect("VALUE")
            statement = Insert(table, self.operand())
        elif self.accept("UPDATE"):
            statement = self.update()
        elif self.accept("DELETE"):
            self.expect("FROM")
            table = self.table()
            self.expect("WHERE")
            where = self.condition()
            returning = self.returning()
            if returning not in (None, "ALL OLD"):
                raise malformed(f"RETURNING {returning} * is not supported for DELETE")
            statement = Delete(table, where, returning)
        elif self.accept("EXISTS"):
            self.expect("(")
            self.expect("SELECT")
            inner = self.select()
            self.expect(")")
            statement = Exists(inner)
        else:
            raise self.unexpected()
        if self.token.kind != "end":
            raise self.unexpected()
        return statement

    def select(self) -> Select:
        projection: tuple[Path, ...] | None = None
        if not self.accept("*"):
            paths = [self.path()]
            while self.accept(","):
                paths.append(self.path())
            projection = tuple(paths)
        self.expect("FROM")
        table = self.table()
        index = self.table() if self.accept(".") else None
        where = self.condition() if self.accept("WHERE") else None
        order: list[tuple[Path, bool]] = []
        if self.accept("ORDER"):
            self.expect("BY")
            while True:
                key = self.path()
                descending = self.accept("DESC")
                if not descending:
                    self.accept("ASC")
                order.append((key, descending))
                if not self.accept(","):
                    break
        return Select(projection, Source(table, index), where, tuple(order))

    def update(self) -> Update:
        table = self.table()
        sets: list[tuple[Path, Operand]] = []
        removes: list[Path] = []
        while True:
            if self.accept("SET"):
                while True:
                    target = self.path()
                    self.expect("=")
                    sets.append((target, self.operand()))
                    if not self.accept(","):
                        break
            elif self.accept("REMOVE"):
                removes.append(self.path())
                while self.accept(","):
                    removes.append(self.path())
            else:
                break
        if not sets and not removes:
            raise self.unexpected()
        self.expect("WHERE")
        where = self.condition()
        return Update(table, tuple(sets), tuple(removes), where, self.returning())

    def returning(self) -> str | None:
        if not self.accept("RETURNING"):
            return None
        scope = self.take()
        state = self.take()
        if not (scope.keyword("ALL", "MODIFIED") and state.keyword("OLD", "NEW")):
            raise malformed(f"Unexpected token: {scope.text}")
        self.expect("*")
        return f"{scope.text.upper()} {state.text.upper()}"


_KEYWORDS = frozenset({
    "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "BETWEEN", "IN", "IS", "MISSING", "NULL", "TRUE", "FALSE",
    "INSERT", "INTO", "VALUE", "UPDATE", "SET", "REMOVE", "DELETE", "RETURNING", "EXISTS", "ORDER", "BY",
    "ASC", "DESC",
})


@dataclass(frozen=True)
class Parsed:
    statement: Statement
    parameters: int  # how many `?` it holds


def parse(text: str) -> Parsed:
    """One statement, or ValidationException "Statement wasn't well formed, can't be processed: ..."."""
    parser = _Parser(tokens(text))
    statement = parser.statement()
    return Parsed(statement, parser.params)
