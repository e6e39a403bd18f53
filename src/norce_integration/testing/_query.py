"""The emulator's Norce Query 2.0 service: one pure function from request to response.

The core routes ``/commerce/query/2.0/...`` here after authenticating the caller.
:func:`handle_query` enforces the rest of the contract (``application-id`` header,
read-only, OData envelopes, 500-row pages with absolute ``@odata.nextLink``) over the
emulator's :class:`~norce_integration.testing._tables.Tables`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from operator import itemgetter
from typing import Any, Final
from urllib.parse import quote, unquote, unquote_plus
from xml.sax.saxutils import quoteattr

import attrs
import orjson

from ._odata import (
    ODataError,
    Plan,
    Schema,
    coerce_key_value,
    compile_options,
    parse_key,
    parse_options,
    sort_key,
)
from ._tables import Row, Table, Tables


__all__ = [
    "JSON_CONTENT_TYPE",
    "QueryResponse",
    "dumps",
    "handle_query",
]

JSON_CONTENT_TYPE: Final = (
    "application/json; odata.metadata=minimal; odata.streaming=true; "
    "IEEE754Compatible=false; charset=utf-8"
)
_XML_CONTENT_TYPE: Final = "application/xml; charset=utf-8"
_READ_METHODS: Final = frozenset({"GET", "HEAD"})
_APP_HEADERS: Final = frozenset({"application-id", "applicationid"})
_SUPPORTED_OPTIONS: Final = frozenset(
    {"$filter", "$select", "$expand", "$orderby", "$top", "$skip"}
)
_INTEGER = re.compile(r"-?[0-9]+")
# CSDL schema namespaces seen in Norce's Query 2.0 reference (Enferno.Storm.Query.Api...).
_SCHEMA_NAMESPACES: Final = {
    "products": "ProductModel",
    "application": "ApplicationModel",
    "core": "StormCore",
    "customers": "CustomerModel",
    "orders": "OrderModel",
}
_METADATA_SAMPLE: Final = 1000
# Characters OData URLs use literally; everything else in a nextLink is percent-encoded.
_URL_SAFE: Final = "$'(),;:/*@!="


@attrs.frozen
class QueryResponse:
    """An HTTP response for the core to send as is."""

    status: int
    headers: dict[str, str]
    body: bytes


class _HTTPError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _json_default(o: Any) -> Any:
    if isinstance(o, Decimal):
        # Exact digits as a JSON number; 'f' avoids exponents like 1E+2.
        return orjson.Fragment(format(o, "f")) if o.is_finite() else None
    if isinstance(o, datetime):
        o = o.replace(tzinfo=UTC) if o.tzinfo is None else o.astimezone(UTC)
        return o.isoformat().replace("+00:00", "Z")
    if isinstance(o, date | time):
        return o.isoformat()
    raise TypeError(f"cannot serialise {type(o).__name__}")


def dumps(obj: Any) -> bytes:
    """Serialise like Norce: Decimal as exact numbers, datetimes as UTC ``...Z``."""
    return orjson.dumps(obj, default=_json_default, option=orjson.OPT_PASSTHROUGH_DATETIME)


def _json(status: int, obj: Any, extra: Mapping[str, str] | None = None) -> QueryResponse:
    headers = {"Content-Type": JSON_CONTENT_TYPE, "OData-Version": "4.0"}
    if extra:
        headers.update(extra)
    return QueryResponse(status, headers, dumps(obj))


def _error(
    status: int, code: str, message: str, extra: Mapping[str, str] | None = None
) -> QueryResponse:
    return _json(status, {"error": {"code": code, "message": message}}, extra)


def handle_query(
    tables: Tables,
    method: str,
    path: str,
    raw_query: str,
    headers: Mapping[str, str],
    *,
    base_url: str,
    page_size: int = 500,
    allow_in: bool = True,
) -> QueryResponse:
    """Answer one Query 2.0 request.

    Args:
        tables: The emulator's data.
        method: HTTP method.
        path: Path after the Query base, e.g. ``Products/ProductSkus('100011')``.
        raw_query: The raw (still percent-encoded) query string, without ``?``.
        headers: Request headers (names matched case-insensitively).
        base_url: The Query base URL, used in ``@odata.context`` and ``@odata.nextLink``.
        page_size: Server page size (Norce: 500); larger ``$top`` values are clamped.
        allow_in: Accept the ``in`` operator in ``$filter`` (unconfirmed on Norce).

    Returns:
        The response; errors are OData JSON errors with status 400, 404 or 405.
    """
    if not base_url.endswith("/"):
        base_url += "/"
    try:
        response = _handle(
            tables,
            method.upper(),
            path,
            raw_query,
            headers,
            base_url=base_url,
            page_size=page_size,
            allow_in=allow_in,
        )
    except _HTTPError as exc:
        extra = {"Allow": "GET"} if exc.status == 405 else None
        response = _error(exc.status, exc.code, exc.message, extra)
    except ODataError as exc:
        response = _error(400, "BadRequest", str(exc))
    if method.upper() == "HEAD":
        return QueryResponse(response.status, response.headers, b"")
    return response


def _bad_request(message: str) -> _HTTPError:
    return _HTTPError(400, "BadRequest", message)


def _not_found(message: str) -> _HTTPError:
    return _HTTPError(404, "NotFound", message)


def _handle(
    tables: Tables,
    method: str,
    path: str,
    raw_query: str,
    headers: Mapping[str, str],
    *,
    base_url: str,
    page_size: int,
    allow_in: bool,
) -> QueryResponse:
    if method not in _READ_METHODS:
        raise _HTTPError(
            405,
            "MethodNotAllowed",
            f"The requested resource does not support http method '{method}'; "
            "Norce Query is read-only.",
        )
    _check_application_header(headers)
    raw_query = raw_query.removeprefix("?")

    ns_text, _, rest = path.strip("/").partition("/")
    ns_name = unquote(ns_text)
    in_ns = tables.in_namespace(ns_name) if ns_name else []
    if not in_ns:
        raise _not_found(f"No HTTP resource was found that matches the request URI '{path}'.")
    namespace = in_ns[0].namespace
    rest = unquote(rest)
    if not rest:
        return _service_document(in_ns, namespace, base_url)
    if rest.lower() == "$metadata":
        return _metadata(tables, in_ns)

    set_name, key_text = _split_resource(rest, path)
    table = tables.get(namespace, set_name)
    if table is None:
        raise _not_found(f"No HTTP resource was found that matches the request URI '{path}'.")
    options = _system_options(raw_query)
    parsed = parse_options(options, allow_in=allow_in)
    plan = compile_options(parsed, Schema(table))
    context = f"{base_url}{table.namespace}/$metadata#{table.name}"
    if plan.select_names:
        context += f"({','.join(plan.select_names)})"
    if key_text is not None:
        return _entity(table, key_text, plan, context)
    return _collection(
        table, plan, raw_query=raw_query, base_url=base_url, context=context, page_size=page_size
    )


def _check_application_header(headers: Mapping[str, str]) -> None:
    value = next((v for k, v in headers.items() if k.lower() in _APP_HEADERS), None)
    if value is None or not value.strip():
        raise _bad_request(
            "The 'applicationId' (or 'application-id') header is required by Norce Query."
        )
    if not _INTEGER.fullmatch(value.strip()):
        raise _bad_request(f"The application id header must be an integer, got '{value}'.")


def _split_resource(rest: str, path: str) -> tuple[str, str | None]:
    """Split ``Set`` / ``Set(key)`` into the set name and the key text."""
    paren = rest.find("(")
    if paren < 0:
        if "/" in rest.rstrip("/"):
            raise _not_found(f"The path '{path}' is not supported by the emulator.")
        return rest.rstrip("/"), None
    # Find the closing parenthesis outside string literals ('' escapes a quote).
    i, n, quoted = paren + 1, len(rest), False
    while i < n:
        c = rest[i]
        if c == "'":
            quoted = not quoted  # a doubled quote toggles twice
        elif c == ")" and not quoted:
            break
        i += 1
    if i >= n:
        raise _bad_request(f"The key in '{path}' is not closed with ')'.")
    if rest[i + 1 :].strip("/"):
        raise _not_found(f"The path '{path}' is not supported by the emulator.")
    return rest[:paren], rest[paren + 1 : i]


def _system_options(raw_query: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for part in raw_query.split("&"):
        if not part:
            continue
        raw_name, _, raw_value = part.partition("=")
        name = unquote_plus(raw_name).strip()
        if not name.startswith("$"):
            continue  # custom query options are allowed and ignored
        key = name.lower()
        value = unquote_plus(raw_value)
        if key == "$format":
            if value.split(";")[0].strip().lower() not in ("json", "application/json"):
                raise _bad_request(f"The $format '{value}' is not supported; use json.")
            continue
        if key not in _SUPPORTED_OPTIONS:
            raise _bad_request(
                f"The query parameter '{name}' is not supported (emulator supports "
                "$filter, $select, $expand, $orderby, $top, $skip)."
            )
        if key in options:
            raise _bad_request(
                f"Query option '{key}' was specified more than once, but it must be "
                "specified at most once."
            )
        options[key] = value
    return options


def _entity(table: Table, key_text: str, plan: Plan, context: str) -> QueryResponse:
    try:
        pairs = parse_key(key_text)
    except ODataError as exc:
        raise _bad_request(f"invalid key '{key_text}': {exc}") from None
    expected = ", ".join(table.key)
    if len(pairs) == 1 and pairs[0][0] is None:
        if len(table.key) != 1:
            raise _bad_request(
                f"The key of {table.name} has several properties ({expected}); "
                "name them, e.g. (Name=value,...)."
            )
        key: tuple[Any, ...] = (pairs[0][1],)
    else:
        named = dict(pairs)
        if len(named) != len(pairs) or set(named) != set(table.key):
            raise _bad_request(
                f"The key ({key_text}) does not match the key of {table.name} ({expected})."
            )
        key = tuple(named[k] for k in table.key)
    row = table.rows.get(key)
    if row is None:
        row = _scan_for_key(table, key)
    if row is None or (plan.predicate is not None and not plan.predicate(row)):
        raise _not_found(f"No {table.type_name()} with key ({key_text}) exists in {table.name}.")
    return _json(200, {"@odata.context": context + "/$entity", **plan.shape(row)})


def _scan_for_key(table: Table, key: tuple[Any, ...]) -> Row | None:
    # URL literals are typed (GUIDs, datetimes) while stored keys may be strings.
    wanted = tuple(coerce_key_value(v) for v in key)
    for stored, row in list(table.rows.items()):
        if tuple(coerce_key_value(v) for v in stored) == wanted:
            return row
    return None


def _collection(
    table: Table, plan: Plan, *, raw_query: str, base_url: str, context: str, page_size: int
) -> QueryResponse:
    # list() snapshots the rows: the core may write while we page.
    rows = plan.filter(list(table.rows.values()))
    # ASP.NET OData orders pages by key (EnsureStableOrdering); $orderby keys come first.
    try:
        rows.sort(key=itemgetter(*table.key))
    except (KeyError, TypeError):
        rows.sort(key=lambda r: tuple(sort_key(r.get(k)) for k in table.key))
    rows = plan.order(rows)
    skip = plan.skip or 0
    limit = page_size if plan.top is None else min(plan.top, page_size)
    page = rows[skip : skip + limit]
    body: dict[str, Any] = {"@odata.context": context, "value": [plan.shape(r) for r in page]}
    if plan.top is None and len(rows) > skip + limit:
        body["@odata.nextLink"] = _next_link(base_url, table, raw_query, skip + limit)
    return _json(200, body)


def _next_link(base_url: str, table: Table, raw_query: str, skip: int) -> str:
    kept: list[str] = []
    for part in raw_query.split("&"):
        raw_name, eq, raw_value = part.partition("=")
        name = unquote_plus(raw_name)
        if not part or name.strip().lower() == "$skip":
            continue
        # Re-encode so the link is a valid URL whatever encoding the caller used.
        value = quote(unquote_plus(raw_value), safe=_URL_SAFE) if eq else ""
        kept.append(quote(name, safe=_URL_SAFE) + eq + value)
    kept.append(f"$skip={skip}")
    return f"{base_url}{table.namespace}/{table.name}?{'&'.join(kept)}"


def _service_document(in_ns: list[Table], namespace: str, base_url: str) -> QueryResponse:
    return _json(
        200,
        {
            "@odata.context": f"{base_url}{namespace}/$metadata",
            "value": [{"name": t.name, "kind": "EntitySet", "url": t.name} for t in in_ns],
        },
    )


def _schema_namespace(namespace: str) -> str:
    model = _SCHEMA_NAMESPACES.get(namespace.lower(), namespace + "Model")
    return f"Enferno.Storm.Query.Api.DataContexts.{model}"


def _metadata(tables: Tables, in_ns: list[Table]) -> QueryResponse:
    schema_ns = _schema_namespace(in_ns[0].namespace)
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">',
        "<edmx:DataServices>",
        f'<Schema Namespace={quoteattr(schema_ns)} xmlns="http://docs.oasis-open.org/odata/ns/edm">',
    ]
    for table in in_ns:
        lines.extend(_entity_type_xml(table))
    lines.append('<EntityContainer Name="Container">')
    lines.extend(
        f"<EntitySet Name={quoteattr(t.name)} "
        f"EntityType={quoteattr(f'{schema_ns}.{t.type_name()}')}/>"
        for t in in_ns
    )
    lines += ["</EntityContainer>", "</Schema>", "</edmx:DataServices>", "</edmx:Edmx>"]
    return QueryResponse(
        200,
        {"Content-Type": _XML_CONTENT_TYPE, "OData-Version": "4.0"},
        "\n".join(lines).encode(),
    )


def _entity_type_xml(table: Table) -> list[str]:
    schema = Schema(table)
    sample = list(table.rows.values())[:_METADATA_SAMPLE]
    names = list(dict.fromkeys([*table.key, *table.properties]))
    for row in sample:
        names.extend(n for n in row if n not in names and n not in table.navigations)
    out = [f"<EntityType Name={quoteattr(table.type_name())}>", "<Key>"]
    out.extend(f"<PropertyRef Name={quoteattr(k)}/>" for k in table.key)
    out.append("</Key>")
    for name in names:
        edm = schema.edm_type(name) or "Edm.String"
        nullable = ' Nullable="false"' if name in table.key else ""
        out.append(f"<Property Name={quoteattr(name)} Type={quoteattr(edm)}{nullable}/>")
    for nav, resolver in table.navigations.items():
        target = table.nav_tables.get(nav)
        type_name = (
            f"{_schema_namespace(target.namespace)}.{target.type_name()}"
            if target
            else "Edm.EntityType"
        )
        single = bool(sample) and isinstance(resolver(sample[0]), dict)
        nav_type = type_name if single else f"Collection({type_name})"
        out.append(f"<NavigationProperty Name={quoteattr(nav)} Type={quoteattr(nav_type)}/>")
    out.append("</EntityType>")
    return out
