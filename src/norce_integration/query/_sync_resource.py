# GENERATED FILE: do not edit. The blocking twin of
# src/norce_integration/query/_async_resource.py, made by `python scripts/gen_sync.py`.
# Edit the async source and run that command again.
"""Query 2.0 reads, written once for asyncio: :class:`AsyncQueryResource`.

``python scripts/gen_sync.py`` generates the blocking :class:`QueryResource` from it into
``_sync_resource.py``. The decisions (targets, keys, keyset steps, row matching, the
``$select`` a typed read needs) are pure functions in :mod:`._core`; this class loops,
sends and awaits.

Paths are ``{query_base}{Namespace}/{EntitySet}`` and every request carries the
``application-id`` header (reference §2.3: without it some sets answer 500). Retries on
429/5xx and token refresh happen in the HTTP layer.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator
from typing import Any, TypeVar, overload
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import cattrs

from .._concurrency import sleep
from .._convert import converter, strict_converter
from .._exceptions import NotFoundError, ResponseValidationError
from .._http_core import require_application_id
from .._sync_http import HTTP
from ._batch import MAX_KEYS_PER_CHUNK, MAX_URL_LENGTH, KeyChunk, chunk_keys, dedupe
from ._cache import QueryCache
from ._core import (
    LookupResult,
    QuerySet,
    Target,
    cache_variant,
    check_page_size,
    entity_key,
    keyset_field,
    keyset_page,
    match_rows,
    readable,
    set_of,
    strip_annotations,
)
from ._odata import Expand, Field, Query, Row, _as_expand, _wire, key_segment, model_wire_names
from .models import Entity


__all__ = ["QueryResource"]

E = TypeVar("E", bound=Entity)
R = TypeVar("R")
K = TypeVar("K", bound=Hashable)


class QueryResource:
    """Query 2.0 client: ``norce.query``.

    Args:
        http: the HTTP shell.
        strict: reject unknown fields (``ResponseValidationError``) to catch drift.
        cache: a :class:`QueryCache` for ``get`` and ``lookup_many``; ``None``: no cache.
    """

    def __init__(
        self, http: HTTP, *, strict: bool = False, cache: QueryCache | None = None
    ) -> None:
        self._http = http
        self.strict = strict
        self._cache = cache
        self._converter: cattrs.Converter = strict_converter() if strict else converter

    @property
    def cache(self) -> QueryCache | None:
        """The read-through cache used by ``get`` and ``lookup_many`` (``None``: off)."""
        return self._cache

    def _get_json(self, url: str) -> Any:
        # Let other tasks run between the requests of a long read, even when the
        # transport answers without suspending (the in-process emulator, mocks).
        sleep(0)
        response = self._http.request("GET", url, kind="read", headers=self._headers())
        return self._http.json(response)

    def pages(self, q: Query[R]) -> Iterator[list[R]]:
        """Every page of ``q``, following ``@odata.nextLink`` (Norce pages hold ≤ 500 rows).

        Raises:
            ConfigurationError: ``application_id`` is not configured.
            ResponseValidationError: a page is not an OData collection, a row does not
                match the model, or a next link leaves Query's host or repeats.
            APIStatusError: Norce answered an error (after retries).
        """
        q = readable(q)
        url: str | None = q.url(self._base())
        seen: set[str] = set()
        while url is not None:
            rows, link = self._page(q, self._get_json(url), url)
            yield rows
            url = self._follow(url, link, seen)

    def iterate(self, q: Query[R]) -> Iterator[R]:
        """Every row of ``q`` across pages.

        Raises:
            ConfigurationError: ``application_id`` is not configured.
            ResponseValidationError: see :meth:`pages`.
            APIStatusError: Norce answered an error (after retries).
        """
        for rows in self.pages(q):
            yield from rows

    def keyset(
        self, q: Query[R], key: Field[Any] | str | None = None, *, page_size: int = 100
    ) -> Iterator[R]:
        """Every row of ``q`` by keyset paging: ``Key gt {last}`` ordered by ``Key``.

        Use it for deep scans: large ``$skip`` values fail on real tenants (reference §2.8).
        ``key`` defaults to the set's single key; the query must not set orderby/top/skip.

        Raises:
            ValueError: ``page_size`` is outside 1..500, the query pages itself, or the
                key is composite and no column was named.
            ConfigurationError: ``application_id`` is not configured.
            ResponseValidationError: a page is malformed or the key does not advance.
            APIStatusError: Norce answered an error (after retries).
        """
        check_page_size(page_size)
        q = readable(q)
        wire, attr = keyset_field(q, key)
        last: object = None
        while True:
            page = keyset_page(q, wire, last, page_size)
            url = page.url(self._base())
            rows, _ = self._page(page, self._get_json(url), url)
            yield from rows
            if len(rows) < page_size:
                return
            last = self._last_key(rows, wire, attr, last)

    @overload
    def get(
        self,
        target: type[E],
        key: object,
        *,
        select: Iterable[Field[Any] | str] = (),
        expand: Iterable[Expand | Field[Any] | str] = (),
        use_cache: bool = True,
    ) -> E: ...
    @overload
    def get(
        self,
        target: tuple[str, str],
        key: object,
        *,
        select: Iterable[Field[Any] | str] = (),
        expand: Iterable[Expand | Field[Any] | str] = (),
        use_cache: bool = True,
    ) -> Row: ...
    def get(
        self,
        target: Target,
        key: object,
        *,
        select: Iterable[Field[Any] | str] = (),
        expand: Iterable[Expand | Field[Any] | str] = (),
        use_cache: bool = True,
    ) -> Any:
        """One entity by key: ``ProductSkus('100011')`` → the bare object.

        ``key`` is a scalar, a tuple in key order (``("A", 1, 1)`` for
        ``ProductSkuPriceLists``), or a mapping of field names. With a cache, a cached
        entity of the same shape is returned without a request.

        Raises:
            NotFoundError: no entity has this key.
            ValueError: the key does not fit the set's key.
            ConfigurationError: ``application_id`` is not configured.
            ResponseValidationError: the body does not match the model.
            APIStatusError: Norce answered another error (after retries).
        """
        s = set_of(target)
        key_wires, url_key, cache_key = entity_key(s, key)
        q = self._get_query(s, select, expand)
        cache = self._cache if use_cache else None
        variant = ""
        if cache is not None:
            variant = cache_variant(s, q.selects, q.expands)
            hit = cache.peek(s.namespace, s.entity_set, cache_key, variant)
            if hit is not None:
                return hit
        url = self._entity_url(s, key_wires, url_key, q)
        if cache is None or not cache.enabled(s.namespace, s.entity_set):
            return self._structure(s.model, self._get_json(url), url)
        errors: list[NotFoundError] = []

        def load(_: list[object]) -> dict[object, Any]:
            try:
                return {cache_key: self._structure(s.model, self._get_json(url), url)}
            except NotFoundError as exc:
                errors.append(exc)
                return {}

        found = cache.load_many(
            s.namespace,
            s.entity_set,
            [cache_key],
            load,
            variant=variant,
        )
        if cache_key not in found:
            raise (
                errors[0]
                if errors
                else NotFoundError("no such entity", method="GET", url=url, status=404)
            )
        return found[cache_key]

    @overload
    def lookup_many(
        self,
        target: type[E],
        key_field: Field[K] | str,
        keys: Iterable[K],
        *,
        select: Iterable[Field[Any] | str] = (),
        use_in: bool = False,
        max_url_length: int = MAX_URL_LENGTH,
        max_keys: int = MAX_KEYS_PER_CHUNK,
        use_cache: bool = True,
    ) -> LookupResult[K, E]: ...
    @overload
    def lookup_many(
        self,
        target: tuple[str, str],
        key_field: Field[K] | str,
        keys: Iterable[K],
        *,
        select: Iterable[Field[Any] | str] = (),
        use_in: bool = False,
        max_url_length: int = MAX_URL_LENGTH,
        max_keys: int = MAX_KEYS_PER_CHUNK,
        use_cache: bool = True,
    ) -> LookupResult[K, Row]: ...
    def lookup_many(
        self,
        target: Target,
        key_field: Field[K] | str,
        keys: Iterable[K],
        *,
        select: Iterable[Field[Any] | str] = (),
        use_in: bool = False,
        max_url_length: int = MAX_URL_LENGTH,
        max_keys: int = MAX_KEYS_PER_CHUNK,
        use_cache: bool = True,
    ) -> LookupResult[K, Any]:
        """Look many keys up with one request per chunk of keys.

        Keys are de-duplicated and split into ``Field eq a or Field eq b …`` filters whose
        encoded URL stays within ``max_url_length`` and whose rows fit one page
        (``max_keys`` ≤ 500). ``use_in=True`` sends ``Field in (a,b,…)`` instead —
        UNCONFIRMED on Norce. ``key_field`` should identify one row; for extra rows of a
        key the first is kept. When ``key_field`` is the set's key and a cache is set,
        cached keys are answered from it and only the misses are fetched.

        Raises:
            ValueError: a key is ``None``, one key alone is too long for the URL, the
                field is not in the model, or ``max_keys`` is outside 1..500.
            ConfigurationError: ``application_id`` is not configured.
            ResponseValidationError: a page or row does not match.
            APIStatusError: Norce answered an error (after retries).
        """
        s, wire, attr, q, variant, cacheable = self._lookup_setup(
            target, key_field, select, use_cache
        )
        unique = dedupe(keys)
        requests = 0
        loaded = 0

        def load(wanted: list[K]) -> dict[K, Any]:
            nonlocal requests, loaded
            loaded += len(wanted)
            found: dict[K, Any] = {}
            chunks = self._chunks(
                q, wire, wanted, use_in=use_in, max_url_length=max_url_length, max_keys=max_keys
            )
            for chunk in chunks:
                rows: list[Any] = []
                page_q = q.filter(chunk.filter)
                url: str | None = page_q.url(self._base())
                seen: set[str] = set()
                while url is not None:
                    requests += 1
                    page_rows, link = self._page(page_q, self._get_json(url), url)
                    rows.extend(page_rows)
                    url = self._follow(url, link, seen)
                found.update(match_rows(chunk, rows, wire, attr))
            return found

        if cacheable:
            assert self._cache is not None
            found = self._cache.load_many(s.namespace, s.entity_set, unique, load, variant=variant)
        else:
            found = load(unique) if unique else {}
        return LookupResult(
            found={k: found[k] for k in unique if k in found},
            missing=frozenset(k for k in unique if k not in found),
            requests=requests,
            cached=len(unique) - loaded,
        )

    # ------------------------------------------------------------ pure steps

    def _base(self) -> str:
        return self._http.settings.query_base

    def _headers(self) -> dict[str, str]:
        return {
            "application-id": str(require_application_id(self._http.settings)),
            "Accept": "application/json",
        }

    def _invalid(self, message: str, errors: list[str], url: str) -> ResponseValidationError:
        return ResponseValidationError(message, errors=errors, method="GET", url=url)

    def _entity_url(
        self, s: QuerySet, key_wires: tuple[str, ...], key: object, q: Query[Any]
    ) -> str:
        # Key values go into the path: encode what would end or split it (/, ?, #, %).
        segment = quote(key_segment(key_wires, key), safe="'(),=:")
        qs = q.to_query_string()
        url = f"{self._base()}{s.path}{segment}"
        return f"{url}?{qs}" if qs else url

    def _get_query(
        self,
        s: QuerySet,
        select: Iterable[Field[Any] | str],
        expand: Iterable[Expand | Field[Any] | str],
    ) -> Query[Any]:
        q: Query[Any] = Query(s.namespace, s.entity_set, s.model, s.key_wires)
        if select == () and expand == ():
            return q  # the common case, kept cheap for cache hits
        return readable(q.select(*select).expand(*(_as_expand(e) for e in expand)))

    def _structure(self, model: type[Any] | None, row: Any, url: str) -> Any:
        if not isinstance(row, dict):
            raise self._invalid("expected a JSON object", [f"$: got {type(row).__name__}"], url)
        if model is None:
            return row
        data = strip_annotations(row) if self.strict else row
        try:
            return self._converter.structure(data, model)
        except cattrs.BaseValidationError as exc:
            errors = cattrs.transform_error(exc, path="$")
            raise self._invalid(f"a {model.__name__} did not match", errors, url) from exc
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise self._invalid(f"a {model.__name__} did not match", [str(exc)], url) from exc

    def _page(self, q: Query[Any], data: Any, url: str) -> tuple[list[Any], str | None]:
        if not isinstance(data, dict) or not isinstance(data.get("value"), list):
            raise self._invalid(
                "expected an OData collection", ["$.value: missing or not an array"], url
            )
        rows = [self._structure(q.model, row, url) for row in data["value"]]
        link = data.get("@odata.nextLink")
        if link is not None and not isinstance(link, str):
            raise self._invalid("bad @odata.nextLink", ["$.@odata.nextLink: not a string"], url)
        return rows, link or None

    def _follow(self, current: str, link: str | None, seen: set[str]) -> str | None:
        """The next page's URL, on Query's host only (the bearer token goes with it)."""
        if link is None:
            return None
        base = urlsplit(self._base())
        nxt = urlsplit(urljoin(current, link))
        if nxt.netloc.lower() != base.netloc.lower():
            raise self._invalid(
                "refusing to follow @odata.nextLink to another host",
                [f"$.@odata.nextLink: host {nxt.netloc!r}"],
                current,
            )
        # Behind a TLS-terminating proxy the server may write http:// links: keep ours.
        url = urlunsplit((base.scheme, nxt.netloc, nxt.path, nxt.query, nxt.fragment))
        if url in seen:
            raise self._invalid(
                "@odata.nextLink repeats an earlier page", ["$.@odata.nextLink"], current
            )
        seen.add(url)
        return url

    def _last_key(self, rows: list[Any], wire: str, attr: str | None, previous: object) -> object:
        row = rows[-1]
        value = row.get(wire) if isinstance(row, dict) else getattr(row, attr or "", None)
        if value is None or value == previous:
            raise self._invalid(
                "keyset paging cannot advance", [f"$.value[-1].{wire}: {value!r}"], wire
            )
        return value

    def _lookup_query(
        self, s: QuerySet, wire: str, select: Iterable[Field[Any] | str]
    ) -> Query[Any]:
        q: Query[Any] = Query(s.namespace, s.entity_set, s.model, s.key_wires).select(*select)
        if q.selects and wire not in q.selects:
            q = q.select(wire)
        return readable(q)

    def _chunks(
        self,
        q: Query[Any],
        wire: str,
        keys: list[K],
        *,
        use_in: bool,
        max_url_length: int,
        max_keys: int,
    ) -> list[KeyChunk[K]]:
        return chunk_keys(
            wire,
            keys,
            base_url_length=len(q.url(self._base())),
            max_url_length=max_url_length,
            max_keys=max_keys,
            use_in=use_in,
        )

    def _lookup_setup(
        self,
        target: Target,
        key_field: Field[Any] | str,
        select: Iterable[Field[Any] | str],
        use_cache: bool,
    ) -> tuple[QuerySet, str, str | None, Query[Any], str, bool]:
        s = set_of(target)
        wire = _wire(key_field)
        attr = None
        if s.model is not None:
            reverse = {w: a for a, w in model_wire_names(s.model).items()}
            if wire not in reverse:
                msg = f"{s.model.__name__} has no field {wire!r}"
                raise ValueError(msg)
            attr = reverse[wire]
        q = self._lookup_query(s, wire, select)
        variant = cache_variant(s, q.selects, ())
        # Only lookups by the entity key share the cache: events evict by entity key.
        cacheable = (
            use_cache
            and self._cache is not None
            and s.key_wires == (wire,)
            and self._cache.enabled(s.namespace, s.entity_set)
        )
        return s, wire, attr, q, variant, cacheable
