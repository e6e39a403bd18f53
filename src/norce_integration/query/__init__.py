"""Norce Commerce Query 2.0: the OData query builder, typed read models, the
read-through cache and the sync/async resources (``Norce(...).query``).

Example:
    >>> import attrs
    >>> from norce_integration.query import ProductSku, f, query
    >>> P = attrs.fields(ProductSku)
    >>> q = query(ProductSku).filter(f(P.part_no) == "100011").select(f(P.ean_code))
    >>> q.to_query_string()
    "$filter=PartNo%20eq%20'100011'&$select=EanCode"

A typed read adds the model's key to such a ``$select`` itself, so rows always build:

    >>> from norce_integration import Norce
    >>> from norce_integration.query import Currency
    >>> from norce_integration.testing import NorceEmulator
    >>> emulator = NorceEmulator()
    >>> with Norce(emulator.settings(), transport=emulator.transport()) as norce:
    ...     codes = [c.code for c in norce.query.iterate(query(Currency).select("Code"))]
    ...     eur = norce.query.get(Currency, 2, select=["Code"])
    >>> codes
    ['SEK', 'EUR', 'NOK', 'DKK', 'USD']
    >>> eur.id, eur.code
    (2, 'EUR')
"""

from __future__ import annotations

from ._async_resource import AsyncQueryResource
from ._batch import MAX_KEYS_PER_CHUNK, MAX_URL_LENGTH, KeyChunk, chunk_keys
from ._cache import DEFAULT_TTL, CacheBackend, CacheStats, MemoryCache, QueryCache
from ._core import MAX_PAGE_SIZE, LookupResult, Target
from ._odata import (
    Expand,
    Field,
    Filter,
    OrderBy,
    Query,
    Row,
    and_,
    expand,
    f,
    field,
    key_segment,
    literal,
    model_wire_names,
    not_,
    or_,
    query,
    raw,
    render_params,
)
from ._sync_resource import QueryResource
from .models import (
    Category,
    ClientPriceList,
    Currency,
    Customer,
    Entity,
    Order,
    OrderItem,
    Product,
    ProductSku,
    ProductSkuPriceList,
)


__all__ = [
    "DEFAULT_TTL",
    "MAX_KEYS_PER_CHUNK",
    "MAX_PAGE_SIZE",
    "MAX_URL_LENGTH",
    "AsyncQueryResource",
    "CacheBackend",
    "CacheStats",
    "Category",
    "ClientPriceList",
    "Currency",
    "Customer",
    "Entity",
    "Expand",
    "Field",
    "Filter",
    "KeyChunk",
    "LookupResult",
    "MemoryCache",
    "Order",
    "OrderBy",
    "OrderItem",
    "Product",
    "ProductSku",
    "ProductSkuPriceList",
    "Query",
    "QueryCache",
    "QueryResource",
    "Row",
    "Target",
    "and_",
    "chunk_keys",
    "expand",
    "f",
    "field",
    "key_segment",
    "literal",
    "model_wire_names",
    "not_",
    "or_",
    "query",
    "raw",
    "render_params",
]
