"""Emulator token endpoint: client credentials, errors, lifetime, rate limit."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from norce_integration.testing import ManualClock, NorceEmulator, TokenRateLimit


@pytest.fixture
def emulator() -> Iterator[NorceEmulator]:
    with NorceEmulator(clock=ManualClock(), client_id="cid", client_secret="csecret") as emu:
        yield emu


@pytest.fixture
def http(emulator: NorceEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(transport=emulator.transport()) as client:
        yield client


def _form(**overrides: str) -> dict[str, str]:
    form = {
        "grant_type": "client_credentials",
        "client_id": "cid",
        "client_secret": "csecret",
        "scope": "prod",
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v}


def test_client_credentials_issue_a_bearer_token(emulator, http):
    settings = emulator.settings()
    assert settings.token_endpoint == "http://norce-emulator.local/identity/1.0/connect/token"
    response = http.post(settings.token_endpoint, data=_form())
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["access_token"]
    job_list = http.get(
        settings.connect_base + "Job/List",
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert job_list.status_code == 200
    assert job_list.json() == []


@pytest.mark.parametrize(
    "form",
    [_form(client_secret="wrong"), _form(client_id="other"), _form(client_secret="")],
)
def test_wrong_credentials_are_invalid_client(emulator, http, form):
    response = http.post(emulator.settings().token_endpoint, data=form)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}


def test_wrong_grant_type_is_unsupported(emulator, http):
    response = http.post(emulator.settings().token_endpoint, data=_form(grant_type="password"))
    assert response.status_code == 400
    assert response.json() == {"error": "unsupported_grant_type"}


def test_token_endpoint_rejects_get_and_json(emulator, http):
    url = emulator.settings().token_endpoint
    assert http.get(url).status_code == 405
    assert http.post(url, json=_form()).status_code == 400


def test_tokens_expire_on_the_emulator_clock():
    clock = ManualClock()
    with (
        NorceEmulator(clock=clock, token_lifetime=60) as emulator,
        httpx.Client(transport=emulator.transport()) as http,
    ):
        settings = emulator.settings()
        token = http.post(
            settings.token_endpoint,
            data={
                "grant_type": "client_credentials",
                "client_id": settings.client_id,
                "client_secret": emulator.client_secret,
            },
        ).json()
        assert token["expires_in"] == 60
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        assert http.get(settings.connect_base + "Job/Ping", headers=auth).status_code == 200
        clock.advance(61)
        expired = http.get(settings.connect_base + "Job/Ping", headers=auth)
        assert expired.status_code == 401
        assert "invalid_token" in expired.headers["WWW-Authenticate"]


def test_rate_limit_allows_a_burst_then_429_with_retry_after():
    clock = ManualClock()
    with (
        NorceEmulator(
            clock=clock, client_id="cid", client_secret="csecret", token_rate_limit=True
        ) as emulator,
        httpx.Client(transport=emulator.transport()) as http,
    ):
        url = emulator.settings().token_endpoint
        statuses = [http.post(url, data=_form()).status_code for _ in range(23)]
        assert statuses == [200] * 23  # 3 per minute + a burst of 20
        limited = http.post(url, data=_form())
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) == 20  # one request per 20 s refills
        clock.advance(20)
        assert http.post(url, data=_form()).status_code == 200
        assert http.post(url, data=_form()).status_code == 429


def test_rate_limit_is_configurable_and_per_client():
    with (
        NorceEmulator(
            clock=ManualClock(),
            client_id="cid",
            client_secret="csecret",
            token_rate_limit=TokenRateLimit(per_minute=1, burst=0),
        ) as emulator,
        httpx.Client(transport=emulator.transport()) as http,
    ):
        url = emulator.settings().token_endpoint
        assert http.post(url, data=_form()).status_code == 200
        assert http.post(url, data=_form()).status_code == 429
        # Another client id has its own bucket (and then fails authentication).
        assert http.post(url, data=_form(client_id="x")).status_code == 401
