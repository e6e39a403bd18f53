"""Pins `NorceEmulator`'s public surface so the per-service split (issue 13) keeps it."""

from __future__ import annotations

import inspect

from norce_integration.testing import NorceEmulator


PUBLIC_MEMBERS = [
    "aadvance", "acomplete_action", "add_category", "adelay", "admin_status", "advance",
    "arun_due", "asgi_app", "cancel_order", "client_secret", "close", "complete_action",
    "confirm_order", "create_order", "dead_letters", "delay", "deliveries", "get_job",
    "handle", "issue_token", "job_history", "job_log", "jobs", "pending_deliveries", "place_order",
    "process_due_jobs", "ready_for_pickup", "release_job", "run_due", "serve",
    "set_order_receiver", "set_sku_name", "set_sku_onhand",
    "set_sku_price", "set_sku_status", "settings", "ship_order", "subscribe",
    "subscriptions", "table", "transport", "unsubscribe", "update_customer",
]  # fmt: skip

PUBLIC_ATTRIBUTES = [
    "account_id", "application_id", "auto_deliver", "base_url", "client_id", "clock",
    "data", "delivery_timeout", "delivery_transport", "events", "faults", "job_timings",
    "max_body_bytes", "norce_client_id", "orders", "page_size", "spool_memory_bytes",
    "token_lifetime", "token_rate_limit",
]  # fmt: skip

CONSTRUCTOR_PARAMETERS = [
    "client_id", "client_secret", "application_id", "account_id", "norce_client_id",
    "base_url", "clock", "seed", "token_lifetime", "token_rate_limit", "job_timings",
    "max_body_bytes", "spool_memory_bytes", "default_culture", "auto_create_warehouses",
    "delivery_transport", "delivery_timeout", "retry_delays", "auto_deliver", "page_size",
]  # fmt: skip


def test_public_methods_and_properties_are_pinned() -> None:
    assert [n for n in dir(NorceEmulator) if not n.startswith("_")] == PUBLIC_MEMBERS


def test_public_instance_attributes_are_pinned() -> None:
    with NorceEmulator() as emulator:
        assert sorted(n for n in vars(emulator) if not n.startswith("_")) == PUBLIC_ATTRIBUTES


def test_constructor_parameters_are_pinned_and_keyword_only() -> None:
    params = list(inspect.signature(NorceEmulator.__init__).parameters.values())[1:]
    assert [p.name for p in params] == CONSTRUCTOR_PARAMETERS
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params)
