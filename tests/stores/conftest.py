"""PostgreSQL for the store tests: a reachable server or a clear skip (a failure under CI).

The server is ``NORCE_TEST_PG_DSN`` (default: the local trust-auth server). Every schema a
test session creates starts with one session prefix (``norce_test_<pid>_<random>``) and
all of them are dropped when the session ends.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest


PG_DSN_ENV = "NORCE_TEST_PG_DSN"
DEFAULT_PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI is set, so the PostgreSQL tests must run", pytrace=False)
    pytest.skip(f"{reason} (set {PG_DSN_ENV} to a reachable server to run them)")


class PgServer:
    """The test server: its DSN, a session schema prefix and an admin connection."""

    def __init__(self, dsn: str, conn: Any) -> None:
        self.dsn = dsn
        self.conn = conn
        self.prefix = f"norce_test_{os.getpid()}_{secrets.token_hex(3)}"
        self._counter = 0

    def new_schema_name(self, label: str = "s") -> str:
        """A schema name no other test of this session uses (not created yet)."""
        self._counter += 1
        return f"{self.prefix}_{label}{self._counter}"

    def execute(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        cur = self.conn.execute(query, params)
        return cur.fetchall() if cur.description else []

    def drop_session_schemas(self) -> None:
        names = [
            r[0]
            for r in self.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (self.prefix + "%",)
            )
        ]
        for name in names:
            self.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The PostgreSQL server, or a skip (a failure when ``CI`` is set) saying why not."""
    dsn = os.environ.get(PG_DSN_ENV) or DEFAULT_PG_DSN
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - the dev install has the extra
        _unavailable(f"psycopg is not installed ({exc})")
        raise
    try:
        conn = psycopg.connect(dsn, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        info = psycopg.conninfo.conninfo_to_dict(dsn)
        where = f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"
        _unavailable(f"no PostgreSQL server reachable at {where}: {str(exc).strip()}")
        raise
    server = PgServer(dsn, conn)
    try:
        yield server
    finally:
        with contextlib.suppress(psycopg.Error):
            server.drop_session_schemas()
        conn.close()


@pytest.fixture
def pg_dsn(pg_server: PgServer) -> str:
    return pg_server.dsn
