"""Shared fixtures: hypothesis profiles and settings for respx tests."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from norce_integration import NorceSettings, RetryPolicy


pytest_plugins = ["tests.loop_guard"]


settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

CONNECT = "https://demo.api-se.playground.norce.tech/commerce/connect/4.0/"
QUERY = "https://demo.api-se.playground.norce.tech/commerce/query/2.0/"
TOKEN = "https://demo.api-se.playground.norce.tech/identity/1.0/connect/token"
SECRET = "s3cr3t-VALUE-never-shown"


class SleepRecorder:
    """Injectable sleep: records waits instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)

    def clock(self) -> float:
        return self.now


@pytest.fixture
def sleeper() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def norce_settings(sleeper: SleepRecorder) -> NorceSettings:
    return NorceSettings(
        slug="demo",
        environment="playground",
        client_id="client-1",
        client_secret=SECRET,
        application_id=1042,
        account_id=7,
        retry=RetryPolicy(
            max_attempts=4,
            deadline=120.0,
            jitter=0.0,
            sleep=sleeper.sleep,
            async_sleep=sleeper.async_sleep,
            clock=sleeper.clock,
        ),
    )


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, object]]:
    # Debug mode and the loop guard's checks (tests/loop_guard.py) for every async test.
    from .loop_guard import loop_factory

    return "asyncio", {"loop_factory": loop_factory}
