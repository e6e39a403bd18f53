"""Retry policy (built on tenacity) and the pure decisions behind it.

One predicate decides what is retried; one wait function combines exponential backoff,
jitter and ``Retry-After``; an overall deadline bounds the total time so per-attempt
timeouts never stack (see ``RetryPolicy.remaining``).
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Awaitable, Callable
from typing import Literal

import attrs

from ._concurrency import async_sleep as _async_sleep
from ._exceptions import (
    APIConnectionError,
    APITimeoutError,
    RateLimitError,
    ServerError,
    ServiceUnavailableError,
)


__all__ = ["RequestKind", "RetryPolicy", "parse_retry_after", "should_retry"]

RequestKind = Literal["read", "import", "token"]
"""``read``: GET (Query, Job service); ``import``: a Connect import POST (may create a
job); ``token``: the OAuth2 token endpoint."""


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date).

    Returns ``None`` for a missing or unusable value; never a negative number.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when is None:
            return None  # type: ignore[unreachable]
        reference = time.time() if now is None else now
        try:
            seconds = when.timestamp() - reference
        except (OverflowError, OSError, ValueError):
            return None
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def should_retry(exc: BaseException, kind: RequestKind, *, body_sent: bool = False) -> bool:
    """The one retry predicate.

    * connection errors: always for reads and tokens; for imports only when the body was
      never sent (a second job must never appear by surprise);
    * 429 and 503: always (the server refused the work);
    * other 5xx (500, 502, 504): reads and tokens only.
    """
    if isinstance(exc, RateLimitError | ServiceUnavailableError):
        return True
    if isinstance(exc, APIConnectionError):
        if kind == "import":
            return not body_sent and not isinstance(exc, APITimeoutError)
        return True
    if isinstance(exc, ServerError):
        return kind != "import"
    return False


def _async_sleep_or_default(
    value: Callable[[float], Awaitable[None]] | None,
) -> Callable[[float], Awaitable[None]]:
    return _async_sleep if value is None else value


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How calls are retried.

    Attributes:
        max_attempts: attempts in total (1 = no retry).
        deadline: overall seconds for all attempts and waits together.
        initial_wait: first backoff in seconds; doubles per attempt.
        max_wait: cap of one backoff.
        jitter: up to this many random seconds are added to each backoff.
        retry_after_cap: a server's ``Retry-After`` is honoured up to this many seconds.
        sleep: injectable sleep (tests pass a recorder so they never wait).
        async_sleep: injectable async sleep (``None``: ``asyncio.sleep``).
        clock: monotonic clock used for the deadline.
    """

    max_attempts: int = 6
    deadline: float = 120.0
    initial_wait: float = 0.5
    max_wait: float = 15.0
    jitter: float = 0.5
    retry_after_cap: float = 60.0
    sleep: Callable[[float], None] = attrs.field(default=time.sleep, repr=False)
    async_sleep: Callable[[float], Awaitable[None]] = attrs.field(
        default=None, converter=_async_sleep_or_default, repr=False
    )
    clock: Callable[[], float] = attrs.field(default=time.monotonic, repr=False)
    rng: random.Random = attrs.field(factory=random.Random, repr=False, eq=False)

    @classmethod
    def no_wait(cls, *, max_attempts: int = 6) -> RetryPolicy:
        """A policy that retries without sleeping: for tests."""

        async def _no_async_sleep(_: float) -> None:
            return None

        return cls(
            max_attempts=max_attempts,
            sleep=lambda _: None,
            async_sleep=_no_async_sleep,
            jitter=0.0,
        )

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        # The exponent is capped so a huge attempt number cannot overflow a float.
        base = min(self.max_wait, self.initial_wait * 2.0 ** min(max(0, attempt - 1), 60))
        wait = base + (self.rng.uniform(0, self.jitter) if self.jitter > 0 else 0.0)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.retry_after_cap))
        return wait

    def remaining(self, started: float) -> float:
        """Seconds left of the overall deadline for a call started at ``started``."""
        return self.deadline - (self.clock() - started)
