"""Pure checks of an ``X-StormConnect-Header`` against Norce's rules (reference §2.4, §3).

Norce answers a broken header with a job that silently writes nothing (a field list
without its parent switch is ignored), so the SDK refuses such headers before sending.
Every violation raises :class:`~norce_integration.HeaderRuleError` whose ``rule`` is one
of:

``account-id``
    ``AccountId`` is missing or not a positive integer.
``header-type``
    The header is not the header model of the import kind.
``unknown-field``
    A ``…FieldsThatAreSet`` list is not a list, or holds something that is not a
    member of its enum (a member of another enum, a bool, an unknown integer).
``duplicate-field``
    A list names the same member twice.
``fields-required``
    The list the import requires is missing (``ProductFieldsThatAreSet``,
    ``SkuPriceListFieldsThatAreSet``, ``PriceListFieldsThatAreSet``,
    ``SkuOnhandFieldsThatAreSet``, ``CompetitorSkuFieldsThatAreSet``;
    ``CustomerFieldsThatAreSet`` for ImportCustomers, ``CompanyFieldsThatAreSet`` for
    ImportCompanies).
``fields-empty``
    That required list is empty.
``product-variants``
    ``VariantFieldsThatAreSet`` without ``ProductField.Variants``.
``product-cultures``
    ``ProductCultureFieldsThatAreSet`` without ``ProductField.Cultures``.
``variant-cultures``
    ``VariantCultureFieldsThatAreSet`` without ``VariantField.Cultures``.
``variant-skus``
    ``SkuFieldsThatAreSet`` or ``SkuCultureFieldsThatAreSet`` without
    ``VariantField.Skus``.
``sku-standard-price``
    ``SkuPriceListFieldsThatAreSet`` in a ``ProductHeader`` without
    ``SkuField.StandardPrice``.
``ignore-empty-standard-price``
    ``IgnoreSkuPriceListFieldsWhenEmpty`` in a ``ProductHeader`` without
    ``SkuField.StandardPrice``.
``ignore-empty-subset``
    ``IgnoreSkuPriceListFieldsWhenEmpty`` names a field that is not in
    ``SkuPriceListFieldsThatAreSet``.
``relation-cultures``
    ``RelationCultureFieldsThatAreSet`` without ``RelationField.Cultures``.
``customer-accounts``
    ``AccountFieldsThatAreSet`` without ``CustomerField.Accounts``.
``company-customers``
    ImportCompanies with ``CompanyField.Customers`` but no ``CustomerFieldsThatAreSet``.

An empty optional list counts as "not set": it needs no parent switch.
"""

from __future__ import annotations

import enum
import json
import types
import typing
from collections.abc import Mapping
from typing import Any

import attrs
import orjson

from .._convert import converter, wire_name
from .._exceptions import HeaderRuleError
from .._types import UNSET
from .models import (
    IMPORT_SPECS,
    CompanyField,
    CompetitorSkuHeader,
    CustomerField,
    CustomerHeader,
    Header,
    ImportKind,
    PriceListHeader,
    ProductField,
    ProductHeader,
    RelationField,
    RelationHeader,
    SkuField,
    SkuOnhandHeader,
    SkuPriceListHeader,
    VariantField,
)


__all__ = ["check_header", "header_json"]

# The list each header type always requires (customers/companies depend on the kind).
_REQUIRED_LIST: dict[type[Header], str] = {
    ProductHeader: "product_fields_that_are_set",
    SkuPriceListHeader: "sku_price_list_fields_that_are_set",
    PriceListHeader: "price_list_fields_that_are_set",
    SkuOnhandHeader: "sku_onhand_fields_that_are_set",
    CompetitorSkuHeader: "competitor_sku_fields_that_are_set",
}


@attrs.frozen
class _Switch:
    """A non-empty ``child`` list of ``header`` needs ``switch`` in its ``parent`` list."""

    header: type[Header]
    child: str
    parent: str
    switch: enum.IntEnum
    rule: str


# In the order they are checked; the first one broken is reported.
_SWITCHES = (
    _Switch(
        ProductHeader,
        "variant_fields_that_are_set",
        "product_fields_that_are_set",
        ProductField.Variants,
        "product-variants",
    ),
    _Switch(
        ProductHeader,
        "product_culture_fields_that_are_set",
        "product_fields_that_are_set",
        ProductField.Cultures,
        "product-cultures",
    ),
    _Switch(
        ProductHeader,
        "variant_culture_fields_that_are_set",
        "variant_fields_that_are_set",
        VariantField.Cultures,
        "variant-cultures",
    ),
    _Switch(
        ProductHeader,
        "sku_fields_that_are_set",
        "variant_fields_that_are_set",
        VariantField.Skus,
        "variant-skus",
    ),
    _Switch(
        ProductHeader,
        "sku_culture_fields_that_are_set",
        "variant_fields_that_are_set",
        VariantField.Skus,
        "variant-skus",
    ),
    _Switch(
        ProductHeader,
        "sku_price_list_fields_that_are_set",
        "sku_fields_that_are_set",
        SkuField.StandardPrice,
        "sku-standard-price",
    ),
    _Switch(
        ProductHeader,
        "ignore_sku_price_list_fields_when_empty",
        "sku_fields_that_are_set",
        SkuField.StandardPrice,
        "ignore-empty-standard-price",
    ),
    _Switch(
        RelationHeader,
        "relation_culture_fields_that_are_set",
        "relation_fields_that_are_set",
        RelationField.Cultures,
        "relation-cultures",
    ),
    _Switch(
        CustomerHeader,
        "account_fields_that_are_set",
        "customer_fields_that_are_set",
        CustomerField.Accounts,
        "customer-accounts",
    ),
)


def check_header(header: Header, kind: ImportKind | None = None) -> None:
    """Check an import header against Norce's rules.

    Args:
        header: The header to check.
        kind: The import it is for. Without it, rules that depend on the import
            (header type, the required list of a ``CustomerHeader``) are skipped,
            except that company fields are checked as for ImportCompanies.

    Raises:
        HeaderRuleError: The first rule broken; ``rule`` names it (see the module doc).
    """
    _check_account_id(header)
    # Typed callers cannot get this wrong, but untyped ones (notebooks) can.
    expected = Header if kind is None else IMPORT_SPECS[ImportKind(kind)].header_type
    if not isinstance(typing.cast("object", header), expected):
        msg = f"{kind or 'these'} imports take a {expected.__name__}, got {type(header).__name__}"
        raise HeaderRuleError(msg, rule="header-type")

    lists = _field_lists(header)
    _check_required(header, kind, lists)
    for name, members in lists.items():
        _check_members(type(header), name, members)
    for rule in _SWITCHES:
        if isinstance(header, rule.header):
            _check_switch(rule, lists)
    if isinstance(header, ProductHeader | SkuPriceListHeader):
        _check_ignore_subset(lists)
    if isinstance(header, CustomerHeader) and kind != ImportKind.customers:
        _check_company_customers(lists)


def header_json(header: Header) -> bytes:
    """Serialise a header for ``X-StormConnect-Header``: one line, integer enums, ASCII.

    ``UNSET`` fields are left out. Non-ASCII text (only possible in ``StorageName``) is
    ``\\u``-escaped, because HTTP header values must be ASCII.
    """
    data = converter.unstructure(header)
    raw = orjson.dumps(data)
    if raw.isascii():
        return raw
    return json.dumps(data, ensure_ascii=True, separators=(",", ":")).encode("ascii")


# ---------------------------------------------------------------------------------------


def _check_account_id(header: Any) -> None:
    account_id = getattr(header, "account_id", None)
    if not isinstance(account_id, int) or isinstance(account_id, bool) or account_id <= 0:
        msg = f"AccountId must be the positive id of a system user, got {account_id!r}"
        raise HeaderRuleError(msg, rule="account-id")


_LIST_ENUMS: dict[type[Header], Mapping[str, type[enum.IntEnum]]] = {}


def _list_enums(cls: type[Header]) -> Mapping[str, type[enum.IntEnum]]:
    """Attribute name → enum of every ``list[SomeEnum]`` field of a header class."""
    if cls in _LIST_ENUMS:
        return _LIST_ENUMS[cls]
    hints = typing.get_type_hints(cls)
    found: dict[str, type[enum.IntEnum]] = {}
    for field in attrs.fields(cls):
        for part in (hints[field.name], *typing.get_args(hints[field.name])):
            if typing.get_origin(part) is list:
                (inner,) = typing.get_args(part)
                if isinstance(inner, type) and issubclass(inner, enum.IntEnum):
                    found[field.name] = inner
    return _LIST_ENUMS.setdefault(cls, types.MappingProxyType(found))


def _field_lists(header: Header) -> dict[str, Any]:
    """The field lists that are present (not ``UNSET``), by attribute name."""
    lists = {}
    for name in _list_enums(type(header)):
        value = getattr(header, name)
        if value is not UNSET:
            lists[name] = value
    return lists


def _check_required(header: Header, kind: ImportKind | None, lists: dict[str, Any]) -> None:
    required = next((name for cls, name in _REQUIRED_LIST.items() if isinstance(header, cls)), None)
    if isinstance(header, CustomerHeader):
        if kind == ImportKind.customers:
            required = "customer_fields_that_are_set"
        elif kind == ImportKind.companies:
            required = "company_fields_that_are_set"
    if required is None:
        return
    wire = wire_name(type(header), required)
    if lists.get(required) is None:
        msg = f"{wire} is required for this import"
        raise HeaderRuleError(msg, rule="fields-required")
    if not lists[required]:
        msg = f"{wire} is empty: the import would write nothing"
        raise HeaderRuleError(msg, rule="fields-empty")


def _check_members(cls: type[Header], name: str, members: Any) -> None:
    wire = wire_name(cls, name)
    enum_cls = _list_enums(cls)[name]
    if not isinstance(members, list | tuple):
        msg = f"{wire} must be a list of {enum_cls.__name__}, got {type(members).__name__}"
        raise HeaderRuleError(msg, rule="unknown-field")
    seen: set[int] = set()
    for member in members:
        if not _is_member(member, enum_cls):
            msg = f"{wire} holds {member!r}, which is not a {enum_cls.__name__}"
            raise HeaderRuleError(msg, rule="unknown-field")
        if int(member) in seen:
            msg = f"{wire} names {enum_cls(member).name} more than once"
            raise HeaderRuleError(msg, rule="duplicate-field")
        seen.add(int(member))


def _is_member(value: Any, enum_cls: type[enum.IntEnum]) -> bool:
    if isinstance(value, enum_cls):
        return True
    # A plain int is fine if the enum has it; a member of another enum is a mix-up.
    if isinstance(value, bool | enum.Enum) or not isinstance(value, int):
        return False
    return value in enum_cls._value2member_map_


def _check_switch(rule: _Switch, lists: dict[str, Any]) -> None:
    if lists.get(rule.child) and rule.switch not in (lists.get(rule.parent) or ()):
        child, parent = wire_name(rule.header, rule.child), wire_name(rule.header, rule.parent)
        switch = f"{type(rule.switch).__name__}.{rule.switch.name}"
        msg = f"{child} is set, so {parent} must contain {switch}; else Norce ignores them"
        raise HeaderRuleError(msg, rule=rule.rule)


def _check_ignore_subset(lists: dict[str, Any]) -> None:
    owned = set(lists.get("sku_price_list_fields_that_are_set") or ())
    ignore = lists.get("ignore_sku_price_list_fields_when_empty") or ()
    missing = [str(int(member)) for member in ignore if member not in owned]
    if missing:
        msg = (
            f"IgnoreSkuPriceListFieldsWhenEmpty names fields ({', '.join(missing)}) that are "
            "not in SkuPriceListFieldsThatAreSet"
        )
        raise HeaderRuleError(msg, rule="ignore-empty-subset")


def _check_company_customers(lists: dict[str, Any]) -> None:
    companies = lists.get("company_fields_that_are_set") or ()
    if CompanyField.Customers in companies and not lists.get("customer_fields_that_are_set"):
        msg = (
            "CompanyFieldsThatAreSet contains CompanyField.Customers, so "
            "CustomerFieldsThatAreSet must say which customer fields are imported"
        )
        raise HeaderRuleError(msg, rule="company-customers")
