"""Projection expressions: the attributes (or nested parts) a read returns.

https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ProjectionExpressions.html
"""

from __future__ import annotations

from conveyor.services.dynamodb.expressions.context import ExpressionContext
from conveyor.services.dynamodb.expressions.paths import Path, find_overlap, project
from conveyor.services.dynamodb.expressions.syntax import Parser, Problems
from conveyor.services.dynamodb.expressions.tokens import ExpressionSyntaxError, check_size, tokenize
from conveyor.services.dynamodb.values import Item

WHAT = "ProjectionExpression"
ORDER = ("reserved", "undefined_name", "overlap", "conflict")


class ProjectionParser(Parser):
    def parse(self) -> list[Path]:
        paths = [self.parse_path()]
        while self.token.is_punct(","):
            self.advance()
            paths.append(self.parse_path())
        self.expect_end()
        return paths


class Projection:
    """The paths a read keeps; `top_level_names` are the attributes they start from (what an index
    projection must hold for a query to be answered from it)."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self.top_level_names: frozenset[str] = frozenset(str(path[0]) for path in paths)

    def apply(self, item: Item) -> Item:
        return project(item, self.paths)


def compile_projection(text: str, ctx: ExpressionContext) -> Projection:
    check_size(WHAT, text)
    tokens = tokenize(text)
    problems = Problems(ORDER)
    parser = ProjectionParser(WHAT, text, tokens, ctx, problems)
    try:
        paths = parser.parse()
    except ExpressionSyntaxError as error:
        raise parser.syntax_failure(error)
    overlap = find_overlap(paths)
    if overlap is not None:
        problems.add(*overlap)
    problems.raise_first(WHAT)
    return Projection(paths)
