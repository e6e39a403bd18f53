"""How each Connect import changes the emulator's data (``norce-connect.md`` §2.4, §3, §6.1).

One :class:`ImportRun` per job applies its items one at a time (items stream from the
spooled body) and then its ``FullFile`` scope. Rules implemented:

* Only fields listed in the header's ``...FieldsThatAreSet`` are written; a listed field
  that is absent from an item is written as null (the .NET deserialiser cannot tell
  absent from null, which is why the lists exist). Exception, as documented for prices:
  null or 0 price values are ignored, and ``IgnoreSkuPriceListFieldsWhenEmpty`` drops the
  whole price row when a listed field is empty.
* ``...CreateOnly`` members are written only when this import creates the entity.
  ``...LimitedUpdate`` members behave like the plain member (manual Admin edits are not
  tracked by the emulator).
* ``FullFile`` scopes: products — SKUs last written by the same ``AccountId`` that are
  missing from the payload get status Inactive (5) (Norce's integration-pattern page;
  the current docs' cluster rule is applied too: products no longer in their cluster's
  payload leave the cluster); SKU prices — rows of the price lists present are
  deactivated when absent; on-hands — rows of the warehouse+location pairs present are
  deactivated when absent; competitor SKUs — rows of competitors absent from the import
  are deactivated; relations — no documented effect (UNCONFIRMED), logged only. Rows or
  SKUs that a FullFile import includes again are reactivated (emulator choice).
* Unknown SKUs and price lists: the row is ignored with a warning (severity 2).
* Supplier ``ImportProducts`` is validated, counted and logged, but not stored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from ._contracts import ENUMS, ImportSpec, ParsedHeader, enum_value
from ._data import (
    SKU_INACTIVE,
    ChangeSet,
    EmulatorData,
    FieldError,
    ProductMeta,
    SkuMeta,
    changed,
    to_bool,
    to_datetime,
    to_decimal,
    to_int,
    to_str,
)
from ._tables import Row


__all__ = ["ImportRun", "start_import"]

_NAMES: dict[str, dict[int, str]] = {
    enum: {value: name for name, value in members.items()} for enum, members in ENUMS.items()
}
_MONEY = (
    "PriceSale",
    "CostPurchase",
    "CostUnit",
    "PriceRecommended",
    "PricePrevious",
    "PriceCatalog",
)

Converter = Callable[[Any, str], Any]


def _culture_field(member: str) -> tuple[str, bool] | None:
    """Map a culture enum member to (item property, create-only?)."""
    if member in ("CultureCode", "IsUniqueUrlNameManuallyMaintained"):
        return (member, False) if member != "CultureCode" else None
    if member.endswith("CreateOnly"):
        return member.removesuffix("CreateOnly"), True
    if member.endswith("LimitedUpdate"):
        return member.removesuffix("LimitedUpdate"), False
    return member, False


def _culture_values(
    cultures: Any, listed: frozenset[int], enum: str, *, creating: bool
) -> dict[str, dict[str, Any]]:
    """The per-culture values an item's ``Cultures`` array may write."""
    if not listed or not isinstance(cultures, list):
        return {}
    fields: dict[str, None] = {}
    for member in listed:
        mapped = _culture_field(_NAMES[enum][member])
        if mapped is not None and (creating or not mapped[1]):
            fields[mapped[0]] = None
    out: dict[str, dict[str, Any]] = {}
    for culture in cultures:
        if not isinstance(culture, dict):
            raise FieldError("Cultures must hold objects")
        code = to_str(culture.get("CultureCode"), "CultureCode")
        if not code:
            raise FieldError("CultureCode is required in Cultures")
        out[code] = {name: culture.get(name) for name in fields}
    return out


def _merge_cultures(
    target: dict[str, dict[str, Any]], values: Mapping[str, Mapping[str, Any]]
) -> bool:
    was = False
    for culture, fields in values.items():
        slot = target.setdefault(culture, {})
        was = changed(slot, fields) or was
    return was


_SKU_FIELDS: dict[str, tuple[str, Converter, bool]] = {
    # SkuField member -> (item property / stored name, converter, stored on the Query row?)
    "IntegrationPartNo": ("IntegrationPartNo", to_str, True),
    "EanCode": ("EanCode", to_str, True),
    "CommodityCode": ("CommodityCode", to_str, False),
    "TrackingCode": ("TrackingCode", to_str, False),
    "UnitOfMeasurementType": ("UnitOfMeasurementType", to_int, False),
    "UnitOfMeasurementCount": ("UnitOfMeasurementCount", to_decimal, False),
    "IsDropShipOnly": ("IsDropShipOnly", to_bool, False),
    "IsBuyable": ("IsBuyable", to_bool, False),
    "DiscountClass": ("DiscountClass", to_str, False),
    "RecommendedSalesQty": ("RecommendedSalesQty", to_decimal, False),
    "IsRecommendedSalesQtyFixed": ("IsRecommendedSalesQtyFixed", to_bool, False),
    "ActualWeight": ("ActualWeight", to_decimal, False),
    "VolumeWeight": ("VolumeWeight", to_decimal, False),
    "LogisticWidth": ("LogisticWidth", to_decimal, False),
    "LogisticHeight": ("LogisticHeight", to_decimal, False),
    "LogisticDepth": ("LogisticDepth", to_decimal, False),
    "StartDate": ("StartDate", to_datetime, False),
    "StopDate": ("StopDate", to_datetime, False),
    "VatRate": ("VatRates", lambda v, _f: v, False),
    "StructureItems": ("StructureItems", lambda v, _f: v, False),
}


# ProductField members stored as given (not exposed by Query): member -> item property.
_PRODUCT_RAW_FIELDS = (
    ("Alias", "Alias"),
    ("MainImage", "MainImage"),
    ("AdditionalImages", "AdditionalImages"),
    ("Family", "Family"),
    ("ProductParametrics", "ProductParametrics"),
    ("VariantDefinitionGroup", "VariantDefinitionGroup"),
    ("Assortment", "AssortmentCode"),
)


class ImportRun:
    """Applies one job's items; subclasses implement one import each.

    Args:
        data: the tenant data.
        spec: which import.
        header: the validated header.
        changes: counters, log and notifications of this job.
    """

    def __init__(
        self, data: EmulatorData, spec: ImportSpec, header: ParsedHeader, changes: ChangeSet
    ) -> None:
        self.data = data
        self.spec = spec
        self.header = header
        self.changes = changes
        self.now = changes.now
        self.full_file = header.full_file
        self._problems: list[str] = []
        # Member names per header list, computed once: items ask for them constantly.
        self._ordered: dict[str, list[str]] = {
            field_list: [_NAMES[spec.lists[field_list]][v] for v in sorted(values)]
            for field_list, values in header.fields.items()
            if field_list in spec.lists
        }
        self._names = {k: frozenset(v) for k, v in self._ordered.items()}
        self.seen_prices: set[tuple[Any, ...]] = set()

    # Helpers for subclasses.

    def listed(self, field_list: str) -> frozenset[int]:
        """Members listed in ``field_list``."""
        return self.header.listed(field_list)

    def has(self, field_list: str, *members: str) -> bool:
        """True if ``field_list`` lists any of ``members``."""
        names = self._names.get(field_list)
        if names is None:
            return False
        if len(members) == 1:
            return members[0] in names
        return any(m in names for m in members)

    def members(self, field_list: str) -> list[str]:
        """Names of the members listed in ``field_list``, in enum order."""
        return self._ordered.get(field_list, [])

    def problem(self, message: str) -> None:
        """Record that part of the current item could not be handled."""
        self._problems.append(message)

    def apply(self, index: int, item: Any, errors: list[str]) -> None:
        """Apply one item; ``errors`` are its synchronous validation failures."""
        if errors:
            self.changes.fail += 1
            self.changes.error(f"Item {index}: " + " ".join(errors), item)
            return
        self._problems = []
        try:
            imported = self.apply_item(item)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            # FieldError and enum errors are ValueErrors; the others come from items whose
            # nested values have the wrong JSON type (e.g. "Categories": "x").
            self._problems.append(
                str(exc) if isinstance(exc, ValueError) else f"malformed item ({exc!r})."
            )
            imported = False
        if not imported:
            self.changes.fail += 1
            reason = " ".join(self._problems) or "item was not imported."
            self.changes.error(f"Item {index}: {reason}", item)
        else:
            for message in self._problems:
                self.changes.warn(f"Item {index}: {message}", item)

    def apply_item(self, item: dict[str, Any]) -> bool:
        """Apply one valid item; return False if nothing of it was imported."""
        raise NotImplementedError

    def finish(self) -> None:
        """Apply the FullFile scope after the last item."""

    # Shared price writer (ImportProducts StandardPrice and ImportSkuPriceLists).

    def write_price(
        self,
        item: Mapping[str, Any],
        part_no: str,
        *,
        standard: bool,
        price_list_id: int | None = None,
    ) -> bool:
        """Write one price row per the header's price field lists; False if ignored."""
        data = self.data
        if price_list_id is None:
            code = to_str(item.get("PriceListCode"), "PriceListCode")
            price_list_id = data.price_list_by_code.get(code or "")
            if price_list_id is None:
                self.problem(f"Price list {code!r} does not exist; price row ignored.")
                return False
        qty_break = to_int(item.get("QuantityBreak"), "QuantityBreak") or 1
        key = (part_no, price_list_id, qty_break)
        if self.full_file and not standard:
            self.seen_prices.add(key)
        for member in self.listed("IgnoreSkuPriceListFieldsWhenEmpty"):
            name = _NAMES["SkuPriceListField"][member]
            value = item.get(name)
            if value in (None, "") or (
                not isinstance(value, bool)
                and isinstance(value, int | float | Decimal)
                and value == 0
            ):
                self.problem(
                    f"Price row {part_no}/{data.price_list_code(price_list_id)} ignored:"
                    f" {name} is empty (IgnoreSkuPriceListFieldsWhenEmpty)."
                )
                return False
        values: dict[str, Any] = {}
        create_only: dict[str, Any] = {}
        for member in sorted(self.listed("SkuPriceListFieldsThatAreSet")):
            name = _NAMES["SkuPriceListField"][member]
            if name in _MONEY:
                amount = to_decimal(item.get(name), name)
                if amount is not None and amount != 0:  # null/0 prices never overwrite
                    values[name] = amount
            elif name == "IsPriceDiscountable":
                flag = to_bool(item.get(name), name)
                if flag is not None:
                    values[name] = flag
            elif name == "IsPriceDiscountableCreateOnly":
                flag = to_bool(item.get("IsPriceDiscountable"), "IsPriceDiscountable")
                if flag is not None:
                    create_only["IsPriceDiscountable"] = flag
            elif name == "IsActive":
                flag = to_bool(item.get(name), name)
                if flag is not None:
                    values[name] = flag
            elif name == "PriceRule":
                rule = item.get("PriceRule")
                data.price_rules[key] = {
                    "PriceRule": None
                    if rule is None
                    else enum_value("PriceRule", rule, where="PriceRule"),
                    "PriceRuleValue": to_decimal(item.get("PriceRuleValue"), "PriceRuleValue"),
                }
            # FullfileResetInheritance (13): semantics UNCONFIRMED; accepted and ignored.
        if standard and "PriceSale" in values:
            # UNCONFIRMED: the emulator reports the SKU's StandardPrice as PriceStandard.
            values["PriceStandard"] = values["PriceSale"]
        currency = to_str(item.get("CurrencyCode"), "CurrencyCode")
        price_list = data.price_lists.get(price_list_id)
        assert price_list is not None
        if currency and data.currency_by_code.get(currency.upper()) != price_list["CurrencyId"]:
            self.problem(
                f"CurrencyCode {currency!r} differs from the price list's currency;"
                " the price list's currency is used."
            )
        data.upsert_price(
            self.changes,
            part_no=part_no,
            price_list_id=price_list_id,
            qty_break=qty_break,
            values=values,
            create_only=create_only,
            reactivate=self.full_file,
        )
        return True


class ProductImport(ImportRun):
    """``Product/ImportProducts``."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        # SKUs are written when VariantField.Skus is listed; the reference only implies
        # that parent switch, so SKU field lists alone also enable it (tolerant).
        self._traverse_skus = bool(
            self.has("VariantFieldsThatAreSet", "Skus")
            or self.listed("SkuFieldsThatAreSet")
            or self.listed("SkuCultureFieldsThatAreSet")
        )
        self.seen_part_nos: set[str] = set()
        self.cluster_payload: dict[str, set[int]] = {}

    def apply_item(self, item: dict[str, Any]) -> bool:
        data = self.data
        variants = item.get("Variants") or []
        if self.full_file:
            for variant in variants:
                for sku in variant.get("Skus") or []:
                    if isinstance(sku, dict) and isinstance(sku.get("PartNo"), str):
                        self.seen_part_nos.add(sku["PartNo"])
        manufacturer_code = to_str(item.get("ManufacturerCode"), "ManufacturerCode")
        code = to_str(item.get("Code"), "Code")
        if not self.has("ProductFieldsThatAreSet", "Variants"):
            # Without ProductField.Variants only product-level fields can be written, to
            # the products of the cluster named by Code.
            targets = list(data.cluster_members.get(code or "", {}))
            if not targets:
                self.problem(
                    "ProductField.Variants (4) is not set and no existing product has this"
                    " Code; nothing to update."
                )
                return False
            for product_id in targets:
                product = data.products.get(product_id)
                assert product is not None
                self._apply_product_level(product, item, manufacturer_code, code, creating=False)
            return True
        if not variants:
            self.problem("the product has no Variants; nothing to import.")
            return False
        imported = 0
        for v_index, variant in enumerate(variants):
            before = len(self._problems)
            try:
                ok = self._apply_variant(item, variant, manufacturer_code, code)
            except FieldError as exc:
                self.problem(str(exc))
                ok = False
            if ok:
                imported += 1
            else:
                for i in range(before, len(self._problems)):
                    self._problems[i] = f"Variants[{v_index}]: {self._problems[i]}"
        return imported > 0

    def _sku_create_problem(self, sku: Mapping[str, Any]) -> str | None:
        status_ok = (
            self.has("SkuFieldsThatAreSet", "Status", "StatusCreateOnly")
            and sku.get("Status") is not None
        )
        type_ok = self.has("SkuFieldsThatAreSet", "Type") and sku.get("Type") is not None
        if status_ok and type_ok:
            try:
                enum_value("SkuStatus", sku["Status"], where="Status")
                enum_value("SkuType", sku["Type"], where="Type")
            except ValueError as exc:
                return f"SKU {sku.get('PartNo')!r}: {exc}; SKU not created."
            return None
        return (
            f"SKU {sku.get('PartNo')!r}: Status and Type are required when creating a SKU"
            " (send them and list SkuField.Status or StatusCreateOnly, and SkuField.Type)."
        )

    def _apply_variant(
        self,
        item: dict[str, Any],
        variant: Mapping[str, Any],
        manufacturer_code: str | None,
        code: str | None,
    ) -> bool:
        data = self.data
        mpn = to_str(variant.get("ManufacturerPartNo"), "ManufacturerPartNo")
        traverse = self._traverse_skus
        all_skus = [s for s in variant.get("Skus") or [] if isinstance(s, dict)]
        skus = all_skus if traverse else []
        if len(all_skus) > 1:
            self.problem("more than one SKU per variant is deprecated in Norce.")
        product_id: int | None = None
        for sku in all_skus:
            part_no = sku.get("PartNo")
            if isinstance(part_no, str) and (row := data.skus.get(part_no)) is not None:
                product_id = row["ProductId"]
                break
        if product_id is None and manufacturer_code and mpn:
            product_id = data.product_by_mpn.get((manufacturer_code, mpn))
        creating = product_id is None
        if creating:
            missing = [
                name
                for name, value in (
                    ("ManufacturerCode", manufacturer_code),
                    ("ManufacturerPartNo", mpn),
                    (
                        "Skus[].PartNo",
                        next((s.get("PartNo") for s in skus if s.get("PartNo")), None),
                    ),
                )
                if not value
            ]
            if missing:
                self.problem(
                    f"cannot create product: {', '.join(missing)} required"
                    " (and VariantField.Skus listed)."
                )
                return False
            creatable = [s for s in skus if self._sku_create_problem(s) is None]
            if not creatable:
                for sku in skus:
                    message = self._sku_create_problem(sku)
                    if message:
                        self.problem(message)
                return False
            assert manufacturer_code is not None
            assert mpn is not None
            product = self._create_product(manufacturer_code, mpn)
        else:
            assert product_id is not None
            found = data.products.get(product_id)
            assert found is not None
            product = found
        self._apply_product_level(product, item, manufacturer_code, code, creating=creating)
        self._apply_variant_level(product, variant, manufacturer_code, mpn, creating=creating)
        imported = not skus
        for sku in skus:
            imported = self._apply_sku(product, sku) or imported
        return imported or not creating

    def _create_product(self, manufacturer_code: str, mpn: str) -> Row:
        data = self.data
        product_id = data.next_id("product")
        row: Row = {
            "Id": product_id,
            "ManufacturerId": data.manufacturer_id(manufacturer_code, self.now),
            "ManufacturerPartNo": mpn,
            "DefaultName": None,
            "IsVariant": False,
            "VariantId": None,
            "IsActive": True,
            "Created": self.now,
            "Updated": self.now,
            "Key": data.new_key(),
            "Code": None,
            "DefaultUniqueUrlName": None,
        }
        data.products.upsert(row)
        data.product_meta[product_id] = ProductMeta(manufacturer_code=manufacturer_code)
        data.product_by_mpn[(manufacturer_code, mpn)] = product_id
        data.skus_by_product[product_id] = {}
        self.changes.inserts += 1
        return row

    def _apply_product_level(
        self,
        product: Row,
        item: Mapping[str, Any],
        manufacturer_code: str | None,
        code: str | None,
        *,
        creating: bool,
    ) -> None:
        data = self.data
        meta = data.product_meta[product["Id"]]
        lists = "ProductFieldsThatAreSet"
        dirty = False
        names_dirty = False
        manufacturer_name = (
            to_str(item.get("ManufacturerName"), "ManufacturerName")
            if self.has(lists, "ManufacturerName")
            else None
        )
        if manufacturer_code and (self.has(lists, "ManufacturerCode") or manufacturer_name):
            manufacturer_id = data.manufacturer_id(manufacturer_code, self.now, manufacturer_name)
            if self.has(lists, "ManufacturerCode") and product["ManufacturerId"] != manufacturer_id:
                old = (meta.manufacturer_code or "", product["ManufacturerPartNo"] or "")
                data.product_by_mpn.pop(old, None)
                meta.manufacturer_code = manufacturer_code
                data.product_by_mpn[(manufacturer_code, product["ManufacturerPartNo"])] = product[
                    "Id"
                ]
                product["ManufacturerId"] = manufacturer_id
                dirty = True
        if self.has(lists, "Code") and product["Code"] != code:
            data.set_product_cluster(product, code)
            dirty = True
        if self.full_file and product["Code"]:
            self.cluster_payload.setdefault(product["Code"], set()).add(product["Id"])
        if self.has(lists, "Cultures"):
            values = _culture_values(
                item.get("Cultures"),
                self.listed("ProductCultureFieldsThatAreSet"),
                "ProductCultureField",
                creating=creating,
            )
            names_dirty = _merge_cultures(meta.cultures, values)
        if self.has(lists, "Categories", "CategoriesLimitedUpdate") or (
            creating and self.has(lists, "CategoriesCreateOnly")
        ):
            categories: list[tuple[int, int]] = []
            for entry in item.get("Categories") or []:
                category_code = to_str(entry.get("Code"), "Categories[].Code")
                category_id = data.category_by_code.get(category_code or "")
                if category_id is None:
                    self.problem(f"category {category_code!r} does not exist; not linked.")
                    continue
                categories.append((category_id, to_int(entry.get("SortOrder"), "SortOrder") or 0))
            if categories != meta.category_ids:
                meta.category_ids = categories
                dirty = True
        listed = self._names.get(lists, frozenset())
        for member, prop in _PRODUCT_RAW_FIELDS:
            if member in listed or (creating and f"{member}CreateOnly" in listed):
                dirty = changed(meta.fields, {prop: item.get(prop)}) or dirty
        self._refresh_names(product, meta, dirty=dirty, names_dirty=names_dirty, creating=creating)

    def _apply_variant_level(
        self,
        product: Row,
        variant: Mapping[str, Any],
        manufacturer_code: str | None,
        mpn: str | None,
        *,
        creating: bool,
    ) -> None:
        data = self.data
        meta = data.product_meta[product["Id"]]
        lists = "VariantFieldsThatAreSet"
        dirty = names_dirty = False
        if (
            not creating
            and self.has(lists, "ManufacturerPartNo")
            and mpn
            and product["ManufacturerPartNo"] != mpn
        ):
            data.product_by_mpn.pop(
                (meta.manufacturer_code or "", product["ManufacturerPartNo"]), None
            )
            product["ManufacturerPartNo"] = mpn
            data.product_by_mpn[(meta.manufacturer_code or manufacturer_code or "", mpn)] = product[
                "Id"
            ]
            dirty = True
        if self.has(lists, "Cultures"):
            values = _culture_values(
                variant.get("Cultures"),
                self.listed("VariantCultureFieldsThatAreSet"),
                "VariantCultureField",
                creating=creating,
            )
            names_dirty = _merge_cultures(meta.cultures, values)
        for member in ("SortOrderValue", "StockDisplayBreakPoint", "IsDangerousGoods"):
            if self.has(lists, member):
                dirty = changed(meta.fields, {member: variant.get(member)}) or dirty
        self._refresh_names(product, meta, dirty=dirty, names_dirty=names_dirty, creating=creating)

    def _refresh_names(
        self, product: Row, meta: ProductMeta, *, dirty: bool, names_dirty: bool, creating: bool
    ) -> None:
        data = self.data
        if names_dirty:
            product["DefaultName"] = data.default_text(meta.cultures, "Name")
            product["DefaultUniqueUrlName"] = data.default_text(meta.cultures, "UniqueUrlName")
        if not (dirty or names_dirty) or creating:
            return
        product["Updated"] = self.now
        self.changes.updates += 1
        # Norce's SkuChangedNotification is per SKU; a product-level change notifies every
        # SKU of the product. Name/text changes are reported as tClientProductSkuCulture
        # (the emulator's approximation: product culture tables are not in the documented
        # EntityChanged list).
        for part_no in data.skus_by_product.get(product["Id"], {}):
            if dirty:
                data.sku_event(self.changes, part_no, "tClientProductSku")
            if names_dirty:
                data.sku_event(self.changes, part_no, "tClientProductSkuCulture")

    def _apply_sku(self, product: Row, sku: Mapping[str, Any]) -> bool:
        data = self.data
        lists = "SkuFieldsThatAreSet"
        part_no = to_str(sku.get("PartNo"), "PartNo")
        if not part_no:
            existing = list(data.skus_by_product.get(product["Id"], {}))
            if len(existing) != 1:
                self.problem("SKU without PartNo cannot be matched; SKU ignored.")
                return False
            part_no = existing[0]
        row = data.skus.get(part_no)
        creating = row is None
        if row is None:
            message = self._sku_create_problem(sku)
            if message:
                self.problem(message)
                return False
            try:
                status = enum_value("SkuStatus", sku["Status"], where="Status")
                type_id = enum_value("SkuType", sku["Type"], where="Type")
            except ValueError as exc:
                self.problem(f"SKU {part_no!r}: {exc}; SKU not created.")
                return False
            row = {
                "PartNo": part_no,
                "ProductId": product["Id"],
                "ClientId": data.client_id,
                "StatusId": status,
                "TypeId": type_id,
                "IntegrationPartNo": None,
                "ErpName": None,
                "EanCode": None,
                "IsPublished": True,
                "IsBlocked": False,
                "Created": self.now,
                "Updated": self.now,
            }
            data.skus.upsert(row)
            data.sku_meta[part_no] = SkuMeta()
            data.skus_by_product.setdefault(product["Id"], {})[part_no] = None
            self.changes.inserts += 1
            data.sku_event(self.changes, part_no, "tClientProductSku")
            data.refresh_product_active(product["Id"], self.now)
        meta = data.sku_meta[part_no]
        meta.owner = self.header.account_id
        values: dict[str, Any] = {}
        meta_values: dict[str, Any] = {}
        for member in self.members(lists):
            try:
                if member == "Status" or (member == "StatusCreateOnly" and creating):
                    if sku.get("Status") is not None:
                        values["StatusId"] = enum_value("SkuStatus", sku["Status"], where="Status")
                elif member == "Type":
                    if sku.get("Type") is not None:
                        values["TypeId"] = enum_value("SkuType", sku["Type"], where="Type")
                elif member in _SKU_FIELDS:
                    prop, convert, on_row = _SKU_FIELDS[member]
                    value = convert(sku.get(prop if member != "VatRate" else "VatRates"), prop)
                    (values if on_row else meta_values)[prop] = value
            except ValueError as exc:  # FieldError is a ValueError too
                self.problem(f"SKU {part_no!r}: {exc}; field not written.")
        if "StatusId" in values:
            meta.status_before_fullfile = None
        elif self.full_file and meta.status_before_fullfile is not None:
            # A FullFile import that includes a SKU it had deactivated heals it.
            values["StatusId"] = meta.status_before_fullfile
            meta.status_before_fullfile = None
        if not creating:
            row_changed = changed(row, values)
            meta_changed = changed(meta.fields, meta_values)
            if row_changed or meta_changed:
                row["Updated"] = self.now
                self.changes.updates += 1
                data.sku_event(self.changes, part_no, "tClientProductSku")
                if "StatusId" in values:
                    data.refresh_product_active(product["Id"], self.now)
        else:
            row.update(values)
            meta.fields.update(meta_values)
            data.refresh_product_active(product["Id"], self.now)
        cultures = _culture_values(
            sku.get("Cultures"),
            self.listed("SkuCultureFieldsThatAreSet"),
            "SkuCultureField",
            creating=creating,
        )
        if cultures and _merge_cultures(meta.cultures, cultures):
            row["ErpName"] = data.default_text(meta.cultures, "ErpName")
            if not creating:
                row["Updated"] = self.now
                self.changes.updates += 1
            data.sku_event(self.changes, part_no, "tClientProductSkuCulture")
        if self.has(lists, "StandardPrice") and isinstance(sku.get("StandardPrice"), dict):
            price = sku["StandardPrice"]
            price_list_id: int | None
            if price.get("PriceListCode"):
                price_list_id = None
            else:
                price_list_id = next(
                    (r["PriceListId"] for r in data.price_lists.rows.values() if r["IsPrimary"]),
                    None,
                )
            self.write_price(price, part_no, standard=True, price_list_id=price_list_id)
        return True

    def finish(self) -> None:
        if not self.full_file:
            return
        data = self.data
        account = self.header.account_id
        for code, members in self.cluster_payload.items():
            for product_id in list(data.cluster_members.get(code, {})):
                if product_id not in members:
                    product = data.products.get(product_id)
                    assert product is not None
                    data.set_product_cluster(product, None)
                    product["Updated"] = self.now
                    self.changes.updates += 1
                    for part_no in data.skus_by_product.get(product_id, {}):
                        data.sku_event(self.changes, part_no, "tClientProductSku")
        deactivated = 0
        for part_no, meta in data.sku_meta.items():
            if meta.owner != account or part_no in self.seen_part_nos:
                continue
            row = data.skus.get(part_no)
            if row is None or row["StatusId"] == SKU_INACTIVE:
                continue
            meta.status_before_fullfile = row["StatusId"]
            data.touch_sku(self.changes, part_no, {"StatusId": SKU_INACTIVE})
            deactivated += 1
        if deactivated:
            self.changes.info(
                f"FullFile: {deactivated} SKU(s) of account {account} missing from the"
                " import were set to Inactive."
            )


class SkuPriceImport(ImportRun):
    """``Product/ImportSkuPriceLists``."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.lists_present: set[int] = set()

    def apply_item(self, item: dict[str, Any]) -> bool:
        data = self.data
        part_no = to_str(item.get("PartNo"), "PartNo") or ""
        code = to_str(item.get("PriceListCode"), "PriceListCode") or ""
        price_list_id = data.price_list_by_code.get(code)
        if price_list_id is not None:
            self.lists_present.add(price_list_id)
        if data.skus.get(part_no) is None:
            self.problem(f"SKU {part_no!r} does not exist; price row ignored.")
            return True
        if price_list_id is None:
            self.problem(f"Price list {code!r} does not exist; price row ignored.")
            return True
        self.write_price(item, part_no, standard=False, price_list_id=price_list_id)
        return True

    def finish(self) -> None:
        if not self.full_file:
            return
        data = self.data
        count = 0
        for price_list_id in self.lists_present:
            for key in data.price_keys_by_list.get(price_list_id, {}):
                row = data.sku_prices.rows.get(key)
                if row is None or key in self.seen_prices or not row["IsActive"]:
                    continue
                row["IsActive"] = False
                row["Updated"] = self.now
                self.changes.updates += 1
                data.sku_event(self.changes, key[0], "tClientProductSkuPriceList")
                count += 1
        if count:
            self.changes.info(
                f"FullFile: {count} price row(s) missing from the import deactivated."
            )


class PriceListImport(ImportRun):
    """``Product/ImportPriceLists``: creates missing price lists; warehouses as listed."""

    def apply_item(self, item: dict[str, Any]) -> bool:
        data = self.data
        code = to_str(item.get("Code"), "Code") or ""
        existing = data.price_list_by_code.get(code)
        creating = existing is None
        if existing is None:
            row = data.create_price_list(
                code, self.now, currency_code=to_str(item.get("CurrencyCode"), "CurrencyCode")
            )
            self.changes.inserts += 1
        else:
            found = data.price_lists.get(existing)
            assert found is not None
            row = found
        price_list_id: int = row["PriceListId"]
        values: dict[str, Any] = {}
        make_primary = False
        for member in self.members("PriceListFieldsThatAreSet"):
            if member in ("Name", "Description"):
                values[member] = to_str(item.get(member), member) or (
                    code if member == "Name" else None
                )
            elif member == "CurrencyCode":
                currency = to_str(item.get("CurrencyCode"), "CurrencyCode")
                currency_id = data.currency_by_code.get((currency or "").upper())
                if currency_id is None:
                    self.problem(f"currency {currency!r} does not exist; CurrencyCode not written.")
                else:
                    values["CurrencyId"] = currency_id
            elif member in ("StartDate", "EndDate"):
                values[member] = to_datetime(item.get(member), member)
            elif member == "IsPublic":
                values["IsPublic"] = bool(to_bool(item.get("IsPublic"), "IsPublic"))
            elif member == "IsPrimary":
                make_primary = bool(to_bool(item.get("IsPrimary"), "IsPrimary"))
            elif member == "Warehouses":
                self._warehouses(item.get("Warehouses"))
            else:
                data.price_list_meta[price_list_id][member] = item.get(member)
        if changed(row, values) and not creating:
            row["Updated"] = self.now
            self.changes.updates += 1
        if make_primary and not row["IsPrimary"]:
            data.set_primary_price_list(price_list_id, self.now)
        return True

    def _warehouses(self, warehouses: Any) -> None:
        data = self.data
        for warehouse in warehouses or []:
            code = to_str(warehouse.get("Code"), "Warehouses[].Code")
            if not code:
                self.problem("Warehouses[].Code is required; warehouse ignored.")
                continue
            locations = warehouse.get("Locations") or []
            for location in locations:
                location_code = to_str(location.get("Code"), "Locations[].Code")
                if not location_code:
                    self.problem("Locations[].Code is required; location ignored.")
                    continue
                warehouse_id, location_id = data.ensure_location(code, location_code, self.now)
                loc_row = data.locations[warehouse_id][location_id]
                values: dict[str, Any] = {}
                for member in self.members("WarehouseLocationFieldsThatAreSet"):
                    if member == "Name":
                        values["Name"] = to_str(location.get("Name"), "Name")
                    elif member == "LeadTimeDayCount":
                        values[member] = to_int(location.get(member), member)
                    else:
                        values[member] = to_bool(location.get(member), member)
                if changed(loc_row, values):
                    loc_row["Updated"] = self.now
            found_id = data.warehouse_by_code.get(code)
            if found_id is None:
                self.problem(f"warehouse {code!r} has no Locations; not created.")
                continue
            wh_row = data.warehouses.get(found_id)
            assert wh_row is not None
            values = {}
            for member in self.members("WarehouseFieldsThatAreSet"):
                if member == "Type":
                    raw = warehouse.get("Type")
                    values["TypeId"] = (
                        None if raw is None else enum_value("WarehouseType", raw, where="Type")
                    )
                elif member == "Name":
                    values["Name"] = to_str(warehouse.get("Name"), "Name")
                else:
                    values[member] = to_int(warehouse.get(member), member)
            if changed(wh_row, values):
                wh_row["Updated"] = self.now


class OnhandImport(ImportRun):
    """``Product/ImportOnhands``; FullFile scope = warehouse + location."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.scopes: set[tuple[int, int]] = set()
        self.seen: set[tuple[Any, ...]] = set()

    def apply_item(self, item: dict[str, Any]) -> bool:
        data = self.data
        part_no = to_str(item.get("PartNo"), "PartNo") or ""
        warehouse = to_str(item.get("WarehouseCode"), "WarehouseCode") or ""
        location = to_str(item.get("LocationCode"), "LocationCode") or ""
        ids = data.find_location(warehouse, location)
        if ids is None and data.auto_create_warehouses:
            ids = data.ensure_location(warehouse, location, self.now)
            self.changes.info(f"Warehouse {warehouse!r} location {location!r} created.")
        if ids is not None:
            self.scopes.add(ids)
        if data.skus.get(part_no) is None:
            self.problem(f"SKU {part_no!r} does not exist; on-hand row ignored.")
            return True
        if ids is None:
            self.problem(
                f"warehouse {warehouse!r} / location {location!r} does not exist;"
                " on-hand row ignored."
            )
            return True
        self.seen.add((part_no, *ids))
        values: dict[str, Any] = {}
        for member in self.members("SkuOnhandFieldsThatAreSet"):
            if member == "OnhandValue":
                amount = to_decimal(item.get("OnhandValue"), "OnhandValue")
                if amount is not None:
                    values["OnHandValue"] = amount
            elif member in ("IncomingValue", "MinimumValue", "MaximumValue"):
                values[member] = to_decimal(item.get(member), member)
            elif member == "NextDeliveryDate":
                values[member] = to_datetime(item.get(member), member)
            elif member == "LeadTimeDayCount":
                values[member] = to_int(item.get(member), member)
            elif member == "IsActive":
                flag = to_bool(item.get("IsActive"), "IsActive")
                if flag is not None:
                    values["IsActive"] = flag
            elif member == "OnOrderValue" and item.get("OnOrderValue") is not None:
                self.problem("OnOrderValue is deprecated and no longer supported; ignored.")
            # Infos (11): accepted, not stored by the emulator.
        data.upsert_onhand(
            self.changes,
            part_no=part_no,
            warehouse_id=ids[0],
            location_id=ids[1],
            values=values,
            reactivate=self.full_file,
        )
        return True

    def finish(self) -> None:
        if not self.full_file:
            return
        data = self.data
        count = 0
        for scope in self.scopes:
            for key in data.onhand_keys_by_scope.get(scope, {}):
                row = data.onhands.rows.get(key)
                if row is None or key in self.seen or not row["IsActive"]:
                    continue
                row["IsActive"] = False
                row["Updated"] = self.now
                self.changes.updates += 1
                data.sku_event(self.changes, key[0], "tClientProductSkuOnHand")
                count += 1
        if count:
            self.changes.info(
                f"FullFile: {count} on-hand row(s) missing from the import deactivated."
            )


class RelationImport(ImportRun):
    """``Product/ImportRelations`` (Query set ``Products/ProductRelations`` is UNCONFIRMED)."""

    def apply_item(self, item: dict[str, Any]) -> bool:
        data = self.data
        part_no = to_str(item.get("PartNo"), "PartNo") or ""
        related = to_str(item.get("RelatedPartNo"), "RelatedPartNo") or ""
        type_code = to_str(item.get("RelationTypeCode"), "RelationTypeCode") or ""
        sku = data.skus.get(part_no)
        related_sku = data.skus.get(related)
        if sku is None or related_sku is None:
            missing = part_no if sku is None else related
            self.problem(f"SKU {missing!r} does not exist; relation ignored.")
            return True
        if type_code not in data.relation_types:
            data.relation_types[type_code] = len(data.relation_types) + 1
        key = (part_no, related, type_code)
        row = data.relations.rows.get(key)
        creating = row is None
        if row is None:
            row = {
                "PartNo": part_no,
                "RelatedPartNo": related,
                "RelationTypeCode": type_code,
                "RelationTypeId": data.relation_types[type_code],
                "ProductId": sku["ProductId"],
                "RelatedProductId": related_sku["ProductId"],
                "IsActive": True,
                "IsVariantUnique": False,
                "IsRelatedVariantUnique": False,
                "SortOrder": None,
                "DefaultName": None,
                "Created": self.now,
                "Updated": self.now,
            }
            data.relations.rows[key] = row
            self.changes.inserts += 1
        values: dict[str, Any] = {}
        for member in self.members("RelationFieldsThatAreSet"):
            prop = member.removesuffix("CreateOnly")
            if member.endswith("CreateOnly") and not creating:
                continue
            if prop in ("IsActive", "IsVariantUnique", "IsRelatedVariantUnique"):
                flag = to_bool(item.get(prop), prop)
                if flag is not None:
                    values[prop] = flag
            elif prop == "SortOrder":
                values[prop] = to_int(item.get(prop), prop)
            elif prop == "DefaultName":
                values[prop] = to_str(item.get(prop), prop)
            # Other texts and Cultures: accepted, not exposed by the emulator.
        if changed(row, values) and not creating:
            row["Updated"] = self.now
            self.changes.updates += 1
        return True

    def finish(self) -> None:
        if self.full_file:
            self.changes.info(
                "FullFile has no documented effect on relations; the emulator ignores it."
            )


class CompetitorImport(ImportRun):
    """``Product/ImportCompetitorSkus`` (stored; no Query entity set is documented)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.competitors: set[str] = set()

    def apply_item(self, item: dict[str, Any]) -> bool:
        data = self.data
        part_no = to_str(item.get("PartNo"), "PartNo") or ""
        competitor = to_str(item.get("CompetitorCode"), "CompetitorCode") or ""
        self.competitors.add(competitor)
        if data.skus.get(part_no) is None:
            self.problem(f"SKU {part_no!r} does not exist; competitor price ignored.")
            return True
        key = (part_no, competitor)
        row = data.competitor_skus.get(key)
        creating = row is None
        values: dict[str, Any] = {
            "PartNo": part_no,
            "CompetitorCode": competitor,
            "Source": to_str(item.get("Source"), "Source"),
            "CompetitorPartNo": to_str(item.get("CompetitorPartNo"), "CompetitorPartNo"),
            "PriceSale": to_decimal(item.get("PriceSale"), "PriceSale"),
            "PriceSaleInclFreight": to_decimal(
                item.get("PriceSaleInclFreight"), "PriceSaleInclFreight"
            ),
            "IsPricesInclVat": to_bool(item.get("IsPricesInclVat"), "IsPricesInclVat"),
            "IsInStock": to_bool(item.get("IsInStock"), "IsInStock"),
            "CurrencyCode": to_str(item.get("CurrencyCode"), "CurrencyCode"),
            "SalesArea": item.get("SalesArea"),
            "IsActive": True,
        }
        for member in self.members("CompetitorSkuFieldsThatAreSet"):
            if member == "VatRate":
                values["VatRate"] = to_decimal(item.get("VatRate"), "VatRate")
            elif member in ("CompetitorName", "ProductName"):
                values[member] = to_str(item.get(member), member)
            # ExternalPopularities (3): deprecated, not supported any longer.
        if row is None:
            row = {"Created": self.now, "Updated": self.now}
            data.competitor_skus[key] = row
            row.update(values)
            self.changes.inserts += 1
        elif changed(row, values) and not creating:
            row["Updated"] = self.now
            self.changes.updates += 1
        return True

    def finish(self) -> None:
        if not self.full_file:
            return
        count = 0
        for (_part_no, competitor), row in self.data.competitor_skus.items():
            if competitor not in self.competitors and row["IsActive"]:
                row["IsActive"] = False
                row["Updated"] = self.now
                self.changes.updates += 1
                count += 1
        if count:
            self.changes.info(
                f"FullFile: {count} price(s) of competitors not in the import deactivated."
            )


_CUSTOMER_ROW_FIELDS = {
    "Code": to_str,
    "EmailAddress": to_str,
    "Title": to_str,
    "FirstName": to_str,
    "MiddleName": to_str,
    "LastName": to_str,
    "PhoneNumber": to_str,
    "CellPhoneNumber": to_str,
    "CrmId": to_str,
}
_COMPANY_ROW_FIELDS = {
    "Code": to_str,
    "OrganizationNo": to_str,
    "Name": to_str,
    "EmailAddress": to_str,
    "PhoneNumber": to_str,
    "VatNo": to_str,
}


class CustomerImport(ImportRun):
    """``Customer/ImportCustomers``: match Id, Code, EmailAddress; ``IsCompanyListDelta``."""

    def apply_item(self, item: dict[str, Any]) -> bool:
        customer_id = self.upsert_customer(item, "CustomerFieldsThatAreSet")
        return customer_id is not None

    def upsert_customer(self, item: Mapping[str, Any], lists: str) -> int | None:
        """Insert or update one customer per ``lists``; None if it failed."""
        data = self.data
        row = self.find_customer(item, by_email=not self.has(lists, "SearchOnlyByCode"))
        creating = row is None
        members = self.members(lists)
        if row is None:
            required = ("Code", "FirstName", "LastName", "EmailAddress")
            missing = [n for n in required if n not in members or not item.get(n)]
            if missing:
                self.problem(
                    f"cannot create customer: {', '.join(missing)} must be sent and listed in"
                    " CustomerFieldsThatAreSet."
                )
                return None
            customer_id = data.next_id("customer")
            row = {
                "Id": customer_id,
                "Key": data.new_key(),
                "Code": None,
                "CustomerCode": None,
                "EmailAddress": None,
                "Title": None,
                "FirstName": None,
                "MiddleName": None,
                "LastName": None,
                "PhoneNumber": None,
                "CellPhoneNumber": None,
                "CrmId": None,
                "ApplicationId": data.application_id,
                "IsActive": True,
                "IsForgotten": False,
                "Created": self.now,
                "Updated": self.now,
            }
            data.customers.upsert(row)
            data.customer_meta[customer_id] = {}
            self.changes.inserts += 1
        values: dict[str, Any] = {}
        for member in members:
            if member in _CUSTOMER_ROW_FIELDS:
                values[member] = _CUSTOMER_ROW_FIELDS[member](item.get(member), member)
            elif member == "IsActive":
                flag = to_bool(item.get("IsActive"), "IsActive")
                if flag is not None:
                    values["IsActive"] = flag
            elif member not in ("Id", "SearchOnlyByCode", "PreserveFlags", "Companies"):
                data.customer_meta[row["Id"]][member] = item.get(member)
        if "Code" in values:
            values["CustomerCode"] = values["Code"]  # 3.0 reference name; 2.0 UNCONFIRMED
        self._reindex_customer(row, values)
        if changed(row, values) and not creating:
            row["Updated"] = self.now
            self.changes.updates += 1
            data.customer_event(self.changes, row["Id"], "tClientCustomer")
        elif creating:
            data.customer_event(self.changes, row["Id"], "tClientCustomer")
        if lists == "CustomerFieldsThatAreSet" and self.has(lists, "Companies"):
            self._companies(row["Id"], item)
        return int(row["Id"])

    def find_customer(self, item: Mapping[str, Any], *, by_email: bool = True) -> Row | None:
        """Match on Id, then Code, then EmailAddress (unless SearchOnlyByCode)."""
        data = self.data
        if item.get("Id") is not None:
            return data.customers.get(to_int(item.get("Id"), "Id"))
        code = to_str(item.get("Code"), "Code")
        if code:
            customer_id = data.customer_by_code.get(code)
            if customer_id is not None:
                return data.customers.get(customer_id)
        email = to_str(item.get("EmailAddress"), "EmailAddress")
        if by_email and email:
            customer_id = data.customer_by_email.get(email.casefold())
            if customer_id is not None:
                return data.customers.get(customer_id)
        return None

    def _reindex_customer(self, row: Row, values: Mapping[str, Any]) -> None:
        data = self.data
        if "Code" in values and values["Code"] != row.get("Code"):
            data.customer_by_code.pop(row.get("Code") or "", None)
            if values["Code"]:
                data.customer_by_code[values["Code"]] = row["Id"]
        if "EmailAddress" in values and values["EmailAddress"] != row.get("EmailAddress"):
            data.customer_by_email.pop((row.get("EmailAddress") or "").casefold(), None)
            if values["EmailAddress"]:
                data.customer_by_email[values["EmailAddress"].casefold()] = row["Id"]

    def _companies(self, customer_id: int, item: Mapping[str, Any]) -> None:
        data = self.data
        wanted: set[int] = set()
        for ident in item.get("Companies") or []:
            company = _find_company(data, ident)
            if company is None:
                self.problem(
                    f"company {ident.get('Code') or ident.get('Id')!r} does not exist; not linked."
                )
                continue
            wanted.add(company["Id"])
            data.link_customer_company(self.changes, customer_id, company["Id"], active=True)
        if not to_bool(item.get("IsCompanyListDelta"), "IsCompanyListDelta"):
            for company_id in list(data.companies_by_customer.get(customer_id, {})):
                if company_id not in wanted:
                    data.link_customer_company(self.changes, customer_id, company_id, active=False)


def _find_company(
    data: EmulatorData, ident: Mapping[str, Any], *, by_org: bool = True
) -> Row | None:
    """Identifiers tried in order Id, Code, OrganizationNo (first given wins)."""
    if ident.get("Id") is not None:
        return data.companies.get(to_int(ident.get("Id"), "Id"))
    code = to_str(ident.get("Code"), "Code")
    if code:
        company_id = data.company_by_code.get(code)
        return None if company_id is None else data.companies.get(company_id)
    org = to_str(ident.get("OrganizationNo"), "OrganizationNo")
    if by_org and org:
        company_id = data.company_by_org.get(org)
        return None if company_id is None else data.companies.get(company_id)
    return None


class CompanyImport(CustomerImport):
    """``Customer/ImportCompanies``: match Id, Code, OrganizationNo; ``IsCustomerListDelta``."""

    def apply_item(self, item: dict[str, Any]) -> bool:
        data = self.data
        lists = "CompanyFieldsThatAreSet"
        row = _find_company(data, item, by_org=not self.has(lists, "SearchOnlyByCode"))
        creating = row is None
        members = self.members(lists)
        if row is None:
            missing = [
                n for n in ("Code", "Name", "OrganizationNo") if n not in members or not item.get(n)
            ]
            if missing:
                self.problem(
                    f"cannot create company: {', '.join(missing)} must be sent and listed in"
                    " CompanyFieldsThatAreSet."
                )
                return False
            company_id = data.next_id("company")
            row = {
                "Id": company_id,
                "Key": data.new_key(),
                "Code": None,
                "CompanyCode": None,
                "OrganizationNo": None,
                "Name": None,
                "EmailAddress": None,
                "PhoneNumber": None,
                "VatNo": None,
                "ParentCompanyId": None,
                "IsActive": True,
                "Created": self.now,
                "Updated": self.now,
            }
            data.companies.upsert(row)
            data.company_meta[company_id] = {}
            self.changes.inserts += 1
        values: dict[str, Any] = {}
        for member in members:
            if member in _COMPANY_ROW_FIELDS:
                values[member] = _COMPANY_ROW_FIELDS[member](item.get(member), member)
            elif member == "IsActive":
                flag = to_bool(item.get("IsActive"), "IsActive")
                if flag is not None:
                    values["IsActive"] = flag
            elif member == "ParentCompanyCode":
                parent_code = to_str(item.get(member), member)
                parent_id = data.company_by_code.get(parent_code or "")
                if parent_code and parent_id is None:
                    self.problem(f"parent company {parent_code!r} does not exist; not linked.")
                else:
                    values["ParentCompanyId"] = parent_id
            elif member not in ("Id", "SearchOnlyByCode", "PreserveFlags", "Customers"):
                data.company_meta[row["Id"]][member] = item.get(member)
        if "Code" in values:
            values["CompanyCode"] = values["Code"]  # schema name; 2.0 set UNCONFIRMED
            if values["Code"] != row.get("Code"):
                data.company_by_code.pop(row.get("Code") or "", None)
                if values["Code"]:
                    data.company_by_code[values["Code"]] = row["Id"]
        if "OrganizationNo" in values and values["OrganizationNo"] != row.get("OrganizationNo"):
            data.company_by_org.pop(row.get("OrganizationNo") or "", None)
            if values["OrganizationNo"]:
                data.company_by_org[values["OrganizationNo"]] = row["Id"]
        if changed(row, values) and not creating:
            row["Updated"] = self.now
            self.changes.updates += 1
            data.company_event(self.changes, row["Id"], "tClientCompany")
        elif creating:
            data.company_event(self.changes, row["Id"], "tClientCompany")
        if self.has(lists, "Customers"):
            self._customers(row["Id"], item)
        return True

    def _customers(self, company_id: int, item: Mapping[str, Any]) -> None:
        data = self.data
        wanted: set[int] = set()
        for entry in item.get("Customers") or []:
            # Company customers must already exist (Id, Code, EmailAddress tried in order).
            customer = self.find_customer(entry)
            if customer is None:
                self.problem(
                    f"customer {entry.get('Code') or entry.get('EmailAddress')!r} does not"
                    " exist; not linked."
                )
                continue
            wanted.add(customer["Id"])
            data.link_customer_company(self.changes, customer["Id"], company_id, active=True)
        if not to_bool(item.get("IsCustomerListDelta"), "IsCustomerListDelta"):
            for customer_id in list(data.customers_by_company.get(company_id, {})):
                if customer_id not in wanted:
                    data.link_customer_company(self.changes, customer_id, company_id, active=False)


class SupplierProductImport(ImportRun):
    """``Supplier/ImportProducts``: accepted, validated and logged; not stored."""

    def apply_item(self, item: dict[str, Any]) -> bool:
        return True

    def finish(self) -> None:
        self.changes.info("Supplier products are accepted but not stored by the emulator.")


_RUNS: dict[str, type[ImportRun]] = {
    "products": ProductImport,
    "sku_prices": SkuPriceImport,
    "price_lists": PriceListImport,
    "onhands": OnhandImport,
    "relations": RelationImport,
    "competitor_skus": CompetitorImport,
    "customers": CustomerImport,
    "companies": CompanyImport,
    "supplier_products": SupplierProductImport,
}


def start_import(
    data: EmulatorData, spec: ImportSpec, header: ParsedHeader, changes: ChangeSet
) -> ImportRun:
    """Return the :class:`ImportRun` for ``spec``."""
    return _RUNS[spec.key](data, spec, header, changes)
