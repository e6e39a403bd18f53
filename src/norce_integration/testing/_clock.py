"""Emulator clocks: a :class:`ManualClock` for tests and a scalable :class:`SystemClock`.

Everything time-based in the emulator (token lifetimes, job durations, webhook retry
schedule, rate limits, ``Created``/``Updated`` stamps) reads one clock, so a test can
move time forward instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


__all__ = [
    "Clock",
    "ManualClock",
    "SystemClock",
    "format_net_datetime",
    "format_timespan",
    "iso_utc",
]

DEFAULT_START = datetime(2025, 1, 1, 8, 0, 0, tzinfo=UTC)


@runtime_checkable
class Clock(Protocol):
    """What the emulator needs from a clock."""

    def now(self) -> datetime:
        """Return the current emulator time (timezone-aware, UTC)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of emulator time pass (used for injected latency)."""
        ...

    def real_seconds(self, seconds: float) -> float:
        """Return how many wall-clock seconds ``seconds`` of emulator time take."""
        ...


class ManualClock:
    """A clock that only moves when told to.

    Args:
        start: the initial time; naive datetimes are taken as UTC.

    Example:
        >>> clock = ManualClock()
        >>> clock.advance(5)
        >>> clock.now().second
        5
    """

    def __init__(self, start: datetime | None = None) -> None:
        start = DEFAULT_START if start is None else start
        self._now = start if start.tzinfo else start.replace(tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Return the current manual time."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``.

        Prefer :meth:`NorceEmulator.advance`, which also runs everything that falls due
        on the way (job transitions, webhook retries) at its own time.

        Raises:
            ValueError: ``seconds`` is negative.
        """
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._now += timedelta(seconds=seconds)

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (not earlier than now).

        Raises:
            ValueError: ``when`` is earlier than the current time.
        """
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        with self._lock:
            if when < self._now:
                raise ValueError("a clock cannot go backwards")
            self._now = when

    def sleep(self, seconds: float) -> None:
        """Advance by ``seconds`` instantly: latency costs no wall-clock time."""
        self.advance(max(0.0, seconds))

    def real_seconds(self, seconds: float) -> float:
        """Manual time costs no wall-clock time."""
        return 0.0

    def __repr__(self) -> str:
        return f"ManualClock({self.now().isoformat()})"


class SystemClock:
    """The wall clock, optionally running ``speed`` times faster.

    With ``speed=60`` one real second is one emulator minute, so the webhook retry
    schedule (≈22 h) plays out in about 22 minutes.

    Args:
        speed: emulator seconds per real second (> 0).
        start: the emulator time at construction; defaults to the real current time.

    Raises:
        ValueError: ``speed`` is not positive.
    """

    def __init__(self, speed: float = 1.0, start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        base = datetime.now(UTC) if start is None else start
        self._base = base if base.tzinfo else base.replace(tzinfo=UTC)
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        """Return the scaled current time."""
        elapsed = (time.monotonic() - self._t0) * self.speed
        return self._base + timedelta(seconds=elapsed)

    def sleep(self, seconds: float) -> None:
        """Really sleep ``seconds / speed``."""
        if seconds > 0:
            time.sleep(seconds / self.speed)

    def real_seconds(self, seconds: float) -> float:
        """Return ``seconds / speed``."""
        return max(0.0, seconds) / self.speed

    def __repr__(self) -> str:
        return f"SystemClock(speed={self.speed})"


def format_net_datetime(when: datetime) -> str:
    """Format like .NET's JSON DateTime in the Connect docs: ``2023-07-31T16:24:37.967``.

    The value is UTC without an offset, milliseconds, trailing zeros dropped as .NET
    does. Whether Connect sends local time or UTC is UNCONFIRMED; the emulator uses UTC.
    """
    when = when.astimezone(UTC)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    millis = when.microsecond // 1000
    if millis:
        text += f".{millis:03d}".rstrip("0")
    return text


def format_timespan(delta: timedelta) -> str:
    """Format a duration as a .NET TimeSpan: ``hh:mm:ss.fffffff`` (``d.`` prefix past a day).

    The exact wire format of ``JobDto.RunTime`` is UNCONFIRMED; the emulator always
    writes seven fraction digits (the reference example is ``00:00:06.5130000``).
    """
    total_us = max(0, int(delta / timedelta(microseconds=1)))
    days, rest = divmod(total_us, 86_400_000_000)
    hours, rest = divmod(rest, 3_600_000_000)
    minutes, rest = divmod(rest, 60_000_000)
    seconds, micros = divmod(rest, 1_000_000)
    text = f"{hours:02d}:{minutes:02d}:{seconds:02d}.{micros * 10:07d}"
    return f"{days}.{text}" if days else text


def iso_utc(when: datetime) -> str:
    """ISO-8601 UTC with a ``Z`` suffix (admin endpoints, delivery log)."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")
