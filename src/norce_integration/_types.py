"""Small shared types: the ``UNSET`` sentinel and JSON aliases."""

from __future__ import annotations

import enum
from typing import Any, Final, Literal, TypeAlias


__all__ = ["UNSET", "JSON", "JSONObject", "Unset"]


class _Unset(enum.Enum):
    """Marks a write-model field that is *not sent* (omitted from the JSON).

    ``None`` means "send JSON ``null``"; ``UNSET`` means "leave the key out", so
    Norce keeps whatever it has. A one-member enum lets mypy narrow on ``is UNSET``.
    """

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Final = _Unset.UNSET
Unset: TypeAlias = Literal[_Unset.UNSET]

JSON: TypeAlias = Any
JSONObject: TypeAlias = dict[str, Any]
