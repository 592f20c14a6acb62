"""PartiQL for DynamoDB, translated into the requests it stands for.

SELECT becomes a Query when its WHERE pins the partition key with `=` (AND-ed at the top level), else a
Scan with the WHERE as filter; INSERT a PutItem that must not overwrite; UPDATE an UpdateItem and DELETE a
DeleteItem of the item its WHERE names by its full primary key (the rest of the WHERE is their
condition). Conditions are written in the expression language and compiled by it, so PartiQL's functions
and comparisons behave as DynamoDB's expressions do.
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-reference.html (select, insert,
update, delete, functions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from conveyor.services.dynamodb import errors
from conveyor.services.dynamodb.values import AttributeValue

_TOKEN = re.compile(r"""\s*(?:
    (?P<str>'(?:[^']|'')*')
  | (?P<qid>"(?:[^"]|"")*")
  | (?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_\-]*)
  | (?P<op><<|>>|<=|>=|<>|!=|[=<>()\[\]{},.:?*])
)""", re.VERBOSE)
_FUNCTIONS = {"contains", "begins_with", "attribute_type", "size", "attribute_exists", "attribute_not_exists"}
_KEYWORDS = {"and", "or", "not", "between", "in"}


@dataclass(frozen=True)
class Token:
    kind: str  # str, qid, num, word, op
    text: str

    @property
    def lower(self) -> str:
        return self.text.lower()


def tokens(statement: str) -> list[Token]:
    out, position = [], 0
    text = statement.rstrip().rstrip(";")
    while position < len(text):
        found = _TOKEN.match(text, position)
        if found is None or found.end() == position:
            if text[position:].strip() == "":
                break
            raise syntax(text[position:position + 10])
        kind = found.lastgroup or "op"
        out.append(Token(kind, found.group(kind)))
        position = found.end()
    return out


def syntax(near: str) -> Exception:
    return errors.validation(f"Statement wasn't well formed, can't be processed: Unexpected token near {near!r}")


@dataclass
class Translated:
    """A statement as the operation it stands for and that operation's parameters."""

    operation: str  # Query, Scan, PutItem, UpdateItem, DeleteItem, GetItem
    params: dict[str, Any]
    table: str = ""


@dataclass
class _Context:
    parameters: list[AttributeValue]
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, AttributeValue] = field(default_factory=dict)
    used_parameters: int = 0

    def name(self, text: str) -> str:
        for placeholder, known in self.names.items():
            if known == text:
                return placeholder
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = text
        return placeholder

    def value(self, value: AttributeValue) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = value
        return placeholder

    def parameter(self) -> AttributeValue:
        if self.used_parameters >= len(self.parameters):
            raise errors.validation("Number of parameters in request and statement don't match.")
        value = self.parameters[self.used_parameters]
        self.used_parameters += 1
        return value


class _Parser:
    def __init__(self, statement: str, parameters: list[AttributeValue]) -> None:
        self.tokens = tokens(statement)
        self.position = 0
        self.ctx = _Context(list(parameters))

    # -- token helpers -------------------------------------------------------------------------------
    def peek(self, offset: int = 0) -> Token | None:
        index = self.position + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def next(self) -> Token:
        token = self.peek()
        if token is None:
            raise errors.validation("Statement wasn't well formed, can't be processed: Unexpected end of statement")
        self.position += 1
        return token

    def accept(self, text: str) -> bool:
        token = self.peek()
        if token is not None and token.lower == text.lower() and token.kind in ("word", "op"):
            self.position += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.accept(text):
            token = self.peek()
            raise syntax(token.text if token else "end of statement")

    def identifier(self) -> str:
        token = self.next()
        if token.kind == "qid":
            return token.text[1:-1].replace('""', '"')
        if token.kind == "word":
            return token.text
        raise syntax(token.text)

    # -- values --------------------------------------------------------------------------------------
    def value(self) -> AttributeValue:
        token = self.next()
        if token.kind == "str":
            return {"S": token.text[1:-1].replace("''", "'")}
        if token.kind == "num":
            return {"N": token.text}
        if token.text == "?":
            return self.ctx.parameter()
        if token.kind == "word" and token.lower in ("true", "false"):
            return {"BOOL": token.lower == "true"}
        if token.kind == "word" and token.lower == "null":
            return {"NULL": True}
        if token.text == "[":
            items: list[AttributeValue] = []
            while not self.accept("]"):
                items.append(self.value())
                if not self.accept(","):
                    self.expect("]")
                    break
            return {"L": items}
        if token.text == "{":
            members: dict[str, AttributeValue] = {}
            while not self.accept("}"):
                key = self.value()
                if "S" not in key:
                    raise syntax(str(key))
                self.expect(":")
                members[key["S"]] = self.value()
                if not self.accept(","):
                    self.expect("}")
                    break
            return {"M": members}
        if token.text == "<<":
            members_list: list[AttributeValue] = []
            while not self.accept(">>"):
                members_list.append(self.value())
                if not self.accept(","):
                    self.expect(">>")
                    break
            kinds = {next(iter(m)) for m in members_list}
            if kinds == {"S"}:
                return {"SS": [m["S"] for m in members_list]}
            if kinds == {"N"}:
                return {"NS": [m["N"] for m in members_list]}
            if kinds == {"B"}:
                return {"BS": [m["B"] for m in members_list]}
            raise errors.validation("Unsupported type passed: a set must hold strings, numbers or binaries")
        raise syntax(token.text)

    def is_value_start(self) -> bool:
        token = self.peek()
        if token is None:
            return False
        return (token.kind in ("str", "num") or token.text in ("?", "[", "{", "<<")
                or (token.kind == "word" and token.lower in ("true", "false", "null")))

    # -- paths and conditions ------------------------------------------------------------------------
    def path(self) -> tuple[str, list[str]]:
        """A document path as an expression path of placeholders, and its plain parts."""
        first = self.identifier()
        parts, text = [first], self.ctx.name(first)
        while True:
            if self.accept("."):
                part = self.identifier()
                parts.append(part)
                text += "." + self.ctx.name(part)
            elif self.peek() is not None and self.peek().text == "[":  # type: ignore[union-attr]
                self.next()
                index = self.next()
                if index.kind != "num":
                    raise syntax(index.text)
                self.expect("]")
                text += f"[{index.text}]"
            else:
                return text, parts

    def operand(self) -> tuple[str, list[str] | None, AttributeValue | None]:
        """(expression text, the path's parts if a plain path, the value if a value)."""
        token = self.peek()
        if token is None:
            raise syntax("end of statement")
        if self.is_value_start():
            value = self.value()
            return self.ctx.value(value), None, value
        if token.kind == "word" and token.lower in _FUNCTIONS and (self.peek(1) or Token("", "")).text == "(":
            self.next()
            self.expect("(")
            args = [self.operand()[0]]
            while self.accept(","):
                args.append(self.operand()[0])
            self.expect(")")
            return f"{token.lower}({', '.join(args)})", None, None
        text, parts = self.path()
        return text, parts, None

    def condition(self, stop: set[str]) -> list[tuple[str, tuple[list[str], AttributeValue] | None]]:
        """The WHERE's clauses, split at top-level ANDs when no top-level OR joins them: each clause's
        expression text and, for `path = value`, its path and value."""
        clauses: list[tuple[str, tuple[list[str], AttributeValue] | None]] = []
        parts: list[str] = []
        depth = 0
        simple: tuple[list[str], AttributeValue] | None = None
        terms = 0
        any_or = False
        while self.peek() is not None and not (depth == 0 and self.peek().lower in stop):  # type: ignore[union-attr]
            token = self.peek()
            assert token is not None
            if token.text == "(":
                self.next()
                depth += 1
                parts.append("(")
                continue
            if token.text == ")":
                self.next()
                depth -= 1
                parts.append(")")
                continue
            if token.kind == "word" and token.lower in _KEYWORDS:
                self.next()
                if depth == 0 and token.lower == "and" and not any_or:
                    clauses.append((" ".join(parts), simple if terms == 1 else None))
                    parts, simple, terms = [], None, 0
                    continue
                any_or = any_or or (depth == 0 and token.lower == "or")
                parts.append(token.text.upper())
                if token.lower == "in" and self.peek() is not None and self.peek().text == "[":  # type: ignore[union-attr]
                    self.next()
                    members = [self.operand()[0]]
                    while self.accept(","):
                        members.append(self.operand()[0])
                    self.expect("]")
                    parts.append(f"({', '.join(members)})")
                continue
            if token.text in ("=", "<", ">", "<=", ">=", "<>", "!=", ","):
                self.next()
                parts.append("<>" if token.text == "!=" else token.text)
                continue
            text, path_parts, _ = self.operand()
            if self.accept("is"):
                negated = self.accept("not")
                kind = self.identifier().lower()
                if kind == "missing":
                    text = f"attribute_exists({text})" if negated else f"attribute_not_exists({text})"
                elif kind == "null":
                    null = self.ctx.value({"S": "NULL"})
                    text = f"{'NOT ' if negated else ''}attribute_type({text}, {null})"
                else:
                    raise syntax(kind)
            elif (path_parts is not None and len(path_parts) == 1 and self.peek() is not None
                  and self.peek().text == "=" and depth == 0):  # type: ignore[union-attr]
                self.next()
                value_text, _, value = self.operand()
                parts.append(f"{text} = {value_text}")
                terms += 1
                if value is not None:
                    simple = (path_parts, value)
                continue
            parts.append(text)
            terms += 1
        if parts:
            clauses.append((" ".join(parts), simple if terms == 1 else None))
        if any_or and len(clauses) > 1:
            return [(" AND ".join(f"({c})" for c, _ in clauses), None)]
        return clauses


def _text(clauses: list[tuple[str, Any]]) -> str:
    return " AND ".join(f"({c})" for c, _ in clauses) if len(clauses) > 1 else (clauses[0][0] if clauses else "")


def parse(statement: str, parameters: list[AttributeValue], key_names: Any, *, by_key: bool = False) -> Translated:
    """`key_names(table, index)`: the (hash, range) key names of a table or index, or None when unknown.
    `by_key`: a SELECT must name one item by its full key (batches and transactions): a GetItem."""
    p = _Parser(statement, parameters)
    verb = p.next().lower
    if verb == "select" and by_key:
        return _get(p, key_names)
    if verb == "select":
        return _select(p, key_names)
    if verb == "insert":
        p.expect("into")
        table = p.identifier()
        p.expect("value")
        item = p.value()
        if "M" not in item:
            raise errors.validation("Unsupported type passed: INSERT takes a tuple of attributes ({...})")
        _end(p)
        keys = key_names(table, None)
        params: dict[str, Any] = {"TableName": table, "Item": item["M"]}
        if keys is not None:
            params["ConditionExpression"] = f"attribute_not_exists({p.ctx.name(keys[0])})"
            params["ExpressionAttributeNames"] = p.ctx.names
        return Translated("PutItem", params, table)
    if verb == "update":
        table = p.identifier()
        sets: list[str] = []
        removes: list[str] = []
        while p.peek() is not None and p.peek().lower in ("set", "remove"):  # type: ignore[union-attr]
            action = p.next().lower
            while True:
                path_text, _ = p.path()
                if action == "set":
                    p.expect("=")
                    sets.append(f"{path_text} = {p.ctx.value(p.value())}")
                else:
                    removes.append(path_text)
                if not p.accept(","):
                    break
        p.expect("where")
        key, rest = _key_and_condition(p, table, key_names)
        update = " ".join(([f"SET {', '.join(sets)}"] if sets else []) + ([f"REMOVE {', '.join(removes)}"]
                                                                           if removes else []))
        exists = " AND ".join(f"attribute_exists({p.ctx.name(n)})" for n in key)
        condition = f"{exists} AND ({rest})" if rest else exists
        return Translated("UpdateItem", _with_expressions(p, {"TableName": table, "Key": key,
                                                              "UpdateExpression": update,
                                                              "ConditionExpression": condition}), table)
    if verb == "delete":
        p.expect("from")
        table = p.identifier()
        p.expect("where")
        key, rest = _key_and_condition(p, table, key_names)
        params = {"TableName": table, "Key": key}
        if rest:
            params["ConditionExpression"] = rest
        return Translated("DeleteItem", _with_expressions(p, params), table)
    raise syntax(verb)


def _end(p: _Parser) -> None:
    token = p.peek()
    if token is not None:
        raise syntax(token.text)


def _with_expressions(p: _Parser, params: dict[str, Any]) -> dict[str, Any]:
    if p.ctx.used_parameters != len(p.ctx.parameters):
        raise errors.validation("Number of parameters in request and statement don't match.")
    used = " ".join(str(v) for k, v in params.items() if k.endswith("Expression"))
    names = {k: v for k, v in p.ctx.names.items() if re.search(re.escape(k) + r"\b", used)}
    values = {k: v for k, v in p.ctx.values.items() if re.search(re.escape(k) + r"\b", used)}
    if names:
        params["ExpressionAttributeNames"] = names
    if values:
        params["ExpressionAttributeValues"] = values
    return params


def _key_and_condition(p: _Parser, table: str, key_names: Any) -> tuple[dict[str, AttributeValue], str]:
    clauses = p.condition(set())
    _end(p)
    keys = key_names(table, None)
    if keys is None:
        raise errors.not_found()
    key: dict[str, AttributeValue] = {}
    rest = []
    for text, simple in clauses:
        if simple is not None and simple[0][0] in keys and simple[0][0] not in key:
            key[simple[0][0]] = simple[1]
        else:
            rest.append((text, simple))
    if set(key) != {k for k in keys if k}:
        raise errors.validation("Where clause does not contain a mandatory equality on all key attributes")
    return key, _text(rest)


def _select(p: _Parser, key_names: Any) -> Translated:
    projection: list[str] = []
    if not p.accept("*"):
        while True:
            projection.append(p.path()[0])
            if not p.accept(","):
                break
    p.expect("from")
    table = p.identifier()
    index = None
    if p.accept("."):
        index = p.identifier()
    clauses = p.condition(set()) if p.accept("where") else []
    _end(p)
    params: dict[str, Any] = {"TableName": table}
    if index is not None:
        params["IndexName"] = index
    if projection:
        params["ProjectionExpression"] = ", ".join(projection)
    keys = key_names(table, index)
    hash_clause = range_clause = None
    if keys is not None:
        hash_clause = next((c for c in clauses if c[1] is not None and c[1][0] == [keys[0]]), None)
        range_clause = next((c for c in clauses if c[1] is not None and keys[1] and c[1][0] == [keys[1]]), None)
    if hash_clause is not None:
        pinned = [hash_clause] + ([range_clause] if range_clause is not None else [])
        rest = [c for c in clauses if all(c is not k for k in pinned)]
        params["KeyConditionExpression"] = " AND ".join(c[0] for c in pinned)
        if rest:
            params["FilterExpression"] = _text(rest)
        return Translated("Query", _with_expressions(p, params), table)
    if clauses:
        params["FilterExpression"] = _text(clauses)
    return Translated("Scan", _with_expressions(p, params), table)


def _get(p: _Parser, key_names: Any) -> Translated:
    projection: list[str] = []
    if not p.accept("*"):
        while True:
            projection.append(p.path()[0])
            if not p.accept(","):
                break
    p.expect("from")
    table = p.identifier()
    p.expect("where")
    key, rest = _key_and_condition(p, table, key_names)
    if rest:
        raise errors.validation("Where clause does not contain a mandatory equality on all key attributes")
    params: dict[str, Any] = {"TableName": table, "Key": key}
    if projection:
        params["ProjectionExpression"] = ", ".join(projection)
    return Translated("GetItem", _with_expressions(p, params), table)
