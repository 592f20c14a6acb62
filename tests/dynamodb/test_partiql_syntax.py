"""The PartiQL reader, in-process: names, literals, paths, precedence and the malformed-statement error."""

from __future__ import annotations

import pytest

from conveyor.services.dynamodb.partiql import syntax as q
from conveyor.wire import ServiceError


def test_names_literals_and_paths() -> None:
    parsed = q.parse('SELECT "a""b", c.d[2].e FROM "my ""t""" WHERE x = \'it\'\'s\' AND y = -1.5e3 AND z = ?')
    select = parsed.statement
    assert isinstance(select, q.Select) and parsed.parameters == 1
    assert select.projection == (q.Path(('a"b',)), q.Path(("c", "d", 2, "e")))
    assert select.source == q.Source('my "t"')
    where = select.where
    assert isinstance(where, q.Junction) and where.op == "AND"
    assert [c.right for c in where.operands if isinstance(c, q.Compare)] == [
        q.Literal("S", "it's"), q.Literal("N", "-1.5e3"), q.Param(0)]


def test_documents_lists_sets_and_precedence() -> None:
    insert = q.parse("INSERT INTO t VALUE {'k': [1, TRUE, NULL], 's': <<'a', 'b'>>, 'm': {}}").statement
    assert isinstance(insert, q.Insert) and isinstance(insert.value, q.Document)
    assert [k for k, _ in insert.value.entries] == ["k", "s", "m"]
    where = q.parse("SELECT * FROM t WHERE a = 1 OR b = 2 AND NOT c IS MISSING").statement
    assert isinstance(where, q.Select) and isinstance(where.where, q.Junction) and where.where.op == "OR"
    assert isinstance(where.where.operands[1], q.Junction) and where.where.operands[1].op == "AND"


def test_updates_and_returning() -> None:
    update = q.parse("UPDATE t SET a = a + 1, b = list_append(b, [1]) REMOVE c[0] WHERE k = 'x' "
                     "RETURNING MODIFIED NEW *").statement
    assert isinstance(update, q.Update) and update.returning == "MODIFIED NEW"
    assert update.removes == (q.Path(("c", 0)),) and len(update.sets) == 2


@pytest.mark.parametrize("text", ["SELECT FROM t", "SELECT * FROM t WHERE", "DELETE FROM t", "INSERT INTO t",
                                  "UPDATE t WHERE k = 1", "SELECT * FROM t WHERE a = 'x", "SELECT * FROM t;x",
                                  "DELETE FROM t WHERE k = 1 RETURNING ALL NEW *"])
def test_malformed(text: str) -> None:
    with pytest.raises(ServiceError) as caught:
        q.parse(text)
    assert caught.value.code == "ValidationException"
    assert caught.value.message.startswith("Statement wasn't well formed, can't be processed: ")
