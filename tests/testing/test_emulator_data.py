"""Emulator data semantics: FieldsThatAreSet, CreateOnly, FullFile scopes, unknown refs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from norce_integration.testing import ManualClock, NorceEmulator


class Api:
    """Raw-httpx helper: import, run jobs, read the job log."""

    def __init__(self, emulator: NorceEmulator, client: httpx.Client) -> None:
        self.emulator = emulator
        self.client = client

    def send(self, path: str, header: dict[str, Any], items: list[Any]) -> int:
        response = self.client.post(
            path, headers={"X-StormConnect-Header": json.dumps(header)}, json=items
        )
        assert response.status_code == 200, response.text
        return int(response.json()["JobId"])

    def run(self, path: str, header: dict[str, Any], items: list[Any]) -> dict[str, Any]:
        job_id = self.send(path, header, items)
        self.emulator.advance(10)
        job = self.client.get("Job/Get", params={"id": job_id}).json()
        assert job["IsFinished"], job
        return job

    def log(self, job_id: int) -> list[dict[str, Any]]:
        return self.client.get("Job/GetLog", params={"id": job_id}).json()


@pytest.fixture
def emulator() -> Iterator[NorceEmulator]:
    # Long-lived tokens: these tests move the clock by hours.
    with NorceEmulator(clock=ManualClock(), token_lifetime=10**6) as emu:
        yield emu


@pytest.fixture
def api(emulator: NorceEmulator) -> Iterator[Api]:
    with httpx.Client(
        transport=emulator.transport(),
        base_url=emulator.settings().connect_base,
        headers={"Authorization": f"Bearer {emulator.issue_token()}"},
    ) as client:
        yield Api(emulator, client)


def product_header(account: int = 1, *, full_file: bool = False, **lists: Any) -> dict[str, Any]:
    header: dict[str, Any] = {
        "AccountId": account,
        "FullFile": full_file,
        "ProductFieldsThatAreSet": [0, 3, 4, 5],
        "ProductCultureFieldsThatAreSet": [0],
        "VariantFieldsThatAreSet": [0, 5],
        "SkuFieldsThatAreSet": [1, 2, 5],
    }
    header.update(lists)
    return header


def product(part_no: str, *, code: str | None = None, **sku: Any) -> dict[str, Any]:
    return {
        "ManufacturerCode": "ACME",
        "Code": code or f"C-{part_no}",
        "Cultures": [{"CultureCode": "sv-SE", "Name": f"Name {part_no}"}],
        "Variants": [
            {
                "ManufacturerPartNo": f"M-{part_no}",
                "Skus": [{"PartNo": part_no, "Status": 1, "Type": 1, **sku}],
            }
        ],
    }


def sku(emulator: NorceEmulator, part_no: str) -> dict[str, Any]:
    row = emulator.table("Products", "ProductSkus").get(part_no)
    assert row is not None
    return row


def test_only_fields_listed_are_written(emulator, api):
    api.run("Product/ImportProducts", product_header(), [product("P1", EanCode="111")])
    assert sku(emulator, "P1")["EanCode"] == "111"
    # EanCode (5) is not listed: the new value must not be written.
    header = product_header(SkuFieldsThatAreSet=[1])
    api.run("Product/ImportProducts", header, [product("P1", EanCode="222", Status=4)])
    row = sku(emulator, "P1")
    assert row["EanCode"] == "111"
    assert row["StatusId"] == 4
    # Listed but absent is written as null (the .NET contract cannot tell the two apart).
    api.run("Product/ImportProducts", product_header(), [product("P1")])
    assert sku(emulator, "P1")["EanCode"] is None


def test_create_only_is_written_on_create_not_on_update(emulator, api):
    header = product_header(
        SkuFieldsThatAreSet=[2, 22], SkuCultureFieldsThatAreSet=[1]
    )  # Type, StatusCreateOnly, ErpNameCreateOnly
    cultures = [{"CultureCode": "sv-SE", "ErpName": "first"}]
    api.run("Product/ImportProducts", header, [product("P1", Status=2, Cultures=cultures)])
    assert sku(emulator, "P1")["StatusId"] == 2
    assert sku(emulator, "P1")["ErpName"] == "first"
    cultures = [{"CultureCode": "sv-SE", "ErpName": "second"}]
    job = api.run("Product/ImportProducts", header, [product("P1", Status=1, Cultures=cultures)])
    assert sku(emulator, "P1")["StatusId"] == 2
    assert sku(emulator, "P1")["ErpName"] == "first"
    assert job["Updates"] == 0


def test_new_sku_needs_status_and_type(emulator, api):
    header = product_header(SkuFieldsThatAreSet=[5])  # EanCode only
    job = api.run("Product/ImportProducts", header, [product("P1")])
    assert job["StatusId"] == 4  # every item failed -> ValidationFailed
    assert job["Fail"] == 1
    errors = [e for e in api.log(job["JobId"]) if e["SeverityId"] == 3]
    assert "Status and Type are required" in errors[0]["Message"]
    assert '"PartNo":"P1"' in errors[0]["ImportedRow"]
    assert emulator.table("Products", "ProductSkus").get("P1") is None


def test_products_skus_prices_and_names_are_created(emulator, api):
    header = product_header(
        SkuFieldsThatAreSet=[1, 2, 5, 20, 21], SkuPriceListFieldsThatAreSet=[3, 6]
    )
    item = product(
        "P1",
        EanCode="7350000000001",
        StandardPrice={"PriceSale": 199.5, "PriceRecommended": 249},
        VatRates=[{"SalesArea": 1, "Rate": 25}],
    )
    job = api.run("Product/ImportProducts", header, [item])
    assert job["StatusId"] == 2
    assert job["Inserts"] == 3  # product, SKU, price row
    row = sku(emulator, "P1")
    products = emulator.table("Products", "Products")
    product_row = products.get(row["ProductId"])
    assert product_row["DefaultName"] == "Name P1"
    assert product_row["Code"] == "C-P1"
    assert product_row["ManufacturerPartNo"] == "M-P1"
    price = emulator.table("Products", "ProductSkuPriceLists").get(("P1", 1, 1))
    assert price["PriceSale"] == Decimal("199.5")
    assert price["PriceRecommended"] == Decimal(249)
    assert price["CurrencyId"] == 1
    assert row["Created"] == row["Updated"] == emulator.clock.now() - timedelta(seconds=7)


def test_fullfile_products_deactivate_missing_skus_of_that_account_only(emulator, api):
    api.run("Product/ImportProducts", product_header(1), [product(p) for p in ("P1", "P2", "P3")])
    api.run("Product/ImportProducts", product_header(2), [product("X9")])
    job = api.run(
        "Product/ImportProducts", product_header(1, full_file=True), [product("P1"), product("P2")]
    )
    assert job["StatusId"] == 2
    assert [sku(emulator, p)["StatusId"] for p in ("P1", "P2", "P3", "X9")] == [1, 1, 5, 1]
    messages = [e["Message"] for e in api.log(job["JobId"])]
    assert any("1 SKU(s) of account 1" in m for m in messages)
    products = emulator.table("Products", "Products")
    assert products.get(sku(emulator, "P3")["ProductId"])["IsActive"] is False
    # A later full file that includes P3 again heals it.
    api.run(
        "Product/ImportProducts",
        product_header(1, full_file=True, SkuFieldsThatAreSet=[2]),
        [product(p) for p in ("P1", "P2", "P3")],
    )
    assert sku(emulator, "P3")["StatusId"] == 1


def test_fullfile_products_require_code(emulator, api):
    item = product("P1")
    del item["Code"]
    response = api.client.post(
        "Product/ImportProducts",
        headers={"X-StormConnect-Header": json.dumps(product_header(full_file=True))},
        json=[item],
    )
    assert response.json()["ValidationSummary"]["NrOfValidationFailures"] == 1


def test_fullfile_products_remove_products_from_their_cluster(emulator, api):
    api.run(
        "Product/ImportProducts",
        product_header(),
        [product("P1", code="SHIRT"), product("P2", code="SHIRT")],
    )
    products = emulator.table("Products", "Products")
    p2 = products.get(sku(emulator, "P2")["ProductId"])
    assert p2["Code"] == "SHIRT"
    assert p2["IsVariant"] is True
    api.run("Product/ImportProducts", product_header(full_file=True), [product("P1", code="SHIRT")])
    assert p2["Code"] is None
    assert p2["VariantId"] is None


PRICE_HEADER = {"AccountId": 1, "FullFile": False, "SkuPriceListFieldsThatAreSet": [3, 10]}


def _seed_skus(api: Api, *part_nos: str) -> None:
    api.run("Product/ImportProducts", product_header(), [product(p) for p in part_nos])


def test_fullfile_prices_deactivate_only_in_price_lists_present(emulator, api):
    _seed_skus(api, "P1", "P2")
    rows = [
        {"PartNo": p, "PriceListCode": pl, "PriceSale": 10}
        for p in ("P1", "P2")
        for pl in ("STD", "EUR")
    ]
    api.run("Product/ImportSkuPriceLists", PRICE_HEADER, rows)
    full = {**PRICE_HEADER, "FullFile": True}
    job = api.run(
        "Product/ImportSkuPriceLists",
        full,
        [{"PartNo": "P1", "PriceListCode": "STD", "PriceSale": 11}],
    )
    prices = emulator.table("Products", "ProductSkuPriceLists")
    assert prices.get(("P1", 1, 1))["IsActive"] is True
    assert prices.get(("P1", 1, 1))["PriceSale"] == 11
    assert prices.get(("P2", 1, 1))["IsActive"] is False  # STD present, P2 missing
    assert prices.get(("P1", 2, 1))["IsActive"] is True  # EUR not in the import
    assert prices.get(("P2", 2, 1))["IsActive"] is True
    assert job["Updates"] == 2


def test_null_and_zero_prices_do_not_overwrite_and_ignore_when_empty_drops_rows(emulator, api):
    _seed_skus(api, "P1", "P2")
    header = {"AccountId": 1, "FullFile": False, "SkuPriceListFieldsThatAreSet": [3, 6]}
    api.run(
        "Product/ImportSkuPriceLists",
        header,
        [
            {"PartNo": p, "PriceListCode": "STD", "PriceSale": 10, "PriceRecommended": 12}
            for p in ("P1", "P2")
        ],
    )
    api.run(
        "Product/ImportSkuPriceLists",
        header,
        [{"PartNo": "P1", "PriceListCode": "STD", "PriceSale": 0, "PriceRecommended": None}],
    )
    prices = emulator.table("Products", "ProductSkuPriceLists")
    assert prices.get(("P1", 1, 1))["PriceSale"] == 10
    assert prices.get(("P1", 1, 1))["PriceRecommended"] == 12
    ignoring = {**header, "IgnoreSkuPriceListFieldsWhenEmpty": [6]}
    job = api.run(
        "Product/ImportSkuPriceLists",
        ignoring,
        [{"PartNo": "P2", "PriceListCode": "STD", "PriceSale": 99}],
    )
    assert prices.get(("P2", 1, 1))["PriceSale"] == 10
    assert any("IgnoreSkuPriceListFieldsWhenEmpty" in e["Message"] for e in api.log(job["JobId"]))


def test_unknown_skus_and_price_lists_are_ignored_with_a_warning(emulator, api):
    _seed_skus(api, "P1")
    job = api.run(
        "Product/ImportSkuPriceLists",
        PRICE_HEADER,
        [
            {"PartNo": "NOPE", "PriceListCode": "STD", "PriceSale": 1},
            {"PartNo": "P1", "PriceListCode": "NOLIST", "PriceSale": 1},
            {"PartNo": "P1", "PriceListCode": "STD", "PriceSale": 5},
        ],
    )
    assert job["StatusId"] == 2
    assert job["Fail"] == 0
    assert job["Inserts"] == 1
    log = api.log(job["JobId"])
    assert log[0]["Message"] == "Starting import."
    assert log[-1]["Message"] == "Import finished."
    warnings = [e for e in log if e["SeverityId"] == 2]
    assert "SKU 'NOPE' does not exist" in warnings[0]["Message"]
    assert json.loads(warnings[0]["ImportedRow"])["PartNo"] == "NOPE"
    assert "Price list 'NOLIST' does not exist" in warnings[1]["Message"]


ONHAND_HEADER = {"AccountId": 1, "FullFile": False, "SkuOnhandFieldsThatAreSet": [3, 8]}


def test_fullfile_onhands_deactivate_only_in_warehouse_locations_present(emulator, api):
    _seed_skus(api, "P1", "P2")
    places = [("MAIN", "MAIN"), ("MAIN", "B"), ("WH2", "MAIN")]
    api.run(
        "Product/ImportOnhands",
        ONHAND_HEADER,
        [
            {"PartNo": p, "WarehouseCode": w, "LocationCode": loc, "OnhandValue": 5}
            for p in ("P1", "P2")
            for w, loc in places
        ],
    )
    onhands = emulator.table("Products", "ProductSkuOnHands")
    assert len(onhands.rows) == 6
    full = {**ONHAND_HEADER, "FullFile": True}
    api.run(
        "Product/ImportOnhands",
        full,
        [{"PartNo": "P1", "WarehouseCode": "MAIN", "LocationCode": "MAIN", "OnhandValue": 7}],
    )
    active = {
        (row["PartNo"], row["WarehouseId"], row["LocationId"]): row["IsActive"]
        for row in onhands.rows.values()
    }
    main = emulator.data.find_location("MAIN", "MAIN")
    main_b = emulator.data.find_location("MAIN", "B")
    wh2 = emulator.data.find_location("WH2", "MAIN")
    assert active[("P1", *main)] is True
    assert active[("P2", *main)] is False
    assert active[("P2", *main_b)] is True
    assert active[("P2", *wh2)] is True
    assert onhands.get(("P1", *main))["OnHandValue"] == 7


def test_onhands_for_unknown_warehouses_can_be_refused():
    emulator = NorceEmulator(clock=ManualClock(), auto_create_warehouses=False)
    with (
        emulator,
        httpx.Client(
            transport=emulator.transport(),
            base_url=emulator.settings().connect_base,
            headers={"Authorization": f"Bearer {emulator.issue_token()}"},
        ) as client,
    ):
        api = Api(emulator, client)
        _seed_skus(api, "P1")
        job = api.run(
            "Product/ImportOnhands",
            ONHAND_HEADER,
            [{"PartNo": "P1", "WarehouseCode": "NEW", "LocationCode": "X", "OnhandValue": 1}],
        )
        assert any("does not exist" in e["Message"] for e in api.log(job["JobId"]))
        assert emulator.table("Products", "ProductSkuOnHands").rows == {}


def test_price_list_import_creates_price_lists_and_warehouses(emulator, api):
    header = {
        "AccountId": 1,
        "PriceListFieldsThatAreSet": [0, 1, 5, 7],
        "WarehouseFieldsThatAreSet": [1],
    }
    job = api.run(
        "Product/ImportPriceLists",
        header,
        [
            {
                "Code": "B2B",
                "Name": "Business",
                "CurrencyCode": "EUR",
                "IsPrimary": True,
                "Warehouses": [{"Code": "WHX", "Name": "Extra", "Locations": [{"Code": "L1"}]}],
            }
        ],
    )
    assert job["StatusId"] == 2
    lists = {
        row["Agreement"]: row
        for row in emulator.table("Application", "ClientPriceLists").rows.values()
    }
    assert lists["B2B"]["Name"] == "Business"
    assert lists["B2B"]["CurrencyId"] == 2
    assert lists["B2B"]["IsPrimary"] is True
    assert lists["STD"]["IsPrimary"] is False
    assert emulator.data.find_location("WHX", "L1") is not None
    _seed_skus(api, "P1")
    api.run(
        "Product/ImportSkuPriceLists",
        PRICE_HEADER,
        [{"PartNo": "P1", "PriceListCode": "B2B", "PriceSale": 3}],
    )
    assert (
        emulator.table("Products", "ProductSkuPriceLists").get(
            ("P1", lists["B2B"]["PriceListId"], 1)
        )["PriceSale"]
        == 3
    )


def test_competitor_fullfile_deactivates_competitors_not_in_the_import(emulator, api):
    _seed_skus(api, "P1")
    header = {"AccountId": 1, "FullFile": False, "CompetitorSkuFieldsThatAreSet": [0]}

    def row(code: str) -> dict[str, Any]:
        return {
            "PartNo": "P1",
            "Source": "crawler",
            "CompetitorCode": code,
            "CompetitorPartNo": "X",
            "PriceSale": 5,
            "PriceSaleInclFreight": 6,
            "IsPricesInclVat": True,
            "IsInStock": True,
        }

    api.run("Product/ImportCompetitorSkus", header, [row("A"), row("B")])
    api.run("Product/ImportCompetitorSkus", {**header, "FullFile": True}, [row("A")])
    assert emulator.data.competitor_skus[("P1", "A")]["IsActive"] is True
    assert emulator.data.competitor_skus[("P1", "B")]["IsActive"] is False


CUSTOMER_HEADER = {"AccountId": 1, "CustomerFieldsThatAreSet": [2, 3, 6, 8, 19]}
COMPANY_HEADER = {"AccountId": 1, "CompanyFieldsThatAreSet": [2, 3, 4]}


def _customer(**extra: Any) -> dict[str, Any]:
    return {
        "Code": "CU1",
        "EmailAddress": "a@example.com",
        "FirstName": "Ann",
        "LastName": "Lee",
        **extra,
    }


def test_customers_match_and_company_list_delta(emulator, api):
    api.run(
        "Customer/ImportCompanies",
        COMPANY_HEADER,
        [{"Code": c, "OrganizationNo": f"55{c}", "Name": c} for c in ("A", "B")],
    )
    job = api.run(
        "Customer/ImportCustomers",
        CUSTOMER_HEADER,
        [_customer(Companies=[{"Code": "A"}, {"Code": "B"}])],
    )
    assert job["StatusId"] == 2
    customers = emulator.table("Customers", "Customers")
    (customer,) = customers.rows.values()
    assert customer["FirstName"] == "Ann"
    companies = customers.navigations["Companies"](customer)
    assert sorted(c["Code"] for c in companies) == ["A", "B"]
    # Delta list: B stays linked.
    api.run(
        "Customer/ImportCustomers",
        CUSTOMER_HEADER,
        [_customer(Companies=[{"Code": "A"}], IsCompanyListDelta=True)],
    )
    assert len(customers.navigations["Companies"](customer)) == 2
    # Not a delta (default false): relations not present are deactivated. Matched by email.
    api.run(
        "Customer/ImportCustomers",
        CUSTOMER_HEADER,
        [
            {
                "EmailAddress": "a@example.com",
                "FirstName": "Anna",
                "LastName": "Lee",
                "Companies": [{"Code": "A"}],
            }
        ],
    )
    assert [c["Code"] for c in customers.navigations["Companies"](customer)] == ["A"]
    assert customer["FirstName"] == "Anna"
    assert customer["Code"] is None  # Code listed, absent -> null
    assert len(customers.rows) == 1


def test_company_customer_list_and_create_requirements(emulator, api):
    api.run(
        "Customer/ImportCustomers",
        CUSTOMER_HEADER,
        [_customer(), _customer(Code="CU2", EmailAddress="b@x")],
    )
    header = {
        "AccountId": 1,
        "CompanyFieldsThatAreSet": [2, 3, 4, 14],
        "CustomerFieldsThatAreSet": [2],
    }
    api.run(
        "Customer/ImportCompanies",
        header,
        [
            {
                "Code": "A",
                "OrganizationNo": "1",
                "Name": "A",
                "Customers": [{"Code": "CU1"}, {"Code": "CU2"}],
            }
        ],
    )
    companies = emulator.table("Customers", "Companies")
    (company,) = companies.rows.values()
    assert len(companies.navigations["Customers"](company)) == 2
    api.run("Customer/ImportCompanies", header, [{"Code": "A", "Customers": [{"Code": "CU2"}]}])
    assert [c["Code"] for c in companies.navigations["Customers"](company)] == ["CU2"]
    failed = api.run("Customer/ImportCompanies", COMPANY_HEADER, [{"Code": "NEW"}])
    assert failed["StatusId"] == 4
    assert "cannot create company" in api.log(failed["JobId"])[1]["Message"]


def test_updated_follows_the_emulator_clock(emulator, api):
    api.run("Product/ImportProducts", product_header(), [product("P1", EanCode="1")])
    created = sku(emulator, "P1")["Created"]
    emulator.advance(3600)
    api.run("Product/ImportProducts", product_header(), [product("P1", EanCode="2")])
    row = sku(emulator, "P1")
    assert row["Created"] == created
    assert row["Updated"] - created == timedelta(seconds=3600 + 10)
    # Re-importing identical data changes nothing.
    job = api.run("Product/ImportProducts", product_header(), [product("P1", EanCode="2")])
    assert job["Updates"] == 0
