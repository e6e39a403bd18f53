"""The emulator's back office: what an Admin user or a shopper changes in Norce.

Simulated Admin changes (SKU prices, stock, names and statuses; customers; categories)
and simulated checkouts (orders and their status events) change the emulator's data and
fire the events Norce would fire (``SkuChangedNotification``,
``CustomerChangedNotification``, ``OrderReceivedEvent``...). A placed order is also
pushed to the Order Receiver (:mod:`._orders`). The public defaults and documentation are
:class:`NorceEmulator`'s methods of the same names.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ._contracts import enum_value
from ._data import ChangeSet, to_decimal
from ._tables import Row


if TYPE_CHECKING:
    from ._emulator import NorceEmulator


__all__ = ["BackOffice"]


class BackOffice:
    """Simulated Admin changes and checkouts (one per :class:`NorceEmulator`).

    Every change takes the emulator's lock, then fires its events on the emulator's
    :class:`~._events.EventBus`.
    """

    def __init__(self, owner: NorceEmulator, lock: threading.RLock) -> None:
        self._owner = owner
        self._lock = lock

    def _changes(self) -> ChangeSet:
        return ChangeSet(now=self._owner.clock.now(), wants=self._owner.events.wants)

    def _sku_row(self, part_no: str) -> Row:
        row = self._owner.data.skus.get(part_no)
        if row is None:
            raise KeyError(f"SKU {part_no!r} does not exist")
        return row

    # -- SKUs, customers, categories ------------------------------------------------

    def set_sku_price(
        self,
        part_no: str,
        price_sale: Decimal | float | str,
        *,
        price_list_code: str | None,
        quantity_break: int,
    ) -> dict[str, Any]:
        amount = to_decimal(price_sale, "price_sale")
        if amount is None:
            raise ValueError("price_sale is required")
        with self._lock:
            self._sku_row(part_no)
            if price_list_code is None:
                price_list_id = next(
                    r["PriceListId"]
                    for r in self._owner.data.price_lists.rows.values()
                    if r["IsPrimary"]
                )
            else:
                found = self._owner.data.price_list_by_code.get(price_list_code)
                if found is None:
                    raise KeyError(f"price list {price_list_code!r} does not exist")
                price_list_id = found
            changes = self._changes()
            row = self._owner.data.upsert_price(
                changes,
                part_no=part_no,
                price_list_id=price_list_id,
                qty_break=quantity_break,
                values={"PriceSale": amount, "IsActive": True},
            )
            self._owner.events.fire_changes(changes)
            return dict(row)

    def set_sku_onhand(
        self,
        part_no: str,
        onhand_value: Decimal | float | int | str,
        *,
        warehouse_code: str,
        location_code: str,
        minimum_value: Decimal | float | int | str | None,
    ) -> dict[str, Any]:
        amount = to_decimal(onhand_value, "onhand_value")
        if amount is None:
            raise ValueError("onhand_value is required")
        with self._lock:
            self._sku_row(part_no)
            changes = self._changes()
            warehouse_id, location_id = self._owner.data.ensure_location(
                warehouse_code, location_code, changes.now
            )
            values: dict[str, Any] = {"OnHandValue": amount}
            if minimum_value is not None:
                values["MinimumValue"] = to_decimal(minimum_value, "minimum_value")
            row = self._owner.data.upsert_onhand(
                changes,
                part_no=part_no,
                warehouse_id=warehouse_id,
                location_id=location_id,
                values=values,
            )
            self._owner.events.fire_changes(changes)
            return dict(row)

    def set_sku_name(self, part_no: str, name: str, *, culture_code: str | None) -> None:
        with self._lock:
            sku = self._sku_row(part_no)
            data = self._owner.data
            culture = culture_code or data.default_culture
            product = data.products.get(sku["ProductId"])
            assert product is not None
            meta = data.product_meta[product["Id"]]
            if meta.cultures.get(culture, {}).get("Name") == name:
                return
            changes = self._changes()
            meta.cultures.setdefault(culture, {})["Name"] = name
            product["DefaultName"] = data.default_text(meta.cultures, "Name")
            product["Updated"] = changes.now
            for sku_part_no in data.skus_by_product.get(product["Id"], {}):
                data.sku_event(changes, sku_part_no, "tClientProductSkuCulture")
            self._owner.events.fire_changes(changes)

    def set_sku_status(self, part_no: str, status: int | str) -> None:
        status_id = enum_value("SkuStatus", status, where="status")
        with self._lock:
            self._sku_row(part_no)
            changes = self._changes()
            self._owner.data.touch_sku(changes, part_no, {"StatusId": status_id})
            self._owner.events.fire_changes(changes)

    def update_customer(self, customer_id: int, **fields: Any) -> dict[str, Any]:
        data = self._owner.data
        with self._lock:
            row = data.customers.get(customer_id)
            if row is None:
                raise KeyError(f"customer {customer_id} does not exist")
            bad = [k for k in fields if k not in row or k in ("Id", "Key", "Created", "Updated")]
            if bad:
                raise ValueError(f"cannot set customer field(s): {', '.join(bad)}")
            changes = self._changes()
            if "Code" in fields:
                data.customer_by_code.pop(row.get("Code") or "", None)
                data.customer_by_code[fields["Code"]] = customer_id
                fields["CustomerCode"] = fields["Code"]
            if "EmailAddress" in fields:
                data.customer_by_email.pop((row.get("EmailAddress") or "").casefold(), None)
                data.customer_by_email[str(fields["EmailAddress"]).casefold()] = customer_id
            if any(row.get(k) != v for k, v in fields.items()):
                row.update(fields)
                row["Updated"] = changes.now
                data.customer_event(changes, customer_id, "tClientCustomer")
            self._owner.events.fire_changes(changes)
            return dict(row)

    def add_category(self, code: str, name: str, *, parent_code: str | None) -> dict[str, Any]:
        with self._lock:
            return dict(
                self._owner.data.add_category(
                    code, name, self._owner.clock.now(), parent_code=parent_code
                )
            )

    # -- simulated orders -----------------------------------------------------------

    def create_order(
        self,
        items: Sequence[Mapping[str, Any] | tuple[str, int]],
        *,
        customer_id: int | None,
        company_id: int | None,
        order_no: str | None,
        source: str,
        currency_code: str,
        application_id: int | None,
    ) -> dict[str, Any]:
        with self._lock:
            data = self._owner.data
            now = self._owner.clock.now()
            customer = None
            if customer_id is not None:
                customer = data.customers.get(customer_id)
                if customer is None:
                    raise KeyError(f"customer {customer_id} does not exist")
            currency_id = data.currency_by_code.get(currency_code.upper())
            if currency_id is None:
                raise KeyError(f"currency {currency_code!r} does not exist")
            order_id = data.next_id("order")
            basket_id = data.next_id("basket")
            lines: list[Row] = []
            for entry in items:
                if isinstance(entry, tuple):
                    part_no, quantity, price = entry[0], entry[1], None
                else:
                    part_no = str(entry["PartNo"])
                    quantity = entry.get("Quantity", 1)
                    price = entry.get("PriceSale")
                sku = self._sku_row(part_no)
                if price is None:
                    primary = next(
                        r["PriceListId"] for r in data.price_lists.rows.values() if r["IsPrimary"]
                    )
                    row = data.sku_prices.rows.get((part_no, primary, 1))
                    price = row["PriceSale"] if row and row["PriceSale"] is not None else 0
                amount = to_decimal(price, "PriceSale") or Decimal(0)
                qty = to_decimal(quantity, "Quantity") or Decimal(1)
                product = data.products.get(sku["ProductId"])
                lines.append(
                    {
                        "Id": data.next_id("order_item"),
                        "OrderId": order_id,
                        "PartNo": part_no,
                        "ProductName": product["DefaultName"] if product else None,
                        "QtyOrdered": qty,
                        "PriceSale": amount,
                        "DiscountAmount": Decimal(0),
                        "LineAmount": amount * qty,
                        "VatRate": Decimal(25),
                        "StatusId": 0,
                    }
                )
            order = {
                "Id": order_id,
                "ApplicationId": application_id or self._owner.application_id,
                "OrderNo": order_no or f"EMU-{order_id}",
                "OrderDate": now,
                "QuotationId": basket_id,
                "StatusId": 0,
                "TypeId": 1,
                "Source": source,
                "CurrencyId": currency_id,
                "FreightCost": Decimal(0),
                "BuyerCustomerId": customer_id,
                "BuyerCompanyId": company_id,
                "Created": now,
                "Updated": now,
                "IsForgotten": False,
            }
            data.orders.upsert(order)
            data.items_by_order[order_id] = lines
            data.order_meta[order_id] = {
                "ClientOrderRef": str(basket_id),
                "FirstName": customer["FirstName"] if customer else None,
                "LastName": customer["LastName"] if customer else None,
                "CellPhone": customer["CellPhoneNumber"] if customer else None,
                "Email": customer["EmailAddress"] if customer else None,
                "Confirmed": False,
            }
            meta = data.order_meta[order_id]
            self._owner.events.fire(
                "OrderReceivedEvent",
                {
                    "ClientId": self._owner.norce_client_id,
                    "ApplicationId": order["ApplicationId"],
                    "ClientOrderRef": meta["ClientOrderRef"],
                    "Email": meta["Email"],
                    "CellPhone": meta["CellPhone"],
                    "FirstName": meta["FirstName"],
                    "LastName": meta["LastName"],
                    "Source": source,
                },
                now,
            )
            return dict(order)

    def order_event(
        self, order_id: int, status_id: int, event_type: str, **extra: Any
    ) -> dict[str, Any]:
        with self._lock:
            order = self._owner.data.orders.get(order_id)
            if order is None:
                raise KeyError(f"order {order_id} does not exist")
            now = self._owner.clock.now()
            meta = self._owner.data.order_meta[order_id]
            order["StatusId"] = status_id
            order["Updated"] = now
            for line in self._owner.data.items_by_order.get(order_id, []):
                line["StatusId"] = status_id
            if event_type == "OrderConfirmedEvent":
                if meta["Confirmed"]:
                    return dict(order)  # documented: delivered only once per order
                meta["Confirmed"] = True
            self._owner.events.fire(
                event_type,
                {
                    "ClientId": self._owner.norce_client_id,
                    "ApplicationId": order["ApplicationId"],
                    "OrderId": order_id,
                    "OrderNo": order["OrderNo"],
                    "ClientOrderRef": meta["ClientOrderRef"],
                    "CellPhone": meta["CellPhone"],
                    "FirstName": meta["FirstName"],
                    "LastName": meta["LastName"],
                    "Source": order["Source"],
                    **extra,
                },
                now,
            )
            return dict(order)

    def place_order(
        self,
        items: Sequence[Mapping[str, Any] | tuple[str, int]],
        *,
        customer_id: int | None,
        source: str,
        currency_code: str,
        payment_code: int,
        payment_method_code: str,
        delivery_method_code: str,
        extra: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        with self._lock:
            order = self.create_order(
                items,
                customer_id=customer_id,
                company_id=None,
                order_no=None,
                source=source,
                currency_code=currency_code,
                application_id=None,
            )
            row = self._owner.data.orders.get(order["Id"])
            assert row is not None
            row["OrderNo"] = str(row["QuotationId"])
            request = self._owner.orders.place(
                row,
                payment_code=payment_code,
                payment_method_code=payment_method_code,
                delivery_method_code=delivery_method_code,
                extra=extra,
            )
            return {
                **row,
                "ClientOrderRef": request["ClientOrderRef"],
                "OrderRequest": request,
            }
