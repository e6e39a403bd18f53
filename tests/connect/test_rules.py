"""Header rules of Norce (reference §2.4, §3): one test per rule, and valid headers pass."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from norce_integration import UNSET, HeaderRuleError
from norce_integration._convert import converter
from norce_integration.connect import models as m
from norce_integration.connect._rules import check_header, header_json


PF, VF, SF = m.ProductField, m.VariantField, m.SkuField
SPL = m.SkuPriceListField


def product_header(**changes: Any) -> m.ProductHeader:
    """The reference's ProductHeader example (§3.1), which satisfies every rule."""
    header = m.ProductHeader(
        account_id=1,
        full_file=False,
        product_fields_that_are_set=[PF(0), PF(1), PF(4), PF(6)],
        product_culture_fields_that_are_set=[],
        variant_fields_that_are_set=[VF(0), VF(4), VF(5)],
        variant_culture_fields_that_are_set=[m.VariantCultureField(i) for i in (0, 1, 10)],
        sku_fields_that_are_set=[SF(i) for i in (1, 2, 7, 8, 20, 21)],
        sku_culture_fields_that_are_set=[m.SkuCultureField.ErpName],
        sku_price_list_fields_that_are_set=[SPL(5), SPL(6), SPL(10)],
        ignore_sku_price_list_fields_when_empty=[SPL(6), SPL(10)],
        sku_structure_item_fields_that_are_set=[],
        image_culture_fields_that_are_set=[],
        serialization_type=m.SerializationType.Json,
    )
    return attrs.evolve(header, **changes)


# The customer header example of the reference (S5), valid for both customer imports.
CUSTOMER_EXAMPLE = m.CustomerHeader(
    account_id=1,
    company_fields_that_are_set=[
        m.CompanyField(i) for i in (0, 2, 3, 4, 5, 6, 9, 10, 11, 14, 17, 18, 19, 20, 12, 22)
    ],
    customer_fields_that_are_set=[m.CustomerField(i) for i in (0, 2, 14, 3, 6, 9, 11, 12, 13)],
    account_fields_that_are_set=[m.AccountField(i) for i in (1, 3, 4)],
    serialization_type=m.SerializationType.Json,
)

VALID = [
    (m.ImportKind.products, product_header()),
    (
        m.ImportKind.products,
        m.ProductHeader(account_id=1, full_file=True, product_fields_that_are_set=[PF.Code]),
    ),
    (
        m.ImportKind.sku_price_lists,
        m.SkuPriceListHeader(
            account_id=1,
            full_file=False,
            sku_price_list_fields_that_are_set=[SPL(3), SPL(6), SPL(8)],
            ignore_sku_price_list_fields_when_empty=[SPL(3)],
        ),
    ),
    (
        m.ImportKind.price_lists,
        m.PriceListHeader(
            account_id=1,
            price_list_fields_that_are_set=[m.PriceListField.Name, m.PriceListField.PriceRules],
            price_list_price_rule_fields_that_are_set=[m.PriceListPriceRuleField.Value],
        ),
    ),
    (
        m.ImportKind.onhands,
        m.SkuOnhandHeader(
            account_id=1, full_file=False, sku_onhand_fields_that_are_set=[m.SkuOnhandField(3)]
        ),
    ),
    (
        m.ImportKind.relations,
        m.RelationHeader(
            account_id=1,
            relation_fields_that_are_set=[m.RelationField.IsActive, m.RelationField.Cultures],
            relation_culture_fields_that_are_set=[m.RelationCultureField.Name],
        ),
    ),
    (m.ImportKind.relations, m.RelationHeader(account_id=1)),
    (
        m.ImportKind.competitor_skus,
        m.CompetitorSkuHeader(
            account_id=1,
            full_file=True,
            competitor_sku_fields_that_are_set=[m.CompetitorSkuField.CompetitorName],
        ),
    ),
    (m.ImportKind.customers, CUSTOMER_EXAMPLE),
    (m.ImportKind.companies, CUSTOMER_EXAMPLE),
    (
        m.ImportKind.customers,
        m.CustomerHeader(account_id=1, customer_fields_that_are_set=[m.CustomerField.Code]),
    ),
    (
        m.ImportKind.companies,
        m.CustomerHeader(account_id=1, company_fields_that_are_set=[m.CompanyField.Name]),
    ),
    (
        m.ImportKind.supplier_products,
        m.SupplierProductHeader(
            account_id=1,
            full_file=True,
            fields_that_are_set=[m.SupplierProductField.ProductName],
            content_fields_that_are_set=[m.ProductCultureField.Name],
        ),
    ),
]


@pytest.mark.parametrize(("kind", "header"), VALID, ids=lambda v: getattr(v, "value", ""))
def test_valid_headers_pass(kind, header):
    check_header(header, kind)
    check_header(header)


def test_plain_integers_that_are_members_are_accepted():
    header = m.SkuOnhandHeader(
        account_id=1,
        full_file=False,
        sku_onhand_fields_that_are_set=[3, 10],  # type: ignore[list-item]
    )
    check_header(header, m.ImportKind.onhands)
    expected = b'{"AccountId":1,"FullFile":false,"SkuOnhandFieldsThatAreSet":[3,10]}'
    assert header_json(header) == expected


def test_the_kind_may_be_given_as_a_string():
    check_header(product_header(), "products")  # type: ignore[arg-type]


def _rule(header: Any, kind: m.ImportKind | None = None) -> str:
    with pytest.raises(HeaderRuleError) as info:
        check_header(header, kind)
    assert str(info.value).startswith(f"{info.value.rule}: ")
    return info.value.rule


# --- one test per rule ----------------------------------------------------------------------


@pytest.mark.parametrize("account_id", [0, -3, None, True, "1", 1.0])
def test_account_id_must_be_a_positive_integer(account_id):
    assert _rule(product_header(account_id=account_id)) == "account-id"


def test_header_type_must_match_the_kind():
    assert _rule(product_header(), m.ImportKind.sku_price_lists) == "header-type"
    assert _rule(CUSTOMER_EXAMPLE, m.ImportKind.products) == "header-type"
    assert _rule(m.Header(account_id=1), m.ImportKind.onhands) == "header-type"

    @attrs.frozen
    class Lookalike:
        account_id: int = 1

    assert _rule(Lookalike()) == "header-type"


def test_members_of_another_enum_are_refused():
    header = product_header(product_fields_that_are_set=[PF.Code, VF.Skus])
    assert _rule(header) == "unknown-field"


@pytest.mark.parametrize("member", [17, 0, True, "Status", None])
def test_unknown_values_are_refused(member):
    header = product_header(sku_fields_that_are_set=[SF.StandardPrice, member])
    assert _rule(header) == "unknown-field"


def test_field_lists_must_be_lists():
    header = product_header(variant_fields_that_are_set=VF.Skus)
    assert _rule(header) == "unknown-field"


def test_duplicate_members_are_refused():
    header = product_header(variant_fields_that_are_set=[VF(0), VF(4), VF(5), VF(4)])
    assert _rule(header) == "duplicate-field"
    header = product_header(ignore_sku_price_list_fields_when_empty=[SPL(6), 6])
    assert _rule(header) == "duplicate-field"


@pytest.mark.parametrize(
    ("kind", "header"),
    [
        (m.ImportKind.products, product_header(product_fields_that_are_set=None)),
        (
            m.ImportKind.sku_price_lists,
            m.SkuPriceListHeader(
                account_id=1,
                full_file=False,
                sku_price_list_fields_that_are_set=UNSET,  # type: ignore[arg-type]
            ),
        ),
        (m.ImportKind.customers, m.CustomerHeader(account_id=1)),
        (
            m.ImportKind.customers,
            m.CustomerHeader(account_id=1, company_fields_that_are_set=[m.CompanyField.Code]),
        ),
        (
            m.ImportKind.companies,
            m.CustomerHeader(account_id=1, customer_fields_that_are_set=[m.CustomerField.Code]),
        ),
    ],
)
def test_the_required_list_must_be_present(kind, header):
    assert _rule(header, kind) == "fields-required"


@pytest.mark.parametrize(
    ("kind", "header"),
    [
        (m.ImportKind.products, product_header(product_fields_that_are_set=[])),
        (
            m.ImportKind.price_lists,
            m.PriceListHeader(account_id=1, price_list_fields_that_are_set=[]),
        ),
        (
            m.ImportKind.onhands,
            m.SkuOnhandHeader(account_id=1, full_file=True, sku_onhand_fields_that_are_set=[]),
        ),
        (
            m.ImportKind.competitor_skus,
            m.CompetitorSkuHeader(
                account_id=1, full_file=True, competitor_sku_fields_that_are_set=[]
            ),
        ),
        (m.ImportKind.customers, m.CustomerHeader(account_id=1, customer_fields_that_are_set=[])),
        (m.ImportKind.companies, m.CustomerHeader(account_id=1, company_fields_that_are_set=[])),
    ],
)
def test_the_required_list_must_not_be_empty(kind, header):
    assert _rule(header, kind) == "fields-empty"


def test_variant_fields_need_product_field_variants():
    header = product_header(product_fields_that_are_set=[PF(0), PF(1), PF(6)])
    assert _rule(header) == "product-variants"


def test_product_culture_fields_need_product_field_cultures():
    header = product_header(product_culture_fields_that_are_set=[m.ProductCultureField.Name])
    assert _rule(header) == "product-cultures"
    check_header(
        product_header(
            product_fields_that_are_set=[PF(0), PF(4), PF.Cultures],
            product_culture_fields_that_are_set=[m.ProductCultureField.Name],
        )
    )


def test_variant_culture_fields_need_variant_field_cultures():
    header = product_header(variant_fields_that_are_set=[VF(0), VF(5)])
    assert _rule(header) == "variant-cultures"


def test_sku_fields_need_variant_field_skus():
    header = product_header(variant_fields_that_are_set=[VF(0), VF(4)])
    assert _rule(header) == "variant-skus"


def test_sku_culture_fields_need_variant_field_skus():
    header = product_header(
        variant_fields_that_are_set=[VF(0), VF(4)],
        sku_fields_that_are_set=UNSET,
        sku_price_list_fields_that_are_set=UNSET,
        ignore_sku_price_list_fields_when_empty=UNSET,
    )
    assert _rule(header) == "variant-skus"


def test_standard_price_fields_need_sku_field_standard_price():
    header = product_header(
        sku_fields_that_are_set=[SF.Status], ignore_sku_price_list_fields_when_empty=[]
    )
    assert _rule(header) == "sku-standard-price"


def test_ignore_when_empty_needs_sku_field_standard_price():
    header = product_header(
        sku_fields_that_are_set=[SF.Status],
        sku_price_list_fields_that_are_set=[],
        ignore_sku_price_list_fields_when_empty=[SPL(6)],
    )
    assert _rule(header) == "ignore-empty-standard-price"


def test_ignore_when_empty_must_be_a_subset_in_product_header():
    header = product_header(ignore_sku_price_list_fields_when_empty=[SPL(6), SPL(3)])
    assert _rule(header) == "ignore-empty-subset"


def test_ignore_when_empty_must_be_a_subset_in_sku_price_list_header():
    header = m.SkuPriceListHeader(
        account_id=1,
        full_file=False,
        sku_price_list_fields_that_are_set=[SPL.PriceSale],
        ignore_sku_price_list_fields_when_empty=[SPL.PriceSale, SPL.PriceRecommended],
    )
    assert _rule(header, m.ImportKind.sku_price_lists) == "ignore-empty-subset"


def test_relation_culture_fields_need_relation_field_cultures():
    header = m.RelationHeader(
        account_id=1,
        full_file=True,
        relation_fields_that_are_set=[m.RelationField.IsActive],
        relation_culture_fields_that_are_set=[m.RelationCultureField.Name],
    )
    assert _rule(header, m.ImportKind.relations) == "relation-cultures"


@pytest.mark.parametrize("kind", [m.ImportKind.customers, m.ImportKind.companies, None])
def test_account_fields_need_customer_field_accounts(kind):
    header = attrs.evolve(CUSTOMER_EXAMPLE, customer_fields_that_are_set=[m.CustomerField.Code])
    assert _rule(header, kind) == "customer-accounts"


@pytest.mark.parametrize("kind", [m.ImportKind.companies, None])
def test_company_customers_need_customer_fields(kind):
    header = m.CustomerHeader(
        account_id=1,
        company_fields_that_are_set=[m.CompanyField.Code, m.CompanyField.Customers],
        customer_fields_that_are_set=[],
    )
    assert _rule(header, kind) == "company-customers"


def test_company_fields_are_ignored_by_import_customers():
    header = m.CustomerHeader(
        account_id=1,
        customer_fields_that_are_set=[m.CustomerField.Code],
        company_fields_that_are_set=[m.CompanyField.Customers],
    )
    check_header(header, m.ImportKind.customers)


# --- header_json ----------------------------------------------------------------------------


def test_header_json_is_one_line_with_integer_enums_and_no_unset():
    raw = header_json(
        m.SkuPriceListHeader(
            account_id=1,
            full_file=False,
            sku_price_list_fields_that_are_set=[SPL.PriceSale, SPL.PriceRecommended, SPL(8)],
            serialization_type=m.SerializationType.Json,
        )
    )
    assert raw == (
        b'{"AccountId":1,"FullFile":false,"SkuPriceListFieldsThatAreSet":[3,6,8],'
        b'"SerializationType":0}'
    )


def test_header_json_of_the_reference_product_example():
    raw = header_json(product_header())
    assert b"\n" not in raw
    assert json.loads(raw) == {
        "AccountId": 1,
        "FullFile": False,
        "ProductFieldsThatAreSet": [0, 1, 4, 6],
        "ProductCultureFieldsThatAreSet": [],
        "VariantFieldsThatAreSet": [0, 4, 5],
        "VariantCultureFieldsThatAreSet": [0, 1, 10],
        "SkuFieldsThatAreSet": [1, 2, 7, 8, 20, 21],
        "SkuCultureFieldsThatAreSet": [0],
        "SkuPriceListFieldsThatAreSet": [5, 6, 10],
        "IgnoreSkuPriceListFieldsWhenEmpty": [6, 10],
        "SkuStructureItemFieldsThatAreSet": [],
        "ImageCultureFieldsThatAreSet": [],
        "SerializationType": 0,
    }


@given(storage_name=st.text())
@settings(max_examples=50)
def test_header_json_is_always_one_ascii_line(storage_name):
    header = m.Header(account_id=7, storage_name=storage_name)
    raw = header_json(header)
    assert raw.isascii()
    assert b"\n" not in raw
    assert b"\r" not in raw
    assert converter.structure(json.loads(raw), m.Header) == header
