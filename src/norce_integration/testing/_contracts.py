"""Connect 4.0 contracts as the emulator enforces them: enums, import headers, item rules.

Works on raw JSON (dicts), independent of the SDK's own models, so the emulator checks
the client against the reference (``norce-connect.md`` §2-§3) rather than against itself.
Enum members are accepted as integers or names (names case-insensitively), as Connect
does for JSON headers; header property names are matched case-insensitively, as
Newtonsoft.Json does when Connect deserialises them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs


__all__ = [
    "ENUMS",
    "IMPORTS",
    "HeaderError",
    "ImportSpec",
    "ParsedHeader",
    "find_import",
    "parse_header",
]


def _enum(*names: str, start: int = 0, skip: tuple[int, ...] = ()) -> dict[str, int]:
    values: dict[str, int] = {}
    n = start
    for name in names:
        while n in skip:
            n += 1
        values[name] = n
        n += 1
    return values


# Integer values copied from the reference (§3); "removed" members are absent on purpose.
ENUMS: dict[str, dict[str, int]] = {
    "ProductField": _enum(
        "ManufacturerCode", "ManufacturerName", "Alias", "Code", "Variants", "Cultures",
        "Categories", "MainImage", "AdditionalImages", "Family", "ProductParametrics",
        "ProductParametricsCreateOnly", "VariantDefinitionGroup",
        "VariantDefinitionGroupCreateOnly", "Assortment", "CategoriesCreateOnly",
        "CategoriesLimitedUpdate", "AdditionalImagesCleanup", "ParametricsCleanup",
        "ImagesAndFilesCleanup",
    ),
    "ProductCultureField": _enum(
        "Name", "NameCreateOnly", "SubHeader", "SubDescription", "DescriptionHeader",
        "Description", "DescriptionCreateOnly", "Synonyms", "Title", "Tags", "MetaTags",
        "MetaDescription", "NameLimitedUpdate", "UniqueUrlName",
        "IsUniqueUrlNameManuallyMaintained", "UniqueUrlNameCreateOnly",
    ),
    "VariantField": _enum(
        "ManufacturerPartNo", "SortOrderValue", "StockDisplayBreakPoint", "IsDangerousGoods",
        "Cultures", "Skus", "MainImage", "AdditionalImages", "VariantParametrics",
        "VariantParametricsCreateOnly", "NonParametricVariantDefinitions",
        "NonParametricVariantDefinitionsCreateOnly", "DeliveryMethods",
        "DeliveryMethodsCreateOnly", "AdditionalImagesCleanup", "ParametricsCleanup",
        "TranslationRequested", "ImagesAndFilesCleanup",
    ),
    "VariantCultureField": _enum(
        "CultureCode", "Name", "NameCreateOnly", "NameLimitedUpdate", "UniqueUrlName",
        "IsUniqueUrlNameManuallyMaintained", "UniqueUrlNameCreateOnly", "SubHeader",
        "SubDescription", "DescriptionHeader", "Description", "DescriptionCreateOnly",
        "Synonyms", "Title", "Tags", "MetaTags", "MetaDescription",
    ),
    "SkuField": _enum(
        "Status", "Type", "IntegrationPartNo", "CommodityCode", "EanCode", "TrackingCode",
        "UnitOfMeasurementType", "UnitOfMeasurementCount", "IsDropShipOnly", "IsBuyable",
        "DiscountClass", "RecommendedSalesQty", "IsRecommendedSalesQtyFixed", "ActualWeight",
        "VolumeWeight", "LogisticWidth", "LogisticHeight", "LogisticDepth", "StandardPrice",
        "VatRate", "StatusCreateOnly", "StartDate", "StopDate", "StructureItems",
        "PartNoCreateWhenMissing",
        start=1,
        skip=(17,),
    ),
    "SkuCultureField": _enum("ErpName", "ErpNameCreateOnly", "Comment", "CommentCreateOnly"),
    "SkuPriceListField": _enum(
        "PriceSale", "CostPurchase", "CostUnit", "PriceRecommended", "PricePrevious",
        "PriceCatalog", "IsPriceDiscountable", "IsActive", "IsPriceDiscountableCreateOnly",
        "PriceRule", "FullfileResetInheritance",
        start=3,
    ),
    "SkuStructureItemField": _enum("SortOrder", "StandardStructureItemPrice", "AdditionalInfo"),
    "ImageCultureField": _enum("Name", "Description", "AltText"),
    "PriceListField": _enum(
        "Name", "CurrencyCode", "StartDate", "EndDate", "IsPublic", "IsPrimary", "TypeCode",
        "Warehouses", "DefaultPriceRule", "Description", "IsErpIntegrated",
        "DoNotCreateApplicationPriceList", "SalesArea", "DefaultMinMarginPercent",
        "LimitToRecPrice", "ParentPriceListCode", "DefaultSupplementalChargeFixed",
        "DefaultSupplementalChargePercent", "PriceRules", "PriceRulesCleanup",
        "PriceRulesLimitedUpdate", "Population", "PopulationCleanup", "IsFavorite",
        "InheritStructureCalculationRule",
    ),
    "WarehouseField": _enum("Type", "Name", "LeadTimeDayCount"),
    "WarehouseLocationField": _enum("Name", "LeadTimeDayCount", "IsIncludedInStockCalculation"),
    "PriceListPriceRuleField": _enum(
        "Type", "Value", "LimitToRecPrice", "SupplementalChargeFixed", "SupplementalChargePercent"
    ),
    "SkuOnhandField": _enum(
        "OnhandValue", "IncomingValue", "NextDeliveryDate", "LeadTimeDayCount", "OnOrderValue",
        "MinimumValue", "MaximumValue", "IsActive", "Infos",
        start=3,
    ),
    "RelationField": _enum(
        "IsActive", "IsVariantUnique", "IsVariantUniqueCreateOnly", "IsRelatedVariantUnique",
        "IsRelatedVariantUniqueCreateOnly", "DefaultName", "DefaultSubHeader",
        "DefaultSubDescription", "DefaultDescriptionHeader", "DefaultDescription", "Cultures",
        "SortOrder",
        start=1,
    ),
    "RelationCultureField": _enum(
        "Name", "NameCreateOnly", "SubHeader", "SubDescription", "DescriptionHeader",
        "Description", "DescriptionCreateOnly",
        start=1,
    ),
    "CompetitorSkuField": _enum("CompetitorName", "ProductName", "VatRate", "ExternalPopularities"),
    "CompanyField": _enum(
        "ApplicationKey", "Id", "Code", "OrganizationNo", "Name", "EmailAddress", "PhoneNumber",
        "LogoImage", "ParentCompanyCode", "IsActive", "InvoiceAddress", "DeliveryAddresses",
        "AdditionalInfo", "Contacts", "Customers", "DeliveryMethods", "Discounts", "Flags",
        "PaymentMethods", "PriceLists", "SearchOnlyByCode", "VatNo", "PreserveFlags",
    ),
    "CustomerField": _enum(
        "ApplicationKey", "Id", "Code", "EmailAddress", "SocialSecurityNumber", "Title",
        "FirstName", "MiddleName", "LastName", "PhoneNumber", "CellPhoneNumber", "IsActive",
        "InvoiceAddress", "DeliveryAddresses", "Accounts", "AdditionalInfo", "Flags",
        "PriceLists", "SearchOnlyByCode", "Companies", "CrmId", "PreserveFlags",
    ),
    "AccountField": _enum(
        "PasswordCreateOnly", "Status", "StatusCreateOnly", "Roles", "RolesCreateOnly"
    ),
    "SupplierProductField": _enum(
        "SupplierPartNo", "ProductName", "CategoryCode", "ProductType", "Manufacturer",
        "ManufacturerPartNo", "EanCode", "CommodityCode", "GrossWeight", "NetWeight",
        "UnitOfMeasurementCode", "UnitOfMeasurementCount", "VatCode", "LogisticWidth",
        "LogisticHeight", "LogisticDepth",
    ),
    "SupplierOnHandField": _enum(
        "Value", "IncomingValue", "NextDeliveryDate", "StoppedDate", "IsReturnable",
        "LeadTimeDayCount", "ExternalStockValue", "PackageValue", "MinimumOrderValue",
        "IsActive",
    ),
    "SupplierPriceField": _enum(
        "CostPurchase", "CostPurchaseValidTo", "PriceRecommended", "PriceMax", "PriceDealer",
        "IsPromotion", "IsFocus", "PriceRanking", "FreightCost", "CostFee", "DiscountPct",
        "IsActive", "PriceCatalog",
    ),
    "SupplierProductInfoField": _enum("Value"),
    "SerializationType": {"Json": 0, "DataContractSerializer": 1, "Xml": 1},
    "SkuStatus": {
        "Active": 1, "Coming": 2, "Expiring": 3, "Hidden": 4, "Inactive": 5, "NotActivated": 6,
    },
    "SkuType": {
        "ErpStandard": 1, "ErpRefurbished": 2, "Freight": 3, "Insurance": 4, "Download": 7,
        "Structure": 8, "Invoice": 9, "Service": 11, "Standard": 14, "ErpExtended": 15,
        "ErpStandardNoStock": 16, "ErpPackage": 17, "Donations": 18, "ErpTempOutOfStock": 19,
        "EnvironmentalFee": 20, "PackingFee": 21, "Configuration": 22, "ErpPackageWithCalc": 24,
        "DisplayOnly": 25, "ErpDownload": 26, "ErpDownloadNoStock": 27,
        "ErpDownloadTempNoStock": 28, "ErpStandard2": 29, "Standard2": 30,
        "ErpStandardNoStock2": 31, "ErpTempOutOfStock2": 32, "License": 33, "CentRounding": 34,
        "SalesTax": 35, "FreightStructure": 36, "ManagedStructure": 37, "ManagedErpPackage": 38,
        "ManagedErpPackageWithCalc": 39, "Virtual": 40, "PspGiftCard": 41, "PayLater": 42,
        "GiftCardPaymentPlaceHolder": 43, "Compensation": 44,
    },
    "WarehouseType": {"Warehouse": 1, "Store": 2, "Transport": 3, "Other": 4},
    "AccountStatus": {"Active": 1, "Inactive": 2},
    "PriceRule": _enum(
        "CostPlus_PurchaseCost", "FixedPrice", "Margin_PurchaseCost", "UseRecommendedPrice",
        "CostPlus_UnitCost", "Margin_UnitCost", "UseStandardPrice_PctDiscount",
        "Competitive_PurchaseCost", "Competitive_UnitCost", "UseStandardPrice_FixedDiscount",
        "StructureCalculation", "UseCatalogPrice",
        start=1,
    ),
}  # fmt: skip

_FOLDED: dict[str, dict[str, int]] = {
    enum: {name.casefold(): value for name, value in members.items()}
    for enum, members in ENUMS.items()
}


class HeaderError(ValueError):
    """The ``X-StormConnect-Header`` is missing or invalid (HTTP 400)."""


def enum_value(enum: str, raw: Any, *, where: str) -> int:
    """Return the integer of enum member ``raw`` (an int or a name, any case).

    Raises:
        ValueError: ``raw`` is not a member; the message names ``where`` and the enum.
    """
    values = ENUMS[enum]
    if isinstance(raw, bool):
        raise ValueError(f"{where}: {raw!r} is not a {enum}")
    if isinstance(raw, int):
        if raw in values.values():
            return raw
        raise ValueError(f"{where}: {raw} is not a {enum} value")
    if isinstance(raw, str):
        text = raw.strip()
        if re.fullmatch(r"-?\d+", text):
            return enum_value(enum, int(text), where=where)
        value = _FOLDED[enum].get(text.casefold())
        if value is not None:
            return value
        raise ValueError(f"{where}: {raw!r} is not a {enum} name")
    raise ValueError(f"{where}: {raw!r} is not a {enum} (expected an integer or a name)")


@attrs.frozen
class ParsedHeader:
    """A validated import header.

    Attributes:
        raw: the header object as sent (original property names).
        account_id: ``AccountId``.
        full_file: ``FullFile`` (False when the import has none).
        fields: ``...FieldsThatAreSet`` (and ``IgnoreSkuPriceListFieldsWhenEmpty``) by
            canonical property name, as sets of integers; absent lists are empty.
        storage_name: ``StorageName`` if the caller set one.
    """

    raw: Mapping[str, Any]
    account_id: int
    full_file: bool
    fields: Mapping[str, frozenset[int]]
    storage_name: str | None = None

    def has(self, field_list: str, *members: str) -> bool:
        """True if ``field_list`` lists any of the named ``members``."""
        spec_enum = _LIST_ENUM[field_list]
        values = self.fields.get(field_list, frozenset())
        return any(ENUMS[spec_enum][m] in values for m in members)

    def listed(self, field_list: str) -> frozenset[int]:
        """The integers listed in ``field_list`` (empty if absent)."""
        return self.fields.get(field_list, frozenset())


ItemValidator = Callable[[Any, ParsedHeader], list[str]]


@attrs.frozen
class ImportSpec:
    """One of the nine async imports.

    Attributes:
        service: ``Product``, ``Customer`` or ``Supplier``.
        method: e.g. ``ImportProducts``.
        header_type: the contract class of its header, e.g. ``ProductHeader``.
        lists: header list property -> enum name.
        required: header properties that must be present.
        has_full_file: the header has ``FullFile`` (required where present).
        parents: (child list, parent list, parent member): a documented "parent switch".
        validate: synchronous item validation; returns messages (empty = valid).
        key: the emulator's name for it (``products``, ``sku_prices``, ...).
    """

    service: str
    method: str
    header_type: str
    lists: Mapping[str, str]
    required: tuple[str, ...]
    has_full_file: bool
    parents: tuple[tuple[str, str, str], ...]
    validate: ItemValidator
    key: str

    @property
    def route(self) -> str:
        """``Service/Method``."""
        return f"{self.service}/{self.method}"


def _missing(item: Mapping[str, Any], *names: str) -> list[str]:
    return [f"{n} is required." for n in names if item.get(n) in (None, "")]


def _too_long(item: Mapping[str, Any], name: str, limit: int) -> list[str]:
    value = item.get(name)
    if isinstance(value, str) and len(value) > limit:
        return [f"{name} is longer than {limit} characters."]
    return []


def _validate_product(item: Any, header: ParsedHeader) -> list[str]:
    # Synchronous checks only: whether an item creates or updates is decided when the
    # job runs (create-only requirements are checked then and logged per SKU).
    errors: list[str] = []
    if header.full_file and item.get("Code") in (None, ""):
        errors.append("Code is required when FullFile is true.")
    variants = item.get("Variants")
    if variants is None:
        variants = []
    if not isinstance(variants, list):
        return [*errors, "Variants must be an array."]
    for v_index, variant in enumerate(variants):
        if not isinstance(variant, dict):
            errors.append(f"Variants[{v_index}] must be an object.")
            continue
        skus = variant.get("Skus") or []
        if not isinstance(skus, list):
            errors.append(f"Variants[{v_index}].Skus must be an array.")
            continue
        for s_index, sku in enumerate(skus):
            if not isinstance(sku, dict):
                errors.append(f"Variants[{v_index}].Skus[{s_index}] must be an object.")
                continue
            has_part_no = sku.get("PartNo") not in (None, "")
            has_mpn = item.get("ManufacturerCode") not in (None, "") and variant.get(
                "ManufacturerPartNo"
            ) not in (None, "")
            if not (has_part_no or has_mpn):
                errors.append(
                    f"Variants[{v_index}].Skus[{s_index}]: PartNo, or ManufacturerCode and"
                    " ManufacturerPartNo, is required to identify the SKU."
                )
            errors.extend(
                f"Variants[{v_index}].Skus[{s_index}]: {m}" for m in _too_long(sku, "PartNo", 50)
            )
    return errors


def _validate_sku_price(item: Any, header: ParsedHeader) -> list[str]:
    return _missing(item, "PartNo", "PriceListCode")


def _validate_price_list(item: Any, header: ParsedHeader) -> list[str]:
    return _missing(item, "Code") + _too_long(item, "Name", 50)


def _validate_onhand(item: Any, header: ParsedHeader) -> list[str]:
    return _missing(item, "PartNo", "WarehouseCode", "LocationCode")


def _validate_relation(item: Any, header: ParsedHeader) -> list[str]:
    return _missing(item, "PartNo", "RelatedPartNo", "RelationTypeCode")


def _validate_competitor(item: Any, header: ParsedHeader) -> list[str]:
    return _missing(
        item,
        "PartNo",
        "Source",
        "CompetitorCode",
        "CompetitorPartNo",
        "PriceSale",
        "PriceSaleInclFreight",
        "IsPricesInclVat",
        "IsInStock",
    )


def _validate_customer(item: Any, header: ParsedHeader) -> list[str]:
    if all(item.get(k) in (None, "") for k in ("Id", "Code", "EmailAddress")):
        return ["Id, Code or EmailAddress is required to identify the customer."]
    return []


def _validate_company(item: Any, header: ParsedHeader) -> list[str]:
    if all(item.get(k) in (None, "") for k in ("Id", "Code", "OrganizationNo")):
        return ["Id, Code or OrganizationNo is required to identify the company."]
    return []


def _validate_supplier_product(item: Any, header: ParsedHeader) -> list[str]:
    return _missing(item, "SupplierPartNo") + _too_long(item, "SupplierPartNo", 50)


def validate_item(spec: ImportSpec, item: Any, header: ParsedHeader) -> list[str]:
    """Run ``spec``'s synchronous validation; non-objects always fail."""
    if not isinstance(item, dict):
        return [f"an item must be a JSON object, got {type(item).__name__}."]
    return spec.validate(item, header)


_PRODUCT_LISTS = {
    "ProductFieldsThatAreSet": "ProductField",
    "ProductCultureFieldsThatAreSet": "ProductCultureField",
    "VariantFieldsThatAreSet": "VariantField",
    "VariantCultureFieldsThatAreSet": "VariantCultureField",
    "SkuFieldsThatAreSet": "SkuField",
    "SkuCultureFieldsThatAreSet": "SkuCultureField",
    "SkuPriceListFieldsThatAreSet": "SkuPriceListField",
    "IgnoreSkuPriceListFieldsWhenEmpty": "SkuPriceListField",
    "SkuStructureItemFieldsThatAreSet": "SkuStructureItemField",
    "ImageCultureFieldsThatAreSet": "ImageCultureField",
}
_CUSTOMER_LISTS = {
    "CustomerFieldsThatAreSet": "CustomerField",
    "CompanyFieldsThatAreSet": "CompanyField",
    "AccountFieldsThatAreSet": "AccountField",
}

IMPORTS: tuple[ImportSpec, ...] = (
    ImportSpec(
        service="Product",
        method="ImportProducts",
        header_type="ProductHeader",
        lists=_PRODUCT_LISTS,
        required=("FullFile", "ProductFieldsThatAreSet"),
        has_full_file=True,
        parents=(
            ("VariantFieldsThatAreSet", "ProductFieldsThatAreSet", "Variants"),
            ("ProductCultureFieldsThatAreSet", "ProductFieldsThatAreSet", "Cultures"),
        ),
        validate=_validate_product,
        key="products",
    ),
    ImportSpec(
        service="Product",
        method="ImportSkuPriceLists",
        header_type="SkuPriceListHeader",
        lists={
            "SkuPriceListFieldsThatAreSet": "SkuPriceListField",
            "IgnoreSkuPriceListFieldsWhenEmpty": "SkuPriceListField",
        },
        required=("FullFile", "SkuPriceListFieldsThatAreSet"),
        has_full_file=True,
        parents=(),
        validate=_validate_sku_price,
        key="sku_prices",
    ),
    ImportSpec(
        service="Product",
        method="ImportPriceLists",
        header_type="PriceListHeader",
        lists={
            "PriceListFieldsThatAreSet": "PriceListField",
            "WarehouseFieldsThatAreSet": "WarehouseField",
            "WarehouseLocationFieldsThatAreSet": "WarehouseLocationField",
            "PriceListPriceRuleFieldsThatAreSet": "PriceListPriceRuleField",
            # The S8 spec block's spelling; the contract and example use the one above.
            "PriceListRuleFieldsThatAreSet": "PriceListPriceRuleField",
        },
        required=("PriceListFieldsThatAreSet",),
        has_full_file=False,
        parents=(),
        validate=_validate_price_list,
        key="price_lists",
    ),
    ImportSpec(
        service="Product",
        method="ImportOnhands",
        header_type="SkuOnhandHeader",
        lists={"SkuOnhandFieldsThatAreSet": "SkuOnhandField"},
        required=("FullFile", "SkuOnhandFieldsThatAreSet"),
        has_full_file=True,
        parents=(),
        validate=_validate_onhand,
        key="onhands",
    ),
    ImportSpec(
        service="Product",
        method="ImportRelations",
        header_type="RelationHeader",
        lists={
            "RelationFieldsThatAreSet": "RelationField",
            "RelationCultureFieldsThatAreSet": "RelationCultureField",
        },
        required=(),
        has_full_file=True,
        parents=(("RelationCultureFieldsThatAreSet", "RelationFieldsThatAreSet", "Cultures"),),
        validate=_validate_relation,
        key="relations",
    ),
    ImportSpec(
        service="Product",
        method="ImportCompetitorSkus",
        header_type="CompetitorSkuHeader",
        lists={"CompetitorSkuFieldsThatAreSet": "CompetitorSkuField"},
        required=("FullFile", "CompetitorSkuFieldsThatAreSet"),
        has_full_file=True,
        parents=(),
        validate=_validate_competitor,
        key="competitor_skus",
    ),
    ImportSpec(
        service="Customer",
        method="ImportCustomers",
        header_type="CustomerHeader",
        lists=_CUSTOMER_LISTS,
        required=("CustomerFieldsThatAreSet",),
        has_full_file=False,
        parents=(("AccountFieldsThatAreSet", "CustomerFieldsThatAreSet", "Accounts"),),
        validate=_validate_customer,
        key="customers",
    ),
    ImportSpec(
        service="Customer",
        method="ImportCompanies",
        header_type="CustomerHeader",
        lists=_CUSTOMER_LISTS,
        required=("CompanyFieldsThatAreSet",),
        has_full_file=False,
        parents=(("AccountFieldsThatAreSet", "CustomerFieldsThatAreSet", "Accounts"),),
        validate=_validate_company,
        key="companies",
    ),
    ImportSpec(
        service="Supplier",
        method="ImportProducts",
        header_type="SupplierProductHeader",
        lists={
            "FieldsThatAreSet": "SupplierProductField",
            "OnhandFieldsThatAreSet": "SupplierOnHandField",
            "PriceFieldsThatAreSet": "SupplierPriceField",
            "ContentFieldsThatAreSet": "ProductCultureField",
            "ProductInfoFieldsThatAreSet": "SupplierProductInfoField",
        },
        required=("FullFile",),
        has_full_file=True,
        parents=(),
        validate=_validate_supplier_product,
        key="supplier_products",
    ),
)

_LIST_ENUM: dict[str, str] = {}
for _spec in IMPORTS:
    _LIST_ENUM.update(_spec.lists)

_BY_ROUTE = {spec.route.lower(): spec for spec in IMPORTS}


def find_import(route: str) -> ImportSpec | None:
    """Return the import served at ``Service/Method`` (case-insensitive)."""
    return _BY_ROUTE.get(route.strip("/").lower())


def _as_int(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise HeaderError(f"X-StormConnect-Header: {where} must be an integer, got {value!r}.")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    raise HeaderError(f"X-StormConnect-Header: {where} must be an integer, got {value!r}.")


def parse_header(spec: ImportSpec, raw_value: str | None) -> ParsedHeader:
    """Parse and validate the ``X-StormConnect-Header`` of an import.

    Rules: JSON object on one line; ``AccountId`` required; ``FullFile`` required for
    imports that have it; each ``...FieldsThatAreSet`` an array of enum members (integer
    or name); documented parent switches present (e.g. ``ProductField.Variants`` when
    ``VariantFieldsThatAreSet`` is non-empty); ``IgnoreSkuPriceListFieldsWhenEmpty``
    members also listed in ``SkuPriceListFieldsThatAreSet``. Unknown properties are
    ignored, as .NET deserialisation does.

    Raises:
        HeaderError: the message names the problem.
    """
    name = "X-StormConnect-Header"
    if raw_value is None or not raw_value.strip():
        raise HeaderError(f"{name} is missing; {spec.method} requires a {spec.header_type}.")
    try:
        parsed = json.loads(raw_value)
    except ValueError as exc:
        raise HeaderError(f"{name} is not valid JSON: {exc}.") from None
    if not isinstance(parsed, dict):
        raise HeaderError(f"{name} must be a JSON object ({spec.header_type}).")
    by_fold = {str(k).casefold(): k for k in parsed}

    def get(prop: str) -> Any:
        key = by_fold.get(prop.casefold())
        return None if key is None else parsed[key]

    def present(prop: str) -> bool:
        return by_fold.get(prop.casefold()) is not None and get(prop) is not None

    if not present("AccountId"):
        raise HeaderError(f"{name}: AccountId is required.")
    account_id = _as_int(get("AccountId"), "AccountId")
    if account_id <= 0:
        raise HeaderError(f"{name}: AccountId must be a positive account id, got {account_id}.")
    for prop in spec.required:
        if not present(prop):
            raise HeaderError(f"{name}: {prop} is required for {spec.method}.")
    full_file = False
    if spec.has_full_file and present("FullFile"):
        value = get("FullFile")
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            value = value.strip().lower() == "true"
        if not isinstance(value, bool):
            raise HeaderError(f"{name}: FullFile must be true or false, got {value!r}.")
        full_file = value
    if present("SerializationType"):
        try:
            serialization = enum_value("SerializationType", get("SerializationType"), where=name)
        except ValueError as exc:
            raise HeaderError(f"{exc}.") from None
        if serialization != 0:
            raise HeaderError(
                f"{name}: SerializationType {serialization} (XML) is not supported by the"
                " emulator; send JSON (SerializationType 0)."
            )
    fields: dict[str, frozenset[int]] = {}
    for prop, enum in spec.lists.items():
        if not present(prop):
            continue
        value = get(prop)
        if not isinstance(value, list):
            raise HeaderError(f"{name}: {prop} must be an array of {enum} values.")
        members: set[int] = set()
        for raw in value:
            try:
                members.add(enum_value(enum, raw, where=f"{name}: {prop}"))
            except ValueError as exc:
                raise HeaderError(f"{exc}.") from None
        canonical = (
            "PriceListPriceRuleFieldsThatAreSet"
            if prop == "PriceListRuleFieldsThatAreSet"
            else prop
        )
        fields[canonical] = fields.get(canonical, frozenset()) | frozenset(members)
    header = ParsedHeader(
        raw=parsed,
        account_id=account_id,
        full_file=full_file,
        fields=fields,
        storage_name=get("StorageName") if isinstance(get("StorageName"), str) else None,
    )
    for child, parent, member in spec.parents:
        if header.listed(child) and not header.has(parent, member):
            enum = spec.lists[parent]
            raise HeaderError(
                f"{name}: {child} is set, so {parent} must include"
                f" {enum}.{member} ({ENUMS[enum][member]})."
            )
    if (
        spec.key == "companies"
        and header.has("CompanyFieldsThatAreSet", "Customers")
        and "CustomerFieldsThatAreSet" not in fields
    ):
        raise HeaderError(
            f"{name}: CompanyField.Customers (14) is set, so CustomerFieldsThatAreSet is required."
        )
    ignore = header.listed("IgnoreSkuPriceListFieldsWhenEmpty")
    if ignore:
        missing = sorted(ignore - header.listed("SkuPriceListFieldsThatAreSet"))
        if missing:
            raise HeaderError(
                f"{name}: IgnoreSkuPriceListFieldsWhenEmpty lists {missing}, which must also"
                " be in SkuPriceListFieldsThatAreSet."
            )
        if spec.key == "products" and not header.has("SkuFieldsThatAreSet", "StandardPrice"):
            raise HeaderError(
                f"{name}: IgnoreSkuPriceListFieldsWhenEmpty requires SkuField.StandardPrice"
                " (20) in SkuFieldsThatAreSet."
            )
    return header
