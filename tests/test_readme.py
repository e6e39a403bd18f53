"""The README's code runs as written (against a served emulator)."""

from __future__ import annotations

import re
from pathlib import Path

from norce_integration.testing import NorceEmulator


README = Path(__file__).parent.parent / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_examples_run(monkeypatch, capsys):
    blocks = _python_blocks()
    assert len(blocks) >= 2
    with NorceEmulator() as emulator, emulator.serve(port=0) as server:
        settings = server.settings()
        for name, value in {
            "NORCE_CLIENT_ID": settings.client_id,
            "NORCE_CLIENT_SECRET": settings.client_secret,
            "NORCE_CONNECT_URL": settings.connect_base,
            "NORCE_QUERY_URL": settings.query_base,
            "NORCE_TOKEN_URL": settings.token_endpoint,
            "NORCE_APPLICATION_ID": str(settings.application_id),
            "NORCE_ACCOUNT_ID": str(settings.account_id),
        }.items():
            monkeypatch.setenv(name, value)
        namespace: dict[str, object] = {}
        exec(compile(blocks[0], "README.md", "exec"), namespace)
        printed = capsys.readouterr().out
        assert "Queued" in printed or "Initialized" in printed or "Succeeded" in printed
        exec(compile(blocks[1], "README.md", "exec"), namespace)
    assert emulator.jobs, "the README's import reached the emulator"
