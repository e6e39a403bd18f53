"""The pure OData builder: literals, filters, options, rendering and escaping."""

from __future__ import annotations

import datetime as dt
import enum
import re
import uuid
from decimal import Decimal
from urllib.parse import parse_qsl, unquote

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from norce_integration.query import (
    Customer,
    Order,
    ProductSku,
    ProductSkuPriceList,
    and_,
    expand,
    f,
    field,
    key_segment,
    literal,
    not_,
    or_,
    query,
    raw,
)
from norce_integration.query._odata import key_text


P = attrs.fields(ProductSku)
PL = attrs.fields(ProductSkuPriceList)
O = attrs.fields(Order)  # noqa: E741


class Color(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class TestLiterals:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (None, "null"),
            (True, "true"),
            (False, "false"),
            (0, "0"),
            (-42, "-42"),
            (2**40, "1099511627776"),
            (Decimal("12.50"), "12.50"),
            (Decimal("1E+3"), "1000"),
            (Decimal("-0.000001"), "-0.000001"),
            (1.5, "1.5"),
            ("abc", "'abc'"),
            ("it's", "'it''s'"),
            ("''", "''''''"),
            ("", "''"),
            ("åäö €", "'åäö €'"),
            (dt.datetime(2025, 6, 11, tzinfo=dt.UTC), "2025-06-11T00:00:00Z"),
            (
                dt.datetime(2025, 6, 11, 2, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))),
                "2025-06-11T00:30:00Z",
            ),
            (dt.datetime(2025, 1, 2, 3, 4, 5, 120, tzinfo=dt.UTC), "2025-01-02T03:04:05.000120Z"),
            (dt.date(2025, 6, 11), "2025-06-11"),
            (
                uuid.UUID("6f1c5e6a-2b3c-4d5e-8f90-123456789abc"),
                "6f1c5e6a-2b3c-4d5e-8f90-123456789abc",
            ),
            (Color.RED, "'red'"),
            (Level.HIGH, "3"),
        ],
    )
    def test_renders(self, value, expected):
        assert literal(value) == expected

    def test_naive_datetime_is_refused(self):
        with pytest.raises(ValueError, match="naive datetime"):
            literal(dt.datetime(2025, 6, 11))

    @pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), float("inf")])
    def test_non_finite_is_refused(self, value):
        with pytest.raises(ValueError, match="finite"):
            literal(value)

    def test_unknown_type_is_refused(self):
        with pytest.raises(TypeError, match="no OData literal"):
            literal(object())

    def test_key_text_normalises_numbers(self):
        assert key_text(1) == key_text(Decimal("1")) == key_text(Decimal("1.00")) == "1"
        assert key_text(Decimal("1.50")) == "1.5"
        assert key_text("A") == "'A'"


class TestFields:
    def test_wire_names_come_from_the_model(self):
        assert f(P.part_no).wire == "PartNo"
        assert f(P.ean_code).wire == "EanCode"
        assert f(PL.price_list_id).wire == "PriceListId"
        assert field(Customer, "email_address").wire == "EmailAddress"

    def test_dynamic_field_typo_raises(self):
        with pytest.raises(ValueError, match="has no field 'part_nr'"):
            field(ProductSku, "part_nr")

    @pytest.mark.parametrize(
        ("expr", "expected"),
        [
            (f(P.part_no) == "X", "PartNo eq 'X'"),
            (f(P.part_no) != "X", "PartNo ne 'X'"),
            (f(P.status_id) > 1, "StatusId gt 1"),
            (f(P.status_id) >= 1, "StatusId ge 1"),
            (f(P.status_id) < 1, "StatusId lt 1"),
            (f(P.status_id) <= 1, "StatusId le 1"),
            (f(P.status_id).eq(1), "StatusId eq 1"),
            (f(P.status_id).ne(6), "StatusId ne 6"),
            (f(P.status_id).lt(1), "StatusId lt 1"),
            (f(P.status_id).le(1), "StatusId le 1"),
            (f(P.status_id).gt(1), "StatusId gt 1"),
            (f(P.status_id).ge(1), "StatusId ge 1"),
            (f(P.updated) == None, "Updated eq null"),  # noqa: E711
            (f(P.updated).is_null(), "Updated eq null"),
            (f(P.updated).is_not_null(), "Updated ne null"),
            (f(P.is_published) == True, "IsPublished eq true"),  # noqa: E712
            (f(P.erp_name).contains("a'b"), "contains(ErpName,'a''b')"),
            (f(P.erp_name).startswith("Foo"), "startswith(ErpName,'Foo')"),
            (f(P.erp_name).endswith("Foo"), "endswith(ErpName,'Foo')"),
            (f(P.part_no).in_(["a", "b'"]), "PartNo in ('a','b''')"),
            (f(PL.price_sale) > Decimal("9.90"), "PriceSale gt 9.90"),
            (
                f(P.updated).ge(dt.datetime(2025, 6, 11, tzinfo=dt.UTC)),
                "Updated ge 2025-06-11T00:00:00Z",
            ),
        ],
    )
    def test_comparisons(self, expr, expected):
        assert expr.text == expected

    def test_in_needs_values(self):
        with pytest.raises(ValueError, match="no values"):
            f(P.part_no).in_([])


class TestBooleanLogic:
    a = f(P.part_no) == "A"
    b = f(P.status_id) == 1
    c = f(P.is_blocked) == False  # noqa: E712

    def test_and_or(self):
        assert (self.a & self.b).text == "PartNo eq 'A' and StatusId eq 1"
        assert (self.a | self.b).text == "PartNo eq 'A' or StatusId eq 1"

    def test_or_inside_and_is_parenthesised(self):
        assert ((self.a | self.b) & self.c).text == (
            "(PartNo eq 'A' or StatusId eq 1) and IsBlocked eq false"
        )
        assert (self.c & (self.a | self.b)).text == (
            "IsBlocked eq false and (PartNo eq 'A' or StatusId eq 1)"
        )

    def test_and_inside_or_needs_no_parentheses(self):
        assert ((self.a & self.b) | self.c).text == (
            "PartNo eq 'A' and StatusId eq 1 or IsBlocked eq false"
        )

    def test_chains_flatten(self):
        assert and_(self.a, self.b, self.c).text.count("(") == 0
        assert or_(self.a, self.b, self.c).text == (
            "PartNo eq 'A' or StatusId eq 1 or IsBlocked eq false"
        )

    def test_not_parenthesises_comparisons_not_calls(self):
        # ``not`` binds tighter than ``eq`` in OData: "not A eq 1" would mean "(not A) eq 1".
        assert (~self.a).text == "not (PartNo eq 'A')"
        assert not_(f(P.erp_name).contains("x")).text == "not contains(ErpName,'x')"
        assert (~(self.a | self.b)).text == "not (PartNo eq 'A' or StatusId eq 1)"
        assert (~self.a & self.b).text == "not (PartNo eq 'A') and StatusId eq 1"

    def test_raw_is_always_grouped_when_combined(self):
        assert (self.a & "X eq 1 or Y eq 2").text == "PartNo eq 'A' and (X eq 1 or Y eq 2)"
        assert ("X eq 1" | self.a).text == "(X eq 1) or PartNo eq 'A'"
        assert raw("X eq 1").text == "X eq 1"

    def test_filters_refuse_truthiness(self):
        with pytest.raises(TypeError, match="no truth value"):
            bool(self.a)
        with pytest.raises(TypeError):
            _ = self.a and self.b

    def test_empty_inputs_raise(self):
        with pytest.raises(ValueError, match="empty"):
            raw("  ")
        with pytest.raises(ValueError, match="at least one"):
            and_()


class TestQuery:
    def test_is_immutable(self):
        base = query(ProductSku)
        narrowed = base.filter(f(P.part_no) == "A").top(5)
        assert base.to_params() == {}
        assert narrowed.to_params() == {"$filter": "PartNo eq 'A'", "$top": "5"}
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            base.limit = 3  # type: ignore[misc]

    def test_every_option(self):
        since = dt.datetime(2025, 6, 11, tzinfo=dt.UTC)
        q = (
            query(ProductSku)
            .filter(f(P.updated) >= since)
            .filter(f(P.is_blocked) == False)  # noqa: E712
            .select(f(P.part_no), f(P.ean_code), "PartNo")
            .expand(
                expand(
                    f(P.price_lists),
                    select=[f(PL.price_sale), f(PL.price_list_id)],
                    filter=f(PL.is_active) == True,  # noqa: E712
                    orderby=[f(PL.price_sale).desc()],
                    top=3,
                )
            )
            .orderby(f(P.updated).desc(), f(P.part_no))
            .top(100)
            .skip(200)
        )
        assert q.path == "Products/ProductSkus"
        assert q.to_params() == {
            "$filter": "Updated ge 2025-06-11T00:00:00Z and IsBlocked eq false",
            "$select": "PartNo,EanCode",
            "$expand": (
                "PriceLists($filter=IsActive eq true;$select=PriceSale,PriceListId;"
                "$orderby=PriceSale desc;$top=3)"
            ),
            "$orderby": "Updated desc,PartNo",
            "$top": "100",
            "$skip": "200",
        }
        assert q.to_query_string() == (
            "$filter=Updated%20ge%202025-06-11T00:00:00Z%20and%20IsBlocked%20eq%20false"
            "&$select=PartNo,EanCode"
            "&$expand=PriceLists($filter%3DIsActive%20eq%20true%3B$select%3DPriceSale,PriceListId"
            "%3B$orderby%3DPriceSale%20desc%3B$top%3D3)"
            "&$orderby=Updated%20desc,PartNo&$top=100&$skip=200"
        )

    def test_nested_expand_and_plain_names(self):
        q = query(Order).expand(
            expand(f(O.items), select=["PartNo"], expand=["Product"]), "Payer", f(O.buyer)
        )
        assert q.to_params()["$expand"] == ("Items($select=PartNo;$expand=Product),Payer,Buyer")

    def test_untyped_sets(self):
        q = query("Core", "Countries").filter("Code eq 'SE'")
        assert q.model is None
        assert q.url("https://x/q/") == "https://x/q/Core/Countries?$filter=Code%20eq%20'SE'"
        assert query(("Application", "Suppliers")).path == "Application/Suppliers"

    def test_typed_set_metadata(self):
        q = query(ProductSkuPriceList)
        assert (q.namespace, q.entity_set) == ("Products", "ProductSkuPriceLists")
        assert q.key == ("PartNo", "PriceListId", "QtyBreak")

    def test_negative_counts_are_refused(self):
        with pytest.raises(ValueError, match="non-negative"):
            query(ProductSku).top(-1)
        with pytest.raises(ValueError, match="non-negative"):
            query(ProductSku).skip(-5)

    def test_special_characters_are_encoded(self):
        q = query(ProductSku).filter(f(P.erp_name) == "a&b=c+d#e%f;g?h")
        qs = q.to_query_string()
        assert "&" not in qs.split("$filter=", 1)[1]
        assert dict(parse_qsl(qs, keep_blank_values=True)) == {
            "$filter": "ErpName eq 'a&b=c+d#e%f;g?h'"
        }


class TestKeySegment:
    def test_single(self):
        assert key_segment(("PartNo",), "100011") == "('100011')"
        assert key_segment(("Id",), 5) == "(5)"

    def test_composite(self):
        wires = ("PartNo", "PriceListId", "QtyBreak")
        assert key_segment(wires, ("A", 1, 1)) == "(PartNo='A',PriceListId=1,QtyBreak=1)"
        assert key_segment(wires, {"QtyBreak": Decimal("1"), "PartNo": "A", "PriceListId": 1}) == (
            "(PartNo='A',PriceListId=1,QtyBreak=1)"
        )

    def test_mismatch(self):
        with pytest.raises(ValueError, match="does not match"):
            key_segment(("A", "B"), ("x",))
        with pytest.raises(ValueError, match="does not match"):
            key_segment(("A", "B"), {"A": 1, "C": 2})
        with pytest.raises(ValueError, match="None"):
            key_segment(("A",), None)


# ---------------------------------------------------------------- round trip


_STRING_LITERAL = re.compile(r"'((?:[^']|'')*)'")


def unescape_literal(text: str) -> str:
    """A tiny OData string-literal reader: the whole text must be one literal."""
    match = _STRING_LITERAL.fullmatch(text)
    assert match is not None, text
    return match.group(1).replace("''", "'")


@given(st.text())
def test_any_string_survives_literal_round_trip(value):
    assert unescape_literal(literal(value)) == value


@given(st.text())
def test_any_string_survives_filter_and_url_round_trip(value):
    q = query(ProductSku).filter(f(P.part_no) == value).select(f(P.part_no))
    qs = q.to_query_string()
    # The encoded query string has exactly the two parameters, whatever the value holds.
    pairs = [pair.split("=", 1) for pair in qs.split("&")]
    assert [k for k, _ in pairs] == ["$filter", "$select"]
    decoded = unquote(pairs[0][1], errors="surrogatepass")
    assert decoded.startswith("PartNo eq ")
    assert unescape_literal(decoded.removeprefix("PartNo eq ")) == value
