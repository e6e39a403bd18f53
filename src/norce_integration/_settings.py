"""Configuration: :class:`NorceSettings` (explicit; constructors never read the environment)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Literal, get_args

import attrs

from ._exceptions import ConfigurationError
from ._retry import RetryPolicy


__all__ = ["Environment", "NorceSettings"]

Environment = Literal["playground", "stage", "prod"]
_ENVIRONMENTS: tuple[str, ...] = get_args(Environment)
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_REGION = re.compile(r"^[a-z]{2,8}$")


def _check_url(setting: str, value: str | None) -> None:
    if value is None:
        return
    if not re.match(r"^https?://[^\s/]+", value):
        raise ConfigurationError(f"must be an http(s) URL, got {value!r}", setting=setting)


@attrs.frozen(kw_only=True)
class NorceSettings:
    """Everything the SDK needs to reach one Norce tenant.

    Hosts follow Norce's pattern ``{slug}.api-{region}[.{environment}].norce.tech``
    (production has no environment label). ``connect_url``, ``query_url`` and
    ``token_url`` override the derived URLs (emulator, proxies).

    Attributes:
        slug: tenant slug, e.g. ``"demo"``.
        client_id: OAuth2 client id.
        client_secret: OAuth2 client secret; never shown in a repr, log or error.
        application_id: application (market) id sent as ``application-id`` to Query.
        account_id: the system account id this source imports as (``AccountId``).
        region: ``"se"`` unless told otherwise.
        environment: ``"playground"``, ``"stage"`` or ``"prod"``; also the OAuth2 scope.
        timeout: seconds for reading a response (per attempt; retries share ``retry.deadline``).
        connect_timeout: seconds to establish a connection.
        retry: the retry policy for every call.

    Raises:
        ConfigurationError: a value is missing or invalid; the error names the setting.
    """

    slug: str | None = None
    client_id: str
    client_secret: str = attrs.field(repr=False)
    application_id: int | None = None
    account_id: int | None = None
    region: str = "se"
    environment: Environment = "prod"
    timeout: float = 30.0
    connect_timeout: float = 10.0
    connect_url: str | None = None
    query_url: str | None = None
    token_url: str | None = None
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)

    def __attrs_post_init__(self) -> None:
        if self.environment not in _ENVIRONMENTS:
            raise ConfigurationError(
                f"must be one of {', '.join(_ENVIRONMENTS)}, got {self.environment!r}",
                setting="environment",
            )
        if not _REGION.match(self.region):
            raise ConfigurationError(f"not a region code: {self.region!r}", setting="region")
        if self.slug is not None and not _SLUG.match(self.slug):
            raise ConfigurationError(
                f"not a tenant slug (lowercase letters, digits, '-'): {self.slug!r}",
                setting="slug",
            )
        missing_urls = [
            name
            for name in ("connect_url", "query_url", "token_url")
            if getattr(self, name) is None
        ]
        if self.slug is None and missing_urls:
            raise ConfigurationError(
                f"is required unless {', '.join(missing_urls)} are all given", setting="slug"
            )
        for name in ("connect_url", "query_url", "token_url"):
            _check_url(name, getattr(self, name))
        if not self.client_id:
            raise ConfigurationError("is required", setting="client_id")
        if not self.client_secret:
            raise ConfigurationError("is required", setting="client_secret")
        for name in ("application_id", "account_id"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ConfigurationError(f"must be an integer, got {value!r}", setting=name)
            if value is not None and value <= 0:
                raise ConfigurationError(f"must be positive, got {value}", setting=name)
        for name in ("timeout", "connect_timeout"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value <= 0:
                raise ConfigurationError(f"must be a positive number, got {value!r}", setting=name)

    @property
    def host(self) -> str:
        """``https://{slug}.api-{region}[.{env}].norce.tech`` (needs ``slug``)."""
        if self.slug is None:
            raise ConfigurationError("is required to derive Norce URLs", setting="slug")
        env = "" if self.environment == "prod" else f".{self.environment}"
        return f"https://{self.slug}.api-{self.region}{env}.norce.tech"

    @property
    def scope(self) -> str:
        """The OAuth2 scope: the environment name."""
        return self.environment

    @property
    def connect_base(self) -> str:
        """Connect 4.0 base URL, always ending in ``/``."""
        return _slash(self.connect_url or f"{self.host}/commerce/connect/4.0/")

    @property
    def query_base(self) -> str:
        """Query 2.0 base URL, always ending in ``/``."""
        return _slash(self.query_url or f"{self.host}/commerce/query/2.0/")

    @property
    def token_endpoint(self) -> str:
        """The OAuth2 token endpoint."""
        return self.token_url or f"{self.host}/identity/1.0/connect/token"

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: object
    ) -> NorceSettings:
        """Read ``NORCE_*`` variables (explicitly; nothing else reads the environment).

        Variables: ``NORCE_SLUG``, ``NORCE_REGION``, ``NORCE_ENVIRONMENT``,
        ``NORCE_CLIENT_ID``, ``NORCE_CLIENT_SECRET``, ``NORCE_APPLICATION_ID``,
        ``NORCE_ACCOUNT_ID``, ``NORCE_CONNECT_URL``, ``NORCE_QUERY_URL``,
        ``NORCE_TOKEN_URL``. Keyword ``overrides`` win over the environment.

        Raises:
            ConfigurationError: a variable is missing or invalid; names the variable.
        """
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name in (
            "slug",
            "region",
            "environment",
            "client_id",
            "client_secret",
            "connect_url",
            "query_url",
            "token_url",
        ):
            raw = env.get(f"NORCE_{name.upper()}")
            if raw is not None and raw.strip():
                values[name] = raw.strip()
        for name in ("application_id", "account_id"):
            var = f"NORCE_{name.upper()}"
            raw = env.get(var)
            if raw is not None and raw.strip():
                try:
                    values[name] = int(raw.strip())
                except ValueError:
                    raise ConfigurationError(
                        f"must be an integer, got {raw.strip()!r}", setting=var
                    ) from None
        values.update(overrides)
        for name in ("client_id", "client_secret"):
            if name not in values:
                raise ConfigurationError("is not set", setting=f"NORCE_{name.upper()}")
        try:
            return cls(**values)  # type: ignore[arg-type]
        except ConfigurationError as exc:
            if exc.setting and not exc.setting.startswith("NORCE_"):
                raise ConfigurationError(
                    str(exc).split(": ", 1)[-1], setting=f"NORCE_{exc.setting.upper()}"
                ) from None
            raise


def _slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"
