"""mypy really checks field names: ``typing_fields.py`` must type-check cleanly.

That file marks each typo with a ``type: ignore``; strict mode reports an *unused*
ignore, so the check fails if a misspelt field ever stops being a type error.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.slow
def test_typos_in_field_names_fail_mypy():
    api = pytest.importorskip("mypy.api")
    root = Path(__file__).resolve().parents[2]
    target = Path(__file__).with_name("typing_fields.py")
    stdout, stderr, status = api.run(
        ["--config-file", str(root / "pyproject.toml"), "--no-error-summary", str(target)]
    )
    assert status == 0, stdout + stderr


def test_the_checked_file_holds_typos():
    text = Path(__file__).with_name("typing_fields.py").read_text()
    assert "f(P.part_nr)  # type: ignore[attr-defined]" in text
