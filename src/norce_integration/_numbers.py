"""Exact number text shared by the OData builder and the event dedup key."""

from __future__ import annotations

from decimal import Decimal


__all__ = ["number_text"]


def number_text(number: Decimal) -> str:
    """Exact, canonical text of a finite number: ``1``, ``1.0`` and ``1.00`` give ``1``.

    Works on the digits, not through a decimal context, so nothing is rounded and huge
    exponents neither overflow nor expand into millions of digits.
    """
    sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # finite numbers only
    kept = list(digits)
    while len(kept) > 1 and kept[-1] == 0:
        kept.pop()
        exponent += 1
    if kept == [0]:
        return "0"
    text = "".join(map(str, kept))
    neg = "-" if sign else ""
    if 0 <= exponent <= 30:
        return neg + text + "0" * exponent
    if exponent < 0 and -exponent < len(text):
        return f"{neg}{text[:exponent]}.{text[exponent:]}"
    if -30 <= exponent < 0:
        return f"{neg}0.{'0' * (-exponent - len(text))}{text}"
    return f"{neg}{text}E{exponent}"
