"""One filter language for every backend: ``camid != 3 AND timestamp BETWEEN 10 AND 20 AND source IN ('a', 'b')``.

A ``where`` string is parsed once here (columns and literal types checked against the schema), then written in
each backend's own dialect: a numpy mask for the memory gallery, SQL for LanceDB and a boolean expression for
Milvus. Parsing ourselves (rather than passing the text through) is what gives the same answers and the same
errors on all three: their dialects differ in equality, lists, BETWEEN and quoting.

Grammar: ``expr := term (OR term)*``, ``term := factor (AND factor)*``, ``factor := NOT factor | ( expr ) |
column op literal | column [NOT] BETWEEN literal AND literal | column [NOT] IN (literal, ...)``, with ``op`` one
of ``= == != <> < <= > >=``; text literals in single or double quotes.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from .schema import COLUMNS

Node = tuple  # ("or"|"and", [nodes]) | ("not", node) | ("cmp", column, op, value) | ("in", column, values)

_TOKEN = re.compile(
    r"\s*(?:(?P<number>-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)|'(?P<single>(?:[^']|'')*)'|\"(?P<double>(?:[^\"]|\"\")*)\""
    r"|(?P<op><=|>=|!=|<>|==|=|<|>)|(?P<punct>[(),])|(?P<word>[A-Za-z_][A-Za-z0-9_]*))"
)
_KEYWORDS = {"AND", "OR", "NOT", "BETWEEN", "IN"}
_OPERATORS = {"=": "==", "==": "==", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_NUMPY_OPERATORS = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _tokens(text: str) -> list[tuple[str, Any]]:
    tokens, position = [], 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if not match:
            raise ValueError(f"where: cannot read {text[position:].strip()[:20]!r} in {text!r}")
        position = match.end()
        kind = match.lastgroup
        if kind == "number":
            tokens.append(
                ("literal", float(match[kind]) if re.search(r"[.eE]", match[kind]) else int(match[kind]))
            )
        elif kind in ("single", "double"):
            quote = "'" if kind == "single" else '"'
            tokens.append(("literal", match[kind].replace(quote * 2, quote)))
        elif kind == "word" and match[kind].upper() in _KEYWORDS:
            tokens.append(("keyword", match[kind].upper()))
        else:
            tokens.append((kind, match[kind]))
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.text, self.tokens, self.position = text, _tokens(text), 0

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, kind: str, value: Any = None) -> Any:
        token = self.peek()
        if token is None or token[0] != kind or (value is not None and token[1] != value):
            found = "the end" if token is None else repr(token[1])
            raise ValueError(f"where: expected {value or kind} but found {found} in {self.text!r}")
        self.position += 1
        return token[1]

    def accept(self, kind: str, value: Any) -> bool:
        if self.peek() == (kind, value):
            self.position += 1
            return True
        return False

    def expression(self) -> Node:
        terms = [self.term()]
        while self.accept("keyword", "OR"):
            terms.append(self.term())
        return terms[0] if len(terms) == 1 else ("or", terms)

    def term(self) -> Node:
        factors = [self.factor()]
        while self.accept("keyword", "AND"):
            factors.append(self.factor())
        return factors[0] if len(factors) == 1 else ("and", factors)

    def factor(self) -> Node:
        if self.accept("keyword", "NOT"):
            return ("not", self.factor())
        if self.accept("punct", "("):
            node = self.expression()
            self.take("punct", ")")
            return node
        return self.comparison()

    def comparison(self) -> Node:
        column = self.take("word")
        if column not in COLUMNS:
            raise ValueError(
                f"where: unknown column {column!r} in {self.text!r}; expected one of {list(COLUMNS)}"
            )
        negate = self.accept("keyword", "NOT")
        if self.accept("keyword", "BETWEEN"):
            low = self.literal(column)
            self.take("keyword", "AND")
            node = ("and", [("cmp", column, ">=", low), ("cmp", column, "<=", self.literal(column))])
        elif self.accept("keyword", "IN"):
            self.take("punct", "(")
            values = [self.literal(column)]
            while self.accept("punct", ","):
                values.append(self.literal(column))
            self.take("punct", ")")
            node = ("in", column, values)
        elif negate:
            raise ValueError(f"where: expected BETWEEN or IN after NOT in {self.text!r}")
        else:
            node = ("cmp", column, _OPERATORS[self.take("op")], self.literal(column))
        return ("not", node) if negate else node

    def literal(self, column: str) -> Any:
        value = self.take("literal")
        is_text = COLUMNS[column][0] == "text"
        if is_text != isinstance(value, str):
            expected = "a quoted text" if is_text else "a number"
            raise ValueError(f"where: column {column!r} expects {expected}, found {value!r} in {self.text!r}")
        return value


def parse_where(text: str | None) -> Node | None:
    """The checked syntax tree of a ``where`` string (None for no filter)."""
    if text is None or not text.strip():
        return None
    parser = _Parser(text)
    node = parser.expression()
    if parser.peek() is not None:
        raise ValueError(f"where: unexpected {parser.peek()[1]!r} in {text!r}")
    return node


def numpy_mask(node: Node | None, columns: Mapping[str, np.ndarray], num_rows: int) -> np.ndarray:
    """Boolean (num_rows,) mask of the rows a filter keeps."""
    if node is None:
        return np.ones(num_rows, dtype=bool)
    kind = node[0]
    if kind in ("and", "or"):
        masks = [numpy_mask(child, columns, num_rows) for child in node[1]]
        return np.logical_and.reduce(masks) if kind == "and" else np.logical_or.reduce(masks)
    if kind == "not":
        return ~numpy_mask(node[1], columns, num_rows)
    if kind == "in":
        return np.isin(
            columns[node[1]][:num_rows],
            np.array(node[2], dtype=object if isinstance(node[2][0], str) else None),
        )
    _, column, op, value = node
    return np.asarray(_NUMPY_OPERATORS[op](columns[column][:num_rows], value), dtype=bool)


def _sql_literal(value: Any) -> str:
    return "'" + value.replace("'", "''") + "'" if isinstance(value, str) else repr(value)


def lance_sql(node: Node | None) -> str | None:
    """The filter as LanceDB (DataFusion) SQL; columns are back-quoted (``timestamp`` is an SQL keyword)."""
    if node is None:
        return None
    kind = node[0]
    if kind in ("and", "or"):
        return "(" + f" {kind.upper()} ".join(lance_sql(child) for child in node[1]) + ")"
    if kind == "not":
        return f"(NOT {lance_sql(node[1])})"
    if kind == "in":
        return f"(`{node[1]}` IN ({', '.join(_sql_literal(v) for v in node[2])}))"
    _, column, op, value = node
    return f"(`{column}` {'=' if op == '==' else op} {_sql_literal(value)})"


def _milvus_literal(value: Any) -> str:
    return (
        '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' if isinstance(value, str) else repr(value)
    )


def milvus_expression(node: Node | None) -> str:
    """The filter as a Milvus boolean expression ("" for none)."""
    if node is None:
        return ""
    kind = node[0]
    if kind in ("and", "or"):
        return "(" + f" {kind} ".join(milvus_expression(child) for child in node[1]) + ")"
    if kind == "not":
        return f"(not {milvus_expression(node[1])})"
    if kind == "in":
        return f"({node[1]} in [{', '.join(_milvus_literal(v) for v in node[2])}])"
    _, column, op, value = node
    return f"({column} {op} {_milvus_literal(value)})"
