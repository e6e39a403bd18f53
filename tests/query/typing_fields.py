"""Checked by mypy (see ``test_typing.py``), never imported by pytest.

Every line marked ``type: ignore[...]`` *must* be an error: mypy's strict mode warns about
unused ignores, so if a typo stopped being a type error this file would fail to check.
"""

from __future__ import annotations

from decimal import Decimal
from typing import assert_type

import attrs

from norce_integration.query import (
    Field,
    LookupResult,
    ProductSku,
    ProductSkuPriceList,
    QueryResource,
    Row,
    f,
    query,
)


P = attrs.fields(ProductSku)
PL = attrs.fields(ProductSkuPriceList)

assert_type(f(P.part_no), Field[str])
assert_type(f(PL.price_sale), Field[Decimal | None])

# A misspelt field is a type error, not a 400 from Norce.
f(P.part_nr)  # type: ignore[attr-defined]
f(attrs.fields(ProductSku).eancode)  # type: ignore[attr-defined]

# Values are checked against the field's type.
f(P.part_no).eq(42)  # type: ignore[arg-type]
_ = f(P.status_id) > "x"  # type: ignore[operator]
f(PL.price_sale).gt(Decimal("1.5"))

assert_type(query(ProductSku).filter(f(P.part_no) == "A").top(5).to_params(), dict[str, str])


def typed_results(resource: QueryResource) -> None:
    assert_type(resource.get(ProductSku, "A"), ProductSku)
    assert_type(resource.get(("Core", "Countries"), 1), Row)
    found = resource.lookup_many(ProductSku, f(P.part_no), ["A", "B"])
    assert_type(found, LookupResult[str, ProductSku])
    resource.lookup_many(ProductSku, f(P.part_no), [1, 2])  # type: ignore[misc]
    for sku in resource.iterate(query(ProductSku)):
        assert_type(sku, ProductSku)
