"""The shared store for asyncio: PostgreSQL through psycopg 3's ``AsyncConnection`` and a
:class:`psycopg_pool.AsyncConnectionPool`.

:class:`AsyncPostgresStore` is :class:`~norce_integration.stores.PostgresStore` for
asyncio: the same tables, the same schema (both stores may work on one database and
schema at once), the same migrations applied under the same advisory lock, the same
statements and the same guarantees (see :mod:`._postgres` for how each holds across
machines). Nothing runs on a thread: every round trip is awaited on the event loop.

The schema migrations, table list, column lists, chunk sizes, row conversions and the
driver loader are imported from :mod:`._postgres`. The statements themselves are written
inline in the methods of :class:`PostgresStore`, so they are repeated here verbatim;
a change to one must be made to the other (``test_async_postgres_store.py`` checks that
both stores see each other's writes on one schema).

Errors: every driver error becomes a :class:`~norce_integration.StoreError` naming the
operation and the server (host, port, database, schema), never the password.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from .._exceptions import ConfigurationError, StoreError, redact
from ._postgres import (
    _INBOX_COLUMNS,
    _JOB_COLUMNS,
    _KEY_CHUNK,
    _LETTER_COLUMNS,
    _PROBE_CHUNK,
    _PROBE_DEPTH,
    _SCHEMA_NAME,
    _SPOOL_COLUMNS,
    DEFAULT_SCHEMA,
    DSN_ENV,
    MIGRATIONS,
    SCHEMA_ENV,
    _aware,
    _chunks,
    _inbox,
    _job,
    _letter,
    _load_driver,
    _spool,
    _Transient,
    _utc,
    _utc_opt,
    list_jobs_sql,
)
from ._protocol import (
    FINAL_STATUSES,
    DeadLetter,
    FullImportRecord,
    InboxItem,
    InFlightLock,
    ItemVersion,
    JobObservation,
    SpoolEntry,
    TrackedJob,
    TrackedStatus,
    Watermark,
)


if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import AsyncConnectionPool

    AsyncConnection = psycopg.AsyncConnection[tuple[Any, ...]]
    AsyncCursor = psycopg.AsyncCursor[tuple[Any, ...]]


__all__ = ["AsyncPostgresStore"]

log = logging.getLogger(__name__)

T = TypeVar("T")

Params = Mapping[str, Any] | Sequence[Any] | None


class AsyncPostgresStore:
    """The :class:`~norce_integration.stores.AsyncStore` on PostgreSQL, for asyncio.

    Open it with :meth:`open` (which connects, migrates and opens the pool) and close it
    with :meth:`aclose`, or use it as an async context manager:

    Example:
        >>> async with await AsyncPostgresStore.open(dsn) as store:  # doctest: +SKIP
        ...     await store.inbox_append("key", "ProductChangedNotification", b"{}")

    The arguments are those of :class:`~norce_integration.stores.PostgresStore` (see
    there); ``max_size`` bounds the connections the tasks using the store share.

    Every method raises :class:`~norce_integration.StoreError` when PostgreSQL fails or
    cannot be reached, before :meth:`open` finished, or after :meth:`aclose`; no psycopg
    exception escapes.

    Raises:
        ConfigurationError: psycopg is not installed, the DSN cannot be parsed, or an
            argument is invalid (from the constructor, which does no I/O).
        StoreError: from :meth:`open`: the server cannot be reached, the schema cannot be
            created or migrated, or it was written by a newer SDK.
    """

    def __init__(
        self,
        dsn: str,
        *,
        schema: str = DEFAULT_SCHEMA,
        min_size: int = 1,
        max_size: int = 10,
        pool_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        retries: int = 2,
        retry_wait: float = 0.2,
        max_idle: float = 600.0,
        max_lifetime: float = 3600.0,
        prepare_threshold: int | None = 5,
        application_name: str = "norce-integration",
        durable_progress: bool = False,
        clock: Callable[[], float] | None = None,
    ) -> None:
        psycopg, psycopg_pool = _load_driver()
        self._psycopg = psycopg
        self._psycopg_pool = psycopg_pool
        self._password = ""
        if not _SCHEMA_NAME.match(schema):
            msg = f"schema must be a plain identifier (letters, digits, _), got {schema!r}"
            raise ConfigurationError(msg, setting="schema")
        if min_size < 0 or max_size < max(1, min_size):
            msg = f"need 0 <= min_size <= max_size and max_size >= 1, got {min_size}/{max_size}"
            raise ConfigurationError(msg, setting="max_size")
        try:
            params = psycopg.conninfo.conninfo_to_dict(dsn)
        except psycopg.Error as exc:
            msg = f"the PostgreSQL DSN cannot be parsed: {self._scrub(str(exc), dsn)}"
            raise ConfigurationError(msg, setting=DSN_ENV) from None
        self._password = str(params.get("password") or "")
        self.schema = schema
        self.host = str(params.get("host") or os.environ.get("PGHOST") or "localhost")
        port = str(params.get("port") or os.environ.get("PGPORT") or "5432").split(",")[0]
        self.port = int(port) if port.isdigit() else 5432
        self.dbname = str(
            params.get("dbname") or os.environ.get("PGDATABASE") or params.get("user") or ""
        )
        self._clock = clock
        self._durable_progress = durable_progress
        self._retries = max(0, retries)
        self._retry_wait = retry_wait
        self._pool_timeout = pool_timeout
        self._connect_timeout = connect_timeout
        self._min_size = min_size
        self._pool_options: dict[str, Any] = {
            "min_size": min_size,
            "max_size": max_size,
            "timeout": pool_timeout,
            "max_idle": max_idle,
            "max_lifetime": max_lifetime,
            "reconnect_timeout": max(pool_timeout, 60.0),
            "kwargs": {"autocommit": True, "prepare_threshold": prepare_threshold},
        }
        self._closed = False
        self._pool: AsyncConnectionPool[Any] | None = None
        self._queries: dict[str, str] = {}
        self._quoted = '"' + schema + '"'
        extra: dict[str, Any] = {"connect_timeout": max(2, round(connect_timeout))}
        if "application_name" not in params:
            extra["application_name"] = application_name
        self._conninfo: str = psycopg.conninfo.make_conninfo(dsn, **extra)
        self._errors = psycopg.Error
        self._operational = psycopg.OperationalError
        self._retryable = (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected)
        self._pool_timeout_error = psycopg_pool.PoolTimeout

    # ------------------------------------------------------------------ construction

    @classmethod
    async def open(cls, dsn: str, **kwargs: Any) -> AsyncPostgresStore:
        """Connect, create or migrate the schema, and open the pool.

        Args:
            dsn: as :class:`~norce_integration.stores.PostgresStore`.
            **kwargs: any other constructor argument.

        Raises:
            ConfigurationError: as the constructor.
            StoreError: the server cannot be reached, the schema cannot be created or
                migrated, or it was written by a newer SDK.
        """
        store = cls(dsn, **kwargs)
        await store._start()
        return store

    @classmethod
    async def from_env(cls, **kwargs: Any) -> AsyncPostgresStore:
        """An opened store on ``NORCE_STORE_DSN`` (schema from ``NORCE_STORE_SCHEMA``).

        Raises:
            ConfigurationError: ``NORCE_STORE_DSN`` is unset or empty, or as the constructor.
            StoreError: as :meth:`open`.
        """
        dsn = os.environ.get(DSN_ENV, "").strip()
        if not dsn:
            msg = "set it to the PostgreSQL connection string of the shared store"
            raise ConfigurationError(msg, setting=DSN_ENV)
        schema = os.environ.get(SCHEMA_ENV, "").strip()
        if schema and "schema" not in kwargs:
            kwargs["schema"] = schema
        return await cls.open(dsn, **kwargs)

    async def _start(self) -> None:
        if self._pool is not None or self._closed:
            msg = f"{self!r} was already opened"
            raise StoreError(msg)
        # Connect once directly: migrations need one connection, and a direct attempt
        # reports *why* the server is unreachable (the pool would only time out).
        await self._migrate_with_retries()
        pool: AsyncConnectionPool[Any] = self._psycopg_pool.AsyncConnectionPool(
            self._conninfo,
            configure=self._configure,
            name=f"norce-async-store-{self.schema}",
            open=False,
            **self._pool_options,
        )
        try:
            await pool.open(wait=self._min_size > 0, timeout=max(self._connect_timeout, 1.0))
        except (self._errors, self._pool_timeout_error) as exc:
            await pool.close()
            self._closed = True
            raise self._error("open the connection pool", exc) from None
        self._pool = pool

    def __repr__(self) -> str:
        return (
            f"AsyncPostgresStore(host={self.host!r}, port={self.port}, "
            f"dbname={self.dbname!r}, schema={self.schema!r})"
        )

    async def __aenter__(self) -> AsyncPostgresStore:
        if self._pool is None and not self._closed:
            await self._start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pool and all its connections. Idempotent."""
        if self._closed:
            return
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    @property
    def closed(self) -> bool:
        """True after :meth:`aclose`."""
        return self._closed

    async def schema_version(self) -> int:
        """The schema version of the database."""
        row = await self._one(
            "read the schema version", "SELECT MAX(version) FROM {s}.schema_version"
        )
        return int(row[0] or 0) if row is not None else 0

    # ------------------------------------------------------------------ plumbing

    @property
    def _where(self) -> str:
        return (
            f"PostgreSQL at {self.host}:{self.port}, database {self.dbname!r}, "
            f"schema {self.schema!r}"
        )

    def _scrub(self, text: str, *also: str) -> str:
        """Error text without the password (nor a DSN that failed to parse)."""
        for secret in (self._password, *also):
            if secret:
                text = text.replace(secret, "***")
        return redact(text)

    def _error(self, what: str, exc: BaseException) -> StoreError:
        cause = exc.cause if isinstance(exc, _Transient) else exc
        if isinstance(cause, self._pool_timeout_error):
            detail = (
                f"no connection within {self._pool_timeout:g}s (server unreachable or pool "
                f"exhausted): {cause}"
            )
        else:
            detail = f"{type(cause).__name__}: {cause}".strip()
        return StoreError(
            f"AsyncPostgresStore: cannot {what} ({self._where}): {self._scrub(detail)}"
        )

    def _q(self, template: str) -> str:
        """The SQL of ``template`` for this store: ``{s}`` is the schema, ``{now}`` the time."""
        query = self._queries.get(template)
        if query is None:
            now = "%(now)s::timestamptz" if self._clock is not None else "statement_timestamp()"
            query = template.replace("{s}", self._quoted).replace("{now}", now)
            self._queries[template] = query
        return query

    def _p(self, **params: Any) -> dict[str, Any]:
        """Statement parameters, with ``now`` from the manual clock when there is one."""
        if self._clock is not None:
            params["now"] = dt.datetime.fromtimestamp(float(self._clock()), dt.UTC)
        return params

    async def _configure(self, conn: AsyncConnection) -> None:
        # Timestamps come back in UTC; the records want UTC anyway.
        await conn.execute("SET TIME ZONE 'UTC'")

    async def _connect(self) -> AsyncConnection:
        conn: AsyncConnection = await self._psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True
        )
        try:
            await self._configure(conn)
        except BaseException:
            await conn.close()
            raise
        return conn

    async def _migrate_with_retries(self) -> None:
        attempt = 0
        while True:
            try:
                conn = await self._connect()
                break
            except self._operational as exc:
                attempt += 1
                if attempt > self._retries:
                    raise self._error("connect", exc) from None
                await asyncio.sleep(min(5.0, self._retry_wait * 2 ** (attempt - 1)))
            except self._errors as exc:
                raise self._error("connect", exc) from None
        try:
            await self._migrate(conn)
        except self._errors as exc:
            raise self._error("create or migrate the schema", exc) from None
        finally:
            await conn.close()

    async def _migrate(self, conn: AsyncConnection) -> None:
        async with conn.transaction():
            # The same advisory lock as PostgresStore: migrations of one schema are
            # serialised across processes and across both stores; released at commit.
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                (f"norce-integration migrate {self.schema}",),
            )
            await conn.execute(self._q("CREATE SCHEMA IF NOT EXISTS {s}"))
            await conn.execute(
                self._q(
                    "CREATE TABLE IF NOT EXISTS {s}.schema_version (version INTEGER PRIMARY KEY, "
                    "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
                )
            )
            cur = await conn.execute(self._q("SELECT MAX(version) FROM {s}.schema_version"))
            row = await cur.fetchone()
            current = int(row[0] or 0) if row is not None else 0
            if current > len(MIGRATIONS):
                msg = (
                    f"{self._where} has schema version {current}; this SDK knows up to "
                    f"{len(MIGRATIONS)}. Upgrade norce-integration."
                )
                raise StoreError(msg)
            for version in range(current + 1, len(MIGRATIONS) + 1):
                for statement in MIGRATIONS[version - 1]:
                    await conn.execute(self._q(statement))
                await conn.execute(
                    self._q("INSERT INTO {s}.schema_version (version) VALUES (%s)"), (version,)
                )
                log.info("migrated %s to schema version %d", self._where, version)

    async def _attempt(
        self, pool: AsyncConnectionPool[Any], fn: Callable[[AsyncConnection], Awaitable[T]]
    ) -> T:
        async with pool.connection() as conn:
            try:
                return await fn(conn)
            except self._operational as exc:
                if conn.broken or conn.closed:
                    raise _Transient(exc) from exc
                raise
            except self._retryable as exc:
                raise _Transient(exc) from exc

    async def _check_pool(self, exc: BaseException) -> None:
        log.warning(
            "AsyncPostgresStore: retrying after a lost connection or conflict (%s): %s",
            self._where,
            self._scrub(str(exc)),
        )
        # Drop every other stale connection too: after a server restart all of them are.
        if self._pool is None:
            return
        try:
            await self._pool.check()
        except self._errors:  # the server may still be down; the retry will tell
            log.debug("pool check failed", exc_info=True)

    async def _run(self, what: str, fn: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``fn`` on a pooled connection; retry transient failures; wrap errors."""
        if self._closed:
            msg = f"{self!r} is closed"
            raise StoreError(msg)
        pool = self._pool
        if pool is None:
            msg = f"{self!r} is not open (create it with: await AsyncPostgresStore.open(...))"
            raise StoreError(msg)
        attempt = 0
        while True:
            try:
                return await self._attempt(pool, fn)
            except _Transient as exc:
                attempt += 1
                if attempt > self._retries:
                    raise self._error(what, exc) from exc.cause
                await self._check_pool(exc)
                if attempt > 1:  # the first retry is immediate: a stale connection
                    await asyncio.sleep(min(5.0, self._retry_wait * 2 ** (attempt - 2)))
            except (self._errors, self._pool_timeout_error) as exc:
                raise self._error(what, exc) from exc

    async def _one(self, what: str, template: str, params: Params = None) -> tuple[Any, ...] | None:
        query = self._q(template)

        async def run(conn: AsyncConnection) -> tuple[Any, ...] | None:
            cur = await conn.execute(query, params)
            return await cur.fetchone()

        return await self._run(what, run)

    async def _all(
        self, what: str, template: str, params: Params = None, *, relaxed: bool = False
    ) -> list[tuple[Any, ...]]:
        query = self._q(template)

        async def run(conn: AsyncConnection) -> list[tuple[Any, ...]]:
            if relaxed and not self._durable_progress:
                cur = await self._relaxed(conn, query, params)
            else:
                cur = await conn.execute(query, params)
            return await cur.fetchall()

        return await self._run(what, run)

    async def _count(
        self, what: str, template: str, params: Params = None, *, relaxed: bool = False
    ) -> int:
        """Rows affected by one statement (its own transaction)."""
        query = self._q(template)

        async def run(conn: AsyncConnection) -> int:
            if relaxed and not self._durable_progress:
                return (await self._relaxed(conn, query, params)).rowcount
            return (await conn.execute(query, params)).rowcount

        return await self._run(what, run)

    @staticmethod
    async def _relaxed(conn: AsyncConnection, query: str, params: Params) -> AsyncCursor:
        """One statement in a transaction that does not wait for the WAL flush (pipelined)."""
        async with conn.pipeline(), conn.transaction():
            await conn.execute("SET LOCAL synchronous_commit TO off")
            # Results are read after the block: leaving it syncs the pipeline.
            return await conn.execute(query, params)

    # ------------------------------------------------------------------ watermarks

    async def get_watermark(self, kind: str, account_id: int, source: str) -> Watermark | None:
        """See :meth:`Store.get_watermark`."""
        row = await self._one(
            "read a watermark",
            "SELECT value, version, updated_at FROM {s}.watermarks "
            "WHERE kind = %s AND account_id = %s AND source = %s",
            (kind, account_id, source),
        )
        if row is None:
            return None
        return Watermark(kind, account_id, source, row[0], row[1], _utc(row[2]))

    async def compare_and_set_watermark(
        self,
        kind: str,
        account_id: int,
        source: str,
        *,
        expected: str | None,
        new: str,
        allow_backwards: bool = False,
    ) -> bool:
        """See :meth:`Store.compare_and_set_watermark` (one statement either way)."""
        params = self._p(
            kind=kind,
            account=account_id,
            source=source,
            expected=expected,
            new=new,
            back=allow_backwards,
        )
        if expected is None:
            return (
                await self._count(
                    "set a watermark",
                    "INSERT INTO {s}.watermarks (kind, account_id, source, value, version, "
                    "updated_at) VALUES (%(kind)s, %(account)s, %(source)s, %(new)s, 1, {now}) "
                    "ON CONFLICT (kind, account_id, source) DO NOTHING",
                    params,
                )
                > 0
            )
        return (
            await self._count(
                "set a watermark",
                "UPDATE {s}.watermarks SET value = %(new)s, version = version + 1, "
                "updated_at = {now} WHERE kind = %(kind)s AND account_id = %(account)s "
                "AND source = %(source)s AND value = %(expected)s "
                "AND (%(back)s OR %(new)s >= value)",
                params,
            )
            > 0
        )

    # ------------------------------------------------------------------ tracked jobs

    async def _insert_history(
        self, conn: AsyncConnection, observations: Iterable[JobObservation]
    ) -> None:
        rows = [
            (
                o.job_id,
                o.seen_at,
                o.status.value,
                o.status_id,
                _aware(o.last_updated),
                o.source,
                o.note,
            )
            for o in observations
        ]
        if rows:
            async with conn.cursor() as cur:
                await cur.executemany(
                    self._q(
                        "INSERT INTO {s}.job_history (job_id, seen_at, status, status_id, "
                        "last_updated, source, note) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                    ),
                    rows,
                )

    async def insert_job(self, job: TrackedJob) -> bool:
        """See :meth:`Store.insert_job`."""
        query = self._q(
            f"INSERT INTO {{s}}.jobs ({_JOB_COLUMNS}) VALUES ("  # noqa: S608 - fixed columns
            + ", ".join(["%s"] * 21)
            + ") ON CONFLICT (job_id) DO NOTHING"
        )
        values = (
            job.job_id,
            job.kind,
            job.full,
            job.account_id,
            job.submitted_at,
            job.item_count,
            job.payload_digest,
            job.payload_size,
            job.header,
            job.status.value,
            job.status_id,
            job.totals,
            job.inserts,
            job.updates,
            job.fail,
            _aware(job.started_at),
            _aware(job.finished_at),
            _aware(job.last_updated),
            job.polls,
            job.rerun_of,
            job.superseded_by,
        )

        async def run(conn: AsyncConnection) -> bool:
            async with conn.transaction():
                if (await conn.execute(query, values)).rowcount == 0:
                    return False
                await self._insert_history(conn, job.history)
                return True

        return await self._run("insert a job", run)

    async def record_job_status(
        self,
        job_id: int,
        observation: JobObservation | None = None,
        *,
        totals: int | None = None,
        inserts: int | None = None,
        updates: int | None = None,
        fail: int | None = None,
        started_at: dt.datetime | None = None,
        finished_at: dt.datetime | None = None,
        add_polls: int = 0,
    ) -> TrackedJob | None:
        """See :meth:`Store.record_job_status`."""
        if observation is not None and observation.job_id != job_id:
            msg = f"observation of job {observation.job_id} recorded for job {job_id}"
            raise ValueError(msg)
        select = self._q("SELECT status FROM {s}.jobs WHERE job_id = %s FOR UPDATE")
        update = self._q(
            "UPDATE {s}.jobs SET status = %(status)s, "
            "status_id = CASE WHEN %(changeable)s THEN COALESCE(%(status_id)s, status_id) "
            "ELSE status_id END, "
            "totals = COALESCE(%(totals)s, totals), inserts = COALESCE(%(inserts)s, inserts), "
            "updates = COALESCE(%(updates)s, updates), fail = COALESCE(%(fail)s, fail), "
            "started_at = COALESCE(%(started_at)s, started_at), "
            "finished_at = COALESCE(finished_at, %(finished_at)s), "
            "last_updated = COALESCE(%(last_updated)s, last_updated), "
            "polls = polls + %(add_polls)s WHERE job_id = %(job_id)s"
        )

        async def run(conn: AsyncConnection) -> TrackedJob | None:
            async with conn.transaction():
                row = await (await conn.execute(select, (job_id,))).fetchone()
                if row is None:
                    return None
                current = TrackedStatus(row[0])
                # A final status is sticky: a late poll must not undo what an event settled.
                changeable = observation is not None and current not in FINAL_STATUSES
                status = current
                if observation is not None:
                    await self._insert_history(conn, (observation,))
                    if changeable:
                        status = observation.status
                await conn.execute(
                    update,
                    {
                        "status": status.value,
                        "changeable": changeable,
                        "status_id": None if observation is None else observation.status_id,
                        "totals": totals,
                        "inserts": inserts,
                        "updates": updates,
                        "fail": fail,
                        "started_at": _aware(started_at),
                        "finished_at": _aware(finished_at),
                        "last_updated": None
                        if observation is None
                        else _aware(observation.last_updated),
                        "add_polls": add_polls,
                        "job_id": job_id,
                    },
                )
                return await self._load_job(conn, job_id, with_history=True)

        return await self._run("record a job status", run)

    async def _load_job(
        self, conn: AsyncConnection, job_id: int, *, with_history: bool
    ) -> TrackedJob | None:
        if not with_history:
            cur = await conn.execute(
                self._q(f"SELECT {_JOB_COLUMNS} FROM {{s}}.jobs WHERE job_id = %s"),  # noqa: S608
                (job_id,),
            )
            row = await cur.fetchone()
            return None if row is None else _job(row)
        # One statement, so the job and its history come from one snapshot.
        cur = await conn.execute(
            self._q(
                "SELECT "
                + ", ".join(f"j.{c.strip()}" for c in _JOB_COLUMNS.split(","))
                + ", h.seen_at, h.status, h.status_id, h.last_updated, h.source, h.note "
                "FROM {s}.jobs j LEFT JOIN {s}.job_history h ON h.job_id = j.job_id "
                "WHERE j.job_id = %s ORDER BY h.seq"
            ),
            (job_id,),
        )
        rows = await cur.fetchall()
        if not rows:
            return None
        history = tuple(
            JobObservation(
                job_id=job_id,
                seen_at=_utc(r[21]),
                status=TrackedStatus(r[22]),
                status_id=r[23],
                last_updated=_utc_opt(r[24]),
                source=r[25],
                note=r[26],
            )
            for r in rows
            if r[21] is not None
        )
        return _job(rows[0][:21], history)

    async def get_job(self, job_id: int, *, with_history: bool = True) -> TrackedJob | None:
        """See :meth:`Store.get_job`."""

        async def run(conn: AsyncConnection) -> TrackedJob | None:
            return await self._load_job(conn, job_id, with_history=with_history)

        return await self._run("read a job", run)

    async def list_jobs(
        self,
        *,
        kind: str | None = None,
        account_id: int | None = None,
        statuses: Iterable[TrackedStatus] | None = None,
        submitted_before: dt.datetime | None = None,
        submitted_after: dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[TrackedJob]:
        """See :meth:`Store.list_jobs`."""
        query = list_jobs_sql(
            kind=kind,
            account_id=account_id,
            statuses=statuses,
            submitted_before=submitted_before,
            submitted_after=submitted_after,
            limit=limit,
        )
        if query is None:
            return []
        sql, params = query
        return [_job(row) for row in await self._all("list jobs", sql, params)]

    async def unresolved_jobs(
        self, *, kind: str | None = None, account_id: int | None = None
    ) -> list[TrackedJob]:
        """See :meth:`Store.unresolved_jobs`."""
        open_statuses = [s for s in TrackedStatus if s not in FINAL_STATUSES]
        jobs = await self.list_jobs(kind=kind, account_id=account_id, statuses=open_statuses)
        return sorted(jobs, key=lambda j: (j.submitted_at, j.job_id))

    async def mark_superseded(
        self,
        kind: str,
        account_id: int,
        *,
        by_job_id: int,
        submitted_before: dt.datetime,
        statuses: Iterable[TrackedStatus] = (
            TrackedStatus.FAILED,
            TrackedStatus.VALIDATION_FAILED,
        ),
    ) -> list[int]:
        """See :meth:`Store.mark_superseded`."""
        values = [TrackedStatus(s).value for s in statuses]
        if not values:
            return []
        # One statement: the jobs marked and their history entries cannot diverge.
        params = self._p(
            superseded=TrackedStatus.SUPERSEDED.value,
            by=by_job_id,
            kind=kind,
            account=account_id,
            before=_aware(submitted_before),
            statuses=values,
            note=f"superseded by successful full import {by_job_id}",
        )
        rows = await self._all(
            "mark jobs superseded",
            "WITH marked AS (UPDATE {s}.jobs SET status = %(superseded)s, superseded_by = %(by)s "
            "WHERE kind = %(kind)s AND account_id = %(account)s AND submitted_at < %(before)s "
            "AND job_id <> %(by)s AND status = ANY(%(statuses)s) RETURNING job_id), "
            "logged AS (INSERT INTO {s}.job_history (job_id, seen_at, status, status_id, "
            "last_updated, source, note) SELECT job_id, {now}, %(superseded)s, NULL, NULL, "
            "'local', %(note)s FROM marked ORDER BY job_id) "
            "SELECT job_id FROM marked ORDER BY job_id",
            params,
        )
        return [int(r[0]) for r in rows]

    # ------------------------------------------------------------------ full imports

    async def get_last_full_import(self, kind: str, account_id: int) -> FullImportRecord | None:
        """See :meth:`Store.get_last_full_import`."""
        row = await self._one(
            "read the last full import",
            "SELECT job_id, finished_at, item_count FROM {s}.full_imports "
            "WHERE kind = %s AND account_id = %s",
            (kind, account_id),
        )
        if row is None:
            return None
        return FullImportRecord(kind, account_id, row[0], _utc(row[1]), row[2])

    async def set_last_full_import(self, record: FullImportRecord) -> bool:
        """See :meth:`Store.set_last_full_import`."""
        return (
            await self._count(
                "record a full import",
                "INSERT INTO {s}.full_imports (kind, account_id, job_id, finished_at, item_count) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (kind, account_id) DO UPDATE SET "
                "job_id = excluded.job_id, finished_at = excluded.finished_at, "
                "item_count = excluded.item_count "
                "WHERE excluded.finished_at >= full_imports.finished_at",
                (
                    record.kind,
                    record.account_id,
                    record.job_id,
                    record.finished_at,
                    record.item_count,
                ),
            )
            > 0
        )

    # ------------------------------------------------------------------ item versions

    async def get_item_versions(self, kind: str, keys: Sequence[str]) -> dict[str, ItemVersion]:
        """See :meth:`Store.get_item_versions` (chunks of 1 000 keys, pipelined)."""
        result: dict[str, ItemVersion] = {}
        if not keys:
            return result
        query = self._q(
            "SELECT v.item_key, v.fingerprint, v.version FROM unnest(%b::text[]) AS k(key) "
            "CROSS JOIN LATERAL (SELECT item_key, fingerprint, version FROM {s}.item_versions "
            'WHERE kind = %s AND item_key = k.key COLLATE "C" OFFSET 0) AS v'
        )
        ordered = sorted(set(keys))

        async def run(conn: AsyncConnection) -> dict[str, ItemVersion]:
            result.clear()  # a retry starts over
            if len(ordered) <= _PROBE_CHUNK:
                cur = await conn.execute(query, (ordered, kind))
                for key, fingerprint, version in await cur.fetchall():
                    result[key] = ItemVersion(fingerprint, version)
                return result
            for window in _chunks(ordered, _PROBE_CHUNK * _PROBE_DEPTH):
                async with conn.pipeline():
                    cursors = [
                        await conn.cursor().execute(query, (list(chunk), kind))
                        for chunk in _chunks(window, _PROBE_CHUNK)
                    ]
                    for cur in cursors:
                        for key, fingerprint, version in await cur.fetchall():
                            result[key] = ItemVersion(fingerprint, version)
                        await cur.close()
            return result

        return await self._run("read item versions", run)

    async def put_item_versions(self, kind: str, versions: Mapping[str, ItemVersion]) -> None:
        """See :meth:`Store.put_item_versions` (sorted keys, 20 000 per statement)."""
        if not versions:
            return
        query = self._q(
            "INSERT INTO {s}.item_versions (kind, item_key, fingerprint, version) "
            "SELECT %s, k, f, v FROM unnest(%b::text[], %b::text[], %b::text[]) AS t(k, f, v) "
            "ON CONFLICT (kind, item_key) DO UPDATE SET fingerprint = excluded.fingerprint, "
            "version = excluded.version WHERE (item_versions.fingerprint, item_versions.version) "
            "IS DISTINCT FROM (excluded.fingerprint, excluded.version)"
        )
        ordered = sorted(versions)

        async def run(conn: AsyncConnection) -> None:
            async with conn.transaction(), conn.cursor() as cur:
                for chunk in _chunks(ordered, _KEY_CHUNK):
                    await cur.execute(
                        query,
                        (
                            kind,
                            list(chunk),
                            [versions[k].fingerprint for k in chunk],
                            [versions[k].version for k in chunk],
                        ),
                    )

        await self._run("write item versions", run)

    async def delete_item_versions(self, kind: str, keys: Sequence[str]) -> int:
        """See :meth:`Store.delete_item_versions`."""
        if not keys:
            return 0
        query = self._q("DELETE FROM {s}.item_versions WHERE kind = %s AND item_key = ANY(%b)")
        ordered = sorted(set(keys))

        async def run(conn: AsyncConnection) -> int:
            deleted = 0
            async with conn.transaction(), conn.cursor() as cur:
                for chunk in _chunks(ordered, _KEY_CHUNK):
                    await cur.execute(query, (kind, list(chunk)))
                    deleted += cur.rowcount
            return deleted

        return await self._run("delete item versions", run)

    async def count_item_versions(self, kind: str) -> int:
        """See :meth:`Store.count_item_versions`."""
        row = await self._one(
            "count item versions", "SELECT COUNT(*) FROM {s}.item_versions WHERE kind = %s", (kind,)
        )
        return int(row[0]) if row is not None else 0

    # ------------------------------------------------------------------ webhook inbox

    async def inbox_append(self, dedup_key: str, event_type: str, payload: bytes) -> bool:
        """See :meth:`Store.inbox_append`."""
        return (
            await self._count(
                "append to the inbox",
                "INSERT INTO {s}.inbox (dedup_key, event_type, payload, received_at, status, "
                "available_at) VALUES (%(key)s, %(type)s, %(payload)s, {now}, 'pending', {now}) "
                "ON CONFLICT (dedup_key) DO NOTHING",
                self._p(key=dedup_key, type=event_type, payload=bytes(payload)),
            )
            > 0
        )

    async def inbox_claim(self, owner: str, *, limit: int, lease: float) -> list[InboxItem]:
        """See :meth:`Store.inbox_claim` (``FOR UPDATE SKIP LOCKED``)."""
        if limit <= 0:
            return []
        rows = await self._all(
            "claim inbox items",
            "WITH picked AS (SELECT item_id FROM {s}.inbox WHERE status <> 'done' AND "
            "((status = 'pending' AND available_at <= {now}) OR "
            "(status = 'leased' AND lease_expires_at <= {now})) "
            "ORDER BY item_id LIMIT %(limit)s FOR UPDATE SKIP LOCKED) "
            "UPDATE {s}.inbox AS i SET status = 'leased', lease_owner = %(owner)s, "
            "lease_expires_at = {now} + %(lease)s * interval '1 second', "
            "attempts = i.attempts + 1 FROM picked WHERE i.item_id = picked.item_id "
            "RETURNING i.item_id, i.dedup_key, i.event_type, i.payload, i.received_at, "
            "i.status, i.attempts, i.lease_owner, i.lease_expires_at, i.available_at, "
            "i.last_error",
            self._p(owner=owner, limit=int(limit), lease=float(lease)),
            relaxed=True,
        )
        return sorted((_inbox(row) for row in rows), key=lambda i: i.item_id)

    async def inbox_ack(self, item_id: int, owner: str) -> bool:
        """See :meth:`Store.inbox_ack`."""
        return (
            await self._count(
                "acknowledge inbox items",
                "UPDATE {s}.inbox SET status = 'done', done_at = {now}, lease_owner = NULL, "
                "lease_expires_at = NULL WHERE item_id = ANY(%(ids)s) AND status = 'leased' "
                "AND lease_owner = %(owner)s AND lease_expires_at > {now}",
                self._p(ids=[item_id], owner=owner),
                relaxed=True,
            )
            > 0
        )

    async def inbox_release(
        self, item_id: int, owner: str, *, error: str | None = None, delay: float = 0.0
    ) -> bool:
        """See :meth:`Store.inbox_release`."""
        return (
            await self._count(
                "release inbox items",
                "UPDATE {s}.inbox AS i SET status = 'pending', lease_owner = NULL, "
                "lease_expires_at = NULL, available_at = {now} + r.delay * interval '1 second', "
                "last_error = COALESCE(r.error, i.last_error) "
                "FROM unnest(%(ids)s::bigint[], %(errors)s::text[], %(delays)s::float8[]) "
                "AS r(item_id, error, delay) WHERE i.item_id = r.item_id "
                "AND i.status = 'leased' AND i.lease_owner = %(owner)s "
                "AND i.lease_expires_at > {now}",
                self._p(
                    ids=[item_id], errors=[error], delays=[float(max(0.0, delay))], owner=owner
                ),
                relaxed=True,
            )
            > 0
        )

    async def inbox_reclaim_expired(self) -> int:
        """See :meth:`Store.inbox_reclaim_expired`."""
        return await self._count(
            "reclaim expired inbox leases",
            "UPDATE {s}.inbox SET status = 'pending', lease_owner = NULL, "
            "lease_expires_at = NULL, available_at = {now} "
            "WHERE status = 'leased' AND lease_expires_at <= {now}",
            self._p(),
            relaxed=True,
        )

    async def inbox_get(self, item_id: int) -> InboxItem | None:
        """See :meth:`Store.inbox_get`."""
        row = await self._one(
            "read an inbox item",
            f"SELECT {_INBOX_COLUMNS} FROM {{s}}.inbox WHERE item_id = %s",  # noqa: S608
            (item_id,),
        )
        return None if row is None else _inbox(row)

    async def inbox_purge(self, *, done_before: dt.datetime) -> int:
        """See :meth:`Store.inbox_purge`."""
        return await self._count(
            "purge the inbox",
            "DELETE FROM {s}.inbox WHERE status = 'done' AND done_at < %s",
            (_aware(done_before),),
            relaxed=True,
        )

    # ------------------------------------------------------------------ dedup keys

    async def dedup_add(self, key: str, *, window: float) -> bool:
        """See :meth:`Store.dedup_add`."""
        return (
            await self._count(
                "add a dedup key",
                "INSERT INTO {s}.dedup_keys (dedup_key, expires_at) "
                "VALUES (%(key)s, {now} + %(window)s * interval '1 second') "
                "ON CONFLICT (dedup_key) DO UPDATE SET expires_at = excluded.expires_at "
                "WHERE dedup_keys.expires_at <= {now}",
                self._p(key=key, window=float(window)),
                relaxed=True,
            )
            > 0
        )

    async def dedup_purge(self) -> int:
        """See :meth:`Store.dedup_purge`."""
        return await self._count(
            "purge dedup keys",
            "DELETE FROM {s}.dedup_keys WHERE expires_at <= {now}",
            self._p(),
            relaxed=True,
        )

    # ------------------------------------------------------------------ dead letters

    async def put_dead_letter(
        self,
        source: str,
        payload: bytes,
        error: str,
        *,
        key: str | None = None,
        attempts: int = 0,
    ) -> int:
        """See :meth:`Store.put_dead_letter`."""
        row = await self._one(
            "store a dead letter",
            "INSERT INTO {s}.dead_letters (source, letter_key, payload, error, created_at, "
            "attempts) VALUES (%(source)s, %(key)s, %(payload)s, %(error)s, {now}, %(attempts)s) "
            "RETURNING letter_id",
            self._p(source=source, key=key, payload=bytes(payload), error=error, attempts=attempts),
        )
        assert row is not None
        return int(row[0])

    async def list_dead_letters(
        self, *, source: str | None = None, limit: int | None = None
    ) -> list[DeadLetter]:
        """See :meth:`Store.list_dead_letters`."""
        sql = f"SELECT {_LETTER_COLUMNS} FROM {{s}}.dead_letters"  # noqa: S608 - fixed columns
        params: list[Any] = []
        if source is not None:
            sql += " WHERE source = %s"
            params.append(source)
        sql += " ORDER BY letter_id"
        if limit is not None:
            sql += " LIMIT %s"
            params.append(int(limit))
        return [_letter(r) for r in await self._all("list dead letters", sql, params)]

    async def get_dead_letter(self, letter_id: int) -> DeadLetter | None:
        """See :meth:`Store.get_dead_letter`."""
        row = await self._one(
            "read a dead letter",
            f"SELECT {_LETTER_COLUMNS} FROM {{s}}.dead_letters WHERE letter_id = %s",  # noqa: S608
            (letter_id,),
        )
        return None if row is None else _letter(row)

    async def delete_dead_letter(self, letter_id: int) -> bool:
        """See :meth:`Store.delete_dead_letter`."""
        return (
            await self._count(
                "delete a dead letter",
                "DELETE FROM {s}.dead_letters WHERE letter_id = %s",
                (letter_id,),
            )
            > 0
        )

    # ------------------------------------------------------------------ payload spool index

    async def put_spool_entry(self, entry: SpoolEntry) -> None:
        """See :meth:`Store.put_spool_entry`."""
        await self._count(
            "write a spool entry",
            f"INSERT INTO {{s}}.spool ({_SPOOL_COLUMNS}) "  # noqa: S608 - fixed columns
            "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (job_id) DO UPDATE SET "
            "path = excluded.path, size = excluded.size, created_at = excluded.created_at, "
            "kind = excluded.kind, header = excluded.header, digest = excluded.digest",
            (
                entry.job_id,
                entry.path,
                entry.size,
                entry.created_at,
                entry.kind,
                entry.header,
                entry.digest,
            ),
        )

    async def get_spool_entry(self, job_id: int) -> SpoolEntry | None:
        """See :meth:`Store.get_spool_entry`."""
        row = await self._one(
            "read a spool entry",
            f"SELECT {_SPOOL_COLUMNS} FROM {{s}}.spool WHERE job_id = %s",  # noqa: S608
            (job_id,),
        )
        return None if row is None else _spool(row)

    async def list_spool_entries(self) -> list[SpoolEntry]:
        """See :meth:`Store.list_spool_entries`."""
        rows = await self._all(
            "list spool entries",
            f"SELECT {_SPOOL_COLUMNS} FROM {{s}}.spool ORDER BY created_at, job_id",  # noqa: S608
        )
        return [_spool(r) for r in rows]

    async def delete_spool_entry(self, job_id: int) -> bool:
        """See :meth:`Store.delete_spool_entry`."""
        return (
            await self._count(
                "delete a spool entry", "DELETE FROM {s}.spool WHERE job_id = %s", (job_id,)
            )
            > 0
        )

    # ------------------------------------------------------------------ in-flight locks

    async def acquire_lock(self, kind: str, account_id: int, owner: str, *, ttl: float) -> bool:
        """See :meth:`Store.acquire_lock` (one upsert; racing hosts cannot both win)."""
        return (
            await self._count(
                "acquire an in-flight lock",
                "INSERT INTO {s}.locks (kind, account_id, owner, acquired_at, expires_at) "
                "VALUES (%(kind)s, %(account)s, %(owner)s, {now}, "
                "{now} + %(ttl)s * interval '1 second') "
                "ON CONFLICT (kind, account_id) DO UPDATE SET owner = excluded.owner, "
                # The same owner extending a live lock keeps its original acquisition time.
                "acquired_at = CASE WHEN locks.owner = excluded.owner "
                "AND locks.expires_at > {now} THEN locks.acquired_at "
                "ELSE excluded.acquired_at END, expires_at = excluded.expires_at "
                "WHERE locks.owner = excluded.owner OR locks.expires_at <= {now}",
                self._p(kind=kind, account=account_id, owner=owner, ttl=float(ttl)),
            )
            > 0
        )

    async def release_lock(self, kind: str, account_id: int, owner: str) -> bool:
        """See :meth:`Store.release_lock`."""
        return (
            await self._count(
                "release an in-flight lock",
                "DELETE FROM {s}.locks WHERE kind = %s AND account_id = %s AND owner = %s",
                (kind, account_id, owner),
            )
            > 0
        )

    async def lock_holder(self, kind: str, account_id: int) -> InFlightLock | None:
        """See :meth:`Store.lock_holder`."""
        row = await self._one(
            "read an in-flight lock",
            "SELECT owner, acquired_at, expires_at FROM {s}.locks "
            "WHERE kind = %(kind)s AND account_id = %(account)s AND expires_at > {now}",
            self._p(kind=kind, account=account_id),
        )
        if row is None:
            return None
        return InFlightLock(kind, account_id, row[0], _utc(row[1]), _utc(row[2]))
