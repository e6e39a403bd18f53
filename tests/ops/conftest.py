"""Fixtures of the console's tests: a demo-like store and the console app on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ._support import Demo, build_demo


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    env = build_demo(tmp_path)
    try:
        yield env
    finally:
        env.close()
