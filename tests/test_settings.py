from __future__ import annotations

import pytest

from norce_integration import ConfigurationError, NorceSettings

from .conftest import SECRET


BASE = {"client_id": "id", "client_secret": SECRET}


@pytest.mark.parametrize(
    ("environment", "connect", "query", "token"),
    [
        (
            "prod",
            "https://demo.api-se.norce.tech/commerce/connect/4.0/",
            "https://demo.api-se.norce.tech/commerce/query/2.0/",
            "https://demo.api-se.norce.tech/identity/1.0/connect/token",
        ),
        (
            "stage",
            "https://demo.api-se.stage.norce.tech/commerce/connect/4.0/",
            "https://demo.api-se.stage.norce.tech/commerce/query/2.0/",
            "https://demo.api-se.stage.norce.tech/identity/1.0/connect/token",
        ),
        (
            "playground",
            "https://demo.api-se.playground.norce.tech/commerce/connect/4.0/",
            "https://demo.api-se.playground.norce.tech/commerce/query/2.0/",
            "https://demo.api-se.playground.norce.tech/identity/1.0/connect/token",
        ),
    ],
)
def test_host_pattern_per_environment(environment, connect, query, token):
    s = NorceSettings(slug="demo", environment=environment, **BASE)
    assert (s.connect_base, s.query_base, s.token_endpoint) == (connect, query, token)
    assert s.scope == environment


def test_explicit_urls_override_and_need_no_slug():
    s = NorceSettings(
        connect_url="http://localhost:8765/commerce/connect/4.0",
        query_url="http://localhost:8765/commerce/query/2.0/",
        token_url="http://localhost:8765/identity/1.0/connect/token",
        **BASE,
    )
    assert s.connect_base == "http://localhost:8765/commerce/connect/4.0/"
    assert s.query_base.endswith("/2.0/")


def test_region_is_used():
    s = NorceSettings(slug="demo", region="no", **BASE)
    assert s.connect_base.startswith("https://demo.api-no.norce.tech/")


@pytest.mark.parametrize(
    ("kwargs", "setting"),
    [
        ({"slug": "demo", "environment": "production"}, "environment"),
        ({"slug": "Demo Shop"}, "slug"),
        ({}, "slug"),
        ({"slug": "demo", "region": "s e"}, "region"),
        ({"slug": "demo", "connect_url": "ftp://x"}, "connect_url"),
        ({"slug": "demo", "application_id": 0}, "application_id"),
        ({"slug": "demo", "account_id": "7"}, "account_id"),
        ({"slug": "demo", "timeout": -1}, "timeout"),
    ],
)
def test_invalid_values_name_the_setting(kwargs, setting):
    with pytest.raises(ConfigurationError) as info:
        NorceSettings(**BASE, **kwargs)
    assert info.value.setting == setting
    assert setting in str(info.value)


def test_missing_credentials_name_the_setting():
    with pytest.raises(ConfigurationError, match="client_secret"):
        NorceSettings(slug="demo", client_id="x", client_secret="")


def test_from_env_reads_every_variable():
    env = {
        "NORCE_SLUG": "demo",
        "NORCE_REGION": "se",
        "NORCE_ENVIRONMENT": "stage",
        "NORCE_CLIENT_ID": "cid",
        "NORCE_CLIENT_SECRET": SECRET,
        "NORCE_APPLICATION_ID": "1042",
        "NORCE_ACCOUNT_ID": "12",
        "NORCE_CONNECT_URL": "http://c.local/connect/",
        "NORCE_QUERY_URL": "http://q.local/query/",
        "NORCE_TOKEN_URL": "http://t.local/token",
    }
    s = NorceSettings.from_env(env)
    assert s.slug == "demo"
    assert s.environment == "stage"
    assert s.client_id == "cid"
    assert s.client_secret == SECRET
    assert s.application_id == 1042
    assert s.account_id == 12
    assert s.connect_base == "http://c.local/connect/"
    assert s.query_base == "http://q.local/query/"
    assert s.token_endpoint == "http://t.local/token"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"NORCE_SLUG": "demo", "NORCE_CLIENT_SECRET": "x"}, "NORCE_CLIENT_ID"),
        ({"NORCE_SLUG": "demo", "NORCE_CLIENT_ID": "x"}, "NORCE_CLIENT_SECRET"),
        (
            {
                "NORCE_SLUG": "demo",
                "NORCE_CLIENT_ID": "x",
                "NORCE_CLIENT_SECRET": "y",
                "NORCE_ACCOUNT_ID": "seven",
            },
            "NORCE_ACCOUNT_ID",
        ),
        (
            {
                "NORCE_SLUG": "demo",
                "NORCE_CLIENT_ID": "x",
                "NORCE_CLIENT_SECRET": "y",
                "NORCE_ENVIRONMENT": "lab",
            },
            "NORCE_ENVIRONMENT",
        ),
        ({"NORCE_CLIENT_ID": "x", "NORCE_CLIENT_SECRET": "y"}, "NORCE_SLUG"),
    ],
)
def test_from_env_errors_name_the_variable(env, variable):
    with pytest.raises(ConfigurationError) as info:
        NorceSettings.from_env(env)
    assert info.value.setting == variable


def test_constructor_never_reads_the_environment(monkeypatch):
    monkeypatch.setenv("NORCE_SLUG", "fromenv")
    s = NorceSettings(slug="explicit", **BASE)
    assert s.slug == "explicit"


def test_secret_not_in_repr_or_str():
    s = NorceSettings(slug="demo", **BASE)
    assert SECRET not in repr(s)
    assert SECRET not in str(s)
