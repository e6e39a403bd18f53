"""The emulator's OData engine: tokenizer, $filter parser and evaluator, options."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from norce_integration.testing._odata import (
    MAX_EXPAND_DEPTH,
    BoolOp,
    Compare,
    Literal,
    Not,
    ODataError,
    Property,
    Schema,
    compile_filter,
    compile_options,
    parse_expand,
    parse_filter,
    parse_key,
    parse_options,
    parse_orderby,
    parse_select,
    tokenize,
)
from norce_integration.testing._tables import Row, Table, Tables


GUID_A = "8c3f0c2e-1b2a-4c5d-9e8f-0a1b2c3d4e5f"
GUID_B = "0f0e0d0c-0b0a-0908-0706-050403020100"


def _rows() -> list[Row]:
    return [
        {
            "PartNo": "A1",
            "Name": "Apple",
            "Price": Decimal("12.50"),
            "Qty": 5,
            "IsActive": True,
            "Updated": datetime(2025, 6, 11, 0, 0, tzinfo=UTC),
            "Key": GUID_A,
            "Note": None,
            "Released": date(2025, 1, 1),
        },
        {
            "PartNo": "B2",
            "Name": "O'Brien",
            "Price": Decimal("7"),
            "Qty": -3,
            "IsActive": False,
            # Naive datetimes count as UTC.
            "Updated": datetime(2025, 6, 10, 22, 30),
            "Key": GUID_B,
            "Note": "fragile",
            "Released": date(2025, 3, 1),
        },
        {
            "PartNo": "C3",
            "Name": "banana split",
            "Price": 12.5,  # a float compares exactly with Decimal literals
            "Qty": 0,
            "IsActive": True,
            "Updated": None,
            "Key": str(uuid.UUID(int=3)),
            # Note omitted entirely: behaves as null.
        },
    ]


@pytest.fixture
def table() -> Table:
    t = Table("Products", "ProductSkus", ("PartNo",))
    for row in _rows():
        t.upsert(row)
    return t


def matches(table: Table, text: str, **kwargs: Any) -> list[str]:
    pred = compile_filter(parse_filter(text, **kwargs), Schema(table))
    return sorted(r["PartNo"] for r in table.rows.values() if pred(r) is True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # comparison operators
        ("PartNo eq 'A1'", ["A1"]),
        ("PartNo ne 'A1'", ["B2", "C3"]),
        ("Qty gt 0", ["A1"]),
        ("Qty ge 0", ["A1", "C3"]),
        ("Qty lt 0", ["B2"]),
        ("Qty le 0", ["B2", "C3"]),
        ("Qty eq -3", ["B2"]),
        ("-3 eq Qty", ["B2"]),
        ("0 lt Qty", ["A1"]),
        # strings: ordinal, escaped quotes
        ("Name eq 'O''Brien'", ["B2"]),
        ("Name eq 'apple'", []),
        ("Name gt 'Z'", ["C3"]),
        ("Name lt 'B'", ["A1"]),
        # decimals: plain, M suffix, float row values, int vs decimal
        ("Price eq 12.50", ["A1", "C3"]),
        ("Price eq 12.5M", ["A1", "C3"]),
        ("Price eq 12.5m", ["A1", "C3"]),
        ("Price eq 7", ["B2"]),
        ("Price lt 7.01", ["B2"]),
        ("Price ge 12.5d", ["A1", "C3"]),
        ("Qty eq 5L", ["A1"]),
        ("Qty lt 1.5e0", ["B2", "C3"]),
        # booleans
        ("IsActive eq true", ["A1", "C3"]),
        ("IsActive eq false", ["B2"]),
        ("IsActive", ["A1", "C3"]),
        ("not IsActive", ["B2"]),
        # datetimes: Z, offsets, fractions; naive stored values are UTC; null never ordered
        ("Updated ge 2025-06-11T00:00:00Z", ["A1"]),
        ("Updated eq 2025-06-11T02:00:00+02:00", ["A1"]),
        ("Updated lt 2025-06-10T23:00:00.000Z", ["B2"]),
        ("Updated gt 2025-06-10T22:29:59.9999999Z", ["A1", "B2"]),
        ("Updated gt 2025-06-10T17:30-05:00", ["A1"]),
        ("Updated le 2025-06-10T22:30:00Z", ["B2"]),
        ("Updated eq null", ["C3"]),
        ("Updated ne null", ["A1", "B2"]),
        ("Released lt 2025-02-01", ["A1"]),
        # GUIDs, unquoted, any case
        (f"Key eq {GUID_A}", ["A1"]),
        (f"Key eq {GUID_B.upper()}", ["B2"]),
        (f"Key ne {GUID_A}", ["B2", "C3"]),
        # null: missing counts as null
        ("Note eq null", ["A1", "C3"]),
        ("null eq Note", ["A1", "C3"]),
        ("Note ne null", ["B2"]),
        ("Note eq 'fragile'", ["B2"]),
        ("Note ne 'fragile'", ["A1", "C3"]),
        ("Note gt 'a'", ["B2"]),
        # functions, null propagation and three-valued not
        ("contains(Name,'an')", ["C3"]),
        ("startswith(Name,'O''')", ["B2"]),
        ("endswith(Name,'split')", ["C3"]),
        ("contains(Note,'rag')", ["B2"]),
        ("not contains(Note,'rag')", []),
        ("not contains(Name,'an')", ["A1", "B2"]),
        ("tolower(Name) eq 'apple'", ["A1"]),
        ("toupper(PartNo) eq 'A1'", ["A1"]),
        ("length(Name) eq 5", ["A1"]),
        ("trim(' x ') eq 'x'", ["A1", "B2", "C3"]),
        ("indexof(Name,'Bri') eq 2", ["B2"]),
        ("year(Updated) eq 2025 and month(Updated) eq 6 and day(Updated) eq 10", ["B2"]),
        # in
        ("PartNo in ('A1','C3')", ["A1", "C3"]),
        ("Qty in (5,-3)", ["A1", "B2"]),
        ("Note in ('fragile',null)", ["A1", "B2", "C3"]),
        (f"Key in ({GUID_B})", ["B2"]),
        # logic, precedence and parentheses
        ("PartNo eq 'A1' or PartNo eq 'B2' and IsActive eq true", ["A1"]),
        ("(PartNo eq 'A1' or PartNo eq 'B2') and IsActive eq true", ["A1"]),
        ("not (PartNo eq 'A1') and Qty le 0", ["B2", "C3"]),
        ("not IsActive eq false", ["A1", "C3"]),  # (not IsActive) eq false
        ("not not IsActive", ["A1", "C3"]),
        ("Qty gt 0 or Note eq 'fragile' or Updated eq null", ["A1", "B2", "C3"]),
        ("contains(Note,'x') or IsActive", ["A1", "C3"]),
        ("true", ["A1", "B2", "C3"]),
        ("false", []),
        ("  PartNo   eq\t'A1'  ", ["A1"]),
    ],
)
def test_filter(table: Table, text: str, expected: list[str]) -> None:
    assert matches(table, text) == expected


def test_precedence_tree() -> None:
    node = parse_filter("not A eq 1 or B eq 2 and C eq 3")
    assert isinstance(node, BoolOp)
    assert node.op == "or"
    assert isinstance(node.right, BoolOp)
    assert node.right.op == "and"
    left = node.left
    assert isinstance(left, Compare)
    assert isinstance(left.left, Not)
    assert left.left.operand == Property(("A",), 4)


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("'it''s'", "string", "it's"),
        ("''", "string", ""),
        ("''''", "string", "'"),
        ("42", "int", 42),
        ("-42", "int", -42),
        ("9007199254740993", "int", 9007199254740993),
        ("12.50", "decimal", Decimal("12.50")),
        ("-0.5M", "decimal", Decimal("-0.5")),
        ("1.5d", "double", 1.5),
        ("true", "bool", True),
        ("false", "bool", False),
        ("null", "null", None),
        ("2025-06-11T00:00:00Z", "datetime", datetime(2025, 6, 11, tzinfo=UTC)),
        (
            "2025-06-11T10:20:30.1234567+02:00",
            "datetime",
            datetime(2025, 6, 11, 10, 20, 30, 123456, tzinfo=timezone(timedelta(hours=2))),
        ),
        (
            "2025-06-11T10:20-01:30",
            "datetime",
            datetime(2025, 6, 11, 10, 20, tzinfo=timezone(-timedelta(hours=1, minutes=30))),
        ),
        ("2025-06-11", "date", date(2025, 6, 11)),
        (GUID_A, "guid", uuid.UUID(GUID_A)),
        (
            "12345678-aaaa-bbbb-cccc-1234567890AB",
            "guid",
            uuid.UUID(int=0x12345678AAAABBBBCCCC1234567890AB),
        ),
    ],
)
def test_literals(text: str, kind: str, value: Any) -> None:
    node = parse_filter(f"X eq {text}")
    assert isinstance(node, Compare)
    assert node.right == Literal(value, kind, 5)
    if kind == "double":
        assert isinstance(node.right.value, float)


@given(st.text())
def test_any_string_literal_round_trips(s: str) -> None:
    literal = "'" + s.replace("'", "''") + "'"
    node = parse_filter(f"Name eq {literal}")
    assert isinstance(node, Compare)
    assert isinstance(node.right, Literal)
    assert node.right.value == s
    assert node.right.kind == "string"
    assert [t.kind for t in tokenize(literal)] == ["string", "eof"]


@pytest.mark.parametrize(
    ("text", "position", "near"),
    [
        ("PartNo eqq 'A'", 7, "'eqq'"),
        ("Name eq 'x' andd Qty eq 1", 12, "'andd'"),
        ("PartNo eq", 9, "end of input"),
        ("(PartNo eq 'A'", 14, "end of input"),
        ("PartNo eq 'A')", 13, "')'"),
        ("PartNo eq 'A' and", 17, "end of input"),
        ("eq 'A'", 0, "'eq'"),
        ("PartNo # 'A'", 7, "'#'"),
        ("Qty eq 12abc", 7, "'12abc'"),
        ("Qty eq 1.5L", 7, "'1.5L'"),
        ("Qty in 1", 7, "'1'"),
        ("Qty in (Qty)", 8, "'Qty'"),
        ("contains(Name,'a'", 17, "end of input"),
        ("PartNo eq 'A' eq", 16, "end of input"),
    ],
)
def test_syntax_errors_name_position_and_token(text: str, position: int, near: str) -> None:
    with pytest.raises(ODataError) as info:
        parse_filter(text)
    assert f"syntax error at position {position} near {near}" in str(info.value)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("Name eq 'open", "unterminated string literal at position 8"),
        ("Updated ge 2025-06-11T00:00:00", "needs a time zone"),
        ("Updated ge 2025-13-11T00:00:00Z", "invalid datetime literal"),
        ("Released eq 2025-02-30", "invalid date literal"),
        ("", "empty"),
        ("Skus/any(s: s/PartNo eq 'x')", "any/all"),
    ],
)
def test_other_parse_errors(text: str, fragment: str) -> None:
    with pytest.raises(ODataError, match=fragment):
        parse_filter(text)


def test_in_operator_can_be_disabled() -> None:
    with pytest.raises(ODataError, match=r"'in' operator \(position 4\) is not supported"):
        parse_filter("Qty in (1,2)", allow_in=False)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("Foo eq 1", "Could not find a property named 'Foo' on type 'ProductSku' (position 0)"),
        ("partNo eq 'A1'", "property named 'partNo'"),
        ("PartNo eq 1", "incompatible types"),
        ("Qty eq 'x'", "'Edm.Int32' and 'Edm.String'"),
        ("IsActive eq 1", "incompatible types"),
        ("Updated eq 'x'", "incompatible types"),
        (f"Key eq '{GUID_A}'", "'Edm.Guid' and 'Edm.String'"),
        ("Qty in ('a')", "incompatible types"),
        ("Qty", "must be boolean"),
        ("Qty and IsActive", "operand of 'and' must be boolean"),
        ("contains(Qty,'1')", "No function signature"),
        ("contains(Name)", "takes 2 arguments"),
        ("frobnicate(Name) eq 1", "unknown function 'frobnicate'"),
        ("Name/Length eq 1", "'Name' (position 0) is not a navigation property"),
    ],
)
def test_semantic_errors(table: Table, text: str, fragment: str) -> None:
    with pytest.raises(ODataError) as info:
        compile_filter(parse_filter(text), Schema(table))
    assert fragment in str(info.value)


def test_declared_properties_allow_filters_on_absent_columns() -> None:
    t = Table("Products", "ProductSkus", ("PartNo",), properties={"EanCode": "Edm.String"})
    t.upsert({"PartNo": "A"})
    assert matches(t, "EanCode eq null") == ["A"]
    with pytest.raises(ODataError, match="incompatible"):
        matches(t, "EanCode eq 5")


def test_empty_undeclared_table_is_lenient() -> None:
    t = Table("Products", "ProductSkus", ("PartNo",))
    assert compile_filter(parse_filter("Anything eq 5"), Schema(t))({}) is False


def test_navigation_path_in_filter() -> None:
    products = Table("Products", "Products", ("Id",))
    products.upsert({"Id": 1, "Code": "P-1"})
    skus = Table("Products", "ProductSkus", ("PartNo",))
    skus.navigations["Product"] = lambda r: products.get(r["ProductId"])
    skus.navigations["PriceLists"] = lambda r: []
    skus.nav_tables["Product"] = products
    skus.upsert({"PartNo": "A", "ProductId": 1})
    skus.upsert({"PartNo": "B", "ProductId": 2})
    assert matches(skus, "Product/Code eq 'P-1'") == ["A"]
    assert matches(skus, "Product/Code eq null") == ["B"]
    with pytest.raises(ODataError, match="Could not find a property named 'Nope'"):
        matches(skus, "Product/Nope eq 1")
    with pytest.raises(ODataError, match="is a collection"):
        matches(skus, "PriceLists/PriceSale eq 1")
    with pytest.raises(ODataError, match="cannot be used as a value"):
        matches(skus, "Product eq null")


# --------------------------------------------------------------------------- other options


def test_parse_select_orderby_key() -> None:
    assert [i.name for i in parse_select("PartNo, Name,*")] == ["PartNo", "Name", "*"]
    items = parse_orderby("Updated desc, Name asc,PartNo")
    assert [(i.path.path, i.descending) for i in items] == [
        (("Updated",), True),
        (("Name",), False),
        (("PartNo",), False),
    ]
    assert parse_key("'O''Brien'") == [(None, "O'Brien")]
    assert parse_key("PartNo='A',PriceListId=1,QtyBreak=1.5") == [
        ("PartNo", "A"),
        ("PriceListId", 1),
        ("QtyBreak", Decimal("1.5")),
    ]


@pytest.mark.parametrize(
    ("func", "text", "fragment"),
    [
        (parse_select, "PartNo,", "syntax error at position 7 near end of input"),
        (parse_select, "PartNo Name", "syntax error at position 7 near 'Name'"),
        (parse_orderby, "Name up", "syntax error at position 5 near 'up'"),
        (parse_orderby, "Name desc desc", "syntax error at position 10 near 'desc'"),
        (parse_key, "PartNo=", "near end of input"),
    ],
)
def test_option_syntax_errors(func: Any, text: str, fragment: str) -> None:
    with pytest.raises(ODataError, match=fragment):
        func(text)


def test_parse_expand_nested() -> None:
    text = (
        "Skus($select=PartNo;$filter=contains(Name,'a;b)') and Qty gt 1;"
        "$expand=PriceLists($select=PriceSale;$filter=IsActive eq true);$top=2;$skip=1),Product"
    )
    items = parse_expand(text)
    assert [i.name for i in items] == ["Skus", "Product"]
    skus = items[0].options
    assert skus.select is not None
    assert [s.name for s in skus.select] == ["PartNo"]
    assert (skus.top, skus.skip) == (2, 1)
    assert [e.name for e in skus.expand] == ["PriceLists"]
    inner = skus.expand[0].options
    assert inner.filter is not None
    assert inner.select is not None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("Skus($filter=PartNo eqq 'A')", "invalid $expand: syntax error at position 20 near 'eqq'"),
        ("Skus($select=PartNo", "near end of input"),
        ("Skus($bogus=1)", "unsupported nested option '$bogus' at position 5"),
        ("Skus($top=1;$top=2)", "more than once"),
        ("Skus($top=x)", "not a non-negative integer"),
        ("Skus,", "syntax error at position 5 near end of input"),
        ("Skus Product", "syntax error at position 5 near 'Product'"),
        ("A($expand=B($expand=C($expand=D)))", f"maximum depth allowed is {MAX_EXPAND_DEPTH}"),
        ("Skus($filter=Name eq 'x)", "unterminated string literal at position 21"),
    ],
)
def test_expand_errors(text: str, fragment: str) -> None:
    with pytest.raises(ODataError) as info:
        parse_expand(text)
    assert fragment in str(info.value)


def test_expand_three_levels_allowed() -> None:
    items = parse_expand("A($expand=B($expand=C))")
    assert items[0].options.expand[0].options.expand[0].name == "C"


@pytest.fixture
def catalog() -> Tables:
    tables = Tables()
    products = tables.add(Table("Products", "Products", ("Id",)))
    skus = tables.add(Table("Products", "ProductSkus", ("PartNo",)))
    prices = tables.add(Table("Products", "ProductSkuPriceLists", ("PartNo", "PriceListId")))
    products.navigations["Skus"] = lambda r: [
        s for s in skus.rows.values() if s["ProductId"] == r["Id"]
    ]
    products.nav_tables["Skus"] = skus
    skus.navigations["PriceLists"] = lambda r: [
        p for p in prices.rows.values() if p["PartNo"] == r["PartNo"]
    ]
    skus.nav_tables["PriceLists"] = prices
    skus.navigations["Product"] = lambda r: products.get(r["ProductId"])
    skus.nav_tables["Product"] = products
    products.upsert({"Id": 1, "Code": "P1"})
    for n, part in enumerate(["S3", "S1", "S2"]):
        skus.upsert({"PartNo": part, "ProductId": 1, "Qty": n})
        for pl in (1, 2):
            prices.upsert(
                {"PartNo": part, "PriceListId": pl, "PriceSale": Decimal(n), "IsActive": pl == 1}
            )
    return tables


def test_plan_two_level_expand_with_nested_options(catalog: Tables) -> None:
    products = catalog.get("products", "products")
    assert products is not None
    opts = parse_options(
        {
            "$select": "Code",
            "$expand": "Skus($select=PartNo;$filter=Qty ge 1;$orderby=PartNo desc;"
            "$expand=PriceLists($select=PriceListId;$filter=IsActive eq true),Product($select=Id))",
        }
    )
    plan = compile_options(opts, Schema(products))
    shaped = plan.shape(products.rows[(1,)])
    assert shaped == {
        "Code": "P1",
        "Skus": [
            {"PartNo": "S2", "PriceLists": [{"PriceListId": 1}], "Product": {"Id": 1}},
            {"PartNo": "S1", "PriceLists": [{"PriceListId": 1}], "Product": {"Id": 1}},
        ],
    }


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"$select": "Nope"}, "invalid $select: Could not find a property named 'Nope'"),
        ({"$orderby": "Nope desc"}, "invalid $orderby: Could not find a property named 'Nope'"),
        ({"$expand": "Nope"}, "invalid $expand: Could not find a property named 'Nope'"),
        ({"$expand": "Code"}, "is not a navigation property"),
        ({"$expand": "Skus($select=Nope)"}, "named 'Nope' on type 'ProductSku'"),
        ({"$expand": "Skus($expand=PriceLists($filter=Nope eq 1))"}, "type 'ProductSkuPriceList'"),
        ({"$top": "-1"}, "invalid $top"),
        ({"$skip": "1.5"}, "invalid $skip"),
        ({"$filter": " "}, "must not be empty"),
    ],
)
def test_plan_errors(catalog: Tables, options: dict[str, str], fragment: str) -> None:
    products = catalog.get("Products", "Products")
    assert products is not None
    with pytest.raises(ODataError) as info:
        compile_options(parse_options(options), Schema(products))
    assert fragment in str(info.value)


def test_orderby_multi_key_nulls_first_and_stable(table: Table) -> None:
    table.upsert({"PartNo": "D4", "Name": "Apple", "Qty": 9, "IsActive": False, "Updated": None})
    plan = compile_options(
        parse_options({"$orderby": "IsActive desc,Updated asc,Name desc"}), Schema(table)
    )
    ordered = [r["PartNo"] for r in plan.order(list(table.rows.values()))]
    # IsActive desc: True first; within, Updated asc with null first.
    assert ordered == ["C3", "A1", "D4", "B2"]
    plan = compile_options(parse_options({"$orderby": "Updated desc"}), Schema(table))
    assert [r["PartNo"] for r in plan.order(list(table.rows.values()))] == ["A1", "B2", "C3", "D4"]


def test_apply_top_skip(table: Table) -> None:
    plan = compile_options(
        parse_options({"$orderby": "PartNo", "$skip": "1", "$top": "1"}), Schema(table)
    )
    assert [r["PartNo"] for r in plan.apply(table.rows.values())] == ["B2"]


def test_star_select_and_expand(catalog: Tables) -> None:
    skus = catalog.get("Products", "ProductSkus")
    assert skus is not None
    plan = compile_options(parse_options({"$select": "PartNo,*", "$expand": "*"}), Schema(skus))
    shaped = plan.shape(skus.rows[("S1",)])
    assert set(shaped) == {"PartNo", "ProductId", "Qty", "PriceLists", "Product"}
    assert shaped["Product"] == {"Id": 1, "Code": "P1"}


def test_nested_expand_needs_a_declared_target(catalog: Tables) -> None:
    skus = catalog.get("Products", "ProductSkus")
    assert skus is not None
    skus.navigations["Files"] = lambda r: []
    plan = compile_options(parse_options({"$expand": "Files($filter=Anything eq 1)"}), Schema(skus))
    assert plan.shape(skus.rows[("S1",)])["Files"] == []
    with pytest.raises(ODataError, match=r"declare it in Table\.nav_tables"):
        compile_options(parse_options({"$expand": "Files($expand=More)"}), Schema(skus))


def test_single_navigation_filtered_out_is_null(catalog: Tables) -> None:
    skus = catalog.get("Products", "ProductSkus")
    assert skus is not None
    plan = compile_options(parse_options({"$expand": "Product($filter=Code eq 'X')"}), Schema(skus))
    assert plan.shape(skus.rows[("S1",)])["Product"] is None
