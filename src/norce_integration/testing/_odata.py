"""OData v4 query options for the emulator's Query service. Pure: no I/O.

Parsing and evaluation are separate. The parsers (:func:`parse_filter`,
:func:`parse_select`, :func:`parse_orderby`, :func:`parse_expand`, :func:`parse_key`) turn
option text into small attrs trees; syntax errors name the character position and the
offending token. :func:`compile_options` then checks names and types against a
:class:`Schema` (one table's entity type) and compiles everything into Python closures
once per request, so scanning 100k rows costs one closure call per row.

Semantics follow ASP.NET OData over LINQ, which Norce Query is built on: ``eq null`` is
true only for null or missing properties; ``gt``/``ge``/``lt``/``le`` with a null operand
are false; string functions on null yield null, and logic is three-valued (only rows
whose filter is ``true`` pass); numbers compare across int/Decimal/float exactly;
datetimes compare as instants (naive values count as UTC); strings compare ordinally.
"""

from __future__ import annotations

import operator
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Final

import attrs

from ._tables import Navigation, Row, Table


__all__ = [
    "BoolOp",
    "Call",
    "Compare",
    "ExpandItem",
    "In",
    "Literal",
    "MAX_EXPAND_DEPTH",
    "Node",
    "Not",
    "ODataError",
    "OrderItem",
    "Plan",
    "Property",
    "QueryOptions",
    "Schema",
    "SelectItem",
    "Token",
    "coerce_key_value",
    "compile_filter",
    "compile_options",
    "infer_edm",
    "parse_expand",
    "parse_filter",
    "parse_key",
    "parse_options",
    "parse_orderby",
    "parse_select",
    "sort_key",
    "sort_rows",
    "tokenize",
]

MAX_EXPAND_DEPTH: Final = 3
"""Norce documents that ``$expand`` is "usually limited to 3 levels"."""

Predicate = Callable[[Row], Any]
Getter = Callable[[Row], Any]


class ODataError(Exception):
    """An option is malformed or names something that does not exist (HTTP 400)."""


# --------------------------------------------------------------------------- tokens


@attrs.frozen
class Token:
    """One lexical token; ``pos`` is the offset in the whole option value."""

    kind: str  # ident, string, int, decimal, double, bool, null, datetime, date, guid, punct, eof
    text: str
    pos: int
    value: Any = None


# ASCII only: Python's \d would also accept other scripts' digits.
_GUID = re.compile(
    r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}", re.ASCII
)
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?([Zz]|[+-]\d{2}:\d{2})?",
    re.ASCII,
)
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?([mMdDfFlL])?", re.ASCII)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
_WORD_CHAR = re.compile(r"[0-9A-Za-z_.:\-]", re.ASCII)
_DIGITS: Final = frozenset("0123456789")
_NEAR = re.compile(r"[^\s(),/;=']+|\S")
_PUNCT: Final = frozenset("(),/;=*:")
_INT32 = range(-(2**31), 2**31)


def _near(text: str, i: int) -> str:
    m = _NEAR.match(text, i)
    return m.group() if m else text[i : i + 1]


def _syntax(option: str, pos: int, near: str | None) -> ODataError:
    where = f"near '{near}'" if near is not None else "near end of input"
    return ODataError(f"invalid {option}: syntax error at position {pos} {where}")


def _boundary(text: str, end: int) -> bool:
    """True when a literal ending at ``end`` is not glued to more word characters."""
    return end >= len(text) or not _WORD_CHAR.match(text, end)


def _parse_datetime(m: re.Match[str], option: str, pos: int) -> datetime:
    year, month, day, hour, minute, second, frac, tz = m.groups()
    if tz is None:
        raise ODataError(
            f"invalid {option}: datetime literal '{m.group()}' at position {pos} needs a "
            "time zone ('Z' or an offset such as +02:00)"
        )
    # Python keeps microseconds; .NET literals may carry 7 fractional digits.
    micro = int((frac or "0")[:6].ljust(6, "0"))
    if tz in ("Z", "z"):
        tzinfo: timezone = UTC
    else:
        sign = -1 if tz[0] == "-" else 1
        tzinfo = timezone(sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6])))
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            micro,
            tzinfo=tzinfo,
        )
    except ValueError:
        raise ODataError(
            f"invalid {option}: invalid datetime literal '{m.group()}' at position {pos}"
        ) from None


def tokenize(text: str, *, offset: int = 0, option: str = "$filter") -> list[Token]:
    """Split ``text`` into tokens, ending with an ``eof`` token.

    Raises:
        ODataError: An unterminated string or a character that starts no token.
    """
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
            continue
        pos = offset + i
        if c == "'":
            parts: list[str] = []
            j = i + 1
            while True:
                k = text.find("'", j)
                if k < 0:
                    raise ODataError(
                        f"invalid {option}: unterminated string literal at position {pos}"
                    )
                parts.append(text[j:k])
                if k + 1 < n and text[k + 1] == "'":
                    parts.append("'")  # '' is an escaped quote
                    j = k + 2
                    continue
                break
            tokens.append(Token("string", text[i : k + 1], pos, "".join(parts)))
            i = k + 1
            continue
        if c in _PUNCT:
            tokens.append(Token("punct", c, pos))
            i += 1
            continue
        m = _GUID.match(text, i)
        if m and _boundary(text, m.end()):
            tokens.append(Token("guid", m.group(), pos, uuid.UUID(m.group())))
            i = m.end()
            continue
        if c in _DIGITS:
            m = _DATETIME.match(text, i)
            if m and _boundary(text, m.end()):
                tokens.append(Token("datetime", m.group(), pos, _parse_datetime(m, option, pos)))
                i = m.end()
                continue
            m = _DATE.match(text, i)
            if m and _boundary(text, m.end()):
                try:
                    value: Any = date(int(m[1]), int(m[2]), int(m[3]))
                except ValueError:
                    raise ODataError(
                        f"invalid {option}: invalid date literal '{m.group()}' at position {pos}"
                    ) from None
                tokens.append(Token("date", m.group(), pos, value))
                i = m.end()
                continue
        if c in _DIGITS or (c == "-" and i + 1 < n and text[i + 1] in _DIGITS):
            m = _NUMBER.match(text, i)
            if m and (m.end() >= n or not _IDENT.match(text, m.end())):
                tokens.append(_number_token(m, pos, option))
                i = m.end()
                continue
            raise _syntax(option, pos, _near(text, i))
        m = _IDENT.match(text, i)
        if m:
            word = m.group()
            if word in ("true", "false"):
                tokens.append(Token("bool", word, pos, word == "true"))
            elif word == "null":
                tokens.append(Token("null", word, pos, None))
            else:
                tokens.append(Token("ident", word, pos))
            i = m.end()
            continue
        raise _syntax(option, pos, _near(text, i))
    tokens.append(Token("eof", "", offset + n))
    return tokens


def _number_token(m: re.Match[str], pos: int, option: str) -> Token:
    text = m.group()
    frac, exp, suffix = m.groups()
    body = text[:-1] if suffix else text
    s = (suffix or "").lower()
    if s == "l":
        if frac or exp:
            raise _syntax(option, pos, text)
        return Token("int", text, pos, int(body))
    if s in ("d", "f"):
        return Token("double", text, pos, float(body))
    if s == "m" or frac or exp:
        return Token("decimal", text, pos, Decimal(body))
    return Token("int", text, pos, int(body))


# --------------------------------------------------------------------------- $filter AST


@attrs.frozen
class Literal:
    """A constant; ``kind`` is the token kind (string, int, decimal, datetime, ...)."""

    value: Any
    kind: str
    pos: int


@attrs.frozen
class Property:
    """A property path: ``PartNo`` or, through single-valued navigations, ``Sku/PartNo``."""

    path: tuple[str, ...]
    pos: int


@attrs.frozen
class Call:
    """A function call such as ``contains(Name,'x')``."""

    name: str
    args: tuple[Node, ...]
    pos: int


@attrs.frozen
class Not:
    """Logical negation."""

    operand: Node
    pos: int


@attrs.frozen
class BoolOp:
    """``and`` / ``or``."""

    op: str
    left: Node
    right: Node
    pos: int


@attrs.frozen
class Compare:
    """``eq`` ``ne`` ``gt`` ``ge`` ``lt`` ``le``."""

    op: str
    left: Node
    right: Node
    pos: int


@attrs.frozen
class In:
    """``Field in (a,b,c)``."""

    operand: Node
    values: tuple[Literal, ...]
    pos: int


Node = Literal | Property | Call | Not | BoolOp | Compare | In

_CMP_OPS: Final = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
_RESERVED: Final = _CMP_OPS | {"and", "or", "not", "in"}
_LITERAL_KINDS: Final = frozenset(
    {"string", "int", "decimal", "double", "bool", "null", "datetime", "date", "guid"}
)


class _Parser:
    """Recursive descent over tokens. Precedence: not > comparison > and > or."""

    def __init__(self, text: str, *, offset: int, option: str, allow_in: bool) -> None:
        self.text = text
        self.offset = offset
        self.option = option
        self.allow_in = allow_in
        self.tokens = tokenize(text, offset=offset, option=option)
        self.i = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != "eof":
            self.i += 1
        return tok

    def at_word(self, word: str) -> bool:
        tok = self.tokens[self.i]
        return tok.kind == "ident" and tok.text == word

    def at_punct(self, p: str) -> bool:
        tok = self.tokens[self.i]
        return tok.kind == "punct" and tok.text == p

    def fail(self, tok: Token | None = None) -> ODataError:
        tok = tok or self.peek()
        return _syntax(self.option, tok.pos, None if tok.kind == "eof" else tok.text)

    def expect_punct(self, p: str) -> Token:
        if not self.at_punct(p):
            raise self.fail()
        return self.advance()

    def expect_ident(self) -> Token:
        tok = self.peek()
        if tok.kind != "ident" or tok.text in _RESERVED:
            raise self.fail()
        return self.advance()

    def expect_eof(self) -> None:
        if self.peek().kind != "eof":
            raise self.fail()

    # expression grammar -------------------------------------------------------

    def parse_or(self) -> Node:
        left = self.parse_and()
        while self.at_word("or"):
            tok = self.advance()
            left = BoolOp("or", left, self.parse_and(), tok.pos)
        return left

    def parse_and(self) -> Node:
        left = self.parse_comparison()
        while self.at_word("and"):
            tok = self.advance()
            left = BoolOp("and", left, self.parse_comparison(), tok.pos)
        return left

    def parse_comparison(self) -> Node:
        left = self.parse_unary()
        while True:
            tok = self.peek()
            if tok.kind == "ident" and tok.text in _CMP_OPS:
                self.advance()
                left = Compare(tok.text, left, self.parse_unary(), tok.pos)
            elif tok.kind == "ident" and tok.text == "in":
                if not self.allow_in:
                    raise ODataError(
                        f"invalid {self.option}: the 'in' operator (position {tok.pos}) is not "
                        "supported; use 'or'-ed 'eq' comparisons"
                    )
                self.advance()
                left = In(left, self.parse_literal_list(), tok.pos)
            else:
                return left

    def parse_unary(self) -> Node:
        if self.at_word("not"):
            tok = self.advance()
            return Not(self.parse_unary(), tok.pos)
        return self.parse_primary()

    def parse_primary(self) -> Node:
        tok = self.peek()
        if tok.kind == "punct" and tok.text == "(":
            self.advance()
            inner = self.parse_or()
            self.expect_punct(")")
            return inner
        if tok.kind in _LITERAL_KINDS:
            self.advance()
            return Literal(tok.value, tok.kind, tok.pos)
        if tok.kind == "ident" and tok.text not in _RESERVED:
            self.advance()
            if self.at_punct("("):
                return self.parse_call(tok)
            path = [tok.text]
            while self.at_punct("/"):
                self.advance()
                seg = self.expect_ident()
                if self.at_punct("("):
                    raise ODataError(
                        f"invalid {self.option}: '{seg.text}' at position {seg.pos}: lambda "
                        "operators and functions on paths (any/all) are not supported"
                    )
                path.append(seg.text)
            return Property(tuple(path), tok.pos)
        raise self.fail(tok)

    def parse_call(self, name: Token) -> Node:
        self.expect_punct("(")
        args: list[Node] = []
        if not self.at_punct(")"):
            args.append(self.parse_or())
            while self.at_punct(","):
                self.advance()
                args.append(self.parse_or())
        self.expect_punct(")")
        return Call(name.text, tuple(args), name.pos)

    def parse_literal(self) -> Literal:
        tok = self.peek()
        if tok.kind not in _LITERAL_KINDS:
            raise self.fail(tok)
        self.advance()
        return Literal(tok.value, tok.kind, tok.pos)

    def parse_literal_list(self) -> tuple[Literal, ...]:
        self.expect_punct("(")
        values = [self.parse_literal()]
        while self.at_punct(","):
            self.advance()
            values.append(self.parse_literal())
        self.expect_punct(")")
        return tuple(values)


def parse_filter(
    text: str, *, allow_in: bool = True, offset: int = 0, option: str = "$filter"
) -> Node:
    """Parse a ``$filter`` expression.

    Args:
        text: The decoded option value.
        allow_in: Accept the ``in`` operator (Norce support is unconfirmed).
        offset: Added to reported positions (for filters nested in ``$expand``).
        option: Option name used in error messages.

    Raises:
        ODataError: The text is not a valid expression.
    """
    if not text.strip():
        raise ODataError(f"invalid {option}: the expression is empty")
    p = _Parser(text, offset=offset, option=option, allow_in=allow_in)
    node = p.parse_or()
    p.expect_eof()
    return node


# --------------------------------------------------------------------------- other options


@attrs.frozen
class SelectItem:
    """One ``$select`` entry; ``name`` is ``"*"`` for all properties."""

    name: str
    pos: int


@attrs.frozen
class OrderItem:
    """One ``$orderby`` key."""

    path: Property
    descending: bool


@attrs.frozen
class QueryOptions:
    """Parsed query options for one entity type (top level or inside ``$expand``)."""

    filter: Node | None = None
    select: tuple[SelectItem, ...] | None = None
    expand: tuple[ExpandItem, ...] = ()
    orderby: tuple[OrderItem, ...] = ()
    top: int | None = None
    skip: int | None = None


@attrs.frozen
class ExpandItem:
    """One ``$expand`` entry with its nested options; ``name`` is ``"*"`` for all."""

    name: str
    pos: int
    options: QueryOptions = QueryOptions()


def parse_select(text: str, *, offset: int = 0, option: str = "$select") -> tuple[SelectItem, ...]:
    """Parse ``$select`` (``A,B`` or ``*``).

    Raises:
        ODataError: The list is malformed.
    """
    p = _Parser(text, offset=offset, option=option, allow_in=False)
    items: list[SelectItem] = []
    while True:
        tok = p.peek()
        if tok.kind == "punct" and tok.text == "*":
            p.advance()
            items.append(SelectItem("*", tok.pos))
        else:
            items.append(SelectItem(p.expect_ident().text, tok.pos))
        if p.peek().kind == "eof":
            return tuple(items)
        p.expect_punct(",")


def parse_orderby(text: str, *, offset: int = 0, option: str = "$orderby") -> tuple[OrderItem, ...]:
    """Parse ``$orderby`` (``A desc,B asc,C``).

    Raises:
        ODataError: The list is malformed.
    """
    p = _Parser(text, offset=offset, option=option, allow_in=False)
    items: list[OrderItem] = []
    while True:
        first = p.expect_ident()
        path = [first.text]
        while p.at_punct("/"):
            p.advance()
            path.append(p.expect_ident().text)
        descending = False
        if p.at_word("desc") or p.at_word("asc"):
            descending = p.advance().text == "desc"
        items.append(OrderItem(Property(tuple(path), first.pos), descending))
        if p.peek().kind == "eof":
            return tuple(items)
        p.expect_punct(",")


def _skip_quoted(text: str, i: int, offset: int, option: str) -> int:
    """Return the index after the string literal starting at ``text[i] == "'"``."""
    j = i + 1
    while True:
        k = text.find("'", j)
        if k < 0:
            raise ODataError(
                f"invalid {option}: unterminated string literal at position {offset + i}"
            )
        if k + 1 < len(text) and text[k + 1] == "'":
            j = k + 2
            continue
        return k + 1


def _scan_to(text: str, i: int, stops: str, offset: int, option: str) -> int:
    """Index of the first char in ``stops`` at paren depth 0 outside quotes, or len(text)."""
    depth = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "'":
            i = _skip_quoted(text, i, offset, option)
            continue
        if depth == 0 and c in stops:
            return i
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                raise _syntax(option, offset + i, ")")
        i += 1
    if depth:
        raise _syntax(option, offset + n, None)
    return n


def _parse_int_option(name: str, value: str) -> int:
    if not value.isdigit() or not value.isascii():
        raise ODataError(f"invalid {name}: '{value}' is not a non-negative integer")
    return int(value)


_NESTED_OPTIONS: Final = ("$filter", "$select", "$expand", "$orderby", "$top", "$skip")


def _parse_nested(
    text: str, offset: int, *, allow_in: bool, depth: int, option: str
) -> QueryOptions:
    seen: dict[str, tuple[str, int]] = {}
    i, n = 0, len(text)
    while i < n:
        end = _scan_to(text, i, ";", offset, option)
        part = text[i:end]
        stripped = part.lstrip()
        start = i + len(part) - len(stripped)
        if stripped.strip():
            name, eq, value = stripped.partition("=")
            key = name.strip().lower()
            if not eq or key not in _NESTED_OPTIONS:
                raise ODataError(
                    f"invalid {option}: unsupported nested option '{name.strip()}' at position "
                    f"{offset + start}; allowed: {', '.join(_NESTED_OPTIONS)}"
                )
            if key in seen:
                raise ODataError(f"invalid {option}: nested {key} given more than once")
            seen[key] = (value, offset + start + len(name) + 1)
        i = end + 1
    return _options_from(seen, allow_in=allow_in, depth=depth, option=option)


def _options_from(
    values: Mapping[str, tuple[str, int]], *, allow_in: bool, depth: int, option: str | None
) -> QueryOptions:
    def label(name: str) -> str:
        return option or name

    def get(name: str) -> tuple[str, int] | None:
        item = values.get(name)
        if item is not None and not item[0].strip():
            raise ODataError(f"invalid {label(name)}: {name} must not be empty")
        return item

    f = get("$filter")
    s = get("$select")
    e = get("$expand")
    o = get("$orderby")
    t = get("$top")
    k = get("$skip")
    return QueryOptions(
        filter=parse_filter(f[0], allow_in=allow_in, offset=f[1], option=label("$filter"))
        if f
        else None,
        select=parse_select(s[0], offset=s[1], option=label("$select")) if s else None,
        expand=parse_expand(
            e[0], offset=e[1], allow_in=allow_in, depth=depth + 1, option=label("$expand")
        )
        if e
        else (),
        orderby=parse_orderby(o[0], offset=o[1], option=label("$orderby")) if o else (),
        top=_parse_int_option("$top", t[0].strip()) if t else None,
        skip=_parse_int_option("$skip", k[0].strip()) if k else None,
    )


def parse_expand(
    text: str,
    *,
    offset: int = 0,
    allow_in: bool = True,
    depth: int = 1,
    option: str = "$expand",
) -> tuple[ExpandItem, ...]:
    """Parse ``$expand`` (``A,B($select=X;$filter=...;$expand=C(...))``).

    Positions in errors, also for nested ``$filter``s, are offsets in the whole value.

    Raises:
        ODataError: The text is malformed or nests deeper than :data:`MAX_EXPAND_DEPTH`.
    """
    if depth > MAX_EXPAND_DEPTH:
        raise ODataError(
            f"invalid {option}: the $expand path is too deep; the maximum depth allowed is "
            f"{MAX_EXPAND_DEPTH}"
        )
    items: list[ExpandItem] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == "*":
            name, pos = "*", offset + i
            i += 1
        else:
            m = _IDENT.match(text, i)
            if not m:
                raise _syntax(option, offset + i, _near(text, i) if i < n else None)
            name, pos = m.group(), offset + i
            i = m.end()
        while i < n and text[i] in " \t":
            i += 1
        opts = QueryOptions()
        if i < n and text[i] == "(":
            close = _scan_to(text, i + 1, ")", offset, option)
            if close >= n:
                raise _syntax(option, offset + n, None)
            opts = _parse_nested(
                text[i + 1 : close], offset + i + 1, allow_in=allow_in, depth=depth, option=option
            )
            i = close + 1
            while i < n and text[i] in " \t":
                i += 1
        items.append(ExpandItem(name, pos, opts))
        if i >= n:
            return tuple(items)
        if text[i] != ",":
            raise _syntax(option, offset + i, _near(text, i))
        i += 1


def parse_options(options: Mapping[str, str], *, allow_in: bool = True) -> QueryOptions:
    """Parse the top-level system query options (keys like ``"$filter"``, lower case).

    Raises:
        ODataError: An option is malformed.
    """
    return _options_from(
        {k: (v, 0) for k, v in options.items()}, allow_in=allow_in, depth=0, option=None
    )


def parse_key(text: str) -> list[tuple[str | None, Any]]:
    """Parse an entity key predicate body: ``'A'`` or ``PartNo='A',QtyBreak=1``.

    Returns:
        ``(name, value)`` pairs; ``name`` is None for the positional form.

    Raises:
        ODataError: The key is malformed.
    """
    p = _Parser(text, offset=0, option="key", allow_in=False)
    if p.peek().kind != "ident":
        value = p.parse_literal().value
        p.expect_eof()
        return [(None, value)]
    pairs: list[tuple[str | None, Any]] = []
    while True:
        name = p.expect_ident().text
        p.expect_punct("=")
        pairs.append((name, p.parse_literal().value))
        if p.peek().kind == "eof":
            return pairs
        p.expect_punct(",")


# --------------------------------------------------------------------------- schema

_FAMILY: Final[dict[str, str]] = {
    "Edm.String": "string",
    "Edm.Boolean": "bool",
    "Edm.Byte": "number",
    "Edm.SByte": "number",
    "Edm.Int16": "number",
    "Edm.Int32": "number",
    "Edm.Int64": "number",
    "Edm.Decimal": "number",
    "Edm.Double": "number",
    "Edm.Single": "number",
    "Edm.DateTimeOffset": "datetime",
    "Edm.DateTime": "datetime",
    "Edm.Date": "date",
    "Edm.Guid": "guid",
}
_LITERAL_EDM: Final[dict[str, str]] = {
    "string": "Edm.String",
    "decimal": "Edm.Decimal",
    "double": "Edm.Double",
    "bool": "Edm.Boolean",
    "datetime": "Edm.DateTimeOffset",
    "date": "Edm.Date",
    "guid": "Edm.Guid",
}
_ISO_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})?$", re.ASCII
)


def infer_edm(value: Any) -> str | None:
    """Return the Edm type name of a stored value, or None when it has none."""
    if isinstance(value, bool):
        return "Edm.Boolean"
    if isinstance(value, int):
        return "Edm.Int32" if value in _INT32 else "Edm.Int64"
    if isinstance(value, Decimal):
        return "Edm.Decimal"
    if isinstance(value, float):
        return "Edm.Double"
    if isinstance(value, datetime):
        return "Edm.DateTimeOffset"
    if isinstance(value, date):
        return "Edm.Date"
    if isinstance(value, uuid.UUID):
        return "Edm.Guid"
    if isinstance(value, str):
        # The core may store datetimes and GUIDs as JSON strings.
        if _GUID.fullmatch(value):
            return "Edm.Guid"
        if _ISO_DATETIME.match(value):
            return "Edm.DateTimeOffset"
        return "Edm.String"
    return None


class Schema:
    """Names and types of one entity type, from a :class:`Table`.

    Strict when the table declares properties or holds rows: unknown names are errors.
    Lenient (anything goes, types unknown) for a navigation target with no table.
    """

    def __init__(self, table: Table | None) -> None:
        self.table = table
        self.type_name = table.type_name() if table else "Entity"
        self.strict = bool(table and (table.properties or table.rows))
        self._known: set[str] = set()
        self._types: dict[str, str | None] = {}
        if table:
            self._known.update(table.key, table.properties)

    def has_property(self, name: str) -> bool:
        """Whether ``name`` is a structural property (always True when lenient)."""
        if not self.strict or name in self._known:
            return True
        assert self.table is not None
        if self.table.navigations.get(name) is not None:
            return False
        # Rows may omit null properties, so one row is not enough; scan only on a miss.
        if any(name in row for row in list(self.table.rows.values())):
            self._known.add(name)
            return True
        return False

    def navigation(self, name: str) -> Navigation | None:
        """The resolver of navigation property ``name``, or None."""
        return self.table.navigations.get(name) if self.table else None

    def nav_schema(self, name: str) -> Schema:
        """The schema of navigation ``name``'s target (lenient when undeclared)."""
        return Schema(self.table.nav_tables.get(name) if self.table else None)

    def edm_type(self, name: str) -> str | None:
        """Declared or inferred Edm type of ``name``; None when unknown."""
        if name in self._types:
            return self._types[name]
        edm: str | None = None
        if self.table is not None:
            edm = self.table.properties.get(name) or None
            if edm is None:
                for row in list(self.table.rows.values()):
                    value = row.get(name)
                    if value is not None:
                        edm = infer_edm(value)
                        break
        self._types[name] = edm
        return edm

    def unknown(self, name: str, pos: int, option: str) -> ODataError:
        """The error for a name that is not a property of this type."""
        return ODataError(
            f"invalid {option}: Could not find a property named '{name}' on type "
            f"'{self.type_name}' (position {pos})."
        )


# --------------------------------------------------------------------------- evaluation


def _instant(x: Any) -> Any:
    """Normalise a stored datetime (or ISO string) to an aware datetime."""
    if isinstance(x, datetime):
        return x if x.tzinfo is not None else x.replace(tzinfo=UTC)
    if isinstance(x, str):
        try:
            d = datetime.fromisoformat(x)
        except ValueError:
            return x
        return d if d.tzinfo is not None else d.replace(tzinfo=UTC)
    return x


def _guid(x: Any) -> Any:
    if isinstance(x, str):
        try:
            return uuid.UUID(x)
        except ValueError:
            return x
    return x


def _date(x: Any) -> Any:
    if isinstance(x, str):
        try:
            return date.fromisoformat(x)
        except ValueError:
            return x
    return x


_NORMS: Final[dict[str, Callable[[Any], Any]]] = {
    "datetime": _instant,
    "guid": _guid,
    "date": _date,
}
_ORDER_FNS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
_FLIP: Final = {"eq": "eq", "ne": "ne", "gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}
_OP_NAMES: Final = {
    "eq": "Equal",
    "ne": "NotEqual",
    "gt": "GreaterThan",
    "ge": "GreaterThanOrEqual",
    "lt": "LessThan",
    "le": "LessThanOrEqual",
}


@attrs.frozen
class _Value:
    get: Getter
    edm: str | None  # None: unknown (lenient schema) or null literal
    is_null: bool = False
    const: bool = False
    value: Any = None
    prop: str | None = None  # set for a plain single-segment property (fast paths)
    maybe_null: bool = True  # a boolean expression that may yield None (three-valued)

    @property
    def family(self) -> str | None:
        return _FAMILY.get(self.edm) if self.edm else None


def _tv(x: Any) -> bool | None:
    return x if x is True or x is False else None


def _compare(op: str, a: Any, b: Any) -> bool:
    if op == "eq":
        return bool(a == b)
    if op == "ne":
        return bool(a != b)
    if a is None or b is None:
        return False  # lifted .NET comparisons with null are false
    try:
        return _ORDER_FNS[op](a, b)
    except TypeError:
        return False


def _fast_compare(name: str, op: str, v: Any, norm: Callable[[Any], Any] | None) -> Predicate:
    # Specialised closures: this is the per-row hot path of a large scan.
    if v is None:
        if op == "eq":
            return lambda r: r.get(name) is None
        if op == "ne":
            return lambda r: r.get(name) is not None
        return lambda r: False
    if norm is None:
        if op == "eq":
            return lambda r: r.get(name) == v
        if op == "ne":
            return lambda r: r.get(name) != v
        fn = _ORDER_FNS[op]

        def ordered(r: Row) -> bool:
            x = r.get(name)
            if x is None:
                return False
            try:
                return fn(x, v)
            except TypeError:
                return False

        return ordered
    if op == "eq":
        return lambda r: norm(r.get(name)) == v
    if op == "ne":
        return lambda r: norm(r.get(name)) != v
    fn = _ORDER_FNS[op]

    def ordered_norm(r: Row) -> bool:
        x = r.get(name)
        if x is None:
            return False
        try:
            return fn(norm(x), v)
        except TypeError:
            return False

    return ordered_norm


_STRING_FUNCS: Final[dict[str, Callable[[str, str], Any]]] = {
    "contains": lambda a, b: b in a,
    "startswith": str.startswith,
    "endswith": str.endswith,
    "indexof": str.find,
    "concat": operator.add,
}
_UNARY_STRING_FUNCS: Final[dict[str, Callable[[str], Any]]] = {
    "tolower": str.lower,
    "toupper": str.upper,
    "trim": str.strip,
    "length": len,
}
_DATE_PARTS: Final = ("year", "month", "day", "hour", "minute", "second")


class _Compiler:
    def __init__(self, schema: Schema, option: str) -> None:
        self.schema = schema
        self.option = option

    def error(self, message: str) -> ODataError:
        return ODataError(f"invalid {self.option}: {message}")

    def predicate(self, node: Node) -> Predicate:
        value = self.value(node)
        if value.edm is not None and value.family != "bool":
            raise self.error(f"the expression must be boolean, not {value.edm}")
        if value.const:
            result = value.value is True
            return lambda r: result
        if value.maybe_null:
            # Three-valued: only True keeps a row, so callers may test plain truthiness.
            get = value.get
            return lambda r: get(r) is True
        return value.get

    def value(self, node: Node) -> _Value:
        if isinstance(node, Literal):
            v = node.value
            if node.kind == "null":
                return _Value(lambda r: None, None, is_null=True, const=True)
            if node.kind in ("int",):
                edm = "Edm.Int32" if v in _INT32 else "Edm.Int64"
            else:
                edm = _LITERAL_EDM[node.kind]
            return _Value(lambda r: v, edm, const=True, value=v, maybe_null=False)
        if isinstance(node, Property):
            return self.property(self.schema, node.path, node.pos)
        if isinstance(node, Compare):
            return self.compare(node)
        if isinstance(node, BoolOp):
            return self.boolop(node)
        if isinstance(node, Not):
            return self.negate(node)
        if isinstance(node, In):
            return self.membership(node)
        return self.call(node)

    def property(self, schema: Schema, path: tuple[str, ...], pos: int) -> _Value:
        name = path[0]
        if len(path) == 1:
            if schema.navigation(name) is not None:
                raise self.error(
                    f"navigation property '{name}' (position {pos}) cannot be used as a value"
                )
            if not schema.has_property(name):
                raise schema.unknown(name, pos, self.option)
            return _Value(lambda r: r.get(name), schema.edm_type(name), prop=name)
        resolver = schema.navigation(name)
        if resolver is None:
            if schema.has_property(name) and schema.strict:
                raise self.error(f"'{name}' (position {pos}) is not a navigation property")
            raise schema.unknown(name, pos, self.option)
        inner = self.property(schema.nav_schema(name), path[1:], pos)
        inner_get = inner.get
        option = self.option

        def through(r: Row) -> Any:
            target = resolver(r)
            if target is None:
                return None
            if isinstance(target, list):
                raise ODataError(
                    f"invalid {option}: navigation property '{name}' is a collection; only "
                    "single-valued navigation paths are supported"
                )
            return inner_get(target)

        return _Value(through, inner.edm)

    def check_types(self, op: str, left: _Value, right: _Value, pos: int) -> str | None:
        """Return the comparison family; raise like ASP.NET OData on a type clash."""
        lf, rf = left.family, right.family
        if lf and rf and lf != rf:
            raise self.error(
                "A binary operator with incompatible types was detected. Found operand types "
                f"'{left.edm}' and '{right.edm}' for operator kind '{_OP_NAMES.get(op, op)}' "
                f"(position {pos})."
            )
        return lf or rf

    def compare(self, node: Compare) -> _Value:
        op = node.op
        left, right = self.value(node.left), self.value(node.right)
        family = self.check_types(op, left, right, node.pos)
        norm = _NORMS.get(family or "")
        if left.const and not right.const:
            left, right, op = right, left, _FLIP[op]
        if left.prop is not None and right.const:
            return _Value(
                _fast_compare(left.prop, op, right.value, norm), "Edm.Boolean", maybe_null=False
            )
        lg, rg = left.get, right.get
        if norm is None:
            return _Value(lambda r: _compare(op, lg(r), rg(r)), "Edm.Boolean", maybe_null=False)
        return _Value(
            lambda r: _compare(op, norm(lg(r)), norm(rg(r))), "Edm.Boolean", maybe_null=False
        )

    def boolean(self, node: Node, what: str) -> _Value:
        value = self.value(node)
        if value.edm is not None and value.family != "bool":
            raise self.error(f"operand of '{what}' must be boolean, not {value.edm}")
        return value

    def boolop(self, node: BoolOp) -> _Value:
        a, b = self.boolean(node.left, node.op), self.boolean(node.right, node.op)
        ag, bg = a.get, b.get
        if not a.maybe_null and not b.maybe_null:
            if node.op == "and":
                return _Value(lambda r: ag(r) and bg(r), "Edm.Boolean", maybe_null=False)
            return _Value(lambda r: ag(r) or bg(r), "Edm.Boolean", maybe_null=False)
        if node.op == "and":

            def kleene_and(r: Row) -> bool | None:
                x = _tv(ag(r))
                if x is False:
                    return False
                y = _tv(bg(r))
                if y is False:
                    return False
                return True if x is True and y is True else None

            return _Value(kleene_and, "Edm.Boolean")

        def kleene_or(r: Row) -> bool | None:
            x = _tv(ag(r))
            if x is True:
                return True
            y = _tv(bg(r))
            if y is True:
                return True
            return False if x is False and y is False else None

        return _Value(kleene_or, "Edm.Boolean")

    def negate(self, node: Not) -> _Value:
        a = self.boolean(node.operand, "not")
        ag = a.get
        if not a.maybe_null:
            return _Value(lambda r: not ag(r), "Edm.Boolean", maybe_null=False)

        def negated(r: Row) -> bool | None:
            x = _tv(ag(r))
            return None if x is None else not x

        return _Value(negated, "Edm.Boolean")

    def membership(self, node: In) -> _Value:
        operand = self.value(node.operand)
        literals = [self.value(v) for v in node.values]
        family = operand.family
        for lit in literals:
            family = self.check_types("in", operand, lit, node.pos) or family
        norm = _NORMS.get(family or "")
        members = frozenset(lit.value for lit in literals)
        og = operand.get
        if norm is None:
            return _Value(lambda r: og(r) in members, "Edm.Boolean", maybe_null=False)
        return _Value(lambda r: norm(og(r)) in members, "Edm.Boolean", maybe_null=False)

    def call(self, node: Call) -> _Value:
        name = node.name
        args = [self.value(a) for a in node.args]

        def arity(n: int) -> None:
            if len(args) != n:
                raise self.error(
                    f"function '{name}' (position {node.pos}) takes {n} argument"
                    f"{'s' if n != 1 else ''}, got {len(args)}"
                )

        def want(family: str | tuple[str, ...], edm: str) -> None:
            families = (family,) if isinstance(family, str) else family
            for a in args:
                if a.family is not None and a.family not in families:
                    raise self.error(
                        f"No function signature for the function with name '{name}' matches "
                        f"the specified arguments (position {node.pos}); expected {edm}, got "
                        f"{a.edm}."
                    )

        if name in _STRING_FUNCS:
            arity(2)
            want("string", "Edm.String")
            fn2 = _STRING_FUNCS[name]
            ag, bg = args[0].get, args[1].get
            result = {"indexof": "Edm.Int32", "concat": "Edm.String"}.get(name, "Edm.Boolean")

            def binary(r: Row) -> Any:
                a, b = ag(r), bg(r)
                if not isinstance(a, str) or not isinstance(b, str):
                    return None  # null propagation
                return fn2(a, b)

            return _Value(binary, result)
        if name in _UNARY_STRING_FUNCS:
            arity(1)
            want("string", "Edm.String")
            fn1 = _UNARY_STRING_FUNCS[name]
            g = args[0].get
            return _Value(
                lambda r: fn1(x) if isinstance(x := g(r), str) else None,
                "Edm.Int32" if name == "length" else "Edm.String",
            )
        if name in _DATE_PARTS:
            arity(1)
            want(("datetime", "date"), "Edm.DateTimeOffset")
            g = args[0].get
            attr = name

            def part(r: Row) -> Any:
                x = _instant(_date(g(r)))
                return getattr(x, attr, None) if isinstance(x, date) else None

            return _Value(part, "Edm.Int32")
        raise self.error(f"unknown function '{name}' at position {node.pos}")


def compile_filter(node: Node, schema: Schema, *, option: str = "$filter") -> Predicate:
    """Compile a parsed filter into ``row -> bool``; keep the rows where it is true.

    Raises:
        ODataError: Unknown properties or functions, or incompatible operand types.
    """
    return _Compiler(schema, option).predicate(node)


# --------------------------------------------------------------------------- plans


def sort_key(x: Any) -> tuple[Any, ...]:
    """Sort key putting nulls first (like .NET), with naive datetimes taken as UTC."""
    if x is None:
        return (0,)
    if isinstance(x, datetime) and x.tzinfo is None:
        x = x.replace(tzinfo=UTC)
    return (1, x)


def _loose_sort_key(x: Any) -> tuple[Any, ...]:
    # Only for columns mixing incomparable types (bad emulator data): group by type.
    if x is None:
        return (0,)
    return (1, type(x).__name__, str(x))


def sort_rows(rows: list[Row], keys: Iterable[tuple[Getter, bool]]) -> list[Row]:
    """Stable multi-key sort: one pass per key, last key first."""
    for getter, descending in reversed(list(keys)):
        try:
            rows = sorted(rows, key=_keyed(getter, sort_key), reverse=descending)
        except TypeError:
            rows = sorted(rows, key=_keyed(getter, _loose_sort_key), reverse=descending)
    return rows


def _keyed(getter: Getter, fn: Callable[[Any], Any]) -> Getter:
    return lambda r: fn(getter(r))


@attrs.frozen
class _Expand:
    name: str
    resolver: Navigation
    plan: Plan


@attrs.frozen
class Plan:
    """Compiled query options for one entity type.

    Attributes:
        predicate: Row filter (keep rows where it returns true), or None.
        select: Selected structural properties, or None for all.
        fill: Declared properties emitted as null when a row omits them.
        expands: Navigations to inline, each with its nested plan.
        orderby: ``(getter, descending)`` keys.
        top: ``$top`` or None.
        skip: ``$skip`` or None.
        select_names: The ``$select`` names as given (for ``@odata.context``).
    """

    predicate: Predicate | None
    select: tuple[str, ...] | None
    fill: tuple[str, ...]
    expands: tuple[_Expand, ...]
    orderby: tuple[tuple[Getter, bool], ...]
    top: int | None
    skip: int | None
    select_names: tuple[str, ...] = ()

    def filter(self, rows: Iterable[Row]) -> list[Row]:
        """Rows for which the predicate holds."""
        if self.predicate is None:
            return list(rows)
        return list(filter(self.predicate, rows))  # builtin filter: no per-row bytecode

    def order(self, rows: list[Row]) -> list[Row]:
        """Rows sorted by ``$orderby`` (stable, so earlier order breaks ties)."""
        return sort_rows(rows, self.orderby) if self.orderby else rows

    def apply(self, rows: Iterable[Row]) -> list[Row]:
        """Filter, order, skip and top: the options applied to an expanded collection."""
        out = self.order(self.filter(rows))
        if self.skip:
            out = out[self.skip :]
        if self.top is not None:
            out = out[: self.top]
        return out

    def shape(self, row: Row) -> Row:
        """A new dict with the selected properties and the expanded navigations."""
        if self.select is None:
            out = dict(row)
            for name in self.fill:
                out.setdefault(name, None)
        else:
            out = {name: row.get(name) for name in self.select}
        for ex in self.expands:
            target = ex.resolver(row)
            if isinstance(target, list):
                out[ex.name] = [ex.plan.shape(t) for t in ex.plan.apply(target)]
            elif target is None:
                out[ex.name] = None
            else:
                pred = ex.plan.predicate
                keep = pred is None or pred(target)
                out[ex.name] = ex.plan.shape(target) if keep else None
        return out


def compile_options(options: QueryOptions, schema: Schema, *, option: str | None = None) -> Plan:
    """Check ``options`` against ``schema`` and compile them.

    Args:
        options: Parsed options.
        schema: The entity type they apply to.
        option: Label for error messages (``"$expand"`` for nested options).

    Raises:
        ODataError: Unknown properties/navigations or type errors.
    """

    def label(name: str) -> str:
        return option or name

    predicate = (
        compile_filter(options.filter, schema, option=label("$filter"))
        if options.filter is not None
        else None
    )
    select: tuple[str, ...] | None = None
    select_names: tuple[str, ...] = ()
    if options.select is not None:
        names: list[str] = []
        star = False
        for sel in options.select:
            if sel.name == "*":
                star = True
                continue
            if schema.navigation(sel.name) is not None:
                continue  # selecting a navigation only matters together with $expand
            if not schema.has_property(sel.name):
                raise schema.unknown(sel.name, sel.pos, label("$select"))
            if sel.name not in names:
                names.append(sel.name)
        select_names = tuple(i.name for i in options.select)
        select = None if star else tuple(names)
    expands: list[_Expand] = []
    for item in options.expand:
        targets = [item.name]
        if item.name == "*":
            targets = list(schema.table.navigations) if schema.table else []
        for name in targets:
            resolver = schema.navigation(name)
            if resolver is None and schema.table is None:
                raise ODataError(
                    f"invalid {label('$expand')}: cannot expand '{name}' (position {item.pos}): "
                    "the emulator does not know the enclosing navigation's target type "
                    "(declare it in Table.nav_tables)"
                )
            if resolver is None:
                if schema.strict and schema.has_property(name):
                    raise ODataError(
                        f"invalid {label('$expand')}: property '{name}' on type "
                        f"'{schema.type_name}' is not a navigation property; only navigation "
                        "properties can be expanded."
                    )
                raise schema.unknown(name, item.pos, label("$expand"))
            nested = compile_options(item.options, schema.nav_schema(name), option=label("$expand"))
            expands.append(_Expand(name, resolver, nested))
    compiler = _Compiler(schema, label("$orderby"))
    orderby: list[tuple[Getter, bool]] = []
    for key in options.orderby:
        value = compiler.property(schema, key.path.path, key.path.pos)
        norm = _NORMS.get(value.family or "")
        get = value.get
        if norm is not None:
            orderby.append((_keyed(get, norm), key.descending))
        else:
            orderby.append((get, key.descending))
    fill = tuple(schema.table.properties) if schema.table else ()
    return Plan(
        predicate=predicate,
        select=select,
        fill=fill,
        expands=tuple(expands),
        orderby=tuple(orderby),
        top=options.top,
        skip=options.skip,
        select_names=select_names,
    )


def coerce_key_value(value: Any) -> Any:
    """Normalise a key value for comparing a URL key with stored keys."""
    if isinstance(value, str):
        g = _guid(value)
        if isinstance(g, uuid.UUID):
            return g
        if _ISO_DATETIME.match(value):
            return _instant(value)
        return value
    if isinstance(value, datetime):
        return _instant(value)
    return value
