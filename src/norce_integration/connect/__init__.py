"""Norce Connect 4.0: the import client and its contracts (:mod:`.models`)."""

from __future__ import annotations

from . import models
from ._body import ImportBody, InvalidItemError
from ._resource import AsyncConnectResource, ConnectResource, SubmittedImport


__all__ = [
    "AsyncConnectResource",
    "ConnectResource",
    "ImportBody",
    "InvalidItemError",
    "SubmittedImport",
    "models",
]
