"""Norce Connect 4.0 contracts: enums, import headers, import items and job responses.

Everything here mirrors the official .NET contracts (``Storm.Connect.Contracts``) as
summarised in the reference. Attributes are snake_case; the one converter of
:mod:`norce_integration._convert` puts them on the wire in PascalCase.

* Write models (headers and items) leave out every field that is :data:`UNSET` and send
  ``None`` as JSON ``null``. A field typed ``X | Unset`` (no ``None``) is a non-nullable
  value type in the contract: sending ``null`` there makes Norce reject the item.
* Read models (:class:`JobResponse`, :class:`Job`, :class:`JobLogEntry`) ignore unknown
  keys and default every field Norce may leave out to ``None``.
* Enums are :class:`enum.IntEnum` with the contract's integer values; when structured
  they also accept the member name, as Connect does for JSON headers. Enums that come
  back from the server (:class:`JobStatus`, :class:`LogSeverity`) never raise on an
  unknown integer: they answer a pseudo-member named ``UNKNOWN_<n>``.
"""

from __future__ import annotations

import datetime as dt
import enum
import types
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Final

import attrs
import cattrs
from cattrs.errors import AttributeValidationNote, ClassValidationError

from .._convert import WIRE_NAME, ReadModel, WriteModel, converter, strict_converter, wire_name
from .._types import UNSET, Unset


__all__ = [
    "IMPORT_SPECS",
    "Account",
    "AccountField",
    "AccountStatus",
    "AdditionalInfo",
    "Address",
    "Company",
    "CompanyDeliveryMethod",
    "CompanyField",
    "CompanyIdentifier",
    "CompetitorSku",
    "CompetitorSkuField",
    "CompetitorSkuHeader",
    "Contact",
    "Customer",
    "CustomerField",
    "CustomerFlag",
    "CustomerHeader",
    "CustomerType",
    "DeliveryMethod",
    "Discount",
    "DiscountType",
    "ExternalPopularity",
    "Flag",
    "Header",
    "Image",
    "ImageCulture",
    "ImageCultureField",
    "ImportKind",
    "ImportSpec",
    "InheritStructureCalculationRule",
    "Job",
    "JobLogEntry",
    "JobResponse",
    "JobStatus",
    "LogSeverity",
    "ParametricValue",
    "ParametricValueCulture",
    "ParametricValueList",
    "ParametricValueListCulture",
    "PaymentMethod",
    "PopulationRuleType",
    "PriceList",
    "PriceListField",
    "PriceListHeader",
    "PriceListPopulation",
    "PriceListPopulationAllCategories",
    "PriceListPopulationCategory",
    "PriceListPopulationType",
    "PriceListPriceRule",
    "PriceListPriceRuleField",
    "PriceListPriceRuleType",
    "PriceListRef",
    "PriceRule",
    "Product",
    "ProductCategory",
    "ProductCulture",
    "ProductCultureField",
    "ProductFamily",
    "ProductField",
    "ProductHeader",
    "Relation",
    "RelationCulture",
    "RelationCultureField",
    "RelationField",
    "RelationHeader",
    "Role",
    "SalesArea",
    "SerializationType",
    "Sku",
    "SkuCulture",
    "SkuCultureField",
    "SkuField",
    "SkuOnhand",
    "SkuOnhandField",
    "SkuOnhandHeader",
    "SkuOnhandInfo",
    "SkuPriceList",
    "SkuPriceListField",
    "SkuPriceListHeader",
    "SkuStatus",
    "SkuStructureItem",
    "SkuStructureItemField",
    "SkuType",
    "StandardStructureItemPrice",
    "SupplierOnHand",
    "SupplierOnHandField",
    "SupplierPrice",
    "SupplierPriceField",
    "SupplierProduct",
    "SupplierProductField",
    "SupplierProductHeader",
    "SupplierProductInfo",
    "SupplierProductInfoField",
    "UnitMeasurementType",
    "UnitOfMeasurementType",
    "ValidationSummary",
    "Variant",
    "VariantCulture",
    "VariantCultureField",
    "VariantDefinition",
    "VariantDefinitionCulture",
    "VariantDefinitionGroup",
    "VariantDefinitionType",
    "VariantField",
    "VatRate",
    "Warehouse",
    "WarehouseField",
    "WarehouseLocation",
    "WarehouseLocationField",
    "WarehouseType",
]


# ---------------------------------------------------------------------------------------
# Enum bases
# ---------------------------------------------------------------------------------------


class _NorceEnum(enum.IntEnum):
    """Base of every Connect enum: integer on the wire, member name accepted on parse.

    A member whose contract name is a Python keyword carries a trailing underscore
    (``PopulationRuleType.None_``); parsing accepts the contract name ``"None"``.
    """


_MAX_PSEUDO_MEMBERS = 64


class _TolerantEnum(_NorceEnum):
    """Base of enums Norce sends us: an unknown integer becomes ``UNKNOWN_<n>``.

    Norce may add statuses without notice; a poller must keep running, not crash.
    """

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        pseudo = int.__new__(cls, value)
        pseudo._name_ = f"UNKNOWN_{value}"
        pseudo._value_ = value
        # Cached so ``JobStatus(99) is JobStatus(99)``; setdefault keeps it race-free. The
        # cache is bounded: values come from the network (webhooks), so a sender must not
        # be able to grow it without limit. Past the bound, equal pseudo-members still
        # compare equal (they are ints); only identity is lost.
        if len(cls._value2member_map_) >= _MAX_PSEUDO_MEMBERS + len(cls.__members__):
            return pseudo
        return cls._value2member_map_.setdefault(value, pseudo)


# ---------------------------------------------------------------------------------------
# "Fields that are set" enums (reference §3)
# ---------------------------------------------------------------------------------------


class ProductField(_NorceEnum):
    """Product fields an import owns (``ProductHeader.ProductFieldsThatAreSet``)."""

    ManufacturerCode = 0
    ManufacturerName = 1
    Alias = 2
    Code = 3
    Variants = 4
    Cultures = 5
    Categories = 6
    MainImage = 7
    AdditionalImages = 8
    Family = 9
    ProductParametrics = 10
    ProductParametricsCreateOnly = 11
    VariantDefinitionGroup = 12
    VariantDefinitionGroupCreateOnly = 13
    Assortment = 14
    CategoriesCreateOnly = 15
    CategoriesLimitedUpdate = 16
    AdditionalImagesCleanup = 17
    ParametricsCleanup = 18
    ImagesAndFilesCleanup = 19


class ProductCultureField(_NorceEnum):
    """Product culture fields (``ProductCultureFieldsThatAreSet``, supplier content)."""

    Name = 0
    NameCreateOnly = 1
    SubHeader = 2
    SubDescription = 3
    DescriptionHeader = 4
    Description = 5
    DescriptionCreateOnly = 6
    Synonyms = 7
    Title = 8
    Tags = 9
    MetaTags = 10
    MetaDescription = 11
    NameLimitedUpdate = 12
    UniqueUrlName = 13
    IsUniqueUrlNameManuallyMaintained = 14
    UniqueUrlNameCreateOnly = 15


class VariantField(_NorceEnum):
    """Variant fields (``ProductHeader.VariantFieldsThatAreSet``)."""

    ManufacturerPartNo = 0
    SortOrderValue = 1
    StockDisplayBreakPoint = 2
    IsDangerousGoods = 3
    Cultures = 4
    Skus = 5
    MainImage = 6
    AdditionalImages = 7
    VariantParametrics = 8
    VariantParametricsCreateOnly = 9
    NonParametricVariantDefinitions = 10
    NonParametricVariantDefinitionsCreateOnly = 11
    DeliveryMethods = 12
    DeliveryMethodsCreateOnly = 13
    AdditionalImagesCleanup = 14
    ParametricsCleanup = 15
    TranslationRequested = 16
    ImagesAndFilesCleanup = 17


class VariantCultureField(_NorceEnum):
    """Variant culture fields (``ProductHeader.VariantCultureFieldsThatAreSet``)."""

    CultureCode = 0
    Name = 1
    NameCreateOnly = 2
    NameLimitedUpdate = 3
    UniqueUrlName = 4
    IsUniqueUrlNameManuallyMaintained = 5
    UniqueUrlNameCreateOnly = 6
    SubHeader = 7
    SubDescription = 8
    DescriptionHeader = 9
    Description = 10
    DescriptionCreateOnly = 11
    Synonyms = 12
    Title = 13
    Tags = 14
    MetaTags = 15
    MetaDescription = 16


class SkuField(_NorceEnum):
    """SKU fields (``ProductHeader.SkuFieldsThatAreSet``).

    0 (``PartNo``, now the key) was removed and 17 is unused in the contract.
    """

    Status = 1
    Type = 2
    IntegrationPartNo = 3
    CommodityCode = 4
    EanCode = 5
    TrackingCode = 6
    UnitOfMeasurementType = 7
    UnitOfMeasurementCount = 8
    IsDropShipOnly = 9
    IsBuyable = 10
    DiscountClass = 11
    RecommendedSalesQty = 12
    IsRecommendedSalesQtyFixed = 13
    ActualWeight = 14
    VolumeWeight = 15
    LogisticWidth = 16
    LogisticHeight = 18
    LogisticDepth = 19
    StandardPrice = 20
    VatRate = 21
    StatusCreateOnly = 22
    StartDate = 23
    StopDate = 24
    StructureItems = 25
    PartNoCreateWhenMissing = 26


class SkuCultureField(_NorceEnum):
    """SKU culture fields (``ProductHeader.SkuCultureFieldsThatAreSet``)."""

    ErpName = 0
    ErpNameCreateOnly = 1
    Comment = 2
    CommentCreateOnly = 3


class SkuPriceListField(_NorceEnum):
    """Price-row fields (``SkuPriceListFieldsThatAreSet``, ``IgnoreSkuPriceListFieldsWhenEmpty``).

    Starts at 3: 0-2 were the keys ``PartNo``, ``PriceListCode`` and ``QuantityBreak``.
    """

    PriceSale = 3
    CostPurchase = 4
    CostUnit = 5
    PriceRecommended = 6
    PricePrevious = 7
    PriceCatalog = 8
    IsPriceDiscountable = 9
    IsActive = 10
    IsPriceDiscountableCreateOnly = 11
    PriceRule = 12
    FullfileResetInheritance = 13


class SkuStructureItemField(_NorceEnum):
    """Structure item fields (``ProductHeader.SkuStructureItemFieldsThatAreSet``)."""

    SortOrder = 0
    StandardStructureItemPrice = 1
    AdditionalInfo = 2


class ImageCultureField(_NorceEnum):
    """Image culture fields (``ProductHeader.ImageCultureFieldsThatAreSet``)."""

    Name = 0
    Description = 1
    AltText = 2


class PriceListField(_NorceEnum):
    """Price list fields (``PriceListHeader.PriceListFieldsThatAreSet``)."""

    Name = 0
    CurrencyCode = 1
    StartDate = 2
    EndDate = 3
    IsPublic = 4
    IsPrimary = 5
    TypeCode = 6
    Warehouses = 7
    DefaultPriceRule = 8
    Description = 9
    IsErpIntegrated = 10
    DoNotCreateApplicationPriceList = 11
    SalesArea = 12
    DefaultMinMarginPercent = 13
    LimitToRecPrice = 14
    ParentPriceListCode = 15
    DefaultSupplementalChargeFixed = 16
    DefaultSupplementalChargePercent = 17
    PriceRules = 18
    PriceRulesCleanup = 19
    PriceRulesLimitedUpdate = 20
    Population = 21
    PopulationCleanup = 22
    IsFavorite = 23
    InheritStructureCalculationRule = 24


class WarehouseField(_NorceEnum):
    """Warehouse fields (``PriceListHeader.WarehouseFieldsThatAreSet``)."""

    Type = 0
    Name = 1
    LeadTimeDayCount = 2


class WarehouseLocationField(_NorceEnum):
    """Location fields (``PriceListHeader.WarehouseLocationFieldsThatAreSet``)."""

    Name = 0
    LeadTimeDayCount = 1
    IsIncludedInStockCalculation = 2


class PriceListPriceRuleField(_NorceEnum):
    """Price rule fields (``PriceListHeader.PriceListPriceRuleFieldsThatAreSet``)."""

    Type = 0
    Value = 1
    LimitToRecPrice = 2
    SupplementalChargeFixed = 3
    SupplementalChargePercent = 4


class SkuOnhandField(_NorceEnum):
    """On-hand fields (``SkuOnhandHeader.SkuOnhandFieldsThatAreSet``).

    Starts at 3: 0-2 were the keys ``PartNo``, ``LocationCode`` and ``WarehouseCode``.
    """

    OnhandValue = 3
    IncomingValue = 4
    NextDeliveryDate = 5
    LeadTimeDayCount = 6
    OnOrderValue = 7  # deprecated, no longer supported by Norce
    MinimumValue = 8
    MaximumValue = 9
    IsActive = 10
    Infos = 11


class RelationField(_NorceEnum):
    """Relation fields (``RelationHeader.RelationFieldsThatAreSet``); starts at 1."""

    IsActive = 1
    IsVariantUnique = 2
    IsVariantUniqueCreateOnly = 3
    IsRelatedVariantUnique = 4
    IsRelatedVariantUniqueCreateOnly = 5
    DefaultName = 6
    DefaultSubHeader = 7
    DefaultSubDescription = 8
    DefaultDescriptionHeader = 9
    DefaultDescription = 10
    Cultures = 11
    SortOrder = 12


class RelationCultureField(_NorceEnum):
    """Relation culture fields (``RelationCultureFieldsThatAreSet``); starts at 1."""

    Name = 1
    NameCreateOnly = 2
    SubHeader = 3
    SubDescription = 4
    DescriptionHeader = 5
    Description = 6
    DescriptionCreateOnly = 7


class CompetitorSkuField(_NorceEnum):
    """Competitor price fields (``CompetitorSkuHeader.CompetitorSkuFieldsThatAreSet``)."""

    CompetitorName = 0
    ProductName = 1
    VatRate = 2
    ExternalPopularities = 3  # deprecated, not supported any longer


class CompanyField(_NorceEnum):
    """Company fields (``CustomerHeader.CompanyFieldsThatAreSet``)."""

    ApplicationKey = 0
    Id = 1
    Code = 2
    OrganizationNo = 3
    Name = 4
    EmailAddress = 5
    PhoneNumber = 6
    LogoImage = 7
    ParentCompanyCode = 8
    IsActive = 9
    InvoiceAddress = 10
    DeliveryAddresses = 11
    AdditionalInfo = 12
    Contacts = 13
    Customers = 14
    DeliveryMethods = 15
    Discounts = 16
    Flags = 17
    PaymentMethods = 18
    PriceLists = 19
    SearchOnlyByCode = 20
    VatNo = 21
    PreserveFlags = 22


class CustomerField(_NorceEnum):
    """Customer fields (``CustomerHeader.CustomerFieldsThatAreSet``)."""

    ApplicationKey = 0
    Id = 1
    Code = 2
    EmailAddress = 3
    SocialSecurityNumber = 4
    Title = 5
    FirstName = 6
    MiddleName = 7
    LastName = 8
    PhoneNumber = 9
    CellPhoneNumber = 10
    IsActive = 11
    InvoiceAddress = 12
    DeliveryAddresses = 13
    Accounts = 14
    AdditionalInfo = 15
    Flags = 16
    PriceLists = 17
    SearchOnlyByCode = 18
    Companies = 19
    CrmId = 20
    PreserveFlags = 21


class AccountField(_NorceEnum):
    """Account fields (``CustomerHeader.AccountFieldsThatAreSet``)."""

    PasswordCreateOnly = 0
    Status = 1
    StatusCreateOnly = 2
    Roles = 3
    RolesCreateOnly = 4


class SupplierProductField(_NorceEnum):
    """Supplier product fields (``SupplierProductHeader.FieldsThatAreSet``)."""

    SupplierPartNo = 0
    ProductName = 1
    CategoryCode = 2
    ProductType = 3
    Manufacturer = 4
    ManufacturerPartNo = 5
    EanCode = 6
    CommodityCode = 7
    GrossWeight = 8
    NetWeight = 9
    UnitOfMeasurementCode = 10
    UnitOfMeasurementCount = 11
    VatCode = 12
    LogisticWidth = 13
    LogisticHeight = 14
    LogisticDepth = 15


class SupplierOnHandField(_NorceEnum):
    """Supplier on-hand fields (``SupplierProductHeader.OnhandFieldsThatAreSet``)."""

    Value = 0
    IncomingValue = 1
    NextDeliveryDate = 2
    StoppedDate = 3
    IsReturnable = 4
    LeadTimeDayCount = 5
    ExternalStockValue = 6
    PackageValue = 7
    MinimumOrderValue = 8
    IsActive = 9


class SupplierPriceField(_NorceEnum):
    """Supplier price fields (``SupplierProductHeader.PriceFieldsThatAreSet``)."""

    CostPurchase = 0
    CostPurchaseValidTo = 1
    PriceRecommended = 2
    PriceMax = 3
    PriceDealer = 4
    IsPromotion = 5
    IsFocus = 6
    PriceRanking = 7
    FreightCost = 8
    CostFee = 9
    DiscountPct = 10
    IsActive = 11
    PriceCatalog = 12


class SupplierProductInfoField(_NorceEnum):
    """Supplier product info fields (``SupplierProductHeader.ProductInfoFieldsThatAreSet``)."""

    Value = 0


# ---------------------------------------------------------------------------------------
# Value enums
# ---------------------------------------------------------------------------------------


class SkuStatus(_NorceEnum):
    """SKU status (``Sku.Status``)."""

    Active = 1
    Coming = 2
    Expiring = 3
    Hidden = 4
    Inactive = 5
    NotActivated = 6


class SkuType(_NorceEnum):
    """SKU type (``Sku.Type``); the numbering has gaps, several members are deprecated."""

    ErpStandard = 1
    ErpRefurbished = 2
    Freight = 3
    Insurance = 4
    Download = 7
    Structure = 8
    Invoice = 9
    Service = 11
    Standard = 14
    ErpExtended = 15  # deprecated
    ErpStandardNoStock = 16  # deprecated
    ErpPackage = 17  # deprecated
    Donations = 18
    ErpTempOutOfStock = 19  # deprecated
    EnvironmentalFee = 20
    PackingFee = 21
    Configuration = 22  # deprecated
    ErpPackageWithCalc = 24  # deprecated
    DisplayOnly = 25  # deprecated
    ErpDownload = 26  # deprecated
    ErpDownloadNoStock = 27  # deprecated
    ErpDownloadTempNoStock = 28  # deprecated
    ErpStandard2 = 29  # deprecated
    Standard2 = 30  # deprecated
    ErpStandardNoStock2 = 31  # deprecated
    ErpTempOutOfStock2 = 32  # deprecated
    License = 33
    CentRounding = 34
    SalesTax = 35
    FreightStructure = 36
    ManagedStructure = 37
    ManagedErpPackage = 38
    ManagedErpPackageWithCalc = 39
    Virtual = 40
    PspGiftCard = 41
    PayLater = 42
    GiftCardPaymentPlaceHolder = 43
    Compensation = 44


class UnitMeasurementType(_NorceEnum):
    """Unit of measurement of a SKU (``Sku.UnitOfMeasurementType``)."""

    Pieces = 1
    Hour = 2
    Kilogram = 3
    Litre = 4
    Pair = 5
    SquareMeter = 6
    Meter = 7
    Boxes = 8
    Rolls = 9


class UnitOfMeasurementType(_NorceEnum):
    """Legacy unit enum of the supplier contract (``SupplierProduct.UnitOfMeasurementCode``)."""

    Unknown = 0
    Pieces = 1
    Hours = 2
    Kilograms = 3
    Litres = 4


class SalesArea(_NorceEnum):
    """Sales area (VAT rates, price lists, competitor prices); no 16 and no 30-35."""

    Sweden = 1
    Norway = 2
    Denmark = 3
    Finland = 4
    UnitedKingdom = 5
    Estonia = 6
    Greenland = 7
    Germany = 8
    Italy = 9
    Austria = 10
    Spain = 11
    Netherlands = 12
    Belgium = 13
    France = 14
    Switzerland = 15
    USA = 17
    Ireland = 18
    Canada = 19
    Lithuania = 20
    Latvia = 21
    Japan = 22
    SouthKorea = 23
    Australia = 24
    Europe = 25
    Poland = 26
    CzechRepublic = 27
    Russia = 28
    NoVAT = 29
    Bulgaria = 36
    Croatia = 37
    Cyprus = 38
    Greece = 39
    Hungary = 40
    Luxembourg = 41
    Malta = 42
    Portugal = 43
    Romania = 44
    Slovakia = 45
    Slovenia = 46


class PriceRule(_NorceEnum):
    """Price rule of a price row or a price list default."""

    CostPlus_PurchaseCost = 1
    FixedPrice = 2
    Margin_PurchaseCost = 3
    UseRecommendedPrice = 4
    CostPlus_UnitCost = 5
    Margin_UnitCost = 6
    UseStandardPrice_PctDiscount = 7
    Competitive_PurchaseCost = 8
    Competitive_UnitCost = 9
    UseStandardPrice_FixedDiscount = 10
    StructureCalculation = 11
    UseCatalogPrice = 12


class WarehouseType(_NorceEnum):
    """Warehouse type (``Warehouse.Type``)."""

    Warehouse = 1
    Store = 2
    Transport = 3
    Other = 4


class PriceListPriceRuleType(_NorceEnum):
    """Type of a price list price rule (``PriceListPriceRule.Type``)."""

    CostPlus_PurchaseCost = 1
    Margin_PurchaseCost = 3
    UseRecommendedPrice = 4
    CostPlus_UnitCost = 5
    Margin_UnitCost = 6
    UseStandardPrice_PctDiscount = 7
    UseStandardPrice_FixedDiscount = 10
    UseCatalogPrice = 12


class PriceListPopulationType(_NorceEnum):
    """Whether a price list population includes or excludes (``PriceListPopulation.Type``)."""

    Exclude = 1
    Include = 2


class PopulationRuleType(_NorceEnum):
    """Population rule type; ``Category`` (4) is only valid on a per-category rule."""

    None_ = 1
    Manufacturers = 2
    Flags = 3
    Category = 4


class InheritStructureCalculationRule(_NorceEnum):
    """How structure SKUs inherit prices (``PriceList.InheritStructureCalculationRule``)."""

    None_ = 0
    ItemsUseDefaultPriceRule = 1
    StandardPriceFromInheritedStructureItemSalePrice = 2


class CustomerType(_NorceEnum):
    """Customer type (``Customer.Type``)."""

    Customer = 1
    CompanyContact = 2


class AccountStatus(_NorceEnum):
    """Account status (``Account.Status``)."""

    Active = 1
    Inactive = 2


class DiscountType(_NorceEnum):
    """Company discount type (``Discount.Type``)."""

    Category = 1
    ProductDiscountClass = 2
    ProductFlag = 3


class SerializationType(_NorceEnum):
    """Serialisation of an import (``Header.SerializationType``); docs call 1 "XML"."""

    Json = 0
    DataContractSerializer = 1
    Xml = 1  # alias: the docs' name for DataContractSerializer


class JobStatus(_TolerantEnum):
    """Status of a Connect job (``JobDto.StatusId``); unknown values never raise."""

    Initialized = 1
    Succeeded = 2
    Failed = 3
    ValidationFailed = 4
    Validating = 5
    Queued = 6

    @property
    def is_terminal(self) -> bool:
        """Whether the job has ended (Succeeded, Failed or ValidationFailed)."""
        return self.value in _TERMINAL_JOB_STATUSES

    @property
    def is_success(self) -> bool:
        """Whether the job ended successfully."""
        return self.value == _SUCCEEDED


_SUCCEEDED: Final = 2
_TERMINAL_JOB_STATUSES: Final = frozenset({2, 3, 4})


class LogSeverity(_TolerantEnum):
    """Severity of a job log entry (``JobLogDto.SeverityId``); unknown values never raise."""

    Information = 1
    Warning = 2
    Error = 3


# ---------------------------------------------------------------------------------------
# Headers (the X-StormConnect-Header of each import)
# ---------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Header(WriteModel):
    """Fields every import header has.

    Attributes:
        account_id: Account id of the integration's system user (required).
        job_id: Output only; set by Connect. Leave unset.
        storage_name: An import file in Norce's file area, used instead of a body.
        serialization_type: Serialisation of the body; Norce defaults to JSON.
        supplier_id: Only used together with ``storage_name``.
    """

    account_id: int
    job_id: int | Unset = UNSET
    storage_name: str | Unset | None = UNSET
    serialization_type: SerializationType | Unset = UNSET
    supplier_id: int | Unset | None = UNSET


@attrs.frozen(kw_only=True)
class ProductHeader(Header):
    """Header of ``Product/ImportProducts``.

    ``full_file=True`` makes ``Code`` mandatory and removes products from variant
    clusters they are no longer sent in. Parent switches apply: variant fields need
    ``ProductField.Variants``, SKU fields need ``VariantField.Skus``, and so on.
    """

    full_file: bool
    product_fields_that_are_set: list[ProductField]
    product_culture_fields_that_are_set: list[ProductCultureField] | Unset = UNSET
    variant_fields_that_are_set: list[VariantField] | Unset = UNSET
    variant_culture_fields_that_are_set: list[VariantCultureField] | Unset = UNSET
    sku_fields_that_are_set: list[SkuField] | Unset = UNSET
    sku_culture_fields_that_are_set: list[SkuCultureField] | Unset = UNSET
    sku_price_list_fields_that_are_set: list[SkuPriceListField] | Unset = UNSET
    ignore_sku_price_list_fields_when_empty: list[SkuPriceListField] | Unset = UNSET
    sku_structure_item_fields_that_are_set: list[SkuStructureItemField] | Unset = UNSET
    image_culture_fields_that_are_set: list[ImageCultureField] | Unset = UNSET


@attrs.frozen(kw_only=True)
class SkuPriceListHeader(Header):
    """Header of ``Product/ImportSkuPriceLists``.

    ``full_file=True`` deactivates, for each price list in the import, its rows that are
    not in the import.
    """

    full_file: bool
    sku_price_list_fields_that_are_set: list[SkuPriceListField]
    ignore_sku_price_list_fields_when_empty: list[SkuPriceListField] | Unset = UNSET


@attrs.frozen(kw_only=True)
class PriceListHeader(Header):
    """Header of ``Product/ImportPriceLists`` (the contract has no ``FullFile``)."""

    price_list_fields_that_are_set: list[PriceListField]
    warehouse_fields_that_are_set: list[WarehouseField] | Unset = UNSET
    warehouse_location_fields_that_are_set: list[WarehouseLocationField] | Unset = UNSET
    price_list_price_rule_fields_that_are_set: list[PriceListPriceRuleField] | Unset = UNSET


@attrs.frozen(kw_only=True)
class SkuOnhandHeader(Header):
    """Header of ``Product/ImportOnhands``.

    ``full_file=True`` deactivates, for each warehouse and location in the import, its
    on-hand rows that are not in the import.
    """

    full_file: bool
    sku_onhand_fields_that_are_set: list[SkuOnhandField]


@attrs.frozen(kw_only=True)
class RelationHeader(Header):
    """Header of ``Product/ImportRelations``.

    The reference does not mark ``FullFile`` as required here and its semantics are
    UNCONFIRMED, so it is optional.
    """

    full_file: bool | Unset = UNSET
    relation_fields_that_are_set: list[RelationField] | Unset = UNSET
    relation_culture_fields_that_are_set: list[RelationCultureField] | Unset = UNSET


@attrs.frozen(kw_only=True)
class CompetitorSkuHeader(Header):
    """Header of ``Product/ImportCompetitorSkus``.

    ``full_file=True`` deactivates prices from competitors that are not in the import.
    """

    full_file: bool
    competitor_sku_fields_that_are_set: list[CompetitorSkuField]


@attrs.frozen(kw_only=True)
class CustomerHeader(Header):
    """Header of ``Customer/ImportCustomers`` and ``Customer/ImportCompanies`` (no ``FullFile``).

    ImportCustomers needs ``customer_fields_that_are_set``; ImportCompanies needs
    ``company_fields_that_are_set`` and, with ``CompanyField.Customers``, also
    ``customer_fields_that_are_set``.
    """

    customer_fields_that_are_set: list[CustomerField] | Unset = UNSET
    company_fields_that_are_set: list[CompanyField] | Unset = UNSET
    account_fields_that_are_set: list[AccountField] | Unset = UNSET


@attrs.frozen(kw_only=True)
class SupplierProductHeader(Header):
    """Header of ``Supplier/ImportProducts``."""

    full_file: bool
    fields_that_are_set: list[SupplierProductField] | Unset = UNSET
    onhand_fields_that_are_set: list[SupplierOnHandField] | Unset = UNSET
    price_fields_that_are_set: list[SupplierPriceField] | Unset = UNSET
    content_fields_that_are_set: list[ProductCultureField] | Unset = UNSET
    product_info_fields_that_are_set: list[SupplierProductInfoField] | Unset = UNSET


# ---------------------------------------------------------------------------------------
# Shared item parts
# ---------------------------------------------------------------------------------------


@attrs.define(kw_only=True)
class AdditionalInfo(WriteModel):
    """A ``{Code, Value}`` pair configured in Norce Admin (customers, companies, structures)."""

    code: str | Unset | None = UNSET
    value: str | Unset | None = UNSET


@attrs.define(kw_only=True)
class ImageCulture(WriteModel):
    """Culture-specific texts of an image."""

    culture_code: str | Unset | None = UNSET
    name: str | Unset | None = UNSET
    description: str | Unset | None = UNSET
    alt_text: str | Unset | None = UNSET


@attrs.define(kw_only=True)
class Image(WriteModel):
    """An image or file: ``external_code``, ``file_type_name`` and ``url`` are needed.

    Attributes:
        file_type_name: Must match a file type in Norce, e.g. ``MainImage``, ``Additional``.
        external_code: The source system's key of the file.
        filename: At most 50 characters; parsed from the URL when left out. The wire
            name is ``Filename`` (the docs' ``FileName`` is a typo of the contract).
        url: A publicly reachable URL.
        last_modified: Deprecated.
        cultures: Culture-specific texts.
    """

    file_type_name: str | Unset | None = UNSET
    external_code: str | Unset | None = UNSET
    filename: str | Unset | None = attrs.field(default=UNSET, metadata={WIRE_NAME: "Filename"})
    url: str | Unset | None = UNSET
    last_modified: dt.datetime | Unset | None = UNSET
    cultures: list[ImageCulture] | Unset | None = UNSET


# ---------------------------------------------------------------------------------------
# ImportProducts items
# ---------------------------------------------------------------------------------------


# The culture classes carry the fields their ``…CultureField`` enums name (the
# reference shows no separate field list for them).
@attrs.define(kw_only=True)
class ProductCulture(WriteModel):
    """Culture-specific texts of a product."""

    culture_code: str | Unset | None = UNSET
    name: str | Unset | None = UNSET
    sub_header: str | Unset | None = UNSET
    sub_description: str | Unset | None = UNSET
    description_header: str | Unset | None = UNSET
    description: str | Unset | None = UNSET
    synonyms: str | Unset | None = UNSET
    title: str | Unset | None = UNSET
    tags: str | Unset | None = UNSET
    meta_tags: str | Unset | None = UNSET
    meta_description: str | Unset | None = UNSET
    unique_url_name: str | Unset | None = UNSET
    is_unique_url_name_manually_maintained: bool | Unset = UNSET


@attrs.define(kw_only=True)
class VariantCulture(WriteModel):
    """Culture-specific texts of a variant."""

    culture_code: str | Unset | None = UNSET
    name: str | Unset | None = UNSET
    unique_url_name: str | Unset | None = UNSET
    is_unique_url_name_manually_maintained: bool | Unset = UNSET
    sub_header: str | Unset | None = UNSET
    sub_description: str | Unset | None = UNSET
    description_header: str | Unset | None = UNSET
    description: str | Unset | None = UNSET
    synonyms: str | Unset | None = UNSET
    title: str | Unset | None = UNSET
    tags: str | Unset | None = UNSET
    meta_tags: str | Unset | None = UNSET
    meta_description: str | Unset | None = UNSET


@attrs.define(kw_only=True)
class SkuCulture(WriteModel):
    """Culture-specific texts of a SKU."""

    culture_code: str | Unset | None = UNSET
    erp_name: str | Unset | None = UNSET
    comment: str | Unset | None = UNSET


@attrs.define(kw_only=True)
class ProductCategory(WriteModel):
    """A category the product belongs to."""

    code: str | Unset | None = UNSET
    sort_order: int | Unset = UNSET


@attrs.define(kw_only=True)
class ProductFamily(WriteModel):
    """The product's family; families that do not exist are not created (log warning)."""

    code: str
    name: str | Unset | None = UNSET


@attrs.define(kw_only=True)
class Flag(WriteModel):
    """A product or variant flag (``IsSet``; customer flags use ``IsActive``)."""

    code: str | Unset | None = UNSET
    is_set: bool | Unset = UNSET
    stop_date: dt.datetime | Unset | None = UNSET
    is_create_only: bool | Unset | None = UNSET
    is_limited_update: bool | Unset | None = UNSET


@attrs.define(kw_only=True)
class ParametricValueCulture(WriteModel):
    """Culture-specific text value of a parametric."""

    culture_code: str | Unset | None = UNSET
    value_text: str | Unset | None = UNSET


@attrs.define(kw_only=True)
class ParametricValueListCulture(WriteModel):
    """Culture-specific texts of a list value."""

    culture_code: str | Unset | None = UNSET
    value: str | Unset | None = UNSET
    description: str | Unset | None = UNSET


@attrs.define(kw_only=True)
class ParametricValueList(WriteModel):
    """A list value of a parametric."""

    code: str | Unset | None = UNSET
    value: str | Unset | None = UNSET
    description: str | Unset | None = UNSET
    cultures: list[ParametricValueListCulture] | Unset | None = UNSET


@attrs.define(kw_only=True)
class ParametricValue(WriteModel):
    """The value of one parametric on a product or variant; set the matching ``value_*``."""

    parametric_code: str | Unset | None = UNSET
    value_boolean: bool | Unset | None = UNSET
    value_decimal: Decimal | Unset | None = UNSET
    value_integer: int | Unset | None = UNSET
    value_date_time: dt.datetime | Unset | None = UNSET
    cultures: list[ParametricValueCulture] | Unset | None = UNSET
    value_list: ParametricValueList | Unset | None = UNSET
    multiple_value_list: list[ParametricValueList] | Unset | None = UNSET


@attrs.define(kw_only=True)
class VariantDefinitionType(WriteModel):
    """One dimension of a variant definition group (e.g. colour)."""

    code: str | Unset | None = UNSET
    name: str | Unset | None = UNSET
    sort_order: int | Unset = UNSET
    parametric_code: str | Unset | None = UNSET


@attrs.define(kw_only=True)
class VariantDefinitionGroup(WriteModel):
    """How the variants of a product differ from each other."""

    code: str | Unset | None = UNSET
    name: str | Unset | None = UNSET
    types: list[VariantDefinitionType] | Unset | None = UNSET


@attrs.define(kw_only=True)
class VariantDefinitionCulture(WriteModel):
    """Culture-specific value of a non-parametric variant definition."""

    culture_code: str | Unset | None = UNSET
    value: str | Unset | None = UNSET


@attrs.define(kw_only=True)
class VariantDefinition(WriteModel):
    """A non-parametric variant definition value."""

    type_code: str | Unset | None = UNSET
    cultures: list[VariantDefinitionCulture] | Unset | None = UNSET


@attrs.define(kw_only=True)
class DeliveryMethod(WriteModel):
    """A delivery method of a variant (``IsActive`` defaults to true in Norce)."""

    code: str | Unset | None = UNSET
    package_percentage: Decimal | Unset | None = UNSET
    is_active: bool | Unset | None = UNSET


@attrs.define(kw_only=True)
class VatRate(WriteModel):
    """A VAT rate per sales area; ``rate`` is a percentage (25.00 = 25 %)."""

    sales_area: SalesArea | Unset | None = UNSET
    rate: Decimal | Unset | None = UNSET


@attrs.define(kw_only=True)
class StandardStructureItemPrice(WriteModel):
    """The standard price of a structure item (``SkuStructureItem.StandardStructureItemPrice``)."""

    structure_part_no: str | Unset | None = UNSET
    part_no: str | Unset | None = UNSET
    price_list_code: str | Unset | None = UNSET
    item_price_list_code: str | Unset | None = UNSET
    quantity_break: int | Unset = UNSET
    price_sale: Decimal | Unset = UNSET
    currency_code: str | Unset | None = UNSET


@attrs.define(kw_only=True)
class SkuStructureItem(WriteModel):
    """An item of a structure SKU (bundle)."""

    structure_part_no: str | Unset | None = UNSET
    part_no: str | Unset | None = UNSET
    quantity: Decimal | Unset = UNSET
    sort_order: int | Unset | None = UNSET
    standard_structure_item_price: StandardStructureItemPrice | Unset | None = UNSET
    additional_info: list[AdditionalInfo] | Unset | None = UNSET


@attrs.define(kw_only=True)
class SkuPriceList(WriteModel):
    """A price row (``ImportSkuPriceLists`` item, and ``Sku.StandardPrice``).

    Null or 0 prices are ignored by Norce (nothing is overwritten) unless the field is in
    ``IgnoreSkuPriceListFieldsWhenEmpty``, which makes Norce skip the whole row.

    Attributes:
        part_no: The SKU's part number (key).
        price_list_code: The price list's code (key).
    """

    part_no: str
    price_list_code: str
    quantity_break: int | Unset = UNSET
    price_sale: Decimal | Unset = UNSET
    cost_purchase: Decimal | Unset = UNSET
    cost_unit: Decimal | Unset = UNSET
    price_recommended: Decimal | Unset | None = UNSET
    price_previous: Decimal | Unset | None = UNSET
    price_catalog: Decimal | Unset | None = UNSET
    is_price_discountable: bool | Unset = UNSET
    currency_code: str | Unset | None = UNSET
    is_active: bool | Unset | None = UNSET
    price_rule: PriceRule | Unset | None = UNSET
    price_rule_value: Decimal | Unset | None = UNSET


@attrs.define(kw_only=True)
class Sku(WriteModel):
    """A SKU; ``part_no``, ``status`` and ``type`` are needed to create one.

    ``part_no`` may be left out only with ``SkuField.PartNoCreateWhenMissing``.
    """

    part_no: str | Unset | None = UNSET
    status: SkuStatus | Unset = UNSET
    type: SkuType | Unset = UNSET
    integration_part_no: str | Unset | None = UNSET
    commodity_code: str | Unset | None = UNSET
    ean_code: str | Unset | None = UNSET
    tracking_code: str | Unset | None = UNSET
    unit_of_measurement_type: UnitMeasurementType | Unset = UNSET
    unit_of_measurement_count: Decimal | Unset = UNSET
    is_drop_ship_only: bool | Unset | None = UNSET
    is_buyable: bool | Unset = UNSET
    discount_class: str | Unset | None = UNSET
    recommended_sales_qty: Decimal | Unset | None = UNSET
    is_recommended_sales_qty_fixed: bool | Unset | None = UNSET
    actual_weight: Decimal | Unset | None = UNSET
    volume_weight: Decimal | Unset | None = UNSET
    logistic_width: Decimal | Unset | None = UNSET
    logistic_height: Decimal | Unset | None = UNSET
    logistic_depth: Decimal | Unset | None = UNSET
    standard_price: SkuPriceList | Unset | None = UNSET
    vat_rates: list[VatRate] | Unset | None = UNSET
    cultures: list[SkuCulture] | Unset | None = UNSET
    start_date: dt.datetime | Unset | None = UNSET
    stop_date: dt.datetime | Unset | None = UNSET
    structure_items: list[SkuStructureItem] | Unset | None = UNSET


@attrs.define(kw_only=True)
class Variant(WriteModel):
    """A variant of a product; ``manufacturer_part_no`` is needed to create one.

    Norce allows only one SKU per variant (several SKUs per variant are deprecated).
    """

    manufacturer_part_no: str | Unset | None = UNSET
    sort_order_value: int | Unset | None = UNSET
    stock_display_break_point: int | Unset | None = UNSET
    is_dangerous_goods: bool | Unset = UNSET
    # Type UNCONFIRMED: the reference only shows ``"TranslationRequested": null``.
    translation_requested: bool | Unset | None = UNSET
    cultures: list[VariantCulture] | Unset | None = UNSET
    skus: list[Sku] | Unset | None = UNSET
    main_image: Image | Unset | None = UNSET
    additional_images: list[Image] | Unset | None = UNSET
    variant_flags: list[Flag] | Unset | None = UNSET
    variant_parametrics: list[ParametricValue] | Unset | None = UNSET
    non_parametric_variant_definitions: list[VariantDefinition] | Unset | None = UNSET
    delivery_methods: list[DeliveryMethod] | Unset | None = UNSET


@attrs.define(kw_only=True)
class Product(WriteModel):
    """A product (variant cluster): the item of ``Product/ImportProducts``.

    Create needs ``manufacturer_code`` (+ variant ``manufacturer_part_no`` + SKU
    ``part_no``); update matches on those or on the SKU ``part_no``. ``code`` is the
    variant-cluster code, mandatory with ``FullFile=true``.
    """

    manufacturer_code: str | Unset | None = UNSET
    manufacturer_name: str | Unset | None = UNSET
    alias: str | Unset | None = UNSET
    code: str | Unset | None = UNSET
    variants: list[Variant] | Unset | None = UNSET
    cultures: list[ProductCulture] | Unset | None = UNSET
    categories: list[ProductCategory] | Unset | None = UNSET
    main_image: Image | Unset | None = UNSET
    additional_images: list[Image] | Unset | None = UNSET
    family: ProductFamily | Unset | None = UNSET
    product_flags: list[Flag] | Unset | None = UNSET
    product_parametrics: list[ParametricValue] | Unset | None = UNSET
    variant_definition_group: VariantDefinitionGroup | Unset | None = UNSET
    assortment_code: str | Unset | None = UNSET


# ---------------------------------------------------------------------------------------
# ImportPriceLists items
# ---------------------------------------------------------------------------------------


@attrs.define(kw_only=True)
class WarehouseLocation(WriteModel):
    """A location in a warehouse."""

    code: str
    name: str | Unset | None = UNSET
    is_included_in_stock_calculation: bool | Unset | None = UNSET
    lead_time_day_count: int | Unset | None = UNSET


@attrs.define(kw_only=True)
class Warehouse(WriteModel):
    """A warehouse of a price list (the docs mark ``locations`` as required)."""

    code: str
    type: WarehouseType | Unset = UNSET
    name: str | Unset | None = UNSET
    lead_time_day_count: int | Unset | None = UNSET
    locations: list[WarehouseLocation] | Unset | None = UNSET


@attrs.define(kw_only=True)
class PriceListPriceRule(WriteModel):
    """A price rule of a price list, optionally limited to a manufacturer, category or flags."""

    type: PriceListPriceRuleType | Unset = UNSET
    value: Decimal | Unset | None = UNSET
    limit_to_rec_price: bool | Unset | None = UNSET
    min_value: Decimal | Unset | None = UNSET
    max_value: Decimal | Unset | None = UNSET
    manufacturer_code: str | Unset | None = UNSET
    category_code: str | Unset | None = UNSET
    flags: list[str] | Unset | None = UNSET
    supplemental_charge_fixed: Decimal | Unset | None = UNSET
    supplemental_charge_percent: Decimal | Unset | None = UNSET


@attrs.define(kw_only=True)
class PriceListPopulationAllCategories(WriteModel):
    """The population rule for all categories (``RuleType`` 1-3)."""

    rule_type: PopulationRuleType
    rule_codes: list[str] | Unset | None = UNSET


@attrs.define(kw_only=True)
class PriceListPopulationCategory(WriteModel):
    """The population rule for one category."""

    code: str
    rule_type: PopulationRuleType
    rule_codes: list[str] | Unset | None = UNSET
    require_supplier: bool | Unset | None = UNSET


@attrs.define(kw_only=True)
class PriceListPopulation(WriteModel):
    """Which products a price list includes or excludes."""

    type: PriceListPopulationType | Unset | None = UNSET
    all_categories: PriceListPopulationAllCategories | Unset | None = UNSET
    categories: list[PriceListPopulationCategory] | Unset | None = UNSET
    require_supplier: bool | Unset | None = UNSET


@attrs.define(kw_only=True)
class PriceList(WriteModel):
    """A price list: the item of ``Product/ImportPriceLists`` (missing lists are created)."""

    code: str
    name: str | Unset | None = UNSET
    currency_code: str | Unset | None = UNSET
    start_date: dt.datetime | Unset | None = UNSET
    end_date: dt.datetime | Unset | None = UNSET
    is_primary: bool | Unset = UNSET
    is_public: bool | Unset = UNSET
    is_favorite: bool | Unset = UNSET
    type_code: str | Unset | None = UNSET
    warehouses: list[Warehouse] | Unset | None = UNSET
    default_price_rule_code: str | Unset | None = UNSET  # obsolete in the contract
    default_price_rule: PriceRule | Unset | None = UNSET
    default_price_rule_value: Decimal | Unset | None = UNSET
    description: str | Unset | None = UNSET
    is_erp_integrated: bool | Unset = UNSET  # deprecated in the contract
    sales_area: SalesArea | Unset | None = UNSET
    default_min_margin_percent: Decimal | Unset | None = UNSET
    limit_to_rec_price: bool | Unset | None = UNSET
    parent_price_list_code: str | Unset | None = UNSET
    default_supplemental_charge_fixed: Decimal | Unset | None = UNSET
    default_supplemental_charge_percent: Decimal | Unset | None = UNSET
    price_rules: list[PriceListPriceRule] | Unset | None = UNSET
    population: PriceListPopulation | Unset | None = UNSET
    inherit_structure_calculation_rule: InheritStructureCalculationRule | Unset = UNSET


# ---------------------------------------------------------------------------------------
# ImportOnhands, ImportRelations, ImportCompetitorSkus items
# ---------------------------------------------------------------------------------------


@attrs.define(kw_only=True)
class SkuOnhandInfo(WriteModel):
    """An on-hand info ``{Code, Value}``; codes are configured in Norce Admin."""

    code: str
    value: str


@attrs.define(kw_only=True)
class SkuOnhand(WriteModel):
    """Stock of a SKU at a warehouse location: the item of ``Product/ImportOnhands``.

    Attributes:
        part_no: The SKU (key).
        warehouse_code: The warehouse (key).
        location_code: The location in the warehouse (key).
        onhand_value: Quantity on the shelf (wire name ``OnhandValue``, lowercase h).
    """

    part_no: str
    warehouse_code: str
    location_code: str
    onhand_value: Decimal | Unset = UNSET
    incoming_value: Decimal | Unset | None = UNSET
    next_delivery_date: dt.datetime | Unset | None = UNSET
    lead_time_day_count: int | Unset | None = UNSET
    on_order_value: Decimal | Unset | None = UNSET  # deprecated in the contract
    minimum_value: Decimal | Unset | None = UNSET
    maximum_value: Decimal | Unset | None = UNSET
    is_active: bool | Unset | None = UNSET
    infos: list[SkuOnhandInfo] | Unset | None = UNSET


@attrs.define(kw_only=True)
class RelationCulture(WriteModel):
    """Culture-specific texts of a relation."""

    culture_code: str
    name: str | Unset | None = UNSET
    sub_header: str | Unset | None = UNSET
    sub_description: str | Unset | None = UNSET
    description_header: str | Unset | None = UNSET
    description: str | Unset | None = UNSET


@attrs.define(kw_only=True)
class Relation(WriteModel):
    """A relation between two SKUs: the item of ``Product/ImportRelations``.

    Attributes:
        part_no: The SKU the relation starts at (key).
        related_part_no: The related SKU (key).
        relation_type_code: The client-defined relation type (key).
    """

    part_no: str
    related_part_no: str
    relation_type_code: str
    is_variant_unique: bool | Unset = UNSET
    is_related_variant_unique: bool | Unset = UNSET
    is_active: bool | Unset = UNSET
    default_name: str | Unset | None = UNSET
    default_sub_header: str | Unset | None = UNSET
    default_sub_description: str | Unset | None = UNSET
    default_description_header: str | Unset | None = UNSET
    default_description: str | Unset | None = UNSET
    cultures: list[RelationCulture] | Unset | None = UNSET
    sort_order: int | Unset | None = UNSET


@attrs.define(kw_only=True)
class ExternalPopularity(WriteModel):
    """Deprecated popularity figure of a competitor SKU (a list in the contract)."""

    source: str | Unset | None = UNSET
    part_no: str | Unset | None = UNSET
    popularity_value: Decimal | Unset = UNSET


@attrs.define(kw_only=True)
class CompetitorSku(WriteModel):
    """A competitor's price for a SKU: the item of ``Product/ImportCompetitorSkus``.

    ``price_sale_incl_freight`` equals ``price_sale`` when there is no freight.
    """

    part_no: str
    source: str
    competitor_code: str
    competitor_part_no: str
    price_sale: Decimal
    price_sale_incl_freight: Decimal
    is_prices_incl_vat: bool
    is_in_stock: bool
    competitor_name: str | Unset | None = UNSET
    product_name: str | Unset | None = UNSET
    currency_code: str | Unset | None = UNSET
    sales_area: SalesArea | Unset | None = UNSET
    vat_rate: Decimal | Unset | None = UNSET
    external_popularities: list[ExternalPopularity] | Unset | None = UNSET


# ---------------------------------------------------------------------------------------
# ImportCustomers / ImportCompanies items
# ---------------------------------------------------------------------------------------


@attrs.define(kw_only=True)
class Address(WriteModel):
    """A postal address of a customer or company."""

    care_of: str | Unset | None = UNSET
    address_line1: str | Unset | None = UNSET
    address_line2: str | Unset | None = UNSET
    zip_code: str | Unset | None = UNSET
    city: str | Unset | None = UNSET
    region: str | Unset | None = UNSET
    country_code: str | Unset | None = UNSET
    gln: str | Unset | None = UNSET
    shipping_phone_number: str | Unset | None = UNSET
    is_primary: bool | Unset | None = UNSET
    code: str | Unset | None = UNSET
    is_validated: bool | Unset | None = UNSET


@attrs.define(kw_only=True)
class Role(WriteModel):
    """A role of an account; the role must exist in Norce (``IsActive`` defaults to true)."""

    code: str
    is_active: bool | Unset | None = UNSET


@attrs.define(kw_only=True)
class Account(WriteModel):
    """A login of a customer."""

    application_key: uuid.UUID
    login_name: str
    password: str | Unset | None = UNSET
    status: AccountStatus | Unset = UNSET
    roles: list[Role] | Unset | None = UNSET


@attrs.define(kw_only=True)
class CustomerFlag(WriteModel):
    """A customer or company flag (``IsActive``; product flags use ``IsSet``)."""

    code: str | Unset | None = UNSET
    is_active: bool | Unset | None = UNSET
    stop_date: dt.datetime | Unset | None = UNSET
    is_create_only: bool | Unset | None = UNSET
    is_limited_update: bool | Unset | None = UNSET


@attrs.define(kw_only=True)
class PriceListRef(WriteModel):
    """A price list a customer or company has access to.

    ``is_exclusive=True`` overrides best-price calculation in the Shopping API.
    """

    code: str | Unset | None = UNSET
    is_exclusive: bool | Unset = UNSET


@attrs.define(kw_only=True)
class CompanyIdentifier(WriteModel):
    """A reference to an existing company; Norce tries ``id``, ``code``, ``organization_no``."""

    id: int | Unset | None = UNSET
    code: str | Unset | None = UNSET
    organization_no: str | Unset | None = UNSET
    name: str | Unset | None = UNSET
    is_primary: bool | Unset | None = UNSET


@attrs.define(kw_only=True)
class Customer(WriteModel):
    """A customer (person): the item of ``Customer/ImportCustomers``.

    Create needs ``code``, ``first_name``, ``last_name`` and ``email_address``; update
    matches on ``code``, ``id`` or ``email_address``.
    """

    type: CustomerType | Unset = UNSET
    application_key: uuid.UUID | Unset | None = UNSET
    id: int | Unset | None = UNSET
    code: str | Unset | None = UNSET
    email_address: str | Unset | None = UNSET
    social_security_number: str | Unset | None = UNSET
    title: str | Unset | None = UNSET
    first_name: str | Unset | None = UNSET
    middle_name: str | Unset | None = UNSET
    last_name: str | Unset | None = UNSET
    phone_number: str | Unset | None = UNSET
    cell_phone_number: str | Unset | None = UNSET
    is_active: bool | Unset | None = UNSET
    invoice_address: Address | Unset | None = UNSET
    delivery_addresses: list[Address] | Unset | None = UNSET
    accounts: list[Account] | Unset | None = UNSET
    additional_info: list[AdditionalInfo] | Unset | None = UNSET
    flags: list[CustomerFlag] | Unset | None = UNSET
    price_lists: list[PriceListRef] | Unset | None = UNSET
    is_company_list_delta: bool | Unset | None = UNSET
    companies: list[CompanyIdentifier] | Unset | None = UNSET
    crm_id: str | Unset | None = UNSET


@attrs.define(kw_only=True)
class Contact(WriteModel):
    """A contact person of a company, by customer code."""

    code: str | Unset | None = UNSET
    is_active: bool | Unset | None = UNSET


@attrs.define(kw_only=True)
class CompanyDeliveryMethod(WriteModel):
    """A delivery method a company may use."""

    code: str | Unset | None = UNSET
    is_active: bool | Unset | None = UNSET


@attrs.define(kw_only=True)
class Discount(WriteModel):
    """A company discount."""

    type: DiscountType | Unset = UNSET
    value_code: str | Unset | None = UNSET
    discount_percentage: Decimal | Unset = UNSET
    price_list_type_id_seed: str | Unset | None = UNSET


@attrs.define(kw_only=True)
class PaymentMethod(WriteModel):
    """A payment method a company may use (``IsActive`` defaults to true)."""

    code: str
    is_active: bool | Unset | None = UNSET
    invoice_capture_settings_code: str | Unset | None = UNSET


@attrs.define(kw_only=True)
class Company(WriteModel):
    """A company: the item of ``Customer/ImportCompanies``.

    Create needs ``code``, ``name`` and ``organization_no``; update matches on ``code``,
    ``id`` or ``organization_no``. ``customers`` must already exist.
    """

    application_key: uuid.UUID | Unset | None = UNSET
    id: int | Unset | None = UNSET
    code: str | Unset | None = UNSET
    organization_no: str | Unset | None = UNSET
    name: str | Unset | None = UNSET
    email_address: str | Unset | None = UNSET
    phone_number: str | Unset | None = UNSET
    logo_image: Image | Unset | None = UNSET
    parent_company_code: str | Unset | None = UNSET
    is_active: bool | Unset | None = UNSET
    invoice_address: Address | Unset | None = UNSET
    is_customer_list_delta: bool | Unset | None = UNSET
    delivery_addresses: list[Address] | Unset | None = UNSET
    additional_info: list[AdditionalInfo] | Unset | None = UNSET
    contacts: list[Contact] | Unset | None = UNSET
    customers: list[Customer] | Unset | None = UNSET
    delivery_methods: list[CompanyDeliveryMethod] | Unset | None = UNSET
    discounts: list[Discount] | Unset | None = UNSET
    flags: list[CustomerFlag] | Unset | None = UNSET
    payment_methods: list[PaymentMethod] | Unset | None = UNSET
    price_lists: list[PriceListRef] | Unset | None = UNSET
    vat_no: str | Unset | None = UNSET
    use_invoice_address_as_delivery_address: bool | Unset | None = UNSET


# ---------------------------------------------------------------------------------------
# Supplier ImportProducts items
# ---------------------------------------------------------------------------------------
# The reference (§3.9) names only ``SupplierPartNo`` and "product/price/on-hand/content
# lists". Scalar names follow the Supplier*Field enums; list names and nullability
# follow S1 ``Supplier/Models/*.cs``. ``Parametrics`` (an ExternalContent type the
# reference does not describe) is left out.


@attrs.define(kw_only=True)
class SupplierOnHand(WriteModel):
    """Stock of a supplier product at a supplier warehouse."""

    name: str | Unset | None = UNSET
    warehouse_code: str | Unset | None = UNSET
    location_code: str | Unset | None = UNSET
    value: Decimal | Unset = UNSET
    incoming_value: Decimal | Unset | None = UNSET
    next_delivery_date: dt.datetime | Unset | None = UNSET
    stopped_date: dt.datetime | Unset | None = UNSET
    is_returnable: bool | Unset | None = UNSET
    lead_time_day_count: int | Unset | None = UNSET
    external_stock_value: Decimal | Unset | None = UNSET
    package_value: Decimal | Unset = UNSET
    minimum_order_value: Decimal | Unset = UNSET
    is_active: bool | Unset = UNSET


@attrs.define(kw_only=True)
class SupplierPrice(WriteModel):
    """A supplier's price of a product on a price list."""

    price_list_code: str | Unset | None = UNSET
    qty_break: int | Unset = UNSET
    currency_code: str | Unset | None = UNSET
    cost_purchase: Decimal | Unset = UNSET
    cost_purchase_valid_to: dt.datetime | Unset | None = UNSET
    price_recommended: Decimal | Unset | None = UNSET
    price_max: Decimal | Unset | None = UNSET
    price_dealer: Decimal | Unset | None = UNSET
    is_promotion: bool | Unset | None = UNSET
    is_focus: bool | Unset | None = UNSET
    price_ranking: int | Unset | None = UNSET
    freight_cost: Decimal | Unset | None = UNSET
    cost_fee: Decimal | Unset | None = UNSET
    discount_pct: Decimal | Unset | None = UNSET
    is_active: bool | Unset = UNSET
    price_catalog: Decimal | Unset | None = UNSET


@attrs.define(kw_only=True)
class SupplierProductInfo(WriteModel):
    """A ``{Code, Value}`` info of a supplier product."""

    code: str | Unset | None = UNSET
    value: str | Unset | None = UNSET


@attrs.define(kw_only=True)
class SupplierProduct(WriteModel):
    """A supplier's catalogue product: the item of ``Supplier/ImportProducts``.

    Attributes:
        supplier_part_no: The supplier's part number (key, at most 50 characters).
    """

    supplier_part_no: str
    product_name: str | Unset | None = UNSET
    category_code: str | Unset | None = UNSET
    product_type: str | Unset | None = UNSET
    manufacturer: str | Unset | None = UNSET
    manufacturer_part_no: str | Unset | None = UNSET
    ean_code: str | Unset | None = UNSET
    commodity_code: str | Unset | None = UNSET
    gross_weight: Decimal | Unset = UNSET
    net_weight: Decimal | Unset = UNSET
    unit_of_measurement_code: UnitOfMeasurementType | Unset = UNSET
    unit_of_measurement_count: int | Unset = UNSET
    vat_code: int | Unset = UNSET
    logistic_width: Decimal | Unset | None = UNSET
    logistic_height: Decimal | Unset | None = UNSET
    logistic_depth: Decimal | Unset | None = UNSET
    main_image: Image | Unset | None = UNSET
    images: list[Image] | Unset | None = UNSET
    on_hand: list[SupplierOnHand] | Unset | None = UNSET
    price_list: list[SupplierPrice] | Unset | None = UNSET
    content_list: list[ProductCulture] | Unset | None = UNSET
    product_info: list[SupplierProductInfo] | Unset | None = UNSET


# ---------------------------------------------------------------------------------------
# Responses
# ---------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ValidationSummary(ReadModel):
    """The synchronous validation of an import payload."""

    nr_of_items_in_total: int | None = None
    nr_of_validation_failures: int | None = None
    messages: list[str] | None = None


@attrs.frozen(kw_only=True)
class JobResponse(ReadModel):
    """The answer to an import call: the job that will process the payload.

    Attributes:
        status_code: Status of the job as text (values UNCONFIRMED).
        description: A short message about the job.
        job_id: The job to track; Norce sends it as a string, parsed here to ``int``.
        validation_summary: Result of the synchronous validation, if any.
    """

    status_code: str | None = None
    description: str | None = None
    job_id: int | None = None
    validation_summary: ValidationSummary | None = None


@attrs.frozen(kw_only=True)
class Job(ReadModel):
    """A Connect job (``JobDto``); error texts are in the job log, not here.

    Attributes:
        job_id: The job id.
        status: The job status (wire ``StatusId``).
        storage_name: Relative path of the stored import file.
        totals: Number of items in the import.
        inserts: Inserts in all tables (wire ``Inserts``; ``Insert`` is accepted too).
        updates: Updates in all tables.
        fail: Items that failed to import.
        start: Job start.
        stop: Job stop, if stopped.
        last_updated: Last update of the job information.
        is_finished: Whether the job has finished.
        run_time: Duration of the job.
    """

    job_id: int
    status: JobStatus = attrs.field(metadata={WIRE_NAME: "StatusId"})
    storage_name: str | None = None
    totals: int | None = None
    inserts: int | None = None
    updates: int | None = None
    fail: int | None = None
    start: dt.datetime | None = None
    stop: dt.datetime | None = None
    last_updated: dt.datetime | None = None
    is_finished: bool | None = None
    run_time: dt.timedelta | None = None


@attrs.frozen(kw_only=True)
class JobLogEntry(ReadModel):
    """One entry of a job log (``JobLogDto``).

    Attributes:
        severity: Information, Warning (part of a record skipped) or Error (record
            not imported); wire ``SeverityId``.
        message: The log text.
        timestamp: When it was logged (wire ``TimeStamp``).
        imported_row: The offending record, possibly truncated.
    """

    severity: LogSeverity = attrs.field(metadata={WIRE_NAME: "SeverityId"})
    message: str | None = None
    timestamp: dt.datetime | None = attrs.field(default=None, metadata={WIRE_NAME: "TimeStamp"})
    imported_row: str | None = None


# ---------------------------------------------------------------------------------------
# Import table
# ---------------------------------------------------------------------------------------


class ImportKind(enum.StrEnum):
    """The nine asynchronous Connect imports."""

    products = "products"
    sku_price_lists = "sku_price_lists"
    price_lists = "price_lists"
    onhands = "onhands"
    relations = "relations"
    competitor_skus = "competitor_skus"
    customers = "customers"
    companies = "companies"
    supplier_products = "supplier_products"


@attrs.frozen(kw_only=True)
class ImportSpec:
    """How one import is called and how a full import of it may be split.

    Attributes:
        kind: The import.
        path: Method path relative to the Connect base URL.
        header_type: The ``X-StormConnect-Header`` model.
        item_type: The model of one body item.
        has_full_file: Whether the header has ``FullFile``.
        scope_key: Wire names of the item fields a full import may be split along
            (each job then only deactivates rows of its own scope). Empty: a full
            import must stay one job.
    """

    kind: ImportKind
    path: str
    header_type: type[Header]
    item_type: type[WriteModel]
    has_full_file: bool
    scope_key: tuple[str, ...]


def _spec(
    kind: ImportKind,
    path: str,
    header_type: type[Header],
    item_type: type[WriteModel],
    scope: tuple[str, ...] = (),
) -> ImportSpec:
    return ImportSpec(
        kind=kind,
        path=path,
        header_type=header_type,
        item_type=item_type,
        has_full_file="full_file" in attrs.fields_dict(header_type),
        scope_key=tuple(wire_name(item_type, name) for name in scope),
    )


IMPORT_SPECS: Final[Mapping[ImportKind, ImportSpec]] = types.MappingProxyType(
    {
        spec.kind: spec
        for spec in (
            # Product FullFile works per variant cluster (``Code``).
            _spec(ImportKind.products, "Product/ImportProducts", ProductHeader, Product, ("code",)),
            # Price FullFile works per price list present in the import.
            _spec(
                ImportKind.sku_price_lists,
                "Product/ImportSkuPriceLists",
                SkuPriceListHeader,
                SkuPriceList,
                ("price_list_code",),
            ),
            _spec(ImportKind.price_lists, "Product/ImportPriceLists", PriceListHeader, PriceList),
            # On-hand FullFile works per warehouse + location present in the import.
            _spec(
                ImportKind.onhands,
                "Product/ImportOnhands",
                SkuOnhandHeader,
                SkuOnhand,
                ("warehouse_code", "location_code"),
            ),
            # Relation FullFile semantics are UNCONFIRMED: never split.
            _spec(ImportKind.relations, "Product/ImportRelations", RelationHeader, Relation),
            # Competitor FullFile deactivates every competitor not imported: one job.
            _spec(
                ImportKind.competitor_skus,
                "Product/ImportCompetitorSkus",
                CompetitorSkuHeader,
                CompetitorSku,
            ),
            _spec(ImportKind.customers, "Customer/ImportCustomers", CustomerHeader, Customer),
            _spec(ImportKind.companies, "Customer/ImportCompanies", CustomerHeader, Company),
            # Supplier FullFile inactivates the supplier on categories not imported: one job.
            _spec(
                ImportKind.supplier_products,
                "Supplier/ImportProducts",
                SupplierProductHeader,
                SupplierProduct,
            ),
        )
    }
)


# ---------------------------------------------------------------------------------------
# Converter hooks
# ---------------------------------------------------------------------------------------


def _structure_enum(value: Any, cls: type[_NorceEnum]) -> _NorceEnum:
    """An enum from its integer, its digits, or its member name (case-insensitive)."""
    if isinstance(value, cls):
        return value
    if isinstance(value, bool):
        msg = f"expected a {cls.__name__} integer or name, got {value!r}"
        raise TypeError(msg)
    if isinstance(value, int):
        return cls(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return cls(int(text))
        folded = text.casefold()
        for name, member in cls.__members__.items():
            if folded in (name.casefold(), name.rstrip("_").casefold()):
                return member
        msg = f"{value!r} is not a {cls.__name__} name"
        raise ValueError(msg)
    msg = f"expected a {cls.__name__} integer or name, got {type(value).__name__}"
    raise TypeError(msg)


def _structure_uuid(value: Any, _: Any) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        return uuid.UUID(value)
    msg = f"expected a GUID string, got {type(value).__name__}"
    raise TypeError(msg)


def _job_id(value: Any) -> int | None:
    """Norce sends job ids as strings (``JobResponse``) or ints (``JobDto``)."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if text.lstrip("-").isdigit():
            return int(text)
    msg = f"not a job id: {value!r}"
    raise ValueError(msg)


def _prepare_job_response(data: Any) -> Any:
    if isinstance(data, Mapping) and "JobId" in data:
        data = {**data, "JobId": _job_id(data["JobId"])}
    return data


def _prepare_job(data: Any) -> Any:
    data = _prepare_job_response(data)
    if isinstance(data, Mapping) and "Insert" in data:
        # The contract says ``Inserts``, the docs ``Insert``: accept either (and drop the
        # alias, so the strict converter does not call it an unknown key).
        data = dict(data)
        alias = data.pop("Insert")
        data.setdefault("Inserts", alias)
    return data


def _wrap(base: Callable[[Any, Any], Any], prepare: Callable[[Any], Any]) -> Any:
    def hook(value: Any, cls: Any) -> Any:
        try:
            value = prepare(value)
        except ValueError as exc:
            # Report like any other field error, so callers catch one cattrs error type.
            exc.add_note(
                AttributeValidationNote(
                    f"Structuring class {cls.__qualname__} @ attribute job_id", "job_id", int
                )
            )
            raise ClassValidationError(f"While structuring {cls.__name__}", [exc], cls) from None
        return base(value, cls)

    return hook


def _register(conv: cattrs.Converter) -> None:
    """Install this module's hooks on ``conv`` (the shared and the strict converter)."""
    conv.register_structure_hook(_NorceEnum, _structure_enum)
    # ``int`` rather than ``.value``: a plain integer where a member is expected still works.
    conv.register_unstructure_hook(_NorceEnum, int)
    conv.register_structure_hook(uuid.UUID, _structure_uuid)
    conv.register_unstructure_hook(uuid.UUID, str)
    # Generated hooks capture the enum hook above, so they are built after it.
    for cls, prepare in ((JobResponse, _prepare_job_response), (Job, _prepare_job)):
        conv.register_structure_hook(cls, _wrap(conv.get_structure_hook(cls), prepare))


_register(converter)
_register(strict_converter())
