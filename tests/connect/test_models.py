"""Connect contracts: enum values, wire names, UNSET/None, round trips, job parsing."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal
from typing import Any

import attrs
import cattrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from norce_integration._convert import (
    ReadModel,
    WriteModel,
    converter,
    strict_converter,
    wire_name,
    wire_names,
)
from norce_integration._types import UNSET
from norce_integration.connect import models as m
from tests.strategies import models


def _enum(*names: str, start: int = 0, skip: tuple[int, ...] = ()) -> dict[str, int]:
    """Consecutive values from ``start``, jumping over ``skip`` (the reference's gaps)."""
    values, n = {}, start
    for name in names:
        while n in skip:
            n += 1
        values[name] = n
        n += 1
    return values


# Copied from norce-connect.md §3-§4 (names and integers exactly as there).
# fmt: off
ENUM_TABLE: dict[type[enum.IntEnum], dict[str, int]] = {
    m.ProductField: _enum(
        "ManufacturerCode", "ManufacturerName", "Alias", "Code", "Variants", "Cultures",
        "Categories", "MainImage", "AdditionalImages", "Family", "ProductParametrics",
        "ProductParametricsCreateOnly", "VariantDefinitionGroup",
        "VariantDefinitionGroupCreateOnly", "Assortment", "CategoriesCreateOnly",
        "CategoriesLimitedUpdate", "AdditionalImagesCleanup", "ParametricsCleanup",
        "ImagesAndFilesCleanup",
    ),
    m.ProductCultureField: _enum(
        "Name", "NameCreateOnly", "SubHeader", "SubDescription", "DescriptionHeader",
        "Description", "DescriptionCreateOnly", "Synonyms", "Title", "Tags", "MetaTags",
        "MetaDescription", "NameLimitedUpdate", "UniqueUrlName",
        "IsUniqueUrlNameManuallyMaintained", "UniqueUrlNameCreateOnly",
    ),
    m.VariantField: _enum(
        "ManufacturerPartNo", "SortOrderValue", "StockDisplayBreakPoint", "IsDangerousGoods",
        "Cultures", "Skus", "MainImage", "AdditionalImages", "VariantParametrics",
        "VariantParametricsCreateOnly", "NonParametricVariantDefinitions",
        "NonParametricVariantDefinitionsCreateOnly", "DeliveryMethods",
        "DeliveryMethodsCreateOnly", "AdditionalImagesCleanup", "ParametricsCleanup",
        "TranslationRequested", "ImagesAndFilesCleanup",
    ),
    m.VariantCultureField: _enum(
        "CultureCode", "Name", "NameCreateOnly", "NameLimitedUpdate", "UniqueUrlName",
        "IsUniqueUrlNameManuallyMaintained", "UniqueUrlNameCreateOnly", "SubHeader",
        "SubDescription", "DescriptionHeader", "Description", "DescriptionCreateOnly",
        "Synonyms", "Title", "Tags", "MetaTags", "MetaDescription",
    ),
    m.SkuField: _enum(
        "Status", "Type", "IntegrationPartNo", "CommodityCode", "EanCode", "TrackingCode",
        "UnitOfMeasurementType", "UnitOfMeasurementCount", "IsDropShipOnly", "IsBuyable",
        "DiscountClass", "RecommendedSalesQty", "IsRecommendedSalesQtyFixed", "ActualWeight",
        "VolumeWeight", "LogisticWidth", "LogisticHeight", "LogisticDepth", "StandardPrice",
        "VatRate", "StatusCreateOnly", "StartDate", "StopDate", "StructureItems",
        "PartNoCreateWhenMissing",
        start=1, skip=(17,),
    ),
    m.SkuCultureField: _enum("ErpName", "ErpNameCreateOnly", "Comment", "CommentCreateOnly"),
    m.SkuPriceListField: _enum(
        "PriceSale", "CostPurchase", "CostUnit", "PriceRecommended", "PricePrevious",
        "PriceCatalog", "IsPriceDiscountable", "IsActive", "IsPriceDiscountableCreateOnly",
        "PriceRule", "FullfileResetInheritance",
        start=3,
    ),
    m.SkuStructureItemField: _enum("SortOrder", "StandardStructureItemPrice", "AdditionalInfo"),
    m.ImageCultureField: _enum("Name", "Description", "AltText"),
    m.PriceListField: _enum(
        "Name", "CurrencyCode", "StartDate", "EndDate", "IsPublic", "IsPrimary", "TypeCode",
        "Warehouses", "DefaultPriceRule", "Description", "IsErpIntegrated",
        "DoNotCreateApplicationPriceList", "SalesArea", "DefaultMinMarginPercent",
        "LimitToRecPrice", "ParentPriceListCode", "DefaultSupplementalChargeFixed",
        "DefaultSupplementalChargePercent", "PriceRules", "PriceRulesCleanup",
        "PriceRulesLimitedUpdate", "Population", "PopulationCleanup", "IsFavorite",
        "InheritStructureCalculationRule",
    ),
    m.WarehouseField: _enum("Type", "Name", "LeadTimeDayCount"),
    m.WarehouseLocationField: _enum("Name", "LeadTimeDayCount", "IsIncludedInStockCalculation"),
    m.PriceListPriceRuleField: _enum(
        "Type", "Value", "LimitToRecPrice", "SupplementalChargeFixed", "SupplementalChargePercent"
    ),
    m.SkuOnhandField: _enum(
        "OnhandValue", "IncomingValue", "NextDeliveryDate", "LeadTimeDayCount", "OnOrderValue",
        "MinimumValue", "MaximumValue", "IsActive", "Infos",
        start=3,
    ),
    m.RelationField: _enum(
        "IsActive", "IsVariantUnique", "IsVariantUniqueCreateOnly", "IsRelatedVariantUnique",
        "IsRelatedVariantUniqueCreateOnly", "DefaultName", "DefaultSubHeader",
        "DefaultSubDescription", "DefaultDescriptionHeader", "DefaultDescription", "Cultures",
        "SortOrder",
        start=1,
    ),
    m.RelationCultureField: _enum(
        "Name", "NameCreateOnly", "SubHeader", "SubDescription", "DescriptionHeader",
        "Description", "DescriptionCreateOnly",
        start=1,
    ),
    m.CompetitorSkuField: _enum("CompetitorName", "ProductName", "VatRate", "ExternalPopularities"),
    m.CompanyField: _enum(
        "ApplicationKey", "Id", "Code", "OrganizationNo", "Name", "EmailAddress", "PhoneNumber",
        "LogoImage", "ParentCompanyCode", "IsActive", "InvoiceAddress", "DeliveryAddresses",
        "AdditionalInfo", "Contacts", "Customers", "DeliveryMethods", "Discounts", "Flags",
        "PaymentMethods", "PriceLists", "SearchOnlyByCode", "VatNo", "PreserveFlags",
    ),
    m.CustomerField: _enum(
        "ApplicationKey", "Id", "Code", "EmailAddress", "SocialSecurityNumber", "Title",
        "FirstName", "MiddleName", "LastName", "PhoneNumber", "CellPhoneNumber", "IsActive",
        "InvoiceAddress", "DeliveryAddresses", "Accounts", "AdditionalInfo", "Flags",
        "PriceLists", "SearchOnlyByCode", "Companies", "CrmId", "PreserveFlags",
    ),
    m.AccountField: _enum(
        "PasswordCreateOnly", "Status", "StatusCreateOnly", "Roles", "RolesCreateOnly"
    ),
    m.SupplierProductField: _enum(
        "SupplierPartNo", "ProductName", "CategoryCode", "ProductType", "Manufacturer",
        "ManufacturerPartNo", "EanCode", "CommodityCode", "GrossWeight", "NetWeight",
        "UnitOfMeasurementCode", "UnitOfMeasurementCount", "VatCode", "LogisticWidth",
        "LogisticHeight", "LogisticDepth",
    ),
    m.SupplierOnHandField: _enum(
        "Value", "IncomingValue", "NextDeliveryDate", "StoppedDate", "IsReturnable",
        "LeadTimeDayCount", "ExternalStockValue", "PackageValue", "MinimumOrderValue",
        "IsActive",
    ),
    m.SupplierPriceField: _enum(
        "CostPurchase", "CostPurchaseValidTo", "PriceRecommended", "PriceMax", "PriceDealer",
        "IsPromotion", "IsFocus", "PriceRanking", "FreightCost", "CostFee", "DiscountPct",
        "IsActive", "PriceCatalog",
    ),
    m.SupplierProductInfoField: {"Value": 0},
    m.SkuStatus: _enum(
        "Active", "Coming", "Expiring", "Hidden", "Inactive", "NotActivated", start=1
    ),
    m.SkuType: {
        "ErpStandard": 1, "ErpRefurbished": 2, "Freight": 3, "Insurance": 4, "Download": 7,
        "Structure": 8, "Invoice": 9, "Service": 11, "Standard": 14, "ErpExtended": 15,
        "ErpStandardNoStock": 16, "ErpPackage": 17, "Donations": 18, "ErpTempOutOfStock": 19,
        "EnvironmentalFee": 20, "PackingFee": 21, "Configuration": 22,
        "ErpPackageWithCalc": 24, "DisplayOnly": 25, "ErpDownload": 26,
        "ErpDownloadNoStock": 27, "ErpDownloadTempNoStock": 28, "ErpStandard2": 29,
        "Standard2": 30, "ErpStandardNoStock2": 31, "ErpTempOutOfStock2": 32, "License": 33,
        "CentRounding": 34, "SalesTax": 35, "FreightStructure": 36, "ManagedStructure": 37,
        "ManagedErpPackage": 38, "ManagedErpPackageWithCalc": 39, "Virtual": 40,
        "PspGiftCard": 41, "PayLater": 42, "GiftCardPaymentPlaceHolder": 43, "Compensation": 44,
    },
    m.UnitMeasurementType: _enum(
        "Pieces", "Hour", "Kilogram", "Litre", "Pair", "SquareMeter", "Meter", "Boxes", "Rolls",
        start=1,
    ),
    m.UnitOfMeasurementType: _enum("Unknown", "Pieces", "Hours", "Kilograms", "Litres"),
    m.SalesArea: {
        "Sweden": 1, "Norway": 2, "Denmark": 3, "Finland": 4, "UnitedKingdom": 5, "Estonia": 6,
        "Greenland": 7, "Germany": 8, "Italy": 9, "Austria": 10, "Spain": 11,
        "Netherlands": 12, "Belgium": 13, "France": 14, "Switzerland": 15, "USA": 17,
        "Ireland": 18, "Canada": 19, "Lithuania": 20, "Latvia": 21, "Japan": 22,
        "SouthKorea": 23, "Australia": 24, "Europe": 25, "Poland": 26, "CzechRepublic": 27,
        "Russia": 28, "NoVAT": 29, "Bulgaria": 36, "Croatia": 37, "Cyprus": 38, "Greece": 39,
        "Hungary": 40, "Luxembourg": 41, "Malta": 42, "Portugal": 43, "Romania": 44,
        "Slovakia": 45, "Slovenia": 46,
    },
    m.PriceRule: _enum(
        "CostPlus_PurchaseCost", "FixedPrice", "Margin_PurchaseCost", "UseRecommendedPrice",
        "CostPlus_UnitCost", "Margin_UnitCost", "UseStandardPrice_PctDiscount",
        "Competitive_PurchaseCost", "Competitive_UnitCost", "UseStandardPrice_FixedDiscount",
        "StructureCalculation", "UseCatalogPrice",
        start=1,
    ),
    m.WarehouseType: _enum("Warehouse", "Store", "Transport", "Other", start=1),
    m.PriceListPriceRuleType: {
        "CostPlus_PurchaseCost": 1, "Margin_PurchaseCost": 3, "UseRecommendedPrice": 4,
        "CostPlus_UnitCost": 5, "Margin_UnitCost": 6, "UseStandardPrice_PctDiscount": 7,
        "UseStandardPrice_FixedDiscount": 10, "UseCatalogPrice": 12,
    },
    m.PriceListPopulationType: {"Exclude": 1, "Include": 2},
    m.PopulationRuleType: {"None": 1, "Manufacturers": 2, "Flags": 3, "Category": 4},
    m.InheritStructureCalculationRule: {
        "None": 0,
        "ItemsUseDefaultPriceRule": 1,
        "StandardPriceFromInheritedStructureItemSalePrice": 2,
    },
    m.CustomerType: {"Customer": 1, "CompanyContact": 2},
    m.AccountStatus: {"Active": 1, "Inactive": 2},
    m.DiscountType: {"Category": 1, "ProductDiscountClass": 2, "ProductFlag": 3},
    m.SerializationType: {"Json": 0, "DataContractSerializer": 1},
    m.JobStatus: {
        "Initialized": 1, "Succeeded": 2, "Failed": 3, "ValidationFailed": 4,
        "Validating": 5, "Queued": 6,
    },
    m.LogSeverity: {"Information": 1, "Warning": 2, "Error": 3},
}
# fmt: on

ALL_ENUMS = sorted(
    (
        v
        for v in vars(m).values()
        if isinstance(v, type) and issubclass(v, enum.IntEnum) and v.__module__ == m.__name__
        if list(v)  # the member-less private bases
    ),
    key=lambda cls: cls.__name__,
)

MODEL_CLASSES = sorted(
    (
        v
        for v in vars(m).values()
        if isinstance(v, type) and attrs.has(v) and issubclass(v, WriteModel | ReadModel)
    ),
    key=lambda cls: cls.__name__,
)


# --- enums --------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", list(ENUM_TABLE), ids=lambda cls: cls.__name__)
def test_enum_values_match_the_reference(cls):
    assert {member.name.rstrip("_"): member.value for member in cls} == ENUM_TABLE[cls]


def test_every_enum_is_in_the_table():
    assert set(ALL_ENUMS) == set(ENUM_TABLE)
    assert {cls.__name__ for cls in ALL_ENUMS} <= set(m.__all__)


@pytest.mark.parametrize(
    ("cls", "missing"),
    [
        (m.SkuField, 0),
        (m.SkuField, 17),
        (m.SkuPriceListField, 2),
        (m.SkuOnhandField, 0),
        (m.RelationField, 0),
        (m.RelationCultureField, 0),
        (m.SalesArea, 16),
        (m.SalesArea, 30),
        (m.SalesArea, 35),
        (m.SkuType, 23),
        (m.PriceListPriceRuleType, 2),
        (m.PopulationRuleType, 0),
    ],
)
def test_gaps_are_not_members(cls, missing):
    with pytest.raises(ValueError, match="is not a valid"):
        cls(missing)


@pytest.mark.parametrize("cls", [m.JobStatus, m.LogSeverity])
@given(value=st.integers(min_value=-(2**40), max_value=2**40))
@settings(max_examples=30)
def test_server_enums_tolerate_unknown_integers(cls, value):
    member = cls(value)
    assert member == value
    assert isinstance(member, cls)
    assert cls(value) is member
    if value not in cls._value2member_map_ or member.name.startswith("UNKNOWN_"):
        assert member.name in (f"UNKNOWN_{value}", *cls.__members__)
    assert converter.structure(value, cls) is member
    assert converter.unstructure(member) == value


def test_unknown_job_status_is_neither_terminal_nor_success():
    status = converter.structure(42, m.JobStatus)
    assert status.name == "UNKNOWN_42"
    assert not status.is_terminal
    assert not status.is_success
    assert list(m.JobStatus) == sorted(m.JobStatus)  # pseudo-members are not listed
    assert len(m.JobStatus) == 6


@pytest.mark.parametrize(
    ("status", "terminal", "success"),
    [
        (m.JobStatus.Initialized, False, False),
        (m.JobStatus.Succeeded, True, True),
        (m.JobStatus.Failed, True, False),
        (m.JobStatus.ValidationFailed, True, False),
        (m.JobStatus.Validating, False, False),
        (m.JobStatus.Queued, False, False),
    ],
)
def test_job_status_helpers(status, terminal, success):
    assert status.is_terminal is terminal
    assert status.is_success is success


def test_ordinary_enums_still_reject_unknown_integers():
    with pytest.raises(cattrs.BaseValidationError):
        converter.structure({"AccountId": 1, "SerializationType": 7}, m.Header)


@pytest.mark.parametrize(
    ("raw", "cls", "expected"),
    [
        ("Variants", m.ProductField, m.ProductField.Variants),
        ("variants", m.ProductField, m.ProductField.Variants),
        ("4", m.ProductField, m.ProductField.Variants),
        (4, m.ProductField, m.ProductField.Variants),
        ("None", m.PopulationRuleType, m.PopulationRuleType.None_),
        ("None", m.InheritStructureCalculationRule, m.InheritStructureCalculationRule.None_),
        ("Xml", m.SerializationType, m.SerializationType.DataContractSerializer),
        ("USA", m.SalesArea, m.SalesArea.USA),
        ("Succeeded", m.JobStatus, m.JobStatus.Succeeded),
        ("77", m.JobStatus, 77),
    ],
)
def test_enums_parse_from_integers_and_names(raw, cls, expected):
    assert converter.structure(raw, cls) == expected
    assert strict_converter().structure(raw, cls) == expected


@pytest.mark.parametrize("raw", [True, "Nope", 1.5, None])
def test_enums_reject_other_values(raw):
    with pytest.raises((TypeError, ValueError)):
        converter.structure(raw, m.ProductField)


# --- round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize("cls", MODEL_CLASSES, ids=lambda cls: cls.__name__)
@given(data=st.data())
@settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow])
def test_every_model_round_trips(cls, data):
    obj = data.draw(models(cls))
    wire = converter.unstructure(obj)
    assert converter.structure(wire, cls) == obj
    assert strict_converter().structure(wire, cls) == obj
    assert strict_converter().unstructure(obj) == wire


def test_round_trip_covers_every_public_model():
    public = [getattr(m, name) for name in m.__all__]
    assert {cls for cls in public if attrs.has(cls)} - set(MODEL_CLASSES) == {m.ImportSpec}


# --- UNSET and None -------------------------------------------------------------------------


def test_write_models_omit_unset_and_send_none_as_null():
    sku = m.Sku(part_no="SKU-1", ean_code=None, status=m.SkuStatus.Active)
    assert converter.unstructure(sku) == {"PartNo": "SKU-1", "Status": 1, "EanCode": None}


def test_nested_write_models_omit_unset_at_every_level():
    product = m.Product(
        code="C1",
        variants=[m.Variant(manufacturer_part_no="M1", skus=[m.Sku(part_no="S1")])],
        family=None,
    )
    assert converter.unstructure(product) == {
        "Code": "C1",
        "Variants": [{"ManufacturerPartNo": "M1", "Skus": [{"PartNo": "S1"}]}],
        "Family": None,
    }


def test_required_keys_have_no_default():
    with pytest.raises(TypeError):
        m.SkuPriceList(part_no="A")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        m.SkuOnhand(part_no="A", warehouse_code="W")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        m.Relation(part_no="A", related_part_no="B")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        m.ProductHeader(account_id=1, full_file=False)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        m.SkuOnhandHeader(account_id=1, sku_onhand_fields_that_are_set=[])  # type: ignore[call-arg]


def test_read_models_default_missing_fields_to_none():
    job = converter.structure({"JobId": 5, "StatusId": 1}, m.Job)
    assert job.stop is None
    assert job.run_time is None
    assert job.inserts is None
    assert converter.structure({}, m.JobResponse) == m.JobResponse()
    assert converter.structure({"SeverityId": 1}, m.JobLogEntry).imported_row is None


def test_read_models_ignore_unknown_keys_but_strict_converter_rejects_them():
    data = {"JobId": "1", "Extra": True}
    assert converter.structure(data, m.JobResponse).job_id == 1
    with pytest.raises(cattrs.BaseValidationError):
        strict_converter().structure(data, m.JobResponse)


def test_headers_are_frozen_and_take_enum_lists():
    header = m.SkuOnhandHeader(
        account_id=1,
        full_file=True,
        sku_onhand_fields_that_are_set=[m.SkuOnhandField.OnhandValue, m.SkuOnhandField.IsActive],
    )
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        header.account_id = 2  # type: ignore[misc]
    wire = converter.unstructure(header)
    assert wire == {"AccountId": 1, "FullFile": True, "SkuOnhandFieldsThatAreSet": [3, 10]}
    assert all(type(value) is int for value in wire["SkuOnhandFieldsThatAreSet"])


def test_guid_travels_as_a_string():
    key = uuid.UUID("6f9619ff-8b86-d011-b42d-00c04fc964ff")
    account = m.Account(application_key=key, login_name="ann")
    assert converter.unstructure(account) == {
        "ApplicationKey": "6f9619ff-8b86-d011-b42d-00c04fc964ff",
        "LoginName": "ann",
    }
    assert converter.structure(converter.unstructure(account), m.Account) == account


# --- wire names -----------------------------------------------------------------------------

WIRE_NAMES = [
    (m.Header, "account_id", "AccountId"),
    (m.Header, "storage_name", "StorageName"),
    (m.Header, "serialization_type", "SerializationType"),
    (m.Header, "supplier_id", "SupplierId"),
    (m.ProductHeader, "full_file", "FullFile"),
    (m.ProductHeader, "product_fields_that_are_set", "ProductFieldsThatAreSet"),
    (
        m.ProductHeader,
        "ignore_sku_price_list_fields_when_empty",
        "IgnoreSkuPriceListFieldsWhenEmpty",
    ),
    (m.ProductHeader, "sku_structure_item_fields_that_are_set", "SkuStructureItemFieldsThatAreSet"),
    (m.ProductHeader, "image_culture_fields_that_are_set", "ImageCultureFieldsThatAreSet"),
    (
        m.PriceListHeader,
        "price_list_price_rule_fields_that_are_set",
        "PriceListPriceRuleFieldsThatAreSet",
    ),
    (
        m.PriceListHeader,
        "warehouse_location_fields_that_are_set",
        "WarehouseLocationFieldsThatAreSet",
    ),
    (m.SkuOnhandHeader, "sku_onhand_fields_that_are_set", "SkuOnhandFieldsThatAreSet"),
    (m.SupplierProductHeader, "onhand_fields_that_are_set", "OnhandFieldsThatAreSet"),
    (m.Image, "filename", "Filename"),
    (m.Image, "file_type_name", "FileTypeName"),
    (m.ImageCulture, "alt_text", "AltText"),
    (m.Variant, "sort_order_value", "SortOrderValue"),
    (m.Variant, "stock_display_break_point", "StockDisplayBreakPoint"),
    (m.Variant, "is_dangerous_goods", "IsDangerousGoods"),
    (m.Variant, "non_parametric_variant_definitions", "NonParametricVariantDefinitions"),
    (m.Sku, "ean_code", "EanCode"),
    (m.Sku, "unit_of_measurement_type", "UnitOfMeasurementType"),
    (m.Sku, "is_recommended_sales_qty_fixed", "IsRecommendedSalesQtyFixed"),
    (m.Sku, "vat_rates", "VatRates"),
    (m.ParametricValue, "value_date_time", "ValueDateTime"),
    (m.SkuStructureItem, "standard_structure_item_price", "StandardStructureItemPrice"),
    (m.SkuPriceList, "price_rule_value", "PriceRuleValue"),
    (m.SkuPriceList, "is_price_discountable", "IsPriceDiscountable"),
    (m.PriceList, "default_supplemental_charge_percent", "DefaultSupplementalChargePercent"),
    (m.PriceList, "inherit_structure_calculation_rule", "InheritStructureCalculationRule"),
    (m.SkuOnhand, "onhand_value", "OnhandValue"),
    (m.CompetitorSku, "price_sale_incl_freight", "PriceSaleInclFreight"),
    (m.CompetitorSku, "is_prices_incl_vat", "IsPricesInclVat"),
    (m.Address, "address_line1", "AddressLine1"),
    (m.Address, "gln", "Gln"),
    (m.Customer, "crm_id", "CrmId"),
    (m.Customer, "is_company_list_delta", "IsCompanyListDelta"),
    (m.Company, "vat_no", "VatNo"),
    (m.Company, "organization_no", "OrganizationNo"),
    (m.Company, "use_invoice_address_as_delivery_address", "UseInvoiceAddressAsDeliveryAddress"),
    (m.PaymentMethod, "invoice_capture_settings_code", "InvoiceCaptureSettingsCode"),
    (m.Discount, "price_list_type_id_seed", "PriceListTypeIdSeed"),
    (m.SupplierPrice, "qty_break", "QtyBreak"),
    (m.ValidationSummary, "nr_of_items_in_total", "NrOfItemsInTotal"),
    (m.Job, "status", "StatusId"),
    (m.Job, "run_time", "RunTime"),
    (m.JobLogEntry, "severity", "SeverityId"),
    (m.JobLogEntry, "timestamp", "TimeStamp"),
]


@pytest.mark.parametrize(("cls", "attribute", "expected"), WIRE_NAMES)
def test_wire_names(cls, attribute, expected):
    assert wire_name(cls, attribute) == expected


# Complete field lists of the main contracts, as the reference gives them.
# fmt: off
CONTRACT_FIELDS: dict[type[Any], set[str]] = {
    m.ProductHeader: {
        "AccountId", "JobId", "StorageName", "SerializationType", "SupplierId", "FullFile",
        "ProductFieldsThatAreSet", "ProductCultureFieldsThatAreSet", "VariantFieldsThatAreSet",
        "VariantCultureFieldsThatAreSet", "SkuFieldsThatAreSet", "SkuCultureFieldsThatAreSet",
        "SkuPriceListFieldsThatAreSet", "IgnoreSkuPriceListFieldsWhenEmpty",
        "SkuStructureItemFieldsThatAreSet", "ImageCultureFieldsThatAreSet",
    },
    m.PriceListHeader: {
        "AccountId", "JobId", "StorageName", "SerializationType", "SupplierId",
        "PriceListFieldsThatAreSet", "WarehouseFieldsThatAreSet",
        "WarehouseLocationFieldsThatAreSet", "PriceListPriceRuleFieldsThatAreSet",
    },
    m.CustomerHeader: {
        "AccountId", "JobId", "StorageName", "SerializationType", "SupplierId",
        "CustomerFieldsThatAreSet", "CompanyFieldsThatAreSet", "AccountFieldsThatAreSet",
    },
    m.Product: {
        "ManufacturerCode", "ManufacturerName", "Alias", "Code", "Variants", "Cultures",
        "Categories", "MainImage", "AdditionalImages", "Family", "ProductFlags",
        "ProductParametrics", "VariantDefinitionGroup", "AssortmentCode",
    },
    m.Variant: {
        "ManufacturerPartNo", "SortOrderValue", "StockDisplayBreakPoint", "IsDangerousGoods",
        "TranslationRequested", "Cultures", "Skus", "MainImage", "AdditionalImages",
        "VariantFlags", "VariantParametrics", "NonParametricVariantDefinitions",
        "DeliveryMethods",
    },
    m.Sku: {
        "PartNo", "Status", "Type", "IntegrationPartNo", "CommodityCode", "EanCode",
        "TrackingCode", "UnitOfMeasurementType", "UnitOfMeasurementCount", "IsDropShipOnly",
        "IsBuyable", "DiscountClass", "RecommendedSalesQty", "IsRecommendedSalesQtyFixed",
        "ActualWeight", "VolumeWeight", "LogisticWidth", "LogisticHeight", "LogisticDepth",
        "StandardPrice", "VatRates", "Cultures", "StartDate", "StopDate", "StructureItems",
    },
    m.Image: {"FileTypeName", "ExternalCode", "Filename", "Url", "LastModified", "Cultures"},
    m.Flag: {"Code", "IsSet", "StopDate", "IsCreateOnly", "IsLimitedUpdate"},
    m.CustomerFlag: {"Code", "IsActive", "StopDate", "IsCreateOnly", "IsLimitedUpdate"},
    m.SkuStructureItem: {
        "StructurePartNo", "PartNo", "Quantity", "SortOrder", "StandardStructureItemPrice",
        "AdditionalInfo",
    },
    m.StandardStructureItemPrice: {
        "StructurePartNo", "PartNo", "PriceListCode", "ItemPriceListCode", "QuantityBreak",
        "PriceSale", "CurrencyCode",
    },
    m.SkuPriceList: {
        "PartNo", "PriceListCode", "QuantityBreak", "PriceSale", "CostPurchase", "CostUnit",
        "PriceRecommended", "PricePrevious", "PriceCatalog", "IsPriceDiscountable",
        "CurrencyCode", "IsActive", "PriceRule", "PriceRuleValue",
    },
    m.PriceList: {
        "Code", "Name", "CurrencyCode", "StartDate", "EndDate", "IsPrimary", "IsPublic",
        "IsFavorite", "TypeCode", "Warehouses", "DefaultPriceRuleCode", "DefaultPriceRule",
        "DefaultPriceRuleValue", "Description", "IsErpIntegrated", "SalesArea",
        "DefaultMinMarginPercent", "LimitToRecPrice", "ParentPriceListCode",
        "DefaultSupplementalChargeFixed", "DefaultSupplementalChargePercent", "PriceRules",
        "Population", "InheritStructureCalculationRule",
    },
    m.PriceListPriceRule: {
        "Type", "Value", "LimitToRecPrice", "MinValue", "MaxValue", "ManufacturerCode",
        "CategoryCode", "Flags", "SupplementalChargeFixed", "SupplementalChargePercent",
    },
    m.PriceListPopulation: {"Type", "AllCategories", "Categories", "RequireSupplier"},
    m.SkuOnhand: {
        "PartNo", "WarehouseCode", "LocationCode", "OnhandValue", "IncomingValue",
        "NextDeliveryDate", "LeadTimeDayCount", "OnOrderValue", "MinimumValue", "MaximumValue",
        "IsActive", "Infos",
    },
    m.Relation: {
        "PartNo", "RelatedPartNo", "RelationTypeCode", "IsVariantUnique",
        "IsRelatedVariantUnique", "IsActive", "DefaultName", "DefaultSubHeader",
        "DefaultSubDescription", "DefaultDescriptionHeader", "DefaultDescription", "Cultures",
        "SortOrder",
    },
    m.CompetitorSku: {
        "PartNo", "Source", "CompetitorCode", "CompetitorPartNo", "PriceSale",
        "PriceSaleInclFreight", "IsPricesInclVat", "IsInStock", "CompetitorName",
        "ProductName", "CurrencyCode", "SalesArea", "VatRate", "ExternalPopularities",
    },
    m.Customer: {
        "Type", "ApplicationKey", "Id", "Code", "EmailAddress", "SocialSecurityNumber", "Title",
        "FirstName", "MiddleName", "LastName", "PhoneNumber", "CellPhoneNumber", "IsActive",
        "InvoiceAddress", "DeliveryAddresses", "Accounts", "AdditionalInfo", "Flags",
        "PriceLists", "IsCompanyListDelta", "Companies", "CrmId",
    },
    m.Company: {
        "ApplicationKey", "Id", "Code", "OrganizationNo", "Name", "EmailAddress", "PhoneNumber",
        "LogoImage", "ParentCompanyCode", "IsActive", "InvoiceAddress", "IsCustomerListDelta",
        "DeliveryAddresses", "AdditionalInfo", "Contacts", "Customers", "DeliveryMethods",
        "Discounts", "Flags", "PaymentMethods", "PriceLists", "VatNo",
        "UseInvoiceAddressAsDeliveryAddress",
    },
    m.Account: {"ApplicationKey", "LoginName", "Password", "Status", "Roles"},
    m.Address: {
        "CareOf", "AddressLine1", "AddressLine2", "ZipCode", "City", "Region", "CountryCode",
        "Gln", "ShippingPhoneNumber", "IsPrimary", "Code", "IsValidated",
    },
    m.CompanyIdentifier: {"Id", "Code", "OrganizationNo", "Name", "IsPrimary"},
    m.PaymentMethod: {"Code", "IsActive", "InvoiceCaptureSettingsCode"},
    m.Job: {
        "JobId", "StatusId", "StorageName", "Totals", "Inserts", "Updates", "Fail", "Start",
        "Stop", "LastUpdated", "IsFinished", "RunTime",
    },
    m.JobLogEntry: {"SeverityId", "Message", "TimeStamp", "ImportedRow"},
    m.JobResponse: {"StatusCode", "Description", "JobId", "ValidationSummary"},
}
# fmt: on


@pytest.mark.parametrize("cls", list(CONTRACT_FIELDS), ids=lambda cls: cls.__name__)
def test_contract_field_lists_are_complete(cls):
    assert set(wire_names(cls).values()) == CONTRACT_FIELDS[cls]


# --- reference examples ---------------------------------------------------------------------

# fmt: off
REFERENCE_PRODUCT = {
    "ManufacturerCode": "ACME", "ManufacturerName": "Acme", "Alias": None, "Code": "CLUSTER-1",
    "Cultures": [{"CultureCode": "sv-SE", "Name": "…", "Description": "…"}],
    "Categories": [{"Code": "CAT1", "SortOrder": 0}],
    "MainImage": {"FileTypeName": "MainImage", "ExternalCode": "img1", "Url": "https://…",
                  "Filename": None},
    "AdditionalImages": [], "Family": {"Code": "FAM1", "Name": "…"},
    "ProductFlags": [{"Code": "NEW", "IsSet": True}], "ProductParametrics": [],
    "VariantDefinitionGroup": None, "AssortmentCode": None,
    "Variants": [{
        "ManufacturerPartNo": "MPN-1", "SortOrderValue": None, "StockDisplayBreakPoint": None,
        "IsDangerousGoods": False, "TranslationRequested": None,
        "Cultures": [], "MainImage": None, "AdditionalImages": [], "VariantFlags": [],
        "VariantParametrics": [], "NonParametricVariantDefinitions": [], "DeliveryMethods": [],
        "Skus": [{
            "PartNo": "SKU-1", "Status": 1, "Type": 1, "IntegrationPartNo": None,
            "EanCode": "…", "UnitOfMeasurementType": 1, "UnitOfMeasurementCount": 1,
            "IsBuyable": True, "StandardPrice": {"PartNo": "SKU-1", "PriceListCode": "STD",
                                                  "PriceSale": 100, "CurrencyCode": "SEK",
                                                  "QuantityBreak": 1},
            "VatRates": [{"SalesArea": 1, "Rate": 25.0}],
            "Cultures": [{"CultureCode": "sv-SE", "ErpName": "…"}],
            "StartDate": None, "StopDate": None, "StructureItems": [],
        }],
    }],
}
# fmt: on


def test_reference_product_example_parses_and_serialises_back():
    product = converter.structure(REFERENCE_PRODUCT, m.Product)
    sku = product.variants[0].skus[0]  # type: ignore[index]
    assert sku.status is m.SkuStatus.Active
    assert sku.type is m.SkuType.ErpStandard
    assert sku.standard_price.price_sale == Decimal(100)  # type: ignore[union-attr]
    assert sku.vat_rates == [m.VatRate(sales_area=m.SalesArea.Sweden, rate=Decimal("25.0"))]
    assert product.main_image.filename is None  # type: ignore[union-attr]
    assert product.family == m.ProductFamily(code="FAM1", name="…")
    assert converter.unstructure(product) == REFERENCE_PRODUCT
    assert strict_converter().structure(REFERENCE_PRODUCT, m.Product) == product


def test_reference_onhand_and_customer_header_examples():
    example = {"AccountId": 1, "FullFile": False, "SkuOnhandFieldsThatAreSet": [3]}
    onhand = converter.structure(example | {"SerializationType": 0}, m.SkuOnhandHeader)
    assert onhand.sku_onhand_fields_that_are_set == [m.SkuOnhandField.OnhandValue]
    assert onhand.serialization_type is m.SerializationType.Json
    customer = {
        "AccountId": 1,
        "CompanyFieldsThatAreSet": [0, 2, 3, 4, 5, 6, 9, 10, 11, 14, 17, 18, 19, 20, 12, 22],
        "CustomerFieldsThatAreSet": [0, 2, 14, 3, 6, 9, 11, 12, 13],
        "AccountFieldsThatAreSet": [1, 3, 4],
        "SerializationType": 0,
    }
    header = converter.structure(customer, m.CustomerHeader)
    assert header.account_fields_that_are_set == [
        m.AccountField.Status,
        m.AccountField.Roles,
        m.AccountField.RolesCreateOnly,
    ]
    assert converter.unstructure(header) == customer


def test_header_job_id_accepts_the_contract_string():
    header = converter.structure({"AccountId": 1, "JobId": "77"}, m.Header)
    assert header.job_id == 77


# --- job service ----------------------------------------------------------------------------

# fmt: off
REFERENCE_JOB = {
    "JobId": 123, "StatusId": 2, "StorageName": "…", "Totals": 100, "Inserts": 10,
    "Updates": 90, "Fail": 0, "Start": "2023-07-31T16:24:37.967",
    "Stop": "2023-07-31T16:24:44.48", "LastUpdated": "2023-07-31T16:24:44.48",
    "IsFinished": True, "RunTime": "00:00:06.5130000",
}
# fmt: on


def test_job_parses_the_reference_example():
    job = converter.structure(REFERENCE_JOB, m.Job)
    assert job == m.Job(
        job_id=123,
        status=m.JobStatus.Succeeded,
        storage_name="…",
        totals=100,
        inserts=10,
        updates=90,
        fail=0,
        start=dt.datetime(2023, 7, 31, 16, 24, 37, 967000, tzinfo=dt.UTC),
        stop=dt.datetime(2023, 7, 31, 16, 24, 44, 480000, tzinfo=dt.UTC),
        last_updated=dt.datetime(2023, 7, 31, 16, 24, 44, 480000, tzinfo=dt.UTC),
        is_finished=True,
        run_time=dt.timedelta(seconds=6, microseconds=513000),
    )
    assert job.status.is_terminal
    assert strict_converter().structure(REFERENCE_JOB, m.Job) == job


@pytest.mark.parametrize("conv", [converter, strict_converter()], ids=["lenient", "strict"])
def test_job_accepts_the_documented_insert_name(conv):
    data = {k: v for k, v in REFERENCE_JOB.items() if k != "Inserts"} | {"Insert": 7}
    assert conv.structure(data, m.Job).inserts == 7


def test_job_prefers_inserts_when_both_names_come():
    data = REFERENCE_JOB | {"Insert": 7}
    assert converter.structure(data, m.Job).inserts == 10


def test_job_accepts_string_job_id_and_unknown_status():
    data = REFERENCE_JOB | {"JobId": "124", "StatusId": 9, "Stop": None}
    job = converter.structure(data, m.Job)
    assert job.job_id == 124
    assert job.status.name == "UNKNOWN_9"
    assert job.stop is None


@pytest.mark.parametrize(
    ("raw", "expected"), [("123", 123), (123, 123), (" 42 ", 42), ("", None), (None, None)]
)
def test_job_response_job_id_is_an_int(raw, expected):
    response = converter.structure(
        {
            "StatusCode": "Ok",
            "Description": "queued",
            "JobId": raw,
            "ValidationSummary": {
                "NrOfItemsInTotal": 2,
                "NrOfValidationFailures": 0,
                "Messages": [],
            },
        },
        m.JobResponse,
    )
    assert response.job_id == expected
    assert response.validation_summary == m.ValidationSummary(
        nr_of_items_in_total=2, nr_of_validation_failures=0, messages=[]
    )


@pytest.mark.parametrize("raw", ["12a", True, 1.5, []])
def test_job_response_rejects_non_integer_job_ids(raw):
    with pytest.raises(cattrs.BaseValidationError):
        converter.structure({"JobId": raw}, m.JobResponse)


def test_job_log_parses_the_reference_example():
    entries = converter.structure(
        [
            {
                "SeverityId": 1,
                "Message": "Starting import.",
                "TimeStamp": "2023-07-31T16:24:37.967",
                "ImportedRow": None,
            },
            {"SeverityId": 3, "Message": "Bad row", "ImportedRow": '{"PartNo":"X"'},
            {"SeverityId": 8, "Message": "new severity"},
        ],
        list[m.JobLogEntry],
    )
    assert entries[0].severity is m.LogSeverity.Information
    assert entries[0].timestamp == dt.datetime(2023, 7, 31, 16, 24, 37, 967000, tzinfo=dt.UTC)
    assert entries[1].severity is m.LogSeverity.Error
    assert entries[1].imported_row == '{"PartNo":"X"'
    assert entries[2].severity.name == "UNKNOWN_8"


# --- import table ---------------------------------------------------------------------------


K = m.ImportKind


@pytest.mark.parametrize(
    ("kind", "path", "header", "item", "full_file", "scope"),
    [
        (K.products, "Product/ImportProducts", m.ProductHeader, m.Product, True, ("Code",)),
        (
            K.sku_price_lists,
            "Product/ImportSkuPriceLists",
            m.SkuPriceListHeader,
            m.SkuPriceList,
            True,
            ("PriceListCode",),
        ),
        (K.price_lists, "Product/ImportPriceLists", m.PriceListHeader, m.PriceList, False, ()),
        (
            K.onhands,
            "Product/ImportOnhands",
            m.SkuOnhandHeader,
            m.SkuOnhand,
            True,
            ("WarehouseCode", "LocationCode"),
        ),
        (K.relations, "Product/ImportRelations", m.RelationHeader, m.Relation, True, ()),
        (
            K.competitor_skus,
            "Product/ImportCompetitorSkus",
            m.CompetitorSkuHeader,
            m.CompetitorSku,
            True,
            (),
        ),
        (K.customers, "Customer/ImportCustomers", m.CustomerHeader, m.Customer, False, ()),
        (K.companies, "Customer/ImportCompanies", m.CustomerHeader, m.Company, False, ()),
        (
            K.supplier_products,
            "Supplier/ImportProducts",
            m.SupplierProductHeader,
            m.SupplierProduct,
            True,
            (),
        ),
    ],
)
def test_import_specs(kind, path, header, item, full_file, scope):
    spec = m.IMPORT_SPECS[kind]
    assert spec == m.ImportSpec(
        kind=kind,
        path=path,
        header_type=header,
        item_type=item,
        has_full_file=full_file,
        scope_key=scope,
    )
    for key in scope:
        assert key in wire_names(item).values()


def test_import_specs_cover_every_kind_and_are_read_only():
    assert set(m.IMPORT_SPECS) == set(m.ImportKind)
    assert m.ImportKind("onhands") is m.ImportKind.onhands
    with pytest.raises(TypeError):
        m.IMPORT_SPECS[m.ImportKind.products] = m.IMPORT_SPECS[m.ImportKind.onhands]  # type: ignore[index]


def test_unset_is_the_default_of_every_optional_write_field():
    for cls in MODEL_CLASSES:
        if not issubclass(cls, WriteModel):
            continue
        for field in attrs.fields(cls):
            if field.default is not attrs.NOTHING:
                assert field.default is UNSET, f"{cls.__name__}.{field.name}"


def test_tolerant_enum_cache_is_bounded():
    from norce_integration.connect.models import JobStatus

    before = len(JobStatus._value2member_map_)
    values = [JobStatus(10_000 + i) for i in range(1000)]
    assert all(v == 10_000 + i for i, v in enumerate(values))
    assert len(JobStatus._value2member_map_) <= before + 64
