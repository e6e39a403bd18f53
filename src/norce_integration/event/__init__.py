"""Norce Commerce Event webhooks: typed payloads, parsing, dedup keys and type routing.

Example:
    >>> from norce_integration.event import parse_event
    >>> event = parse_event(
    ...     "skuchangednotification",
    ...     b'{"ClientId": 1042, "PartNo": "100011", "EntityChanged": "tClientProductSku"}',
    ... )
    >>> event.entity_key
    ('sku', '100011')
"""

from __future__ import annotations

from ._parse import (
    EVENT_TYPE_HEADER,
    Body,
    Headers,
    dedup_key,
    event_type_from,
    load_body,
    parse_event,
)
from .models import (
    ENTITY_CHANGED_BY_EVENT,
    EVENT_CLASSES,
    KNOWN_ENTITY_CHANGED,
    CompanyChangedNotification,
    CustomerChangedNotification,
    EntityChanged,
    Event,
    EventType,
    InvoiceCaptureCompletedEvent,
    InvoiceCaptureState,
    JobCompletedEvent,
    JobStatus,
    NorceEvent,
    OrderCancelledEvent,
    OrderConfirmedEvent,
    OrderDeliveredEvent,
    OrderEvent,
    OrderPartlyDeliveredEvent,
    OrderPaymentReceivedEvent,
    OrderReadyForPickupEvent,
    OrderReceivedEvent,
    QueryEntity,
    SkuChangedNotification,
    SkuOnHandBreakPointNotification,
    SkuPriceChangedNotification,
    SubscriptionFailedEvent,
    SupplierSkuChangedNotification,
    SupplierSkuOnHandChangedNotification,
    SupplierSkuPriceChangedNotification,
    TranslationRequestedNotification,
    UnknownEvent,
)


__all__ = [
    "ENTITY_CHANGED_BY_EVENT",
    "EVENT_CLASSES",
    "EVENT_TYPE_HEADER",
    "KNOWN_ENTITY_CHANGED",
    "Body",
    "CompanyChangedNotification",
    "CustomerChangedNotification",
    "EntityChanged",
    "Event",
    "EventType",
    "Headers",
    "InvoiceCaptureCompletedEvent",
    "InvoiceCaptureState",
    "JobCompletedEvent",
    "JobStatus",
    "NorceEvent",
    "OrderCancelledEvent",
    "OrderConfirmedEvent",
    "OrderDeliveredEvent",
    "OrderEvent",
    "OrderPartlyDeliveredEvent",
    "OrderPaymentReceivedEvent",
    "OrderReadyForPickupEvent",
    "OrderReceivedEvent",
    "QueryEntity",
    "SkuChangedNotification",
    "SkuOnHandBreakPointNotification",
    "SkuPriceChangedNotification",
    "SubscriptionFailedEvent",
    "SupplierSkuChangedNotification",
    "SupplierSkuOnHandChangedNotification",
    "SupplierSkuPriceChangedNotification",
    "TranslationRequestedNotification",
    "UnknownEvent",
    "dedup_key",
    "event_type_from",
    "load_body",
    "parse_event",
]
